// Arena's movement rules, for predicting the own player (ticksync's `room.predictor`): the
// same rules the server applies (games/arena/src), in the game's units. No DOM: the client's
// unit tests check them.

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

/**
 * Arena: the player moves along the stick at `player_speed`, clamped to the world.
 * Predicts `pos.x`, `pos.y`.
 */
export function arenaStep(state, input, dt, params) {
  const d = stick(input);
  return {
    'pos.x': clamp(state['pos.x'] + d.x * params.player_speed * dt, 0, params.world_width),
    'pos.y': clamp(state['pos.y'] + d.y * params.player_speed * dt, 0, params.world_height),
  };
}

/** `room.predictor` for arena. */
export const ARENA_PREDICTOR = { fields: ['pos.x', 'pos.y'], step: arenaStep };
