// Game feel in a real browser, as behaviour only (the figures themselves are measured by
// bench/feel.mjs, not asserted): the debug hook reports the interpolation's delay and frames
// (counting up) and its dry frames, the prediction's counters (an input change gets drawn),
// each input's view time, and the net graph: `N` toggles it (not while typing in a text
// field), `?netgraph=1` shows it from the start, it samples while hidden and draws while shown.
//
// Needs the server built (`cargo build -p ticksync-reference`, or TICKSYNC_BIN) and
// /usr/bin/chromium, as e2e.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { setup, wait, playing, assertHealthy, screenshot } from './harness.mjs';

const roomName = (p) => `${p}-${Math.random().toString(36).slice(2, 10)}`;

test('feel hooks: interpolation frames count up, an input change is drawn, inputs carry the view', { timeout: 120000 }, async (t) => {
  const { server, pageA, pageB, errors } = await setup(t);
  try {
    const room = roomName('feel');
    await pageA.goto(`${server.url}/games/arena/?room=${room}&name=near`);
    await wait(pageA, playing);
    await pageB.goto(`${server.url}/games/arena/?room=${room}&name=far&latency=75&jitter=10`);
    await wait(pageB, playing);

    for (const page of [pageA, pageB]) {
      await page.bringToFront();
      const i0 = await page.evaluate(() => window.ticksync.interpolation);
      for (const k of ['delayMs', 'targetMs', 'jitterMs', 'aheadMs']) assert.ok(Number.isFinite(i0[k]), `${k}: ${i0[k]}`);
      assert.ok(i0.delayMs >= 0 && i0.delayMs <= 250, `delay ${i0.delayMs} within its bounds`);
      assert.ok(Number.isInteger(i0.frames) && Number.isInteger(i0.dryFrames) && i0.dryFrames <= i0.frames);
      await wait(page, (f) => window.ticksync.interpolation.frames >= f + 60, i0.frames);
      const i1 = await page.evaluate(() => window.ticksync.interpolation);
      assert.ok(i1.dryFrames >= i0.dryFrames && i1.dryFrames <= i1.frames);

      // The moment drawn, as the next input carries it: at most the newest snapshot's tick.
      await wait(page, () => window.ticksync.viewTime !== null);
      const v = await page.evaluate(() => ({ view: window.ticksync.viewTime, tick: window.ticksync.tick }));
      assert.ok(Number.isInteger(v.view.tick) && v.view.tick <= v.tick, JSON.stringify(v));
      assert.ok(Number.isInteger(v.view.frac) && v.view.frac >= 0 && v.view.frac <= 255);

      // Own-player prediction: a key press changes the input, and a frame draws it.
      const p0 = await page.evaluate(() => window.ticksync.prediction);
      assert.ok(p0 && Number.isInteger(p0.reconciliations));
      await page.keyboard.down('ArrowDown');
      await wait(page, (n) => window.ticksync.prediction.responses > n, p0.responses);
      await page.keyboard.up('ArrowDown');
      await wait(page, (n) => window.ticksync.prediction.responses > n + 1, p0.responses);
      const p1 = await page.evaluate(() => ({ ...window.ticksync.prediction, bound: window.ticksync.client.predictor.maxJump }));
      assert.ok(p1.reconciliations > p0.reconciliations, 'snapshots reconciled');
      assert.ok(Number.isInteger(p1.responseFramesMax) && p1.responseFramesMax >= 1, `response frames ${p1.responseFramesMax}`);
      assert.ok(p1.maxJump <= p1.bound + 1e-9, `the smoothing kept its bound: ${p1.maxJump} <= ${p1.bound}`);
      for (const k of ['errorP50', 'errorP99', 'errorMax', 'settleMsMax']) assert.ok(Number.isFinite(p1[k]) && p1[k] >= 0, `${k}: ${p1[k]}`);
    }
    await assertHealthy([['A', pageA], ['B', pageB]], errors());
  } catch (e) {
    e.message += `\n--- server stderr (tail) ---\n${server.logs().slice(-4000)}`;
    throw e;
  }
});

test('net graph: N toggles it (not while typing), ?netgraph=1 shows it at once; it samples and draws', { timeout: 120000 }, async (t) => {
  const { server, pageA, pageB, errors } = await setup(t);
  try {
    const room = roomName('netgraph');
    await pageA.goto(`${server.url}/games/arena/?room=${room}&name=ann`);
    await wait(pageA, playing);
    await pageA.bringToFront();
    // Hidden, yet sampling: a graph shown later has the last seconds to draw.
    await wait(pageA, () => Object.values(window.ticksync.netGraph.samples).every((n) => n > 30));
    const hidden = await pageA.evaluate(() => ({ g: window.ticksync.netGraph, el: document.getElementById('netgraph').hidden }));
    assert.deepEqual([hidden.g.visible, hidden.g.draws, hidden.el], [false, 0, true]);

    await pageA.keyboard.press('n');
    await wait(pageA, () => window.ticksync.netGraph.visible && window.ticksync.netGraph.draws > 30);
    const shown = await pageA.evaluate(() => {
      const r = document.getElementById('netgraph').getBoundingClientRect();
      return { hidden: document.getElementById('netgraph').hidden, w: r.width, h: r.height, texts: window.ticksync.netGraph.texts };
    });
    assert.equal(shown.hidden, false);
    assert.ok(shown.w > 0 && shown.h > 0, `drawn at ${shown.w}x${shown.h}`);
    assert.match(shown.texts.arrivals, /ms$/);
    assert.match(shown.texts.rtt, /ms$/);
    assert.match(shown.texts.bytes, /B$/);
    await screenshot(pageA, 'netgraph-arena.png');

    // An N typed into a text field is text.
    await pageA.evaluate(() => {
      const input = document.createElement('input');
      input.id = 'typing';
      document.body.appendChild(input);
      input.focus();
    });
    await pageA.keyboard.press('n');
    assert.deepEqual(await pageA.evaluate(() => [document.getElementById('typing').value, window.ticksync.netGraph.visible]), ['n', true]);
    await pageA.evaluate(() => document.getElementById('typing').remove());
    await pageA.keyboard.press('n');
    assert.equal(await pageA.evaluate(() => window.ticksync.netGraph.visible), false);
    assert.equal(await pageA.evaluate(() => document.getElementById('netgraph').hidden), true);

    // The generic page has it too, shown from the start with ?netgraph=1.
    await pageB.goto(`${server.url}/?game=arena&page=generic&room=${room}&name=bob&netgraph=1`);
    await wait(pageB, playing);
    await pageB.bringToFront();
    assert.equal(await pageB.evaluate(() => window.ticksync.netGraph.visible), true);
    await wait(pageB, () => window.ticksync.netGraph.draws > 30 && window.ticksync.netGraph.samples.delay > 30);
    await screenshot(pageB, 'netgraph-generic.png');
    await assertHealthy([['A', pageA], ['B', pageB]], errors());
  } catch (e) {
    e.message += `\n--- server stderr (tail) ---\n${server.logs().slice(-4000)}`;
    throw e;
  }
});
