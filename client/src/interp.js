// Interpolation: draw the world a little in the past, between the two snapshots around that
// moment, so motion is smooth even though snapshots arrive unevenly. Each field blends as its
// descriptor says: `Linear` straight, `Angle` the shorter way round, `None` snaps (it shows the
// older snapshot's value until the newer one's time).
//
// The server stamps each snapshot with its clock (server_time_us). The client does not know the
// offset between that clock and its own, but it does not need it exactly: the smallest
// (arrival - server time) seen recently is the offset plus the best-case network delay. Drawing
// at `now - that - delay` keeps `delay` ms of snapshots buffered in the best case; the spread of
// arrivals above that minimum is the jitter, and the delay adapts to it within bounds.
import { KIND_ANGLE, KIND_STR, angleDiff } from './protocol.js';
import { friendly, keyOf, visibleFields } from './state.js';

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

  /** A new snapshot's table, stamped with the server clock and the local arrival time (ms). */
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
   * The two snapshots around server time `t` and how far between them: `{a, b, alpha}`; `b` is
   * null when `t` is at or before the oldest, or past the newest (then `a` is the newest: the
   * buffer ran dry and things hold still). Null when empty.
   */
  pair(t) {
    const buf = this.buffer;
    if (buf.length === 0) return null;
    // Drop what is older than the pair we need, but keep one entry at or before t.
    while (buf.length > 2 && buf[1].t <= t) buf.shift();
    const a = buf[0];
    const b = buf.length > 1 ? buf[1] : null;
    if (!b || t <= a.t) return { a, b: null, alpha: 0 };
    if (t >= b.t) return { a: b, b: null, alpha: 0 };
    return { a, b, alpha: (t - a.t) / (b.t - a.t) };
  }

  /**
   * Every entity at server time `t`, each `{id, key, type, typeId, fields}` (own private fields
   * for `own`), blended per field; the entities are the newer snapshot's. Returns
   * `{tick, alpha, entities}` (null before the first snapshot).
   */
  sample(plan, own, t) {
    const p = this.pair(t);
    if (!p) return null;
    const newer = p.b ? p.b.table : p.a.table;
    const older = p.b ? p.a.table : null;
    const entities = [];
    newer.forEach((i, version, ty, at) => {
      const tp = plan.types[ty];
      if (!tp) return;
      const mine = own !== null && own.index === i && own.version === version;
      // Blend only the same entity (slot, version and type); a new one appears where it is.
      const from = older && older.has(i) && older.version[i] === version && older.type[i] === ty ? i * older.stride : -1;
      const fields = {};
      for (const fp of visibleFields(tp, mine)) {
        const b = newer.values[at + fp.id];
        if (fp.kind === KIND_STR) {
          fields[fp.name] = from >= 0 ? older.string(i, fp.id) : newer.string(i, fp.id);
          continue;
        }
        let cell = b;
        if (from >= 0) cell = blend(fp, older.values[from + fp.id], b, p.alpha);
        fields[fp.name] = friendly(fp.coding, cell);
      }
      entities.push({ id: { index: i, version }, key: keyOf({ index: i, version }), type: tp.name, typeId: ty, fields });
    });
    return { tick: p.a.tick, alpha: p.alpha, entities };
  }

  /** How far ahead the buffer reaches past render time `t` (ms): how much slack is left. */
  bufferedAhead(t) {
    const last = this.buffer[this.buffer.length - 1];
    return last ? last.t - t : 0;
  }
}

/** A field's cell `alpha` of the way from `a` to `b`, per its interpolation hint. */
export function blend(fp, a, b, alpha) {
  if (fp.interp === 'None') return alpha < 1 ? a : b;
  if (fp.interp === 'Angle' && fp.kind === KIND_ANGLE) {
    const v = a + angleDiff(b, a, fp.modulus) * alpha;
    return v < 0 ? v + fp.modulus : v >= fp.modulus ? v - fp.modulus : v;
  }
  return a + (b - a) * alpha;
}

function pushBounded(arr, v, n) {
  arr.push(v);
  if (arr.length > n) arr.shift();
}

function median(arr) {
  const s = [...arr].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** `v` limited to `lo..=hi`. */
export function clamp(v, lo, hi) {
  return Math.min(hi, Math.max(lo, v));
}
