//! Lag compensation's bookkeeping: the moment each player was drawing (from its inputs' view
//! times, clamped), and the recorded tables around that moment. A game reads it through
//! `Ctx::as_seen_by`.
//!
//! A client draws other entities interpolated, some ticks behind the server's present, so a
//! shot aimed at what it drew would miss the present. The room keeps its recorded tables for
//! `--rewind-history` and remembers, per player, the view time of its newest applied input:
//! never later than the present, never further back than the age of the input's ack (its round
//! trip) plus `--max-rewind`, never before the oldest table kept. Each clamp is counted.

use std::collections::HashMap;

use protocol::{EntityId, StateTable, ViewTime};

/// The room's recorded tables, by tick.
pub trait Tables {
    /// The table recorded at `tick`, if it is still kept.
    fn table(&self, tick: u32) -> Option<&StateTable>;
}

/// The moment each player drew, and the tables to see it: what `Ctx::as_seen_by` reads.
pub struct Past<'a> {
    tables: Option<&'a dyn Tables>,
    /// The present: the tick whose table is the world the hooks start from.
    now: u32,
    views: Option<&'a HashMap<EntityId, ViewTime>>,
}

/// Two recorded tables and how far between them a player drew.
#[derive(Clone, Copy)]
pub struct Between<'a> {
    /// The older table.
    pub a: &'a StateTable,
    /// The newer table (`a` itself at a whole tick).
    pub b: &'a StateTable,
    /// 0 to 1, from `a` to `b`.
    pub frac: f64,
    /// How far behind the present, in ticks.
    pub ticks_back: f64,
}

impl<'a> Past<'a> {
    /// No past: every player sees the present (outside a room, or with rewinding off).
    pub fn none() -> Past<'static> {
        Past {
            tables: None,
            now: 0,
            views: None,
        }
    }

    /// The room's tables around tick `now`, and each player's clamped view time.
    pub fn new(tables: &'a dyn Tables, now: u32, views: &'a HashMap<EntityId, ViewTime>) -> Self {
        Past {
            tables: Some(tables),
            now,
            views: Some(views),
        }
    }

    /// What `player` drew: `None` when it is the present (no view time, rewinding off, or a
    /// view at the present).
    pub fn seen_by(&self, player: EntityId) -> Option<Between<'a>> {
        let tables = self.tables?;
        let view = *self.views?.get(&player)?;
        let back = self.now.wrapping_sub(view.tick);
        // Clamped on arrival; the present moved on since, by whole ticks only.
        if back == 0 || back > (1 << 20) {
            return None;
        }
        let a = tables.table(view.tick)?;
        let frac = f64::from(view.frac) / 256.0;
        let b = if frac > 0.0 {
            tables.table(view.tick.wrapping_add(1)).unwrap_or(a)
        } else {
            a
        };
        Some(Between {
            a,
            b,
            frac,
            ticks_back: f64::from(back) - frac,
        })
    }
}

/// Why a view time was moved (each counted in `/metrics`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clamp {
    /// Later than the present (a client ahead of the server, or lying).
    Future,
    /// Further back than the input's round trip plus `--max-rewind`, or than the tables kept.
    Cap,
}

/// Clamps a client's view time to what may be rewound at tick `now`: not after `now`, not
/// before `now - ack age - max_rewind_ticks`, not before `oldest`. `None` for no rewind: no
/// view time, no ack (no round trip to judge by), or rewinding off (`max_rewind_ticks` 0).
pub fn clamp_view(
    view: Option<ViewTime>,
    ack: Option<u32>,
    now: u32,
    max_rewind_ticks: u32,
    oldest: u32,
) -> (Option<ViewTime>, Option<Clamp>) {
    let (Some(view), Some(ack)) = (view, ack) else {
        return (None, None);
    };
    if max_rewind_ticks == 0 {
        return (None, None);
    }
    // Ticks back from `now`, wrapping-safe: the server's tick wraps, a client's may be anything.
    let behind = |t: u32| now.wrapping_sub(t) as i32;
    let ack_age = behind(ack).max(0) as u32;
    let cap = ack_age
        .saturating_add(max_rewind_ticks)
        .min(behind(oldest).max(0) as u32);
    let back = behind(view.tick);
    if back < 0 || (back == 0 && view.frac > 0) {
        return (Some(ViewTime { tick: now, frac: 0 }), Some(Clamp::Future));
    }
    if back as u32 > cap {
        let tick = now.wrapping_sub(cap);
        return (Some(ViewTime { tick, frac: 0 }), Some(Clamp::Cap));
    }
    (Some(view), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(tick: u32, frac: u8) -> Option<ViewTime> {
        Some(ViewTime { tick, frac })
    }

    #[test]
    fn a_view_within_the_cap_is_kept() {
        // Now 1000, acked 991 (9 ticks of round trip), 12 ticks of rewind beyond it.
        assert_eq!(
            clamp_view(v(988, 128), Some(991), 1000, 12, 900),
            (v(988, 128), None)
        );
        assert_eq!(
            clamp_view(v(979, 0), Some(991), 1000, 12, 900),
            (v(979, 0), None)
        );
    }

    #[test]
    fn views_in_the_future_or_too_far_back_are_clamped_and_said() {
        assert_eq!(
            clamp_view(v(1001, 0), Some(991), 1000, 12, 900),
            (v(1000, 0), Some(Clamp::Future))
        );
        assert_eq!(
            clamp_view(v(1000, 1), Some(991), 1000, 12, 900),
            (v(1000, 0), Some(Clamp::Future))
        );
        assert_eq!(
            clamp_view(v(978, 255), Some(991), 1000, 12, 900),
            (v(979, 0), Some(Clamp::Cap))
        );
        // Far in the past, or a lie across the wrap: the cap, never a panic.
        assert_eq!(
            clamp_view(v(0, 0), Some(991), 1000, 12, 900),
            (v(979, 0), Some(Clamp::Cap))
        );
        // Across the wrap, u32::MAX is 6 ticks before tick 5: the past, bounded by the oldest.
        assert_eq!(
            clamp_view(v(u32::MAX, 0), Some(3), 5, 12, 0),
            (v(0, 0), Some(Clamp::Cap))
        );
        assert_eq!(
            clamp_view(v(1_000_000, 0), Some(3), 5, 12, 0),
            (v(5, 0), Some(Clamp::Future))
        );
    }

    #[test]
    fn the_tables_kept_bound_the_cap_and_zero_turns_it_off() {
        assert_eq!(
            clamp_view(v(900, 0), Some(991), 1000, 200, 950),
            (v(950, 0), Some(Clamp::Cap))
        );
        assert_eq!(clamp_view(v(995, 0), Some(991), 1000, 0, 900), (None, None));
        assert_eq!(clamp_view(v(995, 0), None, 1000, 12, 900), (None, None));
        assert_eq!(clamp_view(None, Some(991), 1000, 12, 900), (None, None));
        // An ack from the future (a lie) gives no extra reach.
        assert_eq!(
            clamp_view(v(980, 0), Some(2000), 1000, 12, 900),
            (v(988, 0), Some(Clamp::Cap))
        );
    }
}
