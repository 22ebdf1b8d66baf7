// What every game page shares (the reference games' and the generic page): which game, who and
// where (from the URL), the Room, the HUD and its event feed, the status banner, the net graph
// (`N`, `?netgraph=1`), the frame loop and the `window.ticksync` debug hook tests read.
import { connect, cleanName, cleanRoom, defaultUrl, keyOf } from './ticksync.js';
import { Hud, formatMs } from './hud.js';
import { RateMeter } from './stats.js';
import { MAX_SIMULATED_MS, MAX_STALL_PERIOD_S, normalizeSimulate } from './net.js';
import { NetGraph } from './netgraph.js';

/** The game this page plays: `?game=` (cleaned to a game name), else `fallback`. */
export function pageGame(fallback) {
  return cleanRoom(new URLSearchParams(location.search).get('game')) || fallback;
}

/** `?room=&name=&token=` of this page, with defaults. */
export function pageParams(defaultRoom) {
  const p = new URLSearchParams(location.search);
  return {
    room: cleanRoom(p.get('room')) || defaultRoom,
    name: cleanName(p.get('name')) || `player-${1000 + Math.floor(Math.random() * 9000)}`,
    // A join token from the studio's backend, when the server requires one (docs/security.md).
    token: p.get('token') || null,
  };
}

/**
 * A simulated network from the page's URL, for development and tests: `?latency=MS` (added one
 * way, in each direction), `?jitter=MS` (plus uniform [0, MS] per message, order kept),
 * `?stall=MS/S` (the link freezes MS ms every S seconds). Returns the `simulate` option of
 * `connect` (`{latencyMs, jitterMs, stallMs, stallEveryS}`) or null. A value that is not a
 * number from 0 to 10000 ms (or a stall not shorter than its period) is ignored with a warning.
 */
export function pageSimulate(search = location.search) {
  const p = new URLSearchParams(search);
  const out = { latencyMs: 0, jitterMs: 0, stallMs: 0, stallEveryS: 0 };
  const ms = (name) => {
    const raw = p.get(name);
    if (raw === null || raw.trim() === '') return 0;
    const v = Number(raw);
    if (!Number.isFinite(v) || v < 0 || v > MAX_SIMULATED_MS) {
      console.warn(`ticksync: ?${name}=${raw} ignored (expected milliseconds from 0 to ${MAX_SIMULATED_MS})`);
      return 0;
    }
    return v;
  };
  out.latencyMs = ms('latency');
  out.jitterMs = ms('jitter');
  const stall = p.get('stall');
  if (stall !== null && stall.trim() !== '') {
    const m = /^\s*([^/]+)\/([^/]+)\s*$/.exec(stall);
    const stallMs = m ? Number(m[1]) : NaN;
    const everyS = m ? Number(m[2]) : NaN;
    if (!(Number.isFinite(stallMs) && stallMs >= 0 && stallMs <= MAX_SIMULATED_MS)) {
      console.warn(`ticksync: ?stall=${stall} ignored (expected MS/S: a stall of MS ms, 0 to ${MAX_SIMULATED_MS}, every S seconds)`);
    } else if (!(Number.isFinite(everyS) && everyS > 0 && everyS <= MAX_STALL_PERIOD_S)) {
      console.warn(`ticksync: ?stall=${stall} ignored (the period S must be from 0 to ${MAX_STALL_PERIOD_S} seconds)`);
    } else if (stallMs > 0 && stallMs >= everyS * 1000) {
      console.warn(`ticksync: ?stall=${stall} ignored (a stall of ${stallMs} ms does not fit in ${everyS} s)`);
    } else if (stallMs > 0) {
      out.stallMs = stallMs;
      out.stallEveryS = everyS;
    }
  }
  return normalizeSimulate(out);
}

/** The HUD's text for a simulated network: `75±10 ms`, with `, stall 200 ms/5 s`. */
export function describeSimulate(sim) {
  if (!sim) return '';
  let text = sim.jitterMs ? `${sim.latencyMs}±${sim.jitterMs} ms` : `${sim.latencyMs} ms`;
  if (sim.stallMs) text += `, stall ${sim.stallMs} ms/${sim.stallEveryS} s`;
  return text;
}

export class Page {
  /** game: the game's name (sent in Hello); defaultRoom: the room without `?room=`. */
  constructor({ game, defaultRoom }) {
    this.params = pageParams(defaultRoom);
    /** The simulated network from `?latency=&jitter=&stall=` (pageSimulate), or null. */
    this.simulate = pageSimulate();
    this.room = connect({
      url: defaultUrl(), room: this.params.room, name: this.params.name, game, authToken: this.params.token, simulate: this.simulate,
    });
    this.hud = new Hud(document.getElementById('hud'), document.getElementById('feed'));
    /** The net graph over the view: `N` toggles it, `?netgraph=1` shows it from the start. */
    this.netGraph = new NetGraph(this.room, { visible: new URLSearchParams(location.search).get('netgraph') === '1' });
    this.netGraph.install(document.getElementById('stage') ?? document.body);
    this.frameRate = new RateMeter();
    this.lastRenderTime = 0;
    this.gameEvents = []; // the last game events, for tests: {name, fields, tick}
    const room = this.room;
    room.on('welcome', (w, resumed) => {
      this.hud.event(resumed ? `Reconnected to ${w.room}` : `Joined ${w.room} (${w.game}) as ${this.params.name}`);
    });
    let moving = false;
    room.on('status', (state, info) => {
      if (info.moving && !moving) this.hud.event('Moving to another server');
      moving = Boolean(info.moving);
    });
    room.on('join', (p) => this.hud.event(`${p.name} joined`));
    room.on('leave', (p) => this.hud.event(`${p.name || 'a player'} left`));
    room.on('chat', (c) => this.hud.event(`${c.name || '?'}: ${c.text}`));
    room.on('notice', (t) => this.hud.event(`Notice: ${t}`));
    room.onEvent('*', (fields, name) => {
      this.gameEvents.push({ name, fields, tick: room.tick });
      if (this.gameEvents.length > 50) this.gameEvents.shift();
    });
  }

  /** The name of player entity `id`, or ''. */
  nameOf(id) {
    return this.room.players.get(keyOf(id)) ?? '';
  }

  /** The banner over the view while not playing (empty while playing). */
  banner(now) {
    const { room } = this;
    const info = room.status;
    switch (room.connectionState) {
      case 'playing':
        return room.tick === null ? 'Waiting for the first snapshot…' : '';
      case 'reconnecting': {
        const secs = Math.max(0, Math.ceil(((info.retryAt ?? now) - now) / 1000));
        return `${info.message}\nReconnecting in ${secs} s…`;
      }
      case 'failed':
        return info.message;
      default:
        return `${info.message || 'Connecting…'}\nroom ${this.params.room} · ${this.params.name}`;
    }
  }

  /** Connection and sync numbers for the HUD and tests. */
  stats(now = performance.now()) {
    const { room } = this;
    return {
      rttMs: room.rttMs,
      snapshotsPerSec: room.stats.snapshots.perSecond(now),
      kbPerSec: room.connection.bytesIn.bytesPerSecond(now) / 1000,
      entities: room.entities.size,
      players: room.players.size,
      delayMs: room.interp.delayMs,
      fps: this.frameRate.perSecond(now),
    };
  }

  /** The HUD rows every game shows; `extra` (name, value) rows follow. */
  startHud(extra = () => []) {
    const tick = () => {
      const s = this.stats();
      this.hud.update([
        ['state', this.room.connectionState],
        ['room', this.params.room],
        ['ping', formatMs(s.rttMs)],
        ['snapshots', `${Math.round(s.snapshotsPerSec)}/s`],
        ['in', `${s.kbPerSec.toFixed(1)} kB/s`],
        ['entities', String(s.entities)],
        ['players', String(s.players)],
        ['interp', `${Math.round(s.delayMs)} ms`],
        ...(this.simulate ? [['simulated', describeSimulate(this.simulate)]] : []),
        ...extra(),
      ], this.room.connectionState);
    };
    setInterval(tick, 250);
    tick();
  }

  /**
   * Runs draw(view, now, elapsed) every animation frame with the room sampled at its render
   * time (others interpolated, the own player predicted); also pumps inputs for steady timing.
   */
  run(draw) {
    let last = performance.now();
    const frame = () => {
      const now = performance.now();
      const elapsed = now - last;
      last = now;
      this.frameRate.add(now);
      this.room.pump();
      const t = this.room.renderTime(now, elapsed);
      this.lastRenderTime = t;
      const view = this.room.connectionState === 'playing' ? this.room.sample(t, elapsed) : null;
      draw(view, now, elapsed);
      this.netGraph.frame(now);
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  }

  /**
   * `window.ticksync`: the state tests and debugging read. Entities are the newest snapshot's
   * with named, dequantised fields; `extra` adds game-specific getters.
   */
  installDebugHook(extra = {}) {
    const page = this;
    const room = this.room;
    const hook = {
      /** The Room itself (ticksync.js), for poking around in devtools. */
      client: room,
      get state() { return room.connectionState; },
      get room() { return page.params.room; },
      get name() { return page.params.name; },
      get game() { return room.game; },
      get player() { return room.player && { ...room.player }; },
      /** Entities of the newest snapshot: [{id, type, fields}], the room state excepted. */
      entities() {
        return [...room.entities.values()].map((e) => ({ id: { ...e.id }, type: e.type, fields: { ...e.fields } }));
      },
      /** The own entity's fields (private ones included), or null. */
      get me() { return room.me && { id: { ...room.me.id }, type: room.me.type, fields: { ...room.me.fields } }; },
      get roomState() { return room.state && { ...room.state }; },
      get params() { return { ...room.params }; },
      get players() {
        return [...room.players].map(([k, n]) => {
          const [index, version] = k.split(':').map(Number);
          return { entity: { index, version }, name: n };
        });
      },
      get events() { return page.gameEvents.map((e) => ({ ...e, fields: { ...e.fields } })); },
      get hud() { return page.stats(); },
      get tick() { return room.tick; },
      get inputSeq() { return room.inputSeq; },
      get ackedInputSeq() { return room.ackedInputSeq; },
      get predicted() { return room.predicted; },
      /** Where the own player's predicted fields were drawn in the last frame. */
      get drawn() { return room.drawn ? { ...room.drawn } : null; },
      /** The interpolation buffer: its delay, target, jitter, how far snapshots reach past the
       * render time (below 0: it ran dry and entities froze), and the frames drawn and those
       * drawn dry. */
      get interpolation() {
        const it = room.interp;
        return { delayMs: it.delayMs, targetMs: it.targetDelayMs, jitterMs: it.jitterMs, aheadMs: it.bufferedAhead(page.lastRenderTime), dryFrames: it.dryFrames, frames: it.frames };
      },
      /** How the own player's prediction feels (null without a predictor): corrections, errors
       * at reconciliation (world units), the largest per-frame jump, snaps, fade times and the
       * frames from an input change to its first drawing (see predict.js). */
      get prediction() { return room.prediction; },
      /** The moment others were last drawn at, as the next Input carries it: {tick, frac}. */
      get viewTime() { return room.viewTime; },
      /** The net graph: {visible, draws, samples: {arrivals, delay, rtt, bytes, corrections}, texts}. */
      get netGraph() { return page.netGraph.debug(); },
      get checksumMismatches() { return room.stats.checksumMismatches; },
      get resyncs() { return room.stats.resyncs; },
      get hashMismatch() { return room.stats.hashMismatch; },
      get lastClose() { return room.connection.lastClose; },
      /** Cluster moves: the node's URL, the page's own, MOVEDs followed at handshake / playing. */
      get url() { return room.url; },
      get homeUrl() { return room.homeUrl; },
      get redirects() { return room.redirects; },
      get handoffs() { return room.handoffs; },
      get message() { return room.status.message || ''; },
      /** The simulated network (`?latency=&jitter=&stall=`), or null. */
      get simulated() { return room.simulate && { ...room.simulate }; },
    };
    Object.defineProperties(hook, Object.getOwnPropertyDescriptors(extra));
    window.ticksync = hook;
    return hook;
  }
}
