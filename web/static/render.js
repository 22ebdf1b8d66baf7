// The canvas view of the arena: world bounds, NPCs as dots, players as labelled discs, the own
// player marked, the drag joystick, and a banner while not playing. World units map to pixels
// with one uniform scale that fits the world in the window.
import { KIND_PLAYER } from './protocol.js';

const COLORS = {
  page: '#0b0f14',
  world: '#121a23',
  grid: '#1b2632',
  border: '#3d5a73',
  npc: '#5fa8d3',
  player: '#f2a541',
  me: '#7ee081',
  label: '#e6edf3',
};

const PLAYER_RADIUS = 9; // world units
const NPC_RADIUS = 2.5;

export class Renderer {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d', { alpha: false });
    this.world = { width: 1000, height: 1000 };
    this.resize();
    window.addEventListener('resize', () => this.resize());
  }

  resize() {
    const dpr = window.devicePixelRatio || 1;
    const w = window.innerWidth;
    const h = window.innerHeight;
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(h * dpr);
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${h}px`;
    this.dpr = dpr;
    this.cssW = w;
    this.cssH = h;
    this.layout();
  }

  setWorld(width, height) {
    this.world = { width, height };
    this.layout();
  }

  layout() {
    // Side margins, and room at the bottom for the help line.
    const mx = 12;
    const top = 12;
    const bottom = 28;
    const { width, height } = this.world;
    this.scale = Math.max(0.05, Math.min((this.cssW - 2 * mx) / width, (this.cssH - top - bottom) / height));
    this.ox = (this.cssW - width * this.scale) / 2;
    this.oy = top + (this.cssH - top - bottom - height * this.scale) / 2;
  }

  /**
   * Draws one frame. view: {entities(fn), me: {index, version} | null, mePos: {x, y} | null,
   * nameOf(index, version), drag, banner}.
   */
  draw(view) {
    const { ctx, scale, ox, oy, dpr } = this;
    const { width, height } = this.world;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = COLORS.page;
    ctx.fillRect(0, 0, this.cssW, this.cssH);

    ctx.fillStyle = COLORS.world;
    ctx.fillRect(ox, oy, width * scale, height * scale);
    ctx.strokeStyle = COLORS.grid;
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let g = 100; g < width; g += 100) {
      ctx.moveTo(ox + g * scale + 0.5, oy);
      ctx.lineTo(ox + g * scale + 0.5, oy + height * scale);
    }
    for (let g = 100; g < height; g += 100) {
      ctx.moveTo(ox, oy + g * scale + 0.5);
      ctx.lineTo(ox + width * scale, oy + g * scale + 0.5);
    }
    ctx.stroke();
    ctx.strokeStyle = COLORS.border;
    ctx.lineWidth = 2;
    ctx.strokeRect(ox, oy, width * scale, height * scale);

    // NPCs in one path (one fill call for a thousand dots), players collected for a second pass.
    const players = [];
    const r = Math.max(1.5, NPC_RADIUS * scale);
    ctx.fillStyle = COLORS.npc;
    ctx.beginPath();
    view.entities((index, version, kind, x, y) => {
      if (kind === KIND_PLAYER) {
        if (!view.me || index !== view.me.index || version !== view.me.version) players.push({ index, version, x, y });
        return;
      }
      const px = ox + x * scale;
      const py = oy + y * scale;
      ctx.moveTo(px + r, py);
      ctx.arc(px, py, r, 0, Math.PI * 2);
    });
    ctx.fill();

    const pr = Math.max(5, PLAYER_RADIUS * scale);
    ctx.font = `${Math.round(Math.max(11, Math.min(15, pr * 1.3)))}px system-ui, sans-serif`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    for (const p of players) {
      this.player(p.x, p.y, pr, COLORS.player, view.nameOf(p.index, p.version), false);
    }
    if (view.me && view.mePos) {
      this.player(view.mePos.x, view.mePos.y, pr, COLORS.me, `${view.nameOf(view.me.index, view.me.version) || 'you'} (you)`, true);
    }

    if (view.drag) {
      ctx.strokeStyle = 'rgba(255,255,255,0.35)';
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(view.drag.x0, view.drag.y0, 60, 0, Math.PI * 2);
      ctx.stroke();
      ctx.fillStyle = 'rgba(255,255,255,0.35)';
      ctx.beginPath();
      ctx.arc(view.drag.x, view.drag.y, 18, 0, Math.PI * 2);
      ctx.fill();
    }

    if (view.banner) this.banner(view.banner);
  }

  player(x, y, radius, color, name, me) {
    const { ctx, scale, ox, oy } = this;
    const px = ox + x * scale;
    const py = oy + y * scale;
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
    if (name) {
      ctx.fillStyle = COLORS.label;
      ctx.fillText(name, px, py - radius - (me ? 6 : 3));
    }
  }

  banner(text) {
    const { ctx } = this;
    ctx.font = '16px system-ui, sans-serif';
    const lines = text.split('\n');
    const w = Math.min(this.cssW - 20, Math.max(...lines.map((l) => ctx.measureText(l).width)) + 40);
    const h = 24 * lines.length + 20;
    const x = (this.cssW - w) / 2;
    const y = (this.cssH - h) / 2;
    ctx.fillStyle = 'rgba(0,0,0,0.75)';
    ctx.fillRect(x, y, w, h);
    ctx.fillStyle = '#ffffff';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    lines.forEach((l, i) => ctx.fillText(l, this.cssW / 2, y + 22 + i * 24));
  }
}
