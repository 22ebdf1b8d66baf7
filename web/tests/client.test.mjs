// The page's logic without a browser: the snapshot ring (baselines, checksums, pruning),
// prediction and reconciliation, interpolation and its adaptive delay, close-code messages and
// backoff, rate meters, and the connection's Hello / resume / reconnect behaviour against a
// fake WebSocket. Also checks that docs/protocol.md quotes the golden bytes correctly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

import { CODES, EntityTable, decodeClient, decodeServer, quantize } from '../static/protocol.js';
import { SnapshotRing, SyncError } from '../static/snapshots.js';
import { Predictor, arenaStep } from '../static/predict.js';
import { Interpolator } from '../static/interp.js';
import { backoffDelay, describeClose } from '../static/status.js';
import { RateMeter } from '../static/stats.js';
import { Connection } from '../static/net.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const golden = (name) => new Uint8Array(readFileSync(path.resolve(here, `../../protocol/golden/${name}.bin`)));
const goldenJson = (name) => JSON.parse(readFileSync(path.resolve(here, `../../protocol/golden/${name}.json`), 'utf8'));

const emptyDelta = () => ({ despawned: [], spawned: [], moved: [], changed: [] });
const snap = (tick, baseline, delta, checksum = null) => ({ type: 'Snapshot', tick, baseline, input_seq: 0, server_time_us: tick * 16667, checksum, delta });

test('the ring applies a full snapshot, then deltas against acked baselines', () => {
  const ring = new SnapshotRing();
  const full = decodeServer(golden('server_snapshot_full'));
  const t1 = ring.apply(full);
  assert.equal(t1.checksum(), full.checksum);
  assert.deepEqual(t1.entries(), goldenJson('server_snapshot_full').result_table);
  // A delta against that tick: one entity moves.
  const moved = { ...emptyDelta(), moved: [{ gap: 0, dx: 16, dy: -16 }] };
  const t2 = ring.apply(snap(full.tick + 1, full.tick, moved));
  assert.deepEqual(t2.get({ index: 0, version: 1 }), { kind: 0, x: 190 + 16, y: 296 - 16 });
  // The baseline table was copied, not changed.
  assert.deepEqual(t1.get({ index: 0, version: 1 }), { kind: 0, x: 190, y: 296 });
  // A delta may still use the older baseline (the client's ack may not have arrived yet).
  const t3 = ring.apply(snap(full.tick + 2, full.tick, moved, t2.checksum()));
  assert.equal(t3.checksum(), t2.checksum());
});

test('the ring refuses unknown baselines, bad deltas and checksum mismatches', () => {
  const ring = new SnapshotRing();
  const full = decodeServer(golden('server_snapshot_full'));
  ring.apply(full);
  const kindOf = (fn) => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof SyncError, String(e));
      return e.kind;
    }
    return 'none';
  };
  assert.equal(kindOf(() => ring.apply(snap(2000, 999, emptyDelta()))), 'unknown_baseline');
  assert.equal(kindOf(() => ring.apply(snap(2000, full.tick, { ...emptyDelta(), despawned: [5] }))), 'bad_delta');
  assert.equal(kindOf(() => ring.apply(snap(2000, full.tick, emptyDelta(), full.checksum ^ 1))), 'checksum_mismatch');
  // The delta vector applies to its own baseline, which the ring does not hold.
  const delta = decodeServer(golden('server_snapshot_delta'));
  assert.equal(kindOf(() => ring.apply(delta)), 'unknown_baseline');
});

test('the ring forgets tables older than the newest baseline, and stays bounded', () => {
  const ring = new SnapshotRing(8);
  for (let t = 10; t <= 12; t++) ring.apply(snap(t, null, emptyDelta()));
  for (let t = 13; t <= 20; t++) ring.apply(snap(t, t - 3, emptyDelta()));
  // Newest baseline 17: 17..20 remain.
  assert.deepEqual([...ring.tables.keys()], [17, 18, 19, 20]);
  const big = new SnapshotRing(4);
  for (let t = 1; t <= 10; t++) big.apply(snap(t, null, emptyDelta()));
  assert.deepEqual([...big.tables.keys()], [7, 8, 9, 10]);
});

const rules = { speed: 200, width: 1000, height: 1000, dt: 1 / 60 };

test('arenaStep: speed, diagonal normalisation, walls', () => {
  const p = arenaStep({ x: 500, y: 500 }, 127, 0, rules);
  assert.ok(Math.abs(p.x - (500 + 200 / 60)) < 1e-9 && p.y === 500);
  const d = arenaStep({ x: 500, y: 500 }, 127, 127, rules);
  assert.ok(Math.abs(Math.hypot(d.x - 500, d.y - 500) - 200 / 60) < 1e-9, 'diagonal is normalised');
  const half = arenaStep({ x: 500, y: 500 }, 0, -64, rules);
  assert.ok(Math.abs(500 - half.y - (64 / 127) * 200 / 60) < 1e-9, 'short vectors keep their length');
  assert.deepEqual(arenaStep({ x: 999, y: 1 }, 127, -127, rules), { x: 1000, y: 0 });
});

test('prediction replays unacknowledged inputs and smooths small corrections', () => {
  const p = new Predictor(rules);
  p.reconcile({ x: 100, y: 100 }, 0);
  for (let seq = 1; seq <= 10; seq++) p.input(seq, 127, 0);
  assert.ok(Math.abs(p.pos.x - (100 + 10 * 200 / 60)) < 1e-9);
  // The server applied inputs 1..4, and agrees: nothing to correct.
  p.reconcile({ x: 100 + 4 * 200 / 60, y: 100 }, 4);
  assert.equal(p.pending.length, 6);
  assert.ok(Math.abs(p.pos.x - (100 + 10 * 200 / 60)) < 1e-9);
  assert.ok(p.lastCorrection < 1e-9);
  // The server is 2 units behind: the position jumps, the drawing does not.
  const drawnBefore = p.renderPosition(1, 0);
  p.reconcile({ x: 100 + 4 * 200 / 60 - 2, y: 100 }, 4);
  assert.ok(Math.abs(p.lastCorrection - 2) < 1e-9);
  const drawnAfter = p.renderPosition(1, 0);
  assert.ok(Math.abs(drawnAfter.x - drawnBefore.x) < 1e-9, 'no visible snap');
  // ... and the offset fades out.
  const later = p.renderPosition(1, 1000);
  assert.ok(Math.abs(later.x - p.pos.x) < 1e-3);
  // A teleport is taken at once.
  p.reconcile({ x: 900, y: 900 }, 10);
  assert.deepEqual(p.renderPosition(1, 0), { x: 900, y: 900 });
});

/** A table with one entity per [index, version, x, y] (world units). */
function table(list) {
  return EntityTable.fromEntries(list.map(([index, version, x, y]) => ({ id: { index, version }, state: { kind: 0, x: quantize(x), y: quantize(y) } })));
}

function sampleAll(interp, t) {
  const out = {};
  interp.sample(t, (index, version, kind, x, y) => {
    out[index] = { version, x, y };
  });
  return out;
}

test('interpolation draws between the snapshots around render time', () => {
  const it = new Interpolator();
  it.push(1000, 60, table([[0, 1, 10, 10], [1, 1, 50, 50]]), 5000);
  it.push(1016, 61, table([[0, 1, 20, 10], [1, 3, 80, 80]]), 5016);
  const mid = sampleAll(it, 1008);
  assert.equal(mid[0].x, 15);
  // Slot 1 holds a new entity (version 3): drawn where it is, not slid from the old one.
  assert.deepEqual(mid[1], { version: 3, x: 80, y: 80 });
  // Past the newest snapshot it holds still; before the oldest, the oldest.
  assert.equal(sampleAll(it, 2000)[0].x, 20);
  assert.equal(sampleAll(it, 0)[0].x, 10);
});

test('the interpolation delay is about 100 ms on a steady stream and adapts to jitter within bounds', () => {
  const steady = new Interpolator();
  let now = 0;
  for (let i = 0; i < 120; i++) steady.push(i * 16.667, i, new EntityTable(), 5000 + i * 16.667);
  assert.ok(steady.targetDelayMs >= 80 && steady.targetDelayMs <= 110, `steady target ${steady.targetDelayMs}`);
  // Render time trails the newest snapshot by about the delay.
  for (let f = 0; f < 600; f++) now = steady.renderTime(5000 + 119 * 16.667, 16);
  assert.ok(Math.abs(5000 + 119 * 16.667 - 5000 - now - steady.delayMs) < 1e-6);

  const jittery = new Interpolator();
  let s = 7;
  const rnd = () => ((s = (s * 16807) % 2147483647) / 2147483647);
  for (let i = 0; i < 120; i++) jittery.push(i * 16.667, i, new EntityTable(), 5000 + i * 16.667 + rnd() * 60);
  assert.ok(jittery.targetDelayMs > steady.targetDelayMs + 40, `jittery target ${jittery.targetDelayMs}`);

  const awful = new Interpolator();
  for (let i = 0; i < 120; i++) awful.push(i * 16.667, i, new EntityTable(), 5000 + i * 16.667 + (i % 2) * 2000);
  assert.equal(awful.targetDelayMs, 250);
  // The delay moves towards its target at 5% of real time, never in a jump.
  const d0 = awful.delayMs;
  awful.renderTime(0, 100);
  assert.ok(Math.abs(awful.delayMs - d0 - 5) < 1e-9);
});

test('every close code has a message; only version and auth stop retrying', () => {
  for (const [name, code] of Object.entries(CODES)) {
    const d = describeClose(code, 'why', 'arena');
    assert.ok(d.message.length > 10, name);
    assert.equal(d.retry, code !== CODES.VERSION_MISMATCH && code !== CODES.UNAUTHORIZED, name);
  }
  assert.match(describeClose(CODES.ROOM_FULL, '', 'arena').message, /arena.*full/);
  assert.match(describeClose(CODES.VERSION_MISMATCH).message, /[Rr]eload/);
  assert.equal(describeClose(CODES.BAD_RESUME).dropResume, true);
  assert.match(describeClose(1006).message, /lost/);
  assert.match(describeClose(4999, 'x').message, /4999/);
});

test('backoff doubles, is capped, and is jittered', () => {
  assert.equal(backoffDelay(0, { random: () => 0 }), 250);
  assert.equal(backoffDelay(0, { random: () => 1 }), 500);
  assert.equal(backoffDelay(3, { random: () => 1 }), 4000);
  assert.equal(backoffDelay(50, { random: () => 1 }), 15000);
  assert.equal(backoffDelay(50, { random: () => 0 }), 7500);
});

test('rate meters count the last second', () => {
  const m = new RateMeter();
  for (let i = 0; i < 120; i++) m.add(i * (1000 / 60), 100);
  const now = 119 * (1000 / 60);
  assert.ok(Math.abs(m.perSecond(now) - 60) <= 1);
  assert.ok(Math.abs(m.bytesPerSecond(now) - 6000) <= 100);
  assert.equal(m.perSecond(now + 5000), 0);
  assert.equal(m.bytesPerSecond(now + 5000), 0);
});

/** A fake WebSocket: records what the client sends; the test plays the server. */
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
  deliver(name) {
    const bytes = golden(name);
    this.onmessage?.({ data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
  }
  close() {
    this.readyState = 3;
  }
  serverClose(code, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

test('the connection says Hello, resumes with the Welcome token, and stops on a version reject', () => {
  FakeSocket.all = [];
  const states = [];
  const messages = [];
  let clock = 1000;
  const conn = new Connection({
    url: 'ws://x/ws', room: 'arena', name: 'ann', WebSocketImpl: FakeSocket, now: () => clock,
    onMessage: (m) => messages.push(m.type), onState: (s, info) => states.push([s, info.message]),
  });
  conn.start();
  try {
    const ws1 = FakeSocket.all[0];
    assert.equal(ws1.binaryType, 'arraybuffer');
    ws1.open();
    assert.deepEqual(ws1.sent[0], { type: 'Hello', version: 1, room: 'arena', name: 'ann', auth_token: null, resume_token: null });
    ws1.deliver('server_welcome');
    assert.equal(conn.state, 'playing');
    assert.equal(ws1.sent[1].type, 'Ping', 'pings at once for a first RTT');
    clock += 5;
    ws1.deliver('server_pong'); // echoes client_time_us 5000000123 µs: ~3998 s in the future here
    assert.equal(conn.rttMs, 0, 'a clock that went backwards never gives a negative RTT');
    ws1.deliver('server_snapshot_full');
    assert.deepEqual(messages, ['Welcome', 'Pong', 'Snapshot']);

    // The server goes away: reconnect with backoff, and resume with the token.
    ws1.serverClose(CODES.GOING_AWAY, 'restart');
    assert.equal(conn.state, 'reconnecting');
    assert.match(states.at(-1)[1], /restarting/);
    conn.connect(); // what the retry timer does
    const ws2 = FakeSocket.all[1];
    ws2.open();
    assert.equal(ws2.sent[0].resume_token, '3f1c0d9e8b7a65544332211000ffeedd');

    // A version reject: the message from Reject, and no more retries.
    ws2.deliver('server_reject');
    ws2.serverClose(1006);
    assert.equal(conn.state, 'failed');
    assert.equal(conn.lastClose.code, CODES.VERSION_MISMATCH);
    assert.match(states.at(-1)[1], /Reload/);
    assert.equal(FakeSocket.all.length, 2);
  } finally {
    conn.stop();
  }
});

test('the connection drops a socket that sends undecodable bytes and resyncs on request', () => {
  FakeSocket.all = [];
  const conn = new Connection({
    url: 'ws://x/ws', room: 'arena', name: 'ann', WebSocketImpl: FakeSocket, now: () => 0,
    onMessage: () => {}, onState: () => {},
  });
  conn.start();
  try {
    const ws = FakeSocket.all[0];
    ws.open();
    ws.deliver('server_welcome');
    ws.onmessage({ data: new Uint8Array([9, 9, 9]).buffer });
    assert.equal(conn.state, 'reconnecting');
    assert.equal(ws.onmessage, null, 'the old socket is detached');
    conn.connect();
    FakeSocket.all[1].open();
    FakeSocket.all[1].deliver('server_welcome');
    conn.resync('checksum mismatch');
    assert.equal(conn.state, 'reconnecting');
    assert.match(conn.lastClose.message, /Resynchronising/);
  } finally {
    conn.stop();
  }
});

test('docs/protocol.md quotes the golden bytes correctly', () => {
  const doc = readFileSync(path.resolve(here, '../../docs/protocol.md'), 'utf8');
  // "Example (`name`): `00 01 05 …`": each quoted byte run is a prefix of that vector.
  const names = new Set(goldenJson('index').vectors);
  const examples = [...doc.matchAll(/\(`(\w+)`\): `([0-9a-f ]+)/g)].filter((m) => names.has(m[1]));
  assert.ok(examples.length >= 9, `found ${examples.length} examples`);
  for (const [, name, bytes] of examples) {
    const hex = goldenJson(name).hex;
    assert.ok(hex.startsWith(bytes.replace(/ /g, '')), `${name}: the doc says ${bytes}`);
  }
  // The worked example's full hex line.
  const delta = goldenJson('server_snapshot_delta').hex;
  assert.ok(doc.includes(`\n${delta}\n`), 'the worked example quotes server_snapshot_delta in full');
  // The byte-by-byte table, concatenated, is the message.
  const section = doc.split('Decoded byte by byte:')[1].split('(`zz(u)`')[0];
  const cells = [...section.matchAll(/^\| ((?:`[0-9a-f ]+` ?)+)\|/gm)].map((m) => m[1].replace(/[` ]/g, ''));
  assert.equal(cells.join(''), delta);
});
