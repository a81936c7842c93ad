//! The DNS answer cache: (client, server address) to the name the client looked up, valid from
//! the answer until its TTL (plus a grace period) runs out. Bounded: past its capacity the
//! oldest answers are evicted first.

use crate::capture::Timestamp;
use crate::decode::Addr;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

#[derive(Debug)]
struct Entry {
    name: Arc<str>,
    answered: Timestamp,
    expires: Timestamp,
}

/// A bounded, TTL-aware map from (client, address) to the name that resolved to the address.
#[derive(Debug)]
pub struct DnsCache {
    map: HashMap<(Addr, Addr), Entry, foldhash::fast::RandomState>,
    /// Insertion order, for eviction; may hold stale keys (re-inserted since), skipped on pop.
    order: VecDeque<((Addr, Addr), Timestamp)>,
    capacity: usize,
    grace_secs: u64,
    evictions: u64,
    last_name: Option<Arc<str>>,
}

impl DnsCache {
    /// An empty cache holding at most `capacity` answers.
    pub fn new(capacity: usize, grace_secs: u64) -> DnsCache {
        DnsCache {
            map: HashMap::default(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            grace_secs,
            evictions: 0,
            last_name: None,
        }
    }

    /// Remembers that `client` learned at `answered` that `name` is at `addr` for `ttl` seconds.
    pub fn insert(&mut self, client: Addr, addr: Addr, name: &str, answered: Timestamp, ttl: u32) {
        // Consecutive answers of one lookup share the name: share its allocation too.
        let name = match &self.last_name {
            Some(last) if &**last == name => last.clone(),
            _ => {
                let fresh: Arc<str> = Arc::from(name);
                self.last_name = Some(fresh.clone());
                fresh
            }
        };
        let expires = answered.plus_secs(u64::from(ttl) + self.grace_secs);
        let key = (client, addr);
        self.map.insert(
            key,
            Entry {
                name,
                answered,
                expires,
            },
        );
        self.order.push_back((key, answered));
        while self.map.len() > self.capacity {
            let Some((old, at)) = self.order.pop_front() else {
                break;
            };
            if self.map.get(&old).is_some_and(|e| e.answered == at) {
                self.map.remove(&old);
                self.evictions += 1;
            }
        }
        if self.order.len() > 2 * self.capacity {
            let map = &self.map;
            self.order
                .retain(|(k, at)| map.get(k).is_some_and(|e| e.answered == *at));
        }
    }

    /// The name `client` had for `addr` at time `at`, if an answer was valid then.
    pub fn lookup(&self, client: Addr, addr: Addr, at: Timestamp) -> Option<&str> {
        let entry = self.map.get(&(client, addr))?;
        (entry.answered <= at && at <= entry.expires).then_some(&*entry.name)
    }

    /// Answers evicted because the cache was full.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    /// Answers held now.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the cache holds no answer.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_oldest_first_and_per_client() {
        let c1 = Addr::v4([10, 0, 0, 1]);
        let c2 = Addr::v4([10, 0, 0, 2]);
        let a = |n| Addr::v4([1, 1, 1, n]);
        let t = Timestamp::from_secs;
        let mut cache = DnsCache::new(2, 0);
        cache.insert(c1, a(1), "one.example", t(0), 60);
        cache.insert(c1, a(2), "two.example", t(1), 60);
        assert_eq!(
            cache.lookup(c2, a(1), t(5)),
            None,
            "another client did not ask"
        );
        cache.insert(c1, a(1), "one-again.example", t(2), 60);
        cache.insert(c1, a(3), "three.example", t(3), 60);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.evictions(), 1);
        assert_eq!(cache.lookup(c1, a(2), t(5)), None);
        assert_eq!(cache.lookup(c1, a(1), t(5)), Some("one-again.example"));
        assert_eq!(cache.lookup(c1, a(3), t(63)), Some("three.example"));
        assert_eq!(cache.lookup(c1, a(3), t(64)), None);
    }
}
