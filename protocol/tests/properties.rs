//! Property tests: deltas reproduce the world, messages round-trip, arbitrary bytes never panic.

mod support;

use proptest::prelude::*;
use protocol::codec::{self, DecodeError};
use protocol::delta::Delta;
use protocol::messages::{ClientMsg, ServerMsg};
use protocol::table::EntityTable;
use support::*;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(512)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn apply_of_delta_gives_now((base, now) in table_pair()) {
        let delta = Delta::between(&base, &now);
        let mut got = base.clone();
        delta.apply(&mut got).unwrap();
        prop_assert_eq!(&got, &now);
        prop_assert_eq!(got.checksum(), now.checksum());
        // Through the wire, too.
        let mut bytes = Vec::new();
        codec::encode_delta(&delta, &mut bytes);
        let header = protocol::SnapshotHeader {
            tick: 9, baseline: Some(8), input_seq: 1, server_time_us: 5, checksum: Some(now.checksum()),
        };
        let mut msg = Vec::new();
        codec::encode_snapshot(&header, &bytes, &mut msg);
        let Ok(ServerMsg::Snapshot(s)) = codec::decode_server(&msg) else { panic!("not a snapshot") };
        prop_assert_eq!(&s.delta, &delta);
        prop_assert_eq!(s.header(), header);
    }

    #[test]
    fn full_snapshot_rebuilds_the_table(t in table()) {
        let mut got = EntityTable::new();
        Delta::full(&t).apply(&mut got).unwrap();
        prop_assert_eq!(got, t);
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
        if let ServerMsg::Snapshot(s) = &msg {
            let mut delta = Vec::new();
            codec::encode_delta(&s.delta, &mut delta);
            let mut split = Vec::new();
            codec::encode_snapshot(&s.header(), &delta, &mut split);
            prop_assert_eq!(split, bytes);
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

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = codec::decode_client(&bytes);
        let _ = codec::peek_hello_version(&bytes);
        if let Ok(ServerMsg::Snapshot(s)) = codec::decode_server(&bytes) {
            let _ = s.delta.apply(&mut EntityTable::new());
        }
    }

    #[test]
    fn mutated_messages_never_panic(msg in server_msg(), flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let mut bytes = codec::encode_server(&msg);
        for (i, b) in flips {
            let i = i.index(bytes.len());
            bytes[i] = b;
        }
        if let Ok(ServerMsg::Snapshot(s)) = codec::decode_server(&bytes) {
            let _ = s.delta.apply(&mut EntityTable::new());
        }
        let _ = codec::decode_client(&bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Applying straight from the bytes gives the same table (or fails) exactly as decoding the
    /// delta and applying it, for valid and corrupted snapshots alike.
    #[test]
    fn encoded_apply_agrees_with_decode_then_apply(
        (base, now) in table_pair(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
    ) {
        let mut bytes = Vec::new();
        codec::encode_delta(&Delta::between(&base, &now), &mut bytes);
        for (i, b) in flips {
            let i = i.index(bytes.len());
            bytes[i] = b;
        }
        let enc = protocol::EncodedDelta(&bytes);
        let mut streamed = base.clone();
        let streamed_ok = enc.apply(&mut streamed).is_ok();
        let mut decoded = base.clone();
        let decoded_ok = enc.decode().ok().is_some_and(|d| d.apply(&mut decoded).is_ok());
        prop_assert_eq!(streamed_ok, decoded_ok);
        if streamed_ok {
            prop_assert_eq!(&streamed, &decoded);
        }
    }
}
