#!/usr/bin/env node
// How the arena page feels on a few networks: starts the server binary on an ephemeral
// loopback port, opens the arena page in Chromium (Debian's, /usr/bin/chromium, driven by
// playwright-core) once per scenario, drives the own player with keys (a random walk) and prints
// one JSON line per scenario: the interpolation delay (p50/p95 of a sample every frame), frames,
// dry frames, frames/s, and the prediction's corrections, errors, largest per-frame jump and
// response frames, read from `window.ticksync`.
//
//   node client/bench/feel.mjs [--bin target/release/ticksync] [--seconds 20] [--warmup 3]
//                              [--only loopback,rtt150]
//
// Measure on a quiet machine (nothing else building): frame timing is the browser's.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

import { CHROMIUM_ARGS, chromiumPath, repoRoot, startServer, stopServer } from '../tests/harness.mjs';

const SCENARIOS = [
  { name: 'loopback', query: '' },
  { name: 'rtt50', query: 'latency=25&jitter=5' },
  { name: 'rtt150-jitter10', query: 'latency=75&jitter=10' },
  { name: 'rtt150', query: 'latency=75&jitter=20' },
];

const { values: opts } = parseArgs({
  options: {
    bin: { type: 'string', default: 'target/release/ticksync' },
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    only: { type: 'string' },
  },
});
const bin = path.resolve(repoRoot, opts.bin);
const seconds = Number(opts.seconds);
const warmup = Number(opts.warmup);
if (!existsSync(bin)) throw new Error(`no server binary at ${bin}: cargo build --release -p ticksync-reference`);
if (!(seconds > 0 && warmup >= 0)) throw new Error('--seconds must be > 0 and --warmup >= 0');
const only = opts.only ? new Set(opts.only.split(',')) : null;

/**
 * Runs in the page for `ms`: a random walk on the keys (a new direction, or none, every
 * 100-500 ms), and a sample of the interpolation delay every frame. Resolves with the figures.
 */
function measure(ms) {
  return new Promise((resolve) => {
    const hook = window.ticksync;
    hook.client.predictor.stats.reset();
    const i0 = hook.interpolation;
    const delays = [];
    const keys = [[], ['KeyW'], ['KeyS'], ['KeyA'], ['KeyD'], ['KeyW', 'KeyA'], ['KeyW', 'KeyD'], ['KeyS', 'KeyA'], ['KeyS', 'KeyD']];
    let held = [];
    const press = (type, code) => window.dispatchEvent(new KeyboardEvent(type, { code }));
    const walk = () => {
      for (const k of held) press('keyup', k);
      held = keys[Math.floor(Math.random() * keys.length)];
      for (const k of held) press('keydown', k);
      timer = setTimeout(walk, 100 + Math.random() * 400);
    };
    let timer = setTimeout(walk, 0);
    const t0 = performance.now();
    let rafs = 0;
    const frame = () => {
      rafs++;
      delays.push(hook.interpolation.delayMs);
      const elapsed = performance.now() - t0;
      if (elapsed < ms) {
        requestAnimationFrame(frame);
        return;
      }
      clearTimeout(timer);
      for (const k of held) press('keyup', k);
      const i1 = hook.interpolation;
      delays.sort((a, b) => a - b);
      const q = (p) => delays[Math.min(delays.length - 1, Math.max(0, Math.ceil(p * delays.length) - 1))];
      const frames = i1.frames - i0.frames;
      const dry = i1.dryFrames - i0.dryFrames;
      resolve({
        delayP50: q(0.5), delayP95: q(0.95), targetMs: i1.targetMs, jitterMs: i1.jitterMs,
        frames, dryFrames: dry, dryPct: (100 * dry) / Math.max(1, frames), fps: (rafs * 1000) / elapsed,
        rttMs: hook.client.rttMs, prediction: hook.prediction,
      });
    };
    requestAnimationFrame(frame);
  });
}

const round = (v, d = 2) => (typeof v === 'number' ? Number(v.toFixed(d)) : v);

const server = await startServer([], { bin });
const browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
try {
  for (const s of SCENARIOS) {
    if (only && !only.has(s.name)) continue;
    const page = await browser.newPage({ viewport: { width: 1000, height: 760 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const room = `feel-${s.name}-${Math.random().toString(36).slice(2, 8)}`;
    await page.goto(`${server.url}/games/arena/?room=${room}&name=feel${s.query ? `&${s.query}` : ''}`);
    await page.waitForFunction(() => window.ticksync && window.ticksync.state === 'playing' && window.ticksync.me, null, { timeout: 20000 });
    await page.waitForTimeout(warmup * 1000); // the delay settles and the round trip is measured
    const m = await page.evaluate(measure, seconds * 1000);
    const p = m.prediction;
    console.log(JSON.stringify({
      scenario: s.name, query: s.query, seconds,
      delayP50: round(m.delayP50), delayP95: round(m.delayP95), targetMs: round(m.targetMs), jitterMs: round(m.jitterMs),
      frames: m.frames, dryFrames: m.dryFrames, dryPct: round(m.dryPct, 3), fps: round(m.fps, 1), rttMs: round(m.rttMs, 1),
      reconciliations: p.reconciliations, corrections: p.corrections,
      errorP50: round(p.errorP50, 3), errorP99: round(p.errorP99, 3), errorMax: round(p.errorMax, 3),
      maxJump: round(p.maxJump, 3), snaps: p.snaps, settleMsMax: round(p.settleMsMax, 1),
      responseFramesP50: p.responseFramesP50, responseFramesMax: p.responseFramesMax, responses: p.responses,
      ...(errors.length ? { errors } : {}),
    }));
    await page.close();
  }
} finally {
  await browser.close();
  await stopServer(server.proc);
}
