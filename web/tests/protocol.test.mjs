// The JavaScript codec against the Rust crate's golden vectors (protocol/golden/): every vector
// decodes to its JSON meaning, client messages re-encode to the same bytes, snapshot deltas
// applied to their baseline table give the result table and checksum, and bad bytes give a
// ProtocolError, never another exception.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

import {
  PROTOCOL_VERSION, ProtocolError, EntityTable, applyDelta, decodeClient, decodeServer,
  encodeClient, tableChecksum, CODES, codeName, axisToWire, axisFromWire, quantize, dequantize,
  MAX_CLIENT_MSG_BYTES, MAX_ENTITY_INDEX,
} from '../static/protocol.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const goldenDir = path.resolve(here, '../../protocol/golden');
const index = JSON.parse(readFileSync(path.join(goldenDir, 'index.json'), 'utf8'));
const vectors = index.vectors.map((name) => ({
  name,
  bytes: new Uint8Array(readFileSync(path.join(goldenDir, `${name}.bin`))),
  meaning: JSON.parse(readFileSync(path.join(goldenDir, `${name}.json`), 'utf8')),
}));

/** Our `{type, ...fields}` shape to serde_json's externally tagged `{Type: {...fields}}`. */
function toSerde(msg) {
  const { type, ...fields } = msg;
  if (type === 'Event') return { Event: toSerde(fields.event) };
  return { [type]: fields };
}

const hex = (bytes) => Buffer.from(bytes).toString('hex');

test('the golden index speaks our protocol version and lists every vector', () => {
  assert.equal(index.protocol_version, PROTOCOL_VERSION);
  assert.ok(vectors.length >= 18);
  for (const v of vectors) assert.equal(hex(v.bytes), v.meaning.hex, `${v.name}: .bin and .json hex agree`);
});

for (const v of vectors) {
  test(`decodes ${v.name}`, () => {
    const decode = v.meaning.direction === 'client' ? decodeClient : decodeServer;
    const msg = decode(v.bytes);
    assert.deepStrictEqual(toSerde(msg), v.meaning.message);
  });
}

for (const v of vectors.filter((v) => v.meaning.direction === 'client')) {
  test(`re-encodes ${v.name} to the same bytes`, () => {
    const msg = decodeClient(v.bytes);
    assert.equal(hex(encodeClient(msg)), hex(v.bytes));
  });
}

for (const v of vectors.filter((v) => v.meaning.baseline_table)) {
  test(`applies the delta of ${v.name} and matches the checksums`, () => {
    const base = EntityTable.fromEntries(v.meaning.baseline_table);
    assert.equal(tableChecksum(base), v.meaning.baseline_checksum, 'baseline checksum');
    const snap = decodeServer(v.bytes);
    const got = applyDelta(base.clone(), snap.delta);
    assert.deepStrictEqual(got.entries(), v.meaning.result_table);
    assert.equal(got.checksum(), v.meaning.result_checksum, 'result checksum');
    assert.equal(got.checksum(), snap.checksum, 'the snapshot carries the result checksum');
    // The baseline copy is untouched: the client keeps it for later deltas.
    assert.deepStrictEqual(base.entries(), v.meaning.baseline_table);
  });
}

test('the empty table checksum is fmix32(SEED)', () => {
  // server_snapshot_full's baseline is the empty table.
  const full = vectors.find((v) => v.name === 'server_snapshot_full');
  assert.equal(new EntityTable().checksum(), full.meaning.baseline_checksum);
});

/** Runs fn and asserts that it throws our ProtocolError (of `kind`, when given). */
function assertProtocolError(fn, kind, label) {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ProtocolError, `${label}: threw ${e && e.name}: ${e && e.message}`);
    if (kind) assert.equal(e.kind, kind, `${label}: ${e.message}`);
    return e;
  }
  assert.fail(`${label}: decoded without error`);
}

test('every truncation of every vector is a ProtocolError', () => {
  for (const v of vectors) {
    const decode = v.meaning.direction === 'client' ? decodeClient : decodeServer;
    for (let n = 0; n < v.bytes.length; n++) {
      assertProtocolError(() => decode(v.bytes.subarray(0, n)), 'truncated', `${v.name}[..${n}]`);
    }
  }
});

test('trailing bytes are refused', () => {
  for (const v of vectors) {
    const decode = v.meaning.direction === 'client' ? decodeClient : decodeServer;
    const longer = new Uint8Array(v.bytes.length + 1);
    longer.set(v.bytes);
    assertProtocolError(() => decode(longer), 'trailing', v.name);
  }
});

test('bad tags, option bytes, varint prefixes and UTF-8 are typed errors', () => {
  assertProtocolError(() => decodeServer(Uint8Array.of(5)), 'bad_tag', 'ServerMsg tag 5');
  assertProtocolError(() => decodeServer(Uint8Array.of(4, 4)), 'bad_tag', 'Event tag 4');
  assertProtocolError(() => decodeClient(Uint8Array.of(5)), 'bad_tag', 'ClientMsg tag 5');
  // Snapshot with baseline option byte 2.
  assertProtocolError(() => decodeServer(Uint8Array.of(2, 1, 2)), 'bad_option', 'option 2');
  // A u32 (Ack.tick) with the u64 prefix 0xfd, and the reserved prefixes.
  assertProtocolError(() => decodeClient(Uint8Array.of(2, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0)), 'bad_varint', 'u32 as u64');
  assertProtocolError(() => decodeClient(Uint8Array.of(2, 0xfe)), 'bad_varint', 'u128 prefix');
  assertProtocolError(() => decodeClient(Uint8Array.of(2, 0xff)), 'bad_varint', 'reserved prefix');
  // A u16 (Hello.version) with the u32 prefix.
  assertProtocolError(() => decodeClient(Uint8Array.of(0, 0xfc, 1, 0, 0, 0)), 'bad_varint', 'u16 as u32');
  // Notice text that is not UTF-8.
  assertProtocolError(() => decodeServer(Uint8Array.of(4, 3, 2, 0xc3, 0x28)), 'bad_utf8', 'bad UTF-8');
});

test('non-minimal varints decode, as bincode accepts them', () => {
  // Ack { tick: 5 } written with a u16 and a u32 prefix.
  assert.deepStrictEqual(decodeClient(Uint8Array.of(2, 0xfb, 5, 0)), { type: 'Ack', tick: 5 });
  assert.deepStrictEqual(decodeClient(Uint8Array.of(2, 0xfc, 5, 0, 0, 0)), { type: 'Ack', tick: 5 });
});

test('huge length claims fail before allocating', () => {
  // Snapshot header, then a despawned list claiming 2^64-1 and then 2^20 entries.
  const header = [2, 1, 0, 0, 0, 0];
  const ff = [0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
  assertProtocolError(() => decodeServer(Uint8Array.from([...header, ...ff])), 'too_long', '2^64 entries');
  assertProtocolError(() => decodeServer(Uint8Array.from([...header, 0xfc, 0, 0, 0x10, 0])), 'truncated', '2^20 entries, no bytes');
  assertProtocolError(() => decodeServer(Uint8Array.from([...header, 0xfc, 1, 0, 0x10, 0])), 'too_long', '2^20+1 entries');
  // A string claiming 4 GiB.
  assertProtocolError(() => decodeServer(Uint8Array.of(4, 3, 0xfc, 0xff, 0xff, 0xff, 0xff)), 'truncated', '4 GiB string');
  assertProtocolError(() => decodeClient(new Uint8Array(MAX_CLIENT_MSG_BYTES + 1)), 'too_large', 'oversized client message');
});

test('random garbage never throws anything but ProtocolError', () => {
  // A fixed xorshift so failures reproduce.
  let s = 0x9e3779b9;
  const rnd = () => {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  const seeds = vectors.map((v) => v.bytes);
  for (let i = 0; i < 20000; i++) {
    let bytes;
    if (i % 2 === 0) {
      bytes = new Uint8Array(Math.floor(rnd() * 40));
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(rnd() * 256);
      bytes[0] = Math.floor(rnd() * 6);
    } else {
      // Mutate a real vector: flip a few bytes.
      bytes = seeds[i % seeds.length].slice();
      for (let k = 0; k < 3; k++) bytes[Math.floor(rnd() * bytes.length)] = Math.floor(rnd() * 256);
    }
    for (const decode of [decodeServer, decodeClient]) {
      let msg;
      try {
        msg = decode(bytes);
      } catch (e) {
        assert.ok(e instanceof ProtocolError, `${hex(bytes)}: ${e && e.stack}`);
        continue;
      }
      // Anything that decodes as a snapshot must also apply (or fail typed) on an empty table.
      if (msg.type === 'Snapshot') {
        try {
          applyDelta(new EntityTable(), msg.delta);
        } catch (e) {
          assert.ok(e instanceof ProtocolError, `apply ${hex(bytes)}: ${e && e.stack}`);
        }
      }
    }
  }
});

test('delta apply errors are typed and match the Rust ones', () => {
  const base = EntityTable.fromEntries([{ id: { index: 0, version: 1 }, state: { kind: 0, x: 0, y: 0 } }]);
  const empty = { despawned: [], spawned: [], moved: [], changed: [] };
  const st = { kind: 0, x: 0, y: 0 };
  const cases = [
    [{ ...empty, despawned: [4] }, 'unknown_entity'],
    [{ ...empty, spawned: [{ gap: 0, version: 1, state: st }] }, 'slot_occupied'],
    [{ ...empty, moved: [{ gap: 1, dx: 1, dy: 1 }] }, 'unknown_entity'],
    [{ ...empty, changed: [{ gap: 1, state: st }] }, 'unknown_entity'],
    [{ ...empty, despawned: [MAX_ENTITY_INDEX] }, 'index_out_of_range'],
    [{ ...empty, despawned: [0, 4294967295] }, 'index_out_of_range'],
    [{ ...empty, spawned: [{ gap: MAX_ENTITY_INDEX, version: 1, state: st }] }, 'index_out_of_range'],
  ];
  for (const [delta, kind] of cases) {
    assertProtocolError(() => applyDelta(base.clone(), delta), kind, JSON.stringify(delta));
  }
  const edge = EntityTable.fromEntries([{ id: { index: 0, version: 1 }, state: { kind: 0, x: 2147483647, y: 0 } }]);
  assertProtocolError(() => applyDelta(edge, { ...empty, moved: [{ gap: 0, dx: 1, dy: 0 }] }), 'position_overflow', 'overflow');
});

test('the encoder refuses values outside their wire types', () => {
  const bad = [
    { type: 'Nope' },
    { type: 'Input', seq: -1, dx: 0, dy: 0, buttons: 0 },
    { type: 'Input', seq: 1, dx: -128, dy: 0, buttons: 0 },
    { type: 'Input', seq: 1, dx: 0, dy: 0.5, buttons: 0 },
    { type: 'Input', seq: 2 ** 32, dx: 0, dy: 0, buttons: 0 },
    { type: 'Ack', tick: 1.5 },
    { type: 'Ping', client_time_us: 2 ** 60 },
    { type: 'Hello', version: 70000, room: 'a', name: 'b' },
    { type: 'Chat', text: 'x'.repeat(2000) },
  ];
  for (const msg of bad) assertProtocolError(() => encodeClient(msg), 'bad_value', JSON.stringify(msg).slice(0, 60));
  // BigInt u64s are accepted and round-trip.
  const ping = encodeClient({ type: 'Ping', client_time_us: 2n ** 60n + 7n });
  assert.equal(hex(ping), '03fd0700000000000010');
});

test('codes, quantisation and axes', () => {
  assert.equal(CODES.ROOM_FULL, 4002);
  assert.equal(codeName(4000), 'version_mismatch');
  assert.equal(codeName(1234), 'other');
  assert.equal(quantize(12.5), 200);
  assert.equal(quantize(-1 / 32), -1, 'halves round away from zero, as in Rust');
  assert.equal(quantize(1 / 32), 1);
  assert.equal(quantize(NaN), 0);
  assert.equal(quantize(Infinity), 2147483647);
  assert.equal(dequantize(-8), -0.5);
  assert.equal(axisToWire(1), 127);
  assert.equal(axisToWire(-7), -127);
  assert.equal(axisToWire(NaN), 0);
  assert.equal(axisFromWire(-128), -1);
});
