//! Values that clients share, built once per tick by the first writer that needs them.

use std::ops::Deref;
use std::sync::{Arc, Mutex, OnceLock};

/// Keys found without a lock: enough for the baselines a cell's parts usually span.
const SLOTS: usize = 8;

/// Values built once per key by whichever thread asks first; the others asking meanwhile wait
/// for it (no lock is held while building).
///
/// The first `SLOTS` keys are claimed in place, lock-free: a writer finds its key with a few
/// atomic loads and borrows the value, where a lock and a reference count per lookup (each a
/// cache line written by every writer thread, about ten per client under views) were a
/// twentieth of a tick. Further keys go to a list under a lock.
pub struct BuiltOnce<K, V> {
    /// The keys claimed in place, apart from their values: a lookup reads a line or two.
    keys: [OnceLock<K>; SLOTS],
    values: [OnceLock<V>; SLOTS],
    more: Mutex<Vec<(K, Arc<OnceLock<V>>)>>,
}

impl<K, V> Default for BuiltOnce<K, V> {
    fn default() -> Self {
        Self {
            keys: std::array::from_fn(|_| OnceLock::new()),
            values: std::array::from_fn(|_| OnceLock::new()),
            more: Mutex::default(),
        }
    }
}

/// A value `BuiltOnce` holds: borrowed from its slot, or shared from its list.
pub enum Built<'a, V> {
    Here(&'a V),
    Shared(Arc<OnceLock<V>>),
}

impl<V> Deref for Built<'_, V> {
    type Target = V;

    fn deref(&self) -> &V {
        match self {
            Built::Here(v) => v,
            Built::Shared(cell) => cell.get().expect("built before it is handed out"),
        }
    }
}

impl<K: PartialEq + Copy, V> BuiltOnce<K, V> {
    /// The value of `key`, built with `build` if no one has.
    pub fn get_or_build(&self, key: K, build: impl FnOnce() -> V) -> Built<'_, V> {
        for (k, cell) in self.keys.iter().zip(&self.values) {
            // Claim the first free slot for `key`; a racing writer may claim it for another
            // key, then this one looks further.
            if *k.get_or_init(|| key) == key {
                return Built::Here(cell.get_or_init(build));
            }
        }
        let cell = {
            let mut cells = self.more.lock().unwrap_or_else(|e| e.into_inner());
            match cells.iter().find(|(k, _)| *k == key) {
                Some((_, cell)) => cell.clone(),
                None => {
                    let cell = Arc::new(OnceLock::new());
                    cells.push((key, cell.clone()));
                    cell
                }
            }
        };
        cell.get_or_init(build);
        Built::Shared(cell)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_is_built_once_past_the_slots_too() {
        let b = BuiltOnce::<u32, u32>::default();
        let builds = std::sync::atomic::AtomicUsize::new(0);
        let build = |k: u32| {
            builds.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            k * 10
        };
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for k in 0..3 * SLOTS as u32 {
                        assert_eq!(*b.get_or_build(k, || build(k)), k * 10);
                    }
                });
            }
        });
        assert_eq!(builds.load(std::sync::atomic::Ordering::Relaxed), 3 * SLOTS);
    }
}
