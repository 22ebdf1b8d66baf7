// Types of `ticksync-client` (src/ticksync.js): connect(options) -> Room. See README.md.
//
// Optionally typed by a game's declarations: `ticksync schema --ts GAME > game.d.ts` prints the
// game's entity types, room state, input, actions, events and params; pass them as one type:
//
//   import type * as Skirmish from './skirmish.js';
//   type Game = {
//     Entities: Skirmish.Entities; RoomState: Skirmish.RoomState; Input: Skirmish.Input;
//     Actions: Skirmish.Actions; Events: Skirmish.Events; Params: Skirmish.Params;
//   };
//   const room = connect<Game>({ url, room: 'lobby', name: 'ann', game: 'skirmish' });
//
// Without one (or for any member left out) fields are `Record<string, Value>`.

import type { DeltaAccount, EntityId, Plan, Value, ViewTime, Welcome } from './protocol.js';

export { CODES, PROTOCOL_VERSION, ProtocolError } from './protocol.js';
export type {
  CodeName,
  Coding,
  DeltaAccount,
  Descriptor,
  EntityId,
  FieldDesc,
  PlayerInfo,
  ProtocolErrorKind,
  TypeDesc,
  Value,
  ViewTime,
  Welcome,
} from './protocol.js';

// ---- a game's types -----------------------------------------------------------------------------

/** Fields by name when the game's types are not given. */
export type Fields = Record<string, Value>;

/**
 * What a game's declarations (`ticksync schema --ts GAME`) say, by the names that file exports:
 * `Entities` (entity type name -> its fields), `RoomState` (the room state's fields, or null
 * for a game without one), `Input`, `Actions` and `Events` (name -> fields), `Params`.
 */
export interface GameTypes {
  Entities: object;
  RoomState: object | null;
  Input: object;
  Actions: object;
  Events: object;
  Params: object;
}

/** A game known only at run time (from the descriptor in Welcome): every member untyped. */
export interface UntypedGame {
  Entities: Record<string, Fields>;
  RoomState: Fields;
  Input: Fields;
  Actions: Record<string, Fields>;
  Events: Record<string, Fields>;
  Params: Record<string, number>;
}

/** Member `K` of game `G`, untyped when `G` leaves it out. */
type Member<G, K extends keyof UntypedGame> = G extends { [P in K]: infer T } ? T : UntypedGame[K];

export type EntitiesOf<G> = Member<G, 'Entities'>;
export type RoomStateOf<G> = Member<G, 'RoomState'>;
export type InputOf<G> = Member<G, 'Input'>;
export type ActionsOf<G> = Member<G, 'Actions'>;
export type EventsOf<G> = Member<G, 'Events'>;
export type ParamsOf<G> = Member<G, 'Params'>;
/** The game's entity type names. */
export type EntityTypeOf<G> = keyof EntitiesOf<G> & string;
/** The game's event names. */
export type EventNameOf<G> = keyof EventsOf<G> & string;
/** The game's action names. */
export type ActionNameOf<G> = keyof ActionsOf<G> & string;

// ---- entities -----------------------------------------------------------------------------------

/**
 * One entity (or the room state) as the game sees it: the same object across snapshots, its
 * `fields` updated in place. Fields are in the game's units: Fixed numbers, Angle radians, Int
 * integers, Bool booleans, Enum the variant's name, Str strings; private (`owner`) fields only
 * on the client's own entity.
 */
export interface Entity<F = Fields, T extends string = string> {
  readonly id: EntityId;
  /** `"index:version"`, its key in `room.entities`. */
  readonly key: string;
  readonly type: T;
  readonly typeId: number;
  readonly fields: F;
  /** A field's value. */
  get<K extends keyof F>(name: K): F[K];
  /** Calls cb(field, value, previous, entity) whenever any field changes. Returns an unsubscribe function. */
  onChange(
    name: '*',
    cb: (field: keyof F & string, value: F[keyof F], previous: F[keyof F], entity: this) => void,
  ): () => void;
  /** Calls cb(value, previous, entity) whenever field `name` changes. Returns an unsubscribe function. */
  onChange<K extends keyof F & string>(name: K, cb: (value: F[K], previous: F[K], entity: this) => void): () => void;
}

/** Any entity of game `G` (a union over its types, told apart by `type`). */
export type GameEntity<G = UntypedGame> = {
  [T in EntityTypeOf<G>]: Entity<EntitiesOf<G>[T], T>;
}[EntityTypeOf<G>];

/** The client's own entity: its private fields are present. */
export type OwnEntity<G = UntypedGame> = {
  [T in EntityTypeOf<G>]: Entity<Required<EntitiesOf<G>[T]>, T>;
}[EntityTypeOf<G>];

/** The room state as an Entity (never, for a game without one). */
export type RoomStateEntity<G = UntypedGame> = [RoomStateOf<G>] extends [null]
  ? never
  : Entity<NonNullable<RoomStateOf<G>>, string>;

/** An entity as `room.sample()` draws it: a plain object, fields blended for that time. */
export interface SampledEntity<F = Fields, T extends string = string, Mine extends boolean = boolean> {
  id: EntityId;
  key: string;
  type: T;
  typeId: number;
  fields: F;
  /** The client's own entity (at the present, its predicted fields as predicted). */
  mine: Mine;
}

/** Any sampled entity of game `G`; the own one (`mine: true`) with its private fields. */
export type SampledGameEntity<G = UntypedGame> = {
  [T in EntityTypeOf<G>]:
    | SampledEntity<EntitiesOf<G>[T], T, false>
    | SampledEntity<Required<EntitiesOf<G>[T]>, T, true>;
}[EntityTypeOf<G>];

/** What `room.sample()` returns: the world to draw at one time. */
export interface RoomView<G = UntypedGame> {
  /** The tick of the snapshot at or before that time (the one blended from). */
  tick: number;
  /** The room state's fields, or null. */
  state: RoomStateOf<G> | null;
  entities: Array<SampledGameEntity<G>>;
}

// ---- connecting ---------------------------------------------------------------------------------

/** What `connect` needs to open (and keep reopening) a WebSocket: the browser's WebSocket fits. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => any) | null;
  onmessage: ((ev: { data: any }) => any) | null;
  onclose: ((ev: { code: number; reason: string }) => any) | null;
  onerror: ((ev: any) => any) | null;
}

/** The timer functions a Room uses (`globalThis`'s by default). */
export interface Timers {
  setTimeout(fn: () => void, ms: number): any;
  clearTimeout(id: any): void;
  setInterval(fn: () => void, ms: number): any;
  clearInterval(id: any): void;
}

/**
 * A simulated network, for development and tests (the same meaning as the server's and the
 * bots' `--simulate-latency` / `--simulate-jitter` / stalls). Each message sent and each one
 * received is held `latencyMs` + a uniform random `[0, jitterMs]` ms (one way, in each
 * direction: latency 75 adds 150 ms to the round trip), in order; every `stallEveryS` seconds
 * the link freezes both ways for `stallMs`. Missing members are 0; each is 0 to 10000 ms (the
 * period at most 3600 s, longer than its stall), else `connect` throws a RangeError.
 */
export interface SimulateOptions {
  latencyMs?: number;
  jitterMs?: number;
  stallMs?: number;
  stallEveryS?: number;
}

/** The simulated network as the room runs it: every member given. */
export interface SimulatedNetwork {
  latencyMs: number;
  jitterMs: number;
  stallMs: number;
  stallEveryS: number;
}

export interface ConnectOptions {
  /** The server's `/ws` WebSocket URL (`defaultUrl()`: the server that served the page). The room's home. */
  url: string;
  /** The room to join: 1-32 of A-Z a-z 0-9 _ - (`cleanRoom`). */
  room: string;
  /** The player's name: at most 24 bytes of UTF-8, no control characters (`cleanName`). */
  name: string;
  /** The game: null (the default) for the server's default in a new room, any game in an existing one. */
  game?: string | null;
  /** A join token, when the server requires one (docs/security.md). */
  authToken?: string | null;
  /** Development: a simulated network (latency, jitter, stalls); null or absent: off (no queues, no timers). */
  simulate?: SimulateOptions | null;
  /** For tests: a WebSocket class (the global one by default). */
  WebSocketImpl?: new (url: string) => WebSocketLike;
  /** For tests: a clock in ms (`performance.now` by default). */
  now?: () => number;
  /** For tests: timers (`globalThis` by default). */
  timers?: Timers;
  /** For tests: the simulated jitter's random numbers in [0, 1) (`Math.random` by default). */
  random?: () => number;
}

/** The connection's state (`idle` only before `start`). */
export type ConnectionState = 'idle' | 'connecting' | 'playing' | 'reconnecting' | 'failed' | 'closed';

/** What the `status` event and `room.status` tell besides the state. */
export interface StatusInfo {
  /** For the player: why it is connecting, reconnecting or failed ('' while playing). */
  message: string;
  /** Following a hand-off to another node (while connecting). */
  moving?: boolean;
  /** The close or reject code (reconnecting, failed). */
  code?: number;
  /** When the next attempt is due, on the room's clock (ms; reconnecting). */
  retryAt?: number;
}

export interface RoomStatus extends StatusInfo {
  state: ConnectionState;
}

/** What `describeClose` says about a close or reject code. */
export interface CloseInfo {
  message: string;
  /** False: trying again cannot help without the user (a reload, a token). */
  retry: boolean;
  minDelayMs: number;
  /** Join as a new player next time (the resume token was refused). */
  dropResume: boolean;
}

/** `{message, retry, minDelayMs, dropResume}` for a close or reject code. */
export function describeClose(code: number, reason?: string, room?: string): CloseInfo;

/** Why a snapshot could not be applied: the room resynchronises (the `resync` event). */
export interface SyncError extends Error {
  name: 'SyncError';
  kind: 'unknown_baseline' | 'bad_delta' | 'checksum_mismatch';
}

export interface PlayerEvent {
  entity: EntityId;
  name: string;
}

export interface ChatEvent {
  from: EntityId;
  /** The sender's name ('' if unknown). */
  name: string;
  text: string;
}

/** `room.on(name, cb)`: the arguments of each room event. */
export interface RoomEvents {
  status: [state: ConnectionState, info: StatusInfo];
  welcome: [welcome: Welcome, resumed: boolean];
  snapshot: [tick: number];
  join: [player: PlayerEvent];
  leave: [player: PlayerEvent];
  chat: [chat: ChatEvent];
  notice: [text: string];
  resync: [error: SyncError];
}

/** Rates over a sliding window (snapshots/s, bytes/s). */
export interface RateMeter {
  add(nowMs: number, bytes?: number): void;
  perSecond(nowMs: number): number;
  bytesPerSecond(nowMs: number): number;
  reset(): void;
}

/** The room's connection (net.js), for HUDs and tools. */
export interface Connection {
  readonly state: ConnectionState;
  readonly url: string;
  readonly homeUrl: string;
  readonly rttMs: number | null;
  readonly bytesIn: RateMeter;
  /** The last close: `{code, reason, message}`, or null. */
  readonly lastClose: { code: number; reason: string; message: string } | null;
  readonly redirects: number;
  readonly handoffs: number;
  /** The simulated network, or null (off). */
  readonly simulate: SimulatedNetwork | null;
}

/** The interpolation buffer (interp.js), for HUDs and tools. */
export interface Interpolator {
  /** The current interpolation delay (ms). */
  readonly delayMs: number;
  /** Where the delay is heading (undefined before the first snapshot). */
  readonly targetDelayMs: number | undefined;
  readonly jitterMs: number;
  minDelayMs: number;
  maxDelayMs: number;
  /** Frames drawn (render times taken with snapshots buffered), since the room was created. */
  readonly frames: number;
  /** Frames drawn past the newest snapshot (the buffer ran dry: entities froze). */
  readonly dryFrames: number;
  /** Frames drawn near the end of the buffer (each raises the delay at once). */
  readonly lateFrames: number;
  /** How far the buffer reaches past render time `t` (ms; below 0: it ran dry). */
  bufferedAhead(t: number): number;
  /** Server time `t` (ms; by default the last render time) in ticks, as drawn; null before a snapshot or a frame. */
  ticksAt(t?: number): number | null;
}

/** How the own player's prediction feels (`room.prediction`). Distances in world units. */
export interface PredictionSummary {
  /** Snapshots reconciled with a running prediction. */
  reconciliations: number;
  /** Those whose error (predicted - replayed from the server) exceeded epsilon. */
  corrections: number;
  /** The error at reconciliation over the last 2048: median, 99th percentile; and the largest ever. */
  errorP50: number;
  errorP99: number;
  errorMax: number;
  /** The most the smoothing moved the drawn player in one frame. */
  maxJump: number;
  /** Corrections beyond `snapDistance`, taken at once (not smoothed). */
  snaps: number;
  /** How long offsets took to fade (ms), from the correction that last restarted the fade to the
   * offset under epsilon: 99th percentile, and the longest. */
  settleMsP99: number;
  settleMsMax: number;
  /** Frames from sending a changed input to the first frame drawing it (1: the next frame); null before one. */
  responseFramesP50: number | null;
  responseFramesMax: number | null;
  /** Input changes drawn. */
  responses: number;
}

export interface RoomStats {
  checksumMismatches: number;
  resyncs: number;
  snapshots: RateMeter;
  /** The descriptor does not hash as the server says (this client misreads it). */
  hashMismatch: boolean;
}

/** `room.debug()`. */
export interface RoomDebug {
  state: ConnectionState;
  game: string | null;
  player: EntityId | null;
  tick: number | null;
  inputSeq: number;
  ackedInputSeq: number;
  checksumMismatches: number;
  resyncs: number;
  hashMismatch: boolean;
}

/** One tick of input: fields by name (missing ones: their defaults), or an array in field order. */
export type InputValues<G = UntypedGame> = Partial<InputOf<G>> | ReadonlyArray<Value | null | undefined>;

/** Predicted fields by name (numbers: the game's units, angles radians). */
export type PredictedFields = Record<string, number>;

/**
 * Own-player prediction (`room.predictor = spec`): `step` applies one input, as the server
 * decoded it, to the predicted `fields`; it may return a new object or change `state`.
 */
export interface PredictorSpec<G = UntypedGame> {
  /** The predicted fields (Fixed or Angle fields of the player's entity). */
  fields: readonly string[];
  /** Those of `fields` that are angles: they blend the short way round. */
  angles?: readonly string[];
  /**
   * One tick: `dt` seconds, the game's `params`, `entity` the player's fields in the newest
   * snapshot (`{}` before one).
   */
  step(
    state: PredictedFields,
    input: InputOf<G>,
    dt: number,
    params: ParamsOf<G>,
    entity: Partial<EntitiesOf<G>[EntityTypeOf<G>]>,
  ): PredictedFields | void;
  /** Corrections larger than this (world units: the distance over the fields that are not angles) are taken at once. Default 60. */
  snapDistance?: number;
  /** A correction fades out linearly over this (ms; gone at the first frame at or past it), unless `maxJump` slows it. Default 80. */
  smoothingMs?: number;
  /** The most the smoothing moves the drawn player in one frame (world units). Default 2. */
  maxJump?: number;
  /** Smaller errors are not counted as corrections (world units). Default 0.05. */
  epsilon?: number;
}

/** Client-side prediction of the own player, reconciled with the server (predict.js). */
export class OwnPredictor<G = UntypedGame> {
  constructor(
    spec: PredictorSpec<G>,
    options?: { maxPending?: number; snapDistance?: number; smoothingMs?: number; maxJump?: number; epsilon?: number },
  );
  spec: PredictorSpec<G>;
  fields: readonly string[];
  angles: Set<string>;
  maxPending: number;
  snapDistance: number;
  smoothingMs: number;
  maxJump: number;
  epsilon: number;
  /** The counters behind `room.prediction` (`stats.summary()`; `stats.reset()` starts over). */
  stats: { summary(): PredictionSummary; reset(): void };
  /** Seconds per tick. */
  dt: number;
  params: ParamsOf<G>;
  /** Inputs sent but not yet applied by the server. */
  pending: Array<{ seq: number; input: InputOf<G> }>;
  /** The predicted state after the newest input (null before the first snapshot). */
  pos: PredictedFields | null;
  prev: PredictedFields | null;
  /** The visual offset left by corrections, fading out. */
  error: PredictedFields | null;
  /** The size of the last correction. */
  lastCorrection: number;
  entity: Partial<EntitiesOf<G>[EntityTypeOf<G>]>;
  reset(): void;
  step(state: PredictedFields, input: InputOf<G>): PredictedFields;
  /** Records an input as it is sent and moves the prediction one tick. */
  input(seq: number, input: InputOf<G>): void;
  /** The server says the player is `server` after inputs up to `ackedSeq`: replay the rest. */
  reconcile(server: Partial<EntitiesOf<G>[EntityTypeOf<G>]>, ackedSeq: number): void;
  /** The state to draw `alpha` (0..1) of a tick after the newest step, plus the fading correction. */
  render(alpha: number, elapsedMs: number): PredictedFields | null;
}

// ---- the Room -----------------------------------------------------------------------------------

/** A joined room kept in sync (see README.md). `G`: the game's types, if known. */
export class Room<G extends Partial<GameTypes> = UntypedGame> {
  /** Use `connect`, which also starts it. */
  constructor(options: ConnectOptions);
  start(): void;
  /** Leaves the room for good. */
  close(): void;

  // reading
  /** The room's name and the player's, as given. */
  roomName: string;
  name: string;
  /** The room state's fields (e.g. `{phase: 'playing', time_left: 93.5}`), or null. */
  get state(): RoomStateOf<G> | null;
  /** The room state as an Entity (for `onChange`), or null. */
  get stateEntity(): RoomStateEntity<G> | null;
  /** Entities by key (`"index:version"`), the room state excepted; the same objects across snapshots. */
  get entities(): Map<string, GameEntity<G>>;
  /** The client's own entity (private fields included), or null. */
  get me(): OwnEntity<G> | null;
  /** The client's player entity id (null before the first Welcome). */
  player: EntityId | null;
  /** Players in the room: entity key -> name. */
  players: Map<string, string>;
  /** The game's params by name (`{}` before the first Welcome). */
  get params(): ParamsOf<G>;
  /** The room's game (null before the first Welcome). */
  get game(): string | null;
  /** The compiled descriptor of the room's game (null before the first Welcome). */
  plan: Plan | null;
  welcome: Welcome | null;
  /** The newest snapshot tick applied (null before the first). */
  get tick(): number | null;
  /** The newest input seq the server has applied. */
  get ackedInputSeq(): number;
  /** The seq of the newest input sent. */
  inputSeq: number;
  /** Milliseconds per server tick. */
  tickMs: number;
  /** The round trip (ms), or null (with a simulated network: its latency included, both ways). */
  get rttMs(): number | null;
  /** The simulated network (`connect`'s `simulate`, completed), or null: off. */
  get simulate(): SimulatedNetwork | null;
  get connectionState(): ConnectionState;
  status: RoomStatus;
  /** The node connected to (or being tried). */
  get url(): string;
  /** The URL the room was created with: every ordinary reconnect goes there. */
  get homeUrl(): string;
  /** `moved` codes followed during a handshake. */
  get redirects(): number;
  /** `moved` codes followed while playing (hand-offs). */
  get handoffs(): number;
  connection: Connection;
  interp: Interpolator;
  stats: RoomStats;
  /** Bandwidth accounting, off when null: the bytes each field of each decoded snapshot took. */
  deltaAccount: DeltaAccount | null;

  // listening (each returns an unsubscribe function)
  /** Room events: status, welcome, snapshot, join, leave, chat, notice, resync. */
  on<K extends keyof RoomEvents>(name: K, cb: (...args: RoomEvents[K]) => void): () => void;
  /** Every game event: cb(fields, name). */
  onEvent(
    name: '*',
    cb: (...args: { [E in EventNameOf<G>]: [fields: EventsOf<G>[E], name: E] }[EventNameOf<G>]) => void,
  ): () => void;
  /** The game's event `name`: cb(fields, name). */
  onEvent<E extends EventNameOf<G>>(name: E, cb: (fields: EventsOf<G>[E], name: E) => void): () => void;
  /** An entity (or the room state) appeared. */
  onAdd(cb: (entity: GameEntity<G> | RoomStateEntity<G>) => void): () => void;
  /** An entity (or the room state) went. */
  onRemove(cb: (entity: GameEntity<G> | RoomStateEntity<G>) => void): () => void;

  // sending
  /** One tick of input, carrying the ack; returns its seq, or null when not connected. */
  sendInput(values: InputValues<G>): number | null;
  /** Or let the room send one input per server tick itself (`pump()` from the frame loop steadies it). */
  inputSource: (() => InputValues<G>) | null;
  /** Sends the inputs due since the last call, from `inputSource`. */
  pump(): void;
  /** A reliable action; throws ProtocolError `bad_value` if the game has none of that name. Returns whether it went out. */
  sendAction<A extends ActionNameOf<G>>(name: A, fields?: Partial<ActionsOf<G>[A]>): boolean;
  /** A chat line to the room; returns whether it went out. */
  chat(text: string): boolean;

  // prediction and drawing
  /** Own-player prediction: set a spec (null: none); reads back the running predictor. */
  get predictor(): OwnPredictor<G> | null;
  set predictor(spec: PredictorSpec<G> | null);
  /** The predicted own fields after the newest input (null without a predictor). */
  get predicted(): PredictedFields | null;
  /** The own predicted fields as last drawn by `sample` (null or undefined before). */
  drawn?: PredictedFields | null;
  /** How the own player's prediction feels (null without a predictor). */
  get prediction(): PredictionSummary | null;
  /** The moment others were last drawn at, in ticks, as the next Input carries it (null before a frame). */
  get viewTime(): ViewTime | null;
  /** The server time (ms) to draw at local time `nowMs`: the present minus an adaptive delay. */
  renderTime(nowMs?: number, elapsedMs?: number): number;
  /** The world at server time `renderTimeMs` (null before the first snapshot). */
  sample(renderTimeMs: number, elapsedMs?: number): RoomView<G> | null;
  /** Debug state for tests and tools. */
  debug(): RoomDebug;
}

/** Joins a room and keeps it in sync (started at once). */
export function connect<G extends Partial<GameTypes> = UntypedGame>(options: ConnectOptions): Room<G>;

/** An entity id as a Map key: `"index:version"`. */
export function keyOf(id: EntityId): string;

/** A room name as the protocol allows it: 1-32 of A-Z a-z 0-9 _ - ('' if nothing is left). */
export function cleanRoom(s: string | null | undefined): string;

/** A player name: no control characters, at most 24 bytes of UTF-8, trimmed ('' if blank). */
export function cleanName(s: string | null | undefined): string;

/** The ws(s) URL of `/ws` on the server that served this page (or of `loc`). */
export function defaultUrl(loc?: { protocol: string; host: string }): string;
