//! Position quantisation: world units to fixed point with `1/SCALE` unit steps.
//!
//! At 1/16 unit a one-tick move of an arena NPC (<= 2.5 units, 40 steps) or player (<= 3.4
//! units, 54 steps) zig-zags below 251, one varint byte; the rounding error is at most 1/32 unit.

/// Quantisation steps per world unit.
pub const SCALE: f32 = 16.0;

/// World units to steps: rounded to nearest, saturating at the `i32` range, NaN to 0.
pub fn quantize(v: f32) -> i32 {
    // `as` saturates and maps NaN to 0, which is what we want for untrusted floats.
    (v * SCALE).round() as i32
}

/// Steps back to world units.
pub fn dequantize(q: i32) -> f32 {
    q as f32 / SCALE
}

/// An input axis in -1.0..=1.0 to its wire byte.
pub fn axis_to_wire(v: f32) -> i8 {
    (v.clamp(-1.0, 1.0) * f32::from(crate::limits::INPUT_AXIS_MAX)).round() as i8
}

/// A wire input axis to -1.0..=1.0.
pub fn axis_from_wire(a: i8) -> f32 {
    (f32::from(a) / f32::from(crate::limits::INPUT_AXIS_MAX)).clamp(-1.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_error_is_at_most_half_a_step() {
        for i in 0..20_000 {
            let v = i as f32 * 0.0513 - 300.0;
            let err = (dequantize(quantize(v)) - v).abs();
            assert!(err <= 0.5 / SCALE + 1e-4, "{v}: {err}");
        }
    }

    #[test]
    fn hostile_floats_saturate() {
        assert_eq!(quantize(f32::NAN), 0);
        assert_eq!(quantize(f32::INFINITY), i32::MAX);
        assert_eq!(quantize(f32::NEG_INFINITY), i32::MIN);
    }

    #[test]
    fn axes_round_trip_and_clamp() {
        assert_eq!(axis_to_wire(1.0), 127);
        assert_eq!(axis_to_wire(-7.0), -127);
        assert_eq!(axis_to_wire(f32::NAN), 0);
        assert_eq!(axis_from_wire(-128), -1.0);
        assert!((axis_from_wire(axis_to_wire(0.5)) - 0.5).abs() < 0.01);
    }
}
