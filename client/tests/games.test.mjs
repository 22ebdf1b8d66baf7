// The JavaScript protocol against the reference games' golden vectors (protocol/golden/games/,
// written by server/tests/golden_games.rs): each game's Welcome decodes, its descriptor hashes
// as the server says and compiles to a Plan; each snapshot (full, and deltas against 1- and
// 6-tick-old baselines, with a second baseline where the server uses one) decodes and, applied
// to its JSON baseline tables, gives the result table and checksum bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  PROTOCOL_VERSION, Plan, decodeServer, descriptorHash,
} from '../src/protocol.js';
import { checkSnapshotVector, loadGolden } from './golden.mjs';

const { index, vectors } = loadGolden('games');
const hex = (bytes) => Buffer.from(bytes).toString('hex');

/** Welcome vectors by name: the decoded message and its plan. */
const welcomes = new Map();
for (const v of vectors.filter((x) => x.kind === 'server')) {
  const msg = decodeServer(v.bytes);
  welcomes.set(v.name, { msg, plan: msg.type === 'Welcome' ? new Plan(msg.schema) : null });
}

test('the games index speaks our protocol version and lists both games whole', () => {
  assert.equal(index.protocol_version, PROTOCOL_VERSION);
  for (const game of ['arena', 'skirmish']) {
    for (const n of ['welcome', 'full', 'delta_1', 'delta_6']) {
      assert.ok(vectors.some((v) => v.name === `${game}_${n}`), `${game}_${n}`);
    }
  }
  for (const v of vectors) assert.equal(hex(v.bytes), v.meaning.hex, `${v.name}: .bin and .json hex agree`);
});

for (const v of vectors.filter((x) => x.kind === 'server')) {
  test(`${v.name}: decodes, hashes as the server says, compiles`, () => {
    const { msg, plan } = welcomes.get(v.name);
    assert.equal(msg.type, 'Welcome');
    assert.equal(msg.game, v.meaning.game);
    assert.equal(msg.schema.game, v.meaning.game);
    assert.equal(msg.schema_hash, v.meaning.hash);
    assert.equal(descriptorHash(msg.schema), msg.schema_hash);
    assert.equal(plan.stride, v.meaning.stride);
    assert.deepEqual(msg.player, v.meaning.message.Welcome.player);
  });
}

for (const v of vectors.filter((x) => x.kind === 'snapshot')) {
  test(`${v.name}: applies bit for bit`, () => {
    const m = v.meaning;
    const w = welcomes.get(m.descriptor);
    assert.ok(w, `its Welcome ${m.descriptor}`);
    checkSnapshotVector(w.plan, v);
  });
}
