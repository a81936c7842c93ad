//! Pages read again without reading the store again: what a view read (its report, by filter,
//! period and role; the page's own tables of it) is kept while the store has not changed, so
//! the pages of one period and filter read its report once. A SQLite store has changed
//! when its file or its write-ahead log has another size or time; a ClickHouse store, which
//! other sensors write, is read again after [`CLICKHOUSE_SECS`]. Every entry is also dropped
//! after [`MAX_AGE`] (the sensors' health says how long ago each wrote), and at most
//! [`MAX_ENTRIES`] are kept, the oldest dropped first.

use crate::store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Most views kept.
pub const MAX_ENTRIES: usize = 256;
/// Longest an entry is kept.
pub const MAX_AGE: Duration = Duration::from_secs(300);
/// Longest an entry of a ClickHouse store is kept.
pub const CLICKHOUSE_SECS: u64 = 60;

/// What says a SQLite store changed: the sizes and times of its file and its log.
pub type Generation = Vec<(u64, Option<SystemTime>)>;

struct Entry<T> {
    made: Instant,
    generation: Generation,
    content: Arc<T>,
}

/// The kept views.
pub struct Cache<T> {
    entries: Mutex<HashMap<String, Entry<T>>>,
}

impl<T> Default for Cache<T> {
    fn default() -> Cache<T> {
        Cache {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

/// The state of the store that a kept view must match.
pub fn generation(store: &Store) -> Generation {
    let Store::Sqlite(s) = store else {
        return Vec::new();
    };
    let path = s.path().to_path_buf();
    let wal = path.with_extension(match path.extension() {
        Some(e) => format!("{}-wal", e.to_string_lossy()),
        None => "wal".into(),
    });
    [path, wal]
        .iter()
        .map(|p| match std::fs::metadata(p) {
            Ok(m) => (m.len(), m.modified().ok()),
            Err(_) => (0, None),
        })
        .collect()
}

fn max_age(generation: &Generation) -> Duration {
    match generation.is_empty() {
        true => Duration::from_secs(CLICKHOUSE_SECS),
        false => MAX_AGE,
    }
}

impl<T> Cache<T> {
    /// The kept content of `key`, if the store is as it was.
    pub fn get(&self, key: &str, now: &Generation) -> Option<Arc<T>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let e = entries.get(key)?;
        let fresh = e.made.elapsed() < max_age(now) && e.generation == *now;
        fresh.then(|| e.content.clone())
    }

    /// Keeps `content` for `key`.
    pub fn put(&self, key: String, generation: Generation, content: Arc<T>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            let oldest = (entries.iter())
                .min_by_key(|(_, e)| e.made)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        let made = Instant::now();
        entries.insert(
            key,
            Entry {
                made,
                generation,
                content,
            },
        );
    }
}
