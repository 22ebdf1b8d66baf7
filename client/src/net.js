// One game connection that survives disconnects: opens the WebSocket, says Hello, pings, counts
// bytes, and on any close reconnects with exponential backoff and jitter, presenting the last
// resume token so the server gives back the same player. What to do with messages is the
// caller's (ticksync.js): this module knows the wire, not the game.
//
// In a cluster the room may live on another node than the page's own server (its home). A
// MOVED (4013) reject during the handshake (a redirect) or close while playing (a hand-off: the
// node is draining) names the other node's URL: the connection goes there at once, with the same
// Hello and resume token. Any other loss goes back to the home URL (with backoff), which either
// places the room again (its node died) or answers MOVED.
//
// For development and tests the connection can simulate a worse network (`simulate`, the same
// meaning as the server's and the bots' --simulate-latency / --simulate-jitter / stalls): each
// message sent and each message received is held latency + a uniform [0, jitter] ms (one way,
// in each direction: latency 75 adds 150 ms to the round trip), in order as TCP keeps it, and a
// stall freezes both directions for stallMs every stallEveryS seconds. Times the client takes
// (RTT, snapshot arrival for interpolation) are taken when a message is delivered.
import { CODES, PROTOCOL_VERSION, ProtocolError, decodeServer, encodeClient } from './protocol.js';
import { MOVING_MESSAGE, backoffDelay, describeClose, movedTarget } from './status.js';
import { RateMeter } from './stats.js';

const PING_INTERVAL_MS = 1000;
/** A connection that has been playing this long counts as good: the backoff starts over. */
const STABLE_AFTER_MS = 10000;
/** No message at all for this long while playing (snapshots come 60 times a second): dead. */
const SILENCE_TIMEOUT_MS = 5000;
/** MOVEDs followed in a row without a Welcome; one more is a failure (backoff, then home). */
export const MAX_MOVES = 5;
/** The largest simulated latency, jitter or stall (ms) accepted. */
export const MAX_SIMULATED_MS = 10000;
/** The longest simulated stall period (s) accepted. */
export const MAX_STALL_PERIOD_S = 3600;
/** Messages a simulated link holds in one direction; one more closes it, as a broken link. */
export const MAX_SIMULATED_QUEUE = 4096;

/**
 * The `simulate` option checked and completed: `{latencyMs, jitterMs, stallMs, stallEveryS}`,
 * or null when off (null, undefined, or nothing to add). Throws a RangeError on a value that is
 * not a finite number in range (latency, jitter, stall: 0..10000 ms; a stall needs a period of
 * (0, 3600] s longer than itself).
 */
export function normalizeSimulate(simulate) {
  if (simulate === null || simulate === undefined) return null;
  if (typeof simulate !== 'object') throw new TypeError('simulate: expected {latencyMs, jitterMs, stallMs, stallEveryS} or null');
  const num = (name, max) => {
    const v = simulate[name] ?? 0;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > max) {
      throw new RangeError(`simulate.${name}: expected a number from 0 to ${max}, got ${String(v)}`);
    }
    return v;
  };
  const latencyMs = num('latencyMs', MAX_SIMULATED_MS);
  const jitterMs = num('jitterMs', MAX_SIMULATED_MS);
  let stallMs = num('stallMs', MAX_SIMULATED_MS);
  let stallEveryS = num('stallEveryS', MAX_STALL_PERIOD_S);
  if (stallMs > 0 && !(stallEveryS > 0)) throw new RangeError('simulate.stallMs needs stallEveryS (the period, in seconds)');
  if (stallMs > 0 && stallMs >= stallEveryS * 1000) {
    throw new RangeError(`simulate: a stall of ${stallMs} ms does not fit in its period of ${stallEveryS} s`);
  }
  if (stallMs === 0) stallEveryS = 0;
  if (latencyMs === 0 && jitterMs === 0 && stallMs === 0) return null;
  return { latencyMs, jitterMs, stallMs, stallEveryS };
}

/**
 * One direction of a simulated link: a FIFO of items with their delivery times and one timer
 * for its head. Delivery time = max(the previous one, now + latency + jitter sample), moved to
 * the end of a stall it falls in (a monotone map: the order holds).
 */
class SimulatedQueue {
  constructor(link, deliver) {
    this.link = link;
    this.deliver = deliver;
    this.items = []; // [{at, item}]
    this.head = 0;
    this.lastAt = -Infinity;
    this.timer = null;
  }

  get length() {
    return this.items.length - this.head;
  }

  push(item) {
    const { sim, conn } = this.link;
    const now = conn.now();
    const at = this.link.afterStall(Math.max(this.lastAt, now + sim.latencyMs + conn.random() * sim.jitterMs));
    this.lastAt = at;
    this.items.push({ at, item });
    if (this.length > MAX_SIMULATED_QUEUE) {
      this.link.overflow();
      return;
    }
    if (this.length === 1) this.schedule(now);
  }

  schedule(now) {
    const delay = Math.max(0, this.items[this.head].at - now);
    this.timer = this.link.conn.timers.setTimeout(() => this.run(), delay);
  }

  run() {
    this.timer = null;
    const now = this.link.conn.now();
    while (this.length > 0 && this.items[this.head].at <= now) {
      const { item } = this.items[this.head];
      this.items[this.head++] = undefined;
      this.deliver(item);
      if (this.link.disposed) return;
    }
    if (this.head > 1024 || this.length === 0) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    if (this.length > 0) this.schedule(now);
  }

  dispose() {
    if (this.timer !== null) this.link.conn.timers.clearTimeout(this.timer);
    this.timer = null;
    this.items = [];
    this.head = 0;
  }
}

/** The simulated network between one WebSocket and the connection: a queue each way. */
class SimulatedLink {
  constructor(conn, ws) {
    this.conn = conn;
    this.sim = conn.simulate;
    this.disposed = false;
    this.out = new SimulatedQueue(this, (bytes) => {
      if (conn.ws === ws && ws.readyState === 1) ws.send(bytes);
    });
    this.in = new SimulatedQueue(this, (ev) => {
      if (conn.ws !== ws) return;
      if (ev.close) {
        conn.closed(ev.code, ev.reason);
      } else {
        conn.received(ev.data);
      }
    });
  }

  /** `t` moved to the end of the stall it falls in, if any (stalls start every stallEveryS from
   * the connection's start, the first one a period after it). */
  afterStall(t) {
    const { stallMs, stallEveryS } = this.sim;
    if (!stallMs) return t;
    const period = stallEveryS * 1000;
    const since = t - this.conn.simulateStart;
    if (since < period) return t;
    const into = since % period;
    return into < stallMs ? t - into + stallMs : t;
  }

  overflow() {
    this.conn.abandon(1006, `simulated link: more than ${MAX_SIMULATED_QUEUE} messages queued`);
  }

  dispose() {
    this.disposed = true;
    this.out.dispose();
    this.in.dispose();
  }
}

export class Connection {
  /**
   * url: the ws(s) URL of /ws (the home URL: where every ordinary reconnect goes). room, name,
   * game (or null: the server's default), authToken: for Hello. onMessage(msg, bytes): every
   * decoded server message. onState(state, info): state is connecting | playing | reconnecting
   * | failed, info {message, retryAt, moving}. now(): a clock in ms (performance.now in the
   * page). simulate: a simulated network ({latencyMs, jitterMs, stallMs, stallEveryS}, see
   * normalizeSimulate), or null. WebSocketImpl, timers, random (jitter samples in [0, 1)): for
   * tests.
   */
  constructor({
    url, room, name, game = null, authToken = null, onMessage, onState, simulate = null,
    now = () => performance.now(), WebSocketImpl = globalThis.WebSocket, timers = globalThis, random = Math.random,
  }) {
    Object.assign(this, { url, room, name, game, authToken, onMessage, onState, now, WebSocketImpl, timers, random });
    /** The simulated network (normalized), or null: off, and no queue or timer of its own. */
    this.simulate = normalizeSimulate(simulate);
    /** Not null while a simulated link carries the socket's messages. */
    this.link = null;
    this.ws = null;
    this.state = 'idle';
    this.attempt = 0;
    this.resumeToken = null;
    this.rttMs = null;
    this.bytesIn = new RateMeter();
    this.lastClose = null; // {code, reason, message}
    this.intervals = [];
    /** The page's own server: where the connection starts and goes back to after a loss. */
    this.homeUrl = url;
    // this.url: where the next connection goes (the home, or the node a MOVED named).
    /** MOVEDs followed during a handshake (no Welcome yet on that connection). */
    this.redirects = 0;
    /** MOVEDs followed while playing (a draining node handing the room over). */
    this.handoffs = 0;
    /** MOVEDs in a row without a Welcome (bounded by MAX_MOVES). */
    this.movesInARow = 0;
    /** Following a hand-off until the next Welcome or ordinary loss (for the status text). */
    this.moving = false;
  }

  start() {
    this.stopped = false;
    this.simulateStart = this.now();
    this.connect();
    this.intervals.push(this.timers.setInterval(() => this.tick(), PING_INTERVAL_MS));
  }

  stop() {
    this.stopped = true;
    for (const t of this.intervals) this.timers.clearInterval(t);
    this.timers.clearTimeout(this.retryTimer);
    this.intervals = [];
    if (this.ws) this.abandon(1000, 'client stopped');
    this.setState('closed', { message: 'Left the room.' });
  }

  setState(state, info = {}) {
    this.state = state;
    this.onState(state, info);
  }

  connect() {
    this.timers.clearTimeout(this.retryTimer);
    this.reject = null;
    this.welcomedAt = null;
    this.lastMessageAt = this.now();
    this.setState('connecting', {
      message: this.moving ? MOVING_MESSAGE : this.attempt ? 'Reconnecting…' : 'Connecting…',
      moving: this.moving,
    });
    let ws;
    try {
      ws = new this.WebSocketImpl(this.url);
    } catch (e) {
      this.closed(1006, String(e && e.message));
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.dropLink();
    if (this.simulate) {
      // Messages and the close go through the simulated link, in order (a Reject before its
      // close); the open is not delayed (the handshake pays the latency on Hello and Welcome).
      const link = new SimulatedLink(this, ws);
      this.link = link;
      ws.onopen = () => this.hello();
      ws.onmessage = (ev) => link.in.push({ data: ev.data });
      ws.onclose = (ev) => {
        if (this.ws === ws) link.in.push({ close: true, code: ev.code, reason: ev.reason });
      };
      ws.onerror = () => {};
      return;
    }
    ws.onopen = () => this.hello();
    ws.onmessage = (ev) => this.received(ev.data);
    ws.onclose = (ev) => {
      if (this.ws === ws) this.closed(ev.code, ev.reason);
    };
    // A failed connection also fires close, which handles it; nothing to add here.
    ws.onerror = () => {};
  }

  hello() {
    this.send({
      type: 'Hello',
      version: PROTOCOL_VERSION,
      room: this.room,
      name: this.name,
      auth_token: this.authToken,
      resume_token: this.resumeToken,
      game: this.game,
    });
  }

  /** Drops the simulated link's queues and timers (the socket they belonged to is gone). */
  dropLink() {
    if (this.link) this.link.dispose();
    this.link = null;
  }

  received(data) {
    if (!(data instanceof ArrayBuffer)) {
      // ticksync is binary only; a text frame means this is not a ticksync server.
      this.abandon(1006, 'the server sent a text frame');
      return;
    }
    const now = this.now();
    this.lastMessageAt = now;
    this.bytesIn.add(now, data.byteLength);
    let msg;
    try {
      msg = decodeServer(data);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      console.warn(`ticksync: undecodable message (${e.message}); reconnecting`);
      this.abandon(1002, e.message);
      return;
    }
    switch (msg.type) {
      case 'Welcome':
        this.resumeToken = msg.resume_token;
        this.welcomedAt = now;
        this.movesInARow = 0;
        this.moving = false;
        this.setState('playing', { message: '' });
        this.ping();
        break;
      case 'Reject':
        // The close with the same code follows; remember the reason for the message.
        this.reject = msg;
        break;
      case 'Pong':
        this.rttMs = Math.max(0, now - msg.client_time_us / 1000);
        break;
    }
    this.onMessage(msg, data);
  }

  /**
   * Encodes and sends a client message if the socket is open; returns whether it went out (into
   * the simulated link, when there is one).
   */
  send(msg) {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return false;
    if (this.link) this.link.out.push(encodeClient(msg));
    else ws.send(encodeClient(msg));
    return true;
  }

  ping() {
    this.send({ type: 'Ping', client_time_us: Math.round(this.now() * 1000) });
  }

  tick() {
    if (this.state !== 'playing') return;
    if (this.now() - this.lastMessageAt > SILENCE_TIMEOUT_MS) {
      this.abandon(1006, 'no data from the server');
      return;
    }
    this.ping();
  }

  /**
   * Drops the socket now and handles it as closed with `code`: used when the client decides the
   * connection is no good (a resync after a bad delta, silence), without waiting for the
   * closing handshake.
   */
  abandon(code, reason) {
    const ws = this.ws;
    this.ws = null;
    this.dropLink();
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close(1000, reason.slice(0, 100));
      } catch {
        // Already closing: nothing to do.
      }
    }
    if (!this.stopped) this.closed(code, reason, true);
  }

  /** Resync: reconnect at once (the new connection starts with a full snapshot). */
  resync(reason) {
    this.resyncing = true;
    this.abandon(1000, reason);
  }

  closed(code, reason, local = false) {
    this.ws = null;
    this.dropLink();
    this.rttMs = null;
    if (this.stopped) return;
    const playedMs = this.welcomedAt === null ? 0 : this.now() - this.welcomedAt;
    if (playedMs > STABLE_AFTER_MS) this.attempt = 0;
    // A Reject tells the code and reason even if the close frame got lost.
    if (this.reject) {
      code = this.reject.code;
      reason = this.reject.reason;
    }
    if (code === CODES.MOVED && !local && !this.resyncing && this.followMove(reason)) return;
    let info = describeClose(code, local ? '' : reason, this.room);
    if (this.moveRefused) {
      info = { ...info, message: this.moveRefused };
      this.moveRefused = null;
    }
    if (this.resyncing) {
      // A client-side resync keeps the node: it is alive and holds the room.
      info = { message: `Resynchronising (${reason}).`, retry: true, minDelayMs: 0, dropResume: false };
      this.resyncing = false;
    } else {
      // Any other loss goes back to the home URL, which knows where the room is now.
      this.url = this.homeUrl;
      this.movesInARow = 0;
      this.moving = false;
      if (local && code !== 1000) info = { ...info, message: `Connection lost (${reason}).` };
    }
    this.lastClose = { code, reason, message: info.message };
    if (info.dropResume) this.resumeToken = null;
    if (!info.retry) {
      this.setState('failed', { message: info.message, code });
      return;
    }
    const delay = Math.max(info.minDelayMs, backoffDelay(this.attempt));
    this.attempt++;
    this.setState('reconnecting', { message: info.message, code, retryAt: this.now() + delay });
    this.retryTimer = this.timers.setTimeout(() => this.connect(), delay);
  }

  /**
   * A MOVED close or reject with `reason` (the other node's URL): connects there at once and
   * returns true, or returns false (with `moveRefused` set) when the URL is not a ws(s) URL or
   * the chain is too long; the caller then handles it as an ordinary loss (backoff, home).
   */
  followMove(reason) {
    const target = movedTarget(reason, this.homeUrl);
    if (target === null) {
      this.moveRefused = `The server sent this page to an address it cannot follow (${reason || 'none'}).`;
      return false;
    }
    if (this.movesInARow >= MAX_MOVES) {
      this.moveRefused = `Sent from server to server ${this.movesInARow + 1} times without joining (last: ${target}); starting over.`;
      return false;
    }
    this.movesInARow++;
    const handoff = this.welcomedAt !== null;
    if (handoff) {
      this.handoffs++;
      this.moving = true;
    } else {
      this.redirects++;
    }
    this.lastClose = { code: CODES.MOVED, reason, message: describeClose(CODES.MOVED, target).message };
    this.url = target;
    this.connect();
    return true;
  }
}
