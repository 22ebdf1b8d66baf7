//! Deltas in parts, as a server that shows each client only the regions near it sends them:
//! for random schemas and worlds, any assignment of entities to regions at the baseline and
//! now (entities move between regions, appear and go), and any client views, the client that
//! applies the parts of the regions it sees holds exactly those regions' entities, and its
//! checksum is the one the server sums region by region.

mod support;

use golden_files::view;
use proptest::prelude::*;
use protocol::StateTable;
use protocol::state::ChecksumPart;
use protocol::state_delta::{self, Baseline, Encoder, Part, Steady, write_parts};
use support::*;

mod golden_files;

const REGIONS: u64 = 6;

/// The slots of `t`'s entities whose region is `r`, ascending.
fn slots_in(t: &StateTable, regions: &[u64], r: u64) -> Vec<u32> {
    t.iter()
        .map(|e| e.id.index)
        .filter(|&i| regions[i as usize] == r)
        .collect()
}

/// `t` with only the entities of the regions in `visible`.
fn only(t: &StateTable, regions: &[u64], visible: &[bool]) -> StateTable {
    let mut out = t.clone();
    let hidden: Vec<u32> = t
        .iter()
        .map(|e| e.id.index)
        .filter(|&i| !visible[regions[i as usize] as usize])
        .collect();
    for i in hidden {
        out.remove(i).unwrap();
    }
    out
}

/// `Steady` of `now`, advanced through the world's three recorded ticks.
fn steady_through(w: &World) -> Steady {
    let mut steady = Steady::default();
    steady.advance(&w.plan, None, &w.base2, w.tick2);
    steady.advance(&w.plan, Some((&w.base2, w.tick2)), &w.base, w.tick1);
    steady.advance(&w.plan, Some((&w.base, w.tick1)), &w.now, w.tick);
    steady
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_client_that_applies_the_parts_it_sees_holds_those_regions(
        w in world(),
        seed in any::<u64>(),
    ) {
        let mut rng = Gen::new(seed);
        let slots = w.base.slot_count().max(w.now.slot_count());
        // Where every slot's entity is at the baseline, and now: most stay, some move.
        let at_base: Vec<u64> = (0..slots).map(|_| rng.below(REGIONS)).collect();
        let at_now: Vec<u64> = at_base
            .iter()
            .map(|&r| if rng.chance(70) { r } else { rng.below(REGIONS) })
            .collect();
        // What the client sees at each tick: any regions, always its own player's.
        let mut seen = |regions: &[u64], t: &StateTable| {
            let mut v: Vec<bool> = (0..REGIONS).map(|_| rng.chance(50)).collect();
            if let Some(own) = w.own.filter(|&id| t.get(id).is_some()) {
                v[regions[own.index as usize] as usize] = true;
            }
            v
        };
        let saw = seen(&at_base, &w.base);
        let sees = seen(&at_now, &w.now);

        // The server: one part per region the client sees now or saw, each of which it would
        // encode once for every client in the same case.
        let mut enc = Encoder::default();
        let mut steady = Steady::default();
        steady.advance(&w.plan, None, &w.base, w.tick1);
        steady.advance(&w.plan, Some((&w.base, w.tick1)), &w.now, w.tick);
        let mut parts = Vec::new();
        for r in 0..REGIONS {
            let (was, is) = (saw[r as usize], sees[r as usize]);
            if !was && !is {
                continue;
            }
            let base_slots = slots_in(&w.base, &at_base, r);
            let now_slots = if is { slots_in(&w.now, &at_now, r) } else { Vec::new() };
            let base = was.then_some((&w.base, w.tick1, base_slots.as_slice()));
            let mut part = Part::default();
            let now_since: Vec<u32> = now_slots.iter().map(|&i| steady.tick_of(i, w.tick)).collect();
            enc.part(&w.plan, base, &w.now, &now_slots, &now_since, w.tick, &mut part);
            parts.push(part);
        }
        let mut bytes = Vec::new();
        write_parts(parts.iter(), &mut bytes);
        let server_base = Baseline { table: &w.base, tick: w.tick1, second: None };
        if let Some(own) = w.own {
            enc.private(&w.plan, own, Some(&server_base), &w.now, w.tick, &mut bytes);
        }
        let checksum = w.plan.public_checksum_of(
            (0..REGIONS)
                .filter(|&r| sees[r as usize])
                .map(|r| w.plan.checksum_part(&w.now, &slots_in(&w.now, &at_now, r))),
        ) ^ w.plan.owner_checksum(&w.now, w.own);

        // The client: its view of the regions it saw, the delta applied.
        let client_base = view(&w.plan, &only(&w.base, &at_base, &saw), w.own);
        let b = Baseline { table: &client_base, tick: w.tick1, second: None };
        let mut got = w.plan.new_table();
        state_delta::apply(&w.plan, w.own, Some(&b), w.tick, &bytes, &mut got)
            .map_err(|e| TestCaseError::fail(format!("apply: {e}")))?;
        let want = view(&w.plan, &only(&w.now, &at_now, &sees), w.own);
        prop_assert!(got == want, "the client holds what it sees:\n got {:?}\nwant {:?}\nbytes {:?} saw {:?} sees {:?} base {:?} now {:?}", got.iter().collect::<Vec<_>>(), want.iter().collect::<Vec<_>>(), bytes, saw, sees, w.base.iter().collect::<Vec<_>>(), w.now.iter().collect::<Vec<_>>());
        prop_assert_eq!(w.plan.checksum(&got, w.own), checksum);
        // The same on compact tables, as bots keep them.
        let compact_base = client_base.to_compact();
        let b = Baseline { table: &compact_base, tick: w.tick1, second: None };
        let mut compact = StateTable::compact(w.plan.stride);
        state_delta::apply(&w.plan, w.own, Some(&b), w.tick, &bytes, &mut compact)
            .map_err(|e| TestCaseError::fail(format!("apply (compact): {e}")))?;
        prop_assert!(compact == want, "a compact table holds the same");
        prop_assert_eq!(w.plan.checksum(&compact, w.own), checksum);
    }

    /// A part against a baseline two recorded ticks back skips the entities that kept to their
    /// prediction over both steps (`Steady`), and the client still ends up with the world.
    #[test]
    fn a_part_against_an_older_baseline_skips_only_what_kept_its_course(w in world()) {
        let steady = steady_through(&w);
        let all = |t: &StateTable| t.iter().map(|e| e.id.index).collect::<Vec<_>>();
        let mut part = Part::default();
        let base_slots = all(&w.base2);
        let now_slots = all(&w.now);
        let now_since: Vec<u32> = now_slots.iter().map(|&i| steady.tick_of(i, w.tick)).collect();
        Encoder::default().part(
            &w.plan,
            Some((&w.base2, w.tick2, base_slots.as_slice())),
            &w.now,
            &now_slots,
            &now_since,
            w.tick,
            &mut part,
        );
        let mut bytes = Vec::new();
        write_parts(std::iter::once(&part), &mut bytes);
        if let Some(own) = w.own {
            let server_base = Baseline { table: &w.base2, tick: w.tick2, second: None };
            Encoder::default().private(&w.plan, own, Some(&server_base), &w.now, w.tick, &mut bytes);
        }
        let client_base = view(&w.plan, &w.base2, w.own);
        let b = Baseline { table: &client_base, tick: w.tick2, second: None };
        let mut got = w.plan.new_table();
        state_delta::apply(&w.plan, w.own, Some(&b), w.tick, &bytes, &mut got)
            .map_err(|e| TestCaseError::fail(format!("apply: {e}")))?;
        prop_assert!(got == view(&w.plan, &w.now, w.own), "the client holds the world");
    }

    /// The whole-world delta skipping steady entities is the whole-world delta: against a
    /// baseline two recorded ticks back, with and without a second baseline.
    #[test]
    fn a_shared_delta_that_skips_steady_entities_is_the_same_delta(w in world()) {
        let steady = steady_through(&w);
        let mut enc = Encoder::default();
        for base in [
            Baseline { table: &w.base2, tick: w.tick2, second: None },
            Baseline { table: &w.base, tick: w.tick1, second: Some((&w.base2, w.tick2)) },
        ] {
            let (mut want, mut got) = (Vec::new(), Vec::new());
            enc.shared(&w.plan, Some(&base), &w.now, w.tick, &mut want);
            enc.shared_steady(&w.plan, Some(&base), &w.now, w.tick, &steady, &mut got);
            prop_assert_eq!(got, want);
        }
    }

    /// Summing the checksum by parts gives the checksum of the whole table.
    #[test]
    fn the_checksum_of_all_parts_is_the_checksum(w in world(), seed in any::<u64>()) {
        let mut rng = Gen::new(seed);
        let regions: Vec<u64> = (0..w.now.slot_count()).map(|_| rng.below(REGIONS)).collect();
        let parts: Vec<ChecksumPart> = (0..REGIONS)
            .map(|r| w.plan.checksum_part(&w.now, &slots_in(&w.now, &regions, r)))
            .collect();
        // All parts in one pass: the same parts.
        let mut at_once = vec![ChecksumPart::default(); REGIONS as usize];
        w.plan.checksum_parts(&w.now, |i| regions[i as usize] as usize, &mut at_once);
        prop_assert_eq!(&at_once, &parts);
        prop_assert_eq!(w.plan.public_checksum_of(parts), w.plan.public_checksum(&w.now));
    }
}
