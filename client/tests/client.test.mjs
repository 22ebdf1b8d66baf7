// The browser client without a browser: the snapshot ring (baselines, second baselines,
// checksums, pruning), entity objects and their listeners, interpolation per field hint (its
// adaptive delay: interp.test.mjs), own-player prediction (its smoothing: predict.test.mjs),
// close codes and backoff, the connection, and the Room of ticksync.js end to end against a
// fake WebSocket fed the golden vectors. Also checks that this client reproduces the worked
// examples of docs/protocol.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

import {
  CODES, PROTOCOL_VERSION, Plan, StateTable, applyDelta, checksum, decodeClient, decodeServer, encodeClient, encodeValues,
  ownerChecksum, predict, publicChecksum, KIND_ANGLE, PRED_LINEAR, PRED_VELOCITY, Writer,
} from '../src/protocol.js';
import { SnapshotRing, SyncError, olderThan } from '../src/ring.js';
import { EntityStore, friendly } from '../src/state.js';
import { Interpolator, blend, viewTimeOf } from '../src/interp.js';
import { OwnPredictor } from '../src/predict.js';
import { MOVING_MESSAGE, backoffDelay, describeClose, movedTarget } from '../src/status.js';
import { RateMeter } from '../src/stats.js';
import { Connection, MAX_MOVES } from '../src/net.js';
import { Room } from '../src/ticksync.js';
import { arenaStep as arenaRule } from '../../games/arena/web/rules.js';
import { skirmishStep, turnToward, SKIRMISH_PREDICTOR } from '../../games/skirmish/web/rules.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const goldenPath = (name, ext) => path.resolve(here, `../../protocol/golden/${name}.${ext}`);
const golden = (name) => new Uint8Array(readFileSync(goldenPath(name, 'bin')));
const goldenJson = (name) => JSON.parse(readFileSync(goldenPath(name, 'json'), 'utf8'));

const welcome = decodeServer(golden('server_welcome'));
const plan = new Plan(welcome.schema);
const OWN = { index: 3, version: 1 };
/** The client's table at `tick` (100, 101, 104, 110, 112, 113), from the golden JSON. */
function tableAt(tick) {
  for (const name of ['snapshot_full', 'snapshot_delta_one_tick', 'snapshot_delta_baseline2', 'snapshot_delta_respawn', 'snapshot_delta_empty']) {
    const m = goldenJson(name);
    for (const t of [m.baseline, m.baseline2, m.result]) {
      if (t && t.tick === tick) return StateTable.fromEntries(plan, t.table);
    }
  }
  throw new Error(`no golden table at ${tick}`);
}
const snap = (name) => decodeServer(golden(name));

// ---- the ring -------------------------------------------------------------------------------

test('the ring applies a full snapshot, then deltas against one and two baselines', () => {
  const ring = new SnapshotRing();
  const full = snap('snapshot_full');
  const t100 = ring.apply(plan, OWN, full);
  assert.deepEqual(t100.entries(plan), goldenJson('snapshot_full').result.table);
  const t101 = ring.apply(plan, OWN, snap('snapshot_delta_one_tick'));
  assert.equal(checksum(plan, t101, OWN), goldenJson('snapshot_delta_one_tick').result.checksum);
  // The baseline table was copied, not changed.
  assert.deepEqual(t100.entries(plan), goldenJson('snapshot_full').result.table);
  // A delta against 104 with 100 as its second baseline: 104 must be held.
  assert.throws(() => ring.apply(plan, OWN, snap('snapshot_delta_baseline2')), (e) => e instanceof SyncError && e.kind === 'unknown_baseline');
  ring.store(104, tableAt(104), 100);
  const t110 = ring.apply(plan, OWN, snap('snapshot_delta_baseline2'));
  assert.deepEqual(t110.entries(plan), goldenJson('snapshot_delta_baseline2').result.table);
  // Tables older than the oldest baseline used (104) go once 112 (against 110 and 104) applies.
  ring.apply(plan, OWN, snap('snapshot_delta_respawn'));
  assert.deepEqual([...ring.tables.keys()], [104, 110, 112]);
  ring.apply(plan, OWN, snap('snapshot_delta_empty'));
  assert.deepEqual([...ring.tables.keys()], [110, 112, 113]);
});

test('the ring refuses bad deltas and checksum mismatches, and stays bounded', () => {
  const ring = new SnapshotRing(4);
  ring.apply(plan, OWN, snap('snapshot_full'));
  const kindOf = (s) => {
    try {
      ring.apply(plan, OWN, s);
    } catch (e) {
      assert.ok(e instanceof SyncError, String(e));
      return e.kind;
    }
    return 'none';
  };
  const one = snap('snapshot_delta_one_tick');
  assert.equal(kindOf({ ...one, checksum: one.checksum ^ 1 }), 'checksum_mismatch');
  assert.equal(kindOf({ ...one, delta: Uint8Array.of(1, 4, 0, 0) }), 'bad_delta');
  assert.equal(kindOf({ ...one, checksum: null }), 'none', 'no checksum: nothing to verify');
  for (let t = 200; t < 210; t++) ring.store(t, tableAt(100), null);
  assert.deepEqual([...ring.tables.keys()], [206, 207, 208, 209]);
  assert.ok(olderThan(4294967295, 2) && !olderThan(2, 4294967295), 'ticks compare wrapping');
});

// ---- entities and listeners -------------------------------------------------------------------

test('entities: named dequantised fields, private ones only on the own, listeners on change', () => {
  const store = new EntityStore();
  const log = [];
  store.addListeners.add((e) => log.push(`+${e.key} ${e.type}`));
  store.removeListeners.add((e) => log.push(`-${e.key}`));
  store.update(plan, OWN, tableAt(100));
  assert.deepEqual(log, ['+0:1 room', '+1:1 ship', '+2:1 ship', '+3:1 ship', '+5:1 rock', '+7:1 ship']);
  assert.equal(store.entities.size, 5, 'the room state is not an entity');
  assert.deepEqual(store.room.fields, { phase: 'playing', time_left: 900, score: 3, motd: 'welcome' });
  const ann = store.entities.get('1:1');
  assert.deepEqual(ann.fields, { 'pos.x': 62.5, 'pos.y': 31.25, 'vel.x': 7.5, 'vel.y': -3.75, heading: (3900 / 4096) * 2 * Math.PI, alive: true, team: 'red', name: 'ann' });
  assert.deepEqual(store.entities.get('3:1').fields.fuel, 100, 'own private fuel, in units');
  assert.equal(store.entities.get('3:1').fields.ammo, 50);
  assert.equal(store.entities.get('7:1').fields.name, 'Zoë ☃');

  const seen = [];
  ann.onChange('heading', (v, old) => seen.push(['heading', old, v]));
  const off = store.room.onChange('motd', (v) => seen.push(['motd', v]));
  store.room.onChange('*', (name) => seen.push(['room', name]));
  store.update(plan, OWN, tableAt(112));
  // Slot 2 holds a new entity: removed and added; the others changed in place.
  assert.deepEqual(log.slice(6), ['-2:1', '+2:3 ship']);
  assert.equal(store.entities.get('1:1'), ann, 'the same object across snapshots');
  // In slot order; per change the field's listeners, then the '*' ones.
  assert.deepEqual(seen, [
    ['room', 'time_left'], ['room', 'score'], ['motd', 'sudden death!'], ['room', 'motd'],
    ['heading', (3900 / 4096) * 2 * Math.PI, (1004 / 4096) * 2 * Math.PI],
  ]);
  off();
  store.update(plan, OWN, tableAt(100));
  assert.equal(seen.filter((s) => s[0] === 'motd').length, 1, 'a removed listener stays quiet');
  store.clear(plan);
  assert.equal(store.entities.size, 0);
  assert.equal(store.room, null);
});

// ---- interpolation ----------------------------------------------------------------------------

test('interpolation blends per field hint: linear, the short way round, or snapping', () => {
  const ship = plan.typeByName.get('ship');
  const heading = ship.byName.get('heading');
  assert.equal(heading.kind, KIND_ANGLE);
  // 4090 -> 5 on a 12-bit angle crosses 0: halfway is 4095.5, not 2047.5.
  assert.equal(blend(heading, 4090, 5, 0.5), 4095.5);
  assert.equal(blend(heading, 5, 4090, 0.75), 4092.75);
  assert.equal(blend(ship.byName.get('pos.x'), 100, 200, 0.25), 125);
  assert.equal(blend(ship.byName.get('alive'), 0, 1, 0.99), 0, 'none shows the older value');
  assert.equal(blend(ship.byName.get('alive'), 0, 1, 1), 1);

  const it = new Interpolator();
  it.push(1000, 110, tableAt(110), 5000);
  it.push(1033, 112, tableAt(112), 5033);
  const mid = it.sample(plan, OWN, 1016.5);
  const byKey = new Map(mid.entities.map((e) => [e.key, e]));
  const x110 = 1000 + 20;
  const x112 = 1000 + 24;
  assert.equal(byKey.get('1:1').fields['pos.x'], ((x110 + x112) / 2) / 16);
  // Slot 2 holds a new entity at 112: drawn where it is, not slid from the old one.
  assert.ok(!byKey.has('2:1'));
  assert.equal(byKey.get('2:3').fields['pos.x'], -8000 / 16);
  // Ship 7's heading crosses 0 the short way.
  assert.equal(byKey.get('7:1').fields.heading, (((4090 + 11 / 2) % 4096) / 4096) * 2 * Math.PI);
  // Strings snap (the older text until the newer time).
  assert.equal(byKey.get('0:1').fields.motd, 'welcome');
  assert.equal(it.sample(plan, OWN, 2000).entities.find((e) => e.key === '0:1').fields.motd, 'sudden death!');
  // Private fields only for the own entity.
  assert.ok('fuel' in byKey.get('3:1').fields && !('fuel' in byKey.get('1:1').fields));
  // Before the oldest: the oldest.
  assert.equal(it.sample(plan, OWN, 0).entities.find((e) => e.key === '1:1').fields['pos.x'], x110 / 16);
});

// ---- prediction -----------------------------------------------------------------------------

/** The arena's rule: the stick (normalised if longer than 1) times the speed, in the world. */
const arenaStep = (s, input, dt, params) => {
  let vx = input.move_x;
  let vy = input.move_y;
  const len = Math.hypot(vx, vy);
  if (len > 1) {
    vx /= len;
    vy /= len;
  }
  return {
    'pos.x': Math.min(params.world_width, Math.max(0, s['pos.x'] + vx * params.player_speed * dt)),
    'pos.y': Math.min(params.world_height, Math.max(0, s['pos.y'] + vy * params.player_speed * dt)),
  };
};

test('prediction replays unacknowledged inputs and smooths small corrections', () => {
  const p = new OwnPredictor({ fields: ['pos.x', 'pos.y'], step: arenaStep });
  p.params = { world_width: 1000, world_height: 1000, player_speed: 200 };
  const right = { move_x: 1, move_y: 0 };
  const at = (x, y) => ({ 'pos.x': x, 'pos.y': y, 'vel.x': 0 });
  p.reconcile(at(100, 100), 0);
  for (let seq = 1; seq <= 10; seq++) p.input(seq, right);
  assert.ok(Math.abs(p.pos['pos.x'] - (100 + 10 * 200 / 60)) < 1e-9);
  assert.deepEqual(Object.keys(p.pos), ['pos.x', 'pos.y'], 'only the predicted fields');
  // The server applied inputs 1..4, and agrees: nothing to correct.
  p.reconcile(at(100 + 4 * 200 / 60, 100), 4);
  assert.equal(p.pending.length, 6);
  assert.ok(p.lastCorrection < 1e-9);
  // The server is 2 units behind: the state jumps, the drawing does not, then the offset fades.
  const before = p.render(1, 0);
  p.reconcile(at(100 + 4 * 200 / 60 - 2, 100), 4);
  assert.ok(Math.abs(p.lastCorrection - 2) < 1e-9);
  assert.ok(Math.abs(p.render(1, 0)['pos.x'] - before['pos.x']) < 1e-9, 'no visible snap');
  assert.ok(Math.abs(p.render(1, 1000)['pos.x'] - p.pos['pos.x']) < 1e-3);
  // Halfway through a tick, halfway between the last two steps.
  assert.ok(Math.abs(p.render(0.5, 0)['pos.x'] - (p.pos['pos.x'] - 100 / 60)) < 1e-3);
  // A teleport is taken at once; the walls hold.
  p.reconcile(at(999, 900), 10);
  assert.deepEqual(p.render(1, 0), { 'pos.x': 999, 'pos.y': 900 });
  p.input(11, right);
  assert.equal(p.pos['pos.x'], 1000);
});

test('predicted angles correct the short way round', () => {
  const p = new OwnPredictor({ fields: ['hull'], angles: ['hull'], step: (s, input) => ({ hull: s.hull + input.turn }) });
  p.reconcile({ hull: 6.2 }, 0);
  p.input(1, { turn: 0.1 });
  p.reconcile({ hull: 0.02 }, 1); // 6.3 wrapped: the server agrees up to 0.0032 rad
  assert.ok(p.lastCorrection < 0.01, `correction ${p.lastCorrection}`);
  const r = p.render(1, 0).hull;
  assert.ok(r >= 0 && r < 2 * Math.PI);
});

test('the games\' rules: arena moves along the stick; skirmish drives, turns hull and turret', () => {
  const arena = { world_width: 1000, world_height: 1000, player_speed: 200 };
  const dt = 1 / 60;
  const at = (x, y) => ({ 'pos.x': x, 'pos.y': y });
  const d = arenaRule(at(500, 500), { move_x: 1, move_y: 1 }, dt, arena);
  assert.ok(Math.abs(Math.hypot(d['pos.x'] - 500, d['pos.y'] - 500) - 200 / 60) < 1e-9, 'diagonal is normalised');
  const half = arenaRule(at(500, 500), { move_x: 0, move_y: -0.5 }, dt, arena);
  assert.ok(Math.abs(500 - half['pos.y'] - 0.5 * 200 / 60) < 1e-9, 'short sticks keep their length');
  assert.deepEqual(arenaRule(at(999, 1), { move_x: 1, move_y: -1 }, dt, arena), at(1000, 0), 'the walls hold');

  assert.ok(Math.abs(turnToward(0.1, 6.2, 1) - (6.2)) < 1e-9, 'the short way round, across 0');
  assert.ok(Math.abs(turnToward(0, Math.PI / 2, 0.05) - 0.05) < 1e-12, 'at most max');
  const sk = { world_width: 1600, world_height: 1000, tank_speed: 120 };
  const tank = { 'pos.x': 100, 'pos.y': 100, hull: 0, turret: 0 };
  const s1 = skirmishStep(tank, { move_x: 0, move_y: 1, aim: Math.PI, fire: true }, dt, sk, { health: 100 });
  assert.ok(Math.abs(s1['pos.y'] - 102) < 1e-9 && s1['pos.x'] === 100);
  assert.ok(Math.abs(s1.hull - 3 / 60) < 1e-9, 'the hull turns toward the motion at 3 rad/s');
  assert.ok(Math.abs(s1.turret - (2 * Math.PI - 6 / 60)) < 1e-9 || Math.abs(s1.turret - 6 / 60) < 1e-9, 'the turret at 6 rad/s');
  assert.deepEqual(skirmishStep(tank, { move_x: 1, move_y: 0, aim: 1 }, dt, sk, { health: 0 }), tank, 'a destroyed tank stands still');
  assert.deepEqual(skirmishStep(tank, { move_x: 0.05, move_y: 0, aim: 0 }, dt, sk, { health: 5 }).hull, 0, 'no turn in the dead zone');
  // Through the predictor, wrapping angles.
  const p = new OwnPredictor(SKIRMISH_PREDICTOR);
  p.params = sk;
  p.reconcile({ ...tank, hull: 6.25, health: 100 }, 0);
  p.input(1, { move_x: 1, move_y: 0, aim: 0 });
  assert.ok(p.pos.hull > 6.25 || p.pos.hull < 0.1, `hull ${p.pos.hull}`);
});

// ---- status, backoff, rates -----------------------------------------------------------------

test('every close code has a message; only version, auth, wrong game and replaced stop retrying', () => {
  const stops = [CODES.VERSION_MISMATCH, CODES.UNAUTHORIZED, CODES.WRONG_GAME, CODES.REPLACED];
  for (const [name, code] of Object.entries(CODES)) {
    const d = describeClose(code, 'why', 'arena');
    assert.ok(d.message.length > 10, name);
    assert.equal(d.retry, !stops.includes(code), name);
  }
  assert.match(describeClose(CODES.ROOM_FULL, '', 'arena').message, /arena.*full/);
  assert.equal(describeClose(CODES.BAD_RESUME).dropResume, true);
  assert.match(describeClose(4999, 'x').message, /4999/);
});

test('backoff doubles, is capped, and is jittered', () => {
  assert.equal(backoffDelay(0, { random: () => 0 }), 250);
  assert.equal(backoffDelay(3, { random: () => 1 }), 4000);
  assert.equal(backoffDelay(50, { random: () => 1 }), 15000);
});

test('rate meters count the last second', () => {
  const m = new RateMeter();
  for (let i = 0; i < 120; i++) m.add(i * (1000 / 60), 100);
  const now = 119 * (1000 / 60);
  assert.ok(Math.abs(m.perSecond(now) - 60) <= 1);
  assert.equal(m.perSecond(now + 5000), 0);
});

// ---- the connection and the room against a fake server ----------------------------------------

/** A fake WebSocket: records what the client sends (decoded); the test plays the server. */
class FakeSocket {
  static all = [];
  constructor(url) {
    this.url = url;
    this.sent = [];
    this.readyState = 0;
    FakeSocket.all.push(this);
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  send(bytes) {
    this.sent.push(decodeClient(bytes));
  }
  deliver(nameOrBytes) {
    const bytes = typeof nameOrBytes === 'string' ? golden(nameOrBytes) : nameOrBytes;
    this.onmessage?.({ data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
  }
  close() {
    this.readyState = 3;
  }
  serverClose(code, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  last(type) {
    return this.sent.filter((m) => m.type === type).at(-1);
  }
}

/** Timers the test runs by hand. */
class FakeTimers {
  constructor() {
    this.pending = new Map();
    this.next = 1;
  }
  setTimeout(fn) {
    this.pending.set(this.next, fn);
    return this.next++;
  }
  clearTimeout(id) {
    this.pending.delete(id);
  }
  setInterval() {
    return this.next++;
  }
  clearInterval() {}
  runAll() {
    const fns = [...this.pending.values()];
    this.pending.clear();
    for (const fn of fns) fn();
  }
}

test('the connection says Hello with the game, resumes with the Welcome token, and stops on a version reject', () => {
  FakeSocket.all = [];
  const states = [];
  const timers = new FakeTimers();
  const conn = new Connection({
    url: 'ws://x/ws', room: 'arena', name: 'ann', game: 'skirmish', WebSocketImpl: FakeSocket, now: () => 1000, timers,
    onMessage: () => {}, onState: (s, info) => states.push([s, info.message]),
  });
  conn.start();
  try {
    const ws1 = FakeSocket.all[0];
    assert.equal(ws1.binaryType, 'arraybuffer');
    ws1.open();
    assert.deepEqual(ws1.sent[0], { type: 'Hello', version: PROTOCOL_VERSION, room: 'arena', name: 'ann', auth_token: null, resume_token: null, game: 'skirmish' });
    ws1.deliver('server_welcome');
    assert.equal(conn.state, 'playing');
    assert.equal(ws1.sent[1].type, 'Ping', 'pings at once for a first RTT');
    ws1.deliver('server_pong');
    assert.equal(conn.rttMs, 0, 'a clock that went backwards never gives a negative RTT');
    ws1.serverClose(CODES.GOING_AWAY, 'restart');
    assert.equal(conn.state, 'reconnecting');
    assert.match(states.at(-1)[1], /restarting/);
    timers.runAll(); // the retry
    const ws2 = FakeSocket.all[1];
    ws2.open();
    assert.equal(ws2.sent[0].resume_token, '3f1c0d9e8b7a65544332211000ffeedd');
    ws2.deliver('server_reject');
    ws2.serverClose(1006);
    assert.equal(conn.state, 'failed');
    assert.equal(conn.lastClose.code, CODES.VERSION_MISMATCH);
    assert.equal(FakeSocket.all.length, 2);
  } finally {
    conn.stop();
  }
});

function newRoom(opts = {}) {
  FakeSocket.all = [];
  const clock = { t: 10000 };
  const timers = new FakeTimers();
  const room = new Room({ url: 'ws://x/ws', room: 'arena', name: 'me', game: 'golden', WebSocketImpl: FakeSocket, now: () => clock.t, timers, ...opts });
  room.start();
  const ws = FakeSocket.all[0];
  ws.open();
  return { room, ws, clock, timers };
}

test('the room joins, decodes the game from the descriptor and keeps entities and state', () => {
  const { room, ws } = newRoom();
  try {
    const added = [];
    room.onAdd((e) => added.push(e.key));
    const welcomes = [];
    room.on('welcome', (w, resumed) => welcomes.push([w.game, resumed]));
    ws.deliver('server_welcome');
    assert.deepEqual(welcomes, [['golden', false]]);
    assert.equal(room.game, 'golden');
    assert.deepEqual(room.player, OWN);
    assert.deepEqual(room.params, { world_width: 1000, world_height: 750.5, speed: 3.25 });
    assert.deepEqual([...room.players.values()], ['ann', 'me']);
    ws.deliver('snapshot_full');
    assert.equal(room.tick, 100);
    assert.deepEqual(added, ['0:1', '1:1', '2:1', '3:1', '5:1', '7:1']);
    assert.equal(room.state.phase, 'playing');
    assert.equal(room.me.fields.ammo, 50);
    assert.equal(room.entities.get('7:1').fields.name, 'Zoë ☃');
    // No input flowing: the snapshot is acked at once.
    assert.deepEqual(ws.last('Ack'), { type: 'Ack', tick: 100 });
    const changes = [];
    room.me.onChange('vel.x', (v) => changes.push(v));
    ws.deliver('snapshot_delta_one_tick');
    assert.deepEqual(changes, [15]);
    assert.equal(room.ackedInputSeq, 11);
    assert.deepEqual(ws.last('Ack'), { type: 'Ack', tick: 101 });
    assert.equal(room.debug().checksumMismatches, 0);
  } finally {
    room.close();
  }
});

test('inputs carry the ack, quantise like the server, and feed the predictor', () => {
  const { room, ws, clock, timers } = newRoom();
  try {
    ws.deliver('server_welcome');
    ws.deliver('snapshot_full');
    room.predictor = { fields: ['pos.x'], step: (s, input, dt) => ({ 'pos.x': s['pos.x'] + input.move_x * dt * 60 }) };
    const acks = ws.sent.filter((m) => m.type === 'Ack').length;
    const seq = room.sendInput({ move_x: 0.25, move_y: -1, aim: Math.PI / 2, fire: true, weapon: 'rocket', say: 'hi' });
    assert.equal(seq, 1);
    const input = ws.last('Input');
    assert.deepEqual([input.seq, input.ack], [1, 100]);
    assert.equal(input.view, null, 'nothing drawn yet: no view time');
    assert.equal(Buffer.from(input.values).toString('hex'), goldenJson('values_input').hex, 'the same bytes as Rust');
    // Inputs are flowing: the next snapshot's ack waits for the next input...
    clock.t += 16;
    ws.deliver('snapshot_delta_one_tick');
    assert.equal(ws.sent.filter((m) => m.type === 'Ack').length, acks);
    // A frame drew others at some moment between the two snapshots: the next input says when.
    const t = room.renderTime(clock.t, 16);
    room.sendInput({ move_x: 0.5 });
    assert.deepEqual([ws.last('Input').seq, ws.last('Input').ack], [2, 101]);
    const ticks = room.interp.ticksAt(t);
    assert.ok(ticks >= 100 && ticks <= 101, `drawn at tick ${ticks}`);
    assert.deepEqual(ws.last('Input').view, viewTimeOf(ticks));
    assert.deepEqual(room.viewTime, viewTimeOf(ticks));
    timers.runAll();
    assert.equal(ws.sent.filter((m) => m.type === 'Ack').length, acks, '... which carried it');
    // The predictor started from the snapshot (input_seq 11 covers input 1), then stepped
    // with input 2 as quantised: 0.5 exactly.
    assert.equal(room.predicted['pos.x'], -2000 / 16 + 0.5);
    room.sendInput({ move_x: 1 });
    assert.equal(room.predicted['pos.x'], -2000 / 16 + 1.5);
    // An input array in field order works too; missing fields are defaults.
    room.sendInput([0, 0, 0, 0, 0]);
    assert.equal(ws.last('Input').seq, 4);
    // Actions by name with fields by name: the same bytes as Rust's.
    room.sendAction('buy', { item: 'boost', count: 3 });
    assert.deepEqual(ws.last('Action'), decodeClient(golden('client_action')));
    assert.throws(() => room.sendAction('fly'), /no action fly/);
  } finally {
    room.close();
  }
});

test('game and server events reach their listeners by name', () => {
  const { room, ws } = newRoom();
  try {
    ws.deliver('server_welcome');
    const got = [];
    room.onEvent('kill', (f) => got.push(['kill', f]));
    room.onEvent('*', (f, name) => got.push(['*', name]));
    room.on('join', (p) => got.push(['join', p.name]));
    room.on('chat', (c) => got.push(['chat', c.name, c.text]));
    room.on('leave', (p) => got.push(['leave', p.name]));
    room.on('notice', (t) => got.push(['notice', t]));
    ws.deliver('server_game_event_kill');
    ws.deliver('server_game_event_score');
    ws.deliver('server_event_chat');
    ws.deliver('server_event_left');
    ws.deliver('server_event_joined');
    ws.deliver('server_event_notice');
    assert.deepEqual(got, [
      ['kill', { killer: 'ann', victim: 'Zoë ☃' }], ['*', 'kill'], ['*', 'score'],
      ['chat', 'ann', 'hello'], ['leave', 'ann'], ['join', 'ann'], ['notice', 'restart in 5 min'],
    ]);
    const scores = [];
    room.onEvent('score', (f) => scores.push(f));
    ws.deliver('server_game_event_score');
    assert.deepEqual(scores, [{ team: 'draw', points: -7 }]);
  } finally {
    room.close();
  }
});

test('a checksum mismatch resyncs: a new connection resuming the same player', () => {
  const { room, ws, timers } = newRoom();
  try {
    ws.deliver('server_welcome');
    ws.deliver('snapshot_full');
    const bad = golden('snapshot_delta_one_tick').slice();
    // The checksum's last byte sits just before the delta: flip it.
    const s = decodeServer(bad);
    bad[bad.length - s.delta.length - 1] ^= 1;
    const resyncs = [];
    room.on('resync', (e) => resyncs.push(e.kind));
    ws.deliver(bad);
    assert.deepEqual(resyncs, ['checksum_mismatch']);
    assert.equal(room.debug().checksumMismatches, 1);
    assert.equal(room.connection.state, 'reconnecting');
    timers.runAll();
    const ws2 = FakeSocket.all[1];
    ws2.open();
    assert.equal(ws2.sent[0].resume_token, '3f1c0d9e8b7a65544332211000ffeedd');
    assert.equal(ws2.sent[0].game, 'golden');
    // Resumed: the entities live on (no remove, no add) and the full snapshot refreshes them.
    const churn = [];
    room.onAdd((e) => churn.push(`+${e.key}`));
    room.onRemove((e) => churn.push(`-${e.key}`));
    ws2.deliver('server_welcome');
    ws2.deliver('snapshot_full');
    assert.deepEqual(churn, []);
    assert.equal(room.tick, 100);
  } finally {
    room.close();
  }
});

test('a Welcome with another player (resume refused) starts the entities over', () => {
  const { room, ws } = newRoom();
  try {
    ws.deliver('server_welcome');
    ws.deliver('snapshot_full');
    assert.equal(room.me.fields.ammo, 50);
    const removed = [];
    room.onRemove((e) => removed.push(e.key));
    // The golden Welcome names player {3, 1}: bytes 2 and 3 are its index and version.
    const other = golden('server_welcome').slice();
    assert.deepEqual([other[2], other[3]], [3, 1]);
    other[2] = 5;
    ws.deliver(other);
    assert.deepEqual(room.player, { index: 5, version: 1 });
    assert.equal(removed.length, 6, 'every entity (and the room state) removed');
    assert.equal(room.me, null);
    assert.equal(room.tick, null);
  } finally {
    room.close();
  }
});

test('sample draws others interpolated and the own player predicted', () => {
  const { room, ws, clock } = newRoom();
  try {
    ws.deliver('server_welcome');
    room.predictor = { fields: ['pos.x', 'pos.y'], step: (s) => ({ 'pos.x': s['pos.x'] + 1, 'pos.y': s['pos.y'] }) };
    ws.deliver('snapshot_full');
    clock.t += 17;
    ws.deliver('snapshot_delta_one_tick');
    const t = (100 * 16667 + 101 * 16667) / 2 / 1000;
    const view = room.sample(t);
    assert.equal(view.tick, 100);
    assert.equal(view.state.motd, 'welcome');
    const ann = view.entities.find((e) => e.key === '1:1');
    assert.equal(ann.fields['pos.x'], 1001 / 16, 'halfway from 1000 to 1002 steps');
    assert.equal(ann.mine, false);
    room.sendInput({});
    const me = view.entities.find((e) => e.mine) && room.sample(t).entities.find((e) => e.mine);
    assert.equal(me.key, '3:1');
    assert.equal(me.fields.ammo, 49, 'the own entity is drawn at the present');
    // No time has passed in this tick (alpha 0): drawn at the step before the newest input.
    assert.equal(me.fields['pos.x'], -2000 / 16);
    clock.t += 1000 / 120;
    room.pump();
    assert.equal(room.sample(t).entities.find((e) => e.mine).fields['pos.x'], -2000 / 16, 'no inputSource: alpha stays 0');
  } finally {
    room.close();
  }
});

test('a room running its own input loop sends one input per tick from inputSource', () => {
  const { room, ws, clock } = newRoom();
  try {
    ws.deliver('server_welcome');
    let n = 0;
    room.inputSource = () => ({ move_x: (n++ % 2) * 0.5 });
    room.pump();
    clock.t += 1000 / 60 * 3 + 1;
    room.pump();
    assert.deepEqual(ws.sent.filter((m) => m.type === 'Input').map((m) => m.seq), [1, 2, 3]);
    // After a stall, at most 8 inputs catch up.
    clock.t += 10000;
    room.pump();
    assert.equal(ws.sent.filter((m) => m.type === 'Input').length, 3 + 8);
  } finally {
    room.close();
  }
});

// ---- cluster moves (MOVED, 4013) ------------------------------------------------------------

/** A server Reject as the Rust codec encodes it (checked against the golden one below). */
function rejectBytes(code, reason) {
  const w = new Writer();
  w.u8(1);
  w.varUint(code);
  w.string(reason);
  return w.finish();
}

const HOME = 'ws://home.example:8080/ws';
const NODE_B = 'ws://127.0.0.1:9002/ws';

/** A Connection to HOME with fake sockets and timers; states: [state, info]. */
function newConnection(opts = {}) {
  FakeSocket.all = [];
  const timers = new FakeTimers();
  const states = [];
  const clock = { t: 1000 };
  const conn = new Connection({
    url: HOME, room: 'arena', name: 'ann', game: 'skirmish', authToken: 'join-token', WebSocketImpl: FakeSocket,
    now: () => clock.t, timers, onMessage: () => {}, onState: (s, info) => states.push([s, info]), ...opts,
  });
  conn.start();
  return { conn, timers, states, clock };
}

/** The newest socket, opened; returns it. */
function openLatest() {
  const ws = FakeSocket.all.at(-1);
  ws.open();
  return ws;
}

test('a Reject is encoded here as Rust does, and MOVED is in the codes', () => {
  const g = goldenJson('server_reject').message.Reject;
  assert.deepEqual(rejectBytes(g.code, g.reason), golden('server_reject'));
  assert.equal(CODES.MOVED, 4013);
  assert.deepEqual(decodeServer(rejectBytes(CODES.MOVED, NODE_B)), { type: 'Reject', code: 4013, reason: NODE_B });
  assert.equal(describeClose(CODES.MOVED, NODE_B).retry, true);
});

test('movedTarget follows only absolute ws: and wss: URLs, and never from wss down to ws', () => {
  assert.equal(movedTarget(NODE_B, HOME), NODE_B);
  assert.equal(movedTarget(' wss://b.example:9443/ws ', HOME), 'wss://b.example:9443/ws');
  assert.equal(movedTarget('wss://b.example/ws', 'wss://a.example/ws'), 'wss://b.example/ws');
  assert.equal(movedTarget('ws://b.example/ws#x', HOME), 'ws://b.example/ws', 'no fragment');
  for (const bad of ['', 'http://b.example/ws', 'https://b.example/ws', 'javascript:alert(1)', '/ws', 'b.example:9002/ws', 'not a url', 'ws://user:pw@b.example/ws', null]) {
    assert.equal(movedTarget(bad, HOME), null, String(bad));
  }
  assert.equal(movedTarget('ws://b.example/ws', 'wss://a.example/ws'), null, 'a downgrade');
});

test('a MOVED reject at the handshake sends the same Hello to the node it names, at once', () => {
  const { conn, timers, states } = newConnection();
  try {
    const ws1 = openLatest();
    const hello = ws1.sent[0];
    assert.equal(hello.type, 'Hello');
    ws1.deliver(rejectBytes(CODES.MOVED, NODE_B));
    ws1.serverClose(CODES.MOVED, NODE_B);
    assert.equal(FakeSocket.all.length, 2, 'connected again at once');
    assert.equal(timers.pending.size, 0, 'no backoff timer');
    const ws2 = FakeSocket.all[1];
    assert.equal(ws2.url, NODE_B);
    assert.equal(conn.url, NODE_B);
    assert.equal(conn.homeUrl, HOME);
    assert.deepEqual([conn.redirects, conn.handoffs], [1, 0]);
    assert.equal(conn.lastClose.code, CODES.MOVED);
    assert.ok(!states.some(([s]) => s === 'reconnecting' || s === 'failed'), 'no failure shown');
    ws2.open();
    assert.deepEqual(ws2.sent[0], hello, 'the same Hello: room, name, game, join token');
    ws2.deliver('server_welcome');
    assert.equal(conn.state, 'playing');
    assert.equal(conn.movesInARow, 0);
    ws2.serverClose(CODES.GOING_AWAY, 'restart');
    timers.runAll();
    const ws3 = openLatest();
    assert.equal(ws3.url, HOME, 'an ordinary loss goes home');
    assert.equal(ws3.sent[0].resume_token, '3f1c0d9e8b7a65544332211000ffeedd');
    // A Reject whose close frame got lost (1006) is followed the same way.
    ws3.deliver(rejectBytes(CODES.MOVED, NODE_B));
    ws3.serverClose(1006);
    const ws4 = openLatest();
    assert.equal(ws4.url, NODE_B);
    assert.deepEqual(ws4.sent[0], { ...hello, resume_token: '3f1c0d9e8b7a65544332211000ffeedd' }, 'with the resume token');
    assert.deepEqual([conn.redirects, conn.handoffs], [2, 0]);
  } finally {
    conn.stop();
  }
});

test('a hand-off close while playing reconnects at once to the new node with the resume token', () => {
  const { room, ws } = newRoom({ url: HOME });
  try {
    const statuses = [];
    room.on('status', (s, info) => statuses.push([s, info]));
    const welcomes = [];
    room.on('welcome', (w, resumed) => welcomes.push(resumed));
    ws.deliver('server_welcome');
    ws.deliver('snapshot_full');
    const hello = ws.sent[0];
    assert.equal(hello.resume_token, null);
    statuses.length = 0;
    ws.serverClose(CODES.MOVED, 'wss://node-b.example:9443/ws');
    assert.equal(FakeSocket.all.length, 2, 'at once');
    const ws2 = FakeSocket.all[1];
    assert.equal(ws2.url, 'wss://node-b.example:9443/ws');
    assert.deepEqual([room.handoffs, room.redirects], [1, 0]);
    assert.equal(room.url, 'wss://node-b.example:9443/ws');
    assert.equal(room.homeUrl, HOME);
    assert.equal(room.connectionState, 'connecting');
    assert.deepEqual(statuses.map(([s]) => s), ['connecting'], 'straight to connecting: no failure, no countdown');
    assert.equal(room.status.message, MOVING_MESSAGE);
    assert.match(room.status.message, /moving to another server/i);
    assert.equal(room.status.moving, true);
    ws2.open();
    assert.deepEqual(ws2.sent[0], { ...hello, resume_token: '3f1c0d9e8b7a65544332211000ffeedd' });
    ws2.deliver('server_welcome');
    assert.deepEqual(welcomes, [false, true], 'the same player, resumed');
    assert.equal(room.connectionState, 'playing');
    assert.equal(room.status.moving, undefined);
    ws2.deliver('snapshot_full');
    assert.equal(room.tick, 100);
  } finally {
    room.close();
  }
});

test('more than 5 MOVEDs in a row without a Welcome fail: backoff, then the home URL', () => {
  const { conn, timers, states, clock } = newConnection();
  try {
    for (let i = 1; i <= MAX_MOVES; i++) {
      const ws = openLatest();
      ws.deliver(rejectBytes(CODES.MOVED, `ws://node-${i}.example/ws`));
      ws.serverClose(CODES.MOVED, `ws://node-${i}.example/ws`);
      assert.equal(FakeSocket.all.length, i + 1);
      assert.equal(FakeSocket.all[i].url, `ws://node-${i}.example/ws`);
    }
    assert.equal(MAX_MOVES, 5);
    assert.equal(conn.redirects, 5);
    const ws6 = openLatest();
    ws6.deliver(rejectBytes(CODES.MOVED, 'ws://node-6.example/ws'));
    ws6.serverClose(CODES.MOVED, 'ws://node-6.example/ws');
    assert.equal(FakeSocket.all.length, 6, 'not followed');
    assert.equal(conn.state, 'reconnecting');
    assert.ok(states.at(-1)[1].retryAt > clock.t, 'with backoff');
    assert.equal(timers.pending.size, 1);
    assert.match(conn.lastClose.message, /6 times/);
    assert.equal(conn.redirects, 5);
    assert.equal(conn.url, HOME);
    timers.runAll();
    const ws7 = openLatest();
    assert.equal(ws7.url, HOME, 'starts over from home');
    // The count starts over too: the next MOVED is followed.
    ws7.deliver(rejectBytes(CODES.MOVED, NODE_B));
    ws7.serverClose(CODES.MOVED, NODE_B);
    assert.equal(FakeSocket.all.at(-1).url, NODE_B);
    assert.equal(conn.redirects, 6);
  } finally {
    conn.stop();
  }
});

test('a MOVED to anything but a ws(s) URL is an ordinary failure with backoff', () => {
  for (const reason of ['http://node-b.example/ws', 'javascript:alert(1)', '', '/ws']) {
    const { conn, timers, states, clock } = newConnection();
    try {
      const ws1 = openLatest();
      ws1.deliver('server_welcome');
      ws1.serverClose(CODES.MOVED, reason);
      assert.equal(FakeSocket.all.length, 1, `${reason}: not followed`);
      assert.equal(conn.state, 'reconnecting', reason);
      assert.ok(states.at(-1)[1].retryAt > clock.t, `${reason}: with backoff`);
      assert.match(conn.lastClose.message, /cannot follow/);
      assert.deepEqual([conn.redirects, conn.handoffs], [0, 0]);
      timers.runAll();
      const ws2 = openLatest();
      assert.equal(ws2.url, HOME, reason);
      assert.equal(ws2.sent[0].resume_token, '3f1c0d9e8b7a65544332211000ffeedd', `${reason}: resumes`);
    } finally {
      conn.stop();
    }
  }
});

test('after a hand-off, a resync stays on the node and an ordinary loss goes back home', () => {
  const { conn, timers } = newConnection();
  try {
    const ws1 = openLatest();
    ws1.deliver('server_welcome');
    ws1.serverClose(CODES.MOVED, NODE_B);
    const ws2 = openLatest();
    assert.equal(ws2.url, NODE_B);
    ws2.deliver('server_welcome');
    assert.equal(conn.state, 'playing');
    // A client-side resync: the node is alive and holds the room.
    conn.resync('checksum mismatch');
    timers.runAll();
    const ws3 = openLatest();
    assert.equal(ws3.url, NODE_B);
    ws3.deliver('server_welcome');
    // The node dies: back to the page's own server, with backoff and the resume token.
    ws3.serverClose(1006);
    assert.equal(conn.state, 'reconnecting');
    assert.equal(FakeSocket.all.length, 3, 'not at once');
    assert.equal(conn.url, HOME);
    timers.runAll();
    const ws4 = openLatest();
    assert.equal(ws4.url, HOME);
    assert.equal(ws4.sent[0].resume_token, '3f1c0d9e8b7a65544332211000ffeedd');
    assert.deepEqual([conn.redirects, conn.handoffs], [0, 1]);
    // Home placed the room again: it stays there.
    ws4.deliver('server_welcome');
    assert.equal(conn.url, HOME);
  } finally {
    conn.stop();
  }
});

// ---- docs/protocol.md ------------------------------------------------------------------------

const doc = readFileSync(path.resolve(here, '../../docs/protocol.md'), 'utf8');
const hexBytes = (s) => Uint8Array.from(s.trim().split(/\s+/).map((h) => parseInt(h, 16)));
const fixed = (name, scale, min, max, predictor = { type: 'None' }) => ({ name, coding: { type: 'Fixed', scale, min, max, tolerance: 0 }, predictor, interp: 'None', visibility: 'Everyone' });
const number = (fields) => fields.map((f, id) => ({ interp: 'None', visibility: 'Everyone', predictor: { type: 'None' }, ...f, id }));
const descriptor = (types) => ({ game: 'doc', types: types.map(([name, fields], id) => ({ id, name, fields: number(fields) })), room_type: null, input: [], actions: [], events: [], params: [] });

test("docs/protocol.md's Input examples, with and without a view time, encode in this client", () => {
  const withView = /`(01 07 01 fb b0 04 01 fb ad 04 80 03 fe 01 7f)`/.exec(doc);
  const without = /`(01 07 01 fb b0 04 00 03 fe 01 7f)`/.exec(doc);
  assert.ok(withView && without, 'the examples are in the doc');
  const values = [0xfe, 0x01, 0x7f];
  const hex = (b) => Buffer.from(b).toString('hex');
  assert.equal(hex(encodeClient({ type: 'Input', seq: 7, ack: 1200, view: viewTimeOf(1197.5), values })), hex(hexBytes(withView[1])));
  assert.equal(hex(encodeClient({ type: 'Input', seq: 7, ack: 1200, view: null, values })), hex(hexBytes(without[1])));
});

test("docs/protocol.md's worked examples hold in this client", () => {
  // The arena delta: its table, message and checksums.
  const vel = (field) => ({ type: 'Velocity', field, num: 1, den: 1 });
  const body = () => [fixed('pos.x', 960, 0, 960000, vel(2)), fixed('pos.y', 960, 0, 960000, vel(3)), fixed('vel.x', 16, -4800, 4800), fixed('vel.y', 16, -4800, 4800)];
  const arena = new Plan(descriptor([['npc', body()], ['player', body()]]));
  const base = StateTable.fromEntries(arena, [
    [1, 0, 96000, 192000, 800, 0], [2, 0, 480000, 480000, 0, -1600], [3, 1, 9600, 9600, 0, 0], [4, 1, 240000, 720000, 0, 0],
  ].map(([index, type, ...values]) => ({ index, version: 1, type, values, strings: {} })));
  const section = doc.split('### Worked example: an arena delta')[1];
  const msgHex = section.split('```')[1];
  const msg = decodeServer(hexBytes(msgHex));
  assert.deepEqual([msg.tick, msg.baseline, msg.baseline2, msg.input_seq, msg.checksum], [103, 100, null, 42, 0xaa3a6325]);
  assert.equal(checksum(arena, base, { index: 3, version: 1 }), 0x0ddbc4e2);
  const now = applyDelta(arena, { index: 3, version: 1 }, { table: base, tick: 100, second: null }, 103, msg.delta);
  assert.deepEqual(now.entries(arena).map((e) => [e.index, ...e.values]), [
    [1, 98400, 192000, 800, 0], [2, 482400, 478400, 1200, 0], [3, 9600, 9600, 0, 0], [5, 480000, 960000, 0, -3200],
  ]);
  assert.equal(checksum(arena, now, { index: 3, version: 1 }), 0xaa3a6325);
  const fullHex = section.split('has the delta (51 bytes)\n')[1] ?? section.split('has the delta (51 bytes)')[1];
  const full = applyDelta(arena, null, null, 103, hexBytes(fullHex.split('(')[0].replace(/`/g, '')));
  assert.deepEqual(full.entries(arena), now.entries(arena));
  // One NPC, and the empty table.
  assert.equal(checksum(arena, plan.newTable(), null), 0x9955b2a6);
  const one = StateTable.fromEntries(arena, [{ index: 1, version: 1, type: 0, values: [96000, 192000, 800, 0], strings: {} }]);
  assert.equal(checksum(arena, one, null), 0x51ebbbc4);

  // Private fields: a tank whose ammo only its player sees.
  const tank = new Plan(descriptor([['tank', [
    { name: 'health', coding: { type: 'Int', min: 0, max: 100 } },
    { name: 'name', coding: { type: 'Str', max_bytes: 24 } },
    { name: 'ammo', coding: { type: 'Int', min: 0, max: 5 }, visibility: 'Owner' },
  ]]]));
  const own = { index: 4, version: 1 };
  const t10 = applyDelta(tank, own, null, 10, hexBytes('01 00 01 04 01 00 c8 01 03 61 6e 6e 00 01 04 04 0a'));
  assert.deepEqual(t10.entries(tank), [{ index: 4, version: 1, type: 0, values: [100, 3, 5], strings: { 1: 'ann' } }]);
  assert.equal(publicChecksum(tank, t10), 0x7b5ca4f5);
  assert.equal(ownerChecksum(tank, t10, own), 0xb88b0af4);
  assert.equal(checksum(tank, t10, own), 0xc3d7ae01);
  const t11 = applyDelta(tank, own, { table: t10, tick: 10, second: null }, 11, hexBytes('01 00 00 01 04 01 31 01 04 04 01'));
  assert.deepEqual(t11.entries(tank)[0].values, [75, 3, 4]);

  // The prediction examples.
  const fp = (extra) => ({ id: 0, kind: 0, modulus: 0, pred: PRED_VELOCITY, vfield: 1, num: 6, den: 5, ...extra });
  assert.equal(predict(fp(), [1000, 7], 0, 2, null, 0, 0), 1017);
  assert.equal(predict(fp(), [1000, -7], 0, 2, null, 0, 0), 983);
  const lin = fp({ pred: PRED_LINEAR, kind: KIND_ANGLE, modulus: 1024 });
  assert.equal(predict(lin, [4], 0, 3, [1020], 0, 2), 16);
  assert.equal(predict(fp({ pred: PRED_LINEAR }), [5], 0, 1, [10], 0, 3), 3);
  // Values: the skirmish kill event's example encodes the same.
  const kill = [{ name: 'killer', coding: { type: 'Str', max_bytes: 24 } }, { name: 'victim', coding: { type: 'Str', max_bytes: 24 } }];
  assert.equal(Buffer.from(encodeValues(kill, ['ann', 'bob'])).toString('hex'), '03616e6e03626f62');
  assert.equal(friendly({ type: 'Enum', variants: ['a', 'b'] }, 1), 'b');
});
