// Types of `ticksync-client/protocol` (src/protocol.js): the ticksync wire protocol, version 4,
// a port of the Rust `protocol` crate (protocol/src), pinned to it by protocol/golden/. Pure: no
// DOM, no sockets; it imports in node as well as in a page.
//
// Decoded messages mirror the Rust types: `type` names the enum variant, fields keep their Rust
// (snake_case) names. u64s decode as Number (exact below 2^53); the encoder also takes BigInt.

/** Bytes as the decoders take them: a Uint8Array, an ArrayBuffer or any other view. */
export type Bytes = ArrayBuffer | ArrayBufferView;

/** The protocol version this client speaks (`Hello.version`, `Welcome.version`). */
export const PROTOCOL_VERSION: 4;

// protocol/src/limits.rs
export const MAX_CLIENT_MSG_BYTES: 1024;
export const MAX_SERVER_MSG_BYTES: 16777216;
export const MAX_ROOM_NAME_BYTES: 32;
export const MAX_PLAYER_NAME_BYTES: 24;
export const MAX_TOKEN_BYTES: 256;
export const MAX_TEXT_BYTES: 256;
export const MAX_REASON_BYTES: 256;
export const MAX_ENTITY_INDEX: 1048576;
export const MAX_LIST_LEN: 1048576;

// protocol/src/schema.rs
/** The slot of the room state entity. */
export const ROOM_INDEX: 0;
export const MAX_FIELDS: 64;
export const MAX_ANGLE_BITS: 24;
export const MAX_PREDICT_TICKS: 1024;
/** 2π, the same double as Rust's `std::f64::consts::TAU`. */
export const TAU: number;

/**
 * Reject codes and WebSocket close codes (one space; protocol/src/codes.rs, docs/protocol.md
 * "Close and reject codes"). `MOVED`: the room lives on another node, the reason is its ws(s) URL.
 */
export const CODES: {
  readonly NORMAL: 1000;
  readonly GOING_AWAY: 1001;
  readonly PROTOCOL_ERROR: 1002;
  readonly UNSUPPORTED_DATA: 1003;
  readonly POLICY_VIOLATION: 1008;
  readonly TOO_BIG: 1009;
  readonly SERVER_ERROR: 1011;
  readonly VERSION_MISMATCH: 4000;
  readonly UNAUTHORIZED: 4001;
  readonly ROOM_FULL: 4002;
  readonly SERVER_FULL: 4003;
  readonly BAD_HELLO: 4004;
  readonly TOO_SLOW: 4005;
  readonly TIMEOUT: 4006;
  readonly BAD_RESUME: 4007;
  readonly ROOM_CLOSED: 4008;
  readonly INVALID_VALUE: 4009;
  readonly UNKNOWN_MESSAGE: 4010;
  readonly WRONG_GAME: 4011;
  readonly REPLACED: 4012;
  readonly MOVED: 4013;
};

/** The name of a code. */
export type CodeName = keyof typeof CODES;

/** The short name `protocol::codes::name` gives a code (`"room_full"`), `"other"` for unknown ones. */
export function codeName(code: number): Lowercase<CodeName> | 'other';

/** What went wrong, machine-readable (see ProtocolError). */
export type ProtocolErrorKind =
  // messages
  | 'truncated'
  | 'trailing'
  | 'too_large'
  | 'bad_varint'
  | 'bad_tag'
  | 'bad_option'
  | 'bad_utf8'
  | 'too_long'
  | 'bad_value'
  // deltas (`state_delta::DeltaError`)
  | 'malformed'
  | 'index_out_of_range'
  | 'occupied'
  | 'vacant'
  | 'unknown_type'
  | 'overflow'
  | 'bad_mask'
  // value lists (`schema::ValueError`)
  | 'out_of_range'
  // descriptors (`schema::SchemaError`)
  | 'bad_schema';

/** The only error the protocol module throws on bad input (and `Room.sendAction` on an unknown action). */
export class ProtocolError extends Error {
  constructor(kind: ProtocolErrorKind, message: string);
  name: 'ProtocolError';
  kind: ProtocolErrorKind;
}

/** The UTF-8 byte length of `s`. */
export function utf8Length(s: string): number;

// ---- the descriptor (schema::Descriptor) --------------------------------------------------------

/** How a field is stored on the wire and what the game sees. */
export type Coding =
  | { type: 'Fixed'; scale: number; min: number; max: number; tolerance: number }
  | { type: 'Angle'; bits: number }
  | { type: 'Int'; min: number; max: number }
  | { type: 'Bool' }
  | { type: 'Enum'; variants: string[] }
  | { type: 'Str'; max_bytes: number };

/** How both sides predict a field between snapshots. */
export type Predictor =
  | { type: 'None' }
  | { type: 'Linear' }
  | { type: 'Velocity'; field: number; num: number; den: number };

/** How a client blends a field between two snapshots. */
export type Interp = 'None' | 'Linear' | 'Angle';

/** Who receives a field: everyone, or only the client whose player entity it is. */
export type Visibility = 'Everyone' | 'Owner';

export interface FieldDesc {
  id: number;
  name: string;
  coding: Coding;
  predictor: Predictor;
  interp: Interp;
  visibility: Visibility;
}

/** An entity type, an action or an event: a name and its fields. */
export interface TypeDesc {
  id: number;
  name: string;
  fields: FieldDesc[];
}

export interface ParamDesc {
  name: string;
  value: number;
}

/** `schema::Descriptor`: what `Welcome.schema` carries, the whole game as a client needs it. */
export interface Descriptor {
  game: string;
  types: TypeDesc[];
  room_type: number | null;
  input: FieldDesc[];
  actions: TypeDesc[];
  events: TypeDesc[];
  params: ParamDesc[];
}

/** `Descriptor::validate` (ProtocolError `bad_schema`). */
export function validateDescriptor(d: Descriptor): void;
/** `codec::encode_descriptor`: the bytes the descriptor hash is taken over. */
export function encodeDescriptor(d: Descriptor): Uint8Array;
/** FNV-1a, 32 bits (`schema::fnv1a`). */
export function fnv1a(bytes: ArrayLike<number>): number;
/** `Descriptor::hash`: what `Welcome.schema_hash` carries. */
export function descriptorHash(d: Descriptor): number;
/** `schema::Descriptor`, read (not validated: `new Plan(d)` does that). */
export function readDescriptor(r: Reader): Descriptor;

// ---- messages -----------------------------------------------------------------------------------

/** An entity id: its slot index and the slot's version (a reused slot gets a new version). */
export interface EntityId {
  index: number;
  version: number;
}

export interface PlayerInfo {
  entity: EntityId;
  name: string;
}

/** Room events the server sends (`ServerMsg::Event`). */
export type ServerEvent =
  | { type: 'PlayerJoined'; entity: EntityId; name: string }
  | { type: 'PlayerLeft'; entity: EntityId }
  | { type: 'Chat'; from: EntityId; text: string }
  | { type: 'Notice'; text: string };

export interface Welcome {
  type: 'Welcome';
  version: number;
  /** The client's player entity. */
  player: EntityId;
  room: string;
  game: string;
  tick_rate: number;
  tick: number;
  resume_token: string;
  players: PlayerInfo[];
  schema_hash: number;
  schema: Descriptor;
}

export interface Reject {
  type: 'Reject';
  code: number;
  reason: string;
}

export interface Snapshot {
  type: 'Snapshot';
  tick: number;
  baseline: number | null;
  baseline2: number | null;
  input_seq: number;
  server_time_us: number;
  checksum: number | null;
  /** The still-encoded delta (`applyDelta` reads it). */
  delta: Uint8Array;
}

export interface Pong {
  type: 'Pong';
  client_time_us: number;
  server_time_us: number;
}

export interface EventMessage {
  type: 'Event';
  event: ServerEvent;
}

export interface GameEventMessage {
  type: 'GameEvent';
  id: number;
  /** The event's value list (`decodeValues` with the event's fields). */
  values: Uint8Array;
}

/** A server -> client message, decoded. */
export type ServerMessage = Welcome | Reject | Snapshot | Pong | EventMessage | GameEventMessage;

/** Decodes one server -> client message (one WebSocket binary message). */
export function decodeServer(data: Bytes): ServerMessage;

/** A moment between two ticks, `tick + frac / 256` (`Input.view`: what the client was drawing). */
export interface ViewTime {
  /** u32. */
  tick: number;
  /** 0..255. */
  frac: number;
}

/** A client -> server message, decoded (`decodeClient`). */
export type ClientMessage =
  | {
      type: 'Hello';
      version: number;
      room: string;
      name: string;
      auth_token: string | null;
      resume_token: string | null;
      game: string | null;
    }
  | { type: 'Input'; seq: number; ack: number | null; view: ViewTime | null; values: Uint8Array }
  | { type: 'Ack'; tick: number }
  | { type: 'Ping'; client_time_us: number }
  | { type: 'Chat'; text: string }
  | { type: 'Action'; id: number; values: Uint8Array };

/** A client -> server message to encode: options may be left out, u64s may be BigInt. */
export type ClientMessageInit =
  | {
      type: 'Hello';
      version: number;
      room: string;
      name: string;
      auth_token?: string | null;
      resume_token?: string | null;
      game?: string | null;
    }
  | { type: 'Input'; seq: number; ack?: number | null; view?: ViewTime | null; values?: Uint8Array | number[] }
  | { type: 'Ack'; tick: number }
  | { type: 'Ping'; client_time_us: number | bigint }
  | { type: 'Chat'; text: string }
  | { type: 'Action'; id: number; values?: Uint8Array | number[] };

/** Encodes a client -> server message (ProtocolError `bad_value` for a value outside its wire type). */
export function encodeClient(msg: ClientMessageInit): Uint8Array;
/** Decodes a client -> server message (for tests and tools). */
export function decodeClient(data: Bytes): ClientMessage;

// ---- byte cursors -------------------------------------------------------------------------------

/** A bounds-checked cursor over a message's bytes (bincode standard). */
export class Reader {
  constructor(bytes: Uint8Array);
  bytes: Uint8Array;
  view: DataView;
  pos: number;
  remaining(): number;
  need(n: number, what: string): void;
  u8(what?: string): number;
  f64(what?: string): number;
  varint(what: string, widest: number): number;
  varU16(what?: string): number;
  varU32(what?: string): number;
  varU64(what?: string): number;
  varI32(what?: string): number;
  tag(count: number, what: string): number;
  option<T>(readValue: () => T, what: string): T | null;
  len(what: string, minItemBytes?: number): number;
  rawBytes(what: string): Uint8Array;
  string(what?: string): string;
  list<T>(what: string, readItem: () => T, minItemBytes?: number): T[];
  end(): void;
}

/** A growable byte buffer with bincode-standard writers (and LEB128 ones for values). */
export class Writer {
  constructor(capacity?: number);
  bytes: Uint8Array;
  view: DataView;
  pos: number;
  reserve(n: number): void;
  u8(v: number): void;
  raw(bytes: ArrayLike<number>): void;
  le(v: number, n: number): void;
  f64(v: number): void;
  varUint(v: number | bigint): void;
  varI32(v: number): void;
  string(s: string): void;
  bytesField(b: ArrayLike<number>): void;
  option<T>(v: T | null | undefined, writeValue: (v: T) => void): void;
  leb(n: number): void;
  lebSigned(n: number): void;
  /** The bytes written (a copy). */
  finish(): Uint8Array;
}

/** A bounds-checked cursor over LEB128 varints (`varint::Reader`): deltas and value lists. */
export class Cursor {
  constructor(bytes: Uint8Array);
  bytes: Uint8Array;
  pos: number;
  lo: number;
  hi: number;
  low32: number;
  wide: boolean;
  remaining(): number;
  u64(): number;
  u32(): number;
  i64(): number;
  bytesOf(n: number): Uint8Array;
}

// ---- values -------------------------------------------------------------------------------------

/** A value as the game sees it: numbers (Fixed units, Angle radians, Int), booleans, enum variant names, strings. */
export type Value = number | boolean | string;

/** `schema::Coding::range`: the integer range of a stored value (strings: byte length). */
export function codingRange(c: Coding): [number, number];
/** `schema::quantize`: a game value to its stored integer, clamped into the coding's range. */
export function quantize(c: Coding, v: Value): number;
/** `schema::dequantize`: units for Fixed, radians for Angle, the integer for the rest. */
export function dequantize(c: Coding, q: number): number;
/** `schema::encode_values`: one value per field, missing ones (null, undefined) as the field's default. */
export function encodeValues(
  fields: ReadonlyArray<{ coding: Coding }>,
  values: ReadonlyArray<Value | null | undefined>,
  w?: Writer,
): Uint8Array;
/**
 * `schema::decode_values`: one value per field, numbers dequantised (enums and booleans as
 * their integers), strings as strings.
 */
export function decodeValues(fields: ReadonlyArray<{ name: string; coding: Coding }>, data: Bytes): Array<number | string>;

// ---- the compiled descriptor and state tables (protocol/src/state.rs) -----------------------

export const KIND_INT: 0;
export const KIND_ANGLE: 1;
export const KIND_STR: 2;
export const PRED_NONE: 0;
export const PRED_VELOCITY: 1;
export const PRED_LINEAR: 2;

/** A field compiled for applying snapshots. */
export interface FieldPlan {
  id: number;
  name: string;
  coding: Coding;
  kind: 0 | 1 | 2;
  /** 2^bits for angles, else 0. */
  modulus: number;
  pred: 0 | 1 | 2;
  vfield: number;
  num: number;
  den: number;
  /** Private: only the owning client receives it. */
  owner: boolean;
  interp: Interp;
}

/** An entity type compiled for applying snapshots. */
export interface TypePlan {
  id: number;
  name: string;
  fields: FieldPlan[];
  byName: Map<string, FieldPlan>;
  /** Field ids. */
  public: number[];
  owner: number[];
  predictedPublic: number[];
  predictedOwner: number[];
  publicMask: [number, number];
  ownerMask: [number, number];
  /** The fields another client's entity shows. */
  publicFields: FieldPlan[];
}

/** A descriptor compiled for applying and checking snapshots (`state::Plan`); validates it first. */
export class Plan {
  constructor(descriptor: Descriptor);
  descriptor: Descriptor;
  types: TypePlan[];
  stride: number;
  roomType: number | null;
  typeByName: Map<string, TypePlan>;
  /** The game's params by name. */
  params: Record<string, number>;
  input: FieldDesc[];
  actions: TypeDesc[];
  events: TypeDesc[];
  actionByName: Map<string, TypeDesc>;
  newTable(): StateTable;
}

/** A table entry in the golden JSON shape (`StateTable.entries`). */
export interface TableEntry {
  index: number;
  version: number;
  type: number;
  values: number[];
  strings: Record<number, string>;
}

/** Entities by slot, `stride` Int32 cells each, strings beside by cell (`state::StateTable`). */
export class StateTable {
  constructor(stride: number, capacity?: number);
  stride: number;
  /** One past the highest slot index used. */
  slots: number;
  len: number;
  /** Per slot, 0: empty. */
  version: Uint32Array;
  type: Uint16Array;
  values: Int32Array;
  strings: Map<number, string>;
  clone(): StateTable;
  grow(slots: number): void;
  has(index: number): boolean;
  /** Whether the table holds exactly entity `id`. */
  holds(id: EntityId): boolean;
  insert(index: number, version: number, type: number): void;
  remove(index: number): void;
  string(index: number, field: number): string;
  setString(index: number, field: number, text: string, byteLength?: number): void;
  forEach(fn: (index: number, version: number, type: number, at: number) => void): void;
  entries(plan: Plan): TableEntry[];
  static fromEntries(plan: Plan, entries: TableEntry[]): StateTable;
}

/** The signed difference `a - b` of two angles modulo `n`, the shorter way round. */
export function angleDiff(a: number, b: number, n: number): number;

/** `state::predict`: field `fp` of the entity at `base[at..]` predicted `ticks` ahead. */
export function predict(
  fp: FieldPlan,
  base: ArrayLike<number>,
  at: number,
  ticks: number,
  second: ArrayLike<number> | null,
  secondAt: number,
  gap: number,
): number;

/** The baseline a delta applies to (null: a full snapshot), and the second one for linear predictors. */
export interface DeltaBase {
  table: StateTable;
  tick: number;
  second?: { table: StateTable; tick: number } | null;
}

/**
 * Bandwidth accounting: the bytes each field's value took (`fieldId` -1: an entity's ids and
 * mask; `typeId` -1: list counts).
 */
export type DeltaAccount = (typeId: number, fieldId: number, bytes: number) => void;

/** `state_delta::apply`: the state at `tick` from the baseline and a snapshot's delta (a new table). */
export function applyDelta(
  plan: Plan,
  own: EntityId | null,
  base: DeltaBase | null,
  tick: number,
  deltaBytes: Bytes,
  account?: DeltaAccount | null,
): StateTable;

export const CHECKSUM_SEED: 1953063787;
/** `Plan::public_checksum`. */
export function publicChecksum(plan: Plan, t: StateTable): number;
/** `Plan::owner_checksum` (0 when the client has no private fields). */
export function ownerChecksum(plan: Plan, t: StateTable, own: EntityId | null): number;
/** `Plan::checksum`: what a client whose player is `own` verifies against the snapshot header. */
export function checksum(plan: Plan, t: StateTable, own: EntityId | null): number;
