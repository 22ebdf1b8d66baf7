// Client-side prediction of the own player, with reconciliation against the server, for any
// game: the game gives a step function over some of its player's fields.
//
// The client applies each input it sends with the game's rule at once, so its own player
// never lags by a round trip. When a snapshot arrives it restarts from the server's state
// (which includes inputs up to `input_seq`) and replays the inputs the server has not applied
// yet. What is left of a correction is kept as a visual offset that fades out linearly over
// `smoothingMs` (gone at the first frame at or past it: within 100 ms at 60 frames/s with the
// default 80), moving the drawn player at most `maxJump` world units in a frame; a correction
// beyond `snapDistance` (a teleport, a respawn) is taken at once and counted apart.
import { Samples } from './stats.js';

/**
 * spec: `{fields: [names], step(state, input, dt, params, entity) -> state, angles?: [names]}`.
 * `state` holds the predicted fields (numbers, the game's units; `angles` are radians and blend
 * the short way round); `input` is what was sent, as the server decoded it; `entity` the player's
 * every field in the newest snapshot (e.g. its health). `step` may return a new object or change
 * `state` and return nothing. Options (also read from the spec): `snapDistance`, `smoothingMs`,
 * `maxJump` (world units per frame), `epsilon` (a smaller error is not a correction).
 * Distances are over the fields that are not angles (world units).
 */
export class OwnPredictor {
  constructor(spec, { maxPending = 240, snapDistance = 60, smoothingMs = 80, maxJump = 2, epsilon = 0.05 } = {}) {
    this.spec = spec;
    this.fields = spec.fields;
    this.angles = new Set(spec.angles ?? []);
    // Distances in world units: angles left out, unless every field is one.
    this.distanceFields = this.fields.filter((f) => !this.angles.has(f));
    if (this.distanceFields.length === 0) this.distanceFields = this.fields;
    this.maxPending = maxPending;
    this.snapDistance = spec.snapDistance ?? snapDistance;
    this.smoothingMs = spec.smoothingMs ?? smoothingMs;
    this.maxJump = spec.maxJump ?? maxJump;
    this.epsilon = spec.epsilon ?? epsilon;
    this.dt = 1 / 60;
    this.params = {};
    this.stats = new PredictionStats();
    this.reset();
  }

  reset() {
    this.pending = []; // inputs sent but not yet applied by the server: {seq, input}
    this.pos = null; // predicted state after the newest input
    this.posSeq = 0; // the seq of the newest input in `pos`
    this.prev = null; // the state one step before, to draw between steps
    this.error = null; // visual offset left by the last corrections, per field
    this.fadeLeftMs = 0; // time left to fade `error` out
    this.lastCorrection = 0;
    this.lastInput = null;
    this.waiting = null; // {seq, frames}: a changed input not drawn yet
    this.errorForMs = null; // time since the last correction that left an offset over epsilon
    this.entity = {};
  }

  step(state, input) {
    const s = { ...state };
    const out = this.spec.step(s, input, this.dt, this.params, this.entity);
    return pick(out ?? s, this.fields);
  }

  /** Records an input as it is sent and moves the prediction one tick. */
  input(seq, input) {
    this.pending.push({ seq, input });
    if (this.pending.length > this.maxPending) this.pending.shift();
    if (this.lastInput && !this.waiting && !sameValues(this.lastInput, input)) this.waiting = { seq, frames: 0 };
    this.lastInput = input;
    if (this.pos) {
      this.prev = this.pos;
      this.pos = this.step(this.pos, input);
      this.posSeq = seq;
    }
  }

  /** A snapshot says the player's fields are `server` after applying inputs up to `ackedSeq`. */
  reconcile(server, ackedSeq) {
    this.entity = server;
    let i = 0;
    while (i < this.pending.length && this.pending[i].seq <= ackedSeq) i++;
    if (i > 0) this.pending.splice(0, i);
    let p = pick(server, this.fields);
    for (const inp of this.pending) p = this.step(p, inp.input);
    const seq = this.pending.length ? this.pending[this.pending.length - 1].seq : ackedSeq;
    if (this.pos) {
      const e = this.diff(this.pos, p);
      this.lastCorrection = this.norm(e);
      this.stats.reconciled(this.lastCorrection, this.lastCorrection > this.epsilon);
      // Keep the step being drawn (prev -> pos) as it was, only shifted: then the drawn state
      // moves by exactly the correction, which the error offset takes up.
      const prev = this.prev || this.pos;
      const step = this.diff(this.pos, prev);
      this.prev = this.map(p, (f, v) => v - step[f]);
      if (this.lastCorrection > this.snapDistance) {
        this.stats.snaps++;
        this.error = null;
        this.errorForMs = null;
        this.prev = p;
      } else {
        const total = this.map(e, (f, v) => v + (this.error ? this.error[f] : 0));
        this.error = this.norm(total) > 0 || this.hasAngleError(total) ? total : null;
        // The fade restarts for what is left: all of it is gone `smoothingMs` from now.
        this.fadeLeftMs = this.smoothingMs;
        // A fade is timed from the correction that last restarted it to the offset gone.
        const left = this.error ? this.norm(this.error) : 0;
        if (left > this.epsilon) this.errorForMs = 0;
        else if (this.errorForMs !== null) this.settle(); // cancelled out
      }
    } else {
      this.prev = p;
    }
    this.pos = p;
    this.posSeq = Math.max(this.posSeq, seq);
  }

  /**
   * The state to draw (one call per frame): between the last two predicted steps by `alpha`
   * (0..1, the part of a tick elapsed since the last input), plus the fading correction.
   * `elapsedMs`: the time since the previous frame, to fade the correction.
   */
  render(alpha, elapsedMs) {
    if (!this.pos) return null;
    const dt = Math.max(0, elapsedMs);
    if (this.error) this.fade(dt);
    const a = Math.min(1, Math.max(0, alpha));
    if (this.waiting) {
      this.waiting.frames++;
      // Drawn once the newest step reaches its input: a later one, or some of its own.
      if (this.posSeq > this.waiting.seq || (this.posSeq === this.waiting.seq && a > 0)) {
        this.stats.responded(this.waiting.frames);
        this.waiting = null;
      }
    }
    const prev = this.prev || this.pos;
    const step = this.diff(this.pos, prev);
    return this.map(this.pos, (f, v) => this.wrap(f, v - step[f] * (1 - a) + (this.error ? this.error[f] : 0)));
  }

  /** Takes `dt` ms worth of the offset away: linearly to 0 by the end of the fade, but never
   * more than `maxJump` in one frame (a larger offset then takes a few frames more). */
  fade(dt) {
    const size = this.norm(this.error);
    let f = this.fadeLeftMs > dt ? dt / this.fadeLeftMs : 1;
    this.fadeLeftMs = Math.max(0, this.fadeLeftMs - dt);
    if (size * f > this.maxJump) f = this.maxJump / size;
    this.stats.jumped(size * f);
    this.error = f >= 1 ? null : this.map(this.error, (_, v) => v * (1 - f));
    const left = this.error ? this.norm(this.error) : 0;
    if (this.errorForMs !== null) {
      this.errorForMs += dt;
      if (left <= this.epsilon) this.settle();
    }
  }

  settle() {
    this.stats.settled(this.errorForMs);
    this.errorForMs = null;
  }

  /** `a - b` per field (angles the short way round). */
  diff(a, b) {
    return this.map(a, (f, v) => {
      let d = v - b[f];
      if (this.angles.has(f)) d = ((((d + Math.PI) % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI)) - Math.PI;
      return d;
    });
  }

  /** The length of a per-field difference, in world units. */
  norm(d) {
    let s = 0;
    for (const f of this.distanceFields) s += d[f] * d[f];
    return Math.sqrt(s);
  }

  hasAngleError(d) {
    for (const f of this.angles) if (d[f] !== 0) return true;
    return false;
  }

  wrap(f, v) {
    if (!this.angles.has(f)) return v;
    const t = 2 * Math.PI;
    return ((v % t) + t) % t;
  }

  map(obj, fn) {
    const out = {};
    for (const f of this.fields) out[f] = fn(f, obj[f]);
    return out;
  }
}

/**
 * How the prediction feels: reconciliations and corrections (an error above epsilon), the
 * errors (world units, bounded samples), snaps, the largest per-frame move the smoothing made,
 * how long offsets took to fade (from the last correction, the one that set the fade going,
 * to the offset under epsilon; a fade a newer correction restarts is timed from that one), and
 * the frames from an input change to its first drawing.
 */
export class PredictionStats {
  constructor() {
    this.errors = new Samples(2048);
    this.settleTimes = new Samples(512);
    this.responses = new Samples(512);
    this.reset();
  }

  reset() {
    this.reconciliations = 0;
    this.corrections = 0;
    this.snaps = 0;
    this.maxError = 0;
    this.maxJump = 0;
    this.maxSettleMs = 0;
    this.maxResponseFrames = null;
    this.errors.reset();
    this.settleTimes.reset();
    this.responses.reset();
  }

  reconciled(error, corrected) {
    this.reconciliations++;
    if (corrected) this.corrections++;
    this.errors.add(error);
    this.maxError = Math.max(this.maxError, error);
  }

  jumped(d) {
    this.maxJump = Math.max(this.maxJump, d);
  }

  settled(ms) {
    this.settleTimes.add(ms);
    this.maxSettleMs = Math.max(this.maxSettleMs, ms);
  }

  responded(frames) {
    this.responses.add(frames);
    this.maxResponseFrames = Math.max(this.maxResponseFrames ?? 0, frames);
  }

  /** A plain summary (window.ticksync.prediction). */
  summary() {
    return {
      reconciliations: this.reconciliations,
      corrections: this.corrections,
      errorP50: this.errors.quantile(0.5) ?? 0,
      errorP99: this.errors.quantile(0.99) ?? 0,
      errorMax: this.maxError,
      maxJump: this.maxJump,
      snaps: this.snaps,
      settleMsP99: this.settleTimes.quantile(0.99) ?? 0,
      settleMsMax: this.maxSettleMs,
      responseFramesP50: this.responses.quantile(0.5),
      responseFramesMax: this.maxResponseFrames,
      responses: this.responses.count,
    };
  }
}

function pick(obj, fields) {
  const out = {};
  for (const f of fields) out[f] = obj[f];
  return out;
}

function sameValues(a, b) {
  for (const k in a) if (a[k] !== b[k]) return false;
  for (const k in b) if (!(k in a)) return false;
  return true;
}
