// The client's side of snapshot deltas: a small ring of the tables it built, keyed by tick.
// Each snapshot's delta applies to a copy of the table at its baseline tick (the empty table for
// a full snapshot); the result is stored under the snapshot's tick, so the server can build the
// next delta against whichever tick the client acked last.
import { EntityTable, ProtocolError, applyDelta } from './protocol.js';

/** Why a snapshot could not be turned into a table: the client must resync (reconnect). */
export class SyncError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = 'SyncError';
    this.kind = kind; // unknown_baseline | bad_delta | checksum_mismatch
  }
}

const EMPTY = new EntityTable();

export class SnapshotRing {
  /** `capacity`: the most tables kept, whatever the baselines say (memory stays bounded). */
  constructor(capacity = 64) {
    this.capacity = capacity;
    this.tables = new Map(); // tick -> EntityTable, insertion (= tick) order
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

  /**
   * Applies a decoded `Snapshot`, stores and returns the new table. Throws SyncError when the
   * baseline is unknown, the delta does not fit it, or the checksum differs.
   */
  apply(snap) {
    const base = snap.baseline === null ? EMPTY : this.tables.get(snap.baseline);
    if (!base) {
      throw new SyncError('unknown_baseline', `snapshot ${snap.tick} is against tick ${snap.baseline}, which this client does not hold`);
    }
    let table;
    try {
      table = applyDelta(base.clone(), snap.delta);
    } catch (e) {
      if (e instanceof ProtocolError) throw new SyncError('bad_delta', `snapshot ${snap.tick}: ${e.message}`);
      throw e;
    }
    if (snap.checksum !== null) {
      const got = table.checksum();
      if (got !== snap.checksum) {
        throw new SyncError('checksum_mismatch', `snapshot ${snap.tick}: checksum ${got} != server's ${snap.checksum}`);
      }
    }
    this.store(snap.tick, table, snap.baseline);
    return table;
  }

  store(tick, table, baseline) {
    this.tables.delete(tick); // re-inserted last, keeping the map in arrival order
    this.tables.set(tick, table);
    // The server never goes back to a baseline older than one it has used.
    for (const t of this.tables.keys()) {
      if (this.tables.size <= this.capacity && (baseline === null || t >= baseline)) break;
      if (t !== tick) this.tables.delete(t);
    }
  }
}
