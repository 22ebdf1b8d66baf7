// End to end: the real server binary and real Chromium (Debian's, driven by playwright-core),
// two pages per game, everything asserted from the decoded state each page exposes in
// `window.ticksync` (not pixels).
// - arena: a key held in page A moves A's player, and page B, through its own snapshots, sees it
//   move by the right amount; A's prediction settles where the server put it.
// - skirmish: two players play each other: each sees the other's tank drive, turn its hull and
//   its turret, and fire shells; the shooter's own (private) ammo drops.
// - simulated network: a page with `?latency=50&jitter=5` measures an RTT of 100 ms or more,
//   shows it in its HUD and plays on with the other page.
// - https: two pages play over https and wss, the server serving TLS itself.
// - cluster: two nodes on a real redis-server; a drain hands the pages' room to the other node,
//   and both pages follow it (MOVED) and play on with their own players.
// - generic: two pages play skirmish on the generic page (`/?game=skirmish&page=generic`),
//   drawn from the descriptor alone, with the bandwidth per type measured; an unknown game
//   gets a page saying so; a page of another origin imports the client from the server (CORS)
//   and plays.
// Both pages must keep a snapshot rate above 50/s, apply every delta with matching checksums
// and log no console error. Screenshots go to client/tests/out/ (gitignored).
//
// Needs: the server built (`cargo build -p ticksync-reference`, or TICKSYNC_BIN=path),
// /usr/bin/chromium (`apt-get install -y chromium`), `openssl` and `redis-server`. Never
// downloads a browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';

import {
  startServer, stopServer, selfSignedCert, setup, wait, playing, seen, assertHealthy, screenshot,
} from './harness.mjs';

test('arena: two browsers in one room; input moves a player that the other page sees', { timeout: 120000 }, async (t) => {
  const { server, pageA, pageB, errors } = await setup(t);
  try {
    const room = `e2e-${Math.random().toString(36).slice(2, 10)}`;
    await pageA.goto(`${server.url}/?room=${room}&name=alice`);
    await wait(pageA, playing);
    await pageB.goto(`${server.url}/?room=${room}&name=bob`);
    await wait(pageB, playing);
    assert.equal(await pageA.evaluate(() => window.ticksync.game), 'arena', 'the default game');

    await wait(pageA, () => window.ticksync.players.length === 2);
    await wait(pageB, () => window.ticksync.players.length === 2);
    const idA = await pageA.evaluate(() => window.ticksync.player);
    await wait(pageB, (id) => window.ticksync.entities().some((e) => e.id.index === id.index && e.id.version === id.version), idA);
    assert.deepEqual(await pageB.evaluate(() => window.ticksync.players.map((p) => p.name).sort()), ['alice', 'bob']);
    const startTickB = await pageB.evaluate(() => window.ticksync.tick);
    const params = await pageA.evaluate(() => window.ticksync.params);
    assert.equal(params.player_speed, 200);

    // Hold a key in A for about a second: right, or left if A spawned near the right wall.
    const before = await seen(pageB, idA);
    assert.equal(before.type, 'player', 'A is a player entity');
    const x0 = before.fields['pos.x'];
    const right = x0 < 600;
    const keyName = right ? 'ArrowRight' : 'a';
    await pageA.bringToFront();
    const heldFrom = Date.now();
    await pageA.keyboard.down(keyName);
    await wait(pageA, ([id, x0, right]) => {
      const me = window.ticksync.entities().find((e) => e.id.index === id.index && e.id.version === id.version);
      return me && (right ? me.fields['pos.x'] - x0 : x0 - me.fields['pos.x']) >= 200;
    }, [idA, x0, right], 10000);
    await pageA.keyboard.up(keyName);
    const heldMs = Date.now() - heldFrom;

    // Once the server has applied an input sent after the release, A stands still: read where.
    const seqAtRelease = await pageA.evaluate(() => window.ticksync.inputSeq);
    await wait(pageA, (s) => window.ticksync.ackedInputSeq > s + 1, seqAtRelease);
    const final = await seen(pageA, idA);
    // B's own snapshots reach exactly the same (quantised) state.
    await wait(pageB, ([id, f]) => {
      const e = window.ticksync.entities().find((e) => e.id.index === id.index && e.id.version === id.version);
      return e && e.fields['pos.x'] === f['pos.x'] && e.fields['pos.y'] === f['pos.y'];
    }, [idA, final.fields]);
    const moved = final.fields['pos.x'] - x0;
    // Positions replicate within 1/32 unit of the truth (arena's declared tolerance).
    assert.ok(moved * (right ? 1 : -1) >= 200 - 1 / 32, `B saw A move ${moved} units`);
    assert.ok(Math.abs(moved) <= 200 * (heldMs + 500) / 1000, `moved ${moved} in ${heldMs} ms: faster than 200 units/s`);
    assert.ok(Math.abs(final.fields['pos.y'] - before.fields['pos.y']) < 1, 'A did not move vertically');
    assert.deepEqual([final.fields['vel.x'], final.fields['vel.y']], [0, 0], 'A stands still');
    // A's own prediction settled where the server put it (within quantisation).
    const predicted = await pageA.evaluate(() => window.ticksync.predicted);
    assert.ok(Math.abs(predicted['pos.x'] - final.fields['pos.x']) < 0.1 && Math.abs(predicted['pos.y'] - final.fields['pos.y']) < 0.1,
      `A predicted ${JSON.stringify(predicted)}, server says ${JSON.stringify(final.fields)}`);
    // NPCs and players: the world is there on both pages.
    for (const page of [pageA, pageB]) {
      const counts = await page.evaluate(() => window.ticksync.entities().reduce((c, e) => ({ ...c, [e.type]: (c[e.type] || 0) + 1 }), {}));
      assert.ok(counts.npc > 100 && counts.player === 2, JSON.stringify(counts));
    }

    await wait(pageB, (t0) => window.ticksync.tick >= t0 + 180, startTickB, 20000);
    await assertHealthy([['A', pageA], ['B', pageB]], errors());
    await screenshot(pageB, 'arena-two-players.png');
  } catch (e) {
    e.message += `\n--- server stderr (tail) ---\n${server.logs().slice(-4000)}`;
    throw e;
  }
});

test('simulated network: ?latency=50&jitter=5 adds to the round trip, and the page plays on', { timeout: 120000 }, async (t) => {
  const { server, pageA, pageB, errors } = await setup(t);
  try {
    const room = `e2e-sim-${Math.random().toString(36).slice(2, 10)}`;
    await pageA.goto(`${server.url}/?room=${room}&name=slow&latency=50&jitter=5`);
    await wait(pageA, playing);
    await pageB.goto(`${server.url}/?room=${room}&name=fast`);
    await wait(pageB, playing);
    assert.deepEqual(await pageA.evaluate(() => window.ticksync.simulated), { latencyMs: 50, jitterMs: 5, stallMs: 0, stallEveryS: 0 });
    assert.equal(await pageB.evaluate(() => window.ticksync.simulated), null);
    // Pings every second: the RTT includes the latency both ways.
    await wait(pageA, () => window.ticksync.hud.rttMs !== null && window.ticksync.hud.rttMs >= 100, undefined, 10000);
    await wait(pageB, () => window.ticksync.hud.rttMs !== null, undefined, 10000);
    const [rttA, rttB] = await Promise.all([pageA, pageB].map((p) => p.evaluate(() => window.ticksync.hud.rttMs)));
    assert.ok(rttA >= 100 && rttA < 1000, `simulated page RTT ${rttA} ms`);
    assert.ok(rttB < 100, `plain page RTT ${rttB} ms`);
    const hud = await pageA.evaluate(() => document.getElementById('hud').innerText);
    assert.match(hud, /simulated\s*\n?\s*50±5 ms/, 'the HUD shows the simulation');
    assert.doesNotMatch(await pageB.evaluate(() => document.getElementById('hud').innerText), /simulated/);
    // Inputs still reach the server and come back acked, later.
    const seq = await pageA.evaluate(() => window.ticksync.inputSeq);
    await wait(pageA, (s) => window.ticksync.ackedInputSeq > s + 10, seq);
    // The interpolation delay grew with the jitter seen, within its bounds.
    const interp = await pageA.evaluate(() => window.ticksync.interpolation);
    assert.ok(interp.delayMs > 0 && interp.aheadMs > -50, JSON.stringify(interp));
    const tick0 = await pageA.evaluate(() => window.ticksync.tick);
    await wait(pageA, (t0) => window.ticksync.tick >= t0 + 120, tick0, 20000);
    await assertHealthy([['A', pageA], ['B', pageB]], errors());
    await screenshot(pageA, 'arena-simulated-latency.png');
  } catch (e) {
    e.message += `\n--- server stderr (tail) ---\n${server.logs().slice(-4000)}`;
    throw e;
  }
});

/** The tank `id` as `page` sees it (fields), or null. */
const tank = async (page, id) => (await seen(page, id))?.fields ?? null;

/** The short-way difference of two angles (radians). */
const angleDelta = (a, b) => Math.abs(((((a - b + Math.PI) % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI)) - Math.PI);

/**
 * `driver` drives its tank for a while (toward the middle, vertically, so the hull turns), aims
 * at a point away from where the turret points, and fires; `watcher` must see all of it through
 * its own snapshots. Returns what the watcher saw.
 */
async function driveTurnAndFire(driver, watcher, label) {
  const id = await driver.evaluate(() => window.ticksync.player);
  const watcherId = await watcher.evaluate(() => window.ticksync.player);
  await wait(watcher, (id) => window.ticksync.entities().some((e) => e.id.index === id.index && e.id.version === id.version), id);
  const before = await tank(watcher, id);
  const params = await driver.evaluate(() => window.ticksync.params);
  assert.ok(before.health > 0, `${label}: a living tank`);

  // Drive vertically toward the middle: the hull turns from facing sideways to up or down.
  const down = before['pos.y'] < params.world_height / 2;
  const key = down ? 's' : 'w';
  await driver.bringToFront();
  await driver.keyboard.down(key);
  await wait(watcher, ([id, y0, down]) => {
    const e = window.ticksync.entities().find((e) => e.id.index === id.index && e.id.version === id.version);
    return e && (down ? e.fields['pos.y'] - y0 : y0 - e.fields['pos.y']) >= 60;
  }, [id, before['pos.y'], down], 10000);
  // Keep going until the hull points the way it drives (3 rad/s: about half a second).
  const heading = down ? Math.PI / 2 : 3 * Math.PI / 2;
  await wait(watcher, ([id, heading]) => {
    const e = window.ticksync.entities().find((e) => e.id.index === id.index && e.id.version === id.version);
    const d = Math.abs(((e.fields.hull - heading + 3 * Math.PI) % (2 * Math.PI)) - Math.PI);
    return d < 0.05;
  }, [id, heading], 10000);
  await driver.keyboard.up(key);
  const moved = await tank(watcher, id);
  assert.ok(angleDelta(moved.hull, before.hull) > 1.4, `${label}: the hull turned ${before.hull} -> ${moved.hull}`);
  assert.ok(Math.abs(moved['pos.x'] - before['pos.x']) < 1, `${label}: drove straight`);

  // Aim: the mouse at a point straight ahead of the tank on the other side, i.e. a turn of
  // about 90 degrees from where the turret points now (the hull's old facing).
  const me = await tank(driver, id);
  const aimAngle = me.turret + Math.PI / 2;
  const target = { x: me['pos.x'] + Math.cos(aimAngle) * 150, y: me['pos.y'] + Math.sin(aimAngle) * 150 };
  const screen = await driver.evaluate(([x, y]) => window.ticksync.worldToScreen(x, y), [target.x, target.y]);
  await driver.mouse.move(screen.x, screen.y);
  await wait(watcher, ([id, turret]) => {
    const e = window.ticksync.entities().find((e) => e.id.index === id.index && e.id.version === id.version);
    return Math.abs(((e.fields.turret - turret + 3 * Math.PI) % (2 * Math.PI)) - Math.PI) > 1.3;
  }, [id, me.turret], 10000);
  const aimed = await tank(watcher, id);

  // Fire: hold the mouse button until the watcher sees shells of the driver's team fly.
  const ammo0 = (await driver.evaluate(() => window.ticksync.me.fields.ammo));
  await driver.mouse.down();
  await wait(watcher, (team) => window.ticksync.entities().some((e) => e.type === 'shell' && e.fields.team === team), moved.team, 10000);
  await driver.mouse.up();
  const shells = await watcher.evaluate((team) => window.ticksync.entities().filter((e) => e.type === 'shell' && e.fields.team === team).map((e) => e.fields), moved.team);
  // A shell flies the way the turret points: at the mouse (the turret may still have been
  // finishing its turn when the first one left).
  const s = shells[0];
  const flight = Math.atan2(s['vel.y'], s['vel.x']);
  assert.ok(angleDelta(flight, aimAngle) < 0.35, `${label}: shell flies ${flight}, aimed at ${aimAngle}`);
  // The shooter's ammo is private: only its own page sees it drop.
  await wait(driver, (a0) => window.ticksync.me.fields.ammo < a0, ammo0, 5000);
  const other = await seen(watcher, id);
  assert.ok(!('ammo' in other.fields) && !('reload' in other.fields), `${label}: the watcher cannot see the shooter's ammo`);
  assert.ok('ammo' in (await watcher.evaluate(() => window.ticksync.me.fields)), 'but its own');
  assert.notDeepEqual(id, watcherId);
  return { before, moved, aimed, shells };
}

test('skirmish: two browsers play each other; each sees the other drive, turn and fire', { timeout: 180000 }, async (t) => {
  const { server, pageA, pageB, errors } = await setup(t);
  try {
    const room = `tanks-${Math.random().toString(36).slice(2, 10)}`;
    await pageA.goto(`${server.url}/?game=skirmish&room=${room}&name=alice`);
    await wait(pageA, playing);
    await pageB.goto(`${server.url}/?game=skirmish&room=${room}&name=bob`);
    await wait(pageB, playing);
    for (const page of [pageA, pageB]) {
      assert.equal(await page.evaluate(() => window.ticksync.game), 'skirmish');
      await wait(page, () => window.ticksync.entities().filter((e) => e.type === 'tank').length === 2);
    }
    // The match: the room state everyone sees.
    const state = await pageA.evaluate(() => window.ticksync.roomState);
    assert.ok(['warmup', 'playing', 'ended'].includes(state.phase), JSON.stringify(state));
    assert.ok(state.time_left > 0);
    const params = await pageA.evaluate(() => window.ticksync.params);
    assert.deepEqual([params.world_width, params.world_height, params.tank_speed], [1600, 1000, 120]);
    // One tank each, on opposite teams, named after their players.
    const meA = await pageA.evaluate(() => window.ticksync.me.fields);
    const meB = await pageB.evaluate(() => window.ticksync.me.fields);
    assert.notEqual(meA.team, meB.team, 'the second player joins the other team');
    assert.deepEqual([meA.name, meB.name], ['alice', 'bob']);
    assert.equal(meA.ammo, 5);

    await driveTurnAndFire(pageA, pageB, 'B watching A');
    await driveTurnAndFire(pageB, pageA, 'A watching B');

    // The HUD shows the match and the own private numbers; time runs down on both pages.
    for (const page of [pageA, pageB]) {
      const hud = await page.evaluate(() => document.getElementById('hud').innerText);
      assert.match(hud, /phase/);
      assert.match(hud, /ammo/);
      assert.match(hud, /red – blue/);
    }
    const t0 = await pageB.evaluate(() => window.ticksync.roomState.time_left);
    await wait(pageB, (t0) => window.ticksync.roomState.time_left < t0 - 0.5 || window.ticksync.roomState.time_left > t0, t0, 5000);

    await assertHealthy([['A', pageA], ['B', pageB]], errors());
    await screenshot(pageA, 'skirmish-alice.png');
    await screenshot(pageB, 'skirmish-bob.png');
  } catch (e) {
    e.message += `\n--- server stderr (tail) ---\n${server.logs().slice(-4000)}`;
    throw e;
  }
});

test('https: a page plays over https and wss with the server\'s own TLS', { timeout: 120000 }, async (t) => {
  const tls = selfSignedCert(t);
  const { server, pageA, pageB, errors } = await setup(t, {
    serverArgs: ['--tls-cert', tls.cert, '--tls-key', tls.key],
    // Trust exactly this certificate's key, as a CA-issued one would be trusted.
    chromiumArgs: [`--ignore-certificate-errors-spki-list=${tls.spki}`],
  });
  assert.match(server.url, /^https:\/\//, 'the server says it serves https');
  const room = `tls-${Math.random().toString(36).slice(2, 10)}`;
  await pageA.goto(`${server.url}/?room=${room}&name=alice`);
  await wait(pageA, playing);
  await pageB.goto(`${server.url}/?room=${room}&name=bob`);
  await wait(pageB, playing);
  await wait(pageA, () => window.ticksync.players.length === 2);
  for (const page of [pageA, pageB]) {
    const where = await page.evaluate(() => ({ page: location.protocol, ws: window.ticksync.url }));
    assert.equal(where.page, 'https:');
    assert.match(where.ws, /^wss:\/\//, 'the game connects with wss');
  }
  await assertHealthy([['A', pageA], ['B', pageB]], errors());
  await screenshot(pageA, 'https.png');
});

/** A redis-server on a free loopback port (./scripts/test.sh installs it); resolves with its URL. */
async function startRedis(t) {
  const port = await new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' });
  t.after(() => proc.kill('SIGKILL'));
  const deadline = Date.now() + 15000;
  for (;;) {
    const up = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => { c.destroy(); resolve(true); });
      c.once('error', () => resolve(false));
    });
    if (up) return `redis://127.0.0.1:${port}`;
    if (Date.now() > deadline) throw new Error('redis-server did not start');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('cluster: a drain hands the room to another node and both pages play on with their players', { timeout: 120000 }, async (t) => {
  const redis = await startRedis(t);
  const cluster = ['--redis', redis, '--admin-token', 'ops'];
  const first = await startServer([...cluster, '--node-id', 'first']);
  t.after(() => stopServer(first.proc));
  const second = await startServer([...cluster, '--node-id', 'second']);
  t.after(() => stopServer(second.proc));
  const { pageA, pageB, errors } = await setup(t, { server: first });
  const room = `move-${Math.random().toString(36).slice(2, 10)}`;
  for (const [page, name] of [[pageA, 'alice'], [pageB, 'bob']]) {
    await page.goto(`${first.url}/?room=${room}&name=${name}`);
    await wait(page, playing);
  }
  await wait(pageA, () => window.ticksync.players.length === 2);
  const before = await Promise.all([pageA, pageB].map((p) => p.evaluate(() => ({ player: window.ticksync.player, tick: window.ticksync.tick }))));

  const drained = await fetch(`${first.url}/admin/drain`, { method: 'POST', headers: { authorization: 'Bearer ops' } });
  assert.equal(drained.status, 200, await drained.text());

  const secondWs = `${second.url.replace(/^http/, 'ws')}/ws`;
  for (const [i, page] of [pageA, pageB].entries()) {
    // Handed over: on the second node, the same player, the room's clock carried over.
    await wait(page, ([url, tick]) => window.ticksync.handoffs === 1 && window.ticksync.url === url
      && window.ticksync.state === 'playing' && window.ticksync.tick > tick + 30, [secondWs, before[i].tick]);
    assert.deepEqual(await page.evaluate(() => window.ticksync.player), before[i].player, 'the same player entity');
  }
  await wait(pageB, () => window.ticksync.players.length === 2);
  await assertHealthy([['A', pageA], ['B', pageB]], errors());
});

test('generic: two pages play skirmish on the generic page, drawn from its descriptor alone', { timeout: 120000 }, async (t) => {
  const { server, pageA, pageB, errors } = await setup(t);
  try {
    const room = `generic-${Math.random().toString(36).slice(2, 10)}`;
    for (const [page, name] of [[pageA, 'alice'], [pageB, 'bob']]) {
      await page.goto(`${server.url}/?room=${room}&game=skirmish&page=generic&name=${name}`);
      assert.match(page.url(), /\/client\/v1\/generic\.html\?/, 'the launcher sent the page to the generic page');
      await wait(page, playing);
    }
    for (const page of [pageA, pageB]) {
      assert.equal(await page.evaluate(() => window.ticksync.game), 'skirmish');
      // Both tanks drawn, on each page.
      await wait(page, () => window.ticksync.generic.drawnByType.tank === 2);
      const g = await page.evaluate(() => window.ticksync.generic);
      assert.ok(g.drawn >= 2, `drawn ${g.drawn}`);
      assert.deepEqual([...g.types].sort(), ['shell', 'tank']);
      assert.deepEqual(g.legend.find((l) => l.name === 'tank').position, ['pos.x', 'pos.y']);
      assert.deepEqual([g.world.width, g.world.height], [1600, 1000], 'the world from the params');
      assert.equal(g.moves, true, 'skirmish has move_x / move_y');
      // Bandwidth per type and field, from the decoded snapshots.
      await wait(page, () => (window.ticksync.generic.bandwidth.byType.tank ?? 0) > 0 && window.ticksync.generic.bandwidth.snapshotsPerSec > 30);
      const bw = await page.evaluate(() => window.ticksync.generic.bandwidth);
      assert.ok(bw.bytesPerSec > 0, JSON.stringify(bw));
      assert.ok(bw.byField.some((f) => f.type === 'tank'), JSON.stringify(bw.byField));
      // The panel shows the room state and the legend.
      const panel = await page.evaluate(() => document.getElementById('panel').innerText);
      assert.match(panel, /phase/);
      assert.match(panel, /tank/);
    }

    // Keys move the own tank (WASD maps to move_x / move_y), and the other page sees it.
    const id = await pageA.evaluate(() => window.ticksync.player);
    const before = await seen(pageB, id);
    const params = await pageA.evaluate(() => window.ticksync.params);
    const down = before.fields['pos.y'] < params.world_height / 2;
    await pageA.bringToFront();
    await pageA.keyboard.down(down ? 's' : 'w');
    await wait(pageB, ([id, y0, down]) => {
      const e = window.ticksync.entities().find((e) => e.id.index === id.index && e.id.version === id.version);
      return e && (down ? e.fields['pos.y'] - y0 : y0 - e.fields['pos.y']) >= 40;
    }, [id, before.fields['pos.y'], down], 10000);
    await pageA.keyboard.up(down ? 's' : 'w');

    // Hovering an entity shows its fields.
    await pageB.bringToFront();
    const p = await pageB.evaluate((id) => {
      const e = window.ticksync.entities().find((e) => e.id.index === id.index && e.id.version === id.version);
      return window.ticksync.worldToScreen(e.fields['pos.x'], e.fields['pos.y']);
    }, id);
    await pageB.mouse.move(p.x, p.y);
    await wait(pageB, () => /hull/.test(document.getElementById('selected').innerText) && /team/.test(document.getElementById('selected').innerText));
    assert.equal(await pageB.evaluate(() => window.ticksync.generic.selected), `${id.index}:${id.version}`);

    await assertHealthy([['A', pageA], ['B', pageB]], errors());
    await screenshot(pageB, 'generic-skirmish.png');
  } catch (e) {
    e.message += `\n--- server stderr (tail) ---\n${server.logs().slice(-4000)}`;
    throw e;
  }
});

test('generic: an unknown game gets a page that says so and lists the games', { timeout: 60000 }, async (t) => {
  const { server, pageA } = await setup(t);
  const res = await pageA.goto(`${server.url}/?game=nope&room=x`);
  assert.equal(res.status(), 404);
  const text = await pageA.evaluate(() => document.body.innerText);
  assert.match(text, /no game named nope/);
  for (const g of ['arena', 'arena-large', 'skirmish']) assert.match(text, new RegExp(`\\b${g}\\b`));
  assert.equal(await pageA.evaluate(() => window.ticksync), undefined, 'no game was started');
  // Its links lead to the games.
  await Promise.all([pageA.waitForURL(/\/games\/skirmish\//), pageA.click('a[href="/?game=skirmish"]')]);
  await wait(pageA, playing);
  assert.equal(await pageA.evaluate(() => window.ticksync.game), 'skirmish');
});

/** A plain HTTP server on another loopback port serving `html` at `/`: another origin. */
async function otherOrigin(t, html) {
  const srv = http.createServer((req, res) => {
    if (req.url === '/' || req.url.startsWith('/?')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(html);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => srv.close(resolve)));
  return `http://127.0.0.1:${srv.address().port}`;
}

test('cors: a page of another origin imports the client from the server and plays', { timeout: 60000 }, async (t) => {
  const { server, pageA, errors } = await setup(t);
  const ws = `${server.url.replace(/^http/, 'ws')}/ws`;
  const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>studio page</title>
<link rel="icon" href="${server.url}/client/v1/favicon.svg">
<script type="module">
  import { connect, PROTOCOL_VERSION } from '${server.url}/client/v1/ticksync.js';
  const room = connect({ url: ${JSON.stringify(ws)}, room: 'cors-room', name: 'studio', game: 'arena' });
  window.studio = { welcome: null, snapshots: 0, version: PROTOCOL_VERSION };
  room.on('welcome', (w) => { window.studio.welcome = { game: w.game, room: w.room }; });
  room.on('snapshot', () => { window.studio.snapshots++; });
  room.inputSource = () => ({ move_x: 0, move_y: 0 });
  window.room = room;
</script></head><body>studio</body></html>`;
  const origin = await otherOrigin(t, html);
  assert.notEqual(new URL(origin).port, new URL(server.url).port);
  await pageA.goto(`${origin}/`);
  await wait(pageA, () => window.studio && window.studio.welcome !== null && window.studio.snapshots > 30);
  const got = await pageA.evaluate(() => ({ welcome: window.studio.welcome, entities: window.room.entities.size, origin: location.origin }));
  assert.deepEqual(got.welcome, { game: 'arena', room: 'cors-room' });
  assert.ok(got.entities > 100, `entities ${got.entities}`);
  assert.equal(got.origin, origin);
  assert.deepEqual(errors(), [], 'no console errors');
});
