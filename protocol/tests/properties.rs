//! Property tests on random schemas and worlds: a delta applied to the client's baseline gives
//! the state the server encoded, bit for bit, with the checksum the server computes, for full
//! snapshots, 1-tick and n-tick baselines, with and without a second baseline; messages and
//! value lists round-trip; arbitrary bytes never panic.

mod support;

use golden_files::view;
use proptest::prelude::*;
use protocol::codec::{self, DecodeError};
use protocol::messages::{ClientMsg, ServerMsg, Snapshot, SnapshotHeader};
use protocol::schema::{self, Descriptor};
use protocol::state::{Span, StateTable, predict};
use protocol::state_delta::{self, Baseline};
use support::*;

mod golden_files;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(512)
}

/// Applies `bytes` the way a client does: to its own view of the baselines.
fn client_apply(
    w: &World,
    base: Option<&Baseline<'_>>,
    bytes: &[u8],
) -> Result<StateTable, state_delta::DeltaError> {
    let b = w.own;
    let views = base.map(|b| {
        (
            view(&w.plan, b.table, w.own),
            b.second
                .map(|(t2, tick2)| (view(&w.plan, t2, w.own), tick2)),
            b.tick,
        )
    });
    let client_base = views.as_ref().map(|(t, second, tick)| Baseline {
        table: t,
        tick: *tick,
        second: second.as_ref().map(|(t2, tick2)| (t2, *tick2)),
    });
    let mut out = w.plan.new_table();
    state_delta::apply(&w.plan, b, client_base.as_ref(), w.tick, bytes, &mut out)?;
    Ok(out)
}

/// `client_apply` on compact tables (as bots keep them): baselines copied compact.
fn client_apply_compact(
    w: &World,
    base: Option<&Baseline<'_>>,
    bytes: &[u8],
) -> Result<StateTable, state_delta::DeltaError> {
    let tables = base.map(|b| {
        (
            view(&w.plan, b.table, w.own).to_compact(),
            b.second
                .map(|(t2, tick2)| (view(&w.plan, t2, w.own).to_compact(), tick2)),
            b.tick,
        )
    });
    let client_base = tables.as_ref().map(|(t, second, tick)| Baseline {
        table: t,
        tick: *tick,
        second: second.as_ref().map(|(t2, tick2)| (t2, *tick2)),
    });
    let mut out = StateTable::compact(w.plan.stride);
    state_delta::apply(
        &w.plan,
        w.own,
        client_base.as_ref(),
        w.tick,
        bytes,
        &mut out,
    )?;
    Ok(out)
}

fn check_round_trip(w: &World, base: Option<&Baseline<'_>>) -> Result<(), TestCaseError> {
    let bytes = w.delta(base);
    let got =
        client_apply(w, base, &bytes).map_err(|e| TestCaseError::fail(format!("apply: {e}")))?;
    let want = view(&w.plan, &w.now, w.own);
    if got != want {
        return Err(TestCaseError::fail(first_difference(w, &got, &want)));
    }
    // What the server puts in the header, from its own full table.
    prop_assert_eq!(w.plan.checksum(&got, w.own), w.plan.checksum(&w.now, w.own));
    // And bit for bit: every cell, including those past a type's own fields.
    let cells = |t: &StateTable| {
        t.iter()
            .map(|e| (e.id, e.ty, e.values.to_vec()))
            .collect::<Vec<_>>()
    };
    prop_assert_eq!(cells(&got), cells(&want));
    // A compact table ends up holding the same, and sums to the same checksum.
    let compact = client_apply_compact(w, base, &bytes)
        .map_err(|e| TestCaseError::fail(format!("apply (compact): {e}")))?;
    prop_assert!(compact.is_compact());
    prop_assert!(compact == want, "{}", first_difference(w, &compact, &want));
    prop_assert_eq!(
        w.plan.checksum(&compact, w.own),
        w.plan.checksum(&w.now, w.own)
    );
    Ok(())
}

/// The first entity that differs, with what the baselines held in its slot.
fn first_difference(w: &World, got: &StateTable, want: &StateTable) -> String {
    let slots = got.slot_count().max(want.slot_count()) as u32;
    for i in 0..slots {
        let (g, n) = (got.at(i), want.at(i));
        let strings = |t: &StateTable| {
            (0..w.plan.stride as u16)
                .map(|f| t.string(i, f).to_owned())
                .collect::<Vec<_>>()
        };
        if g != n || strings(got) != strings(want) {
            return format!(
                "slot {i}: got {g:?}, want {n:?}\n base {:?}\n base2 {:?}\n own {:?}, ticks {} {} {}\n types {:#?}",
                w.base.at(i),
                w.base2.at(i),
                w.own,
                w.tick2,
                w.tick1,
                w.tick,
                w.plan.types
            );
        }
    }
    "strings differ".into()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn full_snapshots_rebuild_the_world(w in world()) {
        check_round_trip(&w, None)?;
    }

    /// `tick - baseline` is 1 most of the time, up to 1024 sometimes (support::World).
    #[test]
    fn deltas_against_one_baseline_rebuild_the_world(w in world()) {
        check_round_trip(&w, Some(&w.baseline(false)))?;
    }

    #[test]
    fn deltas_with_a_second_baseline_rebuild_the_world(w in world()) {
        check_round_trip(&w, Some(&w.baseline(true)))?;
    }

    /// A one-tick baseline, exactly: the common case.
    #[test]
    fn one_tick_deltas_rebuild_the_world(d in support::descriptor(), seed in any::<u64>()) {
        let mut w = World::generate(d, seed);
        let mut rng = Gen::new(seed ^ 0x5555);
        let span = Some((&w.base2, i64::from(w.tick1.wrapping_sub(w.tick2))));
        w.now = evolve(&mut rng, &w.d, &w.plan, &w.base, span, 1);
        w.tick = w.tick1.wrapping_add(1);
        check_round_trip(&w, Some(&w.baseline(false)))?;
        check_round_trip(&w, Some(&w.baseline(true)))?;
    }

    /// The state itself as its own baseline, one tick on, with every entity on its prediction:
    /// nothing to send but one part of empty lists (and an empty private section).
    #[test]
    fn a_world_on_its_predictions_sends_only_empty_lists(w in world()) {
        let b = w.baseline(true);
        let mut out = w.plan.new_table();
        // The client's prediction of the next state, with a delta of no parts...
        let own = w.own;
        state_delta::apply(&w.plan, own, Some(&b), w.tick, &[0], &mut out).unwrap();
        // ... is what a server whose world follows its predictions sends as an empty delta.
        let mut enc = state_delta::Encoder::default();
        let mut bytes = Vec::new();
        enc.shared(&w.plan, Some(&b), &out, w.tick, &mut bytes);
        if let Some(own) = own {
            enc.private(&w.plan, own, Some(&b), &out, w.tick, &mut bytes);
        }
        let want: &[u8] = if own.is_some() { &[1, 0, 0, 0, 0] } else { &[1, 0, 0, 0] };
        prop_assert_eq!(bytes, want);
    }

    /// Through the wire: header, then the delta bytes; the split encoding is the derived one.
    #[test]
    fn snapshots_carry_deltas_through_the_codec(w in world(), seq in any::<u32>(), us in any::<u64>()) {
        let b = w.baseline(true);
        let delta = w.delta(Some(&b));
        let header = SnapshotHeader {
            tick: w.tick, baseline: Some(w.tick1), baseline2: Some(w.tick2), input_seq: seq,
            server_time_us: us, checksum: Some(w.plan.checksum(&w.now, w.own)),
        };
        let mut msg = Vec::new();
        codec::encode_snapshot(&header, &delta, &mut msg);
        let Ok(ServerMsg::Snapshot(s)) = codec::decode_server(&msg) else { panic!("not a snapshot") };
        prop_assert_eq!(s.header, header);
        prop_assert_eq!(&s.delta, &delta);
        prop_assert_eq!(codec::encode_server(&ServerMsg::Snapshot(Snapshot { header, delta })), msg);
    }

    #[test]
    fn client_messages_round_trip(msg in client_msg()) {
        let bytes = codec::encode_client(&msg);
        prop_assert!(bytes.len() <= protocol::limits::MAX_CLIENT_MSG_BYTES);
        prop_assert_eq!(codec::decode_client(&bytes), Ok(msg.clone()));
        if let ClientMsg::Hello(h) = &msg {
            prop_assert_eq!(codec::peek_hello_version(&bytes), Some(h.version));
        }
    }

    #[test]
    fn server_messages_round_trip(msg in server_msg()) {
        let bytes = codec::encode_server(&msg);
        prop_assert_eq!(codec::decode_server(&bytes), Ok(msg.clone()));
        if let ServerMsg::Welcome(w) = &msg {
            prop_assert_eq!(w.schema.hash(), schema::fnv1a(&codec::encode_descriptor(&w.schema)));
        }
    }

    /// Descriptors survive the wire and still validate: what a client relies on.
    #[test]
    fn descriptors_round_trip(d in support::descriptor()) {
        let bytes = codec::encode_descriptor(&d);
        let (back, used): (Descriptor, usize) =
            bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert!(back.validate().is_ok());
        prop_assert_eq!(back.hash(), d.hash());
        prop_assert_eq!(back, d);
    }

    #[test]
    fn value_lists_round_trip(d in support::descriptor(), seed in any::<u64>()) {
        let mut rng = Gen::new(seed);
        let lists = std::iter::once(&d.input)
            .chain(d.actions.iter().map(|a| &a.fields))
            .chain(d.events.iter().map(|e| &e.fields));
        for fields in lists {
            let values = values_for(&mut rng, fields);
            let mut bytes = Vec::new();
            schema::encode_values(fields, &values, &mut bytes);
            let back = schema::decode_values(fields, &bytes).unwrap();
            // Quantised once, values are fixed points: they encode to the same bytes.
            let mut again = Vec::new();
            schema::encode_values(fields, &back, &mut again);
            prop_assert_eq!(again, bytes);
        }
    }

    #[test]
    fn trailing_bytes_are_rejected(msg in client_msg(), extra in 1usize..4) {
        let mut bytes = codec::encode_client(&msg);
        bytes.extend(std::iter::repeat_n(0u8, extra));
        let err = codec::decode_client(&bytes).unwrap_err();
        let expected = matches!(err, DecodeError::TrailingBytes(n) if n == extra)
            || matches!(err, DecodeError::TooLarge { .. });
        prop_assert!(expected, "{:?}", err);
    }

    /// A delta applied to another client's baseline than the one it was built for either fails
    /// or gives some table: it never panics. (Clients detect it by the checksum.)
    #[test]
    fn deltas_on_the_wrong_baseline_never_panic(w in world(), other in world()) {
        let b = w.baseline(true);
        let bytes = w.delta(Some(&b));
        let ob = other.baseline(true);
        let mut out = other.plan.new_table();
        let _ = state_delta::apply(&other.plan, other.own, Some(&ob), other.tick, &bytes, &mut out);
    }

    /// The checksum is a function of the entities and their values, not of the table's
    /// layout: a table with more cells per entity than the plan's (which takes the type-by-type
    /// path rather than the per-cell lanes) gives the same.
    #[test]
    fn checksums_do_not_depend_on_the_table_layout(w in world()) {
        let mut wide = StateTable::new(w.plan.stride + 1);
        for e in w.now.iter() {
            wide.insert(e.id, e.ty).unwrap()[..e.values.len()].copy_from_slice(e.values);
            for f in 0..w.plan.stride as u16 {
                let text = w.now.string(e.id.index, f);
                if !text.is_empty() {
                    wide.set_string(e.id.index, f, text).unwrap();
                }
            }
        }
        prop_assert_eq!(w.plan.public_checksum(&wide), w.plan.public_checksum(&w.now));
        prop_assert_eq!(w.plan.checksum(&wide, w.own), w.plan.checksum(&w.now, w.own));
    }

    /// An empty delta moves every entity to its prediction exactly as `state::predict`
    /// computes it field by field, from any cell values over any span: predictions that
    /// leave the i32 range saturate the same on the fast path as on the reference.
    #[test]
    fn empty_deltas_predict_as_the_reference_does(w in world(), seed in any::<u64>(), ticks in any::<u32>()) {
        let mut rng = Gen::new(seed);
        let mut base = w.base.clone();
        let slots: Vec<u32> = base.iter().map(|e| e.id.index).collect();
        for i in slots {
            for cell in base.values_mut(i).unwrap() {
                *cell = match rng.below(4) {
                    0 => i32::MAX - rng.below(3) as i32,
                    1 => i32::MIN + rng.below(3) as i32,
                    _ => *cell,
                };
            }
        }
        let tick = w.tick1.wrapping_add(ticks);
        let b = Baseline { table: &base, tick: w.tick1, second: None };
        let mut got = w.plan.new_table();
        state_delta::apply(&w.plan, w.own, Some(&b), tick, &[0], &mut got).unwrap();
        let span = Span { ticks: i64::from(ticks).max(1), second: None };
        for e in base.iter() {
            let tp = &w.plan.types[usize::from(e.ty)];
            let own: &[u16] = if w.own == Some(e.id) { &tp.predicted_owner } else { &[] };
            let mut want = e.values.to_vec();
            for &f in tp.predicted_public.iter().chain(own) {
                let f = usize::from(f);
                want[f] = predict(&tp.fields[f], f, e.values, &span);
            }
            prop_assert_eq!(got.get(e.id).unwrap().values, &want[..], "entity {:?}", e.id);
        }
    }
}
