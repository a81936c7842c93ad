//! A map bounded by its number of keys and by the bytes its values hold, that evicts the key
//! written longest ago: the one mechanism behind the DNS history's (client, address) pairs and
//! its per-client ECH public names. Eviction order depends only on the order of writes, never
//! on hashing, so it is the same for any number of threads.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// What a value holds, in bytes, for the map's budget.
pub(super) trait Weigh {
    /// Bytes held by the value's entries and the data they own.
    fn weight(&self) -> usize;
}

/// At most `capacity` keys whose values weigh at most `budget` bytes in all; writing a key
/// makes it the newest.
#[derive(Debug)]
pub(super) struct Bounded<K, V> {
    /// Each value with the write that last touched it.
    map: HashMap<K, (V, u64), foldhash::fast::RandomState>,
    /// Writes in order; an entry whose key was written again since is stale, skipped on pop,
    /// and the queue is compacted when stale entries outnumber the keys.
    order: VecDeque<(K, u64)>,
    capacity: usize,
    budget: usize,
    /// The weight of every value held.
    weight: usize,
    writes: u64,
}

impl<K: Hash + Eq + Copy, V: Weigh> Bounded<K, V> {
    /// An empty map of at most `capacity` (at least 1) keys and `budget` bytes of values.
    pub fn new(capacity: usize, budget: usize) -> Bounded<K, V> {
        Bounded {
            map: HashMap::default(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            budget,
            weight: 0,
            writes: 0,
        }
    }

    /// Runs `update` on the value of `key` (made by `make` if it is new), which is now the
    /// newest; then the keys written longest ago are evicted, each handed to `evicted`, until
    /// the map is within its capacity and its budget (the key just written is never evicted).
    pub fn write<R>(
        &mut self,
        key: K,
        make: impl FnOnce() -> V,
        update: impl FnOnce(&mut V) -> R,
        mut evicted: impl FnMut(V),
    ) -> R {
        self.writes += 1;
        let stamp = self.writes;
        let (slot, before) = match self.map.entry(key) {
            Entry::Occupied(held) => {
                let slot = held.into_mut();
                let before = slot.0.weight();
                (slot, before)
            }
            Entry::Vacant(new) => (new.insert((make(), stamp)), 0),
        };
        slot.1 = stamp;
        let result = update(&mut slot.0);
        self.weight = self.weight - before + slot.0.weight();
        self.order.push_back((key, stamp));
        while (self.map.len() > self.capacity || self.weight > self.budget) && self.map.len() > 1 {
            let Some((old, at)) = self.order.pop_front() else {
                break;
            };
            if self.map.get(&old).is_some_and(|(_, s)| *s == at)
                && let Some((value, _)) = self.map.remove(&old)
            {
                self.weight -= value.weight();
                evicted(value);
            }
        }
        if self.order.len() > 2 * self.capacity {
            let map = &self.map;
            self.order
                .retain(|(k, at)| map.get(k).is_some_and(|(_, s)| s == at));
        }
        result
    }

    /// The value of `key`, if held.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key).map(|(v, _)| v)
    }

    /// The weight of every value held.
    #[cfg(test)]
    pub fn weight(&self) -> usize {
        self.weight
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

    impl Weigh for &str {
        fn weight(&self) -> usize {
            self.len()
        }
    }

    fn put<'a>(m: &mut Bounded<u32, &'a str>, k: u32, v: &'a str, gone: &mut Vec<&'a str>) {
        m.write(k, || v, |_| (), |v| gone.push(v));
    }

    #[test]
    fn the_key_written_longest_ago_goes_first() {
        let mut m: Bounded<u32, &str> = Bounded::new(2, usize::MAX);
        let mut gone = Vec::new();
        put(&mut m, 1, "one", &mut gone);
        put(&mut m, 2, "two", &mut gone);
        m.write(1, || unreachable!(), |_| (), |v| gone.push(v));
        put(&mut m, 3, "three", &mut gone);
        assert_eq!(gone, ["two"]);
        assert_eq!(
            (m.get(&1), m.get(&2), m.get(&3)),
            (Some(&"one"), None, Some(&"three"))
        );
        for i in 10..1000 {
            put(&mut m, i, "x", &mut gone);
            assert!(m.len() <= 2 && m.queued() <= 2 * 2 + 1);
        }
        assert_eq!(gone.len(), 1 + 990);
    }

    #[test]
    fn heavy_values_are_evicted_to_stay_within_the_budget() {
        let mut m: Bounded<u32, &str> = Bounded::new(100, 20);
        let mut gone = Vec::new();
        for i in 0..10 {
            put(&mut m, i, "12345678", &mut gone);
            assert!(m.weight() <= 20, "{} bytes", m.weight());
        }
        assert_eq!((m.len(), gone.len()), (2, 8));
        // One value heavier than the budget stays alone rather than evicting itself.
        put(&mut m, 99, "a value longer than twenty bytes", &mut gone);
        assert_eq!((m.len(), m.get(&99).is_some()), (1, true));
    }
}
