//! A seeded random number generator for games that must replay the same way for a seed
//! (tests, benchmarks, bots that compare runs).

/// mulberry32: tiny, fast, and easy to reproduce in any language (a browser can draw the same
/// numbers).
///
/// ```
/// use server::rng::Mulberry32;
///
/// let mut a = Mulberry32::new(7);
/// let mut b = Mulberry32::new(7);
/// let x = a.next_f64();
/// assert!((0.0..1.0).contains(&x));
/// assert_eq!(x, b.next_f64());
/// ```
#[derive(Clone, Debug)]
pub struct Mulberry32(u32);

impl Mulberry32 {
    /// The sequence of `seed`.
    pub fn new(seed: u32) -> Self {
        Self(seed)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x6D2B_79F5);
        let mut t = self.0;
        t = (t ^ (t >> 15)).wrapping_mul(t | 1);
        t ^= t.wrapping_add((t ^ (t >> 7)).wrapping_mul(t | 61));
        f64::from(t ^ (t >> 14)) / 4_294_967_296.0
    }

    /// Another sequence, as a function of this one's state and `salt`: a restored room mixes
    /// in its tick, so it does not replay the draws its fresh instance started with (the same
    /// spawn points, the same turns as the room's opening) yet stays deterministic.
    pub fn salted(&self, salt: u32) -> Self {
        Self(self.0 ^ salt.wrapping_mul(0x9E37_79B9))
    }
}
