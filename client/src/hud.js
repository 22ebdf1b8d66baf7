// The heads-up display (DOM, over the canvas): rows of name / value (connection state, ping,
// snapshots/s, kB/s in, and whatever the game adds), and a short feed of room and game events.
// Updated a few times a second, not per frame, so it costs no layout work while playing.

export class Hud {
  constructor(root, feed) {
    this.root = root;
    this.feed = feed;
    /** Lines the feed keeps. */
    this.feedLines = 6;
  }

  /** rows: [[name, value], ...]; state: the connection state (styles the HUD). */
  update(rows, state) {
    const html = rows.map(([k, v]) => `<div><span>${escapeHtml(k)}</span><b>${escapeHtml(v)}</b></div>`).join('');
    if (html !== this.last) {
      this.root.innerHTML = html;
      this.last = html;
    }
    this.root.dataset.state = state;
  }

  /** Adds a line to the event feed; the last few stay. `cls` styles it (e.g. 'kill'). */
  event(text, cls = '') {
    const el = document.createElement('div');
    el.textContent = text;
    if (cls) el.className = cls;
    this.feed.appendChild(el);
    while (this.feed.childElementCount > this.feedLines) this.feed.firstElementChild.remove();
    setTimeout(() => el.classList.add('old'), 8000);
  }
}

/** A duration for the HUD: one decimal below 10 ms, '–' when unknown. */
export function formatMs(ms) {
  if (ms === null || ms === undefined) return '–';
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
