// The package's TypeScript declarations (types/) are true to the code (src/):
// - tsc compiles tests/types-check.ts, which uses the package by name as a studio would (typed by
//   the reference games' `schema --ts` declarations, and untyped), with node's module
//   resolution and with a bundler's; every declaration file is checked too;
// - each declaration file declares exactly the values its module exports (its `exports` entry in
//   package.json pairs them), constants with the values the module has (PROTOCOL_VERSION, CODES,
//   limits...);
// - the Room, its entities and OwnPredictor have every member their declarations name, and every
//   public member the Room has is declared.
// Needs the devDependency `typescript` (`npm ci`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';

import { Room } from '../src/ticksync.js';
import { Entity } from '../src/state.js';
import { OwnPredictor } from '../src/predict.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const tsc = path.join(path.dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');

const execFileP = promisify(execFile);

async function runTsc(...args) {
  try {
    await execFileP(process.execPath, [tsc, '-p', path.join(here, 'tsconfig.json'), ...args], { cwd: root, encoding: 'utf8' });
  } catch (e) {
    assert.fail(`tsc -p tests/tsconfig.json ${args.join(' ')} failed:\n${e.stdout}${e.stderr}`);
  }
}

test('tsc compiles types-check.ts and the declarations, with node\'s module resolution and a bundler\'s', async () => {
  await Promise.all([runTsc(), runTsc('--module', 'preserve', '--moduleResolution', 'bundler')]);
});

/** The package's JavaScript exports with their declaration files: [subpath, src, types]. */
const modules = Object.entries(pkg.exports)
  .filter(([, target]) => typeof target === 'object')
  .map(([sub, target]) => [sub, path.join(root, target.default), path.join(root, target.types)]);

const program = ts.createProgram(
  modules.map(([, , types]) => types),
  { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'], types: [] },
);
const checker = program.getTypeChecker();

/** A declaration file's exports: name -> {symbol (aliases resolved), value: whether it is a value}. */
function declaredExports(file) {
  const sf = program.getSourceFile(file);
  assert.ok(sf, `${file} is not in the program`);
  const out = new Map();
  for (const sym of checker.getExportsOfModule(checker.getSymbolAtLocation(sf))) {
    let target = sym;
    let typeOnly = false;
    if (sym.flags & ts.SymbolFlags.Alias) {
      const spec = sym.declarations?.[0];
      typeOnly = Boolean(spec && ts.isExportSpecifier(spec) && (spec.isTypeOnly || spec.parent.parent.isTypeOnly));
      target = checker.getAliasedSymbol(sym);
    }
    out.set(sym.name, { symbol: target, value: !typeOnly && (target.flags & ts.SymbolFlags.Value) !== 0 });
  }
  return out;
}

/** Checks a runtime value against a declared constant's type where the type pins it down. */
function sameAsDeclared(where, type, value) {
  if (type.isNumberLiteral() || type.isStringLiteral()) {
    assert.equal(value, type.value, `${where}: declared ${JSON.stringify(type.value)}, the module has ${JSON.stringify(value)}`);
    return;
  }
  if (type.flags & ts.TypeFlags.Number) return assert.equal(typeof value, 'number', `${where} is not a number`);
  if (type.flags & ts.TypeFlags.String) return assert.equal(typeof value, 'string', `${where} is not a string`);
  if (type.flags & ts.TypeFlags.Object && value && typeof value === 'object' && !Array.isArray(value)) {
    const props = checker.getPropertiesOfType(type).map((p) => p.name).sort();
    assert.deepEqual(props, Object.keys(value).sort(), `${where}: declared keys differ from the module's`);
    for (const p of checker.getPropertiesOfType(type)) sameAsDeclared(`${where}.${p.name}`, checker.getTypeOfSymbol(p), value[p.name]);
  }
}

for (const [sub, src, types] of modules) {
  const name = sub === '.' ? pkg.name : `${pkg.name}/${sub.slice(2)}`;
  test(`${name}: ${path.relative(root, types)} declares exactly the values ${path.relative(root, src)} exports, constants as they are`, async () => {
    const mod = await import(pathToFileURL(src).href);
    const declared = declaredExports(types);
    const values = [...declared].filter(([, d]) => d.value).map(([n]) => n).sort();
    assert.deepEqual(values, Object.keys(mod).sort(), 'declared values vs the module\'s exports');
    for (const [n, d] of declared) {
      if (!d.value) continue;
      const runtime = mod[n];
      const isFn = (d.symbol.flags & (ts.SymbolFlags.Function | ts.SymbolFlags.Class)) !== 0;
      assert.equal(typeof runtime === 'function', isFn, `${n}: declared as ${isFn ? 'a function or class' : 'a constant'}`);
      if (!isFn) sameAsDeclared(n, checker.getTypeOfSymbol(d.symbol), runtime);
    }
  });
}

/** The members a declared class or interface names: [{name, optional}]. */
function declaredMembers(file, name) {
  const { symbol } = declaredExports(file).get(name);
  const decl = symbol.declarations[0];
  const out = new Map();
  for (const m of decl.members) {
    if (!m.name || ts.isConstructorDeclaration(m)) continue;
    const isStatic = m.modifiers?.some((x) => x.kind === ts.SyntaxKind.StaticKeyword);
    if (isStatic) continue;
    out.set(m.name.getText(), { optional: Boolean(m.questionToken) });
  }
  return out;
}

const typesFile = path.join(root, 'types/ticksync.d.ts');

/** A Room that never connects: a socket that never opens and timers that never fire. */
function idleRoom() {
  class Socket {
    constructor() {
      this.readyState = 0;
    }
    send() {}
    close() {}
  }
  const timers = { setTimeout: () => 0, clearTimeout() {}, setInterval: () => 0, clearInterval() {} };
  return new Room({ url: 'ws://localhost:1/ws', room: 'r', name: 'n', WebSocketImpl: Socket, now: () => 0, timers });
}

test('every member the declarations give Room, Entity and OwnPredictor exists', () => {
  const room = idleRoom();
  room.start();
  const cases = [
    ['Room', room],
    ['Entity', new Entity({ index: 1, version: 1 }, { id: 0, name: 't' })],
    ['OwnPredictor', new OwnPredictor({ fields: ['x'], step: (s) => s })],
  ];
  for (const [name, instance] of cases) {
    for (const [member, { optional }] of declaredMembers(typesFile, name)) {
      if (optional) continue;
      assert.ok(member in instance, `${name}.${member} is declared but the ${name} has none`);
    }
  }
  room.close();
});

// Room members that are the Room's own business (not in README.md's reference, not declared).
const ROOM_INTERNALS = new Set([
  'constructor', 'emit', 'configurePredictor', 'ownView', 'statusChanged', 'received', 'welcomed', 'snapshot',
  'scheduleAck', 'serverEvent', 'gameEvent',
  // state
  'now', 'timers', 'store', 'ring', 'latest', 'pendingAck', 'lastInputAt', 'acc', 'lastPump', 'ownPredictor',
  'listeners', 'eventListeners', 'pumpTimer', 'ackTimer',
]);

test('every public member of a Room is declared (or listed here as internal)', () => {
  const room = idleRoom();
  room.start();
  const members = new Set([...Object.getOwnPropertyNames(Room.prototype), ...Object.keys(room)]);
  const declared = declaredMembers(typesFile, 'Room');
  const missing = [...members].filter((m) => !ROOM_INTERNALS.has(m) && !declared.has(m));
  assert.deepEqual(missing, [], 'Room members missing from types/ticksync.d.ts (declare them, or list them as internal in this test)');
  room.close();
});
