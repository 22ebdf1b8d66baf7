// Own-player prediction's smoothing and counters, deterministic: synthetic inputs, synthetic
// server corrections and synthetic frames (60 per second) through an OwnPredictor. No frame
// moves the drawn player more than `maxJump` for a correction, an offset up to 12 units (what
// 2 units a frame can take) is gone within 100 ms, a teleport snaps and is counted
// apart, and `prediction` counts corrections, errors, jumps, fade times and response frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { OwnPredictor } from '../src/predict.js';

const FRAME_MS = 1000 / 60;
const still = { move_x: 0, move_y: 0 };
const right = { move_x: 1, move_y: 0 };

/** One unit per tick along the stick: easy sums. */
const spec = () => ({
  fields: ['pos.x', 'pos.y'],
  step: (s, input) => ({ 'pos.x': s['pos.x'] + input.move_x, 'pos.y': s['pos.y'] + input.move_y }),
});
const at = (x, y = 0) => ({ 'pos.x': x, 'pos.y': y });
const dist = (a, b) => Math.hypot(a['pos.x'] - b['pos.x'], a['pos.y'] - b['pos.y']);

test('a correction fades without a jump over maxJump a frame, and is gone within 100 ms', () => {
  for (const error of [0.5, 3.3, 6.7, 12]) {
    const p = new OwnPredictor(spec());
    assert.equal(p.maxJump, 2);
    assert.equal(p.smoothingMs, 80);
    p.reconcile(at(100), 0);
    p.input(1, still);
    let drawn = p.render(1, FRAME_MS);
    // The server puts the (still) player `error` units off: the drawing does not move...
    p.reconcile(at(100 + error, 0), 1);
    assert.ok(Math.abs(p.lastCorrection - error) < 1e-9);
    const now = p.render(1, 0);
    assert.ok(dist(now, drawn) < 1e-9, `error ${error}: no visible snap`);
    drawn = now;
    // ...then each frame it moves at most maxJump, and reaches the server's within 100 ms.
    let frames = 0;
    while (dist(drawn, p.pos) > 1e-9) {
      const next = p.render(1, FRAME_MS);
      assert.ok(dist(next, drawn) <= p.maxJump + 1e-9, `error ${error}: a jump of ${dist(next, drawn)}`);
      drawn = next;
      frames++;
      assert.ok(frames < 100);
    }
    assert.ok(frames * FRAME_MS <= 100 + 1e-9, `error ${error}: gone after ${frames} frames`);
    const s = p.stats.summary();
    assert.ok(s.maxJump <= 2 + 1e-9 && s.maxJump > 0);
    assert.ok(s.settleMsMax <= 100 + 1e-9, `settled in ${s.settleMsMax} ms`);
    assert.equal(s.snaps, 0);
  }
});

test('a larger correction keeps the per-frame bound and takes a few frames more; a teleport snaps', () => {
  const p = new OwnPredictor(spec());
  p.reconcile(at(100), 0);
  p.input(1, still);
  let drawn = p.render(1, FRAME_MS);
  p.reconcile(at(130), 1); // 30 units: 15 frames at 2 a frame
  let frames = 0;
  while (dist(drawn, p.pos) > 1e-9) {
    const next = p.render(1, FRAME_MS);
    assert.ok(dist(next, drawn) <= 2 + 1e-9);
    drawn = next;
    frames++;
  }
  assert.equal(frames, 15);
  assert.ok(Math.abs(p.stats.summary().settleMsMax - 15 * FRAME_MS) < 1e-6);
  // Past snapDistance (60): taken at once, counted as a snap, not as a jump.
  const jumpBefore = p.stats.maxJump;
  p.reconcile(at(500), 1);
  assert.deepEqual(p.render(1, FRAME_MS), at(500));
  const s = p.stats.summary();
  assert.equal(s.snaps, 1);
  assert.equal(s.maxJump, jumpBefore);
  assert.equal(s.errorMax, 370);
});

test('while moving, the correction adds at most maxJump a frame to the motion', () => {
  const p = new OwnPredictor(spec(), { maxJump: 0.5 });
  p.reconcile(at(0), 0);
  let seq = 0;
  let prevDrawn = null;
  let worst = 0;
  // A tick per frame, the server one tick behind and off by ±3 units every third snapshot
  // (what a server applying the newest input per tick does when two arrive in one tick).
  for (let f = 1; f <= 240; f++) {
    p.input(++seq, right);
    if (f > 1) {
      const off = f % 3 === 0 ? (f % 2 ? 3 : -3) : 0;
      p.reconcile(at(seq - 1 + off), seq - 1);
    }
    const drawn = p.render(0.5, FRAME_MS);
    // Without corrections the drawing moves one unit a frame: the rest is the smoothing's.
    if (prevDrawn) worst = Math.max(worst, Math.abs(drawn['pos.x'] - prevDrawn['pos.x'] - 1));
    prevDrawn = drawn;
  }
  assert.ok(worst <= 0.5 + 1e-9, `the correction moved a frame by ${worst}`);
  assert.ok(Math.abs(p.stats.maxJump - worst) < 1e-9, `maxJump ${p.stats.maxJump} is what the frames saw (${worst})`);
});

test('prediction counts corrections over epsilon, error quantiles and the maximum', () => {
  const p = new OwnPredictor(spec(), { epsilon: 0.05 });
  p.reconcile(at(0), 0);
  p.input(1, still);
  // 100 reconciliations: 89 off by 0.01, 10 by 1, one by 4 (errors against the prediction).
  let x = 0;
  for (let i = 0; i < 100; i++) {
    const off = i === 50 ? 4 : i % 10 === 9 ? 1 : 0.01;
    x += off;
    p.reconcile(at(x), 1);
    p.render(1, 1000); // faded out before the next
  }
  const s = p.stats.summary();
  assert.equal(s.reconciliations, 100, 'the first reconcile starts the prediction and is not counted');
  assert.equal(s.corrections, 11, 'errors of 0.01 are below epsilon');
  assert.ok(Math.abs(s.errorP50 - 0.01) < 1e-9);
  assert.ok(Math.abs(s.errorP99 - 1) < 1e-9);
  assert.ok(Math.abs(s.errorMax - 4) < 1e-9);
  p.stats.reset();
  assert.deepEqual([p.stats.summary().corrections, p.stats.summary().errorMax, p.stats.summary().reconciliations], [0, 0, 0]);
});

test('response frames: an input change is drawn in the next frame', () => {
  const p = new OwnPredictor(spec());
  p.reconcile(at(0), 0);
  p.input(1, still);
  p.render(0.5, FRAME_MS);
  p.input(2, still); // no change: nothing to wait for
  p.render(0.5, FRAME_MS);
  assert.equal(p.stats.summary().responses, 0);
  // The change is sent, and the next frame draws part of its step.
  p.input(3, right);
  const drawn = p.render(0.25, FRAME_MS);
  assert.equal(drawn['pos.x'], 0.25);
  let s = p.stats.summary();
  assert.deepEqual([s.responses, s.responseFramesP50, s.responseFramesMax], [1, 1, 1]);
  // A frame at the very start of the tick (alpha 0) still shows the step before; the next
  // one shows the change: 2 frames.
  p.input(4, still);
  assert.equal(p.render(0, FRAME_MS)['pos.x'], 0.75 + 0.25);
  p.render(0.5, FRAME_MS);
  s = p.stats.summary();
  assert.deepEqual([s.responses, s.responseFramesMax], [2, 2]);
  // Acked before it was drawn: drawn once a frame shows some of its step.
  p.input(5, right);
  p.reconcile(at(2), 5);
  p.render(0, FRAME_MS);
  assert.equal(p.stats.summary().responses, 2);
  p.render(0.5, FRAME_MS);
  assert.equal(p.stats.summary().responses, 3);
});

test('corrections that cancel out settle at once; prediction stats survive a reset of the predictor', () => {
  const p = new OwnPredictor(spec());
  p.reconcile(at(0), 0);
  p.input(1, still);
  p.reconcile(at(3), 1);
  p.reconcile(at(0), 1); // the next snapshot takes it back before any frame
  assert.equal(p.error, null);
  assert.equal(p.stats.settleTimes.count, 1);
  assert.equal(p.stats.summary().settleMsMax, 0);
  p.reset();
  assert.equal(p.stats.summary().corrections, 2, 'counted across reconnects');
});
