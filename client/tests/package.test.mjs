// The npm package a studio depends on (`npm pack`, then `npm install ./ticksync-client-*.tgz`):
// - package.json: every `exports` target exists, each JavaScript export has its declarations,
//   the version is the Rust workspace's;
// - the tarball holds exactly package.json, README.md, src/ and types/ (no tests, no
//   node_modules, no lock file);
// - installed from the tarball into a fresh project (offline: the package has no dependencies),
//   it imports by name in node (every module of the library: none touches the DOM until called),
//   its exports resolve and nothing else does (net.js is not reachable), and a TypeScript file
//   importing every export compiles against the installed declarations.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** Every file under `dir` (relative to the package root, `/`-separated). */
function filesUnder(dir) {
  const out = [];
  for (const e of readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...filesUnder(rel));
    else out.push(rel);
  }
  return out;
}

/** Every file an `exports` entry points at: [subpath, condition, target]. */
function exportTargets() {
  const out = [];
  for (const [sub, target] of Object.entries(pkg.exports)) {
    if (typeof target === 'string') out.push([sub, 'default', target]);
    else for (const [cond, t] of Object.entries(target)) out.push([sub, cond, t]);
  }
  return out;
}

let tmp;
let tarball;
let packed;
let project;

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'ticksync-client-pack-'));
  const { stdout } = await run(npm, ['pack', '--json', '--pack-destination', tmp], { cwd: root });
  [packed] = JSON.parse(stdout);
  tarball = path.join(tmp, packed.filename);
  // A studio's project, depending on the tarball.
  project = path.join(tmp, 'studio');
  mkdirSync(project);
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'studio-game', version: '1.0.0', private: true, type: 'module' }));
  await run(npm, ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], { cwd: project });
});

after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('package.json: a publishable package whose exports all exist, each module with its declarations', () => {
  assert.equal(pkg.name, 'ticksync-client');
  assert.equal(pkg.private, undefined, 'a studio must be able to pack and install it');
  assert.equal(pkg.type, 'module');
  const cargo = readFileSync(path.resolve(root, '../Cargo.toml'), 'utf8');
  const workspaceVersion = /\[workspace\.package\][^[]*?\nversion\s*=\s*"([^"]+)"/.exec(cargo)?.[1];
  assert.equal(pkg.version, workspaceVersion, 'the version is the Rust workspace\'s');
  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
  assert.equal(lock.name, pkg.name, 'package-lock.json is the package\'s');
  assert.equal(lock.version, pkg.version);
  assert.deepEqual(lock.packages[''].devDependencies, pkg.devDependencies, 'package-lock.json has the devDependencies');
  for (const [sub, cond, target] of exportTargets()) {
    assert.ok(target.startsWith('./'), `${sub} (${cond}): ${target} is not relative`);
    assert.ok(existsSync(path.join(root, target)), `${sub} (${cond}): ${target} does not exist`);
  }
  for (const [sub, target] of Object.entries(pkg.exports)) {
    if (typeof target === 'string' && !target.endsWith('.js')) continue; // style.css, favicon.svg, package.json
    assert.equal(typeof target, 'object', `${sub}: a JavaScript module needs {types, default}`);
    assert.deepEqual(Object.keys(target), ['types', 'default'], `${sub}: "types" must come first`);
  }
  assert.equal(pkg.exports['.'].default, pkg.main);
  assert.equal(pkg.exports['.'].types, pkg.types);
});

test('the tarball holds exactly package.json, README.md, src/ and types/', () => {
  const files = packed.files.map((f) => f.path).sort();
  const expected = ['package.json', 'README.md', ...filesUnder('src'), ...filesUnder('types')].sort();
  assert.deepEqual(files, expected);
  for (const f of files) assert.ok(!/^(tests|node_modules)\//.test(f) && f !== 'package-lock.json', `${f} must not ship`);
  for (const [sub, cond, target] of exportTargets()) {
    assert.ok(files.includes(path.posix.normalize(target)), `${sub} (${cond}): ${target} is not in the tarball`);
  }
});

test('installed from the tarball: it imports by name in node, exports resolve, internals do not', async () => {
  const installed = path.join(project, 'node_modules', pkg.name);
  assert.ok(existsSync(path.join(installed, 'package.json')), 'npm installed the tarball');
  assert.ok(!existsSync(path.join(installed, 'tests')), 'no tests installed');
  // The probe runs in the studio's project, importing the package as its code would.
  const probe = `
    import assert from 'node:assert/strict';
    import { existsSync } from 'node:fs';
    import { fileURLToPath } from 'node:url';
    const client = await import('ticksync-client');
    const protocol = await import('ticksync-client/protocol');
    assert.equal(protocol.PROTOCOL_VERSION, 4);
    assert.equal(client.PROTOCOL_VERSION, protocol.PROTOCOL_VERSION);
    assert.equal(client.CODES, protocol.CODES);
    assert.equal(typeof client.connect, 'function');
    assert.equal(typeof client.Room, 'function');
    assert.equal(client.keyOf({ index: 3, version: 7 }), '3:7');
    assert.equal(client.cleanRoom('lob by!'), 'lobby');
    assert.equal(client.defaultUrl({ protocol: 'https:', host: 'game.example' }), 'wss://game.example/ws');
    assert.match(client.describeClose(protocol.CODES.ROOM_FULL).message, /full/);
    // The page kit imports too (it touches the DOM only when used).
    assert.equal(typeof (await import('ticksync-client/page')).Page, 'function');
    assert.equal(typeof (await import('ticksync-client/input')).Controls, 'function');
    assert.equal(typeof (await import('ticksync-client/hud')).formatMs, 'function');
    assert.equal(typeof (await import('ticksync-client/view')).View, 'function');
    for (const spec of ${JSON.stringify(Object.keys(pkg.exports).map((s) => (s === '.' ? pkg.name : `${pkg.name}/${s.slice(2)}`)))}) {
      const file = fileURLToPath(import.meta.resolve(spec));
      assert.ok(existsSync(file), spec + ' resolves to ' + file + ', which does not exist');
    }
    for (const spec of ['ticksync-client/src/net.js', 'ticksync-client/net', 'ticksync-client/tests/golden.mjs']) {
      await assert.rejects(import(spec), { code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' }, spec + ' must not be importable');
    }
    console.log('probe ok');
  `;
  writeFileSync(path.join(project, 'probe.mjs'), probe);
  const { stdout } = await run(process.execPath, ['probe.mjs'], { cwd: project });
  assert.match(stdout, /probe ok/);
});

test('installed from the tarball: a TypeScript file importing every export compiles', async () => {
  const tsc = path.join(path.dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
  writeFileSync(
    path.join(project, 'game.ts'),
    `import { connect, type Room, type RoomView } from 'ticksync-client';
import { PROTOCOL_VERSION, decodeServer } from 'ticksync-client/protocol';
import { Page } from 'ticksync-client/page';
import { Controls } from 'ticksync-client/input';
import { Hud, formatMs } from 'ticksync-client/hud';
import { View } from 'ticksync-client/view';

type Game = { Input: { move_x: number; move_y: number }; Events: { kill: { killer: string } } };
const room: Room<Game> = connect<Game>({ url: 'ws://localhost:8080/ws', room: 'lobby', name: 'ann' });
room.inputSource = () => ({ move_x: 1, move_y: 0 });
room.onEvent('kill', (f) => console.log(f.killer.toUpperCase()));
const v: RoomView<Game> | null = room.sample(room.renderTime());
const version: 4 = PROTOCOL_VERSION;
export const used = [v, version, decodeServer, Page, Controls, Hud, formatMs, View];
`,
  );
  const common = ['--noEmit', '--strict', '--target', 'es2022', '--lib', 'es2022,dom', '--skipLibCheck', 'false', 'game.ts'];
  for (const resolution of [['--module', 'nodenext', '--moduleResolution', 'nodenext'], ['--module', 'preserve', '--moduleResolution', 'bundler']]) {
    try {
      await run(process.execPath, [tsc, ...resolution, ...common], { cwd: project });
    } catch (e) {
      assert.fail(`tsc ${resolution.join(' ')} in the studio's project failed:\n${e.stdout}${e.stderr}`);
    }
  }
});
