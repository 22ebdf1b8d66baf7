// Keyboard (WASD / arrows) and pointer-drag (touch or mouse) controls, read as one direction.

const KEYS = {
  KeyW: 'up', ArrowUp: 'up',
  KeyS: 'down', ArrowDown: 'down',
  KeyA: 'left', ArrowLeft: 'left',
  KeyD: 'right', ArrowRight: 'right',
};

/** Pixels of drag that mean full speed. */
const DRAG_RADIUS_PX = 60;

export class Controls {
  constructor(target) {
    this.held = new Set();
    this.drag = null; // {id, x0, y0, x, y} in CSS pixels
    window.addEventListener('keydown', (e) => this.key(e, true));
    window.addEventListener('keyup', (e) => this.key(e, false));
    // Keys released while the window is not focused never send keyup.
    window.addEventListener('blur', () => this.held.clear());
    target.addEventListener('pointerdown', (e) => {
      if (this.drag) return;
      this.drag = { id: e.pointerId, x0: e.clientX, y0: e.clientY, x: e.clientX, y: e.clientY };
      target.setPointerCapture?.(e.pointerId);
      e.preventDefault();
    });
    target.addEventListener('pointermove', (e) => {
      if (this.drag && e.pointerId === this.drag.id) {
        this.drag.x = e.clientX;
        this.drag.y = e.clientY;
      }
    });
    const end = (e) => {
      if (this.drag && e.pointerId === this.drag.id) this.drag = null;
    };
    target.addEventListener('pointerup', end);
    target.addEventListener('pointercancel', end);
  }

  key(e, down) {
    const dir = KEYS[e.code] || KEYS[e.key];
    if (!dir || e.ctrlKey || e.metaKey || e.altKey) return;
    e.preventDefault(); // arrows would scroll the page
    if (down) this.held.add(dir);
    else this.held.delete(dir);
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
