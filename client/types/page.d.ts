// Types of `ticksync-client/page` (src/page.js): what every game page shares: which game, who
// and where (`?game=` / `?room=` / `?name=` / `?token=`), the Room, the HUD and its event feed,
// the status banner, the net graph, the frame loop and the `window.ticksync` debug hook tests
// read. Expects the page to have `#hud` and `#feed` elements (see the reference games'
// index.html).

import type { Hud } from './hud.js';
import type { PlayerInfo } from './protocol.js';
import type {
  ConnectionState,
  EntityId,
  EventNameOf,
  GameTypes,
  ParamsOf,
  PredictedFields,
  PredictionSummary,
  RateMeter,
  Room,
  RoomStateOf,
  RoomView,
  SimulatedNetwork,
  UntypedGame,
  Value,
  ViewTime,
} from './ticksync.js';

/** The game this page plays: `?game=` (cleaned to a game name), else `fallback`. */
export function pageGame(fallback: string): string;

/**
 * A simulated network from the page's URL (`search`: `location.search` by default):
 * `?latency=MS` (added one way, in each direction), `?jitter=MS` (plus a uniform [0, MS] per
 * message), `?stall=MS/S` (the link freezes MS ms every S seconds). Null when none is given.
 * Invalid values (not a number from 0 to 10000 ms, a stall not shorter than its period) are
 * ignored with a console warning.
 */
export function pageSimulate(search?: string): SimulatedNetwork | null;

/** The HUD's text for a simulated network (`75±10 ms`, `, stall 200 ms/5 s`); '' for null. */
export function describeSimulate(sim: SimulatedNetwork | null): string;

export interface PageParams {
  room: string;
  name: string;
  /** A join token from the studio's backend (`?token=`), or null. */
  token: string | null;
}

/** `?room=&name=&token=` of this page, with defaults (a random `player-NNNN` name). */
export function pageParams(defaultRoom: string): PageParams;

/** Connection and sync numbers for the HUD and tests (`page.stats()`). */
export interface PageStats {
  rttMs: number | null;
  snapshotsPerSec: number;
  kbPerSec: number;
  entities: number;
  players: number;
  delayMs: number;
  fps: number;
}

/** A game event as the page keeps it (the last 50). */
export interface PageGameEvent<G = UntypedGame> {
  name: EventNameOf<G>;
  fields: Record<string, Value>;
  tick: number | null;
}

/** An entity as the debug hook copies it. */
export interface DebugEntity {
  id: EntityId;
  type: string;
  fields: Record<string, Value>;
}

/** `window.ticksync`: what tests and debugging read (copies, taken when read). */
export interface DebugHook<G extends Partial<GameTypes> = UntypedGame> {
  /** The Room itself. */
  client: Room<G>;
  readonly state: ConnectionState;
  readonly room: string;
  readonly name: string;
  readonly game: string | null;
  readonly player: EntityId | null;
  /** Entities of the newest snapshot, the room state excepted. */
  entities(): DebugEntity[];
  /** The own entity (private fields included), or null. */
  readonly me: DebugEntity | null;
  readonly roomState: RoomStateOf<G> | null;
  readonly params: ParamsOf<G>;
  readonly players: PlayerInfo[];
  readonly events: Array<PageGameEvent<G>>;
  readonly hud: PageStats;
  readonly tick: number | null;
  readonly inputSeq: number;
  readonly ackedInputSeq: number;
  readonly predicted: PredictedFields | null;
  /** Where the own player's predicted fields were drawn in the last frame. */
  readonly drawn: PredictedFields | null;
  /** The interpolation: its delay, target and jitter (ms), how far snapshots reach past the
   * render time, the frames drawn and those drawn dry (past the newest snapshot). */
  readonly interpolation: {
    delayMs: number;
    targetMs: number | undefined;
    jitterMs: number;
    aheadMs: number;
    dryFrames: number;
    frames: number;
  };
  /** How the own player's prediction feels (null without a predictor). */
  readonly prediction: PredictionSummary | null;
  /** The moment others were last drawn at, as the next Input carries it. */
  readonly viewTime: ViewTime | null;
  /** The net graph. */
  readonly netGraph: NetGraphDebug;
  readonly checksumMismatches: number;
  readonly resyncs: number;
  readonly hashMismatch: boolean;
  readonly lastClose: { code: number; reason: string; message: string } | null;
  readonly url: string;
  readonly homeUrl: string;
  readonly redirects: number;
  readonly handoffs: number;
  readonly message: string;
  /** The simulated network (`?latency=&jitter=&stall=`), or null. */
  readonly simulated: SimulatedNetwork | null;
}

/** The net graph as the debug hook reports it. */
export interface NetGraphDebug {
  visible: boolean;
  /** Frames it drew (only while shown). */
  draws: number;
  /** Samples taken per plot (taken while hidden too). */
  samples: { arrivals: number; delay: number; rtt: number; bytes: number; corrections: number };
  /** The current values as the graph prints them. */
  texts: { arrivals: string; delay: string; rtt: string; bytes: string; corrections: string };
}

/** The net graph over a page (`N` toggles it, `?netgraph=1` shows it from the start). */
export interface NetGraph {
  visible: boolean;
  /** How much time the plots span (ms). */
  windowMs: number;
  /** Shows it (true), hides it (false) or flips it. */
  toggle(on?: boolean): void;
  debug(): NetGraphDebug;
}

export interface PageOptions {
  /** The game's name, sent in Hello (null: the server's default). */
  game: string | null;
  /** The room without `?room=`. */
  defaultRoom: string;
}

/** One game page: connects at once (to `defaultUrl()`), with the HUD's feed of room events. */
export class Page<G extends Partial<GameTypes> = UntypedGame> {
  constructor(options: PageOptions);
  params: PageParams;
  /** The simulated network from the URL (`pageSimulate()`), or null. */
  simulate: SimulatedNetwork | null;
  room: Room<G>;
  hud: Hud;
  /** The net graph over the view. */
  netGraph: NetGraph;
  frameRate: RateMeter;
  /** The render time of the last frame (server ms). */
  lastRenderTime: number;
  /** The last game events, for tests. */
  gameEvents: Array<PageGameEvent<G>>;
  /** The name of player entity `id`, or ''. */
  nameOf(id: EntityId): string;
  /** The banner over the view while not playing ('' while playing). */
  banner(now: number): string;
  stats(now?: number): PageStats;
  /** Updates the HUD four times a second: the rows every game shows, then `extra()`'s. */
  startHud(extra?: () => ReadonlyArray<readonly [name: string, value: string | number]>): void;
  /**
   * Runs draw(view, now, elapsed) every animation frame with the room sampled at its render
   * time (null while not playing); also pumps inputs.
   */
  run(draw: (view: RoomView<G> | null, now: number, elapsed: number) => void): void;
  /** Sets `window.ticksync`; `extra`'s properties (getters included) are added to it. */
  installDebugHook<X extends object = {}>(extra?: X): DebugHook<G> & X;
}
