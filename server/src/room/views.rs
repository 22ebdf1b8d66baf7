//! Interest management: each client sees the entities in the 3 x 3 grid cells around its
//! player (cells as wide as the game's view radius, so everything within the radius and a
//! little more), plus the entities without a position (the room state) that everyone sees.
//!
//! Encoding is per cell, not per client: a client's delta is one part per cell it sees now or
//! saw at its baseline (`state_delta::Encoder::part`), and each (cell, baseline) part is
//! encoded once per tick for every client that needs it. Its checksum is the sum of the
//! cells' checksum parts, also computed once per cell. So the work per tick grows with the
//! cells and baselines in use, not with clients x entities.

use bytes::Bytes;
use protocol::schema::{Coding, Descriptor};
use protocol::state::ChecksumPart;
use protocol::state_delta::{Baseline, Encoder, Part, Verdicts, write_parts};
use protocol::{EntityId, Plan, SnapshotHeader, StateTable, codec};

use crate::game::View;
use crate::outbox::SnapshotMsg;

/// A grid has at most this many cells a side.
const MAX_CELLS_PER_SIDE: u32 = 256;
/// The cell of entities that have no position: everyone sees it.
pub const GLOBAL: u32 = u32::MAX - 1;
/// No entity in the slot.
const EMPTY: u32 = u32::MAX;

/// Where each type's entities sit on the grid.
#[derive(Clone, Debug)]
pub struct Grid {
    /// Per type: its position's x and y fields and their steps per world unit, or `None`.
    place: Vec<Option<(usize, usize, f64)>>,
    /// The grid's corner and cell size, in world units.
    origin: (f64, f64),
    cell: f64,
    cols: u32,
    rows: u32,
}

impl Grid {
    /// The grid of `view` over the descriptor's declared position ranges; `None` when no type
    /// has the position field (everyone then sees everything).
    pub fn new(d: &Descriptor, view: View) -> Option<Grid> {
        let (xn, yn) = (
            format!("{}.x", view.position),
            format!("{}.y", view.position),
        );
        let mut lo = (f64::MAX, f64::MAX);
        let mut hi = (f64::MIN, f64::MIN);
        let place = d
            .types
            .iter()
            .map(|t| {
                let field = |name: &str| t.fields.iter().find(|f| f.name == name);
                let (x, y) = (field(&xn)?, field(&yn)?);
                let (
                    Coding::Fixed {
                        scale,
                        min: x0,
                        max: x1,
                        ..
                    },
                    Coding::Fixed {
                        min: y0, max: y1, ..
                    },
                ) = (&x.coding, &y.coding)
                else {
                    return None;
                };
                let s = f64::from(*scale);
                lo = (lo.0.min(*x0 as f64 / s), lo.1.min(*y0 as f64 / s));
                hi = (hi.0.max(*x1 as f64 / s), hi.1.max(*y1 as f64 / s));
                Some((usize::from(x.id), usize::from(y.id), s))
            })
            .collect::<Vec<_>>();
        let cell = f64::from(view.radius);
        // NaN or 0: no grid.
        if place.iter().all(Option::is_none) || cell.is_nan() || cell <= 0.0 {
            return None;
        }
        // Bounded: a radius tiny against the world would make a huge grid; cells then grow.
        let cell = cell.max((hi.0 - lo.0).max(hi.1 - lo.1) / f64::from(MAX_CELLS_PER_SIDE));
        let span = |a: f64, b: f64| {
            ((b - a) / cell)
                .ceil()
                .clamp(1.0, f64::from(MAX_CELLS_PER_SIDE)) as u32
        };
        Some(Grid {
            place,
            origin: lo,
            cell,
            cols: span(lo.0, hi.0),
            rows: span(lo.1, hi.1),
        })
    }

    /// The cell of entity `e` of `t` (`GLOBAL` when its type has no position).
    fn cell_of(&self, ty: u16, values: &[i32]) -> u32 {
        let Some(Some((x, y, s))) = self.place.get(usize::from(ty)) else {
            return GLOBAL;
        };
        let at = |v: i32, o: f64, n: u32| {
            (((f64::from(v) / s - o) / self.cell).floor()).clamp(0.0, f64::from(n - 1)) as u32
        };
        let (cx, cy) = (
            at(values[*x], self.origin.0, self.cols),
            at(values[*y], self.origin.1, self.rows),
        );
        cy * self.cols + cx
    }

    /// Where `cell` (or `GLOBAL`, last) is kept in per-cell storage.
    fn index(&self, cell: u32) -> usize {
        if cell == GLOBAL {
            (self.cols * self.rows) as usize
        } else {
            cell as usize
        }
    }

    /// The cells a player in `cell` sees, ascending, then `GLOBAL`.
    fn seen_from(&self, cell: Option<u32>, out: &mut Vec<u32>) {
        out.clear();
        if let Some(c) = cell.filter(|&c| c < self.cols * self.rows) {
            let (cx, cy) = (c % self.cols, c / self.cols);
            for y in cy.saturating_sub(1)..=(cy + 1).min(self.rows - 1) {
                for x in cx.saturating_sub(1)..=(cx + 1).min(self.cols - 1) {
                    out.push(y * self.cols + x);
                }
            }
        }
        out.push(GLOBAL);
    }
}

/// Where every entity was at one tick.
#[derive(Clone, Debug, Default)]
pub struct Placement {
    /// Per slot: its cell, `GLOBAL`, or `EMPTY`.
    cell_of: Vec<u32>,
    /// Per cell (and `GLOBAL` last): its entities' slots, ascending.
    slots: Vec<Vec<u32>>,
}

impl Placement {
    fn fill(&mut self, grid: &Grid, t: &StateTable) {
        let cells = (grid.cols * grid.rows) as usize;
        self.cell_of.clear();
        self.cell_of.resize(t.slot_count(), EMPTY);
        self.slots.resize_with(cells + 1, Vec::new);
        self.slots.iter_mut().for_each(Vec::clear);
        for e in t.iter() {
            let c = grid.cell_of(e.ty, e.values);
            self.cell_of[e.id.index as usize] = c;
            let i = if c == GLOBAL { cells } else { c as usize };
            self.slots[i].push(e.id.index);
        }
    }

    fn slots(&self, cell: u32) -> &[u32] {
        let i = if cell == GLOBAL {
            self.slots.len() - 1
        } else {
            cell as usize
        };
        self.slots.get(i).map_or(&[], Vec::as_slice)
    }

    /// The cell of the entity `id`, if it is there.
    pub fn cell(&self, t: &StateTable, id: EntityId) -> Option<u32> {
        t.get(id)?;
        self.cell_of
            .get(id.index as usize)
            .copied()
            .filter(|&c| c < GLOBAL)
    }
}

/// The placements of the last `len` ticks, alongside the room's history of tables.
pub struct Placements {
    ring: Vec<Option<(u32, Placement)>>,
}

impl Placements {
    pub fn new(len: u32) -> Self {
        Self {
            ring: (0..len.max(1)).map(|_| None).collect(),
        }
    }

    pub fn get(&self, tick: u32) -> Option<&Placement> {
        match &self.ring[tick as usize % self.ring.len()] {
            Some((t, p)) if *t == tick => Some(p),
            _ => None,
        }
    }

    /// Places the entities of `t`, recorded for `tick`.
    pub fn record(&mut self, grid: &Grid, tick: u32, t: &StateTable) {
        let i = tick as usize % self.ring.len();
        let mut p = self.ring[i].take().map(|(_, p)| p).unwrap_or_default();
        p.fill(grid, t);
        self.ring[i] = Some((tick, p));
    }
}

/// What one (cell, baseline) part is: the cell's entities now against the baseline's, now's
/// against nothing (a cell new to the client), or the baseline's against nothing now (a cell
/// the client no longer sees).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PartKey {
    cell: u32,
    base: Option<u32>,
    now: bool,
}

/// A part built for `tick` (older ones are spare buffers).
struct Built {
    tick: u32,
    base: Option<u32>,
    now: bool,
    part: Part,
}

/// The parts and checksum parts of the current tick, each built once, kept per cell.
#[derive(Default)]
pub struct ViewCache {
    tick: u32,
    parts: Vec<Vec<Built>>,
    /// Per baseline in use this tick: which entities are off their prediction from it.
    verdicts: Vec<(u32, u32, Verdicts)>,
    sums: Vec<Option<(u32, ChecksumPart)>>,
    encoder: Encoder,
    seen_now: Vec<u32>,
    seen_base: Vec<u32>,
    keys: Vec<(PartKey, usize)>,
    private: Vec<u8>,
    /// Parts encoded this tick.
    pub encodes: usize,
}

/// One client's snapshot under views.
pub struct ViewSnapshot<'a> {
    pub plan: &'a Plan,
    pub grid: &'a Grid,
    pub now: (&'a StateTable, &'a Placement),
    /// The client's acked tick, its table and placement, and the cell its player was in.
    pub base: Option<(u32, &'a StateTable, &'a Placement, Option<u32>)>,
    /// The client's player and the cell it is in now.
    pub own: EntityId,
    pub own_cell: Option<u32>,
    pub own_private: bool,
    pub checksum: bool,
}

impl ViewCache {
    /// Starts tick `tick` (what earlier ticks built is stale from now on).
    pub fn start(&mut self, tick: u32) {
        self.tick = tick;
        self.encodes = 0;
    }

    /// The built part for `key` this tick: its place in `parts[cell]`, built now if need be.
    fn part(&mut self, s: &ViewSnapshot<'_>, key: PartKey) -> usize {
        let (now, placed) = s.now;
        let (tick, cell) = (self.tick, s.grid.index(key.cell));
        if self.parts.len() <= cell {
            self.parts.resize_with(cell + 1, Vec::new);
        }
        let built = &mut self.parts[cell];
        if let Some(i) = built
            .iter()
            .position(|b| b.tick == tick && b.base == key.base && b.now == key.now)
        {
            return i;
        }
        // Reuse a stale entry's buffers.
        let i = match built.iter().position(|b| b.tick != tick) {
            Some(i) => i,
            None => {
                built.push(Built {
                    tick,
                    base: None,
                    now: false,
                    part: Part::default(),
                });
                built.len() - 1
            }
        };
        let v = key.base.map(|b| self.verdicts(s, b));
        let base = key.base.zip(v).and_then(|(b, v)| {
            let (_, table, placed_then, _) = s.base.filter(|x| x.0 == b)?;
            Some((table, b, placed_then.slots(key.cell), &self.verdicts[v].2))
        });
        let now_slots = if key.now { placed.slots(key.cell) } else { &[] };
        let entry = &mut self.parts[cell][i];
        (entry.tick, entry.base, entry.now) = (tick, key.base, key.now);
        self.encoder
            .part(s.plan, base, now, now_slots, tick, &mut entry.part);
        self.encodes += 1;
        i
    }

    /// Where the verdicts of this tick against baseline `b` are, judged now if need be.
    fn verdicts(&mut self, s: &ViewSnapshot<'_>, b: u32) -> usize {
        let tick = self.tick;
        if let Some(i) = self
            .verdicts
            .iter()
            .position(|(t, base, _)| *t == tick && *base == b)
        {
            return i;
        }
        let i = match self.verdicts.iter().position(|(t, _, _)| *t != tick) {
            Some(i) => i,
            None => {
                self.verdicts.push((tick, b, Verdicts::default()));
                self.verdicts.len() - 1
            }
        };
        if let Some((_, table, _, _)) = s.base.filter(|x| x.0 == b) {
            let ticks = i64::from(tick.wrapping_sub(b)).max(1);
            let entry = &mut self.verdicts[i];
            (entry.0, entry.1) = (tick, b);
            entry.2.judge(s.plan, table, s.now.0, ticks);
        }
        i
    }

    /// The checksum part of `cell` now, summed once per tick.
    fn sum(&mut self, s: &ViewSnapshot<'_>, cell: u32) -> ChecksumPart {
        let (now, placed) = s.now;
        let i = s.grid.index(cell);
        if self.sums.len() <= i {
            self.sums.resize(i + 1, None);
        }
        match self.sums[i] {
            Some((t, sum)) if t == self.tick => sum,
            _ => {
                let sum = s.plan.checksum_part(now, placed.slots(cell));
                self.sums[i] = Some((self.tick, sum));
                sum
            }
        }
    }

    /// The snapshot message for one client: `header` with its checksum filled in, then its
    /// parts and private section.
    pub fn client_snapshot(
        &mut self,
        s: &ViewSnapshot<'_>,
        mut header: SnapshotHeader,
    ) -> SnapshotMsg {
        let (now, _) = s.now;
        let tick = header.tick;
        s.grid.seen_from(s.own_cell, &mut self.seen_now);
        match s.base {
            Some((_, _, _, cell)) => s.grid.seen_from(cell, &mut self.seen_base),
            None => self.seen_base.clear(),
        }
        // Every cell seen now, against the baseline if it was seen then too; every cell seen
        // only then, emptied.
        self.keys.clear();
        let base_tick = s.base.map(|b| b.0);
        for n in 0..self.seen_now.len() {
            let cell = self.seen_now[n];
            let was = self.seen_base.contains(&cell);
            let key = PartKey {
                cell,
                base: base_tick.filter(|_| was),
                now: true,
            };
            let i = self.part(s, key);
            self.keys.push((key, i));
        }
        for n in 0..self.seen_base.len() {
            let cell = self.seen_base[n];
            if !self.seen_now.contains(&cell) {
                let key = PartKey {
                    cell,
                    base: base_tick,
                    now: false,
                };
                let i = self.part(s, key);
                self.keys.push((key, i));
            }
        }
        if s.checksum {
            let mut sum = ChecksumPart::default();
            for n in 0..self.seen_now.len() {
                sum = sum + self.sum(s, self.seen_now[n]);
            }
            header.checksum =
                Some(s.plan.public_checksum_of([sum]) ^ s.plan.owner_checksum(now, Some(s.own)));
        }
        let parts = &self.parts;
        let grid = s.grid;
        // Header, part count, parts and private section in one allocation.
        let size: usize = self
            .keys
            .iter()
            .map(|(k, i)| parts[grid.index(k.cell)][*i].part.len())
            .sum();
        let mut own = Vec::with_capacity(size + 96);
        codec::encode_snapshot_header(&header, &mut own);
        let head_len = own.len();
        write_parts(
            self.keys
                .iter()
                .map(|(k, i)| &parts[grid.index(k.cell)][*i].part),
            &mut own,
        );
        if s.own_private {
            let base = s.base.map(|(tick, table, _, _)| Baseline {
                table,
                tick,
                second: None,
            });
            self.private.clear();
            self.encoder
                .private(s.plan, s.own, base.as_ref(), now, tick, &mut self.private);
            // A section with no entry is left out: the delta simply ends.
            if self.private != [0] {
                own.extend_from_slice(&self.private);
            }
        }
        SnapshotMsg {
            own: Bytes::from(own),
            head_len,
            shared: Bytes::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arena::Arena;
    use crate::game::{Game, RoomGame, Sim};

    fn grid() -> (Sim<Arena>, Grid) {
        let sim = Sim::new(|ctx| Arena::with_world(ctx, 0, 1, 4000.0, Some(250.0)));
        let view = Game::view(&sim.game).expect("a view");
        let grid = Grid::new(RoomGame::descriptor(&sim), view).expect("arena has positions");
        (sim, grid)
    }

    #[test]
    fn the_grid_covers_the_declared_world_in_cells_of_the_radius() {
        let (_, g) = grid();
        assert_eq!((g.cols, g.rows), (16, 16));
        // pos.x, pos.y at 960 steps per unit; outside the world clamps to the edge cells.
        let at = |x: f64, y: f64| g.cell_of(0, &[(x * 960.0) as i32, (y * 960.0) as i32, 0, 0]);
        assert_eq!(at(0.0, 0.0), 0);
        assert_eq!(at(249.9, 0.0), 0);
        assert_eq!(at(250.0, 0.0), 1);
        assert_eq!(at(3999.0, 260.0), 16 + 15);
        assert_eq!(at(-5.0, 5000.0), 15 * 16);
        let mut seen = Vec::new();
        g.seen_from(Some(0), &mut seen);
        assert_eq!(seen, [0, 1, 16, 17, GLOBAL], "a corner sees 4 cells");
        g.seen_from(Some(17), &mut seen);
        assert_eq!(seen.len(), 10, "an inner cell sees 9");
        g.seen_from(None, &mut seen);
        assert_eq!(seen, [GLOBAL], "no player: only what everyone sees");
    }

    #[test]
    fn a_tiny_radius_is_capped_at_256_cells_a_side() {
        let (sim, _) = grid();
        let view = View {
            radius: 0.5,
            position: "pos",
        };
        let g = Grid::new(RoomGame::descriptor(&sim), view).expect("a grid");
        assert_eq!((g.cols, g.rows), (MAX_CELLS_PER_SIDE, MAX_CELLS_PER_SIDE));
        assert!(g.cell >= 4000.0 / 256.0);
    }

    #[test]
    fn a_game_without_the_position_field_has_no_grid() {
        let (sim, _) = grid();
        let view = View {
            radius: 250.0,
            position: "nowhere",
        };
        assert!(Grid::new(RoomGame::descriptor(&sim), view).is_none());
    }
}
