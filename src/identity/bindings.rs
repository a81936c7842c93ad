//! Time-indexed bindings of keys (addresses, devices) to holders (a DHCP lease to a device, a
//! Kerberos ticket to a principal), so that a record is attributed to whoever held its address
//! at the record's time, not to the latest holder.
//!
//! Each key keeps its last [`HISTORY`] spans; the table keeps at most its capacity of keys and
//! drops the one bound longest ago (first in, first out, so the result does not depend on
//! hashing) when a new one comes, counting the eviction.

use crate::capture::Timestamp;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// Spans kept per address.
pub const HISTORY: usize = 8;

/// `value` held the address from `start` (inclusive) to `end` (exclusive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span<T> {
    /// Start.
    pub start: Timestamp,
    /// End.
    pub end: Timestamp,
    /// Holder.
    pub value: T,
}

/// Keys and who held them when.
#[derive(Debug)]
pub struct Bindings<K, T> {
    map: HashMap<K, Vec<Span<T>>>,
    order: VecDeque<K>,
    capacity: usize,
    evictions: u64,
}

impl<K: Hash + Eq + Clone, T: PartialEq + Clone> Bindings<K, T> {
    /// A table for at most `capacity` keys.
    pub fn new(capacity: usize) -> Bindings<K, T> {
        Bindings {
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            evictions: 0,
        }
    }

    /// Binds `key` to `value` from `start` to `end`. A different holder whose span covers
    /// `start` loses the key at `start`; the same holder's span is replaced by the new one
    /// (a renewal says how long the binding now lasts).
    pub fn bind(&mut self, key: &K, start: Timestamp, end: Timestamp, value: T) {
        if !self.map.contains_key(key) {
            self.make_room();
            self.order.push_back(key.clone());
        }
        let spans = self.map.entry(key.clone()).or_default();
        if let Some(last) = spans.last_mut()
            && last.value == value
            && last.start <= start
            && start <= last.end
        {
            last.end = end.max(start);
            return;
        }
        for span in spans.iter_mut() {
            if span.start <= start && start < span.end {
                span.end = start;
            }
        }
        spans.push(Span { start, end, value });
        if spans.len() > HISTORY {
            spans.remove(0);
        }
    }

    /// Ends, at `at`, every binding of `key` that covers `at` and whose holder `filter` accepts.
    pub fn end_at(&mut self, key: &K, at: Timestamp, filter: impl Fn(&T) -> bool) {
        if let Some(spans) = self.map.get_mut(key) {
            for span in spans.iter_mut() {
                if span.start <= at && at < span.end && filter(&span.value) {
                    span.end = at;
                }
            }
        }
    }

    /// The holder of `key` at `at`: the latest span that covers it.
    pub fn at(&self, key: &K, at: Timestamp) -> Option<&T> {
        self.map
            .get(key)?
            .iter()
            .rev()
            .find(|s| s.start <= at && at < s.end)
            .map(|s| &s.value)
    }

    fn make_room(&mut self) {
        while self.map.len() >= self.capacity {
            let Some(oldest) = self.order.pop_front() else {
                return;
            };
            if self.map.remove(&oldest).is_some() {
                self.evictions += 1;
            }
        }
    }

    /// Keys dropped because the table was full.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Addr;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_secs(s)
    }

    const A: Addr = Addr([0; 16]);

    #[test]
    fn attribution_uses_the_holder_at_the_time() {
        let mut b = Bindings::new(4);
        b.bind(&A, t(10), t(100), "alice");
        b.bind(&A, t(50), t(200), "bob");
        assert_eq!(b.at(&A, t(9)), None);
        assert_eq!(b.at(&A, t(10)), Some(&"alice"));
        assert_eq!(b.at(&A, t(49)), Some(&"alice"));
        assert_eq!(b.at(&A, t(50)), Some(&"bob"));
        assert_eq!(b.at(&A, t(199)), Some(&"bob"));
        assert_eq!(b.at(&A, t(200)), None);
        // A renewal by the holder extends; an end cuts.
        b.bind(&A, t(150), t(400), "bob");
        assert_eq!(b.at(&A, t(300)), Some(&"bob"));
        b.end_at(&A, t(250), |v| *v == "bob");
        assert_eq!(b.at(&A, t(260)), None);
        assert_eq!(b.at(&A, t(20)), Some(&"alice"));
    }

    #[test]
    fn tables_are_bounded_and_count_evictions() {
        let mut b = Bindings::new(2);
        for i in 0..5u8 {
            let mut a = [0; 16];
            a[15] = i;
            b.bind(&Addr(a), t(0), t(10), i);
        }
        assert_eq!(b.evictions(), 3);
        assert_eq!(b.map.len(), 2);
        for i in 0..20u8 {
            b.bind(&A, t(i64::from(i)), t(i64::from(i) + 1), i);
        }
        assert_eq!(b.map[&A].len(), HISTORY);
    }
}
