//! Values that clients share, built once per tick by the first writer that needs them.

use std::sync::{Arc, Mutex, OnceLock};

/// Values built once per key by whichever thread asks first; the others asking meanwhile wait
/// for it (the lock is only held to find the key's cell, not while building).
pub struct BuiltOnce<K, V>(Mutex<Vec<(K, Arc<OnceLock<V>>)>>);

impl<K, V> Default for BuiltOnce<K, V> {
    fn default() -> Self {
        Self(Mutex::default())
    }
}

impl<K: PartialEq, V> BuiltOnce<K, V> {
    /// The value of `key`, built with `build` if no one has.
    pub fn get_or_build(&self, key: K, build: impl FnOnce() -> V) -> Arc<OnceLock<V>> {
        let cell = {
            let mut cells = self.0.lock().unwrap_or_else(|e| e.into_inner());
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
        cell
    }
}
