// The arena page: NPCs wandering a square world and one disc per player. WASD / arrows or a
// drag steer the own player, predicted at once and reconciled with the server (rules.js); the
// others are drawn a few snapshots in the past (the delay adapts to the network), interpolated.
//
// Served at /games/arena/ (and /games/arena-large/: `?game=` names the game, arena by default);
// the client library comes from the server's /client/v1/, wherever this folder is mounted.
import { Page, pageGame } from '/client/v1/page.js';
import { Controls } from '/client/v1/input.js';
import { ArenaRenderer } from './render.js';
import { ARENA_PREDICTOR } from './rules.js';

/** Joins arena or arena-large (`?game=&room=&name=&token=`), draws it and exposes
 * `window.ticksync`. */
export function start() {
  const game = pageGame('arena');
  document.title = `ticksync ${game}`;
  document.body.dataset.game = game;
  document.getElementById('help').innerHTML = 'WASD / arrows or drag to move · another player: open this page again with <code>?name=bob</code> · <a href="/?game=skirmish">skirmish</a> · <a href="/?game=' + game + '&amp;page=generic">generic view</a>';
  const page = new Page({ game, defaultRoom: game });
  const { room } = page;
  const canvas = document.getElementById('view');
  const renderer = new ArenaRenderer(canvas);
  const controls = new Controls(canvas);
  room.predictor = ARENA_PREDICTOR;
  room.inputSource = () => {
    const d = controls.direction();
    return { move_x: d.x, move_y: d.y };
  };
  room.on('welcome', () => renderer.setWorld(room.params.world_width, room.params.world_height));
  page.startHud();
  page.run((view, now) => {
    renderer.draw({ view, nameOf: (id) => page.nameOf(id), drag: controls.drag, banner: page.banner(now) });
  });
  page.installDebugHook({
    worldToScreen(x, y) {
      return renderer.toScreen(x, y);
    },
  });
}
