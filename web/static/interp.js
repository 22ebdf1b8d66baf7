// Interpolation of other entities: draw the world a little in the past, between the two
// snapshots around that moment, so motion is smooth even though snapshots arrive unevenly.
//
// The server stamps each snapshot with its clock (server_time_us). The client does not know the
// offset between that clock and its own, but it does not need it exactly: the smallest
// (arrival - server_time) seen recently is the offset plus the best-case network delay. Drawing at
// `now - that - delay` keeps `delay` ms of snapshots buffered in the best case; the spread of
// arrivals above that minimum is the jitter, and the delay adapts to it within bounds.
import { dequantize } from './protocol.js';

export class Interpolator {
  constructor({ minDelayMs = 50, maxDelayMs = 250, initialDelayMs = 100, windowSize = 120 } = {}) {
    this.minDelayMs = minDelayMs;
    this.maxDelayMs = maxDelayMs;
    this.delayMs = initialDelayMs;
    this.windowSize = windowSize;
    this.reset();
  }

  reset() {
    this.buffer = []; // {t: server ms, tick, table}, ascending t
    this.lateness = []; // arrival - server time (ms), the last `windowSize` snapshots
    this.intervals = []; // server-time gaps between consecutive snapshots (ms)
    this.jitterMs = 0;
  }

  /** A new snapshot table, stamped with the server clock and the local arrival time (ms). */
  push(serverMs, tick, table, arrivalMs) {
    const last = this.buffer[this.buffer.length - 1];
    if (last && serverMs <= last.t) {
      if (serverMs < last.t) this.reset(); // the server clock went back: a new server
      else return;
    }
    if (last && serverMs > last.t) pushBounded(this.intervals, serverMs - last.t, this.windowSize);
    this.buffer.push({ t: serverMs, tick, table });
    if (this.buffer.length > 256) this.buffer.shift();
    pushBounded(this.lateness, arrivalMs - serverMs, this.windowSize);
    this.adaptTarget();
  }

  adaptTarget() {
    const sorted = [...this.lateness].sort((a, b) => a - b);
    const min = sorted[0];
    const p95 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))];
    this.minLateness = min;
    this.jitterMs = p95 - min;
    const interval = this.intervals.length ? median(this.intervals) : 1000 / 60;
    // Three snapshot intervals of slack plus twice the jitter: about 100 ms at 60 Hz on a quiet
    // network, more when snapshots are skipped or arrive unevenly.
    this.targetDelayMs = clamp(3 * interval + 2 * this.jitterMs + 40, this.minDelayMs, this.maxDelayMs);
  }

  /** The server time (ms) to draw at local time `nowMs`; moves the delay gently to its target. */
  renderTime(nowMs, elapsedMs = 16) {
    if (this.targetDelayMs !== undefined) {
      // At most 5% faster or slower than real time, so a change never shows as a jump.
      const step = Math.max(0, elapsedMs) * 0.05;
      this.delayMs += clamp(this.targetDelayMs - this.delayMs, -step, step);
    }
    return nowMs - (this.minLateness ?? 0) - this.delayMs;
  }

  /**
   * Calls fn(index, version, kind, x, y) (world units) for every entity at server time `t`,
   * interpolated between the snapshots around it. Returns the tick drawn (the older one).
   */
  sample(t, fn) {
    const buf = this.buffer;
    if (buf.length === 0) return null;
    // Drop what is older than the pair we need, but keep one entry at or before t.
    while (buf.length > 2 && buf[1].t <= t) buf.shift();
    const a = buf[0];
    const b = buf.length > 1 ? buf[1] : null;
    if (!b || t <= a.t) {
      each(a.table, fn, 0, null);
      return a.tick;
    }
    const alpha = Math.min(1, (t - a.t) / (b.t - a.t));
    each(b.table, fn, alpha, a.table);
    return a.tick;
  }

  /** How far ahead the buffer reaches past render time `t` (ms): how much slack is left. */
  bufferedAhead(t) {
    const last = this.buffer[this.buffer.length - 1];
    return last ? last.t - t : 0;
  }
}

function each(table, fn, alpha, from) {
  const { present, version, kind, x, y } = table;
  for (let i = 0; i < table.slotCount; i++) {
    if (!present[i]) continue;
    let px = x[i];
    let py = y[i];
    // Interpolate only the same entity (same slot and version); a new one appears where it is.
    if (from && i < from.slotCount && from.present[i] && from.version[i] === version[i]) {
      px = from.x[i] + (px - from.x[i]) * alpha;
      py = from.y[i] + (py - from.y[i]) * alpha;
    }
    fn(i, version[i], kind[i], dequantize(px), dequantize(py));
  }
}

function pushBounded(arr, v, n) {
  arr.push(v);
  if (arr.length > n) arr.shift();
}

function median(arr) {
  const s = [...arr].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export function clamp(v, lo, hi) {
  return Math.min(hi, Math.max(lo, v));
}
