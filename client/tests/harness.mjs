// What the browser tests share: a real server process on an ephemeral loopback port, Debian's
// Chromium (driven by playwright-core, never downloaded) with a fresh profile and two pages,
// console-error watching, and the checks every playing page must pass.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../..');
export const serverBin = path.resolve(repoRoot, process.env.TICKSYNC_BIN || 'target/debug/ticksync');
export const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const artifacts = path.join(here, 'out');

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  // Two pages play at once: neither may be throttled as a background tab.
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

/**
 * Starts a server (the reference binary, or `bin` run in `cwd`) on an ephemeral port; resolves
 * with {url, proc, logs()} once it listens.
 */
export function startServer(args = [], { bin = serverBin, cwd = undefined } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, ['--addr', '127.0.0.1:0', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
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
      const m = /^ticksync listening on (https?:\/\/\S+)$/.exec(line.trim());
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
export async function stopServer(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Collects console errors and uncaught exceptions of a page. */
export function watchErrors(page, label) {
  const errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${label} console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`${label} pageerror: ${e.message}`));
  return errors;
}

/**
 * A self-signed certificate for 127.0.0.1 made with the openssl CLI, in a fresh directory:
 * {cert, key, spki}, where `spki` is the base64 SHA-256 of its public key, which Chromium is
 * told to accept (and nothing else self-signed).
 */
export function selfSignedCert(t) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ticksync-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const der = execFileSync('openssl', ['x509', '-in', cert, '-noout', '-pubkey']);
  const spkiDer = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'der'], { input: der });
  const spki = createHash('sha256').update(spkiDer).digest('base64');
  return { cert, key, spki };
}

/**
 * A server, a Chromium with a fresh profile and two pages, cleaned up after the test.
 * `serverArgs` go to the server (or `server` is one already started); `chromiumArgs` are
 * added to Chromium's.
 */
export async function setup(t, { serverArgs = [], chromiumArgs = [], server = null } = {}) {
  assert.ok(existsSync(serverBin), `no server binary at ${serverBin}: run \`cargo build -p ticksync-reference\` first (or set TICKSYNC_BIN)`);
  assert.ok(existsSync(chromiumPath), `no Chromium at ${chromiumPath}: apt-get install -y chromium`);
  if (!server) {
    server = await startServer(serverArgs);
    t.after(() => stopServer(server.proc));
  }
  const profile = mkdtempSync(path.join(os.tmpdir(), 'ticksync-e2e-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    args: [...CHROMIUM_ARGS, ...chromiumArgs],
    viewport: { width: 1000, height: 760 },
  });
  // Hooks run in the order they were added: the browser must be gone before its profile is
  // removed, or it writes the directory back.
  t.after(async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  });
  const pageA = context.pages()[0] || await context.newPage();
  const pageB = await context.newPage();
  const errA = watchErrors(pageA, 'A');
  const errB = watchErrors(pageB, 'B');
  return { server, pageA, pageB, errors: () => [...errA, ...errB] };
}

export const wait = (page, fn, arg, timeout = 15000) => page.waitForFunction(fn, arg, { timeout, polling: 50 });
export const playing = () => window.ticksync && window.ticksync.state === 'playing' && window.ticksync.tick !== null;

/** Entity `id` as `page` sees it in its newest snapshot: {type, fields}, or null. */
export const seen = (page, id) => page.evaluate((id) => {
  const e = window.ticksync.entities().find((e) => e.id.index === id.index && e.id.version === id.version);
  return e ? { type: e.type, fields: e.fields } : null;
}, id);

/** Both pages still play, in sync, without errors; the HUD shows > 50 snapshots/s. */
export async function assertHealthy(pages, errors) {
  for (const [label, page] of pages) {
    await wait(page, () => window.ticksync.hud.snapshotsPerSec > 50, undefined, 10000).catch(async () => {
      const hud = await page.evaluate(() => window.ticksync.hud);
      assert.fail(`page ${label}: snapshot rate ${hud.snapshotsPerSec}/s`);
    });
    const s = await page.evaluate(() => ({
      state: window.ticksync.state,
      mismatches: window.ticksync.checksumMismatches,
      resyncs: window.ticksync.resyncs,
      hashMismatch: window.ticksync.hashMismatch,
      hud: document.getElementById('hud').innerText,
    }));
    assert.equal(s.state, 'playing', `page ${label} state`);
    assert.equal(s.mismatches, 0, `page ${label} checksum mismatches`);
    assert.equal(s.resyncs, 0, `page ${label} resyncs`);
    assert.equal(s.hashMismatch, false, `page ${label}: the descriptor hashes as the server says`);
    assert.match(s.hud, /snapshots\s*\n?\s*\d+\/s/, `page ${label} HUD`);
  }
  assert.deepEqual(errors, [], 'no console errors on either page');
}

export async function screenshot(page, name) {
  mkdirSync(artifacts, { recursive: true });
  await page.bringToFront();
  await page.screenshot({ path: path.join(artifacts, name) });
}
