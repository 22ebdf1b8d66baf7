// The ticksync wire protocol in JavaScript, written from docs/protocol.md.
//
// Pure: no DOM, no sockets, so the page and node's test runner import the same module.
// bincode 2 `config::standard()`: little-endian, varints for u16/u32/u64, zig-zag for signed
// integers, varint enum tags and lengths. Decoded messages mirror the Rust types: a `type` field
// names the enum variant and fields keep their Rust (snake_case) names, so docs/protocol.md reads
// the same for both. u64 values come back as Number (exact below 2^53, i.e. 285 years of
// microseconds); the encoder accepts Number or BigInt.

export const PROTOCOL_VERSION = 1;

// protocol/src/limits.rs
export const MAX_CLIENT_MSG_BYTES = 1024;
export const MAX_SERVER_MSG_BYTES = 16 * 1024 * 1024;
export const MAX_ROOM_NAME_BYTES = 32;
export const MAX_PLAYER_NAME_BYTES = 24;
export const MAX_TOKEN_BYTES = 256;
export const MAX_TEXT_BYTES = 256;
export const MAX_REASON_BYTES = 256;
export const MAX_ENTITY_INDEX = 1 << 20;
export const MAX_LIST_LEN = MAX_ENTITY_INDEX;
export const INPUT_AXIS_MAX = 127;

// protocol/src/quant.rs: positions travel as integer steps of 1/16 world unit.
export const SCALE = 16;
/** World units to steps like Rust's `(v * 16).round() as i32`: halves away from zero, NaN to 0,
 * saturating at the i32 range. */
export function quantize(v) {
  const s = v * SCALE;
  if (Number.isNaN(s)) return 0;
  const q = Math.sign(s) * Math.round(Math.abs(s));
  return Math.max(-2147483648, Math.min(2147483647, q)) || 0;
}
export const dequantize = (q) => q / SCALE;
/** An axis in -1..1 to its wire byte (-127..127). */
export function axisToWire(v) {
  if (!Number.isFinite(v)) return 0;
  return Math.round(Math.max(-1, Math.min(1, v)) * INPUT_AXIS_MAX);
}
export const axisFromWire = (a) => Math.max(-1, Math.min(1, a / INPUT_AXIS_MAX));

// protocol/src/table.rs: arena's entity kinds.
export const KIND_NPC = 0;
export const KIND_PLAYER = 1;

// protocol/src/codes.rs: Reject codes and WebSocket close codes share one space.
export const CODES = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  POLICY_VIOLATION: 1008,
  TOO_BIG: 1009,
  SERVER_ERROR: 1011,
  VERSION_MISMATCH: 4000,
  UNAUTHORIZED: 4001,
  ROOM_FULL: 4002,
  SERVER_FULL: 4003,
  BAD_HELLO: 4004,
  TOO_SLOW: 4005,
  TIMEOUT: 4006,
  BAD_RESUME: 4007,
  ROOM_CLOSED: 4008,
});

/** The short name `protocol::codes::name` gives a code (`other` for unknown ones). */
export function codeName(code) {
  for (const [name, value] of Object.entries(CODES)) {
    if (value === code) return name.toLowerCase();
  }
  return 'other';
}

/**
 * The only error this module throws on bad input. `kind` is machine-readable:
 * truncated, trailing, too_large, bad_varint, bad_tag, bad_option, bad_utf8, too_long,
 * bad_value (encoder input) and, from delta apply, index_out_of_range, unknown_entity,
 * slot_occupied, position_overflow.
 */
export class ProtocolError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = 'ProtocolError';
    this.kind = kind;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading

const U16_BYTE = 0xfb;
const U32_BYTE = 0xfc;
const U64_BYTE = 0xfd;
const TWO_32 = 4294967296;
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/** A cursor over a message's bytes. Every read checks bounds, so truncation is a typed error. */
export class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
  }

  remaining() {
    return this.bytes.length - this.pos;
  }

  need(n, what) {
    if (this.remaining() < n) {
      throw new ProtocolError('truncated', `message ends inside ${what} at byte ${this.pos}`);
    }
  }

  u8(what = 'u8') {
    this.need(1, what);
    return this.bytes[this.pos++];
  }

  i8(what = 'i8') {
    this.need(1, what);
    return this.view.getInt8(this.pos++);
  }

  f32(what = 'f32') {
    this.need(4, what);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /**
   * A varint whose widest allowed prefix is `widest` (U16_BYTE, U32_BYTE or U64_BYTE). bincode
   * accepts any prefix up to the type's width (also non-minimal ones) and refuses wider.
   * A u64 comes back as a Number, hi * 2^32 + lo (exact below 2^53).
   */
  varint(what, widest) {
    const b = this.u8(what);
    if (b < U16_BYTE) return b;
    if (b > widest) {
      throw new ProtocolError('bad_varint', `varint prefix 0x${b.toString(16)} is too wide for ${what}`);
    }
    const n = b === U16_BYTE ? 2 : b === U32_BYTE ? 4 : 8;
    this.need(n, what);
    const p = this.pos;
    this.pos += n;
    if (n === 2) return this.view.getUint16(p, true);
    if (n === 4) return this.view.getUint32(p, true);
    return this.view.getUint32(p + 4, true) * TWO_32 + this.view.getUint32(p, true);
  }

  varU16(what = 'u16') {
    return this.varint(what, U16_BYTE);
  }

  varU32(what = 'u32') {
    return this.varint(what, U32_BYTE);
  }

  varU64(what = 'u64') {
    return this.varint(what, U64_BYTE);
  }

  /** Zig-zag i32: 0, -1, 1, -2, ... are 0, 1, 2, 3, ... */
  varI32(what = 'i32') {
    const n = this.varU32(what);
    return (n >>> 1) ^ -(n & 1);
  }

  /** An enum variant index, checked against the number of variants. */
  tag(count, what) {
    const t = this.varU32(`${what} tag`);
    if (t >= count) {
      throw new ProtocolError('bad_tag', `unknown ${what} variant ${t}`);
    }
    return t;
  }

  option(readValue, what) {
    const b = this.u8(`${what} option tag`);
    if (b === 0) return null;
    if (b === 1) return readValue();
    throw new ProtocolError('bad_option', `option tag ${b} for ${what} is neither 0 nor 1`);
  }

  /** A list length, refused before anything is allocated when it cannot be true. */
  len(what, minItemBytes = 1) {
    const n = this.varU64(`${what} length`);
    if (n > MAX_LIST_LEN) {
      throw new ProtocolError('too_long', `${what} claims ${n} entries, over the limit of ${MAX_LIST_LEN}`);
    }
    if (n * minItemBytes > this.remaining()) {
      throw new ProtocolError('truncated', `${what} claims ${n} entries but only ${this.remaining()} bytes follow`);
    }
    return n;
  }

  string(what = 'string') {
    const n = this.varU64(`${what} length`);
    this.need(n, what);
    const raw = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    try {
      return utf8Decoder.decode(raw);
    } catch {
      throw new ProtocolError('bad_utf8', `${what} is not valid UTF-8`);
    }
  }

  list(what, readItem, minItemBytes = 1) {
    const n = this.len(what, minItemBytes);
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = readItem();
    return out;
  }

  end() {
    if (this.pos !== this.bytes.length) {
      throw new ProtocolError('trailing', `${this.bytes.length - this.pos} trailing bytes after the message`);
    }
  }
}

function asBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new ProtocolError('bad_value', 'expected bytes (Uint8Array or ArrayBuffer)');
}

const entityId = (r) => ({ index: r.varU32('entity index'), version: r.varU32('entity version') });
const entityState = (r) => ({ kind: r.u8('kind'), x: r.varI32('x'), y: r.varI32('y') });
const playerInfo = (r) => ({ entity: entityId(r), name: r.string('player name') });

/** `Delta`: four gap-coded lists (see `applyDelta`). */
export function readDelta(r) {
  return {
    despawned: r.list('despawned', () => r.varU32('despawn gap')),
    spawned: r.list('spawned', () => ({
      gap: r.varU32('spawn gap'),
      version: r.varU32('spawn version'),
      state: entityState(r),
    }), 5),
    moved: r.list('moved', () => ({ gap: r.varU32('move gap'), dx: r.varI32('dx'), dy: r.varI32('dy') }), 3),
    changed: r.list('changed', () => ({ gap: r.varU32('change gap'), state: entityState(r) }), 4),
  };
}

const EVENT_TYPES = ['PlayerJoined', 'PlayerLeft', 'Chat', 'Notice'];

function readEvent(r) {
  const type = EVENT_TYPES[r.tag(EVENT_TYPES.length, 'Event')];
  switch (type) {
    case 'PlayerJoined': return { type, ...playerInfo(r) };
    case 'PlayerLeft': return { type, entity: entityId(r) };
    case 'Chat': return { type, from: entityId(r), text: r.string('chat text') };
    default: return { type, text: r.string('notice text') };
  }
}

const SERVER_TYPES = ['Welcome', 'Reject', 'Snapshot', 'Pong', 'Event'];

function readServerMsg(r) {
  const type = SERVER_TYPES[r.tag(SERVER_TYPES.length, 'ServerMsg')];
  switch (type) {
    case 'Welcome': return {
      type,
      version: r.varU16('version'),
      player: entityId(r),
      room: r.string('room'),
      tick_rate: r.varU16('tick_rate'),
      tick: r.varU32('tick'),
      resume_token: r.string('resume_token'),
      world_width: r.f32('world_width'),
      world_height: r.f32('world_height'),
      player_speed: r.f32('player_speed'),
      players: r.list('players', () => playerInfo(r), 3),
    };
    case 'Reject': return { type, code: r.varU16('code'), reason: r.string('reason') };
    case 'Snapshot': return {
      type,
      tick: r.varU32('tick'),
      baseline: r.option(() => r.varU32('baseline'), 'baseline'),
      input_seq: r.varU32('input_seq'),
      server_time_us: r.varU64('server_time_us'),
      checksum: r.option(() => r.varU32('checksum'), 'checksum'),
      delta: readDelta(r),
    };
    case 'Pong': return {
      type,
      client_time_us: r.varU64('client_time_us'),
      server_time_us: r.varU64('server_time_us'),
    };
    default: return { type, event: readEvent(r) };
  }
}

/** Decodes one server -> client message (one WebSocket binary message). */
export function decodeServer(data) {
  const bytes = asBytes(data);
  if (bytes.length > MAX_SERVER_MSG_BYTES) {
    throw new ProtocolError('too_large', `message of ${bytes.length} bytes exceeds ${MAX_SERVER_MSG_BYTES}`);
  }
  const r = new Reader(bytes);
  const msg = readServerMsg(r);
  r.end();
  return msg;
}

const CLIENT_TYPES = ['Hello', 'Input', 'Ack', 'Ping', 'Chat'];

function readClientMsg(r) {
  const type = CLIENT_TYPES[r.tag(CLIENT_TYPES.length, 'ClientMsg')];
  switch (type) {
    case 'Hello': return {
      type,
      version: r.varU16('version'),
      room: r.string('room'),
      name: r.string('name'),
      auth_token: r.option(() => r.string('auth_token'), 'auth_token'),
      resume_token: r.option(() => r.string('resume_token'), 'resume_token'),
    };
    case 'Input': return { type, seq: r.varU32('seq'), dx: r.i8('dx'), dy: r.i8('dy'), buttons: r.u8('buttons') };
    case 'Ack': return { type, tick: r.varU32('tick') };
    case 'Ping': return { type, client_time_us: r.varU64('client_time_us') };
    default: return { type, text: r.string('chat text') };
  }
}

/**
 * Decodes a client -> server message (for tests and tools; the server validates contents
 * further: room and name rules, text limits).
 */
export function decodeClient(data) {
  const bytes = asBytes(data);
  if (bytes.length > MAX_CLIENT_MSG_BYTES) {
    throw new ProtocolError('too_large', `message of ${bytes.length} bytes exceeds ${MAX_CLIENT_MSG_BYTES}`);
  }
  const r = new Reader(bytes);
  const msg = readClientMsg(r);
  r.end();
  return msg;
}

// ---------------------------------------------------------------------------------------------
// Writing

/** A growable byte buffer with bincode-standard writers. */
export class Writer {
  constructor(capacity = 32) {
    this.bytes = new Uint8Array(capacity);
    this.pos = 0;
  }

  reserve(n) {
    if (this.pos + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.pos + n));
    grown.set(this.bytes.subarray(0, this.pos));
    this.bytes = grown;
  }

  u8(v) {
    this.reserve(1);
    this.bytes[this.pos++] = v;
  }

  raw(bytes) {
    this.reserve(bytes.length);
    this.bytes.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  le(v, n) {
    this.reserve(n);
    for (let i = 0; i < n; i++) {
      this.bytes[this.pos++] = v & 0xff;
      v = Math.floor(v / 256);
    }
  }

  /** Unsigned varint of a value already checked to fit its type. */
  varUint(v) {
    if (typeof v === 'bigint') {
      if (v < 251n) return this.u8(Number(v));
      if (v <= 0xffffffffn) return this.varUint(Number(v));
      this.u8(U64_BYTE);
      this.le(Number(v & 0xffffffffn), 4);
      this.le(Number(v >> 32n), 4);
      return;
    }
    if (v < 251) this.u8(v);
    else if (v <= 0xffff) { this.u8(U16_BYTE); this.le(v, 2); }
    else if (v <= 0xffffffff) { this.u8(U32_BYTE); this.le(v, 4); }
    else { this.u8(U64_BYTE); this.le(v % TWO_32, 4); this.le(Math.floor(v / TWO_32), 4); }
  }

  string(s) {
    const b = utf8Encoder.encode(s);
    this.varUint(b.length);
    this.raw(b);
  }

  option(v, writeValue) {
    if (v === null || v === undefined) {
      this.u8(0);
    } else {
      this.u8(1);
      writeValue(v);
    }
  }

  finish() {
    return this.bytes.slice(0, this.pos);
  }
}

function check(ok, what) {
  if (!ok) throw new ProtocolError('bad_value', `cannot encode: ${what}`);
}
const isUint = (v, max) => Number.isInteger(v) && v >= 0 && v <= max;
function u64ok(v) {
  if (typeof v === 'bigint') return v >= 0n && v < 1n << 64n;
  return Number.isSafeInteger(v) && v >= 0;
}
const str = (v, what) => check(typeof v === 'string', `${what} must be a string`);

/**
 * Encodes a client -> server message, e.g. `{type: 'Input', seq: 1, dx: 127, dy: 0, buttons: 0}`.
 * Throws ProtocolError('bad_value') for values outside their wire type (the caller clamps).
 */
export function encodeClient(msg) {
  const w = new Writer();
  const tag = CLIENT_TYPES.indexOf(msg && msg.type);
  check(tag >= 0, `unknown client message type ${msg && msg.type}`);
  w.varUint(tag);
  switch (msg.type) {
    case 'Hello':
      check(isUint(msg.version, 0xffff), 'Hello.version must be a u16');
      str(msg.room, 'Hello.room');
      str(msg.name, 'Hello.name');
      w.varUint(msg.version);
      w.string(msg.room);
      w.string(msg.name);
      for (const t of [msg.auth_token, msg.resume_token]) {
        check(t == null || typeof t === 'string', 'Hello tokens must be strings or null');
        w.option(t, (v) => w.string(v));
      }
      break;
    case 'Input':
      check(isUint(msg.seq, 0xffffffff), 'Input.seq must be a u32');
      check(Number.isInteger(msg.dx) && Math.abs(msg.dx) <= INPUT_AXIS_MAX, 'Input.dx must be in -127..=127');
      check(Number.isInteger(msg.dy) && Math.abs(msg.dy) <= INPUT_AXIS_MAX, 'Input.dy must be in -127..=127');
      check(isUint(msg.buttons ?? 0, 0xff), 'Input.buttons must be a u8');
      w.varUint(msg.seq);
      w.u8(msg.dx & 0xff);
      w.u8(msg.dy & 0xff);
      w.u8(msg.buttons ?? 0);
      break;
    case 'Ack':
      check(isUint(msg.tick, 0xffffffff), 'Ack.tick must be a u32');
      w.varUint(msg.tick);
      break;
    case 'Ping':
      check(u64ok(msg.client_time_us), 'Ping.client_time_us must be a u64 (safe integer or BigInt)');
      w.varUint(msg.client_time_us);
      break;
    case 'Chat':
      str(msg.text, 'Chat.text');
      w.string(msg.text);
      break;
  }
  const out = w.finish();
  check(out.length <= MAX_CLIENT_MSG_BYTES, `message of ${out.length} bytes exceeds ${MAX_CLIENT_MSG_BYTES}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Entity table, delta apply, checksum

/**
 * Entities by slot index, like the Rust `EntityTable`: dense typed arrays so that copying a
 * table per snapshot (the client keeps one per tick) is a few memcpys, and iteration is in
 * index order (which the checksum needs).
 */
export class EntityTable {
  constructor(capacity = 0) {
    this.slotCount = 0; // one past the highest index ever used
    this.len = 0;
    this.present = new Uint8Array(capacity);
    this.version = new Uint32Array(capacity);
    this.kind = new Uint8Array(capacity);
    this.x = new Int32Array(capacity);
    this.y = new Int32Array(capacity);
  }

  clone() {
    const t = new EntityTable(0);
    const n = this.slotCount;
    t.slotCount = n;
    t.len = this.len;
    t.present = this.present.slice(0, n);
    t.version = this.version.slice(0, n);
    t.kind = this.kind.slice(0, n);
    t.x = this.x.slice(0, n);
    t.y = this.y.slice(0, n);
    return t;
  }

  grow(slots) {
    if (slots <= this.present.length) return;
    const cap = Math.min(MAX_ENTITY_INDEX, Math.max(slots, this.present.length * 2, 64));
    for (const f of ['present', 'version', 'kind', 'x', 'y']) {
      const old = this[f];
      this[f] = new old.constructor(cap);
      this[f].set(old);
    }
  }

  has(index) {
    return index < this.slotCount && this.present[index] === 1;
  }

  /** The entity `{index, version}` if this table holds exactly it. */
  get(id) {
    if (!this.has(id.index) || this.version[id.index] !== id.version) return null;
    return { kind: this.kind[id.index], x: this.x[id.index], y: this.y[id.index] };
  }

  insert(index, version, kind, x, y) {
    if (index >= MAX_ENTITY_INDEX) {
      throw new ProtocolError('index_out_of_range', `entity index ${index} is out of range`);
    }
    if (this.has(index)) {
      throw new ProtocolError('slot_occupied', `delta spawns into entity slot ${index}, which is occupied`);
    }
    this.grow(index + 1);
    if (index >= this.slotCount) this.slotCount = index + 1;
    this.present[index] = 1;
    this.version[index] = version;
    this.kind[index] = kind;
    this.x[index] = x;
    this.y[index] = y;
    this.len++;
  }

  remove(index) {
    this.mustHave(index);
    this.present[index] = 0;
    this.len--;
  }

  mustHave(index) {
    if (!this.has(index)) {
      throw new ProtocolError('unknown_entity',
        `delta despawns, moves or changes entity slot ${index}, which the baseline does not hold`);
    }
  }

  /** Calls fn(index, version, kind, x, y) for each entity in index order. */
  forEach(fn) {
    for (let i = 0; i < this.slotCount; i++) {
      if (this.present[i]) fn(i, this.version[i], this.kind[i], this.x[i], this.y[i]);
    }
  }

  /** `[{id: {index, version}, state: {kind, x, y}}]` in index order: the golden JSON shape. */
  entries() {
    const out = [];
    this.forEach((index, version, kind, x, y) => out.push({ id: { index, version }, state: { kind, x, y } }));
    return out;
  }

  static fromEntries(entries) {
    const t = new EntityTable();
    for (const { id, state } of entries) t.insert(id.index, id.version, state.kind, state.x, state.y);
    return t;
  }

  checksum() {
    return tableChecksum(this);
  }
}

/** Turns gaps back into absolute indices: index = previous + 1 + gap (the first: gap). */
function gapDecoder() {
  let next = 0;
  return (gap) => {
    const index = next + gap; // both < 2^33: exact in a double
    if (index >= MAX_ENTITY_INDEX) {
      throw new ProtocolError('index_out_of_range', `entity index overflows the limit of ${MAX_ENTITY_INDEX}`);
    }
    next = index + 1;
    return index;
  };
}

const I32_MIN = -2147483648;
const I32_MAX = 2147483647;

/**
 * Applies a decoded delta to `table` (a copy of the baseline), in the Rust order: despawns,
 * spawns, moves, changes. On error the table is in an unspecified state: drop it.
 */
export function applyDelta(table, delta) {
  let idx = gapDecoder();
  for (const gap of delta.despawned) table.remove(idx(gap));
  idx = gapDecoder();
  for (const s of delta.spawned) table.insert(idx(s.gap), s.version, s.state.kind, s.state.x, s.state.y);
  idx = gapDecoder();
  for (const m of delta.moved) {
    const i = idx(m.gap);
    table.mustHave(i);
    const x = table.x[i] + m.dx;
    const y = table.y[i] + m.dy;
    if (x < I32_MIN || x > I32_MAX || y < I32_MIN || y > I32_MAX) {
      throw new ProtocolError('position_overflow', `delta moves entity slot ${i} out of the i32 coordinate range`);
    }
    table.x[i] = x;
    table.y[i] = y;
  }
  idx = gapDecoder();
  for (const c of delta.changed) {
    const i = idx(c.gap);
    table.mustHave(i);
    table.kind[i] = c.state.kind;
    table.x[i] = c.state.x;
    table.y[i] = c.state.y;
  }
  return table;
}

// protocol/src/checksum.rs: per entity, its words index, version, kind, x, y are folded into one
// key with odd-constant multiplies; each key goes through one MurmurHash3 (x86_32) round into the
// running hash; the entity count and murmur3's finaliser end it. All u32 arithmetic: Math.imul
// for wrapping multiplies, `| 0` / `>>> 0` to stay in 32 bits.
export const CHECKSUM_SEED = 0x7469636b; // "tick"

const rotl = (v, r) => (v << r) | (v >>> (32 - r));

function entityKey(index, version, kind, x, y) {
  const a = Math.imul(index, 0x9e3779b1) ^ Math.imul(version, 0x85ebca77) ^ Math.imul(kind, 0xc2b2ae3d);
  const b = Math.imul(x, 0x27d4eb2f) ^ rotl(Math.imul(y, 0x165667b1), 16);
  let k = a ^ rotl(b, 11);
  k = Math.imul(k, 0xcc9e2d51);
  k = rotl(k, 15);
  return Math.imul(k, 0x1b873593);
}

function round(h, k) {
  return (Math.imul(rotl(h ^ k, 13), 5) + 0xe6546b64) | 0;
}

function fmix(h, count) {
  h ^= count;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The table checksum, in index order (see above). */
export function tableChecksum(table) {
  let h = CHECKSUM_SEED;
  let count = 0;
  const { present, version, kind, x, y } = table;
  for (let i = 0; i < table.slotCount; i++) {
    if (!present[i]) continue;
    h = round(h, entityKey(i, version[i], kind[i], x[i], y[i]));
    count = (count + 1) | 0;
  }
  return fmix(h, count);
}
