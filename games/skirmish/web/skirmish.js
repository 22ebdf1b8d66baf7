// The skirmish page (`/?game=skirmish`): a top-down tank match, red against blue.
//
// Controls are direct, not tank-style: WASD / arrows say where to drive on the screen (the
// server turns the hull toward it as it drives), the turret aims at the mouse, and a mouse
// button or Space fires. The own tank is predicted (position, hull, turret; rules.js), the rest
// interpolated. The HUD shows the match phase, time left, the scores, the own ammo and reload
// (private fields only this player receives) and a kill feed.
//
// Served at /games/skirmish/ (`?game=` names the game, skirmish by default); the client library
// comes from the server's /client/v1/, wherever this folder is mounted.
import { Page, pageGame } from '/client/v1/page.js';
import { Controls } from '/client/v1/input.js';
import { SkirmishRenderer } from './skirmish-render.js';
import { SKIRMISH_PREDICTOR } from './rules.js';

/** Joins skirmish (`?game=&room=&name=&token=`), draws it and exposes `window.ticksync`. */
export function start() {
  const game = pageGame('skirmish');
  document.title = `ticksync ${game}`;
  document.body.dataset.game = game;
  document.getElementById('help').innerHTML = 'WASD / arrows drive · mouse aims · click or Space fires · <a href="/?game=arena">arena</a> · <a href="/?game=' + game + '&amp;page=generic">generic view</a>';
  const page = new Page({ game, defaultRoom: game });
  const { room } = page;
  const canvas = document.getElementById('view');
  const renderer = new SkirmishRenderer(canvas);
  const controls = new Controls(canvas, { drag: false, aim: true });
  room.predictor = SKIRMISH_PREDICTOR;

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
    lastInput = { move_x: d.x, move_y: d.y, aim, fire: controls.firing };
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
    }
    return rows;
  });
  page.run((view, now) => {
    renderer.draw({ view, aim: aimPoint(), banner: page.banner(now) });
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
  });
}
