// The heads-up display (DOM, over the canvas): connection state, ping, snapshots/s, kB/s in,
// entities, players, and a short feed of room events. Updated a few times a second, not per
// frame, so it costs no layout work while playing.

export class Hud {
  constructor(root, feed) {
    this.root = root;
    this.feed = feed;
    this.lines = [];
  }

  /** stats: {state, room, rttMs, snapshotsPerSec, kbPerSec, entities, players, delayMs}. */
  update(s) {
    const rows = [
      ['state', s.state],
      ['room', s.room],
      ['ping', formatMs(s.rttMs)],
      ['snapshots', `${Math.round(s.snapshotsPerSec)}/s`],
      ['in', `${s.kbPerSec.toFixed(1)} kB/s`],
      ['entities', String(s.entities)],
      ['players', String(s.players)],
      ['interp', `${Math.round(s.delayMs)} ms`],
    ];
    const html = rows.map(([k, v]) => `<div><span>${k}</span><b>${escapeHtml(v)}</b></div>`).join('');
    if (html !== this.last) {
      this.root.innerHTML = html;
      this.last = html;
    }
    this.root.dataset.state = s.state;
  }

  /** Adds a line to the event feed (joins, leaves, chat, notices); the last few stay. */
  event(text) {
    const el = document.createElement('div');
    el.textContent = text;
    this.feed.appendChild(el);
    while (this.feed.childElementCount > 6) this.feed.firstElementChild.remove();
    setTimeout(() => el.classList.add('old'), 8000);
  }
}

function formatMs(ms) {
  if (ms === null || ms === undefined) return '–';
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
