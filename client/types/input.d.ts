// Types of `ticksync-client/input` (src/input.js): keyboard (WASD / arrows, Space) and pointer
// controls: a direction from the keys or a pointer drag (a touch joystick); with `aim`, the
// pointer's position and fire (a mouse button or Space held) instead of dragging.

export type ControlKey = 'up' | 'down' | 'left' | 'right' | 'fire';

export interface ControlsOptions {
  /** A pointer drag on `target` steers (default true). */
  drag?: boolean;
  /** The pointer aims and its buttons fire, instead of dragging (default false). */
  aim?: boolean;
}

export class Controls {
  /** Listens to keys on `window` and to pointer events on `target` (the canvas). */
  constructor(target: Element, options?: ControlsOptions);
  /** What is held now. */
  held: Set<ControlKey>;
  /** The drag in progress, in CSS pixels, or null. */
  drag: { id: number; x0: number; y0: number; x: number; y: number } | null;
  /** The pointer's position in CSS pixels (with `aim`), or null before it moved. */
  pointer: { x: number; y: number } | null;
  /** The pointer's buttons held. */
  buttons: number;
  key(e: KeyboardEvent, down: boolean): void;
  /** Whether to fire: a mouse button or Space held. */
  get firing(): boolean;
  /** The direction now, each axis in -1..1 (+x right, +y down the screen). */
  direction(): { x: number; y: number };
}
