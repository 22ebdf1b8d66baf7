// The canvas views. `View` fits the world in the window with one uniform scale and draws what
// every game shares (background, grid, border, the drag joystick, a banner while not playing);
// `ArenaRenderer` draws arena's NPCs as dots and players as labelled discs, the own one marked.

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

/** The world fitted in the window: its transform and what every game draws. */
export class View {
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
    if (width > 0 && height > 0) this.world = { width, height };
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

  /** World units to CSS pixels. */
  toScreen(x, y) {
    return { x: this.ox + x * this.scale, y: this.oy + y * this.scale };
  }

  /** CSS pixels to world units. */
  toWorld(px, py) {
    return { x: (px - this.ox) / this.scale, y: (py - this.oy) / this.scale };
  }

  background() {
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
  }

  joystick(drag) {
    if (!drag) return;
    const { ctx } = this;
    ctx.strokeStyle = 'rgba(255,255,255,0.35)';
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(drag.x0, drag.y0, 60, 0, Math.PI * 2);
    ctx.stroke();
    ctx.fillStyle = 'rgba(255,255,255,0.35)';
    ctx.beginPath();
    ctx.arc(drag.x, drag.y, 18, 0, Math.PI * 2);
    ctx.fill();
  }

  label(text, px, py, color = COLORS.label) {
    const { ctx } = this;
    ctx.fillStyle = color;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    ctx.fillText(text, px, py);
  }

  banner(text) {
    if (!text) return;
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
