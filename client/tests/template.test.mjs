// The template as a studio gets it: copied out of the repository (scripts/template-copy.sh,
// its `ticksync` dependency pointed back at this checkout), built there, and its binary run
// from its own folder with only `--addr`:
// - `--help` lists the server's flags; `schema --ts coins` prints its game's declarations;
// - `bots` (100 bots, 15 s) play it at >= 57 snapshots/s with no checksum mismatch, and the
//   report counts the game's `scored` events;
// - two Chromium pages at `/` (its own page) play it against each other without console errors.
// TEMPLATE_BIN names a binary built that way (./scripts/test.sh does it); without it the test
// makes the copy and builds it itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { repoRoot, setup, startServer, stopServer, wait, playing, assertHealthy } from './harness.mjs';

/** The template's binary and the folder it runs from. */
function templateBinary() {
  if (process.env.TEMPLATE_BIN) {
    const bin = path.resolve(process.env.TEMPLATE_BIN);
    assert.ok(process.env.TEMPLATE_DIR, 'TEMPLATE_DIR: the folder of the template copy TEMPLATE_BIN was built from');
    return { bin, dir: path.resolve(process.env.TEMPLATE_DIR) };
  }
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'ticksync-template-')), 'coins');
  execFileSync(path.join(repoRoot, 'scripts/template-copy.sh'), [dir], { stdio: 'inherit' });
  execFileSync('cargo', ['build'], { cwd: dir, stdio: 'inherit' });
  return { bin: path.join(dir, 'target/debug/coins'), dir };
}

const { bin, dir } = templateBinary();
const run = (args) => execFileSync(bin, args, { cwd: dir, encoding: 'utf8', timeout: 60000 });

test('the template is outside the checkout and its binary lists every server flag', () => {
  assert.ok(existsSync(bin), bin);
  assert.ok(!path.relative(repoRoot, dir).match(/^[^.]/), `${dir} is outside ${repoRoot}`);
  const help = run(['--help']);
  for (const flag of ['--tick-rate', '--redis', '--tls-cert', '--config', '--static', '--log-format']) {
    assert.ok(help.includes(flag), `--help lists ${flag}`);
  }
  assert.match(help, /\bschema\b/);
  assert.match(help, /\bbots\b/);
});

test('schema --ts prints the game\'s declarations', () => {
  const ts = run(['schema', '--ts', 'coins']);
  assert.match(ts, /export type GameName = "coins"/);
  for (const name of ['move_x', 'move_y', 'score', 'scored']) assert.ok(ts.includes(name), `${name} declared`);
  assert.throws(() => run(['schema', '--ts', 'arena']), /no game named arena/);
});

test('100 bots play it at 60 snapshots/s with no mismatch', { timeout: 120000 }, async (t) => {
  const server = await startServer([], { bin, cwd: dir });
  t.after(() => stopServer(server.proc));
  const ws = server.url.replace(/^http/, 'ws') + '/ws';
  const out = await new Promise((resolve, reject) => {
    const p = spawn(bin, ['bots', '--url', ws, '--bots', '100', '--duration', '15s', '--ramp', '2s', '--json'],
      { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.on('error', reject);
    p.on('exit', (code) => resolve({ code, stdout }));
  });
  const report = JSON.parse(out.stdout.trim().split('\n').pop());
  assert.equal(out.code, 0, `bots exit status; report: ${out.stdout.slice(-2000)}`);
  assert.equal(report.bots_connected, 100);
  assert.equal(report.checksum_mismatches, 0);
  assert.equal(report.protocol_errors, 0);
  const rate = report.snapshots_per_sec_p50;
  assert.ok(rate >= 57, `snapshots/s p50 ${rate}`);
  assert.ok(report.game_events && report.game_events.scored > 0, `scored events: ${JSON.stringify(report.game_events)}`);
});

test('two browsers play it at / against each other', { timeout: 120000 }, async (t) => {
  const server = await startServer([], { bin, cwd: dir });
  t.after(() => stopServer(server.proc));
  const { pageA, pageB, errors } = await setup(t, { server });
  const room = `tmpl-${Math.random().toString(36).slice(2, 10)}`;
  await pageA.goto(`${server.url}/?room=${room}&name=ann`);
  await wait(pageA, playing);
  await pageB.goto(`${server.url}/?room=${room}&name=bob`);
  await wait(pageB, playing);
  assert.equal(await pageA.evaluate(() => window.ticksync.game), 'coins');
  await wait(pageA, () => window.ticksync.players.length === 2);
  // Ann holds D (right): Bob sees her move right.
  const ann = await pageA.evaluate(() => window.ticksync.player);
  const xOf = (page) => page.evaluate((id) => {
    const e = window.ticksync.entities().find((e) => e.id.index === id.index && e.id.version === id.version);
    return e ? e.fields['pos.x'] : null;
  }, ann);
  await wait(pageB, (id) => window.ticksync.entities().some((e) => e.id.index === id.index), ann);
  const before = await xOf(pageB);
  await pageA.bringToFront();
  await pageA.keyboard.down('d');
  await wait(pageB, ([id, x0]) => {
    const e = window.ticksync.entities().find((e) => e.id.index === id.index && e.id.version === id.version);
    return e && (e.fields['pos.x'] > x0 + 20 || e.fields['pos.x'] >= 499);
  }, [ann, before]);
  await pageA.keyboard.up('d');
  await assertHealthy([['A', pageA], ['B', pageB]], errors());
});
