// Interpolation: draw the world a little in the past, between the two snapshots around that
// moment, so motion is smooth even though snapshots arrive unevenly. Each field blends as its
// descriptor says: `Linear` straight, `Angle` the shorter way round, `None` snaps (it shows the
// older snapshot's value until the newer one's time).
//
// The server stamps each snapshot with its clock (server_time_us). The client does not know the
// offset between that clock and its own, but it does not need it exactly: the smallest
// (arrival - server time) seen in the last few seconds is the offset plus the best-case network
// delay. Drawing at `now - that - delay` keeps `delay` ms of snapshots buffered in the best case.
//
// The delay is as small as the network allows. Its target is the smaller of 2.5 snapshot
// intervals (the server's tick spacing times its tick period) plus the p99 of the arrival jitter
// (arrival - server time above that minimum), and the p99 of what frames needed (how far past
// the newest snapshot each frame would have drawn with no delay) plus one interval (half an
// interval left single dry frames on loopback in bench/feel.mjs; a whole one none), both over a
// sliding window of a few seconds (bounded), never below 2 intervals (33 ms at 60 Hz). Playback
// is time-warped toward the target, never backwards: up to 50% slower while the delay grows (at
// once when a frame comes near the end of the buffer: snapshots are late), 5% faster while it
// shrinks (within seconds once the network calms).
import { KIND_ANGLE, KIND_STR, angleDiff } from './protocol.js';
import { friendly, keyOf, visibleFields } from './state.js';

export class Interpolator {
  constructor({
    minDelayMs = 0, maxDelayMs = 250, initialDelayMs = 100, windowMs = 3000, maxSamples = 1024,
    intervals = 2.5, minIntervals = 2, needMargin = 1, growRate = 0.5, shrinkRate = 0.05, lateHoldMs = 1000,
  } = {}) {
    /** An absolute floor (ms) under the `minIntervals` one. */
    this.minDelayMs = minDelayMs;
    this.maxDelayMs = maxDelayMs;
    this.initialDelayMs = initialDelayMs;
    this.delayMs = initialDelayMs;
    this.windowMs = windowMs;
    this.maxSamples = maxSamples;
    this.intervalsOfSlack = intervals;
    this.minIntervals = minIntervals;
    /** Intervals above the frames' p99 need (the second rule's margin). */
    this.needMargin = needMargin;
    this.growRate = growRate;
    this.shrinkRate = shrinkRate;
    this.lateHoldMs = lateHoldMs;
    /** The server's tick period (ms), when known (Welcome); else intervals are server-time gaps. */
    this.tickMs = undefined;
    /** Frames drawn (renderTime calls with snapshots buffered), those past the newest snapshot,
     * and those near it (which raise the delay). */
    this.frames = 0;
    this.dryFrames = 0;
    this.lateFrames = 0;
    this.reset();
  }

  reset() {
    this.buffer = []; // {t: server ms, tick, table}, ascending t
    this.lateness = []; // arrival - server time (ms), the snapshots of the last `windowMs`
    this.arrivals = []; // their arrival times (ms)
    this.needs = []; // {at: frame ms, v: its present - newest snapshot - needBase}, the last `windowMs`
    this.needBase = 0; // the best-case lateness when those were taken (v is relative to it)
    this.gaps = []; // {ticks, ms}: spacing of consecutive snapshots
    this.jitterMs = 0;
    this.minLateness = undefined;
    this.lagMs = undefined; // now - render time: minLateness + delay, moved smoothly
    this.lastRenderTime = -Infinity;
    this.lateFloor = null; // {ms, until}: a delay a near-dry frame asked for, held `lateHoldMs`
    this.ruleTargetMs = undefined;
    this.targetDelayMs = undefined;
    this.delayMs = this.initialDelayMs;
  }

  /** A new snapshot's table, stamped with the server clock and the local arrival time (ms). */
  push(serverMs, tick, table, arrivalMs) {
    const last = this.buffer[this.buffer.length - 1];
    if (last && serverMs <= last.t) {
      if (serverMs < last.t) this.reset(); // the server clock went back: a new server
      else return;
    }
    if (last && serverMs > last.t) {
      this.gaps.push({ ticks: tick - last.tick, ms: serverMs - last.t });
      if (this.gaps.length > 64) this.gaps.shift();
    }
    this.buffer.push({ t: serverMs, tick, table });
    if (this.buffer.length > 256) this.buffer.shift();
    const l = this.lateness;
    const at = this.arrivals;
    l.push(arrivalMs - serverMs);
    at.push(arrivalMs);
    while (l.length > this.maxSamples || (l.length > 1 && at[0] < arrivalMs - this.windowMs)) {
      l.shift();
      at.shift();
    }
    this.adaptTarget(arrivalMs);
  }

  /** The snapshot interval (ms): the median tick spacing times the tick period. */
  get intervalMs() {
    if (this.gaps.length === 0) return this.tickMs ?? 1000 / 60;
    const known = this.tickMs !== undefined && this.gaps.every((g) => g.ticks > 0);
    return median(this.gaps.map((g) => (known ? g.ticks * this.tickMs : g.ms)));
  }

  adaptTarget(nowMs) {
    const sorted = [...this.lateness].sort((a, b) => a - b);
    const min = sorted[0];
    const p99 = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)];
    if (this.lagMs === undefined) this.lagMs = min + this.delayMs;
    this.minLateness = min;
    this.jitterMs = p99 - min;
    const interval = this.intervalMs;
    // What frames needed: the p99 over the window of how far each frame's present was past the
    // newest snapshot (best-case lateness taken off); a delay above it leaves under 1% of
    // frames dry; `needMargin` intervals more is the margin. Frames and arrivals see the same stalls
    // of the page (a busy main thread delays both), so this is often tighter than the arrival
    // rule; near-dry frames raise the delay at once if it was too tight.
    const needs = this.needs.map((s) => s.v + this.needBase - min).sort((a, b) => a - b);
    const needP99 = needs.length >= 30 ? needs[Math.ceil(needs.length * 0.99) - 1] + this.needMargin * interval : Infinity;
    this.ruleTargetMs = clamp(Math.min(this.intervalsOfSlack * interval + this.jitterMs, needP99),
      Math.max(this.minDelayMs, this.minIntervals * interval), this.maxDelayMs);
    this.updateTarget(nowMs);
  }

  updateTarget(nowMs) {
    if (this.lateFloor && nowMs >= this.lateFloor.until) this.lateFloor = null;
    this.targetDelayMs = Math.min(this.maxDelayMs, Math.max(this.ruleTargetMs, this.lateFloor ? this.lateFloor.ms : 0));
  }

  /**
   * The server time (ms) to draw at local time `nowMs` (one call per frame; `elapsedMs` since
   * the previous). Moves the delay toward its target by playing slightly slower or faster; the
   * render time never goes back. Counts `frames` and `dryFrames` (past the newest snapshot).
   */
  renderTime(nowMs, elapsedMs = 16) {
    if (this.lagMs === undefined) return nowMs - this.delayMs;
    const dt = Math.max(0, elapsedMs);
    const last = this.buffer[this.buffer.length - 1];
    const interval = this.intervalMs;
    // A frame long after the previous one: the page itself stalled (its snapshots wait in the
    // queue behind it), not the network; it neither counts as a need nor raises the delay.
    const stalled = dt > 4 * interval;
    const n = this.needs;
    if (n.length === 0) this.needBase = this.minLateness;
    if (!stalled) n.push({ at: nowMs, v: nowMs - last.t - this.needBase });
    while (n.length > this.maxSamples || (n.length > 1 && n[0].at < nowMs - this.windowMs)) n.shift();
    // A frame near the end of the buffer: snapshots are late. Ask at once for enough delay to
    // keep a quarter interval buffered at this pace (at most 2 intervals more than now per
    // frame: the delay grows only so fast anyway), and hold it a second (the late snapshot,
    // once here, counts in the jitter for a window).
    const margin = interval / 4;
    const ahead = last.t - (nowMs - this.lagMs);
    if (ahead < margin && !stalled) {
      this.lateFrames++;
      const want = this.delayMs + Math.min(margin - ahead, 2 * interval);
      if (!this.lateFloor || this.lateFloor.ms < want) this.lateFloor = { ms: want, until: nowMs + this.lateHoldMs };
      else this.lateFloor.until = nowMs + this.lateHoldMs;
    }
    this.updateTarget(nowMs);
    const target = this.minLateness + this.targetDelayMs;
    this.lagMs += clamp(target - this.lagMs, -dt * this.shrinkRate, dt * this.growRate);
    let t = nowMs - this.lagMs;
    if (t < this.lastRenderTime) {
      // Never backwards (a clock that stalled, or a call at the same instant as the last).
      t = this.lastRenderTime;
      this.lagMs = nowMs - t;
    }
    this.lastRenderTime = t;
    this.delayMs = this.lagMs - this.minLateness;
    this.frames++;
    if (t > last.t) this.dryFrames++;
    return t;
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

  /**
   * Server time `t` (ms) in ticks, as drawn: between the snapshots around it by how far between
   * them (`a.tick + alpha * (b.tick - a.tick)`), the newest one's tick past it, the oldest's
   * before it. `t` defaults to the last render time. Null before a snapshot or a frame.
   */
  ticksAt(t = this.lastRenderTime) {
    const buf = this.buffer;
    if (buf.length === 0 || !Number.isFinite(t)) return null;
    // From the newest: the render time is a few snapshots back.
    let i = buf.length - 1;
    while (i > 0 && buf[i].t > t) i--;
    const a = buf[i];
    const b = buf[i + 1];
    if (!b || t <= a.t) return a.tick;
    return a.tick + ((t - a.t) / (b.t - a.t)) * (b.tick - a.tick);
  }

  /** How far ahead the buffer reaches past render time `t` (ms): how much slack is left. */
  bufferedAhead(t) {
    const last = this.buffer[this.buffer.length - 1];
    return last ? last.t - t : 0;
  }
}

/**
 * A moment in ticks as `Input.view` carries it: `{tick, frac}`, `tick + frac / 256` at or just
 * below it (frac rounded down); null for null.
 */
export function viewTimeOf(ticks) {
  if (ticks === null || !Number.isFinite(ticks)) return null;
  const whole = Math.floor(ticks);
  if (whole < 0) return { tick: 0, frac: 0 };
  if (whole > 0xffffffff) return { tick: 0xffffffff, frac: 255 };
  return { tick: whole, frac: Math.min(255, Math.floor((ticks - whole) * 256)) };
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
