// The client's side of snapshot deltas: the tables it built, by tick. Each snapshot's delta
// applies to the table at its baseline tick (with the one at its second baseline, for linear
// predictors), or to nothing for a full snapshot; the result is stored under the snapshot's tick,
// so the server can build the next delta against whichever ticks the client acked last.
import { ProtocolError, applyDelta, checksum } from './protocol.js';

/** Why a snapshot could not be turned into a table: the client must resync (reconnect). */
export class SyncError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = 'SyncError';
    this.kind = kind; // unknown_baseline | bad_delta | checksum_mismatch
  }
}

export class SnapshotRing {
  /** `capacity`: the most tables kept, whatever the baselines say (memory stays bounded). */
  constructor(capacity = 64) {
    this.capacity = capacity;
    this.tables = new Map(); // tick -> StateTable, in arrival (= tick) order
  }

  clear() {
    this.tables.clear();
  }

  get size() {
    return this.tables.size;
  }

  has(tick) {
    return this.tables.has(tick);
  }

  get(tick) {
    return this.tables.get(tick);
  }

  /**
   * Applies a decoded Snapshot for the client whose player is `own` (or null); stores and
   * returns the new table. Throws SyncError when a baseline is unknown, the delta does not fit
   * it, or the checksum differs. `account`: applyDelta's optional byte accounting hook.
   */
  apply(plan, own, snap, account = null) {
    let base = null;
    if (snap.baseline !== null) {
      base = { table: this.need(snap, snap.baseline), tick: snap.baseline, second: null };
      if (snap.baseline2 !== null) base.second = { table: this.need(snap, snap.baseline2), tick: snap.baseline2 };
    }
    let table;
    try {
      table = applyDelta(plan, own, base, snap.tick, snap.delta, account);
    } catch (e) {
      if (e instanceof ProtocolError) throw new SyncError('bad_delta', `snapshot ${snap.tick}: ${e.message}`);
      throw e;
    }
    if (snap.checksum !== null) {
      const got = checksum(plan, table, own);
      if (got !== snap.checksum) {
        throw new SyncError('checksum_mismatch', `snapshot ${snap.tick}: checksum ${got} != server's ${snap.checksum}`);
      }
    }
    this.store(snap.tick, table, snap.baseline2 ?? snap.baseline);
    return table;
  }

  need(snap, tick) {
    const t = this.tables.get(tick);
    if (!t) {
      throw new SyncError('unknown_baseline', `snapshot ${snap.tick} is against tick ${tick}, which this client does not hold`);
    }
    return t;
  }

  /** Stores `table` at `tick`, forgetting tables older than `oldest` (the oldest baseline the
   * server used: it never goes back further, as it only uses ticks this client acked). */
  store(tick, table, oldest) {
    this.tables.delete(tick); // re-inserted last, keeping the map in arrival order
    this.tables.set(tick, table);
    for (const t of this.tables.keys()) {
      if (this.tables.size <= this.capacity && (oldest === null || !olderThan(t, oldest))) break;
      if (t !== tick) this.tables.delete(t);
    }
  }
}

/** `a` before `b` in wrapping u32 tick order (ticks wrap after 2^32, two years at 60 Hz). */
export function olderThan(a, b) {
  const d = (b - a) >>> 0;
  return d !== 0 && d < 0x80000000;
}
