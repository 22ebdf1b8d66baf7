// The ticksync wire protocol, version 4, in JavaScript: a port of the Rust `protocol` crate
// (protocol/src), which is the spec; protocol/golden/ pins both to the same bytes.
//
// Pure: no DOM, no sockets, so pages and node's test runner import the same module.
// Messages: bincode 2 `config::standard()`: little-endian, varints for u16/u32/u64 (a byte below
// 251, else a 0xfb/0xfc/0xfd prefix and 2/4/8 bytes), zig-zag for signed integers, varint enum
// tags and lengths. Decoded messages mirror the Rust types: a `type` field names the enum
// variant and fields keep their Rust (snake_case) names. u64s come back as Number (exact below
// 2^53, i.e. 285 years of microseconds); the encoder accepts Number or BigInt.
// Deltas and game values: LEB128 varints and zig-zag (protocol/src/varint.rs), read here with
// their low 32 bits exact whatever their size, as angles wrap on them.
// Prediction and the checksum are ported operation for operation: Number arithmetic for
// predictions (a valid schema keeps every intermediate below 2^53, so it is exact), Math.imul
// for the checksum's wrapping u32 multiplies.

export const PROTOCOL_VERSION = 4;

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

// protocol/src/schema.rs
export const ROOM_INDEX = 0;
export const MAX_FIELDS = 64;
export const MAX_ANGLE_BITS = 24;
export const MAX_PREDICT_TICKS = 1024;
const EXACT = 2 ** 52;
export const TAU = 2 * Math.PI; // the same double as Rust's std::f64::consts::TAU

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
  INVALID_VALUE: 4009,
  UNKNOWN_MESSAGE: 4010,
  WRONG_GAME: 4011,
  REPLACED: 4012,
  // The room lives on (or is moving to) another node; the reason is that node's ws(s) URL.
  MOVED: 4013,
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
 * - messages: truncated, trailing, too_large, bad_varint, bad_tag, bad_option, bad_utf8,
 *   too_long; bad_value (encoder input);
 * - deltas (`state_delta::DeltaError`): malformed, index_out_of_range, occupied, vacant,
 *   unknown_type, overflow, bad_mask;
 * - value lists (`schema::ValueError`): malformed, out_of_range;
 * - descriptors (`schema::SchemaError`): bad_schema.
 */
export class ProtocolError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = 'ProtocolError';
    this.kind = kind;
  }
}

const fail = (kind, message) => {
  throw new ProtocolError(kind, message);
};

const TWO_32 = 4294967296;
const I32_MIN = -2147483648;
const I32_MAX = 2147483647;
// Rust's from_utf8 keeps a leading byte-order mark: so must we (ignoreBOM).
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/** The UTF-8 byte length of `s` (what a string cell holds). */
export function utf8Length(s) {
  // Fast path: ASCII is one byte a character.
  const n = s.length;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) return utf8Encoder.encode(s).length;
  }
  return n;
}

function asBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return fail('bad_value', 'expected bytes (Uint8Array or ArrayBuffer)');
}

// ---------------------------------------------------------------------------------------------
// bincode reading (messages)

const U16_BYTE = 0xfb;
const U32_BYTE = 0xfc;
const U64_BYTE = 0xfd;

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
    if (this.remaining() < n) fail('truncated', `message ends inside ${what} at byte ${this.pos}`);
  }

  u8(what = 'u8') {
    this.need(1, what);
    return this.bytes[this.pos++];
  }

  f64(what = 'f64') {
    this.need(8, what);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /**
   * A varint whose widest allowed prefix is `widest`. bincode accepts any prefix up to the
   * type's width (also non-minimal ones) and refuses wider.
   */
  varint(what, widest) {
    const b = this.u8(what);
    if (b < U16_BYTE) return b;
    if (b > widest) fail('bad_varint', `varint prefix 0x${b.toString(16)} is too wide for ${what}`);
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
    if (t >= count) fail('bad_tag', `unknown ${what} variant ${t}`);
    return t;
  }

  option(readValue, what) {
    const b = this.u8(`${what} option tag`);
    if (b === 0) return null;
    if (b === 1) return readValue();
    return fail('bad_option', `option tag ${b} for ${what} is neither 0 nor 1`);
  }

  /** A list length, refused before anything is allocated when it cannot be true. */
  len(what, minItemBytes = 1) {
    const n = this.varU64(`${what} length`);
    if (n > MAX_LIST_LEN) fail('too_long', `${what} claims ${n} entries, over the limit of ${MAX_LIST_LEN}`);
    if (n * minItemBytes > this.remaining()) {
      fail('truncated', `${what} claims ${n} entries but only ${this.remaining()} bytes follow`);
    }
    return n;
  }

  rawBytes(what) {
    const n = this.varU64(`${what} length`);
    this.need(n, what);
    const raw = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return raw;
  }

  string(what = 'string') {
    const raw = this.rawBytes(what);
    try {
      return utf8Decoder.decode(raw);
    } catch {
      return fail('bad_utf8', `${what} is not valid UTF-8`);
    }
  }

  list(what, readItem, minItemBytes = 1) {
    const n = this.len(what, minItemBytes);
    const out = [];
    for (let i = 0; i < n; i++) out.push(readItem());
    return out;
  }

  end() {
    if (this.pos !== this.bytes.length) {
      fail('trailing', `${this.bytes.length - this.pos} trailing bytes after the message`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The descriptor (protocol/src/schema.rs): decoded as `{type, ...fields}` like messages.

const CODINGS = ['Fixed', 'Angle', 'Int', 'Bool', 'Enum', 'Str'];
const PREDICTORS = ['None', 'Velocity', 'Linear'];
const INTERPS = ['None', 'Linear', 'Angle'];
const VISIBILITIES = ['Everyone', 'Owner'];

function readCoding(r) {
  const type = CODINGS[r.tag(CODINGS.length, 'Coding')];
  switch (type) {
    case 'Fixed': return {
      type,
      scale: r.varU32('scale'),
      min: r.varI32('min'),
      max: r.varI32('max'),
      tolerance: r.varU32('tolerance'),
    };
    case 'Angle': return { type, bits: r.u8('bits') };
    case 'Int': return { type, min: r.varI32('min'), max: r.varI32('max') };
    case 'Enum': return { type, variants: r.list('variants', () => r.string('variant')) };
    case 'Str': return { type, max_bytes: r.varU16('max_bytes') };
    default: return { type };
  }
}

function readPredictor(r) {
  const type = PREDICTORS[r.tag(PREDICTORS.length, 'Predictor')];
  if (type !== 'Velocity') return { type };
  return { type, field: r.varU16('field'), num: r.varU32('num'), den: r.varU32('den') };
}

function readField(r) {
  return {
    id: r.varU16('field id'),
    name: r.string('field name'),
    coding: readCoding(r),
    predictor: readPredictor(r),
    interp: INTERPS[r.tag(INTERPS.length, 'Interp')],
    visibility: VISIBILITIES[r.tag(VISIBILITIES.length, 'Visibility')],
  };
}

const readFields = (r, what) => r.list(what, () => readField(r), 5);

function readTypeDesc(r) {
  return { id: r.varU16('type id'), name: r.string('type name'), fields: readFields(r, 'fields') };
}

/** `schema::Descriptor` (not validated: `new Plan(d)` does that). */
export function readDescriptor(r) {
  return {
    game: r.string('game'),
    types: r.list('types', () => readTypeDesc(r), 3),
    room_type: r.option(() => r.varU16('room_type'), 'room_type'),
    input: readFields(r, 'input'),
    actions: r.list('actions', () => readTypeDesc(r), 3),
    events: r.list('events', () => readTypeDesc(r), 3),
    params: r.list('params', () => ({ name: r.string('param name'), value: r.f64('param value') }), 9),
  };
}

// ---------------------------------------------------------------------------------------------
// Messages

const entityId = (r) => ({ index: r.varU32('entity index'), version: r.varU32('entity version') });
const playerInfo = (r) => ({ entity: entityId(r), name: r.string('player name') });

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

function readHeader(r) {
  return {
    tick: r.varU32('tick'),
    baseline: r.option(() => r.varU32('baseline'), 'baseline'),
    baseline2: r.option(() => r.varU32('baseline2'), 'baseline2'),
    input_seq: r.varU32('input_seq'),
    server_time_us: r.varU64('server_time_us'),
    checksum: r.option(() => r.varU32('checksum'), 'checksum'),
  };
}

const SERVER_TYPES = ['Welcome', 'Reject', 'Snapshot', 'Pong', 'Event', 'GameEvent'];
const SNAPSHOT_TAG = 2;

function readServerMsg(r) {
  const type = SERVER_TYPES[r.tag(SERVER_TYPES.length, 'ServerMsg')];
  switch (type) {
    case 'Welcome': return {
      type,
      version: r.varU16('version'),
      player: entityId(r),
      room: r.string('room'),
      game: r.string('game'),
      tick_rate: r.varU16('tick_rate'),
      tick: r.varU32('tick'),
      resume_token: r.string('resume_token'),
      players: r.list('players', () => playerInfo(r), 3),
      schema_hash: r.varU32('schema_hash'),
      schema: readDescriptor(r),
    };
    case 'Reject': return { type, code: r.varU16('code'), reason: r.string('reason') };
    // Only a tag written as a non-minimal varint comes here: then the delta is a list.
    case 'Snapshot': return { type, ...readHeader(r), delta: r.rawBytes('delta').slice() };
    case 'Pong': return {
      type,
      client_time_us: r.varU64('client_time_us'),
      server_time_us: r.varU64('server_time_us'),
    };
    case 'Event': return { type, event: readEvent(r) };
    default: return { type, id: r.varU16('id'), values: r.rawBytes('values').slice() };
  }
}

/**
 * Decodes one server -> client message (one WebSocket binary message). A Snapshot comes back
 * as `{type, tick, baseline, baseline2, input_seq, server_time_us, checksum, delta}` with
 * `delta` the still-encoded delta bytes (a view into `data`): `applyDelta` reads them.
 */
export function decodeServer(data) {
  const bytes = asBytes(data);
  if (bytes.length > MAX_SERVER_MSG_BYTES) {
    fail('too_large', `message of ${bytes.length} bytes exceeds ${MAX_SERVER_MSG_BYTES}`);
  }
  const r = new Reader(bytes);
  // codec::decode_server: the header, then the delta's bytes to the end of the message.
  if (bytes[0] === SNAPSHOT_TAG) {
    r.pos = 1;
    const header = readHeader(r);
    return { type: 'Snapshot', ...header, delta: bytes.subarray(r.pos) };
  }
  const msg = readServerMsg(r);
  r.end();
  return msg;
}

const CLIENT_TYPES = ['Hello', 'Input', 'Ack', 'Ping', 'Chat', 'Action'];

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
      game: r.option(() => r.string('game'), 'game'),
    };
    case 'Input': return {
      type,
      seq: r.varU32('seq'),
      ack: r.option(() => r.varU32('ack'), 'ack'),
      view: r.option(() => ({ tick: r.varU32('view.tick'), frac: r.u8('view.frac') }), 'view'),
      values: r.rawBytes('values').slice(),
    };
    case 'Ack': return { type, tick: r.varU32('tick') };
    case 'Ping': return { type, client_time_us: r.varU64('client_time_us') };
    case 'Chat': return { type, text: r.string('chat text') };
    default: return { type, id: r.varU16('id'), values: r.rawBytes('values').slice() };
  }
}

/**
 * Decodes a client -> server message (for tests and tools; the server validates contents
 * further: room and name rules, text limits).
 */
export function decodeClient(data) {
  const bytes = asBytes(data);
  if (bytes.length > MAX_CLIENT_MSG_BYTES) {
    fail('too_large', `message of ${bytes.length} bytes exceeds ${MAX_CLIENT_MSG_BYTES}`);
  }
  const r = new Reader(bytes);
  const msg = readClientMsg(r);
  r.end();
  return msg;
}

// ---------------------------------------------------------------------------------------------
// bincode writing

/** A growable byte buffer with bincode-standard writers (and LEB128 ones for values). */
export class Writer {
  constructor(capacity = 32) {
    this.bytes = new Uint8Array(capacity);
    this.view = new DataView(this.bytes.buffer);
    this.pos = 0;
  }

  reserve(n) {
    if (this.pos + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.pos + n));
    grown.set(this.bytes.subarray(0, this.pos));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
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

  f64(v) {
    this.reserve(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  /** bincode unsigned varint of a value already checked to fit its type. */
  varUint(v) {
    if (typeof v === 'bigint') {
      if (v <= 0xffffffffn) return this.varUint(Number(v));
      this.u8(U64_BYTE);
      this.le(Number(v & 0xffffffffn), 4);
      this.le(Number(v >> 32n), 4);
      return undefined;
    }
    if (v < U16_BYTE) this.u8(v);
    else if (v <= 0xffff) { this.u8(U16_BYTE); this.le(v, 2); }
    else if (v <= 0xffffffff) { this.u8(U32_BYTE); this.le(v, 4); }
    else { this.u8(U64_BYTE); this.le(v % TWO_32, 4); this.le(Math.floor(v / TWO_32), 4); }
    return undefined;
  }

  /** bincode zig-zag i32. */
  varI32(v) {
    this.varUint(v >= 0 ? 2 * v : -2 * v - 1);
  }

  string(s) {
    const b = utf8Encoder.encode(s);
    this.varUint(b.length);
    this.raw(b);
  }

  bytesField(b) {
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

  /** LEB128 unsigned varint (Number below 2^53). */
  leb(n) {
    while (n >= 0x80) {
      this.u8((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    this.u8(n);
  }

  /** LEB128 zig-zag of a safe integer. */
  lebSigned(n) {
    this.leb(n >= 0 ? 2 * n : -2 * n - 1);
  }

  finish() {
    return this.bytes.slice(0, this.pos);
  }
}

function check(ok, what) {
  if (!ok) fail('bad_value', `cannot encode: ${what}`);
}
const isUint = (v, max) => Number.isInteger(v) && v >= 0 && v <= max;
function u64ok(v) {
  if (typeof v === 'bigint') return v >= 0n && v < 1n << 64n;
  return Number.isSafeInteger(v) && v >= 0;
}
const isStr = (v) => typeof v === 'string';
const optStr = (v) => v == null || typeof v === 'string';

function byteList(v, what) {
  check(v instanceof Uint8Array || (Array.isArray(v) && v.every((b) => isUint(b, 255))), `${what} must be bytes`);
  return v instanceof Uint8Array ? v : Uint8Array.from(v);
}

/**
 * Encodes a client -> server message, e.g. `{type: 'Input', seq: 1, ack: 7, view: {tick: 6,
 * frac: 128}, values}` with `values` from `encodeValues` (`view`: the moment drawn, tick +
 * frac/256, or null). Throws ProtocolError('bad_value') for values outside their wire
 * type (the caller clamps).
 */
export function encodeClient(msg) {
  const w = new Writer();
  const tag = CLIENT_TYPES.indexOf(msg && msg.type);
  check(tag >= 0, `unknown client message type ${msg && msg.type}`);
  w.varUint(tag);
  switch (msg.type) {
    case 'Hello':
      check(isUint(msg.version, 0xffff), 'Hello.version must be a u16');
      check(isStr(msg.room) && isStr(msg.name), 'Hello.room and Hello.name must be strings');
      check(optStr(msg.auth_token) && optStr(msg.resume_token) && optStr(msg.game), 'Hello tokens and game must be strings or null');
      w.varUint(msg.version);
      w.string(msg.room);
      w.string(msg.name);
      w.option(msg.auth_token, (v) => w.string(v));
      w.option(msg.resume_token, (v) => w.string(v));
      w.option(msg.game, (v) => w.string(v));
      break;
    case 'Input':
      check(isUint(msg.seq, 0xffffffff), 'Input.seq must be a u32');
      check(msg.ack == null || isUint(msg.ack, 0xffffffff), 'Input.ack must be a u32 or null');
      check(msg.view == null || (typeof msg.view === 'object' && isUint(msg.view.tick, 0xffffffff) && isUint(msg.view.frac, 255)),
        'Input.view must be {tick: u32, frac: 0..255} or null');
      w.varUint(msg.seq);
      w.option(msg.ack, (v) => w.varUint(v));
      w.option(msg.view, (v) => {
        w.varUint(v.tick);
        w.u8(v.frac);
      });
      w.bytesField(byteList(msg.values ?? [], 'Input.values'));
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
      check(isStr(msg.text), 'Chat.text must be a string');
      w.string(msg.text);
      break;
    case 'Action':
      check(isUint(msg.id, 0xffff), 'Action.id must be a u16');
      w.varUint(msg.id);
      w.bytesField(byteList(msg.values ?? [], 'Action.values'));
      break;
  }
  const out = w.finish();
  check(out.length <= MAX_CLIENT_MSG_BYTES, `message of ${out.length} bytes exceeds ${MAX_CLIENT_MSG_BYTES}`);
  return out;
}

function writeField(w, f) {
  w.varUint(f.id);
  w.string(f.name);
  const c = f.coding;
  w.varUint(CODINGS.indexOf(c.type));
  switch (c.type) {
    case 'Fixed': w.varUint(c.scale); w.varI32(c.min); w.varI32(c.max); w.varUint(c.tolerance); break;
    case 'Angle': w.u8(c.bits); break;
    case 'Int': w.varI32(c.min); w.varI32(c.max); break;
    case 'Enum': w.varUint(c.variants.length); for (const v of c.variants) w.string(v); break;
    case 'Str': w.varUint(c.max_bytes); break;
  }
  const p = f.predictor;
  w.varUint(PREDICTORS.indexOf(p.type));
  if (p.type === 'Velocity') { w.varUint(p.field); w.varUint(p.num); w.varUint(p.den); }
  w.varUint(INTERPS.indexOf(f.interp));
  w.varUint(VISIBILITIES.indexOf(f.visibility));
}

function writeTypes(w, list) {
  w.varUint(list.length);
  for (const t of list) {
    w.varUint(t.id);
    w.string(t.name);
    w.varUint(t.fields.length);
    for (const f of t.fields) writeField(w, f);
  }
}

/** `codec::encode_descriptor`: the bytes the descriptor hash is taken over. */
export function encodeDescriptor(d) {
  const w = new Writer(256);
  w.string(d.game);
  writeTypes(w, d.types);
  w.option(d.room_type, (v) => w.varUint(v));
  w.varUint(d.input.length);
  for (const f of d.input) writeField(w, f);
  writeTypes(w, d.actions);
  writeTypes(w, d.events);
  w.varUint(d.params.length);
  for (const p of d.params) { w.string(p.name); w.f64(p.value); }
  return w.finish();
}

/** FNV-1a, 32 bits (`schema::fnv1a`). */
export function fnv1a(bytes) {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

/** `Descriptor::hash`: what `Welcome.schema_hash` carries. */
export function descriptorHash(d) {
  return fnv1a(encodeDescriptor(d));
}

// ---------------------------------------------------------------------------------------------
// LEB128 reading (deltas and values)

/**
 * A bounds-checked cursor over LEB128 varints (`varint::Reader`). `u64()` returns a Number
 * (exact below 2^53) and leaves the exact bits in `lo`/`hi`; `i64()` leaves the low 32 bits of
 * the signed value in `low32` and sets `wide` when |value| may be 2^32 or more.
 */
export class Cursor {
  constructor(bytes) {
    this.bytes = bytes;
    this.pos = 0;
    this.lo = 0;
    this.hi = 0;
    this.low32 = 0;
    this.wide = false;
  }

  remaining() {
    return this.bytes.length - this.pos;
  }

  u64() {
    const bytes = this.bytes;
    if (this.pos >= bytes.length) fail('malformed', 'unexpected end');
    let b = bytes[this.pos++];
    if (b < 0x80) {
      this.lo = b;
      this.hi = 0;
      return b;
    }
    let lo = b & 0x7f;
    let hi = 0;
    let shift = 7;
    for (;;) {
      if (this.pos >= bytes.length) fail('malformed', 'unexpected end');
      b = bytes[this.pos++];
      if (shift === 63 && b > 1) fail('malformed', 'varint overflows 64 bits');
      const low7 = b & 0x7f;
      if (shift < 28) lo |= low7 << shift;
      else if (shift === 28) {
        lo |= (low7 & 0xf) << 28;
        hi |= low7 >>> 4;
      } else hi |= low7 << (shift - 32);
      if (b < 0x80) break;
      shift += 7;
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
    return this.hi * TWO_32 + this.lo;
  }

  /** An unsigned varint that must fit a u32. */
  u32() {
    const n = this.u64();
    if (this.hi !== 0) fail('malformed', 'varint overflows 32 bits');
    return n;
  }

  /** A zig-zag varint: exact when `!wide` (|n| < 2^32), else approximate (see `low32`). */
  i64() {
    this.u64();
    const neg = this.lo & 1;
    const magHi = this.hi >>> 1;
    const magLo = (((this.hi & 1) << 31) | (this.lo >>> 1)) >>> 0;
    this.low32 = (neg ? ~magLo : magLo) | 0;
    this.wide = magHi !== 0;
    const mag = magHi * TWO_32 + magLo;
    return neg ? -mag - 1 : mag;
  }

  bytesOf(n) {
    if (n > this.remaining()) fail('malformed', 'unexpected end');
    const s = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
}

// ---------------------------------------------------------------------------------------------
// Values: quantising and compact value lists (inputs, actions, game events)

/** `schema::Coding::range`: the integer range of a stored value (strings: byte length). */
export function codingRange(c) {
  switch (c.type) {
    case 'Fixed':
    case 'Int': return [c.min, c.max];
    case 'Angle': return [0, 2 ** c.bits - 1];
    case 'Bool': return [0, 1];
    case 'Enum': return [0, c.variants.length - 1];
    default: return [0, c.max_bytes];
  }
}

/** Rust's `f64::round` (halves away from zero), with NaN as 0 like `as i64`. */
function roundHalfAway(x) {
  if (Number.isNaN(x)) return 0;
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** Rust's `f64::rem_euclid` for a positive divisor. */
function remEuclid(x, m) {
  const r = x % m;
  return r < 0 ? r + m : r;
}

const clamp = (v, lo, hi) => (v < lo ? lo : v > hi ? hi : v);

/**
 * `schema::quantize`: a game value to its stored integer, clamped into the coding's range.
 * Numbers for Fixed (units) and Angle (radians); numbers or booleans for Int, Bool, Enum (an
 * enum also takes its variant's name); a string's integer is its UTF-8 length.
 */
export function quantize(c, v) {
  const [lo, hi] = codingRange(c);
  let q;
  if (c.type === 'Str') {
    q = typeof v === 'string' ? utf8Length(v) : roundHalfAway(Number(v));
  } else if (c.type === 'Enum' && typeof v === 'string') {
    q = c.variants.indexOf(v);
    if (q < 0) fail('bad_value', `"${v}" is not one of ${c.variants.join(', ')}`);
  } else {
    const x = typeof v === 'boolean' ? Number(v) : typeof v === 'number' ? v : Number.NaN;
    if (c.type === 'Fixed') q = roundHalfAway(x * c.scale);
    else if (c.type === 'Angle') {
      const n = 2 ** c.bits;
      q = remEuclid(roundHalfAway(remEuclid(x / TAU, 1) * n), n);
    } else q = roundHalfAway(x);
  }
  return clamp(q, lo, hi);
}

/** `schema::dequantize`: units for Fixed, radians for Angle, the integer for the rest. */
export function dequantize(c, q) {
  if (c.type === 'Fixed') return q / c.scale;
  if (c.type === 'Angle') return (q / 2 ** c.bits) * TAU;
  return q;
}

/**
 * `schema::encode_values`: one value per field (see `quantize`), numbers as zig-zag LEB128 of
 * their quantised value, strings as a LEB128 byte length and the bytes, cut to the field's
 * `max_bytes` at a character boundary. Missing values encode as 0 / "" (the field's default),
 * so a message always carries one value per field.
 */
export function encodeValues(fields, values, w = new Writer(16)) {
  for (let i = 0; i < fields.length; i++) {
    const c = fields[i].coding;
    const v = values[i];
    if (c.type === 'Str') {
      let b = typeof v === 'string' ? utf8Encoder.encode(v) : new Uint8Array(0);
      if (b.length > c.max_bytes) {
        let end = c.max_bytes;
        while (end > 0 && (b[end] & 0xc0) === 0x80) end--; // not inside a character
        b = b.subarray(0, end);
      }
      w.leb(b.length);
      w.raw(b);
    } else {
      w.lebSigned(v === undefined || v === null ? clamp(0, ...codingRange(c)) : quantize(c, v));
    }
  }
  return w.finish();
}

// Unicode Cc, as Rust's `char::is_control`.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * `schema::decode_values`: exactly one value per field, validated against its coding: numbers
 * dequantised (enum variants by index, booleans 0/1), strings as strings. Throws
 * ProtocolError `malformed` (bad bytes) or `out_of_range` (a value its field does not allow).
 */
export function decodeValues(fields, data) {
  const r = new Cursor(asBytes(data));
  const out = [];
  for (const f of fields) {
    const c = f.coding;
    const bad = (why) => fail('out_of_range', `field ${f.name}: ${why}`);
    if (c.type === 'Str') {
      const len = r.u64();
      if (len > c.max_bytes) bad('string longer than its field allows');
      const raw = r.bytesOf(len);
      let s;
      try {
        s = utf8Decoder.decode(raw);
      } catch {
        bad('string is not UTF-8');
      }
      if (CONTROL.test(s)) bad('string contains control characters');
      out.push(s);
    } else {
      const q = r.i64();
      const [lo, hi] = codingRange(c);
      if (r.wide || q < lo || q > hi) bad(c.type === 'Enum' ? 'unknown enum tag' : 'value outside the declared range');
      out.push(dequantize(c, q));
    }
  }
  if (r.remaining() !== 0) fail('malformed', 'bytes left after the last field');
  return out;
}

// ---------------------------------------------------------------------------------------------
// The compiled descriptor (protocol/src/state.rs `Plan`)

export const KIND_INT = 0;
export const KIND_ANGLE = 1;
export const KIND_STR = 2;
export const PRED_NONE = 0;
export const PRED_VELOCITY = 1;
export const PRED_LINEAR = 2;

/** `Descriptor::validate`: what a client relies on (ids, ranges, exact predictions). */
export function validateDescriptor(d) {
  const bad = (msg) => fail('bad_schema', `schema: ${msg}`);
  d.types.forEach((t, i) => {
    if (t.id !== i) bad(`type ${t.name} has id ${t.id}, expected ${i}`);
    validateFields(t.name, t.fields, true, bad);
  });
  if (d.room_type !== null && d.room_type !== undefined && d.room_type >= d.types.length) {
    bad(`room type ${d.room_type} is not a type`);
  }
  validateFields('input', d.input, false, bad);
  for (const [kind, list] of [['action', d.actions], ['event', d.events]]) {
    list.forEach((m, i) => {
      if (m.id !== i) bad(`${kind} ${m.name} has id ${m.id}, expected ${i}`);
      validateFields(m.name, m.fields, false, bad);
    });
  }
}

function validateFields(owner, fields, entity, bad) {
  if (fields.length > MAX_FIELDS) bad(`${owner} has more than ${MAX_FIELDS} fields`);
  fields.forEach((f, i) => {
    const at = `${owner}.${f.name}`;
    const c = f.coding;
    if (f.id !== i) bad(`${at} has id ${f.id}, expected ${i}`);
    if (c.type === 'Fixed' && (c.scale === 0 || c.min > c.max)) bad(`${at}: bad fixed-point scale or range`);
    if (c.type === 'Int' && c.min > c.max) bad(`${at}: min > max`);
    if (c.type === 'Angle' && (c.bits === 0 || c.bits > MAX_ANGLE_BITS)) bad(`${at}: angle bits must be 1..=${MAX_ANGLE_BITS}`);
    if (c.type === 'Enum' && (c.variants.length === 0 || c.variants.length > 256)) bad(`${at}: an enum needs 1..=256 variants`);
    const p = f.predictor;
    if (!entity && (p.type !== 'None' || f.visibility !== 'Everyone')) bad(`${at}: only entity fields have predictors and visibility`);
    if (p.type === 'None') return;
    if (c.type !== 'Fixed' && c.type !== 'Angle') bad(`${at}: only fixed-point and angle fields predict`);
    if (p.type === 'Velocity') {
      const v = fields[p.field];
      if (!v) bad(`${at}: velocity field ${p.field} does not exist`);
      if (v.visibility !== f.visibility && v.visibility === 'Owner') bad(`${at}: its velocity field is less visible than it`);
      if (p.den === 0) bad(`${at}: velocity ratio not resolved`);
      const [lo, hi] = codingRange(v.coding);
      // Compared as doubles: the rounding of the product cannot cross 2^52 the wrong way.
      if (Math.max(Math.abs(lo), Math.abs(hi)) * MAX_PREDICT_TICKS * p.num * 2 + p.den >= EXACT) {
        bad(`${at}: velocity range too large for exact prediction`);
      }
    }
    if (c.type === 'Fixed' && p.type === 'Linear' && (c.max - c.min) * MAX_PREDICT_TICKS >= EXACT) {
      bad(`${at}: range too large for exact linear prediction`);
    }
  });
}

/**
 * A descriptor compiled for applying and checking snapshots (`state::Plan`), plus the names a
 * client looks fields up by. Validates the descriptor first (ProtocolError `bad_schema`).
 */
export class Plan {
  constructor(descriptor) {
    validateDescriptor(descriptor);
    this.descriptor = descriptor;
    this.types = descriptor.types.map((t) => compileType(t));
    this.stride = Math.max(1, ...this.types.map((t) => t.fields.length));
    this.roomType = descriptor.room_type ?? null;
    this.typeByName = new Map(this.types.map((t) => [t.name, t]));
    this.params = Object.fromEntries(descriptor.params.map((p) => [p.name, p.value]));
    this.input = descriptor.input;
    this.actions = descriptor.actions;
    this.events = descriptor.events;
    this.actionByName = new Map(descriptor.actions.map((a) => [a.name, a]));
  }

  newTable() {
    return new StateTable(this.stride);
  }
}

function compileType(t) {
  const tp = {
    id: t.id,
    name: t.name,
    fields: [],
    byName: new Map(),
    public: [],
    owner: [],
    predictedPublic: [],
    predictedOwner: [],
    // Field masks a section may name (bits 0-31, 32-63): public fields in the shared part,
    // private ones in the private part.
    publicMask: [0, 0],
    ownerMask: [0, 0],
  };
  for (const f of t.fields) {
    const c = f.coding;
    const p = f.predictor;
    const owner = f.visibility === 'Owner';
    const fp = {
      id: f.id,
      name: f.name,
      coding: c,
      kind: c.type === 'Angle' ? KIND_ANGLE : c.type === 'Str' ? KIND_STR : KIND_INT,
      modulus: c.type === 'Angle' ? 2 ** c.bits : 0,
      pred: p.type === 'Velocity' ? PRED_VELOCITY : p.type === 'Linear' ? PRED_LINEAR : PRED_NONE,
      vfield: p.field ?? 0,
      num: p.num ?? 0,
      den: p.den ?? 1,
      owner,
      interp: f.interp,
    };
    tp.fields.push(fp);
    tp.byName.set(f.name, fp);
    (owner ? tp.owner : tp.public).push(f.id);
    if (fp.pred !== PRED_NONE) (owner ? tp.predictedOwner : tp.predictedPublic).push(f.id);
    const mask = owner ? tp.ownerMask : tp.publicMask;
    if (f.id < 32) mask[0] = (mask[0] | (1 << f.id)) >>> 0;
    else mask[1] = (mask[1] | (1 << (f.id - 32))) >>> 0;
  }
  // The field plans another client's entity shows (its own shows them all).
  tp.publicFields = tp.fields.filter((f) => !f.owner);
  return tp;
}

// ---------------------------------------------------------------------------------------------
// State tables (protocol/src/state.rs `StateTable`)

/**
 * Entities by slot index, `stride` Int32 cells each (a type's fields, then zeros), strings
 * beside by cell (the cell holds the UTF-8 byte length). Typed arrays, so copying a table per
 * snapshot is a few memcpys; iteration is in index order, as the checksum needs.
 */
export class StateTable {
  constructor(stride, capacity = 0) {
    this.stride = Math.max(1, stride);
    this.slots = 0; // one past the highest slot index used
    this.len = 0;
    this.version = new Uint32Array(capacity); // 0: empty
    this.type = new Uint16Array(capacity);
    this.values = new Int32Array(capacity * this.stride);
    this.strings = new Map(); // cell -> text
  }

  clone() {
    const t = new StateTable(this.stride, 0);
    const n = this.slots;
    t.slots = n;
    t.len = this.len;
    t.version = this.version.slice(0, n);
    t.type = this.type.slice(0, n);
    t.values = this.values.slice(0, n * this.stride);
    t.strings = new Map(this.strings);
    return t;
  }

  grow(slots) {
    const cap = this.version.length;
    if (slots <= cap) return;
    const n = Math.min(MAX_ENTITY_INDEX, Math.max(slots, cap * 2, 64));
    const version = new Uint32Array(n);
    version.set(this.version);
    const type = new Uint16Array(n);
    type.set(this.type);
    const values = new Int32Array(n * this.stride);
    values.set(this.values);
    Object.assign(this, { version, type, values });
  }

  has(index) {
    return index < this.slots && this.version[index] !== 0;
  }

  /** Whether the table holds exactly entity `{index, version}`. */
  holds(id) {
    return this.has(id.index) && this.version[id.index] === id.version;
  }

  /** Adds an entity of type `type` to an empty slot, every field 0. */
  insert(index, version, type) {
    if (index >= MAX_ENTITY_INDEX) fail('index_out_of_range', `entity index ${index} is out of range (limit ${MAX_ENTITY_INDEX})`);
    if (this.has(index)) fail('occupied', `entity slot ${index} is already occupied`);
    this.grow(index + 1);
    if (index >= this.slots) this.slots = index + 1;
    // A version of 0 would read as empty: stored as 1, like the Rust table.
    this.version[index] = version || 1;
    this.type[index] = type;
    this.values.fill(0, index * this.stride, (index + 1) * this.stride);
    this.len++;
  }

  remove(index) {
    if (!this.has(index)) fail('vacant', `entity slot ${index} is empty`);
    this.version[index] = 0;
    this.len--;
    if (this.strings.size) {
      for (let c = index * this.stride; c < (index + 1) * this.stride; c++) this.strings.delete(c);
    }
  }

  /** A string field's text ("" when unset). */
  string(index, field) {
    return this.strings.get(index * this.stride + field) ?? '';
  }

  /** Sets a string field and its cell (the byte length). */
  setString(index, field, text, byteLength = utf8Length(text)) {
    if (!this.has(index)) fail('vacant', `entity slot ${index} is empty`);
    const cell = index * this.stride + field;
    this.values[cell] = byteLength;
    if (text === '') this.strings.delete(cell);
    else this.strings.set(cell, text);
  }

  /** Calls fn(index, version, type, offset of its first cell in `values`) in index order. */
  forEach(fn) {
    for (let i = 0; i < this.slots; i++) {
      if (this.version[i] !== 0) fn(i, this.version[i], this.type[i], i * this.stride);
    }
  }

  /**
   * `[{index, version, type, values, strings}]` in index order, values one per field of the
   * entity's type (`plan`), strings by field id: the golden JSON shape.
   */
  entries(plan) {
    const out = [];
    this.forEach((index, version, type, at) => {
      const n = plan.types[type] ? plan.types[type].fields.length : this.stride;
      const strings = {};
      for (let f = 0; f < n; f++) {
        const s = this.strings.get(at + f);
        if (s !== undefined) strings[f] = s;
      }
      out.push({ index, version, type, values: Array.from(this.values.subarray(at, at + n)), strings });
    });
    return out;
  }

  /** The table of `entries` (see `entries`). */
  static fromEntries(plan, entries) {
    const t = plan.newTable();
    for (const e of entries) {
      t.insert(e.index, e.version, e.type);
      t.values.set(e.values, e.index * t.stride);
      for (const [f, s] of Object.entries(e.strings)) t.setString(e.index, Number(f), s);
    }
    return t;
  }
}

// ---------------------------------------------------------------------------------------------
// Prediction (protocol/src/state.rs `predict`): ported operation for operation

/** The signed difference `a - b` of two angles modulo `n`, the shorter way round. */
export function angleDiff(a, b, n) {
  const d = remEuclid(a - b, n);
  return d >= n / 2 ? d - n : d;
}

/**
 * What field `fp` of an entity whose baseline cells are `base[at..]` is predicted to be after
 * `ticks`; `second`/`secondAt` are its cells at the second baseline, `gap` ticks before (or
 * null). Number arithmetic: exact for every value a valid schema allows.
 */
export function predict(fp, base, at, ticks, second, secondAt, gap) {
  const b = base[at + fp.id];
  let p;
  if (fp.pred === PRED_VELOCITY) {
    const moved = base[at + fp.vfield] * ticks * fp.num;
    // div_round: (2a + d) div_euclid 2d; floor of the exact quotient, as |2a + d| < 2^53.
    p = b + Math.floor((2 * moved + fp.den) / (2 * fp.den));
  } else if (fp.pred === PRED_LINEAR && second !== null && gap > 0) {
    const b2 = second[secondAt + fp.id];
    const slope = fp.kind === KIND_ANGLE ? angleDiff(b, b2, fp.modulus) : b - b2;
    p = b + Math.floor((slope * ticks) / gap);
  } else {
    return b;
  }
  if (fp.kind === KIND_ANGLE) return remEuclid(p, fp.modulus);
  return clamp(p, I32_MIN, I32_MAX);
}

// ---------------------------------------------------------------------------------------------
// Applying a delta (protocol/src/state_delta.rs `apply`)

/**
 * Rebuilds the state at `tick` from the client's baseline and a snapshot's delta bytes (shared
 * part, then private part), returning a new table; `base` is untouched. `own`: the client's
 * player `{index, version}` (or null), whose private fields it predicts and receives. `base`:
 * null for a full snapshot, else `{table, tick, second: {table, tick} | null}` (the second
 * baseline, when the snapshot names one). Throws ProtocolError with the kind of the Rust
 * `DeltaError` (see ProtocolError).
 *
 * `account` (optional, for bandwidth tools): called as `account(typeId, fieldId, bytes)` for
 * the bytes each field's value took, `fieldId` -1 for an entity's own overhead (its index gap,
 * version, type, field mask) and `typeId` -1 for the lists' counts; the calls add up to the
 * delta's length (as far as it decoded). It changes nothing decoded; without it (null) the
 * decoder does no accounting work.
 */
export function applyDelta(plan, own, base, tick, deltaBytes, account = null) {
  const out = base ? base.table.clone() : plan.newTable();
  const r = new Cursor(asBytes(deltaBytes));
  let next = 0;
  const index = (gap) => {
    const i = next + gap; // both below 2^33: exact
    if (i >= MAX_ENTITY_INDEX) fail('index_out_of_range', `entity index ${i} is out of range (limit ${MAX_ENTITY_INDEX})`);
    next = i + 1;
    return i;
  };
  // Every part's despawns, then every part's spawns, then every part's updates: an entity one
  // part removes may be spawned by another. Each list's gaps start at 0.
  // Predicting before removing is the same as after: an empty slot's cells are never read.
  if (base) predictAll(plan, own, base, tick, out);
  // `at0`: where the item being accounted began (only read with `account`).
  let at0 = r.pos;
  const parts = count(r);
  if (account !== null) account(-1, -1, r.pos - at0);
  let moved = null;
  for (let p = 0; p < parts; p++) {
    next = 0;
    if (account !== null) at0 = r.pos;
    let n = count(r);
    if (account !== null) account(-1, -1, r.pos - at0);
    for (; n > 0; n--) {
      if (account !== null) at0 = r.pos;
      const i = index(r.u32());
      if (account !== null) account(out.has(i) ? out.type[i] : -1, -1, r.pos - at0);
      if (own && own.index === i && out.holds(own)) moved = saveOwnPrivate(plan, out, own);
      out.remove(i);
    }
  }
  for (let p = 0; p < parts; p++) {
    next = 0;
    if (account !== null) at0 = r.pos;
    let n = count(r);
    if (account !== null) account(-1, -1, r.pos - at0);
    for (; n > 0; n--) {
      if (account !== null) at0 = r.pos;
      const i = index(r.u32());
      const version = r.u32();
      const ty = r.u32();
      const tp = ty <= 0xffff ? plan.types[ty] : undefined;
      if (!tp) fail('unknown_type', `entity type ${ty > 0xffff ? 0xffff : ty} is not in the schema`);
      if (account !== null) account(ty, -1, r.pos - at0);
      out.insert(i, version, ty);
      const at = i * out.stride;
      for (const f of tp.public) {
        if (account !== null) at0 = r.pos;
        if (tp.fields[f].kind === KIND_STR) {
          readStr(r, out, i, f);
        } else {
          const v = r.i64();
          if (r.wide || v < I32_MIN || v > I32_MAX) fail('overflow', `entity slot ${i}: value out of the i32 range`);
          out.values[at + f] = v;
        }
        if (account !== null) account(ty, f, r.pos - at0);
      }
    }
  }
  if (moved) restoreOwnPrivate(out, moved);
  for (let p = 0; p < parts; p++) applyUpdates(plan, r, out, null, account);
  // A client without a player accepts an empty private section; any entry in it is an error.
  if (r.remaining() > 0) applyUpdates(plan, r, out, own ?? NOBODY, account);
  if (r.remaining() !== 0) fail('malformed', 'malformed delta: bytes after the delta');
  return out;
}

/** The own entity's private fields, kept while one part despawns it and another spawns it
 * again in the same delta (it moved between parts: the same entity). */
function saveOwnPrivate(plan, t, own) {
  const ty = t.type[own.index];
  const tp = plan.types[ty];
  if (!tp) return null;
  const at = own.index * t.stride;
  const cells = [];
  const strings = [];
  for (const f of tp.owner) {
    if (tp.fields[f].kind === KIND_STR) strings.push([f, t.string(own.index, f)]);
    else cells.push([f, t.values[at + f]]);
  }
  return { own, ty, cells, strings };
}

function restoreOwnPrivate(t, saved) {
  const { own, ty } = saved;
  if (!t.holds(own) || t.type[own.index] !== ty) return;
  const at = own.index * t.stride;
  for (const [f, v] of saved.cells) t.values[at + f] = v;
  for (const [f, text] of saved.strings) t.setString(own.index, f, text);
}

function count(r) {
  const n = r.u64();
  // Every entry takes at least one byte: no count can claim more than what is left.
  if (n > MAX_LIST_LEN || n > r.remaining()) fail('malformed', 'malformed delta: list longer than the message');
  return n;
}

function readStr(r, t, index, field) {
  const len = r.u64();
  if (len > r.remaining()) fail('malformed', 'malformed delta: unexpected end');
  const raw = r.bytesOf(len);
  let s;
  try {
    s = utf8Decoder.decode(raw);
  } catch {
    fail('malformed', 'malformed delta: string is not UTF-8');
  }
  t.setString(index, field, s, raw.length);
}

/** The owner of a private section received by a client that has no player: no entity. */
const NOBODY = Object.freeze({ index: -1, version: -1 });

/** One update section (`owner`: the client's player, for the private one; `account`: see
 * applyDelta). */
function applyUpdates(plan, r, t, owner, account) {
  let next = 0;
  let at0 = r.pos;
  let n = count(r);
  if (account !== null) account(-1, -1, r.pos - at0);
  for (; n > 0; n--) {
    if (account !== null) at0 = r.pos;
    const gap = r.u32();
    const index = next + gap;
    if (index >= MAX_ENTITY_INDEX) fail('index_out_of_range', `entity index ${index} is out of range (limit ${MAX_ENTITY_INDEX})`);
    next = index + 1;
    r.u64();
    const maskLo = r.lo;
    const maskHi = r.hi;
    if (!t.has(index)) fail('vacant', `entity slot ${index} is empty`);
    const tp = plan.types[t.type[index]];
    if (!tp) fail('unknown_type', `entity type ${t.type[index]} is not in the schema`);
    if (owner && (owner.index !== index || owner.version !== t.version[index])) {
      fail('bad_mask', `entity slot ${index}: a private part for an entity not this client's`);
    }
    const allowed = owner ? tp.ownerMask : tp.publicMask;
    if ((maskLo & ~allowed[0]) !== 0 || (maskHi & ~allowed[1]) !== 0) {
      fail('bad_mask', `entity slot ${index}: field mask names fields its type does not have or may not send`);
    }
    const at = index * t.stride;
    const ty = t.type[index];
    if (account !== null) account(ty, -1, r.pos - at0);
    for (let half = 0; half < 2; half++) {
      let bits = half === 0 ? maskLo : maskHi;
      while (bits !== 0) {
        const low = bits & -bits;
        const f = 31 - Math.clz32(low) + 32 * half;
        bits = (bits ^ low) >>> 0;
        const fp = tp.fields[f];
        if (account !== null) at0 = r.pos;
        if (fp.kind === KIND_STR) {
          readStr(r, t, index, f);
        } else {
          const res = r.i64();
          const cell = t.values[at + f];
          if (fp.kind === KIND_ANGLE) {
            // (cell + residual) mod 2^bits needs only the residual's low 32 bits (bits <= 24).
            t.values[at + f] = remEuclid(cell + r.low32, fp.modulus);
          } else {
            const v = cell + res;
            if (r.wide || v < I32_MIN || v > I32_MAX) fail('overflow', `entity slot ${index}: value out of the i32 range`);
            t.values[at + f] = v;
          }
        }
        if (account !== null) account(ty, f, r.pos - at0);
      }
    }
  }
}

/**
 * Moves every predicted field of every entity carried over from the baseline to its
 * prediction (private ones only for the client's own entity). The second baseline counts only
 * for the same entity with the same type.
 */
function predictAll(plan, own, base, tick, out) {
  let ticks = (tick - base.tick) >>> 0;
  if (ticks === 0) ticks = 1;
  const second = base.second || null;
  const gap = second ? (base.tick - second.tick) >>> 0 : 0;
  const stride = out.stride;
  const held = new Int32Array(stride);
  const values = out.values;
  for (let i = 0; i < out.slots; i++) {
    const version = out.version[i];
    if (version === 0) continue;
    const ty = out.type[i];
    const tp = plan.types[ty];
    if (!tp) continue;
    const mine = own !== null && own !== undefined && own.index === i && own.version === version;
    if (tp.predictedPublic.length === 0 && !(mine && tp.predictedOwner.length !== 0)) continue;
    const at = i * stride;
    held.set(values.subarray(at, at + stride));
    let s2 = null;
    let s2At = 0;
    if (second) {
      const t2 = second.table;
      if (t2.has(i) && t2.version[i] === version && t2.type[i] === ty) {
        s2 = t2.values;
        s2At = i * t2.stride;
      }
    }
    for (const f of tp.predictedPublic) values[at + f] = predict(tp.fields[f], held, 0, ticks, s2, s2At, gap);
    if (mine) {
      for (const f of tp.predictedOwner) values[at + f] = predict(tp.fields[f], held, 0, ticks, s2, s2At, gap);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Checksum (protocol/src/state.rs): u32 arithmetic with Math.imul, `| 0` and `>>> 0`.

export const CHECKSUM_SEED = 0x7469636b; // "tick"

const rotl = (v, r) => (v << r) | (v >>> (32 - r));

// FNV-1a of strings, cached: the same few names are hashed every snapshot.
const stringHashes = new Map();
function stringHash(s) {
  let h = stringHashes.get(s);
  if (h === undefined) {
    h = fnv1a(utf8Encoder.encode(s));
    if (stringHashes.size > 4096) stringHashes.clear();
    stringHashes.set(s, h);
  }
  return h;
}

/** Per field id f: the multiplier MULS[f % 4] and the rotation (7 f + 5) % 32 of its word. */
const MULS = [0x27d4eb2f, 0x165667b1, 0x85ebca6b, 0xc2b2ae35];

/** One entity's key: id and type, xor each listed field's word, multiplied and rotated by its
 * field id (independent terms, as in Rust), then mixed. */
function entityKey(t, index, version, ty, tp, fields) {
  let k = Math.imul(index, 0x9e3779b1) ^ Math.imul(version, 0x85ebca77) ^ Math.imul(ty, 0xc2b2ae3d);
  if (tp) {
    const at = index * t.stride;
    for (const f of fields) {
      const w = tp.fields[f].kind === KIND_STR ? stringHash(t.string(index, f)) : t.values[at + f];
      k ^= rotl(Math.imul(w, MULS[f & 3]), (f * 7 + 5) & 31);
    }
  }
  return Math.imul(rotl(Math.imul(k, 0xcc9e2d51), 15), 0x1b873593);
}

function finish(h, count) {
  h ^= count;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** `Plan::public_checksum`: every entity's public fields (unknown types: id and type only). */
export function publicChecksum(plan, t) {
  let h = CHECKSUM_SEED;
  let n = 0;
  for (let i = 0; i < t.slots; i++) {
    const version = t.version[i];
    if (version === 0) continue;
    const ty = t.type[i];
    const tp = plan.types[ty];
    // A sum: the order of the entities does not matter (as in Rust).
    h = (h + entityKey(t, i, version, ty, tp, tp ? tp.public : [])) | 0;
    n = (n + 1) | 0;
  }
  return finish(h, n);
}

/** `Plan::owner_checksum`: what the own entity's private fields add (0 when none). */
export function ownerChecksum(plan, t, own) {
  if (!own || !t.holds(own)) return 0;
  const ty = t.type[own.index];
  const tp = plan.types[ty];
  if (!tp || tp.owner.length === 0) return 0;
  return finish((CHECKSUM_SEED + entityKey(t, own.index, own.version, ty, tp, tp.owner)) | 0, 1);
}

/** `Plan::checksum`: what a client whose player is `own` verifies against the header. */
export function checksum(plan, t, own) {
  return (publicChecksum(plan, t) ^ ownerChecksum(plan, t, own)) >>> 0;
}
