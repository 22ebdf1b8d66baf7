//! Fuzzing as a property test run in CI: arbitrary and mutated bytes thrown at every decoder,
//! at delta apply (with any tick distance, as a hostile server may claim) and at value lists,
//! many cases (`FUZZ_CASES`, default 20,000 per target). Any panic fails, and so does an
//! arithmetic overflow (tests build with overflow checks).

mod support;

use proptest::prelude::*;
use protocol::codec;
use protocol::schema;
use protocol::state::Plan;
use protocol::state_delta::{self, Baseline};
use protocol::{ClientMsg, ServerMsg};
use support::*;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(20_000)
}

/// Fewer cases for the targets that build a random world per case.
fn world_cases() -> u32 {
    (cases() / 8).max(64)
}

/// Valid encodings with a few bytes overwritten, inserted or removed: reaches deep into the
/// decoders, where pure noise fails on the first byte.
fn mutate(mut bytes: Vec<u8>, edits: &[(prop::sample::Index, u8, u8)]) -> Vec<u8> {
    for (at, op, value) in edits {
        let i = at.index(bytes.len() + 1);
        match op % 3 {
            0 if i < bytes.len() => bytes[i] = *value,
            1 => bytes.insert(i, *value),
            _ if i < bytes.len() => {
                bytes.remove(i);
            }
            _ => {}
        }
    }
    bytes
}

fn edits() -> impl Strategy<Value = Vec<(prop::sample::Index, u8, u8)>> {
    proptest::collection::vec(
        (any::<prop::sample::Index>(), any::<u8>(), any::<u8>()),
        1..8,
    )
}

/// Applies `bytes` to the world's baselines as its client would, claiming `tick`.
fn apply_as_client(w: &World, second: bool, tick: u32, bytes: &[u8]) {
    let b = Baseline {
        table: &w.base,
        tick: w.tick1,
        second: second.then_some((&w.base2, w.tick2)),
    };
    let mut out = w.plan.new_table();
    if state_delta::apply(&w.plan, w.own, Some(&b), tick, bytes, &mut out).is_ok() {
        assert!(out.slot_count() <= protocol::limits::MAX_ENTITY_INDEX as usize);
        // Whatever it holds, it can be checksummed.
        let _ = w.plan.checksum(&out, w.own);
    }
    let _ = state_delta::apply(&w.plan, w.own, None, tick, bytes, &mut out);
    let _ = state_delta::decode(&w.plan, Some(&w.base), bytes);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn client_decoders_take_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1100)) {
        let _ = codec::decode_client(&bytes);
        let _ = codec::peek_hello_version(&bytes);
    }

    #[test]
    fn server_decoder_takes_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1100)) {
        let _ = codec::decode_server(&bytes);
        let _ = codec::decode_snapshot_header(&bytes);
    }

    #[test]
    fn client_decoders_take_mutated_messages(msg in client_msg(), edits in edits()) {
        let bytes = mutate(codec::encode_client(&msg), &edits);
        if let Ok(ClientMsg::Hello(h)) = codec::decode_client(&bytes) {
            prop_assert!(h.room.len() <= protocol::limits::MAX_ROOM_NAME_BYTES);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: world_cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// What a client does with a Welcome: decode, validate, compile, then apply deltas.
    #[test]
    fn mutated_welcomes_decode_validate_and_compile(msg in server_msg(), edits in edits(), delta in proptest::collection::vec(any::<u8>(), 0..64)) {
        let bytes = mutate(codec::encode_server(&msg), &edits);
        if let Ok(ServerMsg::Welcome(w)) = codec::decode_server(&bytes)
            && w.schema.validate().is_ok()
        {
            let plan = Plan::new(&w.schema);
            let mut out = plan.new_table();
            let _ = state_delta::apply(&plan, Some(w.player), None, 1, &delta, &mut out);
            for fields in std::iter::once(&w.schema.input).chain(w.schema.events.iter().map(|e| &e.fields)) {
                let _ = schema::decode_values(fields, &delta);
            }
        }
    }

    #[test]
    fn delta_apply_takes_any_bytes(w in world(), bytes in proptest::collection::vec(any::<u8>(), 0..400), second in any::<bool>()) {
        apply_as_client(&w, second, w.tick, &bytes);
    }

    #[test]
    fn delta_apply_takes_mutated_deltas(w in world(), edits in edits(), second in any::<bool>()) {
        let b = w.baseline(second);
        let bytes = mutate(w.delta(Some(&b)), &edits);
        apply_as_client(&w, second, w.tick, &bytes);
    }

    /// A hostile header may claim any tick: predictions over 2^32 ticks must not overflow.
    #[test]
    fn delta_apply_takes_any_tick(w in world(), tick in any::<u32>(), edits in edits()) {
        let b = w.baseline(true);
        let bytes = w.delta(Some(&b));
        apply_as_client(&w, true, tick, &bytes);
        apply_as_client(&w, true, tick, &mutate(bytes, &edits));
    }

    /// Values a hostile full snapshot put in the table (any i32, out of every declared range)
    /// are then predicted from, over any tick distance.
    #[test]
    fn predictions_from_hostile_values_never_overflow(w in world(), e1 in edits(), e2 in edits(), tick in any::<u32>()) {
        let full = mutate(w.delta(None), &e1);
        let mut first = w.plan.new_table();
        if state_delta::apply(&w.plan, w.own, None, w.tick1, &full, &mut first).is_ok() {
            let b = Baseline { table: &first, tick: w.tick1, second: Some((&first, w.tick2)) };
            let next = mutate(w.delta(Some(&w.baseline(true))), &e2);
            let mut out = w.plan.new_table();
            let _ = state_delta::apply(&w.plan, w.own, Some(&b), tick, &next, &mut out);
            let _ = w.plan.checksum(&first, w.own);
        }
    }

    #[test]
    fn value_lists_take_any_bytes(d in support::descriptor(), bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        for fields in std::iter::once(&d.input).chain(d.actions.iter().map(|a| &a.fields)) {
            let _ = schema::decode_values(fields, &bytes);
        }
    }
}

/// Predictions from any cell values over any span (a hostile server controls both: values
/// through spawns, spans through the ticks it names) never overflow.
#[test]
fn predictions_from_extreme_values_never_overflow() {
    use protocol::schema::Predictor;
    use protocol::state::{FieldPlan, Kind, Span, predict};
    let extremes = [i32::MIN, -1, 0, 1, i32::MAX];
    let predictors = [
        Predictor::Velocity {
            field: 1,
            num: u32::MAX,
            den: 1,
        },
        Predictor::Velocity {
            field: 1,
            num: 1,
            den: u32::MAX,
        },
        Predictor::Linear,
    ];
    for kind in [Kind::Int, Kind::Angle { bits: 24 }, Kind::Angle { bits: 1 }] {
        for predictor in predictors {
            let fp = FieldPlan {
                kind,
                predictor,
                owner: false,
            };
            for &a in &extremes {
                for &v in &extremes {
                    for ticks in [1i64, 1024, i64::from(u32::MAX)] {
                        for gap in [1i64, i64::from(u32::MAX)] {
                            let base = [a, v];
                            let second = [v, a];
                            let span = Span {
                                ticks,
                                second: Some((&second, gap)),
                            };
                            let _ = predict(&fp, 0, &base, &span);
                        }
                    }
                }
            }
        }
    }
}
