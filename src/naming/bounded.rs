//! A map bounded by its number of keys that evicts the key written longest ago: the one
//! mechanism behind the DNS history's (client, address) pairs and its per-client ECH public
//! names. Eviction order depends only on the order of writes, never on hashing, so it is the
//! same for any number of threads.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// At most `capacity` keys; writing a key makes it the newest.
#[derive(Debug)]
pub(super) struct Bounded<K, V> {
    /// Each value with the write that last touched it.
    map: HashMap<K, (V, u64), foldhash::fast::RandomState>,
    /// Writes in order; an entry whose key was written again since is stale, skipped on pop,
    /// and the queue is compacted when stale entries outnumber the keys.
    order: VecDeque<(K, u64)>,
    capacity: usize,
    writes: u64,
}

impl<K: Hash + Eq + Copy, V> Bounded<K, V> {
    /// An empty map of at most `capacity` (at least 1) keys.
    pub fn new(capacity: usize) -> Bounded<K, V> {
        Bounded {
            map: HashMap::default(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            writes: 0,
        }
    }

    /// The value of `key` (made by `make` if it is new), now the newest; the keys written
    /// longest ago are evicted first to stay within the capacity, each handed to `evicted`.
    pub fn write(
        &mut self,
        key: K,
        make: impl FnOnce() -> V,
        mut evicted: impl FnMut(V),
    ) -> &mut V {
        self.writes += 1;
        let stamp = self.writes;
        self.map.entry(key).or_insert_with(|| (make(), stamp)).1 = stamp;
        self.order.push_back((key, stamp));
        // The key just written has the newest stamp, so it is never the one evicted.
        while self.map.len() > self.capacity {
            let Some((old, at)) = self.order.pop_front() else {
                break;
            };
            if self.map.get(&old).is_some_and(|(_, s)| *s == at)
                && let Some((value, _)) = self.map.remove(&old)
            {
                evicted(value);
            }
        }
        if self.order.len() > 2 * self.capacity {
            let map = &self.map;
            self.order
                .retain(|(k, at)| map.get(k).is_some_and(|(_, s)| s == at));
        }
        &mut self.map.get_mut(&key).expect("just written").0
    }

    /// The value of `key`, if held.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key).map(|(v, _)| v)
    }

    /// Keys held now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Entries in the write queue, stale ones included (for tests of its bound).
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_written_longest_ago_goes_first() {
        let mut m: Bounded<u32, &str> = Bounded::new(2);
        let mut gone = Vec::new();
        m.write(1, || "one", |v| gone.push(v));
        m.write(2, || "two", |v| gone.push(v));
        m.write(1, || unreachable!(), |v| gone.push(v));
        m.write(3, || "three", |v| gone.push(v));
        assert_eq!(gone, ["two"]);
        assert_eq!(
            (m.get(&1), m.get(&2), m.get(&3)),
            (Some(&"one"), None, Some(&"three"))
        );
        for i in 10..1000 {
            m.write(i, || "x", |v| gone.push(v));
            assert!(m.len() <= 2 && m.queued() <= 2 * 2 + 1);
        }
        assert_eq!(gone.len(), 1 + 990);
    }
}
