// ticksync's browser client: the one module a game imports (no build step).
//
//   import { connect } from '/client/v1/ticksync.js';
//   const room = connect({ url: 'ws://host/ws', room: 'lobby', name: 'ann', game: 'skirmish' });
//   room.onAdd((e) => ...); room.onRemove((e) => ...); room.onEvent('kill', (f) => ...);
//   room.inputSource = () => ({ move_x: 1, move_y: 0, fire: false }); // or room.sendInput(...)
//   function frame(now) { const view = room.sample(room.renderTime(now)); draw(view); ... }
//
// It joins (Hello; resumes the same player after a disconnect), learns the game from the
// descriptor in Welcome (no generated code), applies each snapshot's delta to the tables of the
// ticks it acked (checksum-verified), acks every snapshot (in the next Input, or an Ack),
// keeps entity objects with named, dequantised fields (see state.js), interpolates them for
// drawing (interp.js), predicts the own player (predict.js) and reconnects with backoff
// (net.js). Data flow: net.js -> onMessage -> ring.js (tables) -> state.js (entities, listeners)
// and interp.js (drawing); inputs -> predict.js and the wire.
import {
  Plan, ProtocolError, decodeValues, descriptorHash, encodeValues, MAX_PLAYER_NAME_BYTES,
  MAX_ROOM_NAME_BYTES, ROOM_INDEX,
} from './protocol.js';
import { Connection } from './net.js';
import { SnapshotRing, SyncError } from './ring.js';
import { EntityStore, friendly, guard, keyOf, valuesByName, valuesInOrder, visibleFields } from './state.js';
import { Interpolator, viewTimeOf } from './interp.js';
import { OwnPredictor } from './predict.js';
import { RateMeter } from './stats.js';

export { CODES, PROTOCOL_VERSION, ProtocolError } from './protocol.js';
export { describeClose } from './status.js';
export { OwnPredictor } from './predict.js';
export { keyOf } from './state.js';

/** Inputs in one pump after a stall (a background tab): the rest of the lost time is dropped. */
const MAX_CATCH_UP_INPUTS = 8;

/**
 * Joins a room and keeps it in sync; returns the Room. Options: `url` (the server's /ws
 * WebSocket URL), `room`, `name`, `game` (null: the server's default for a new room, any game
 * for an existing one), `authToken` (a join token, when the server requires one), `simulate`
 * (development: a simulated network, `{latencyMs, jitterMs, stallMs, stallEveryS}` added one way
 * in each direction, see net.js; null: off). For tests:
 * `WebSocketImpl`, `now` (ms clock), `timers` ({setTimeout, clearTimeout, setInterval,
 * clearInterval}).
 */
export function connect(options) {
  const room = new Room(options);
  room.start();
  return room;
}

export class Room {
  constructor({ url, room, name, game = null, authToken = null, simulate = null, WebSocketImpl, now, timers, random }) {
    this.now = now ?? (() => performance.now());
    this.timers = timers ?? globalThis;
    this.roomName = room;
    this.name = name;
    this.connection = new Connection({
      url,
      room,
      name,
      game,
      authToken,
      simulate,
      random,
      WebSocketImpl,
      now: this.now,
      timers: this.timers,
      onMessage: (msg, data) => this.received(msg, data),
      onState: (state, info) => this.statusChanged(state, info),
    });
    /** The compiled descriptor of the room's game (null before the first Welcome). */
    this.plan = null;
    this.welcome = null;
    /** The client's player entity id `{index, version}`. */
    this.player = null;
    /** Players in the room: key -> name. */
    this.players = new Map();
    this.store = new EntityStore();
    this.ring = new SnapshotRing();
    this.interp = new Interpolator();
    this.latest = null; // {tick, table, inputSeq, serverTimeUs}
    this.inputSeq = 0;
    this.pendingAck = null;
    this.lastInputAt = -Infinity;
    this.tickMs = 1000 / 60;
    this.acc = 0;
    this.lastPump = this.now();
    this.ownPredictor = null;
    /** A function returning this tick's input (by field name): the room then sends one Input
     * per server tick by itself (see `pump`). Leave null to call `sendInput` yourself. */
    this.inputSource = null;
    /** Bandwidth accounting, off when null: `(typeId, fieldId, bytes)` called for the bytes each
     * field of each decoded snapshot took (fieldId -1: the entity's ids and mask; typeId -1: list
     * counts). See protocol.js `applyDelta`. */
    this.deltaAccount = null;
    this.listeners = new Map(); // name -> Set
    this.eventListeners = new Map(); // game event name ('*': all) -> Set
    this.stats = { checksumMismatches: 0, resyncs: 0, snapshots: new RateMeter(), hashMismatch: false };
    this.status = { state: 'idle', message: '' };
  }

  start() {
    this.connection.start();
    this.pumpTimer = this.timers.setInterval(() => this.pump(), 1000 / 120);
  }

  /** Leaves the room for good. */
  close() {
    this.timers.clearInterval(this.pumpTimer);
    this.timers.clearTimeout(this.ackTimer);
    this.connection.stop();
  }

  // ---- what a game reads ------------------------------------------------------------------

  /** The connection: idle | connecting | playing | reconnecting | failed | closed. */
  get connectionState() {
    return this.connection.state;
  }

  /** The WebSocket URL of the node the room is on (or being looked for on). */
  get url() {
    return this.connection.url;
  }

  /** The URL the room was created with (the page's own server): every ordinary reconnect goes
   * there; a MOVED (4013) sends the connection on to the node named. */
  get homeUrl() {
    return this.connection.homeUrl;
  }

  /** MOVEDs followed during a handshake (the room was on another node). */
  get redirects() {
    return this.connection.redirects;
  }

  /** MOVEDs followed while playing (a draining node handed the room over). */
  get handoffs() {
    return this.connection.handoffs;
  }

  /** The room state (the game's room type) as an object of fields, or null. */
  get state() {
    return this.store.room ? this.store.room.fields : null;
  }

  /** The room state's Entity (for `onChange`), or null. */
  get stateEntity() {
    return this.store.room;
  }

  /** Entities by key (`"index:version"`), the room state excepted. */
  get entities() {
    return this.store.entities;
  }

  /** The client's own entity, or null. */
  get me() {
    return this.player ? this.store.entities.get(keyOf(this.player)) ?? null : null;
  }

  /** The game's params (world size, speeds...) by name. */
  get params() {
    return this.plan ? this.plan.params : {};
  }

  get game() {
    return this.welcome ? this.welcome.game : null;
  }

  /** The newest snapshot tick applied (null before the first). */
  get tick() {
    return this.latest ? this.latest.tick : null;
  }

  /** The newest input seq the server has applied. */
  get ackedInputSeq() {
    return this.latest ? this.latest.inputSeq : 0;
  }

  get rttMs() {
    return this.connection.rttMs;
  }

  /** The simulated network, `{latencyMs, jitterMs, stallMs, stallEveryS}`, or null (off). */
  get simulate() {
    return this.connection.simulate;
  }

  /**
   * Listens to the room: 'status' (state, info), 'welcome' (welcome, resumed), 'snapshot'
   * (tick), 'join' ({entity, name}), 'leave' ({entity, name}), 'chat' ({from, name, text}),
   * 'notice' (text), 'resync' (error). Returns a function that removes the listener.
   */
  on(name, cb) {
    return listen(this.listeners, name, cb);
  }

  /** Calls cb(fields, name) for each game event `name` ('*': every event). */
  onEvent(name, cb) {
    return listen(this.eventListeners, name, cb);
  }

  /** Calls cb(entity) when an entity appears (also for the room state). */
  onAdd(cb) {
    this.store.addListeners.add(cb);
    return () => this.store.addListeners.delete(cb);
  }

  /** Calls cb(entity) when an entity goes. */
  onRemove(cb) {
    this.store.removeListeners.add(cb);
    return () => this.store.removeListeners.delete(cb);
  }

  emit(name, ...args) {
    for (const cb of this.listeners.get(name) ?? []) guard(() => cb(...args));
  }

  // ---- sending -----------------------------------------------------------------------------

  /**
   * Sends one tick of input (an object by input field name, or an array in field order; missing
   * fields are their default), with the newest applied snapshot tick as the ack. Returns its seq,
   * or null when not connected.
   */
  sendInput(values) {
    if (!this.plan || this.connection.state !== 'playing') return null;
    const fields = this.plan.input;
    const bytes = encodeValues(fields, valuesInOrder(fields, values));
    const seq = this.inputSeq + 1;
    // The moment drawn as this input is made: the server rewinds its hit tests to it.
    const view = this.viewTime;
    if (!this.connection.send({ type: 'Input', seq, ack: this.tick, view, values: bytes })) return null;
    this.inputSeq = seq;
    this.pendingAck = null;
    this.lastInputAt = this.now();
    // Predict with what the server will see: the input as quantised on the wire.
    if (this.ownPredictor) this.ownPredictor.input(seq, valuesByName(fields, decodeValues(fields, bytes)));
    return seq;
  }

  /** Sends a reliable action of the game by name, with its fields by name. */
  sendAction(name, fields = {}) {
    const a = this.plan && this.plan.actionByName.get(name);
    if (!a) throw new ProtocolError('bad_value', `the game has no action ${name}`);
    const values = encodeValues(a.fields, valuesInOrder(a.fields, fields));
    return this.connection.send({ type: 'Action', id: a.id, values });
  }

  /** Sends a chat line to the room. */
  chat(text) {
    return this.connection.send({ type: 'Chat', text });
  }

  /**
   * Sends the inputs due since the last call, one per server tick, from `inputSource` (runs on
   * a timer; call it from requestAnimationFrame too for steadier timing).
   */
  pump() {
    const now = this.now();
    if (!this.inputSource || this.connection.state !== 'playing' || !this.plan) {
      this.acc = 0;
      this.lastPump = now;
      return;
    }
    this.acc += now - this.lastPump;
    this.lastPump = now;
    let sent = 0;
    while (this.acc >= this.tickMs) {
      this.acc -= this.tickMs;
      if (++sent > MAX_CATCH_UP_INPUTS) {
        this.acc = 0;
        break;
      }
      let input;
      try {
        input = this.inputSource();
      } catch (e) {
        guard(() => {
          throw e;
        });
        input = {};
      }
      this.sendInput(input);
    }
  }

  // ---- prediction and drawing ----------------------------------------------------------------

  /**
   * The own player's predictor: `{fields, step(state, input, dt, params), angles?,
   * snapDistance?, smoothingMs?}` (see predict.js), or null for none.
   */
  set predictor(spec) {
    this.ownPredictor = spec ? new OwnPredictor(spec) : null;
    this.configurePredictor();
  }

  get predictor() {
    return this.ownPredictor;
  }

  configurePredictor() {
    if (!this.ownPredictor || !this.plan) return;
    this.ownPredictor.dt = this.tickMs / 1000;
    this.ownPredictor.params = this.plan.params;
    this.ownPredictor.reset();
  }

  /**
   * How the own player's prediction feels (null without a predictor): `{reconciliations,
   * corrections, errorP50, errorP99, errorMax, maxJump, snaps, settleMsP99, settleMsMax,
   * responseFramesP50, responseFramesMax, responses}` (see predict.js).
   */
  get prediction() {
    return this.ownPredictor ? this.ownPredictor.stats.summary() : null;
  }

  /**
   * The moment the room last drew others at, in ticks as `Input.view` carries it: `{tick,
   * frac}` (tick + frac/256), or null before it drew a snapshot.
   */
  get viewTime() {
    return viewTimeOf(this.interp.ticksAt());
  }

  /** The predicted own state after the newest input (null without a predictor). */
  get predicted() {
    return this.ownPredictor && this.ownPredictor.pos ? { ...this.ownPredictor.pos } : null;
  }

  /** The server time (ms) to draw at local time `nowMs` (a delay that adapts to jitter). */
  renderTime(nowMs = this.now(), elapsedMs = 16) {
    return this.interp.renderTime(nowMs, elapsedMs);
  }

  /**
   * The world to draw at server time `renderTimeMs`: `{tick, state, entities}` with each entity
   * `{id, key, type, fields, mine}` blended per field hint; the own entity is at the present,
   * its predicted fields from the predictor (between steps, corrections fading). Null before
   * the first snapshot. `elapsedMs`: time since the previous call (fades corrections).
   */
  sample(renderTimeMs, elapsedMs = 16) {
    if (!this.plan || !this.latest) return null;
    const s = this.interp.sample(this.plan, this.player, renderTimeMs);
    if (!s) return null;
    const own = this.player;
    let state = null;
    const entities = [];
    for (const e of s.entities) {
      if (this.plan.roomType !== null && e.typeId === this.plan.roomType && e.id.index === ROOM_INDEX) {
        state = e.fields;
        continue;
      }
      if (own && e.id.index === own.index && e.id.version === own.version) continue;
      e.mine = false;
      entities.push(e);
    }
    const me = this.ownView(elapsedMs);
    if (me) entities.push(me);
    return { tick: s.tick, state, entities };
  }

  /** The own entity at the present (newest snapshot), with predicted fields drawn. */
  ownView(elapsedMs) {
    const own = this.player;
    const t = this.latest.table;
    if (!own || !t.holds(own)) return null;
    const tp = this.plan.types[t.type[own.index]];
    if (!tp) return null;
    const at = own.index * t.stride;
    const fields = {};
    for (const fp of visibleFields(tp, true)) fields[fp.name] = friendly(fp.coding, t.values[at + fp.id], t.string(own.index, fp.id));
    const drawn = this.ownPredictor ? this.ownPredictor.render(this.acc / this.tickMs, elapsedMs) : null;
    if (drawn) Object.assign(fields, drawn);
    this.drawn = drawn;
    return { id: { ...own }, key: keyOf(own), type: tp.name, typeId: tp.id, fields, mine: true };
  }

  // ---- what the server says ----------------------------------------------------------------

  statusChanged(state, info) {
    this.status = { state, ...info };
    if (state !== 'playing') this.pendingAck = null;
    this.emit('status', state, info);
  }

  received(msg, data) {
    switch (msg.type) {
      case 'Welcome': return this.welcomed(msg);
      case 'Snapshot': return this.snapshot(msg, data);
      case 'Event': return this.serverEvent(msg.event);
      case 'GameEvent': return this.gameEvent(msg);
      default: return undefined; // Pong: net.js measures RTT; Reject: net.js reports it on close
    }
  }

  welcomed(w) {
    const resumed = this.player !== null && this.player.index === w.player.index && this.player.version === w.player.version;
    if (!this.welcome || this.welcome.schema_hash !== w.schema_hash) {
      let plan;
      try {
        plan = new Plan(w.schema);
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        this.connection.abandon(1002, e.message);
        return;
      }
      if (this.plan) this.store.clear(this.plan);
      this.plan = plan;
      // The same bytes hash the same: a mismatch means this client misreads the descriptor.
      this.stats.hashMismatch = descriptorHash(w.schema) !== w.schema_hash;
      if (this.stats.hashMismatch) console.warn('ticksync: the descriptor does not hash as the server says');
    }
    // Another player than before (a resume refused): entities were seen through the old
    // player's eyes (its private fields), so start over.
    if (!resumed && this.player !== null) this.store.clear(this.plan);
    this.welcome = w;
    this.player = w.player;
    this.tickMs = 1000 / Math.max(1, w.tick_rate);
    this.players.clear();
    for (const p of w.players) this.players.set(keyOf(p.entity), p.name);
    this.ring.clear();
    this.interp.tickMs = this.tickMs;
    this.interp.reset();
    this.latest = null;
    // A resumed player keeps counting: the server ignores seqs it has already seen.
    if (!resumed) this.inputSeq = 0;
    this.pendingAck = null;
    this.acc = 0;
    this.lastPump = this.now();
    this.configurePredictor();
    this.emit('welcome', w, resumed);
  }

  snapshot(s, data) {
    if (!this.plan) return;
    const now = this.now();
    this.stats.snapshots.add(now);
    let table;
    try {
      table = this.ring.apply(this.plan, this.player, s, this.deltaAccount);
    } catch (e) {
      if (!(e instanceof SyncError)) throw e;
      if (e.kind === 'checksum_mismatch') this.stats.checksumMismatches++;
      this.stats.resyncs++;
      console.warn(`ticksync: ${e.message}; resynchronising`);
      this.emit('resync', e);
      this.connection.resync(e.kind.replace('_', ' '));
      return;
    }
    this.latest = { tick: s.tick, table, inputSeq: s.input_seq, serverTimeUs: s.server_time_us, bytes: data ? data.byteLength : 0 };
    this.store.update(this.plan, this.player, table);
    this.interp.push(s.server_time_us / 1000, s.tick, table, now);
    if (this.ownPredictor) {
      const me = this.me;
      if (me) this.ownPredictor.reconcile(me.fields, s.input_seq);
      else this.ownPredictor.reset();
    }
    this.scheduleAck(s.tick, now);
    this.emit('snapshot', s.tick);
  }

  /**
   * Every snapshot is acked: by the next Input if inputs are flowing (they carry the ack),
   * else by an Ack now. The server builds the next delta against the newest acked tick.
   */
  scheduleAck(tick, now) {
    this.pendingAck = tick;
    const flush = () => {
      if (this.pendingAck !== null && this.connection.send({ type: 'Ack', tick: this.pendingAck })) this.pendingAck = null;
    };
    if (now - this.lastInputAt > 2 * this.tickMs) {
      flush();
      return;
    }
    this.timers.clearTimeout(this.ackTimer);
    this.ackTimer = this.timers.setTimeout(flush, 1.5 * this.tickMs);
  }

  serverEvent(e) {
    const name = (id) => this.players.get(keyOf(id)) ?? '';
    switch (e.type) {
      case 'PlayerJoined':
        this.players.set(keyOf(e.entity), e.name);
        this.emit('join', { entity: e.entity, name: e.name });
        break;
      case 'PlayerLeft': {
        const n = name(e.entity);
        this.players.delete(keyOf(e.entity));
        this.emit('leave', { entity: e.entity, name: n });
        break;
      }
      case 'Chat':
        this.emit('chat', { from: e.from, name: name(e.from), text: e.text });
        break;
      case 'Notice':
        this.emit('notice', e.text);
        break;
    }
  }

  gameEvent(msg) {
    const ev = this.plan && this.plan.events[msg.id];
    if (!ev) return;
    let fields;
    try {
      fields = valuesByName(ev.fields, decodeValues(ev.fields, msg.values));
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      console.warn(`ticksync: game event ${ev.name} does not decode: ${e.message}`);
      return;
    }
    for (const cb of this.eventListeners.get(ev.name) ?? []) guard(() => cb(fields, ev.name));
    for (const cb of this.eventListeners.get('*') ?? []) guard(() => cb(fields, ev.name));
  }

  /**
   * Debug state for tests and tools: connection state, player, tick, entities of the newest
   * snapshot with named fields, counters.
   */
  debug() {
    return {
      state: this.connection.state,
      game: this.game,
      player: this.player && { ...this.player },
      tick: this.tick,
      inputSeq: this.inputSeq,
      ackedInputSeq: this.ackedInputSeq,
      checksumMismatches: this.stats.checksumMismatches,
      resyncs: this.stats.resyncs,
      hashMismatch: this.stats.hashMismatch,
    };
  }
}

function listen(map, name, cb) {
  if (!map.has(name)) map.set(name, new Set());
  map.get(name).add(cb);
  return () => map.get(name).delete(cb);
}

/** Room names on the wire: 1-32 of A-Z a-z 0-9 _ - (protocol limits). */
export function cleanRoom(s) {
  return (s || '').replace(/[^A-Za-z0-9_-]/g, '').slice(0, MAX_ROOM_NAME_BYTES);
}

/** Player names: no control characters, at most 24 bytes of UTF-8, not blank. */
export function cleanName(s) {
  let out = '';
  const enc = new TextEncoder();
  for (const ch of (s || '').replace(/\p{Cc}/gu, '').trim()) {
    if (enc.encode(out + ch).length > MAX_PLAYER_NAME_BYTES) break;
    out += ch;
  }
  return out.trim();
}

/** The ws(s) URL of the server that served this page. */
export function defaultUrl(loc = globalThis.location) {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/ws`;
}
