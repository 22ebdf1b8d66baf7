// What a close or reject code means to a player, and whether (and how soon) to try again.
// Codes: protocol/src/codes.rs (docs/protocol.md, "Close and reject codes").
import { CODES } from './protocol.js';

/**
 * `{message, retry, minDelayMs, dropResume}` for a close code. `retry: false` means trying
 * again cannot help without the user (a reload, a token); the page then stops and says so.
 */
export function describeClose(code, reason = '', room = '') {
  const why = reason ? ` (${reason})` : '';
  switch (code) {
    case CODES.NORMAL:
      return retry(`Disconnected by the server${why}.`);
    case CODES.GOING_AWAY:
      return retry(`The server is restarting or shutting down${why}.`);
    case CODES.PROTOCOL_ERROR:
      return retry(`Protocol error: the server did not understand this client${why}.`);
    case CODES.UNSUPPORTED_DATA:
      return retry(`The server refused a message type${why}.`);
    case CODES.POLICY_VIOLATION:
      return retry(`Disconnected for breaking a server limit, e.g. sending too fast${why}.`, 2000);
    case CODES.TOO_BIG:
      return retry(`A message was too big for the server${why}.`);
    case CODES.SERVER_ERROR:
      return retry(`The server hit an internal error${why}.`, 1000);
    case CODES.VERSION_MISMATCH:
      return stop(`This page speaks another protocol version than the server${why}. Reload the page to update it.`);
    case CODES.UNAUTHORIZED:
      return stop(`Not authorised to join${room ? ` room "${room}"` : ''}${why}: a valid join token is needed.`);
    case CODES.ROOM_FULL:
      return retry(`Room${room ? ` "${room}"` : ''} is full${why}. Waiting for a free slot.`, 5000);
    case CODES.SERVER_FULL:
      return retry(`The server is full${why}. Waiting for capacity.`, 5000);
    case CODES.BAD_HELLO:
      return retry(`Handshake refused${why}.`);
    case CODES.TOO_SLOW:
      return retry(`This connection could not keep up with the game${why}.`);
    case CODES.TIMEOUT:
      return retry(`The connection timed out${why}.`);
    case CODES.BAD_RESUME:
      return { ...retry(`Could not resume the previous session${why}; joining as a new player.`, 0), dropResume: true };
    case CODES.ROOM_CLOSED:
      return retry(`The room closed${why}.`);
    case CODES.INVALID_VALUE:
      return retry(`The server refused a value this page sent${why}.`, 2000);
    case CODES.UNKNOWN_MESSAGE:
      return retry(`The server does not know a message this page sent${why}.`, 2000);
    case CODES.REPLACED:
      return stop(`This game continues in another tab or connection${why}.`);
    case CODES.MOVED:
      // net.js follows it at once (movedTarget); this message is for lastClose and logs.
      return retry(`The room is on another server${why}.`);
    case CODES.WRONG_GAME:
      return stop(`Room${room ? ` "${room}"` : ''} plays another game, or this server does not have it${why}. Pick another room.`);
    case 1006:
      return retry('Connection lost.');
    default:
      return retry(`Disconnected (code ${code})${why}.`);
  }
}

/** The status message while following a hand-off (the room moving to another node). */
export const MOVING_MESSAGE = 'Moving to another server…';

/**
 * Where a MOVED (4013) close or reject points: its reason is the other node's WebSocket URL.
 * Returns the URL to connect to, or null if it is not one to follow: not an absolute `ws:` or
 * `wss:` URL, or a plain `ws:` one when the page's own server (`homeUrl`) is `wss:` (a
 * downgrade a browser would refuse anyway, and a node should never ask for).
 */
export function movedTarget(reason, homeUrl = null) {
  if (typeof reason !== 'string' || reason.trim() === '') return null;
  let url;
  try {
    url = new URL(reason.trim());
  } catch {
    return null;
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') return null;
  if (url.username || url.password) return null;
  if (url.protocol === 'ws:' && homeUrl) {
    try {
      if (new URL(homeUrl).protocol === 'wss:') return null;
    } catch {
      // A home URL that does not parse: nothing to compare with.
    }
  }
  url.hash = '';
  return url.href;
}

function retry(message, minDelayMs = 0) {
  return { message, retry: true, minDelayMs, dropResume: false };
}

function stop(message) {
  return { message, retry: false, minDelayMs: 0, dropResume: false };
}

/**
 * Exponential backoff with jitter: attempt 0 waits base/2..base, each next attempt doubles up to
 * `maxMs`. The random half spreads a crowd of clients that lost the same server.
 */
export function backoffDelay(attempt, { baseMs = 500, maxMs = 15000, random = Math.random } = {}) {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return cap / 2 + random() * (cap / 2);
}
