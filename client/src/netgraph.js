// The net graph (like Source's net_graph): small live plots over the page of the last few
// seconds of snapshot arrivals (the gap before each), the interpolation delay and its target,
// the round trip, bytes per snapshot and prediction corrections, with current values as text.
// Every page built on `Page` has it: `N` toggles it, `?netgraph=1` shows it from the start.
// It samples all the time (fixed rings, so memory stays bounded) and draws only while shown.

/** Times and values of the last `capacity` samples, a ring. */
export class Series {
  constructor(capacity = 1024) {
    this.t = new Float64Array(capacity);
    this.v = new Float64Array(capacity);
    this.count = 0; // ever added
  }

  add(t, v) {
    const i = this.count % this.t.length;
    this.t[i] = t;
    this.v[i] = v;
    this.count++;
  }

  get size() {
    return Math.min(this.count, this.t.length);
  }

  /** The newest value, or null. */
  get last() {
    return this.count ? this.v[(this.count - 1) % this.v.length] : null;
  }

  /** Calls fn(t, v) for the samples since `since`, oldest first. */
  forEachSince(since, fn) {
    const n = this.size;
    for (let k = this.count - n; k < this.count; k++) {
      const i = k % this.t.length;
      if (this.t[i] >= since) fn(this.t[i], this.v[i]);
    }
  }

  /** The largest value since `since` (0 when none). */
  maxSince(since) {
    let m = 0;
    this.forEachSince(since, (_, v) => {
      if (v > m) m = v;
    });
    return m;
  }
}

const WIDTH = 260; // CSS pixels
const ROW = 54; // CSS pixels per plot: a label line, then the plot
const PLOTS = [
  // key, label, the smallest full scale (so a quiet plot is not all noise), colour
  { key: 'arrivals', label: 'snapshot gap', unit: 'ms', min: 50, color: '#58a6ff' },
  { key: 'delay', label: 'interp delay', unit: 'ms', min: 100, color: '#3fb950', second: 'target' },
  { key: 'rtt', label: 'round trip', unit: 'ms', min: 100, color: '#d2a8ff' },
  { key: 'bytes', label: 'bytes/snapshot', unit: 'B', min: 500, color: '#f2c14e' },
  { key: 'corrections', label: 'correction', unit: '', min: 1, color: '#f0883e' },
];

export class NetGraph {
  /** room: the Room to watch; visible: shown from the start; windowMs: what the plots span. */
  constructor(room, { visible = false, windowMs = 5000, capacity = 1024 } = {}) {
    this.room = room;
    this.visible = visible;
    this.windowMs = windowMs;
    this.series = {};
    for (const p of PLOTS) this.series[p.key] = new Series(capacity);
    this.series.target = new Series(capacity);
    this.lastArrival = null;
    this.reconciled = 0;
    this.draws = 0;
    this.canvas = null;
    room.on('snapshot', () => this.snapshot(room.now()));
    room.on('welcome', () => {
      this.lastArrival = null;
    });
  }

  /** A snapshot was applied (`now`: local ms): its gap, size and the correction it made. */
  snapshot(now) {
    const { room } = this;
    if (this.lastArrival !== null) this.series.arrivals.add(now, now - this.lastArrival);
    this.lastArrival = now;
    if (room.latest) this.series.bytes.add(now, room.latest.bytes);
    const p = room.ownPredictor;
    if (p && p.stats.reconciliations !== this.reconciled) {
      this.reconciled = p.stats.reconciliations;
      this.series.corrections.add(now, p.lastCorrection);
    }
  }

  /** A frame (`now`: local ms): samples the delay and round trip; draws while shown. */
  frame(now) {
    const { room } = this;
    const it = room.interp;
    if (it.targetDelayMs !== undefined) {
      this.series.delay.add(now, it.delayMs);
      this.series.target.add(now, it.targetDelayMs);
    }
    if (room.rttMs !== null) this.series.rtt.add(now, room.rttMs);
    if (this.visible && this.canvas) this.draw(now);
  }

  toggle(on = !this.visible) {
    this.visible = on;
    if (this.canvas) this.canvas.hidden = !on;
  }

  /** Toggles on `N` (no modifier, not while typing in a field) and puts the canvas in `parent`. */
  install(parent, doc = document) {
    this.canvas = doc.createElement('canvas');
    this.canvas.id = 'netgraph';
    this.canvas.hidden = !this.visible;
    const ratio = globalThis.devicePixelRatio || 1;
    this.canvas.width = WIDTH * ratio;
    this.canvas.height = ROW * PLOTS.length * ratio;
    this.canvas.style.width = `${WIDTH}px`;
    this.canvas.style.height = `${ROW * PLOTS.length}px`;
    parent.appendChild(this.canvas);
    doc.defaultView.addEventListener('keydown', (e) => {
      if (e.code !== 'KeyN' || e.repeat || e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
      this.toggle();
    });
  }

  /** The current values as text, one per plot. */
  texts() {
    const s = this.series;
    const ms = (v) => (v === null ? '–' : `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`);
    const it = this.room.interp;
    return {
      arrivals: ms(s.arrivals.last),
      delay: it.targetDelayMs === undefined ? '–' : `${ms(it.delayMs)} → ${ms(it.targetDelayMs)}`,
      rtt: ms(s.rtt.last),
      bytes: s.bytes.last === null ? '–' : `${s.bytes.last} B`,
      corrections: s.corrections.last === null ? '–' : s.corrections.last.toFixed(2),
    };
  }

  draw(now) {
    const c = this.canvas.getContext('2d');
    const ratio = this.canvas.width / WIDTH;
    c.setTransform(ratio, 0, 0, ratio, 0, 0);
    c.clearRect(0, 0, WIDTH, ROW * PLOTS.length);
    c.fillStyle = 'rgba(0, 0, 0, 0.6)';
    c.fillRect(0, 0, WIDTH, ROW * PLOTS.length);
    const since = now - this.windowMs;
    const texts = this.texts();
    c.font = '11px system-ui, sans-serif';
    PLOTS.forEach((p, row) => {
      const top = row * ROW;
      const plotTop = top + 16;
      const h = ROW - 22;
      const second = p.second ? this.series[p.second] : null;
      const scale = Math.max(p.min, this.series[p.key].maxSince(since), second ? second.maxSince(since) : 0) * 1.1;
      c.fillStyle = '#8b98a5';
      c.fillText(p.label, 6, top + 12);
      c.fillStyle = '#e6edf3';
      c.textAlign = 'right';
      c.fillText(texts[p.key], WIDTH - 6, top + 12);
      c.textAlign = 'left';
      const line = (series, color, dash) => {
        c.strokeStyle = color;
        c.setLineDash(dash);
        c.beginPath();
        let first = true;
        series.forEachSince(since, (t, v) => {
          const x = 6 + ((t - since) / this.windowMs) * (WIDTH - 12);
          const y = plotTop + h - (Math.min(v, scale) / scale) * h;
          if (first) c.moveTo(x, y);
          else c.lineTo(x, y);
          first = false;
        });
        c.stroke();
      };
      if (second) line(second, '#8b98a5', [3, 3]);
      line(this.series[p.key], p.color, []);
    });
    c.setLineDash([]);
    this.draws++;
  }

  /** For tests: shown or not, frames drawn, samples taken per plot. */
  debug() {
    const samples = {};
    for (const p of PLOTS) samples[p.key] = this.series[p.key].count;
    return { visible: this.visible, draws: this.draws, samples, texts: this.texts() };
  }
}

/** A key typed into a text field is text, not a command. */
function typing(el) {
  if (!el || !el.tagName) return false;
  const tag = el.tagName.toLowerCase();
  return tag === 'input' || tag === 'textarea' || tag === 'select' || Boolean(el.isContentEditable);
}
