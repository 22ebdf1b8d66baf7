//! Fuzzing as a property test run in CI: arbitrary and mutated bytes thrown at every decoder
//! and at delta apply, many cases (`FUZZ_CASES`, default 20,000 per target). Any panic fails.

mod support;

use proptest::prelude::*;
use protocol::codec;
use protocol::{ClientMsg, EntityTable, ServerMsg};
use support::*;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(20_000)
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

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn client_decoders_take_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1100)) {
        let _ = codec::decode_client(&bytes);
        let _ = codec::peek_hello_version(&bytes);
    }

    #[test]
    fn client_decoders_take_mutated_messages(
        msg in client_msg(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), any::<u8>()), 1..8),
    ) {
        let bytes = mutate(codec::encode_client(&msg), &edits);
        if let Ok(ClientMsg::Hello(h)) = codec::decode_client(&bytes) {
            prop_assert!(h.room.len() <= protocol::limits::MAX_ROOM_NAME_BYTES);
        }
    }

    #[test]
    fn snapshot_decode_and_apply_take_mutated_snapshots(
        (base, now) in table_pair(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), any::<u8>()), 1..8),
    ) {
        let snap = protocol::Snapshot {
            tick: 2, baseline: Some(1), input_seq: 0, server_time_us: 0,
            checksum: Some(now.checksum()), delta: protocol::Delta::between(&base, &now),
        };
        let bytes = mutate(codec::encode_server(&ServerMsg::Snapshot(snap)), &edits);
        if let Ok(ServerMsg::Snapshot(s)) = codec::decode_server(&bytes) {
            let mut t = base.clone();
            if s.delta.apply(&mut t).is_ok() {
                prop_assert!(t.slot_count() <= protocol::limits::MAX_ENTITY_INDEX as usize);
            }
        }
    }

    #[test]
    fn delta_apply_takes_any_decodable_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600), base in table()) {
        let mut framed = vec![2, 1, 1, 0, 0, 0];
        framed.extend_from_slice(&bytes);
        if let Ok(ServerMsg::Snapshot(s)) = codec::decode_server(&framed) {
            let mut t: EntityTable = base;
            let _ = s.delta.apply(&mut t);
        }
    }
}
