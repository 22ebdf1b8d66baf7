// The arena page: NPCs wandering a square world and one disc per player. WASD / arrows or a
// drag steer the own player, predicted at once and reconciled with the server (rules.js); the
// others are drawn ~100 ms in the past, interpolated between snapshots.
import { Page } from './page.js';
import { ArenaRenderer } from './render.js';
import { Controls } from './input.js';
import { ARENA_PREDICTOR } from './rules.js';

/** Joins arena (`?room=&name=&token=`), draws it and exposes `window.ticksync`. */
export function start() {
  document.title = 'ticksync arena';
  document.getElementById('help').innerHTML = 'WASD / arrows or drag to move · another player: open this page again with <code>?name=bob</code> · <a href="?game=skirmish">skirmish</a>';
  const page = new Page({ game: 'arena', defaultRoom: 'arena' });
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
