// The page: joins a room, keeps the world from snapshots, sends inputs every tick, draws.
//
// Data flow: net.js delivers decoded messages; snapshots go through the SnapshotRing (delta
// apply + checksum) into the Interpolator (other entities, drawn ~100 ms in the past) and the
// Predictor (own player, drawn in the present); a fixed 60 Hz accumulator sends inputs; a
// requestAnimationFrame loop draws. `window.ticksync` exposes the state for tests and debugging.
import { axisToWire, dequantize, MAX_PLAYER_NAME_BYTES, MAX_ROOM_NAME_BYTES } from './protocol.js';
import { Connection } from './net.js';
import { SnapshotRing, SyncError } from './snapshots.js';
import { Interpolator } from './interp.js';
import { Predictor } from './predict.js';
import { RateMeter } from './stats.js';
import { Controls } from './input.js';
import { Renderer } from './render.js';
import { Hud } from './hud.js';

// ---- who and where -----------------------------------------------------------------------

const params = new URLSearchParams(location.search);
const room = cleanRoom(params.get('room')) || 'arena';
const name = cleanName(params.get('name')) || `player-${1000 + Math.floor(Math.random() * 9000)}`;
const wsUrl = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;

/** Room names on the wire: 1-32 of A-Z a-z 0-9 _ - (protocol limits). */
function cleanRoom(s) {
  return (s || '').replace(/[^A-Za-z0-9_-]/g, '').slice(0, MAX_ROOM_NAME_BYTES);
}

/** Player names: no control characters, at most 24 bytes of UTF-8, not blank. */
function cleanName(s) {
  let out = '';
  const enc = new TextEncoder();
  for (const ch of (s || '').replace(/\p{Cc}/gu, '').trim()) {
    if (enc.encode(out + ch).length > MAX_PLAYER_NAME_BYTES) break;
    out += ch;
  }
  return out.trim();
}

// ---- game state --------------------------------------------------------------------------

let rules = { speed: 200, width: 1000, height: 1000, dt: 1 / 60 };
let tickMs = 1000 / 60;
let me = null; // own EntityId
const roster = new Map(); // "index:version" -> name
const ring = new SnapshotRing();
const interp = new Interpolator();
let predictor = new Predictor(rules);
let latest = null; // {tick, table, inputSeq}
const snapMeter = new RateMeter();
let seq = 0;
let checksumMismatches = 0;
let resyncs = 0;
let stateInfo = { message: 'Connecting…' };

const key = (id) => `${id.index}:${id.version}`;
const nameOf = (index, version) => roster.get(`${index}:${version}`) || '';

const canvas = document.getElementById('view');
const renderer = new Renderer(canvas);
const controls = new Controls(canvas);
const hud = new Hud(document.getElementById('hud'), document.getElementById('feed'));

const conn = new Connection({
  url: wsUrl,
  room,
  name,
  // A join token from the studio's backend, when the server requires one (docs/security.md).
  authToken: params.get('token') || null,
  onMessage,
  onState(state, info) {
    stateInfo = info;
    if (state !== 'playing') latest = null;
  },
});

function onMessage(msg) {
  switch (msg.type) {
    case 'Welcome': return welcome(msg);
    case 'Snapshot': return snapshot(msg);
    case 'Event': return event(msg.event);
    default: return undefined; // Pong: net.js measures RTT; Reject: net.js reports it on close
  }
}

function welcome(w) {
  const resumed = me !== null && me.index === w.player.index && me.version === w.player.version;
  me = w.player;
  rules = { speed: w.player_speed, width: w.world_width, height: w.world_height, dt: 1 / w.tick_rate };
  tickMs = 1000 / w.tick_rate;
  roster.clear();
  for (const p of w.players) roster.set(key(p.entity), p.name);
  ring.clear();
  interp.reset();
  predictor = new Predictor(rules);
  // A resumed player keeps counting: the server ignores seqs it has already seen.
  if (!resumed) seq = 0;
  latest = null;
  acc = 0;
  lastStep = performance.now();
  renderer.setWorld(w.world_width, w.world_height);
  hud.event(resumed ? `Reconnected to ${w.room}` : `Joined ${w.room} as ${nameOf(me.index, me.version) || name}`);
}

function snapshot(s) {
  const now = performance.now();
  snapMeter.add(now);
  let table;
  try {
    table = ring.apply(s);
  } catch (e) {
    if (!(e instanceof SyncError)) throw e;
    if (e.kind === 'checksum_mismatch') checksumMismatches++;
    resyncs++;
    console.warn(`ticksync: ${e.message}; resynchronising`);
    conn.resync(e.kind.replace('_', ' '));
    return;
  }
  conn.send({ type: 'Ack', tick: s.tick });
  latest = { tick: s.tick, table, inputSeq: s.input_seq };
  interp.push(s.server_time_us / 1000, s.tick, table, now);
  const mine = me && table.get(me);
  if (mine) predictor.reconcile({ x: dequantize(mine.x), y: dequantize(mine.y) }, s.input_seq);
}

function event(e) {
  switch (e.type) {
    case 'PlayerJoined':
      roster.set(key(e.entity), e.name);
      hud.event(`${e.name} joined`);
      break;
    case 'PlayerLeft':
      hud.event(`${nameOf(e.entity.index, e.entity.version) || 'a player'} left`);
      roster.delete(key(e.entity));
      break;
    case 'Chat':
      hud.event(`${nameOf(e.from.index, e.from.version) || '?'}: ${e.text}`);
      break;
    case 'Notice':
      hud.event(`Notice: ${e.text}`);
      break;
  }
}

// ---- the fixed-rate input loop -------------------------------------------------------------

let acc = 0;
let lastStep = performance.now();

/** Sends one Input per elapsed tick; called from a timer and from every frame. */
function pump() {
  const now = performance.now();
  if (conn.state !== 'playing') {
    acc = 0;
    lastStep = now;
    return;
  }
  acc += now - lastStep;
  lastStep = now;
  let steps = 0;
  while (acc >= tickMs) {
    acc -= tickMs;
    // After a stall (a background tab) drop the lost time instead of a burst of inputs.
    if (++steps > 8) {
      acc = 0;
      break;
    }
    const dir = controls.direction();
    const dx = axisToWire(dir.x);
    const dy = axisToWire(dir.y);
    seq += 1;
    if (conn.send({ type: 'Input', seq, dx, dy, buttons: 0 })) predictor.input(seq, dx, dy);
  }
}

setInterval(pump, 1000 / 60);

// ---- drawing -------------------------------------------------------------------------------

let lastFrame = performance.now();
let lastRenderTime = 0;
let drawnMe = null; // where the own player was last drawn (world units), for the debug hook

function frame() {
  pump();
  const now = performance.now();
  const elapsed = now - lastFrame;
  lastFrame = now;
  const playing = conn.state === 'playing' && latest !== null;
  const t = interp.renderTime(now, elapsed);
  lastRenderTime = t;
  drawnMe = playing ? predictor.renderPosition(acc / tickMs, elapsed) : null;
  renderer.draw({
    entities: (fn) => { if (playing) interp.sample(t, fn); },
    me: playing ? me : null,
    mePos: drawnMe,
    nameOf,
    drag: controls.drag,
    banner: banner(now),
  });
  requestAnimationFrame(frame);
}

function banner(now) {
  switch (conn.state) {
    case 'playing':
      return latest ? '' : 'Waiting for the first snapshot…';
    case 'reconnecting': {
      const secs = Math.max(0, Math.ceil(((stateInfo.retryAt ?? now) - now) / 1000));
      return `${stateInfo.message}\nReconnecting in ${secs} s…`;
    }
    case 'failed':
      return stateInfo.message;
    default:
      return `${stateInfo.message || 'Connecting…'}\nroom ${room} · ${name}`;
  }
}

function hudStats(now = performance.now()) {
  return {
    state: conn.state,
    room,
    rttMs: conn.rttMs,
    snapshotsPerSec: snapMeter.perSecond(now),
    kbPerSec: conn.bytesIn.bytesPerSecond(now) / 1000,
    entities: latest ? latest.table.len : 0,
    players: roster.size,
    delayMs: interp.delayMs,
  };
}

setInterval(() => hud.update(hudStats()), 250);

// ---- debug hook (tests read it) ------------------------------------------------------------

window.ticksync = {
  get state() { return conn.state; },
  get room() { return room; },
  get name() { return name; },
  get player() { return me && { index: me.index, version: me.version }; },
  /** Entities of the latest snapshot, positions in world units. */
  entities() {
    const out = [];
    latest?.table.forEach((index, version, kind, x, y) => {
      out.push({ id: { index, version }, kind, x: dequantize(x), y: dequantize(y) });
    });
    return out;
  },
  get players() { return [...roster].map(([k, n]) => { const [index, version] = k.split(':').map(Number); return { entity: { index, version }, name: n }; }); },
  get hud() { const s = hudStats(); delete s.state; delete s.room; return s; },
  get tick() { return latest ? latest.tick : null; },
  get inputSeq() { return seq; },
  get ackedInputSeq() { return latest ? latest.inputSeq : 0; },
  get predicted() { return predictor.pos && { ...predictor.pos }; },
  /** Where the own player was drawn in the last frame (prediction plus smoothing). */
  get drawn() { return drawnMe && { ...drawnMe }; },
  /** The interpolation buffer: its delay, target, jitter, and how far snapshots reach past
   * the render time (below 0: it ran dry and entities froze). */
  get interpolation() {
    return { delayMs: interp.delayMs, targetMs: interp.targetDelayMs, jitterMs: interp.jitterMs, aheadMs: interp.bufferedAhead(lastRenderTime) };
  },
  get checksumMismatches() { return checksumMismatches; },
  get resyncs() { return resyncs; },
  get lastClose() { return conn.lastClose; },
  get message() { return stateInfo.message || ''; },
};

conn.start();
requestAnimationFrame(frame);
