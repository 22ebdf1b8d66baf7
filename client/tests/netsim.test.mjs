// The simulated network of net.js (`connect({simulate})`, `?latency=&jitter=&stall=`): latency
// and jitter one way in each direction, order kept, stalls holding both directions, times taken
// at delivery (so the RTT includes the simulated latency), a bounded queue, every connection
// behaviour (Reject before its close, MOVED, resync) intact, and nothing at all when off. Against
// a fake WebSocket and a fake clock whose timers fire when it is advanced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

import { CODES, Writer, decodeClient, decodeServer } from '../src/protocol.js';
import { Connection, MAX_SIMULATED_QUEUE, normalizeSimulate } from '../src/net.js';
import { Room } from '../src/ticksync.js';
import { describeSimulate, pageSimulate } from '../src/page.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const golden = (name) => new Uint8Array(readFileSync(path.resolve(here, `../../protocol/golden/${name}.bin`)));

/** A clock in ms with timers that fire, in due order, as it is advanced. */
class Clock {
  constructor(t = 1000) {
    this.t = t;
    this.timers = new Map(); // id -> {at, fn, every}
    this.next = 1;
    this.timeoutsSet = 0;
  }
  now = () => this.t;
  setTimeout(fn, ms = 0) {
    this.timeoutsSet++;
    this.timers.set(this.next, { at: this.t + Math.max(0, ms), fn, every: 0 });
    return this.next++;
  }
  clearTimeout(id) {
    this.timers.delete(id);
  }
  setInterval(fn, ms) {
    this.timers.set(this.next, { at: this.t + ms, fn, every: ms });
    return this.next++;
  }
  clearInterval(id) {
    this.timers.delete(id);
  }
  /** Timeouts pending (intervals excepted). */
  get pendingTimeouts() {
    return [...this.timers.values()].filter((x) => !x.every).length;
  }
  advance(ms) {
    const end = this.t + ms;
    for (;;) {
      let id = null;
      let best = null;
      for (const [k, x] of this.timers) if (x.at <= end && (best === null || x.at < best.at)) [id, best] = [k, x];
      if (best === null) break;
      this.t = Math.max(this.t, best.at);
      if (best.every) best.at += best.every;
      else this.timers.delete(id);
      best.fn();
    }
    this.t = end;
  }
}

/** A fake WebSocket: records what the client sends (decoded, with the clock's time). */
class FakeSocket {
  static all = [];
  static clock = null;
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
    const msg = decodeClient(bytes);
    this.sent.push({ at: FakeSocket.clock.t, msg });
    this.onSent?.(msg);
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
  msgs(type) {
    return this.sent.filter((s) => s.msg.type === type);
  }
}

/** A server Pong echoing `clientTimeUs`. */
function pongBytes(clientTimeUs, serverTimeUs = 0) {
  const w = new Writer();
  w.u8(3);
  w.varUint(clientTimeUs);
  w.varUint(serverTimeUs);
  return w.finish();
}

function rejectBytes(code, reason) {
  const w = new Writer();
  w.u8(1);
  w.varUint(code);
  w.string(reason);
  return w.finish();
}

/** A Connection with fake sockets and clock; received: [{at, msg}]. */
function newConnection(simulate, opts = {}) {
  FakeSocket.all = [];
  const clock = new Clock();
  FakeSocket.clock = clock;
  const received = [];
  const states = [];
  const conn = new Connection({
    url: 'ws://home.example/ws', room: 'arena', name: 'ann', game: 'skirmish', WebSocketImpl: FakeSocket,
    now: clock.now, timers: clock, simulate,
    onMessage: (msg) => received.push({ at: clock.t, msg }), onState: (s, info) => states.push([s, info]), ...opts,
  });
  conn.start();
  const ws = FakeSocket.all[0];
  ws.open();
  return { conn, clock, ws, received, states };
}

test('pong bytes made here decode as a Pong', () => {
  assert.deepEqual(decodeServer(pongBytes(5000000123, 61000)), { type: 'Pong', client_time_us: 5000000123, server_time_us: 61000 });
});

test('off (no simulate, or nothing to simulate): synchronous as before, no queue, no timer', () => {
  for (const simulate of [null, undefined, {}, { latencyMs: 0, jitterMs: 0 }, { stallMs: 0, stallEveryS: 5 }]) {
    const { conn, clock, ws, received } = newConnection(simulate);
    try {
      assert.equal(conn.simulate, null);
      assert.equal(conn.link, null);
      const timeouts = clock.timeoutsSet;
      assert.equal(ws.msgs('Hello').length, 1, 'Hello at once');
      ws.deliver('server_welcome');
      assert.equal(received.length, 1, 'delivered synchronously');
      assert.equal(conn.state, 'playing');
      assert.equal(ws.msgs('Ping').length, 1, 'the first Ping at once');
      ws.deliver(pongBytes(Math.round(clock.t * 1000)));
      assert.equal(conn.rttMs, 0);
      assert.equal(clock.timeoutsSet, timeouts, 'no timer set');
      assert.equal(clock.pendingTimeouts, 0);
    } finally {
      conn.stop();
    }
  }
});

test('the option is checked: negative, NaN, absurd values and a stall longer than its period throw', () => {
  assert.deepEqual(normalizeSimulate({ latencyMs: 75, jitterMs: 10 }), { latencyMs: 75, jitterMs: 10, stallMs: 0, stallEveryS: 0 });
  assert.deepEqual(normalizeSimulate({ stallMs: 200, stallEveryS: 5 }), { latencyMs: 0, jitterMs: 0, stallMs: 200, stallEveryS: 5 });
  for (const bad of [{ latencyMs: -1 }, { latencyMs: NaN }, { jitterMs: 10001 }, { latencyMs: '75' }, { stallMs: 200 }, { stallMs: 5000, stallEveryS: 5 }, { stallMs: 10, stallEveryS: 4000 }]) {
    assert.throws(() => normalizeSimulate(bad), RangeError, JSON.stringify(bad));
  }
  assert.throws(() => normalizeSimulate(75), TypeError);
  assert.throws(() => new Room({ url: 'ws://x/ws', room: 'r', name: 'n', simulate: { latencyMs: -5 } }), RangeError);
});

test('latency and jitter: every message each way is held latency + [0, jitter] ms, in order', () => {
  const LAT = 50;
  const JIT = 40;
  const { conn, clock, ws, received } = newConnection({ latencyMs: LAT, jitterMs: JIT });
  try {
    assert.deepEqual(conn.simulate, { latencyMs: LAT, jitterMs: JIT, stallMs: 0, stallEveryS: 0 });
    assert.equal(ws.msgs('Hello').length, 0, 'Hello is on its way');
    clock.advance(LAT - 1);
    assert.equal(ws.msgs('Hello').length, 0, 'not before the latency');
    clock.advance(JIT + 1);
    assert.equal(ws.msgs('Hello').length, 1, 'within latency + jitter');
    ws.deliver('server_welcome');
    assert.equal(conn.state, 'connecting', 'the Welcome is on its way');
    clock.advance(LAT + JIT);
    assert.equal(conn.state, 'playing');

    // 300 messages each way, one per ms: delivered in order, each latency..latency+jitter late
    // except for waiting behind the one before it (never earlier than that one).
    const sentAt = new Map();
    const recvAt = new Map();
    const base = ws.sent.length;
    const received0 = received.length;
    for (let i = 1; i <= 300; i++) {
      conn.send({ type: 'Ping', client_time_us: i });
      sentAt.set(i, clock.t);
      ws.deliver(pongBytes(i));
      recvAt.set(i, clock.t);
      clock.advance(1);
    }
    clock.advance(LAT + JIT + 1);
    const out = ws.sent.slice(base).filter((s) => s.msg.type === 'Ping' && s.msg.client_time_us <= 300);
    const inn = received.slice(received0).filter((r) => r.msg.type === 'Pong' && r.msg.client_time_us <= 300);
    for (const [list, key, at] of [[out, (s) => s.msg.client_time_us, sentAt], [inn, (r) => r.msg.client_time_us, recvAt]]) {
      assert.deepEqual(list.map(key), [...Array(300).keys()].map((i) => i + 1), 'all, in order');
      let prev = -Infinity;
      let spread = 0;
      for (const x of list) {
        const delay = x.at - at.get(key(x));
        assert.ok(delay >= LAT, `never earlier than the latency (${delay})`);
        assert.ok(x.at >= prev, 'never before the one sent before it');
        if (x.at > prev) assert.ok(delay <= LAT + JIT, `at most latency + jitter unless queued behind (${delay})`);
        prev = x.at;
        spread = Math.max(spread, delay - LAT);
      }
      assert.ok(spread > JIT / 2, `the jitter is used (${spread})`);
    }
    assert.equal(clock.pendingTimeouts, 0, 'empty queues leave no timer');
  } finally {
    conn.stop();
  }
});

test('the RTT measured through a simulated link includes the latency both ways', () => {
  const LAT = 75;
  const { conn, clock, ws } = newConnection({ latencyMs: LAT, jitterMs: 10 }, { random: () => 0.5 });
  try {
    // The server answers each Ping the moment it arrives (a real round trip of 0).
    ws.onSent = (msg) => {
      if (msg.type === 'Ping') ws.deliver(pongBytes(msg.client_time_us));
    };
    clock.advance(LAT + 5);
    ws.deliver('server_welcome');
    clock.advance(LAT + 5);
    assert.equal(conn.state, 'playing');
    assert.equal(conn.rttMs, null);
    clock.advance(2 * (LAT + 5));
    assert.equal(conn.rttMs, 2 * (LAT + 5), 'latency + jitter sample, both ways');
    assert.ok(conn.rttMs >= 2 * LAT);
    const pings = ws.msgs('Ping').length;
    clock.advance(3000);
    assert.ok(ws.msgs('Ping').length >= pings + 3, 'pings go on every second');
    assert.equal(conn.rttMs, 2 * (LAT + 5));
  } finally {
    conn.stop();
  }
});

test('a stall holds both directions until it ends, then delivers in order', () => {
  // 200 ms every 1 s, the first one 1 s after the start (t = 1000): [2000, 2200), [3000, 3200)...
  const { conn, clock, ws, received } = newConnection({ latencyMs: 10, stallMs: 200, stallEveryS: 1 });
  try {
    clock.advance(10);
    assert.equal(ws.msgs('Hello').length, 1);
    ws.deliver('server_welcome');
    clock.advance(10);
    assert.equal(conn.state, 'playing');
    clock.advance(2050 - clock.t); // into the stall at 2000
    const mine = (list) => list.filter((x) => x.msg.client_time_us < 1000); // not the periodic pings
    const before = mine(ws.sent).length;
    const got = mine(received).length;
    for (let i = 1; i <= 5; i++) {
      conn.send({ type: 'Ping', client_time_us: 100 + i });
      ws.deliver(pongBytes(100 + i));
      clock.advance(20);
    }
    clock.advance(2199 - clock.t);
    assert.equal(mine(ws.sent).length, before, 'nothing goes out during the stall');
    assert.equal(mine(received).length, got, 'nothing comes in during the stall');
    clock.advance(1);
    assert.deepEqual(mine(ws.sent).slice(before).map((s) => [s.at, s.msg.client_time_us]), [101, 102, 103, 104, 105].map((n) => [2200, n]));
    assert.deepEqual(mine(received).slice(got).map((r) => [r.at, r.msg.client_time_us]), [101, 102, 103, 104, 105].map((n) => [2200, n]));
    // Between stalls: the latency only.
    conn.send({ type: 'Ping', client_time_us: 200 });
    clock.advance(10);
    assert.equal(mine(ws.sent).at(-1).msg.client_time_us, 200);
    assert.equal(mine(ws.sent).at(-1).at, 2210);
    // A message due just before the next stall goes; one due inside waits for its end.
    clock.advance(2985 - clock.t);
    conn.send({ type: 'Ping', client_time_us: 201 }); // due 2995
    clock.advance(10);
    conn.send({ type: 'Ping', client_time_us: 202 }); // due 3005: in the stall
    clock.advance(50);
    assert.deepEqual(mine(ws.sent).slice(-2).map((s) => [s.at, s.msg.client_time_us]), [[2210, 200], [2995, 201]]);
    clock.advance(3200 - clock.t);
    assert.deepEqual(mine(ws.sent).slice(-1).map((s) => [s.at, s.msg.client_time_us]), [[3200, 202]]);
  } finally {
    conn.stop();
  }
});

test('a Reject still comes before its close, and a version reject fails', () => {
  const { conn, clock, ws } = newConnection({ latencyMs: 30, jitterMs: 20 });
  try {
    clock.advance(50);
    ws.deliver('server_reject');
    ws.serverClose(1006);
    assert.equal(conn.state, 'connecting', 'the close waits behind the Reject');
    clock.advance(50);
    assert.equal(conn.state, 'failed');
    assert.equal(conn.lastClose.code, CODES.VERSION_MISMATCH);
    assert.equal(clock.pendingTimeouts, 0, 'the link is gone with its socket');
  } finally {
    conn.stop();
  }
});

test('a MOVED hand-off through a simulated link goes to the new node with the resume token', () => {
  const NODE_B = 'ws://127.0.0.1:9002/ws';
  const { conn, clock, ws } = newConnection({ latencyMs: 20 });
  try {
    clock.advance(20);
    ws.deliver('server_welcome');
    clock.advance(20);
    assert.equal(conn.state, 'playing');
    ws.serverClose(CODES.MOVED, NODE_B);
    assert.equal(FakeSocket.all.length, 1, 'the close is on its way');
    clock.advance(20);
    assert.equal(FakeSocket.all.length, 2, 'then at once');
    const ws2 = FakeSocket.all[1];
    assert.equal(ws2.url, NODE_B);
    assert.equal(conn.handoffs, 1);
    ws2.open();
    clock.advance(20);
    assert.equal(ws2.msgs('Hello')[0].msg.resume_token, '3f1c0d9e8b7a65544332211000ffeedd');
  } finally {
    conn.stop();
  }
});

test('more than MAX_SIMULATED_QUEUE messages queued one way close the link, as a broken one', () => {
  const { conn, clock, ws, states } = newConnection({ latencyMs: 1000 });
  try {
    clock.advance(1000);
    ws.deliver('server_welcome');
    clock.advance(1000);
    assert.equal(conn.state, 'playing');
    for (let i = 0; i <= MAX_SIMULATED_QUEUE; i++) ws.deliver(pongBytes(i));
    assert.equal(conn.state, 'reconnecting');
    assert.match(states.at(-1)[1].message, /simulated link: more than 4096 messages queued/);
    assert.equal(conn.link, null);
    assert.equal(clock.pendingTimeouts, 1, 'only the retry: the queues and their timers are gone');
  } finally {
    conn.stop();
  }
});

test('a Room through a simulated link: snapshots timed at delivery, acks delayed, resync kept', () => {
  FakeSocket.all = [];
  const clock = new Clock(10000);
  FakeSocket.clock = clock;
  const room = new Room({
    url: 'ws://x/ws', room: 'arena', name: 'me', game: 'golden', WebSocketImpl: FakeSocket, now: clock.now, timers: clock,
    simulate: { latencyMs: 40 },
  });
  room.start();
  try {
    assert.deepEqual(room.simulate, { latencyMs: 40, jitterMs: 0, stallMs: 0, stallEveryS: 0 });
    const ws = FakeSocket.all[0];
    ws.open();
    clock.advance(40);
    ws.deliver('server_welcome');
    clock.advance(40);
    assert.equal(room.connectionState, 'playing');
    const t0 = clock.t;
    ws.deliver('snapshot_full');
    assert.equal(room.tick, null, 'the snapshot is on its way');
    clock.advance(40);
    assert.equal(room.tick, 100);
    const serverMs = decodeServer(golden('snapshot_full')).server_time_us / 1000;
    assert.equal(room.interp.lateness.at(-1), t0 + 40 - serverMs, 'arrival taken at delivery');
    // No inputs flowing: the Ack leaves on delivery and takes 40 ms to reach the server.
    const acks = () => ws.msgs('Ack').filter((a) => a.msg.tick === 100);
    clock.advance(39);
    assert.equal(acks().length, 0);
    clock.advance(1);
    assert.equal(acks().length, 1);
    // A resync: a new socket at once, the old link's queues dropped.
    const sentBefore = ws.sent.length;
    room.sendInput({});
    ws.deliver('snapshot_delta_one_tick');
    room.connection.resync('test');
    for (let i = 0; i < 5000 && FakeSocket.all.length < 2; i++) clock.advance(1);
    assert.equal(FakeSocket.all.length, 2, 'a new connection (after the backoff)');
    clock.advance(100);
    assert.equal(ws.sent.length, sentBefore, 'the old link delivers nothing more');
    assert.equal(room.tick, 100, 'nor receives');
    const ws2 = FakeSocket.all[1];
    ws2.open();
    clock.advance(39);
    assert.equal(ws2.msgs('Hello').length, 0);
    clock.advance(1);
    assert.equal(ws2.msgs('Hello').length, 1);
    assert.equal(ws2.msgs('Hello')[0].msg.resume_token, '3f1c0d9e8b7a65544332211000ffeedd');
  } finally {
    room.close();
  }
});

test('?latency=&jitter=&stall= from the page URL; invalid values ignored with a warning', () => {
  const warnings = [];
  const warn = console.warn;
  console.warn = (m) => warnings.push(String(m));
  try {
    assert.deepEqual(pageSimulate('?latency=75&jitter=10&stall=200/5'), { latencyMs: 75, jitterMs: 10, stallMs: 200, stallEveryS: 5 });
    assert.equal(describeSimulate(pageSimulate('?latency=75&jitter=10')), '75±10 ms');
    assert.equal(describeSimulate(pageSimulate('?latency=75&jitter=10&stall=200/5')), '75±10 ms, stall 200 ms/5 s');
    assert.equal(describeSimulate(pageSimulate('?latency=50')), '50 ms');
    assert.equal(pageSimulate('?room=x'), null);
    assert.equal(pageSimulate('?latency=0'), null);
    assert.deepEqual(warnings, []);
    for (const q of ['?latency=-1', '?latency=abc', '?jitter=NaN', '?latency=10001', '?stall=200', '?stall=6000/5', '?stall=200/0', '?stall=x/5']) {
      assert.equal(pageSimulate(q), null, q);
    }
    assert.equal(warnings.length, 8, warnings.join('\n'));
    // One bad value leaves the others.
    assert.deepEqual(pageSimulate('?latency=60&jitter=-3'), { latencyMs: 60, jitterMs: 0, stallMs: 0, stallEveryS: 0 });
  } finally {
    console.warn = warn;
  }
});
