// The skirmish page (`/?game=skirmish`): a top-down tank match, red against blue.
//
// Controls are direct, not tank-style: WASD / arrows say where to drive on the screen (the
// server turns the hull toward it as it drives), the turret aims at the mouse, and the left
// mouse button (or a touch) or Space fires shells. The right mouse button or E fires the beam:
// hitscan, at once, toward the pointer (the `aim` clicked, whatever the turret's turn), judged
// by the server on the tanks as this page drew them (lag compensation); every page draws each
// beam from its `beam` event as a fading line. The own tank is predicted (position, hull,
// turret; rules.js), the rest interpolated. The HUD shows the match phase, time left, the
// scores, the own ammo, reload and beam cooldown (private fields only this player receives)
// and a kill feed.
//
// Served at /games/skirmish/ (`?game=` names the game, skirmish by default); the client library
// comes from the server's /client/v1/, wherever this folder is mounted.
import { Page, pageGame } from '/client/v1/page.js';
import { Controls } from '/client/v1/input.js';
import { SkirmishRenderer, BEAM_SHOW_MS } from './skirmish-render.js';
import { SKIRMISH_PREDICTOR } from './rules.js';

/** The right mouse button in `PointerEvent.buttons`: the beam's. */
const RIGHT_BUTTON = 2;
/** Keys that fire the beam (`KeyboardEvent.code`). */
const BEAM_KEYS = new Set(['KeyE']);

/** Joins skirmish (`?game=&room=&name=&token=`), draws it and exposes `window.ticksync`. */
export function start() {
  const game = pageGame('skirmish');
  document.title = `ticksync ${game}`;
  document.body.dataset.game = game;
  document.getElementById('help').innerHTML = 'WASD / arrows drive · mouse aims · click or Space fires shells · right-click or E fires the beam · <a href="/?game=arena">arena</a> · <a href="/?game=' + game + '&amp;page=generic">generic view</a>';
  const page = new Page({ game, defaultRoom: game });
  const { room } = page;
  const canvas = document.getElementById('view');
  const renderer = new SkirmishRenderer(canvas);
  const controls = new Controls(canvas, { drag: false, aim: true });
  room.predictor = SKIRMISH_PREDICTOR;

  // The beam's key, held (Controls knows only its own keys).
  let beamKey = false;
  window.addEventListener('keydown', (e) => {
    if (!BEAM_KEYS.has(e.code) || e.ctrlKey || e.metaKey || e.altKey) return;
    e.preventDefault();
    beamKey = true;
  });
  window.addEventListener('keyup', (e) => {
    if (BEAM_KEYS.has(e.code)) beamKey = false;
  });
  window.addEventListener('blur', () => { beamKey = false; });
  // A second mouse button pressed while one is held comes as a pointermove, not a pointerdown:
  // keep the buttons held current, so left and right can be held together.
  canvas.addEventListener('pointermove', (e) => {
    if (e.pointerType === 'mouse') controls.buttons = e.buttons;
  });
  /** Shells: Space, or any button but the right one (a touch is the left). */
  const firing = () => controls.held.has('fire') || (controls.buttons & ~RIGHT_BUTTON) !== 0;
  /** The beam: its key, or the right button. */
  const beaming = () => beamKey || (controls.buttons & RIGHT_BUTTON) !== 0;

  /** Beams to draw: the `beam` events of the last BEAM_SHOW_MS, each with when it came. */
  let beams = [];
  /** `beam` events received: all, this player's, this player's that hit. */
  const beamCount = { seen: 0, mine: 0, mineHit: 0 };
  room.onEvent('beam', (f) => {
    const mine = room.player != null && f.shooter === room.player.index;
    beamCount.seen += 1;
    if (mine) {
      beamCount.mine += 1;
      if (f.hit) beamCount.mineHit += 1;
    }
    const now = performance.now();
    // Frames stop in a hidden tab; events do not: forget old beams here too.
    beams = beams.filter((x) => now - x.at < BEAM_SHOW_MS);
    beams.push({ ...f, mine, at: now });
  });

  /** The world point under the mouse, or null before it moved. */
  const aimPoint = () => (controls.pointer ? renderer.toWorld(controls.pointer.x, controls.pointer.y) : null);
  let lastInput = null;
  room.inputSource = () => {
    const d = controls.direction();
    const me = room.drawn ?? (room.me && room.me.fields);
    const p = aimPoint();
    // Aim from where the own tank is drawn (what the player sees); until the mouse moves, keep
    // the turret where it is.
    const aim = me && p ? Math.atan2(p.y - me['pos.y'], p.x - me['pos.x']) : me ? me.turret : 0;
    lastInput = { move_x: d.x, move_y: d.y, aim, fire: firing(), beam: beaming() };
    return lastInput;
  };
  room.on('welcome', () => renderer.setWorld(room.params.world_width, room.params.world_height));

  room.onEvent('kill', (f) => page.hud.event(`${f.killer || '?'} ✕ ${f.victim || '?'}`, 'kill'));
  room.onEvent('match_end', (f) => {
    const winner = String(f.winner);
    page.hud.event(winner === 'draw' ? `Match over: a draw, ${f.score_red}–${f.score_blue}` : `Match over: ${winner} wins ${f.score_red}–${f.score_blue}`, 'match');
  });
  let phase = null;
  room.on('snapshot', () => {
    const s = room.state;
    if (s && s.phase !== phase) {
      if (phase !== null) page.hud.event(`Phase: ${s.phase}`);
      phase = s.phase;
    }
  });

  page.startHud(() => {
    const s = room.state;
    const me = room.me ? room.me.fields : null;
    const rows = [];
    if (s) {
      rows.push(['phase', s.phase], ['time left', `${Math.ceil(s.time_left)} s`], ['red – blue', `${s.score_red} – ${s.score_blue}`]);
    }
    if (me) {
      rows.push(['team', me.team], ['health', String(me.health)], ['ammo', String(me.ammo)], ['reload', `${me.reload.toFixed(1)} s`]);
      const cool = me.beam_reload ?? 0;
      rows.push(['beam', cool > 0 ? `${cool.toFixed(2)} s` : 'ready']);
    }
    return rows;
  });
  /** The tanks as the last frame drew them. */
  let drawnTanks = [];
  page.run((view, now) => {
    drawnTanks = view ? view.entities.filter((e) => e.type === 'tank') : [];
    beams = beams.filter((b) => now - b.at < BEAM_SHOW_MS);
    renderer.draw({ view, aim: aimPoint(), banner: page.banner(now), beams, now });
  });
  page.installDebugHook({
    worldToScreen(x, y) {
      return renderer.toScreen(x, y);
    },
    get aimPoint() {
      return aimPoint();
    },
    get lastInput() {
      return lastInput && { ...lastInput };
    },
    /** The tanks as the last frame drew them: [{id, mine, name, team, health, x, y}]. */
    get drawnTanks() {
      return drawnTanks.map((e) => ({
        id: { ...e.id }, mine: e.mine, name: e.fields.name, team: e.fields.team, health: e.fields.health, x: e.fields['pos.x'], y: e.fields['pos.y'],
      }));
    },
    /** `beam` events received so far (all, this player's, those of them that hit), and
     * those being drawn now (their fields, `mine`, `at`). */
    get beams() {
      return { ...beamCount, shown: beams.map((b) => ({ ...b })) };
    },
  });
}
