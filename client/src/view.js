// The canvas view every page builds on: the world fitted in the canvas with one uniform scale
// (world units to CSS pixels and back), and what every game draws: background, grid, border,
// the drag joystick, labels and a banner while not playing. A game's renderer extends it.

export const COLORS = {
  page: '#0b0f14',
  world: '#121a23',
  grid: '#1b2632',
  border: '#3d5a73',
  label: '#e6edf3',
};

/** Grid spacing in world units: 100, or a power of ten times that for 4 to 60 lines. */
function gridStep(span) {
  let step = 100;
  while (span / step > 60) step *= 10;
  while (span / step < 4 && step > 1e-6) step /= 10;
  return step;
}

/** The world fitted in the window: its transform and what every game draws. */
export class View {
  /** `size`: the canvas's size in CSS pixels, `() => ({width, height})` (default: the window's). */
  constructor(canvas, { size = null } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d', { alpha: false });
    this.size = size ?? (() => ({ width: window.innerWidth, height: window.innerHeight }));
    this.world = { width: 1000, height: 1000 };
    this.resize();
    window.addEventListener('resize', () => this.resize());
  }

  resize() {
    const dpr = window.devicePixelRatio || 1;
    const { width: w, height: h } = this.size();
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
    const step = gridStep(Math.max(width, height));
    for (let g = step; g < width; g += step) {
      ctx.moveTo(ox + g * scale + 0.5, oy);
      ctx.lineTo(ox + g * scale + 0.5, oy + height * scale);
    }
    for (let g = step; g < height; g += step) {
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
