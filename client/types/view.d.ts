// Types of `ticksync-client/view` (src/view.js): the world fitted in a canvas with one uniform
// scale, and what every game draws (background, grid, border, joystick, labels, banner). A game's
// renderer extends View.

export const COLORS: {
  page: string;
  world: string;
  grid: string;
  border: string;
  label: string;
};

export interface ViewOptions {
  /** The canvas's size in CSS pixels (default: the window's). */
  size?: (() => { width: number; height: number }) | null;
}

export class View {
  /** Sizes `canvas` (and again on every window resize). */
  constructor(canvas: HTMLCanvasElement, options?: ViewOptions);
  canvas: HTMLCanvasElement;
  ctx: CanvasRenderingContext2D;
  size: () => { width: number; height: number };
  /** The world's size in its units (1000 x 1000 until `setWorld`). */
  world: { width: number; height: number };
  dpr: number;
  cssW: number;
  cssH: number;
  /** CSS pixels per world unit, and where the world's origin is (CSS pixels). */
  scale: number;
  ox: number;
  oy: number;
  resize(): void;
  /** The world's size (e.g. from the params `world_width`, `world_height`). */
  setWorld(width: number, height: number): void;
  layout(): void;
  /** World units to CSS pixels. */
  toScreen(x: number, y: number): { x: number; y: number };
  /** CSS pixels to world units. */
  toWorld(px: number, py: number): { x: number; y: number };
  /** Clears the canvas and draws the world's background, grid and border. */
  background(): void;
  /** Draws the drag joystick (`Controls.drag`), if any. */
  joystick(drag: { x0: number; y0: number; x: number; y: number } | null): void;
  label(text: string, px: number, py: number, color?: string): void;
  /** A message box over the view (lines split at '\n'); nothing for ''. */
  banner(text: string): void;
}
