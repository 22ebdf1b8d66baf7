//! Interest management: each client sees the entities in the 3 x 3 grid cells around its
//! player (cells as wide as the game's view radius, so everything within the radius and a
//! little more), plus the entities without a position (the room state) that everyone sees.
//!
//! Encoding is per cell, not per client: a client's delta is one part per cell it sees now or
//! saw at its baseline (`state_delta::Encoder::part`), and each (cell, baseline) part is
//! encoded once per tick for every client that needs it. Its checksum is the sum of the
//! cells' checksum parts, also computed once per cell. So the work per tick grows with the
//! cells and baselines in use, not with clients x entities.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use protocol::schema::{Coding, Descriptor};
use protocol::state::ChecksumPart;
use protocol::state_delta::{Encoder, Part, Steady, write_parts};
use protocol::{EntityId, Plan, StateTable};

use super::built_once::{Built, BuiltOnce};
use crate::game::View;

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
    /// Every entity's slot, cell by cell (`GLOBAL` last), ascending within a cell.
    by_cell: Vec<u32>,
    /// Where each cell's slots start in `by_cell`, then where the last one's end.
    starts: Vec<u32>,
    /// Beside `by_cell`: when each entity last left its prediction (`Steady::tick_of`), in
    /// the order every part's scan reads it (gathered once a tick for every baseline's part).
    since: Vec<u32>,
}

impl Placement {
    /// Where every entity of `t`, recorded at `tick`, is; `steady`: since when each has kept
    /// to its prediction.
    pub fn of(grid: &Grid, t: &StateTable, steady: &Steady, tick: u32) -> Self {
        let mut p = Self::default();
        p.fill(grid, t, steady, tick);
        p
    }

    fn fill(&mut self, grid: &Grid, t: &StateTable, steady: &Steady, tick: u32) {
        let cells = (grid.cols * grid.rows) as usize + 1;
        self.cell_of.clear();
        self.cell_of.resize(t.slot_count(), EMPTY);
        self.starts.clear();
        self.starts.resize(cells + 1, 0);
        for e in t.iter() {
            let c = grid.cell_of(e.ty, e.values);
            self.cell_of[e.id.index as usize] = c;
            self.starts[grid.index(c) + 1] += 1;
        }
        for k in 1..=cells {
            self.starts[k] += self.starts[k - 1];
        }
        // A counting sort: slots in ascending order go to their cell's next place.
        self.by_cell.clear();
        self.by_cell.resize(self.starts[cells] as usize, 0);
        self.since.clear();
        self.since.resize(self.by_cell.len(), 0);
        let mut next = std::mem::take(&mut self.starts);
        for (slot, &c) in self
            .cell_of
            .iter()
            .enumerate()
            .filter(|(_, c)| **c != EMPTY)
        {
            let k = grid.index(c);
            self.by_cell[next[k] as usize] = slot as u32;
            self.since[next[k] as usize] = steady.tick_of(slot as u32, tick);
            next[k] += 1;
        }
        // `next` now holds each cell's end, which is where the following one starts.
        next.rotate_right(1);
        next[0] = 0;
        self.starts = next;
    }

    fn slots(&self, cell: u32) -> &[u32] {
        &self.by_cell[self.range(cell)]
    }

    /// `cell`'s entities: where they are in `by_cell` (and `since`).
    fn range(&self, cell: u32) -> std::ops::Range<usize> {
        let k = match cell {
            GLOBAL => self.starts.len().saturating_sub(2),
            c => c as usize,
        };
        match (self.starts.get(k), self.starts.get(k + 1)) {
            (Some(&a), Some(&b)) => a as usize..b as usize,
            _ => 0..0,
        }
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

/// What one (cell, baseline) part is: the cell's entities now against the baseline's, now's
/// against nothing (a cell new to the client), or the baseline's against nothing now (a cell
/// the client no longer sees).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PartKey {
    cell: u32,
    base: Option<u32>,
    now: bool,
}

/// A cell's parts of one tick, by the client's baseline and whether the cell is seen now.
type CellParts = BuiltOnce<(Option<u32>, bool), Part>;

/// One published tick under views: where everything is now, and the parts and checksum sums
/// built so far, each once for every client that needs it.
pub struct ViewTick {
    grid: Arc<Grid>,
    /// Where everything is now, placed by the first writer that needs it (off the room task).
    placement: OnceLock<Arc<Placement>>,
    /// Per cell (`GLOBAL` last): its parts, by baseline and whether it is seen now. Made by
    /// the first writer that needs one, off the room task (about 190 KB at arena-large).
    parts: OnceLock<Box<[CellParts]>>,
    /// Since when each entity has kept to its prediction.
    steady: Arc<Steady>,
    /// The tick published.
    tick: u32,
    /// Per cell (`GLOBAL` last): the checksum part of its entities now, all summed by the
    /// first client that needs one.
    sums: OnceLock<Vec<ChecksumPart>>,
}

/// A client's baseline under views: its tick, its table, where everything was then, and the
/// cell the client's player was in (the client saw that cell's 3 x 3).
pub type ViewBase<'a> = (u32, &'a StateTable, &'a Placement, Option<u32>);

/// One client's snapshot request under views.
pub struct ViewClient<'a> {
    /// The tick's table.
    pub now: &'a StateTable,
    /// Its baseline, or `None` for a full snapshot.
    pub base: Option<ViewBase<'a>>,
    /// The cell its player is in now (`cell_of`).
    pub cell: Option<u32>,
}

/// The most parts a client's delta has: the 9 cells and `GLOBAL` it sees now, and the 9 cells
/// it saw at its baseline and no longer sees.
const MAX_PARTS: usize = 19;

/// Per-thread buffers for building view snapshots.
#[derive(Default)]
struct Scratch {
    seen_now: Vec<u32>,
    seen_base: Vec<u32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

impl ViewTick {
    /// A tick's view data: the grid, and since when each entity has kept to its prediction
    /// (`tick`: the tick published).
    pub fn new(grid: Arc<Grid>, steady: Arc<Steady>, tick: u32) -> Self {
        Self {
            grid,
            placement: OnceLock::new(),
            parts: OnceLock::new(),
            steady,
            tick,
            sums: OnceLock::new(),
        }
    }

    /// Cells on the grid, and `GLOBAL`.
    fn cells(&self) -> usize {
        (self.grid.cols * self.grid.rows) as usize + 1
    }

    /// Every cell's parts (made on first use).
    fn parts(&self) -> &[CellParts] {
        self.parts
            .get_or_init(|| (0..self.cells()).map(|_| BuiltOnce::default()).collect())
    }

    /// Where everything in `now` (this tick's table) is.
    pub fn placement(&self, now: &StateTable) -> &Arc<Placement> {
        self.placement
            .get_or_init(|| Arc::new(Placement::of(&self.grid, now, &self.steady, self.tick)))
    }

    /// The cell the player `own` is in now.
    pub fn cell_of(&self, now: &StateTable, own: EntityId) -> Option<u32> {
        self.placement(now).cell(now, own)
    }

    /// The part for `key`, built by the first client that needs it. `base`: the client's
    /// baseline, its table and placement.
    #[allow(clippy::too_many_arguments)]
    fn part(
        &self,
        plan: &Plan,
        tick: u32,
        now: &StateTable,
        base: Option<(u32, &StateTable, &Placement)>,
        key: PartKey,
        encoder: &mut Encoder,
        encodes: &AtomicUsize,
    ) -> Built<'_, Part> {
        self.parts()[self.grid.index(key.cell)].get_or_build((key.base, key.now), || {
            let base = base
                .filter(|_| key.base.is_some())
                .map(|(b, table, placed)| (table, b, placed.slots(key.cell)));
            let placed = self.placement(now);
            let now_at = if key.now {
                placed.range(key.cell)
            } else {
                0..0
            };
            let (now_slots, now_since) = (&placed.by_cell[now_at.clone()], &placed.since[now_at]);
            let mut part = Part::default();
            encoder.part(plan, base, now, now_slots, now_since, tick, &mut part);
            encodes.fetch_add(1, Ordering::Relaxed);
            part
        })
    }

    /// The checksum part of `cell` now; every cell's is summed by the first client that needs
    /// one, in one pass over the table.
    fn sum(&self, plan: &Plan, now: &StateTable, cell: u32) -> ChecksumPart {
        let sums = self.sums.get_or_init(|| {
            let placed = self.placement(now);
            let mut sums = vec![ChecksumPart::default(); self.cells()];
            plan.checksum_parts(
                now,
                |slot| match placed.cell_of.get(slot as usize) {
                    Some(&c) if c != EMPTY => self.grid.index(c),
                    _ => usize::MAX,
                },
                &mut sums,
            );
            sums
        });
        sums[self.grid.index(cell)]
    }

    /// The public checksum of what a player in `cell` (`cell_of`) sees now.
    pub fn checksum(&self, plan: &Plan, now: &StateTable, cell: Option<u32>) -> u32 {
        SCRATCH.with_borrow_mut(|s| {
            self.grid.seen_from(cell, &mut s.seen_now);
            let sum = s
                .seen_now
                .iter()
                .fold(ChecksumPart::default(), |acc, &cell| {
                    acc + self.sum(plan, now, cell)
                });
            plan.public_checksum_of([sum])
        })
    }

    /// Appends one client's delta (its parts, not its private section) to `out`.
    pub fn write_delta(
        &self,
        plan: &Plan,
        tick: u32,
        c: &ViewClient<'_>,
        encoder: &mut Encoder,
        encodes: &AtomicUsize,
        out: &mut Vec<u8>,
    ) {
        SCRATCH.with_borrow_mut(|s| {
            let Scratch {
                seen_now,
                seen_base,
                ..
            } = s;
            self.grid.seen_from(c.cell, seen_now);
            match c.base {
                Some((_, _, _, cell)) => self.grid.seen_from(cell, seen_base),
                None => seen_base.clear(),
            }
            let base = c.base.map(|(b, table, placed, _)| (b, table, placed));
            let base_tick = base.map(|b| b.0);
            // Every cell seen now, against the baseline if it was seen then too; every cell
            // seen only then, emptied.
            let now_keys = seen_now.iter().map(|&cell| PartKey {
                cell,
                base: base_tick.filter(|_| seen_base.contains(&cell)),
                now: true,
            });
            let left_keys = seen_base
                .iter()
                .filter(|cell| !seen_now.contains(cell))
                .map(|&cell| PartKey {
                    cell,
                    base: base_tick,
                    now: false,
                });
            // On the stack: borrowed from this tick's parts, no reference count touched.
            let mut parts: [Option<Built<'_, Part>>; MAX_PARTS] = Default::default();
            for (k, key) in now_keys.chain(left_keys).enumerate() {
                parts[k] = Some(self.part(plan, tick, c.now, base, key, encoder, encodes));
            }
            write_parts(parts.iter().flatten().map(|p| &**p), out);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::{Game, RoomGame, Sim};
    use crate::testing::{Drift, SPAN};

    fn grid() -> (Sim<Drift>, Grid) {
        let sim = Sim::new(|ctx| Drift::new(ctx, 0, 1, SPAN, Some(250.0)));
        let view = Game::view(&sim.game).expect("a view");
        let grid = Grid::new(RoomGame::descriptor(&sim), view).expect("drift has positions");
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
    fn a_placement_lists_each_cells_slots_in_order() {
        let mut sim = Sim::new(|ctx| Drift::new(ctx, 300, 1, SPAN, Some(250.0)));
        let view = Game::view(&sim.game).expect("a view");
        let g = Grid::new(RoomGame::descriptor(&sim), view).expect("drift has positions");
        let mut t = StateTable::new(RoomGame::plan(&sim).stride);
        RoomGame::record(&mut sim, 1, None, &mut t, &mut Vec::new());
        let mut steady = Steady::default();
        steady.advance(RoomGame::plan(&sim), None, &t, 1);
        let first = Placement::of(&g, &t, &steady, 1);
        // Placed again in the same memory: the same.
        let mut again = first.clone();
        again.fill(&g, &t, &steady, 1);
        for p in [&first, &again] {
            let mut all = Vec::new();
            for cell in (0..g.cols * g.rows).chain([GLOBAL]) {
                let slots = p.slots(cell);
                assert!(slots.windows(2).all(|w| w[0] < w[1]), "ascending");
                for &i in slots {
                    let e = t.at(i).expect("an entity");
                    assert_eq!(g.cell_of(e.ty, e.values), cell);
                }
                all.extend_from_slice(slots);
            }
            all.sort_unstable();
            let want: Vec<u32> = t.iter().map(|e| e.id.index).collect();
            assert_eq!(all, want, "every entity once");
        }
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
