// Rates over a sliding one-second window, for the HUD (snapshots/s, kB/s in), and bounded
// samples for quantiles.

export class RateMeter {
  constructor(windowMs = 1000) {
    this.windowMs = windowMs;
    this.times = [];
    this.sizes = [];
    this.head = 0; // index of the oldest sample still in the window
    this.bytes = 0;
  }

  add(nowMs, bytes = 0) {
    this.times.push(nowMs);
    this.sizes.push(bytes);
    this.bytes += bytes;
    this.prune(nowMs);
  }

  prune(nowMs) {
    const cutoff = nowMs - this.windowMs;
    while (this.head < this.times.length && this.times[this.head] <= cutoff) {
      this.bytes -= this.sizes[this.head];
      this.head++;
    }
    // Compact now and then instead of shifting every sample.
    if (this.head > 512) {
      this.times = this.times.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }

  /** Events per second over the window ending at `nowMs`. */
  perSecond(nowMs) {
    this.prune(nowMs);
    return ((this.times.length - this.head) * 1000) / this.windowMs;
  }

  /** Bytes per second over the window ending at `nowMs`. */
  bytesPerSecond(nowMs) {
    this.prune(nowMs);
    return (this.bytes * 1000) / this.windowMs;
  }

  reset() {
    this.times = [];
    this.sizes = [];
    this.head = 0;
    this.bytes = 0;
  }
}

/**
 * The last `capacity` numbers (a ring: memory stays bounded however long it runs), for
 * quantiles over a recent stretch (prediction errors, response frames).
 */
export class Samples {
  constructor(capacity = 1024) {
    this.values = new Float64Array(capacity);
    this.count = 0; // ever added
  }

  add(v) {
    this.values[this.count % this.values.length] = v;
    this.count++;
  }

  /** How many are held (at most `capacity`). */
  get size() {
    return Math.min(this.count, this.values.length);
  }

  /** The `q` quantile (0..1, nearest rank) of those held, or null when empty. */
  quantile(q) {
    const n = this.size;
    if (n === 0) return null;
    const sorted = this.values.slice(0, n).sort();
    return sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))];
  }

  reset() {
    this.count = 0;
  }
}
