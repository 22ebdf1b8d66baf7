// The skirmish view: tanks (hull, turret, a health bar, the player's name), shells with a short
// trail, beams fading out, in team colours; the own tank outlined, with its aim line. Angles
// are radians with y down the screen, as the world's, so canvas rotations use them as they are.
import { View } from '/client/v1/view.js';

const TEAM = { red: '#e5534b', blue: '#4f8fe6' };
const DEAD = '#5a6470';
const HULL = { length: 40, width: 28 }; // world units (the server's hit radius: 20 for shells, 12 for beams)
const BARREL = 24; // shells leave the turret this far from the tank's centre
/** Pixels per world unit for drawing a tank: the view's scale, but never so small that the
 * tank is unreadable (a 1600-unit world in a small window). */
const tankScale = (scale) => Math.max(scale, 0.9);

const teamColor = (team) => TEAM[String(team).toLowerCase()] ?? '#c0c0c0';

/** How long a beam stays drawn, fading out (ms). */
export const BEAM_SHOW_MS = 300;

/** Skirmish: tanks, shells, the own aim line. */
export class SkirmishRenderer extends View {
  /**
   * frame: {view (Room.sample's), aim: {x, y} world point or null, banner, beams: the `beam`
   * events to draw, each with `at` (ms, performance.now's) and `mine`, now}.
   */
  draw({ view, aim, banner, beams = [], now = performance.now() }) {
    this.background();
    if (view) {
      const tanks = view.entities.filter((e) => e.type === 'tank');
      for (const e of view.entities) if (e.type === 'shell') this.shell(e);
      for (const t of tanks) if (!t.mine) this.tank(t, false);
      const me = tanks.find((t) => t.mine);
      if (me) {
        if (aim && me.fields.health > 0) this.aimLine(me, aim);
        this.tank(me, true);
      }
    }
    for (const b of beams) this.beam(b, (now - b.at) / BEAM_SHOW_MS);
    this.banner(banner);
  }

  /** A beam `age` (0..1) of its time on screen: a line in its team's colour, fading out, with
   * a white core for the own ones and a flash where it struck a tank. */
  beam(b, age) {
    if (age < 0 || age >= 1) return;
    const { ctx } = this;
    const scale = tankScale(this.scale);
    const from = this.toScreen(b.from_x, b.from_y);
    const to = this.toScreen(b.to_x, b.to_y);
    ctx.save();
    ctx.globalAlpha = 1 - age;
    ctx.lineCap = 'round';
    ctx.strokeStyle = teamColor(b.team);
    ctx.lineWidth = Math.max(2, 4 * scale * (1 - age * 0.5));
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
    if (b.mine) {
      ctx.strokeStyle = '#ffffff';
      ctx.lineWidth = Math.max(1, 1.5 * scale);
      ctx.stroke();
    }
    if (b.hit) {
      ctx.fillStyle = '#fff3c4';
      ctx.beginPath();
      ctx.arc(to.x, to.y, (6 + 10 * age) * scale, 0, Math.PI * 2);
      ctx.fill();
    }
    ctx.restore();
  }

  tank(e, mine) {
    const { ctx } = this;
    const scale = tankScale(this.scale);
    const f = e.fields;
    const { x, y } = this.toScreen(f['pos.x'], f['pos.y']);
    const alive = f.health > 0;
    const color = alive ? teamColor(f.team) : DEAD;
    const L = HULL.length * scale;
    const W = HULL.width * scale;
    ctx.save();
    ctx.translate(x, y);
    ctx.globalAlpha = alive ? 1 : 0.5;
    // Hull with its treads.
    ctx.save();
    ctx.rotate(f.hull);
    ctx.fillStyle = '#1d242c';
    ctx.fillRect(-L / 2, -W / 2, L, W);
    ctx.fillStyle = color;
    ctx.fillRect(-L / 2 + 2, -W / 2 + 4 * scale, L - 4, W - 8 * scale);
    ctx.fillStyle = 'rgba(255,255,255,0.35)';
    ctx.fillRect(L / 2 - 5 * scale, -W / 4, 3 * scale, W / 2); // the front
    ctx.restore();
    // Turret and barrel.
    ctx.save();
    ctx.rotate(f.turret);
    ctx.fillStyle = '#dfe6ee';
    ctx.fillRect(0, -2.5 * scale, (BARREL + 4) * scale, 5 * scale);
    ctx.beginPath();
    ctx.arc(0, 0, 8 * scale, 0, Math.PI * 2);
    ctx.fillStyle = color;
    ctx.fill();
    ctx.strokeStyle = '#dfe6ee';
    ctx.lineWidth = 1.5;
    ctx.stroke();
    ctx.restore();
    if (mine) {
      ctx.strokeStyle = '#ffffff';
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(0, 0, (HULL.length / 2 + 8) * scale, 0, Math.PI * 2);
      ctx.stroke();
    }
    ctx.restore();
    // Health bar and name above it.
    const bw = 40 * scale;
    const by = y - (HULL.length / 2 + 14) * scale;
    ctx.fillStyle = 'rgba(0,0,0,0.6)';
    ctx.fillRect(x - bw / 2, by, bw, 4);
    const h = Math.max(0, Math.min(1, f.health / 100));
    ctx.fillStyle = h > 0.5 ? '#7ee081' : h > 0.25 ? '#f2c14e' : '#e5534b';
    ctx.fillRect(x - bw / 2, by, bw * h, 4);
    ctx.font = `${Math.round(Math.max(11, Math.min(14, 12 * scale)))}px system-ui, sans-serif`;
    this.label(`${f.name || '?'}${mine ? ' (you)' : ''}`, x, by - 2, alive ? '#e6edf3' : '#8b98a5');
  }

  shell(e) {
    const { ctx } = this;
    const scale = tankScale(this.scale);
    const f = e.fields;
    const { x, y } = this.toScreen(f['pos.x'], f['pos.y']);
    const speed = Math.hypot(f['vel.x'], f['vel.y']) || 1;
    const tail = 14 * scale;
    ctx.strokeStyle = 'rgba(255,255,255,0.35)';
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.lineTo(x - (f['vel.x'] / speed) * tail, y - (f['vel.y'] / speed) * tail);
    ctx.stroke();
    ctx.fillStyle = teamColor(f.team);
    ctx.beginPath();
    ctx.arc(x, y, Math.max(2, 3.5 * scale), 0, Math.PI * 2);
    ctx.fill();
  }

  aimLine(me, aim) {
    const { ctx } = this;
    const from = this.toScreen(me.fields['pos.x'], me.fields['pos.y']);
    const to = this.toScreen(aim.x, aim.y);
    ctx.setLineDash([4, 6]);
    ctx.strokeStyle = 'rgba(255,255,255,0.25)';
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
    ctx.setLineDash([]);
  }
}
