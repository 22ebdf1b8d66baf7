// Loads a folder of golden vectors written by the Rust tests: `index.json` lists them, each is
// `NAME.bin` (the bytes) plus `NAME.json` (their meaning). Shared by the browser client's tests,
// with the check every snapshot vector gets.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import {
  StateTable, applyDelta, checksum, publicChecksum, ownerChecksum, decodeServer,
} from '../src/protocol.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** `{index, vectors: [{name, kind, bytes, meaning}]}` of `protocol/golden/<sub>`. */
export function loadGolden(sub = '') {
  const dir = path.resolve(here, '../../protocol/golden', sub);
  const index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8'));
  const vectors = index.vectors.map(({ name, kind }) => ({
    name,
    kind,
    bytes: new Uint8Array(readFileSync(path.join(dir, `${name}.bin`))),
    meaning: JSON.parse(readFileSync(path.join(dir, `${name}.json`), 'utf8')),
  }));
  return { index, vectors };
}

const hex = (bytes) => Buffer.from(bytes).toString('hex');

function baselineOf(plan, j) {
  return j ? { table: StateTable.fromEntries(plan, j.table), tick: j.tick } : null;
}

/**
 * Checks a snapshot vector under `plan`: its header and delta decode as meant, its baselines'
 * checksums match, and applying it gives the table and checksums the Rust side computed,
 * leaving the baseline untouched.
 */
export function checkSnapshotVector(plan, v) {
  const m = v.meaning;
  const snap = decodeServer(v.bytes);
  assert.equal(snap.type, 'Snapshot');
  const { type, delta, ...header } = snap;
  assert.deepStrictEqual(header, m.header);
  assert.equal(hex(delta), m.delta_hex);
  const base = baselineOf(plan, m.baseline);
  if (base) {
    base.second = baselineOf(plan, m.baseline2);
    assert.equal(checksum(plan, base.table, m.own), m.baseline.checksum, 'baseline checksum');
    if (base.second) assert.equal(checksum(plan, base.second.table, m.own), m.baseline2.checksum, 'baseline2 checksum');
  }
  const before = base && base.table.entries(plan);
  const got = applyDelta(plan, m.own, base, snap.tick, snap.delta);
  assert.deepStrictEqual(got.entries(plan), m.result.table);
  assert.equal(checksum(plan, got, m.own), m.result.checksum);
  assert.equal(checksum(plan, got, m.own), snap.checksum, 'the header carries it');
  assert.equal(publicChecksum(plan, got), m.result.public_checksum);
  assert.equal(ownerChecksum(plan, got, m.own), m.result.owner_checksum);
  if (base) assert.deepStrictEqual(base.table.entries(plan), before, 'the baseline is untouched');
  checkAccounting(plan, m.own, base, snap, got);
}

/**
 * The bandwidth hook of `applyDelta`: with it the result is the same table, and the bytes it
 * reports add up to the delta's length, each charged to a field the entity's type has (or -1).
 */
function checkAccounting(plan, own, base, snap, expected) {
  let total = 0;
  const fieldsByType = new Map();
  const counted = applyDelta(plan, own, base, snap.tick, snap.delta, (ty, f, n) => {
    assert.ok(Number.isInteger(n) && n >= 0, `bytes ${n}`);
    if (ty !== -1) {
      assert.ok(plan.types[ty], `type ${ty}`);
      assert.ok(f === -1 || plan.types[ty].fields[f], `field ${f} of type ${ty}`);
      if (f !== -1) fieldsByType.set(ty, (fieldsByType.get(ty) ?? 0) + n);
    } else {
      assert.equal(f, -1);
    }
    total += n;
  });
  assert.deepStrictEqual(counted.entries(plan), expected.entries(plan), 'accounting changes nothing decoded');
  assert.equal(total, snap.delta.length, 'every byte of the delta is accounted for');
}
