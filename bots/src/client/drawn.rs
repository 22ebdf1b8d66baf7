//! What a client draws: other entities a few ticks behind its newest snapshot, interpolated
//! between the two tables around that moment, as a browser does. Bots aim at it, and send the
//! moment with their inputs (`Input.view`) so the server can judge hits on it.

use protocol::{Descriptor, EntityId, StateTable, Value, ViewTime, interp};

/// The moment a client draws and the two tables around it.
#[derive(Clone, Copy, Debug)]
pub struct Drawn<'a> {
    /// The older table and its tick.
    pub a: (u32, &'a StateTable),
    /// The newer table and its tick (the same as `a` when the moment is on a table).
    pub b: (u32, &'a StateTable),
    /// 0 to 1, from `a` to `b`.
    pub frac: f64,
    /// The moment, as inputs carry it.
    pub view: ViewTime,
}

impl<'a> Drawn<'a> {
    /// The moment `behind` ticks before the newest of `tables` (ascending ticks), between the
    /// tables around it; the oldest table when none is that old. `None` without tables.
    pub fn pick(
        tables: impl Iterator<Item = (u32, &'a StateTable)> + Clone,
        behind: f64,
    ) -> Option<Drawn<'a>> {
        let mut a = None;
        let mut b = None;
        let (newest, _) = tables.clone().last()?;
        let at = f64::from(newest) - behind.max(0.0);
        for (t, table) in tables {
            if f64::from(t) <= at {
                a = Some((t, table));
            } else {
                b = Some((t, table));
                break;
            }
        }
        let (a, b) = match (a, b) {
            (Some(a), Some(b)) => (a, b),
            (Some(a), None) => (a, a),
            (None, Some(b)) => (b, b),
            (None, None) => return None,
        };
        let frac = if b.0 > a.0 {
            ((at - f64::from(a.0)) / f64::from(b.0 - a.0)).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let t = f64::from(a.0) + frac * f64::from(b.0 - a.0);
        let whole = t.floor();
        let view = ViewTime {
            tick: whole as u32,
            frac: ((t - whole) * 256.0).floor().min(255.0) as u8,
        };
        Some(Drawn { a, b, frac, view })
    }

    /// Entity `id` as drawn: every field in field-id order (`protocol::interp`), `None` when
    /// the older table does not hold it.
    pub fn values(&self, schema: &Descriptor, id: EntityId) -> Option<Vec<Value>> {
        interp::entity_between(schema, self.a.1, self.b.1, self.frac, id).map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_moment_falls_between_the_tables_around_it() {
        let t = StateTable::new(1);
        let tables = [(10, &t), (11, &t), (12, &t), (13, &t)];
        let d = Drawn::pick(tables.into_iter(), 2.5).unwrap();
        assert_eq!((d.a.0, d.b.0, d.frac), (10, 11, 0.5));
        assert_eq!(
            d.view,
            ViewTime {
                tick: 10,
                frac: 128
            }
        );
        // Skipped ticks: between 10 and 13, a sixth of the way.
        let tables = [(10, &t), (13, &t)];
        let d = Drawn::pick(tables.into_iter(), 2.5).unwrap();
        assert_eq!((d.a.0, d.b.0), (10, 13));
        assert_eq!(
            d.view,
            ViewTime {
                tick: 10,
                frac: 128
            }
        );
        // Nothing that old: the oldest; one table: it.
        let d = Drawn::pick([(12, &t), (13, &t)].into_iter(), 2.5).unwrap();
        assert_eq!((d.a.0, d.b.0, d.view.tick, d.view.frac), (12, 12, 12, 0));
        assert!(Drawn::pick(std::iter::empty(), 2.5).is_none());
    }
}
