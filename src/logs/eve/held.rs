//! Requests held for their responses (EVE's DNS and Kerberos): a map bounded by count, whose
//! oldest entry makes room for a new one in constant time, and which hands back what it holds
//! in the order it came.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// At most `limit` values by key, oldest first out.
pub struct Held<K, V> {
    map: HashMap<K, (V, u64)>,
    /// Keys in the order they came, with their arrival; an entry whose key was taken since (or
    /// came again) is skipped when it reaches the front.
    queue: VecDeque<(K, u64)>,
    arrivals: u64,
    limit: usize,
}

impl<K: Hash + Eq + Copy, V> Held<K, V> {
    /// An empty map of at most `limit` values.
    pub fn new(limit: usize) -> Held<K, V> {
        Held {
            map: HashMap::new(),
            queue: VecDeque::new(),
            arrivals: 0,
            limit: limit.max(1),
        }
    }

    /// Values held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Holds `value` under `key`; gives back what it displaced: the value the key held before,
    /// and the oldest value when the map was full.
    pub fn insert(&mut self, key: K, value: V) -> (Option<V>, Option<V>) {
        let replaced = self.map.remove(&key).map(|(v, _)| v);
        let evicted = match self.map.len() >= self.limit {
            true => self.pop_oldest(),
            false => None,
        };
        self.arrivals += 1;
        self.map.insert(key, (value, self.arrivals));
        self.queue.push_back((key, self.arrivals));
        if self.queue.len() > 2 * self.limit {
            let map = &self.map;
            self.queue
                .retain(|(k, at)| map.get(k).is_some_and(|(_, a)| a == at));
        }
        (replaced, evicted)
    }

    /// Takes the value under `key`.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.map.remove(key).map(|(v, _)| v)
    }

    /// Takes every value, oldest first.
    pub fn drain(&mut self) -> Vec<V> {
        let mut all: Vec<(V, u64)> = self.map.drain().map(|(_, v)| v).collect();
        all.sort_by_key(|(_, at)| *at);
        self.queue.clear();
        all.into_iter().map(|(v, _)| v).collect()
    }

    fn pop_oldest(&mut self) -> Option<V> {
        while let Some((key, at)) = self.queue.pop_front() {
            if self.map.get(&key).is_some_and(|(_, a)| *a == at) {
                return self.map.remove(&key).map(|(v, _)| v);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_makes_room_and_what_is_left_comes_back_in_order() {
        let mut held = Held::new(2);
        assert_eq!(held.insert(1, "a"), (None, None));
        assert_eq!(held.insert(2, "b"), (None, None));
        assert_eq!(held.remove(&1), Some("a"));
        assert_eq!(held.insert(3, "c"), (None, None));
        assert_eq!(held.insert(4, "d"), (None, Some("b")));
        assert_eq!(held.insert(4, "e"), (Some("d"), None));
        assert_eq!(held.len(), 2);
        assert_eq!(held.drain(), ["c", "e"]);
    }

    #[test]
    fn stale_entries_never_pile_up() {
        let mut held = Held::new(4);
        for i in 0..10_000u32 {
            held.insert(i, i);
            held.remove(&i);
        }
        assert!(held.queue.len() <= 8);
    }
}
