//! The recorder's `moved` lists against a scan: what `Steady` calls steady really is on its
//! prediction from every baseline, in each reference game.

use protocol::schema::Value;
use protocol::state::{Span, predict};
use protocol::state_delta::{Baseline, Steady};
use protocol::{EntityId, StateTable};
use server::rewind::Past;

/// What `Steady` built from the recorder's `moved` lists calls steady really is: every
/// public field what its baseline predicts over the whole span, every string the same;
/// and most entities of a game in motion are steady (the encoder skips them).
#[test]
fn an_entity_the_recorder_keeps_steady_is_on_its_prediction_from_every_baseline() {
    let games = ticksync_reference::games(&["--npcs", "200"]);
    for name in ["arena", "arena-large", "skirmish"] {
        let mut g = games.get(name).expect("a game").create(60).expect("valid");
        let mut players: Vec<EntityId> = (0..6).map(|i| g.join(&format!("p{i}"))).collect();
        let inputs = g.descriptor().input.len();
        let plan = g.plan().clone();
        let mut tables: Vec<(u32, StateTable)> = Vec::new();
        let (mut steady, mut scanned) = (Steady::default(), Steady::default());
        let (mut checked, mut skipped, mut skipped_by_scan) = (0, 0, 0);
        for step in 0..150u32 {
            // Players come and go (a slot emptied, later filled by another entity)...
            if step % 25 == 10 {
                g.leave(players.remove(0));
            }
            if step % 25 == 20 {
                players.push(g.join("again"));
            }
            // ...and turn now and then, so some leave their track.
            for (k, &p) in players.iter().enumerate() {
                let a = f64::from(step / 20 + k as u32);
                let values = (0..inputs)
                    .map(|f| Value::Num(if f % 2 == 0 { a.cos() } else { a.sin() }))
                    .collect::<Vec<_>>();
                g.input(p, &values, &Past::none());
            }
            g.step(1.0 / 60.0, &Past::none());
            let tick = step + 1;
            let mut now = StateTable::new(plan.stride);
            let mut moved = Vec::new();
            let n = tables.len();
            let prev = n.checked_sub(1).map(|i| Baseline {
                table: &tables[i].1,
                tick: tables[i].0,
                second: n.checked_sub(2).map(|j| (&tables[j].1, tables[j].0)),
            });
            g.record(tick, prev, &mut now, &mut moved);
            steady.advance_moved(tables.last().map(|(_, t)| t), &now, &moved, tick);
            scanned.advance(&plan, tables.last().map(|(t, b)| (b, *t)), &now, tick);
            for (base_tick, base) in tables.iter().rev().take(12) {
                let ticks = i64::from(tick - base_tick);
                // Gone since the baseline, or replaced: never steady.
                for b in base.iter() {
                    if now.get(b.id).is_none() {
                        let i = b.id.index;
                        assert!(!steady.since(i, *base_tick, tick), "{name}: {i} gone");
                    }
                }
                for e in now.iter() {
                    let i = e.id.index;
                    checked += 1;
                    skipped_by_scan += usize::from(scanned.since(i, *base_tick, tick));
                    if !steady.since(i, *base_tick, tick) {
                        continue;
                    }
                    skipped += 1;
                    let b = base.get(e.id).expect("steady: held at the baseline");
                    assert_eq!(b.ty, e.ty);
                    let tp = &plan.types[usize::from(e.ty)];
                    let span = Span {
                        ticks,
                        second: None,
                    };
                    for &f in tp.public.iter() {
                        let f = usize::from(f);
                        if tp.str_public.contains(&(f as u16)) {
                            assert_eq!(base.string(i, f as u16), now.string(i, f as u16));
                        } else {
                            let p = predict(&tp.fields[f], f, b.values, &span);
                            assert_eq!(p, e.values[f], "{name}: slot {i} field {f}");
                        }
                    }
                }
            }
            tables.push((tick, now));
            if tables.len() > 16 {
                tables.remove(0);
            }
        }
        eprintln!("{name}: {skipped} steady ({skipped_by_scan} by a scan) of {checked}");
        assert!(
            skipped >= skipped_by_scan,
            "{name}: as many as a scan finds"
        );
        if name.starts_with("arena") {
            assert!(skipped * 2 > checked, "{name}: most NPCs keep their course");
        }
    }
}
