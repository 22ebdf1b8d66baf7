// The interpolation's timing without a browser: an Interpolator fed synthetic arrival
// schedules (a snapshot every interval of server time, arriving with chosen extra delays) and
// synthetic frames, so every figure is deterministic: the delay it settles on, how it rises
// with jitter and comes back down, the frames it counts (dry ones: past the newest snapshot),
// and the moment drawn in ticks that each Input carries (`view`).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Interpolator, viewTimeOf } from '../src/interp.js';

// Plays a synthetic stream through an Interpolator: a snapshot every `interval` ms of server
// time, arriving `5000 + extra(i, t)` ms later (in order, as a WebSocket delivers), and a frame
// every 16.667 ms from `from` to `to` (server ms). Returns the frames' render times and delays.
function play(it, { from, to, interval = 1000 / 60, extra = () => 0, lastArrival = { at: -Infinity }, frameMs = 1000 / 60 }) {
  const empty = {}; // the timing never reads the table
  const frames = [];
  let i = Math.ceil(from / interval);
  let next = () => ({ t: i * interval, at: Math.max(lastArrival.at, i * interval + 5000 + extra(i, i * interval)) });
  let snap = next();
  for (let now = from + 5000; now < to + 5000; now += frameMs) {
    while (snap.at <= now) {
      it.push(snap.t, Math.round(snap.t / (1000 / 60)), empty, snap.at); // 60 ticks/s
      lastArrival.at = snap.at;
      i++;
      snap = next();
    }
    if (it.buffer.length === 0) continue;
    const t = it.renderTime(now, frameMs);
    frames.push({ now, t, delay: it.delayMs, target: it.targetDelayMs, dry: t > it.buffer[it.buffer.length - 1].t });
  }
  return frames;
}

const lcg = (seed) => () => ((seed = (seed * 16807) % 2147483647) / 2147483647);

test('the interpolation delay converges to 2-2.5 snapshot intervals on a steady stream', () => {
  const it = new Interpolator();
  it.tickMs = 1000 / 60;
  const rnd = lcg(3);
  // 60 Hz, up to 1 ms of arrival noise: frames need about one interval (and that jitter), plus
  // one of margin: the target is between the 2-interval floor (33.3 ms) and 2.5 intervals
  // (41.7 ms) and a little jitter.
  const frames = play(it, { from: 0, to: 5000, extra: () => rnd() });
  assert.ok(it.jitterMs < 1.01, `jitter ${it.jitterMs}`);
  assert.ok(it.targetDelayMs >= 2 * 1000 / 60 - 1e-6 && it.targetDelayMs <= 2.5 * 1000 / 60 + it.jitterMs, `steady target ${it.targetDelayMs}`);
  assert.ok(Math.abs(it.delayMs - it.targetDelayMs) < 0.5, `delay ${it.delayMs} reached its target`);
  assert.ok(it.delayMs < 50);
  assert.equal(it.dryFrames, 0, 'no frame past the newest snapshot');
  assert.equal(it.frames, frames.length);
  for (let f = 1; f < frames.length; f++) assert.ok(frames[f].t >= frames[f - 1].t, `render time went back at frame ${f}`);
  // The render time is `now - best-case lateness - delay`.
  const last = frames[frames.length - 1];
  assert.ok(Math.abs(last.now - it.minLateness - it.delayMs - last.t) < 1e-6);
  // Snapshots every other tick (30 Hz): the slack is in intervals, so it doubles.
  const half = new Interpolator();
  half.tickMs = 1000 / 60;
  play(half, { from: 0, to: 5000, interval: 1000 / 30 });
  assert.ok(half.targetDelayMs >= 2 * 1000 / 30 - 1e-6 && half.targetDelayMs <= 2.5 * 1000 / 30 + 1e-6, `30 Hz target ${half.targetDelayMs}`);
  assert.equal(half.dryFrames, 0);
});

test('the interpolation delay rises to cover the p99 jitter, and shrinks within seconds once calm', () => {
  const it = new Interpolator();
  const rnd = lcg(7);
  const lastArrival = { at: -Infinity };
  const calm = play(it, { from: 0, to: 3000, lastArrival });
  const calmTarget = it.targetDelayMs;
  assert.ok(calmTarget < 45, `calm target ${calmTarget}`);
  // Uniform 0..40 ms more per snapshot: the target covers its p99 (~40 ms) past the interval a
  // frame waits for the next snapshot anyway, and stays within 2.5 intervals + that p99.
  const jittery = play(it, { from: 3000, to: 8000, lastArrival, extra: () => rnd() * 40 });
  assert.ok(it.jitterMs > 36 && it.jitterMs <= 40, `jitter ${it.jitterMs}`);
  assert.ok(it.targetDelayMs >= 1000 / 60 + it.jitterMs && it.targetDelayMs <= 2.5 * 1000 / 60 + it.jitterMs + 1e-6, `jittery target ${it.targetDelayMs}`);
  assert.ok(it.targetDelayMs > calmTarget + 20, `jittery target ${it.targetDelayMs} over calm ${calmTarget}`);
  assert.ok(it.delayMs >= it.targetDelayMs - 1, `delay ${it.delayMs} followed`);
  const dryJittery = jittery.filter((f) => f.dry).length;
  // Calm again: the window forgets the jitter and the delay comes back within a few seconds.
  const after = play(it, { from: 8000, to: 13000, lastArrival });
  const back = after.findIndex((f) => f.delay < 45);
  assert.ok(back >= 0, `delay ${it.delayMs} after 5 s of calm`);
  assert.ok(back * 16.667 < 4500, `back under 45 ms after ${Math.round(back * 16.667)} ms`);
  const all = [...calm, ...jittery, ...after];
  for (let f = 1; f < all.length; f++) assert.ok(all[f].t >= all[f - 1].t, `render time went back at frame ${f}`);
  // Shrinking plays at most 5% faster; growing at most 50% slower (never backwards).
  for (let f = 1; f < all.length; f++) {
    const rate = (all[f].t - all[f - 1].t) / (all[f].now - all[f - 1].now);
    assert.ok(rate >= 0.5 - 1e-9 && rate <= 1.05 + 1e-9, `playback rate ${rate} at frame ${f}`);
  }
  assert.ok(dryJittery / jittery.length < 0.02, `dry frames while jittery: ${dryJittery}/${jittery.length}`);
  assert.ok(all.slice(0, calm.length).every((f) => !f.dry) && after.every((f) => !f.dry), 'no dry frame while calm');
});

test('a late snapshot raises the delay at once, and the bounds hold', () => {
  const it = new Interpolator();
  const lastArrival = { at: -Infinity };
  play(it, { from: 0, to: 3000, lastArrival });
  const d0 = it.delayMs;
  // One snapshot 80 ms late (those after it queue behind it).
  const frames = play(it, { from: 3000, to: 3600, lastArrival, extra: (i) => (i === 190 ? 80 : 0) });
  const first = frames.findIndex((f) => f.target > d0 + 5);
  assert.ok(first >= 0, 'the target rose');
  // The first frame near the end of the buffer raised the target, before the late one arrived.
  const arrived = frames.findIndex((f) => f.now >= 190 * 1000 / 60 + 5080);
  assert.ok(first < arrived, `target raised at frame ${first}, the snapshot arrived at ${arrived}`);
  assert.ok(it.delayMs > d0 + 30, `delay ${it.delayMs} grew`);
  for (let f = 1; f < frames.length; f++) assert.ok(frames[f].t >= frames[f - 1].t);
  // Awful arrivals: capped at maxDelayMs.
  const awful = new Interpolator();
  const empty = {}; // the timing never reads the table
  for (let i = 0; i < 120; i++) awful.push(i * 16.667, i, empty, 5000 + i * 16.667 + (i % 2) * 2000);
  assert.equal(awful.targetDelayMs, 250);
  const before = awful.delayMs;
  awful.renderTime(7000, 100);
  assert.ok(Math.abs(awful.delayMs - before - 50) < 1e-9, 'the delay grows at up to 50% of real time');
  // Before any snapshot: the initial delay, no frame counted.
  const fresh = new Interpolator();
  assert.equal(fresh.renderTime(1000, 16), 900);
  assert.equal(fresh.frames, 0);
});


test('the moment drawn in ticks: between the snapshots around the render time, by how far', () => {
  const it = new Interpolator();
  it.tickMs = 1000 / 60;
  assert.equal(it.ticksAt(1000), null, 'nothing buffered');
  it.push(1000, 60, {}, 5000);
  assert.equal(it.ticksAt(), null, 'no frame drawn yet');
  it.push(1000 + 1000 / 60, 61, {}, 5017);
  it.push(1000 + 3000 / 60, 63, {}, 5050); // tick 62 was not sent
  assert.equal(it.ticksAt(1000 + 500 / 60), 60.5);
  assert.ok(Math.abs(it.ticksAt(1000 + 2000 / 60) - 62) < 1e-9, 'halfway across a gap of two ticks');
  assert.equal(it.ticksAt(900), 60, 'before the oldest: the oldest');
  assert.equal(it.ticksAt(2000), 63, 'past the newest (dry): the newest, as drawn');
  // Without an argument: the last render time.
  const t = it.renderTime(5040, 16);
  assert.equal(it.ticksAt(), it.ticksAt(t));
  // Drawing (sample) drops older snapshots; the moment drawn is still found.
  it.pair(t);
  assert.equal(it.ticksAt(), it.ticksAt(t));
  it.reset();
  assert.equal(it.ticksAt(), null, 'a new connection starts over');
});

test('a view time is whole ticks and 256ths rounded down, within u32 and 0..255', () => {
  assert.deepEqual(viewTimeOf(60.5), { tick: 60, frac: 128 });
  assert.deepEqual(viewTimeOf(7), { tick: 7, frac: 0 });
  assert.deepEqual(viewTimeOf(61 + 1 / 256 - 1e-9), { tick: 61, frac: 0 });
  assert.deepEqual(viewTimeOf(61.9999999), { tick: 61, frac: 255 });
  assert.deepEqual(viewTimeOf(2 ** 32 - 0.5), { tick: 2 ** 32 - 1, frac: 128 });
  assert.equal(viewTimeOf(null), null);
  assert.equal(viewTimeOf(NaN), null);
});
