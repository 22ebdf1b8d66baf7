// Keyboard (WASD / arrows) and pointer controls. A direction from the keys or, with `drag`, a
// pointer drag (a touch joystick); with `aim`, the pointer's position (where to aim) and fire
// (a mouse button or Space held) instead of dragging.

const KEYS = {
  KeyW: 'up', ArrowUp: 'up',
  KeyS: 'down', ArrowDown: 'down',
  KeyA: 'left', ArrowLeft: 'left',
  KeyD: 'right', ArrowRight: 'right',
  Space: 'fire',
};

/** Pixels of drag that mean full speed. */
const DRAG_RADIUS_PX = 60;

export class Controls {
  constructor(target, { drag = true, aim = false } = {}) {
    this.held = new Set();
    this.drag = null; // {id, x0, y0, x, y} in CSS pixels
    this.pointer = null; // {x, y} in CSS pixels, with `aim`
    this.buttons = 0;
    window.addEventListener('keydown', (e) => this.key(e, true));
    window.addEventListener('keyup', (e) => this.key(e, false));
    // Keys released while the window is not focused never send keyup.
    window.addEventListener('blur', () => {
      this.held.clear();
      this.buttons = 0;
    });
    target.addEventListener('pointerdown', (e) => {
      if (aim) {
        this.pointer = { x: e.clientX, y: e.clientY };
        this.buttons = e.buttons || 1;
        e.preventDefault();
        return;
      }
      if (!drag || this.drag) return;
      this.drag = { id: e.pointerId, x0: e.clientX, y0: e.clientY, x: e.clientX, y: e.clientY };
      target.setPointerCapture?.(e.pointerId);
      e.preventDefault();
    });
    target.addEventListener('pointermove', (e) => {
      if (aim) this.pointer = { x: e.clientX, y: e.clientY };
      if (this.drag && e.pointerId === this.drag.id) {
        this.drag.x = e.clientX;
        this.drag.y = e.clientY;
      }
    });
    const end = (e) => {
      this.buttons = e.buttons || 0;
      if (this.drag && e.pointerId === this.drag.id) this.drag = null;
    };
    target.addEventListener('pointerup', end);
    target.addEventListener('pointercancel', end);
    target.addEventListener('contextmenu', (e) => aim && e.preventDefault());
  }

  key(e, down) {
    const what = KEYS[e.code] || KEYS[e.key];
    if (!what || e.ctrlKey || e.metaKey || e.altKey) return;
    e.preventDefault(); // arrows and space would scroll the page
    if (down) this.held.add(what);
    else this.held.delete(what);
  }

  /** Whether to fire: a mouse button or Space held. */
  get firing() {
    return this.buttons !== 0 || this.held.has('fire');
  }

  /** The direction now, each axis in -1..1 (+x right, +y down the screen). */
  direction() {
    let x = (this.held.has('right') ? 1 : 0) - (this.held.has('left') ? 1 : 0);
    let y = (this.held.has('down') ? 1 : 0) - (this.held.has('up') ? 1 : 0);
    if (this.drag) {
      const dx = (this.drag.x - this.drag.x0) / DRAG_RADIUS_PX;
      const dy = (this.drag.y - this.drag.y0) / DRAG_RADIUS_PX;
      const len = Math.hypot(dx, dy);
      // A small dead zone so a tap does not creep.
      if (len > 0.15) {
        const k = Math.min(1, len) / len;
        x = dx * k;
        y = dy * k;
      }
    }
    return { x, y };
  }
}
