// The net graph's sampling without a browser: its rings keep the last N samples in order (the
// memory stays bounded), and a graph watching a fake room takes a gap, a size and a correction
// per snapshot and the delay, target and round trip per frame, hidden or not.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { NetGraph, Series } from '../src/netgraph.js';

test('a series keeps the last samples, oldest first, within its capacity', () => {
  const s = new Series(4);
  assert.equal(s.last, null);
  for (let i = 1; i <= 10; i++) s.add(i * 10, i);
  assert.equal(s.size, 4);
  assert.equal(s.count, 10);
  assert.equal(s.last, 10);
  const seen = [];
  s.forEachSince(0, (t, v) => seen.push([t, v]));
  assert.deepEqual(seen, [[70, 7], [80, 8], [90, 9], [100, 10]]);
  assert.equal(s.maxSince(85), 10);
  assert.equal(s.maxSince(1000), 0);
});

/** What the graph reads of a Room. */
function fakeRoom() {
  const listeners = new Map();
  const room = {
    clock: 0,
    now: () => room.clock,
    on: (name, cb) => listeners.set(name, cb),
    emit: (name) => listeners.get(name)?.(),
    latest: null,
    rttMs: null,
    interp: { delayMs: 100, targetDelayMs: undefined },
    ownPredictor: { stats: { reconciliations: 0 }, lastCorrection: 0 },
  };
  return room;
}

test('the graph samples each snapshot and each frame, shown or hidden, into bounded rings', () => {
  const room = fakeRoom();
  const g = new NetGraph(room, { capacity: 8 });
  assert.equal(g.visible, false);
  for (let i = 0; i < 20; i++) {
    room.clock = i * 16;
    room.latest = { bytes: 100 + i };
    if (i % 2) {
      room.ownPredictor.stats.reconciliations++;
      room.ownPredictor.lastCorrection = i / 10;
    }
    room.emit('snapshot');
  }
  assert.equal(g.series.arrivals.count, 19, 'a gap from the second snapshot on');
  assert.equal(g.series.arrivals.last, 16);
  assert.equal(g.series.bytes.last, 119);
  assert.equal(g.series.corrections.count, 10, 'only snapshots that reconciled');
  assert.equal(g.series.corrections.last, 1.9);
  assert.equal(g.series.bytes.size, 8, 'bounded');
  // Before the first snapshot and Pong: no delay or round trip to plot.
  g.frame(400);
  assert.deepEqual([g.series.delay.count, g.series.rtt.count], [0, 0]);
  room.interp.targetDelayMs = 40;
  room.rttMs = 12;
  g.frame(416);
  assert.deepEqual([g.series.delay.last, g.series.target.last, g.series.rtt.last], [100, 40, 12]);
  assert.deepEqual(g.debug().samples, { arrivals: 19, delay: 1, rtt: 1, bytes: 20, corrections: 10 });
  assert.equal(g.debug().texts.delay, '100 ms → 40 ms');
  assert.equal(g.draws, 0, 'nothing drawn while hidden');
  // A new connection: the first snapshot after it has no gap.
  room.emit('welcome');
  room.emit('snapshot');
  assert.equal(g.series.arrivals.count, 19);
  g.toggle();
  assert.equal(g.visible, true);
});
