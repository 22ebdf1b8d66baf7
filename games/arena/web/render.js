// Arena's canvas view: NPCs as dots and players as labelled discs, the own one marked, on the
// client's `View` (the world fitted in the window, background, grid, joystick, banner).
import { View } from '/client/v1/view.js';

const COLORS = {
  npc: '#5fa8d3',
  player: '#f2a541',
  me: '#7ee081',
};

const PLAYER_RADIUS = 9; // world units
const NPC_RADIUS = 2.5;

/** Arena: NPC dots and player discs. */
export class ArenaRenderer extends View {
  /**
   * Draws one frame. frame: {view (Room.sample's), nameOf(id), drag, banner}.
   */
  draw({ view, nameOf, drag, banner }) {
    this.background();
    const { ctx, scale, ox, oy } = this;
    const players = [];
    let me = null;
    if (view) {
      // NPCs in one path (one fill call for a thousand dots), players in a second pass.
      const r = Math.max(1.5, NPC_RADIUS * scale);
      ctx.fillStyle = COLORS.npc;
      ctx.beginPath();
      for (const e of view.entities) {
        if (e.type === 'player') {
          if (e.mine) me = e;
          else players.push(e);
          continue;
        }
        const px = ox + e.fields['pos.x'] * scale;
        const py = oy + e.fields['pos.y'] * scale;
        ctx.moveTo(px + r, py);
        ctx.arc(px, py, r, 0, Math.PI * 2);
      }
      ctx.fill();
    }
    const pr = Math.max(5, PLAYER_RADIUS * scale);
    ctx.font = `${Math.round(Math.max(11, Math.min(15, pr * 1.3)))}px system-ui, sans-serif`;
    for (const p of players) this.player(p, pr, COLORS.player, nameOf(p.id), false);
    if (me) this.player(me, pr, COLORS.me, `${nameOf(me.id) || 'you'} (you)`, true);
    this.joystick(drag);
    this.banner(banner);
  }

  player(e, radius, color, name, me) {
    const { ctx } = this;
    const { x: px, y: py } = this.toScreen(e.fields['pos.x'], e.fields['pos.y']);
    ctx.fillStyle = color;
    ctx.beginPath();
    ctx.arc(px, py, radius, 0, Math.PI * 2);
    ctx.fill();
    if (me) {
      ctx.strokeStyle = '#ffffff';
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(px, py, radius + 4, 0, Math.PI * 2);
      ctx.stroke();
    }
    if (name) this.label(name, px, py - radius - (me ? 6 : 3));
  }
}
