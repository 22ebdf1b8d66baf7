// Compiled, never run (tests/types.test.mjs: `tsc --noEmit -p tests/tsconfig.json`): the
// package's declarations (types/) used as a studio would, importing the package by name (the
// package resolves itself through its `exports`), with and without a game's declarations
// (`ticksync schema --ts GAME`: the reference games' checked-in ones). Every `@ts-expect-error`
// line must fail to compile: the types refuse what the client would not do.

import {
  CODES,
  OwnPredictor,
  PROTOCOL_VERSION,
  ProtocolError,
  Room,
  cleanName,
  cleanRoom,
  connect,
  defaultUrl,
  describeClose,
  keyOf,
} from 'ticksync-client';
import type {
  ConnectionState,
  Entity,
  GameEntity,
  PredictorSpec,
  RoomView,
  SimulatedNetwork,
  SimulateOptions,
  StatusInfo,
  SyncError,
  Value,
  Welcome,
} from 'ticksync-client';
import {
  Plan,
  decodeServer,
  encodeClient,
  encodeValues,
  decodeValues,
  descriptorHash,
  codeName,
  type Descriptor,
  type ServerMessage,
} from 'ticksync-client/protocol';
import { Page, describeSimulate, pageGame, pageParams, pageSimulate } from 'ticksync-client/page';
import { Controls } from 'ticksync-client/input';
import { Hud, formatMs } from 'ticksync-client/hud';
import { COLORS, View } from 'ticksync-client/view';
import type * as Skirmish from '../../games/skirmish/web/skirmish.js';
import type * as Arena from '../../games/arena/web/arena.js';

const expect = <T>(value: T): T => value;

// ---- untyped: a game known only at run time ------------------------------------------------------

const room = connect({ url: defaultUrl(), room: cleanRoom('lobby'), name: cleanName(' ann '), game: null });
expect<Room>(room);
room.onAdd((e) => {
  expect<string>(e.type);
  expect<string>(e.key);
  expect<Value>(e.fields['pos.x']);
  e.onChange('health', (value, previous, entity) => {
    expect<Value>(value);
    expect<Value>(previous);
    expect<string>(entity.key);
  });
  e.onChange('*', (field, value) => expect<[string, Value]>([field, value]));
});
room.onRemove((e) => console.log('gone', e.key));
room.onEvent('kill', (fields, name) => console.log(name, fields.killer));
room.onEvent('*', (fields, name) => console.log(name, fields));
room.on('status', (state, info) => {
  expect<ConnectionState>(state);
  expect<StatusInfo>(info);
  expect<number | undefined>(info.retryAt);
});
room.on('welcome', (w, resumed) => expect<[Welcome, boolean]>([w, resumed]));
room.on('snapshot', (tick) => expect<number>(tick));
room.on('join', (p) => expect<string>(p.name));
room.on('leave', (p) => expect<number>(p.entity.index));
room.on('chat', (c) => expect<string>(c.text));
room.on('notice', (text) => expect<string>(text));
room.on('resync', (e) => expect<SyncError['kind']>(e.kind));
// @ts-expect-error: no such room event
room.on('snapshots', () => {});
// @ts-expect-error: a snapshot's argument is its tick
room.on('snapshot', (tick: string) => tick);

room.inputSource = () => ({ move_x: 1, move_y: 0, aim: 0.5, fire: false });
const seq: number | null = room.sendInput({ move_x: 1 });
room.sendInput([1, 0, 0.5, true]);
const sent: boolean = room.sendAction('switch_team', {});
room.chat('gg');
room.pump();
room.predictor = {
  fields: ['pos.x', 'pos.y'],
  step(state, input, dt, params) {
    state['pos.x'] += Number(input.move_x ?? 0) * params.player_speed * dt;
  },
};
const predictor: OwnPredictor | null = room.predictor;
room.predictor = null;
const view: RoomView | null = room.sample(room.renderTime(performance.now()));
if (view) {
  for (const e of view.entities) {
    expect<boolean>(e.mine);
    expect<Value>(e.fields['pos.x']);
  }
}
expect<Record<string, Value> | null>(room.state);
expect<Map<string, Entity>>(room.entities);
expect<Entity | null>(room.me);
expect<Record<string, number>>(room.params);
expect<number | null>(room.tick);
expect<string | null>(room.game);
expect<number | null>(room.rttMs);
expect<ConnectionState>(room.connectionState);
expect<string>(room.status.message);
expect<[string, string, number, number]>([room.url, room.homeUrl, room.redirects, room.handoffs]);
expect<number>(room.ackedInputSeq + room.inputSeq);
expect<Record<string, number> | null>(room.predicted);
expect<number | undefined>(room.prediction?.errorP99);
expect<number | undefined>(room.viewTime?.frac);
expect<number>(room.interp.dryFrames);
expect<number>(room.stats.snapshots.perSecond(0));
expect<number>(room.connection.bytesIn.bytesPerSecond(0));
expect<number>(room.debug().resyncs);
room.deltaAccount = (typeId, fieldId, bytes) => void [typeId, fieldId, bytes];
// @ts-expect-error: read-only: the room's own getter
room.tick = 3;
// @ts-expect-error: options need a url
connect({ room: 'lobby', name: 'ann' });
// A simulated network: 75 ms one way plus up to 10, a 200 ms stall every 5 s.
const simulate: SimulateOptions = { latencyMs: 75, jitterMs: 10, stallMs: 200, stallEveryS: 5 };
const slow = connect({ url: 'ws://h/ws', room: 'r', name: 'n', simulate });
expect<SimulatedNetwork | null>(slow.simulate);
expect<number | undefined>(slow.simulate?.latencyMs);
connect({ url: 'ws://h/ws', room: 'r', name: 'n', simulate: null });
// @ts-expect-error: milliseconds are numbers
connect({ url: 'ws://h/ws', room: 'r', name: 'n', simulate: { latencyMs: '75' } });
slow.close();
room.close();

// ---- typed by a game's declarations (`ticksync schema --ts skirmish`) ---------------------------------

type SkirmishGame = {
  Entities: Skirmish.Entities;
  RoomState: Skirmish.RoomState;
  Input: Skirmish.Input;
  Actions: Skirmish.Actions;
  Events: Skirmish.Events;
  Params: Skirmish.Params;
};

const sk = connect<SkirmishGame>({ url: 'ws://localhost:8080/ws', room: 'lobby', name: 'ann', game: 'skirmish' });
expect<Room<SkirmishGame>>(sk);
sk.onEvent('kill', ({ killer, victim }) => expect<string>(`${killer} got ${victim}`));
sk.onEvent('match_end', (f) => expect<'draw' | 'red' | 'blue'>(f.winner));
sk.onEvent('*', (fields, name) => {
  if (name === 'kill') expect<string>(fields.killer);
  else if (name === 'match_end') expect<number>(fields.score_red);
});
// @ts-expect-error: skirmish has no such event
sk.onEvent('goal', () => {});
// @ts-expect-error: a kill has no score
sk.onEvent('kill', (f) => f.score_red);
sk.onAdd((e) => {
  // The room state comes here too, its `type` the room type's name (a string the game's
  // declarations do not name): a type test leaves it in.
  if (e.type === 'shell') expect<Skirmish.Shell | Skirmish.Match>(e.fields);
});
for (const e of sk.entities.values()) {
  if (e.type === 'tank') {
    expect<number>(e.fields.hull);
    expect<number | undefined>(e.fields.ammo); // private: only on the own tank
    e.onChange('health', (v, previous) => expect<number>(v - previous));
  } else {
    expect<'shell'>(e.type);
    // @ts-expect-error: shells have no health
    e.fields.health;
  }
}
const me = sk.me;
if (me && me.type === 'tank') expect<number>(me.fields.ammo); // the own tank's private fields are there
const s = sk.state;
if (s) expect<'warmup' | 'playing' | 'ended'>(s.phase);
expect<number>(sk.params.tank_speed);
// @ts-expect-error: not a skirmish param
sk.params.player_speed;
sk.inputSource = () => ({ move_x: 1, move_y: 0, aim: 0.5, fire: false });
sk.sendInput({ fire: true });
// @ts-expect-error: fire is a boolean
sk.sendInput({ fire: 1 });
// @ts-expect-error: not an input field
sk.sendInput({ jump: true });
sk.sendAction('switch_team');
// @ts-expect-error: skirmish has no such action
sk.sendAction('surrender');
const skirmishPredictor: PredictorSpec<SkirmishGame> = {
  fields: ['pos.x', 'pos.y', 'hull', 'turret'],
  angles: ['hull', 'turret'],
  step(state, input, dt, params, entity: Partial<Skirmish.Tank>) {
    if (entity.health === 0) return state;
    return { ...state, 'pos.x': state['pos.x'] + input.move_x * params.tank_speed * dt, turret: input.aim };
  },
};
sk.predictor = skirmishPredictor;
const skView = sk.sample(sk.renderTime());
if (skView) {
  for (const e of skView.entities) {
    if (e.type === 'tank' && e.mine) expect<number>(e.fields.reload);
    if (e.type === 'tank' && !e.mine) expect<number | undefined>(e.fields.reload);
  }
  if (skView.state) expect<number>(skView.state.time_left);
}

// Arena: no room state, no actions, no events.
type ArenaGame = { Entities: Arena.Entities; RoomState: Arena.RoomState; Input: Arena.Input; Params: Arena.Params };
const arena = connect<ArenaGame>({ url: 'ws://localhost:8080/ws', room: 'a', name: 'b', game: 'arena' });
expect<null>(arena.state);
expect<null>(arena.stateEntity);
arena.onAdd((e) => expect<'npc' | 'player'>(e.type));
// Events not declared: untyped.
arena.onEvent('anything', (f) => expect<Record<string, Value>>(f));

// A game typed only in part.
const partial = connect<{ Params: { world_width: number } }>({ url: 'ws://h/ws', room: 'r', name: 'n' });
expect<number>(partial.params.world_width);
expect<Record<string, Value> | null>(partial.state);

// ---- the rest of the package's main module -------------------------------------------------------

expect<4>(PROTOCOL_VERSION);
expect<4013>(CODES.MOVED);
expect<string>(keyOf({ index: 1, version: 2 }));
const close = describeClose(CODES.ROOM_FULL, 'full', 'lobby');
expect<[string, boolean, number, boolean]>([close.message, close.retry, close.minDelayMs, close.dropResume]);
expect<string>(defaultUrl({ protocol: 'https:', host: 'example.com' }));
try {
  room.sendAction('nope');
} catch (e) {
  if (e instanceof ProtocolError) expect<string>(e.kind);
}
const own = new OwnPredictor({ fields: ['x'], step: (st) => ({ x: (st.x ?? 0) + 1 }) }, { smoothingMs: 50 });
own.input(1, {});
expect<Record<string, number> | null>(own.render(0.5, 16));
const entity: GameEntity | undefined = room.entities.get('1:1');
void entity;

// ---- protocol ----------------------------------------------------------------------------------

const msg: ServerMessage = decodeServer(new Uint8Array([0]));
if (msg.type === 'Welcome') {
  const d: Descriptor = msg.schema;
  const plan = new Plan(d);
  expect<number>(descriptorHash(d));
  const bytes = encodeValues(plan.input, [1, 0, true]);
  expect<Array<number | string>>(decodeValues(plan.input, bytes));
} else if (msg.type === 'Snapshot') {
  expect<Uint8Array>(msg.delta);
}
expect<Uint8Array>(encodeClient({ type: 'Ping', client_time_us: 10n }));
expect<Uint8Array>(encodeClient({ type: 'Input', seq: 1, ack: 2, view: { tick: 1, frac: 128 }, values: [] }));
expect<Uint8Array>(encodeClient({ type: 'Hello', version: PROTOCOL_VERSION, room: 'r', name: 'n' }));
// @ts-expect-error: not a client message
encodeClient({ type: 'Welcome' });
expect<'room_full' | 'other' | string>(codeName(4002));

// ---- the page kit --------------------------------------------------------------------------------

export function start(): void {
  const game = pageGame('skirmish');
  const params = pageParams('lobby');
  expect<string | null>(params.token);
  const sim = pageSimulate();
  expect<SimulatedNetwork | null>(sim);
  expect<string>(describeSimulate(pageSimulate('?latency=75&jitter=10')));
  const page = new Page<SkirmishGame>({ game, defaultRoom: game });
  const canvas = document.getElementById('view') as HTMLCanvasElement;
  class Renderer extends View {
    draw(v: RoomView<SkirmishGame> | null, banner: string) {
      this.background();
      for (const e of v ? v.entities : []) {
        if (e.type !== 'tank') continue;
        const p = this.toScreen(e.fields['pos.x'], e.fields['pos.y']);
        this.label(page.nameOf(e.id) || e.fields.name, p.x, p.y, COLORS.label);
      }
      this.banner(banner);
    }
  }
  const renderer = new Renderer(canvas, { size: () => ({ width: 800, height: 600 }) });
  const controls = new Controls(canvas, { drag: false, aim: true });
  page.room.inputSource = () => {
    const d = controls.direction();
    return { move_x: d.x, move_y: d.y, fire: controls.firing };
  };
  page.room.on('welcome', () => renderer.setWorld(page.room.params.world_width, page.room.params.world_height));
  page.startHud(() => [['time left', formatMs(page.stats().rttMs)], ['players', page.room.players.size]]);
  page.run((v, now) => renderer.draw(v, page.banner(now)));
  const hook = page.installDebugHook({
    get lastInput() {
      return controls.direction();
    },
  });
  expect<number>(hook.lastInput.x);
  expect<number>(hook.tick ?? 0);
  expect<SimulatedNetwork | null>(hook.simulated);
  expect<SimulatedNetwork | null>(page.simulate);
  expect<number>(hook.interpolation.frames + hook.interpolation.dryFrames);
  expect<number | null>(hook.prediction && hook.prediction.responseFramesMax);
  expect<boolean>(hook.netGraph.visible);
  page.netGraph.toggle(true);
  const hud = new Hud(document.createElement('div'), document.createElement('div'));
  hud.update([['state', 'playing']], 'playing');
  hud.event('hello', 'kill');
}
