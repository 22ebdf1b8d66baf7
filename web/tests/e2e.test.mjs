// End to end: the real server binary and real Chromium (Debian's, driven by playwright-core).
// Two pages join one room; a key held in page A moves A's player, and page B, through its own
// snapshots, sees it move by the right amount. Both pages must keep a snapshot rate above
// 50/s, apply every delta with matching checksums, and log no console error. A screenshot after
// 3 s of play goes to test-artifacts/e2e-two-players.png.
//
// Needs: the server built (`cargo build`, or TICKSYNC_BIN=path) and /usr/bin/chromium
// (`apt-get install -y chromium`). Never downloads a browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const serverBin = path.resolve(repoRoot, process.env.TICKSYNC_BIN || 'target/debug/ticksync');
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const artifacts = path.join(repoRoot, 'test-artifacts');

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Starts the server on an ephemeral port; resolves with {url, proc, logs()} once it listens. */
function startServer() {
  return new Promise((resolve, reject) => {
    const proc = spawn(serverBin, ['--addr', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d) => {
      stderr = (stderr + d).slice(-20000);
    });
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`the server did not print its address within 20 s; stderr:\n${stderr}`));
    }, 20000);
    proc.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}) before listening; stderr:\n${stderr}`));
    });
    const lines = createInterface({ input: proc.stdout });
    lines.once('line', (line) => {
      clearTimeout(timer);
      const m = /^ticksync listening on (http:\/\/\S+)$/.exec(line.trim());
      if (!m) {
        proc.kill('SIGKILL');
        reject(new Error(`unexpected first stdout line: ${line}`));
        return;
      }
      resolve({ url: m[1], proc, logs: () => stderr });
    });
  });
}

/** SIGTERM (graceful shutdown), then SIGKILL if it takes more than 5 s. */
async function stopServer(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Collects console errors and uncaught exceptions of a page. */
function watchErrors(page, label) {
  const errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${label} console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`${label} pageerror: ${e.message}`));
  return errors;
}

/** The entity `id` as page `page` sees it in its latest snapshot, or null. */
const seen = (page, id) => page.evaluate((id) => {
  const e = window.ticksync.entities().find((e) => e.id.index === id.index && e.id.version === id.version);
  return e ? { x: e.x, y: e.y, kind: e.kind } : null;
}, id);

test('two browsers play in one room: input moves a player that the other page sees', { timeout: 120000 }, async (t) => {
  assert.ok(existsSync(serverBin), `no server binary at ${serverBin}: run \`cargo build\` first (or set TICKSYNC_BIN)`);
  assert.ok(existsSync(chromiumPath), `no Chromium at ${chromiumPath}: apt-get install -y chromium`);

  const server = await startServer();
  t.after(() => stopServer(server.proc));
  const profile = mkdtempSync(path.join(os.tmpdir(), 'ticksync-e2e-'));
  t.after(() => rmSync(profile, { recursive: true, force: true }));

  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    args: CHROMIUM_ARGS,
    viewport: { width: 1000, height: 760 },
  });
  t.after(() => context.close());

  try {
    const room = `e2e-${Math.random().toString(36).slice(2, 10)}`;
    const pageA = context.pages()[0] || await context.newPage();
    const pageB = await context.newPage();
    const errors = [];
    const errA = watchErrors(pageA, 'A');
    const errB = watchErrors(pageB, 'B');

    const wait = (page, fn, arg, timeout = 15000) => page.waitForFunction(fn, arg, { timeout, polling: 50 });
    const playing = () => window.ticksync && window.ticksync.state === 'playing' && window.ticksync.tick !== null;

    await pageA.goto(`${server.url}/?room=${room}&name=alice`);
    await wait(pageA, playing);
    await pageB.goto(`${server.url}/?room=${room}&name=bob`);
    await wait(pageB, playing);

    // Both rosters hold both players; B's world holds A's player entity.
    await wait(pageA, () => window.ticksync.players.length === 2);
    await wait(pageB, () => window.ticksync.players.length === 2);
    const idA = await pageA.evaluate(() => window.ticksync.player);
    assert.ok(idA, 'page A knows its player');
    await wait(pageB, (id) => window.ticksync.entities().some((e) => e.id.index === id.index && e.id.version === id.version), idA);
    const namesB = await pageB.evaluate(() => window.ticksync.players.map((p) => p.name).sort());
    assert.deepEqual(namesB, ['alice', 'bob']);
    const startTickB = await pageB.evaluate(() => window.ticksync.tick);

    // Hold a key in A for about a second: right, or left if A spawned near the right wall.
    const before = await seen(pageB, idA);
    assert.equal(before.kind, 1, 'A is a player entity');
    const right = before.x < 600;
    const keyName = right ? 'ArrowRight' : 'a';
    await pageA.bringToFront();
    const heldFrom = Date.now();
    await pageA.keyboard.down(keyName);
    // The key is held (about a second) until A's own snapshots show the server moved it 200 units.
    await wait(pageA, ([id, x0, right]) => {
      const me = window.ticksync.entities().find((e) => e.id.index === id.index && e.id.version === id.version);
      return me && (right ? me.x - x0 : x0 - me.x) >= 200;
    }, [idA, before.x, right], 10000);
    await pageA.keyboard.up(keyName);
    const heldMs = Date.now() - heldFrom;

    // Once the server has applied an input sent after the release, A stands still: read where.
    const seqAtRelease = await pageA.evaluate(() => window.ticksync.inputSeq);
    await wait(pageA, (s) => window.ticksync.ackedInputSeq > s + 1, seqAtRelease);
    const final = await seen(pageA, idA);
    // B's own snapshots reach exactly the same (quantised) position.
    await wait(pageB, ([id, f]) => {
      const e = window.ticksync.entities().find((e) => e.id.index === id.index && e.id.version === id.version);
      return e && e.x === f.x && e.y === f.y;
    }, [idA, final]);
    const moved = final.x - before.x;
    const expected = right ? 1 : -1;
    assert.ok(moved * expected >= 200, `B saw A move ${moved} units (expected ${right ? '+' : '-'}200 or more)`);
    // 200 units/s at most, for the time the key was held plus a round trip of slack.
    assert.ok(Math.abs(moved) <= 200 * (heldMs + 500) / 1000, `moved ${moved} in ${heldMs} ms: faster than 200 units/s`);
    assert.ok(Math.abs(final.y - before.y) < 1, `A moved vertically: ${before.y} -> ${final.y}`);
    // A's own prediction settled where the server put it (within quantisation).
    const predicted = await pageA.evaluate(() => window.ticksync.predicted);
    assert.ok(Math.abs(predicted.x - final.x) < 1 && Math.abs(predicted.y - final.y) < 1,
      `A predicted ${JSON.stringify(predicted)}, server says ${JSON.stringify(final)}`);

    // Snapshot rate, on both pages: in the debug hook and as the HUD shows it on screen.
    for (const [label, page] of [['A', pageA], ['B', pageB]]) {
      await wait(page, () => {
        const row = [...document.querySelectorAll('#hud div')].find((d) => d.firstChild.textContent === 'snapshots');
        return window.ticksync.hud.snapshotsPerSec > 50 && row && parseFloat(row.lastChild.textContent) > 50;
      }, undefined, 10000).catch(async () => {
        const hud = await page.evaluate(() => window.ticksync.hud);
        const text = await page.evaluate(() => document.getElementById('hud').innerText);
        assert.fail(`page ${label}: snapshot rate ${hud.snapshotsPerSec}/s, HUD shows:\n${text}`);
      });
    }

    // At least 3 s of play (by B's snapshot ticks), then the screenshot.
    await wait(pageB, (t0) => window.ticksync.tick >= t0 + 180, startTickB, 20000);
    mkdirSync(artifacts, { recursive: true });
    await pageB.bringToFront();
    await pageB.screenshot({ path: path.join(artifacts, 'e2e-two-players.png') });

    for (const [label, page] of [['A', pageA], ['B', pageB]]) {
      const s = await page.evaluate(() => ({
        state: window.ticksync.state,
        mismatches: window.ticksync.checksumMismatches,
        resyncs: window.ticksync.resyncs,
        hud: window.ticksync.hud,
      }));
      assert.equal(s.state, 'playing', `page ${label} state`);
      assert.equal(s.mismatches, 0, `page ${label} checksum mismatches`);
      assert.equal(s.resyncs, 0, `page ${label} resyncs`);
      assert.ok(s.hud.entities > 2 && s.hud.players === 2, `page ${label} HUD: ${JSON.stringify(s.hud)}`);
    }
    errors.push(...errA, ...errB);
    assert.deepEqual(errors, [], 'no console errors on either page');
  } catch (e) {
    e.message += `\n--- server stderr (tail) ---\n${server.logs().slice(-4000)}`;
    throw e;
  }
});
