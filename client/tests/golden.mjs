// Loads a folder of golden vectors written by the Rust tests: `index.json` lists them, each is
// `NAME.bin` (the bytes) plus `NAME.json` (their meaning). Shared by the browser client's tests,
// with the check every snapshot vector gets.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import {
  StateTable, applyDelta, checksum, publicChecksum, ownerChecksum, decodeServer,
} from '../static/protocol.js';

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
}
