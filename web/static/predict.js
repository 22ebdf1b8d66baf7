// Client-side prediction of the own player, with reconciliation against the server.
//
// The client applies each input it sends with the arena's rules at once, so its own player
// never lags by a round trip. When a snapshot arrives it restarts from the server's position
// (which includes inputs up to `input_seq`) and replays the inputs the server has not applied
// yet. What is left of a correction is shown as a visual offset that fades out, so a small
// misprediction never makes the player snap.

/** The arena's movement rule (docs/protocol.md, "Arena rules"). Pure, in world units. */
export function arenaStep(pos, dx, dy, { speed, width, height, dt }) {
  let vx = dx / 127;
  let vy = dy / 127;
  const len = Math.hypot(vx, vy);
  if (len > 1) {
    vx /= len;
    vy /= len;
  }
  return {
    x: Math.min(width, Math.max(0, pos.x + vx * speed * dt)),
    y: Math.min(height, Math.max(0, pos.y + vy * speed * dt)),
  };
}

export class Predictor {
  /**
   * rules: {speed, width, height, dt}. `snapDistance`: corrections larger than this (units)
   * are taken at once (a teleport, a respawn), smaller ones are smoothed.
   */
  constructor(rules, { maxPending = 240, snapDistance = 60, smoothingMs = 120 } = {}) {
    this.rules = rules;
    this.maxPending = maxPending;
    this.snapDistance = snapDistance;
    this.smoothingMs = smoothingMs;
    this.pending = []; // inputs sent but not yet applied by the server: {seq, dx, dy}
    this.pos = null; // predicted position after the newest input
    this.prev = null; // the position one step before, to draw between steps
    this.error = { x: 0, y: 0 }; // visual offset left by the last corrections
    this.lastCorrection = 0;
  }

  reset() {
    this.pending = [];
    this.pos = null;
    this.prev = null;
    this.error = { x: 0, y: 0 };
  }

  /** Records an input as it is sent and moves the prediction one tick. */
  input(seq, dx, dy) {
    this.pending.push({ seq, dx, dy });
    if (this.pending.length > this.maxPending) this.pending.shift();
    if (this.pos) {
      this.prev = this.pos;
      this.pos = arenaStep(this.pos, dx, dy, this.rules);
    }
  }

  /** A snapshot says the player is at `server` after applying inputs up to `ackedSeq`. */
  reconcile(server, ackedSeq) {
    let i = 0;
    while (i < this.pending.length && this.pending[i].seq <= ackedSeq) i++;
    if (i > 0) this.pending.splice(0, i);
    let p = { x: server.x, y: server.y };
    for (const inp of this.pending) p = arenaStep(p, inp.dx, inp.dy, this.rules);
    if (this.pos) {
      const ex = this.pos.x - p.x;
      const ey = this.pos.y - p.y;
      this.lastCorrection = Math.hypot(ex, ey);
      // Keep the step being drawn (prev -> pos) as it was, only shifted: then the drawn
      // position moves by exactly the correction, which the error offset takes up.
      const prev = this.prev || this.pos;
      this.prev = { x: p.x - (this.pos.x - prev.x), y: p.y - (this.pos.y - prev.y) };
      if (this.lastCorrection > this.snapDistance) {
        this.error = { x: 0, y: 0 };
        this.prev = p;
      } else {
        this.error = { x: this.error.x + ex, y: this.error.y + ey };
      }
    } else {
      this.prev = p;
    }
    this.pos = p;
  }

  /**
   * Where to draw the player: between the last two predicted steps by `alpha` (0..1, the part
   * of a tick elapsed since the last input), plus the fading correction. `elapsedMs`: time since
   * the previous call, to fade the correction.
   */
  renderPosition(alpha, elapsedMs) {
    if (!this.pos) return null;
    const decay = Math.exp(-Math.max(0, elapsedMs) / this.smoothingMs);
    this.error.x *= decay;
    this.error.y *= decay;
    if (Math.abs(this.error.x) < 1e-3) this.error.x = 0;
    if (Math.abs(this.error.y) < 1e-3) this.error.y = 0;
    const a = Math.min(1, Math.max(0, alpha));
    const prev = this.prev || this.pos;
    return {
      x: prev.x + (this.pos.x - prev.x) * a + this.error.x,
      y: prev.y + (this.pos.y - prev.y) * a + this.error.y,
    };
  }
}
