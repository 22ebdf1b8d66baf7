// Skirmish's movement rules, for predicting the own tank (ticksync's `room.predictor`): the
// same rules the server applies (games/skirmish/src), in the game's units. No DOM: the client's
// unit tests check them.

const TAU = 2 * Math.PI;

/** The stick (move_x, move_y), normalised if longer than 1. */
function stick(input) {
  let x = input.move_x ?? 0;
  let y = input.move_y ?? 0;
  const len = Math.hypot(x, y);
  if (len > 1) {
    x /= len;
    y /= len;
  }
  return { x, y };
}

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

// games/skirmish/src: turn rates (rad/s); not in the params.
export const HULL_TURN = 3;
export const TURRET_TURN = 6;

/** `from` turned toward `to` by at most `max` radians; in 0..2π. */
export function turnToward(from, to, max) {
  const d = ((((to - from + Math.PI) % TAU) + TAU) % TAU) - Math.PI;
  const v = (from + clamp(d, -max, max)) % TAU;
  return v < 0 ? v + TAU : v;
}

/**
 * Skirmish: a living tank drives along the stick at `tank_speed` (clamped to the world), its
 * hull turning toward where it drives, its turret toward `aim`. A destroyed tank (health 0)
 * stands still. Predicts `pos.x`, `pos.y`, `hull`, `turret`.
 */
export function skirmishStep(state, input, dt, params, entity = {}) {
  if (entity.health === 0) return state;
  const d = stick(input);
  const out = {
    'pos.x': clamp(state['pos.x'] + d.x * params.tank_speed * dt, 0, params.world_width),
    'pos.y': clamp(state['pos.y'] + d.y * params.tank_speed * dt, 0, params.world_height),
    hull: state.hull,
    turret: turnToward(state.turret, input.aim ?? state.turret, TURRET_TURN * dt),
  };
  if (d.x * d.x + d.y * d.y > 0.01) out.hull = turnToward(state.hull, Math.atan2(d.y, d.x), HULL_TURN * dt);
  return out;
}

/** `room.predictor` for skirmish. */
export const SKIRMISH_PREDICTOR = {
  fields: ['pos.x', 'pos.y', 'hull', 'turret'],
  angles: ['hull', 'turret'],
  step: skirmishStep,
};
