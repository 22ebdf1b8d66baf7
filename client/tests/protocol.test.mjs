// The JavaScript protocol against the Rust crate's golden vectors (protocol/golden/, written by
// protocol/tests/golden.rs): every message decodes to its JSON meaning and client messages
// re-encode to the same bytes; value lists encode and decode per coding; the descriptor hashes
// the same; every snapshot delta applied to its JSON baseline tables gives the result table and
// checksum bit for bit; every bad delta fails with the Rust error's kind; and bad bytes give a
// ProtocolError, never another exception.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  PROTOCOL_VERSION, ProtocolError, Plan, StateTable, Reader, applyDelta, checksum, decodeClient,
  decodeServer, encodeClient, encodeValues, decodeValues, encodeDescriptor, descriptorHash, readDescriptor, fnv1a, quantize, dequantize, CODES, codeName,
  MAX_CLIENT_MSG_BYTES, TAU,
} from '../src/protocol.js';
import { checkSnapshotVector, loadGolden } from './golden.mjs';

const { index, vectors } = loadGolden('');
const byName = new Map(vectors.map((v) => [v.name, v]));
const ofKind = (kind) => vectors.filter((v) => v.kind === kind);
const hex = (bytes) => Buffer.from(bytes).toString('hex');

/** Our `{type, ...fields}` shapes to serde_json's externally tagged enums. */
function toSerde(v) {
  if (v instanceof Uint8Array) return Array.from(v);
  if (Array.isArray(v)) return v.map(toSerde);
  if (v === null || typeof v !== 'object') return v;
  if ('type' in v) {
    const { type, ...rest } = v;
    if (type === 'Event') return { Event: toSerde(rest.event) };
    if (Object.keys(rest).length === 0) return type;
    return { [type]: toSerde(rest) };
  }
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toSerde(x)]));
}

const welcome = decodeServer(byName.get('server_welcome').bytes);
const plan = new Plan(welcome.schema);

function baselineOf(j) {
  return j ? { table: StateTable.fromEntries(plan, j.table), tick: j.tick } : null;
}

/** Runs fn and asserts that it throws our ProtocolError (of `kind`, when given). */
function assertProtocolError(fn, kind, label) {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ProtocolError, `${label}: threw ${e && e.name}: ${e && e.stack}`);
    if (kind) assert.equal(e.kind, kind, `${label}: ${e.message}`);
    return e;
  }
  return assert.fail(`${label}: no error`);
}

test('the golden index speaks our protocol version and every vector is whole', () => {
  assert.equal(index.protocol_version, PROTOCOL_VERSION);
  assert.ok(vectors.length >= 55);
  for (const v of vectors) assert.equal(hex(v.bytes), v.meaning.hex, `${v.name}: .bin and .json hex agree`);
  for (const kind of ['client', 'server', 'snapshot', 'delta', 'values', 'descriptor']) {
    assert.ok(ofKind(kind).length > 0, `vectors of kind ${kind}`);
  }
});

for (const v of [...ofKind('client'), ...ofKind('server')]) {
  test(`decodes ${v.name}`, () => {
    const msg = (v.kind === 'client' ? decodeClient : decodeServer)(v.bytes);
    assert.deepStrictEqual(toSerde(msg), v.meaning.message);
    if (v.kind === 'client') assert.equal(hex(encodeClient(msg)), hex(v.bytes), 're-encodes to the same bytes');
    // Game values: decoded per the descriptor, and re-encoded to the same bytes.
    const d = v.meaning.decoded;
    if (d) {
      const list = msg.type === 'Input' ? { fields: welcome.schema.input }
        : (msg.type === 'Action' ? welcome.schema.actions : welcome.schema.events)[msg.id];
      if (msg.type !== 'Input') assert.equal(list.name, d.name);
      const values = decodeValues(list.fields, msg.values);
      assert.deepStrictEqual(values, list.fields.map((f) => d.fields[f.name]));
      assert.equal(hex(encodeValues(list.fields, values)), hex(msg.values));
    }
  });
}

test('the Welcome descriptor compiles, and hashes as the server says', () => {
  assert.equal(descriptorHash(welcome.schema), welcome.schema_hash);
  const d = byName.get('descriptor');
  assert.equal(hex(encodeDescriptor(welcome.schema)), hex(d.bytes));
  assert.equal(fnv1a(d.bytes), d.meaning.hash);
  const r = new Reader(d.bytes);
  const back = readDescriptor(r);
  r.end();
  assert.deepStrictEqual(toSerde(back), d.meaning.descriptor);
  assert.equal(plan.stride, d.meaning.stride);
  assert.equal(plan.types[plan.roomType].name, 'room');
  assert.deepEqual(plan.params, { world_width: 1000, world_height: 750.5, speed: 3.25 });
  // The velocity ratio was resolved for 60 Hz: pos (1/16) from vel (1/16 per second).
  const pos = plan.typeByName.get('ship').byName.get('pos.x');
  assert.deepEqual([pos.num, pos.den], [1, 60]);
});

for (const v of ofKind('values')) {
  test(`values: ${v.name}`, () => {
    const fields = v.meaning.fields.map(fromSerdeField);
    assert.equal(hex(encodeValues(fields, v.meaning.values)), hex(v.bytes), 'encodes');
    assert.deepStrictEqual(decodeValues(fields, v.bytes), v.meaning.decoded, 'decodes');
  });
}

/** A serde FieldDesc back to our shape. */
function fromSerdeField(f) {
  const tagged = (x) => (typeof x === 'string' ? { type: x } : { type: Object.keys(x)[0], ...Object.values(x)[0] });
  return { ...f, coding: tagged(f.coding), predictor: tagged(f.predictor) };
}

for (const v of ofKind('snapshot')) {
  test(`applies ${v.name} bit for bit`, () => {
    const m = v.meaning;
    assert.equal(m.descriptor, 'server_welcome');
    checkSnapshotVector(plan, v);
  });
}

for (const v of ofKind('delta')) {
  test(`delta case ${v.name}`, () => {
    const m = v.meaning;
    const base = baselineOf(m.baseline);
    if (m.expect.error) {
      assertProtocolError(() => applyDelta(plan, m.own, base, m.tick, v.bytes), m.expect.error, v.name);
    } else {
      const got = applyDelta(plan, m.own, base, m.tick, v.bytes);
      assert.deepStrictEqual(got.entries(plan), m.expect.table);
      assert.equal(checksum(plan, got, m.own), m.expect.checksum);
    }
  });
}

test('every truncation of every message is a ProtocolError', () => {
  for (const v of [...ofKind('client'), ...ofKind('server')]) {
    const decode = v.kind === 'client' ? decodeClient : decodeServer;
    for (let n = 0; n < v.bytes.length; n++) {
      assertProtocolError(() => decode(v.bytes.subarray(0, n)), 'truncated', `${v.name}[..${n}]`);
    }
  }
});

test('every truncation of every delta either applies or fails typed', () => {
  for (const v of ofKind('snapshot')) {
    const m = v.meaning;
    const snap = decodeServer(v.bytes);
    const base = baselineOf(m.baseline);
    if (base) base.second = baselineOf(m.baseline2);
    for (let n = 0; n < snap.delta.length; n++) {
      try {
        applyDelta(plan, m.own, base, snap.tick, snap.delta.subarray(0, n));
      } catch (e) {
        assert.ok(e instanceof ProtocolError, `${v.name} delta[..${n}]: ${e.stack}`);
      }
    }
  }
});

test('trailing bytes are refused', () => {
  for (const v of [...ofKind('client'), ...ofKind('server')]) {
    const decode = v.kind === 'client' ? decodeClient : decodeServer;
    const longer = new Uint8Array(v.bytes.length + 1);
    longer.set(v.bytes);
    assertProtocolError(() => decode(longer), 'trailing', v.name);
  }
});

test('bad tags, option bytes, varint prefixes and UTF-8 are typed errors', () => {
  assertProtocolError(() => decodeServer(Uint8Array.of(6)), 'bad_tag', 'ServerMsg tag 6');
  assertProtocolError(() => decodeServer(Uint8Array.of(4, 4)), 'bad_tag', 'Event tag 4');
  assertProtocolError(() => decodeClient(Uint8Array.of(6)), 'bad_tag', 'ClientMsg tag 6');
  // Snapshot with baseline option byte 2.
  assertProtocolError(() => decodeServer(Uint8Array.of(2, 1, 2)), 'bad_option', 'option 2');
  // A u32 (Ack.tick) with the u64 prefix 0xfd, and the reserved prefixes.
  assertProtocolError(() => decodeClient(Uint8Array.of(2, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0)), 'bad_varint', 'u32 as u64');
  assertProtocolError(() => decodeClient(Uint8Array.of(2, 0xfe)), 'bad_varint', 'u128 prefix');
  // A u16 (Hello.version) with the u32 prefix.
  assertProtocolError(() => decodeClient(Uint8Array.of(0, 0xfc, 1, 0, 0, 0)), 'bad_varint', 'u16 as u32');
  assertProtocolError(() => decodeServer(Uint8Array.of(4, 3, 2, 0xc3, 0x28)), 'bad_utf8', 'bad UTF-8');
  // A non-minimal snapshot tag reaches the derived layout: the delta is a list.
  const s = decodeServer(Uint8Array.of(0xfb, 2, 0, 7, 0, 0, 0, 0, 0, 2, 9, 9));
  assert.deepEqual([s.type, s.tick, Array.from(s.delta)], ['Snapshot', 7, [9, 9]]);
});

test('huge length claims fail before allocating', () => {
  const ff = [0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
  // Welcome players list: version, player, room, game, rate, tick, token, then the claim.
  const welcomeHead = [0, 2, 0, 0, 0, 0, 60, 0, 0];
  assertProtocolError(() => decodeServer(Uint8Array.from([...welcomeHead, ...ff])), 'too_long', '2^64 players');
  assertProtocolError(() => decodeServer(Uint8Array.from([...welcomeHead, 0xfc, 0, 0, 0x10, 0])), 'truncated', '2^20 players, no bytes');
  assertProtocolError(() => decodeServer(Uint8Array.of(4, 3, 0xfc, 0xff, 0xff, 0xff, 0xff)), 'truncated', '4 GiB string');
  assertProtocolError(() => decodeClient(new Uint8Array(MAX_CLIENT_MSG_BYTES + 1)), 'too_large', 'oversized client message');
  // A delta whose first list claims 2^35 entries.
  assertProtocolError(() => applyDelta(plan, null, null, 1, Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x7f)), 'malformed', 'delta count');
});

test('random and mutated bytes never throw anything but ProtocolError', () => {
  // A fixed xorshift so failures reproduce.
  let s = 0x9e3779b9;
  const rnd = () => {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  const seeds = vectors.filter((v) => !['values', 'descriptor', 'codes'].includes(v.kind));
  const base = baselineOf(byName.get('snapshot_delta_one_tick').meaning.baseline);
  const own = { index: 3, version: 1 };
  for (let i = 0; i < 20000; i++) {
    let bytes;
    if (i % 3 === 0) {
      bytes = new Uint8Array(Math.floor(rnd() * 40));
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(rnd() * 256);
    } else {
      bytes = seeds[i % seeds.length].bytes.slice();
      for (let k = 0; k < 1 + (i % 4); k++) bytes[Math.floor(rnd() * bytes.length)] = Math.floor(rnd() * 256);
    }
    const attempts = [
      () => decodeServer(bytes),
      () => decodeClient(bytes),
      () => applyDelta(plan, own, base, 101 + (i % 3000), bytes),
      () => applyDelta(plan, own, null, 7, bytes),
      () => decodeValues(welcome.schema.input, bytes),
    ];
    for (const attempt of attempts) {
      try {
        const msg = attempt();
        if (msg && msg.type === 'Snapshot') applyDelta(plan, own, base, msg.tick, msg.delta);
        if (msg && msg.type === 'Welcome') new Plan(msg.schema);
      } catch (e) {
        assert.ok(e instanceof ProtocolError, `${hex(bytes)}: ${e && e.stack}`);
      }
    }
  }
});

test('descriptors that break the rules are refused', () => {
  const d = welcome.schema;
  const edit = (f) => {
    const copy = structuredClone(d);
    f(copy);
    return copy;
  };
  const bad = [
    edit((c) => { c.types[0].id = 5; }),
    edit((c) => { c.room_type = 9; }),
    edit((c) => { c.types[0].fields[4].coding = { type: 'Angle', bits: 25 }; }),
    edit((c) => { c.types[0].fields[0].predictor = { type: 'Velocity', field: 2, num: 1, den: 0 }; }),
    edit((c) => { c.types[0].fields[0].predictor = { type: 'Velocity', field: 2, num: 2 ** 31, den: 1 }; }),
    edit((c) => { c.types[0].fields[5].predictor = { type: 'Linear' }; }),
    edit((c) => { c.input[0].predictor = { type: 'Linear' }; }),
    edit((c) => { c.types[0].fields[6].coding = { type: 'Enum', variants: [] }; }),
    edit((c) => { c.types[0].fields = Array.from({ length: 65 }, (_, i) => ({ ...d.types[0].fields[5], id: i })); }),
  ];
  for (const b of bad) assertProtocolError(() => new Plan(b), 'bad_schema', JSON.stringify(b).slice(0, 40));
});

test('the encoder refuses values outside their wire types', () => {
  const bad = [
    { type: 'Nope' },
    { type: 'Input', seq: -1, ack: null, values: [] },
    { type: 'Input', seq: 2 ** 32, ack: null, values: [] },
    { type: 'Input', seq: 1, ack: 1.5, values: [] },
    { type: 'Input', seq: 1, ack: null, values: [256] },
    { type: 'Input', seq: 1, ack: null, view: { tick: 1, frac: 256 }, values: [] },
    { type: 'Input', seq: 1, ack: null, view: { tick: 1, frac: 0.5 }, values: [] },
    { type: 'Input', seq: 1, ack: null, view: { tick: -1, frac: 0 }, values: [] },
    { type: 'Input', seq: 1, ack: null, view: { tick: 2 ** 32, frac: 0 }, values: [] },
    { type: 'Input', seq: 1, ack: null, view: 7, values: [] },
    { type: 'Ack', tick: 1.5 },
    { type: 'Ping', client_time_us: 2 ** 60 },
    { type: 'Hello', version: 70000, room: 'a', name: 'b' },
    { type: 'Hello', version: PROTOCOL_VERSION, room: 'a', name: 'b', game: 7 },
    { type: 'Action', id: 70000, values: [] },
    { type: 'Chat', text: 'x'.repeat(2000) },
  ];
  for (const msg of bad) assertProtocolError(() => encodeClient(msg), 'bad_value', JSON.stringify(msg).slice(0, 60));
  // BigInt u64s are accepted.
  assert.equal(hex(encodeClient({ type: 'Ping', client_time_us: 2n ** 60n + 7n })), '03fd0700000000000010');
});

test('Input carries the view time: an option of a varint tick and one raw byte of 256ths', () => {
  // docs/protocol.md's layout, by hand: tag 1, seq, ack (none), view (some: tick 300, frac 128),
  // values (length-prefixed).
  const some = { type: 'Input', seq: 1, ack: null, view: { tick: 300, frac: 128 }, values: new Uint8Array([7]) };
  assert.equal(hex(encodeClient(some)), '0101' + '00' + '01fb2c0180' + '0107');
  assert.deepStrictEqual(decodeClient(encodeClient(some)), some);
  const none = { type: 'Input', seq: 2, ack: 9, view: null, values: new Uint8Array([]) };
  assert.equal(hex(encodeClient(none)), '0102' + '0109' + '00' + '00');
  assert.deepStrictEqual(decodeClient(encodeClient(none)), none);
  // Left out, it is None.
  assert.equal(hex(encodeClient({ type: 'Input', seq: 2, ack: 9, values: [] })), hex(encodeClient(none)));
  assertProtocolError(() => decodeClient(Uint8Array.from([1, 1, 0, 2, 0, 0])), 'bad_option', 'view tag 2');
});

test('quantising matches Rust: halves away from zero, angles wrap, enums by name', () => {
  const fixed = { type: 'Fixed', scale: 16, min: -100, max: 100, tolerance: 0 };
  assert.equal(quantize(fixed, 1.5), 24);
  assert.equal(quantize(fixed, -1 / 32), -1);
  assert.equal(quantize(fixed, 1 / 32), 1);
  assert.equal(quantize(fixed, NaN), 0);
  assert.equal(quantize(fixed, Infinity), 100);
  assert.equal(dequantize(fixed, -8), -0.5);
  const angle = { type: 'Angle', bits: 8 };
  assert.equal(quantize(angle, -TAU / 4), 192);
  assert.equal(quantize(angle, TAU), 0);
  assert.equal(quantize(angle, TAU * 0.999), 0);
  const e = { type: 'Enum', variants: ['red', 'blue'] };
  assert.equal(quantize(e, 'blue'), 1);
  assertProtocolError(() => quantize(e, 'green'), 'bad_value', 'unknown variant');
  assert.equal(quantize({ type: 'Bool' }, true), 1);
  // Values too long are cut at a character boundary; missing ones are the default.
  const s = [{ id: 0, name: 's', coding: { type: 'Str', max_bytes: 4 } }, { id: 1, name: 'n', coding: { type: 'Int', min: 3, max: 9 } }];
  assert.deepEqual(decodeValues(s, encodeValues(s, ['a☃b'])), ['a☃', 3]);
});

test('codes', () => {
  const named = Object.fromEntries(Object.entries(CODES).map(([name, code]) => [name.toLowerCase(), code]));
  assert.deepEqual(named, ofKind('codes')[0].meaning.codes, 'the same codes as protocol::codes');
  assert.equal(CODES.ROOM_FULL, 4002);
  assert.equal(codeName(4000), 'version_mismatch');
  assert.equal(codeName(1234), 'other');
});
