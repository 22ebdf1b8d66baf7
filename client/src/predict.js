// Client-side prediction of the own player, with reconciliation against the server, for any
// game: the game gives a step function over some of its player's fields.
//
// The client applies each input it sends with the game's rule at once, so its own player
// never lags by a round trip. When a snapshot arrives it restarts from the server's state
// (which includes inputs up to `input_seq`) and replays the inputs the server has not applied
// yet. What is left of a correction is shown as a visual offset that fades out, so a small
// misprediction never makes the player snap.

/**
 * spec: `{fields: [names], step(state, input, dt, params, entity) -> state, angles?: [names]}`.
 * `state` holds the predicted fields (numbers, the game's units; `angles` are radians and blend
 * the short way round); `input` is what was sent, as the server decoded it; `entity` the player's
 * every field in the newest snapshot (e.g. its health). `step` may return a new object or change
 * `state` and return nothing. Corrections larger than `snapDistance` (the distance
 * over the fields) are taken at once (a teleport, a respawn), smaller ones smoothed.
 */
export class OwnPredictor {
  constructor(spec, { maxPending = 240, snapDistance = 60, smoothingMs = 120 } = {}) {
    this.spec = spec;
    this.fields = spec.fields;
    this.angles = new Set(spec.angles ?? []);
    this.maxPending = maxPending;
    this.snapDistance = spec.snapDistance ?? snapDistance;
    this.smoothingMs = spec.smoothingMs ?? smoothingMs;
    this.dt = 1 / 60;
    this.params = {};
    this.reset();
  }

  reset() {
    this.pending = []; // inputs sent but not yet applied by the server: {seq, input}
    this.pos = null; // predicted state after the newest input
    this.prev = null; // the state one step before, to draw between steps
    this.error = null; // visual offset left by the last corrections, per field
    this.lastCorrection = 0;
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
    if (this.pos) {
      this.prev = this.pos;
      this.pos = this.step(this.pos, input);
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
    if (this.pos) {
      const e = this.diff(this.pos, p);
      this.lastCorrection = Math.hypot(...Object.values(e));
      // Keep the step being drawn (prev -> pos) as it was, only shifted: then the drawn state
      // moves by exactly the correction, which the error offset takes up.
      const prev = this.prev || this.pos;
      const step = this.diff(this.pos, prev);
      this.prev = this.map(p, (f, v) => v - step[f]);
      if (this.lastCorrection > this.snapDistance) {
        this.error = null;
        this.prev = p;
      } else {
        this.error = this.map(e, (f, v) => v + (this.error ? this.error[f] : 0));
      }
    } else {
      this.prev = p;
    }
    this.pos = p;
  }

  /**
   * The state to draw: between the last two predicted steps by `alpha` (0..1, the part of a
   * tick elapsed since the last input), plus the fading correction. `elapsedMs`: the time since
   * the previous call, to fade the correction.
   */
  render(alpha, elapsedMs) {
    if (!this.pos) return null;
    if (this.error) {
      const decay = Math.exp(-Math.max(0, elapsedMs) / this.smoothingMs);
      this.error = this.map(this.error, (f, v) => (Math.abs(v * decay) < 1e-3 ? 0 : v * decay));
    }
    const a = Math.min(1, Math.max(0, alpha));
    const prev = this.prev || this.pos;
    const step = this.diff(this.pos, prev);
    return this.map(this.pos, (f, v) => this.wrap(f, v - step[f] * (1 - a) + (this.error ? this.error[f] : 0)));
  }

  /** `a - b` per field (angles the short way round). */
  diff(a, b) {
    return this.map(a, (f, v) => {
      let d = v - b[f];
      if (this.angles.has(f)) d = ((((d + Math.PI) % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI)) - Math.PI;
      return d;
    });
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

function pick(obj, fields) {
  const out = {};
  for (const f of fields) out[f] = obj[f];
  return out;
}
