//! Serde helper: deserialize a `Vec` whose untrusted length prefix never sizes an allocation.
//!
//! Serde's own `Vec` visitor preallocates up to 1 MiB from the length prefix alone. This one
//! preallocates at most `PREALLOC` elements, grows only as elements actually decode (each takes
//! at least one input byte), and refuses more than `limits::MAX_LIST_LEN`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, Error, SeqAccess, Visitor};

use crate::limits::MAX_LIST_LEN;

const PREALLOC: usize = 256;

/// `#[serde(deserialize_with = "crate::bounded::vec")]`: a `Vec` of at most `MAX_LIST_LEN`
/// entries, allocated as they decode.
pub fn vec<'de, D, T>(de: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct V<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "a list of at most {MAX_LIST_LEN} entries")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let hint = seq.size_hint().unwrap_or(0);
            if hint > MAX_LIST_LEN {
                return Err(A::Error::custom(format_args!(
                    "list of {hint} entries exceeds the limit of {MAX_LIST_LEN}"
                )));
            }
            let mut out = Vec::with_capacity(hint.min(PREALLOC));
            while let Some(x) = seq.next_element()? {
                if out.len() == MAX_LIST_LEN {
                    return Err(A::Error::custom("list exceeds the entry limit"));
                }
                out.push(x);
            }
            Ok(out)
        }
    }
    de.deserialize_seq(V(PhantomData))
}
