// The coins page: the field, the coins, every player's dot (others interpolated, the own one
// predicted at once from the same rule the server applies), a HUD and the event feed.
import { Page } from '/client/v1/page.js';
import { Controls } from '/client/v1/input.js';
import { View } from '/client/v1/view.js';

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

/** The server's movement rule (src/lib.rs `step`), for predicting the own dot. */
const PREDICTOR = {
  fields: ['pos.x', 'pos.y'],
  step(state, input, dt, params) {
    let x = input.move_x ?? 0;
    let y = input.move_y ?? 0;
    const len = Math.hypot(x, y);
    if (len > 1) {
      x /= len;
      y /= len;
    }
    return {
      'pos.x': clamp(state['pos.x'] + x * params.player_speed * dt, 0, params.world_width),
      'pos.y': clamp(state['pos.y'] + y * params.player_speed * dt, 0, params.world_height),
    };
  },
};

class CoinsView extends View {
  draw(view, banner) {
    this.background();
    const { ctx } = this;
    for (const e of view ? view.entities : []) {
      const { x, y } = this.toScreen(e.fields['pos.x'], e.fields['pos.y']);
      const coin = e.type === 'coin';
      ctx.fillStyle = coin ? '#f5d547' : e.mine ? '#7ee081' : '#f2a541';
      ctx.beginPath();
      ctx.arc(x, y, Math.max(coin ? 3 : 5, (coin ? 6 : 10) * this.scale), 0, Math.PI * 2);
      ctx.fill();
      if (!coin) this.label(`${e.fields.name} · ${e.fields.score}`, x, y - 14);
    }
    this.banner(banner);
  }
}

/** Joins `?room=` (default "coins") as `?name=`, draws the game and exposes `window.ticksync`. */
export function start() {
  const page = new Page({ game: 'coins', defaultRoom: 'coins' });
  const { room } = page;
  const canvas = document.getElementById('view');
  const view = new CoinsView(canvas);
  const controls = new Controls(canvas);
  room.predictor = PREDICTOR;
  room.inputSource = () => {
    const d = controls.direction();
    return { move_x: d.x, move_y: d.y };
  };
  room.on('welcome', () => view.setWorld(room.params.world_width, room.params.world_height));
  room.onEvent('scored', (f) => page.hud.event(`${f.name} has ${f.score}`));
  page.startHud(() => [['score', String(room.me ? room.me.fields.score : 0)]]);
  page.run((sampled, now) => view.draw(sampled, page.banner(now)));
  page.installDebugHook();
}
