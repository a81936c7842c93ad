//! IP fragment reassembly (IPv4 and IPv6), within bounded memory and time.
//!
//! Datagrams in progress are keyed by addresses, identification, protocol and VLAN. A fragment
//! that overlaps data already held (other than an exact duplicate) drops the whole datagram, as
//! overlapping fragments are an evasion technique; so do too many pieces or a datagram longer
//! than IP allows. Datagrams not completed within the timeout, or evicted to stay under the
//! memory bound, are dropped. Every such drop is counted.

use super::Addr;
use super::Counters;
use crate::capture::Timestamp;
use std::collections::{HashMap, VecDeque};

/// Limits of fragment reassembly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FragConfig {
    /// Most datagrams in progress.
    pub max_datagrams: usize,
    /// Most bytes held over all datagrams in progress.
    pub max_bytes: usize,
    /// Seconds (of the run's clock) a datagram may take to complete.
    pub timeout_secs: u64,
}

impl Default for FragConfig {
    fn default() -> Self {
        FragConfig {
            max_datagrams: 4096,
            max_bytes: 8 * 1024 * 1024,
            timeout_secs: 30,
        }
    }
}

/// Most pieces one datagram may arrive in.
const MAX_PIECES: usize = 64;
/// Longest reassembled payload.
const MAX_DATAGRAM: u32 = 65_535;

/// What identifies the fragments of one datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FragKey {
    /// Source address.
    pub src: Addr,
    /// Destination address.
    pub dst: Addr,
    /// IP identification (16 bits for IPv4, 32 for IPv6).
    pub id: u32,
    /// The protocol of the payload.
    pub protocol: u8,
    /// VLAN ids around the packet.
    pub vlan: [u16; 2],
}

#[derive(Debug)]
struct Datagram {
    started: Timestamp,
    data: Vec<u8>,
    /// Filled ranges, sorted, disjoint.
    have: Vec<(u32, u32)>,
    /// Payload length, once the last fragment was seen.
    total: Option<u32>,
}

/// Fragments waiting for the rest of their datagram.
#[derive(Debug)]
pub struct Defrag {
    config: FragConfig,
    datagrams: HashMap<FragKey, Datagram, foldhash::fast::RandomState>,
    /// Start order, for timeouts and eviction; may hold keys already gone.
    order: VecDeque<(FragKey, Timestamp)>,
    bytes: usize,
    done: Vec<u8>,
}

/// One fragment.
#[derive(Clone, Copy, Debug)]
pub struct Fragment<'a> {
    /// Offset of this fragment's data in the payload, in bytes.
    pub offset: u32,
    /// More fragments follow.
    pub more: bool,
    /// The fragment's data.
    pub data: &'a [u8],
    /// The capture holds less than the fragment's length (snaplen).
    pub cut: bool,
}

impl Defrag {
    /// An empty reassembly table.
    pub fn new(config: FragConfig) -> Defrag {
        Defrag {
            config,
            datagrams: HashMap::default(),
            order: VecDeque::new(),
            bytes: 0,
            done: Vec::new(),
        }
    }

    /// Datagrams in progress.
    pub fn len(&self) -> usize {
        self.datagrams.len()
    }

    /// Whether no datagram is in progress.
    pub fn is_empty(&self) -> bool {
        self.datagrams.is_empty()
    }

    /// Adds a fragment at time `now`; returns the whole payload when this one completes it.
    pub fn add(
        &mut self,
        key: FragKey,
        fragment: Fragment<'_>,
        now: Timestamp,
        counters: &mut Counters,
    ) -> Option<&[u8]> {
        counters.ip_fragments += 1;
        self.expire(now, counters);
        let len = u32::try_from(fragment.data.len()).ok()?;
        let end = fragment
            .offset
            .checked_add(len)
            .filter(|&e| e <= MAX_DATAGRAM);
        let Some(end) = end.filter(|_| !fragment.cut) else {
            counters.ip_fragments_dropped += 1;
            self.drop_datagram(&key);
            return None;
        };
        if !self.datagrams.contains_key(&key) {
            self.make_room(fragment.data.len(), counters);
            self.datagrams.insert(
                key,
                Datagram {
                    started: now,
                    data: Vec::new(),
                    have: Vec::new(),
                    total: None,
                },
            );
            self.order.push_back((key, now));
        }
        let datagram = self.datagrams.get_mut(&key).expect("inserted above");
        match place(datagram, fragment.offset, end, fragment.data, fragment.more) {
            Placed::Kept(grown) => self.bytes += grown,
            Placed::Duplicate => return None,
            Placed::Overlap => {
                counters.ip_fragment_overlaps += 1;
                self.drop_datagram(&key);
                return None;
            }
            Placed::Invalid => {
                counters.ip_fragments_dropped += 1;
                self.drop_datagram(&key);
                return None;
            }
        }
        if self.bytes > self.config.max_bytes {
            self.make_room(0, counters);
        }
        let datagram = self.datagrams.get(&key)?;
        let complete = datagram.total.is_some_and(|t| datagram.have == [(0, t)]);
        if !complete {
            return None;
        }
        let datagram = self.datagrams.remove(&key).expect("present");
        self.bytes -= datagram.data.len();
        counters.ip_reassembled += 1;
        self.done = datagram.data;
        Some(&self.done)
    }

    /// Drops datagrams started more than the timeout before `now`.
    fn expire(&mut self, now: Timestamp, counters: &mut Counters) {
        while let Some(&(key, started)) = self.order.front() {
            if started.plus_secs(self.config.timeout_secs) > now {
                break;
            }
            self.order.pop_front();
            if self.drop_if_current(&key, started) {
                counters.ip_fragments_expired += 1;
            }
        }
    }

    /// Evicts the oldest datagrams until one more (of `adding` bytes) fits.
    fn make_room(&mut self, adding: usize, counters: &mut Counters) {
        while self.datagrams.len() >= self.config.max_datagrams
            || (self.bytes + adding > self.config.max_bytes && !self.datagrams.is_empty())
        {
            let Some((key, started)) = self.order.pop_front() else {
                break;
            };
            if self.drop_if_current(&key, started) {
                counters.ip_fragments_dropped += 1;
            }
        }
    }

    /// Drops the datagram of `key` if it is the one started at `started` (the order queue may
    /// still name datagrams that completed or were dropped since).
    fn drop_if_current(&mut self, key: &FragKey, started: Timestamp) -> bool {
        let current = self
            .datagrams
            .get(key)
            .is_some_and(|d| d.started == started);
        if current {
            self.drop_datagram(key);
        }
        current
    }

    fn drop_datagram(&mut self, key: &FragKey) {
        if let Some(d) = self.datagrams.remove(key) {
            self.bytes -= d.data.len();
        }
    }
}

enum Placed {
    /// Stored; the buffer grew by this many bytes.
    Kept(usize),
    /// The same bytes at the same place again.
    Duplicate,
    /// Different bytes over bytes already held.
    Overlap,
    /// Contradicts the datagram (a second end, data past the end, too many pieces).
    Invalid,
}

fn place(d: &mut Datagram, start: u32, end: u32, data: &[u8], more: bool) -> Placed {
    if !more {
        if d.total.is_some_and(|t| t != end) || d.have.last().is_some_and(|r| r.1 > end) {
            return Placed::Invalid;
        }
        d.total = Some(end);
    } else if d.total.is_some_and(|t| end > t) {
        return Placed::Invalid;
    }
    if start == end {
        return Placed::Kept(0);
    }
    if let Some(&(s, e)) = d.have.iter().find(|r| r.0 < end && start < r.1) {
        let same = s == start && e == end && d.data[s as usize..e as usize] == *data;
        return if same {
            Placed::Duplicate
        } else {
            Placed::Overlap
        };
    }
    if d.have.len() >= MAX_PIECES {
        return Placed::Invalid;
    }
    let before = d.data.len();
    if d.data.len() < end as usize {
        d.data.resize(end as usize, 0);
    }
    d.data[start as usize..end as usize].copy_from_slice(data);
    let at = d.have.partition_point(|r| r.0 < start);
    d.have.insert(at, (start, end));
    // Merge touching ranges.
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(d.have.len());
    for &(s, e) in &d.have {
        match merged.last_mut() {
            Some(last) if last.1 == s => last.1 = e,
            _ => merged.push((s, e)),
        }
    }
    d.have = merged;
    Placed::Kept(d.data.len() - before)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u32) -> FragKey {
        FragKey {
            src: Addr::v4([10, 0, 0, 1]),
            dst: Addr::v4([10, 0, 0, 2]),
            id,
            protocol: 17,
            vlan: [0; 2],
        }
    }

    fn frag(offset: u32, more: bool, data: &[u8]) -> Fragment<'_> {
        Fragment {
            offset,
            more,
            data,
            cut: false,
        }
    }

    #[test]
    fn in_any_order() {
        let payload: Vec<u8> = (0..=255).cycle().take(3000).collect();
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
            let mut d = Defrag::new(FragConfig::default());
            let mut c = Counters::default();
            let pieces = [
                (0u32, &payload[..1480]),
                (1480, &payload[1480..2960]),
                (2960, &payload[2960..]),
            ];
            let mut out = None;
            for i in order {
                let (offset, data) = pieces[i];
                if let Some(done) = d.add(key(7), frag(offset, i != 2, data), Timestamp(0), &mut c)
                {
                    out = Some(done.to_vec());
                }
            }
            assert_eq!(out.as_deref(), Some(&payload[..]), "{order:?}");
            assert_eq!((c.ip_reassembled, d.len()), (1, 0));
        }
    }

    #[test]
    fn overlaps_drop_the_datagram_duplicates_do_not() {
        let mut d = Defrag::new(FragConfig::default());
        let mut c = Counters::default();
        assert!(
            d.add(key(1), frag(0, true, &[1; 16]), Timestamp(0), &mut c)
                .is_none()
        );
        assert!(
            d.add(key(1), frag(0, true, &[1; 16]), Timestamp(0), &mut c)
                .is_none()
        );
        assert_eq!(c.ip_fragment_overlaps, 0);
        assert!(
            d.add(key(1), frag(8, true, &[2; 16]), Timestamp(0), &mut c)
                .is_none()
        );
        assert_eq!((c.ip_fragment_overlaps, d.len()), (1, 0));
        // What arrives after the drop starts afresh and cannot complete the old datagram.
        assert!(
            d.add(key(1), frag(16, false, &[3; 8]), Timestamp(0), &mut c)
                .is_none()
        );
    }

    #[test]
    fn bounded_in_time_count_and_size() {
        let mut c = Counters::default();
        let mut d = Defrag::new(FragConfig {
            max_datagrams: 2,
            max_bytes: 100,
            timeout_secs: 30,
        });
        d.add(
            key(1),
            frag(0, true, &[0; 40]),
            Timestamp::from_secs(0),
            &mut c,
        );
        d.add(
            key(2),
            frag(0, true, &[0; 40]),
            Timestamp::from_secs(1),
            &mut c,
        );
        d.add(
            key(3),
            frag(0, true, &[0; 40]),
            Timestamp::from_secs(2),
            &mut c,
        );
        assert_eq!((d.len(), c.ip_fragments_dropped), (2, 1));
        d.add(
            key(4),
            frag(0, true, &[0; 8]),
            Timestamp::from_secs(40),
            &mut c,
        );
        assert_eq!((d.len(), c.ip_fragments_expired), (1, 2));
        assert!(
            d.add(
                key(5),
                frag(65_000, true, &[0; 1000]),
                Timestamp::from_secs(40),
                &mut c
            )
            .is_none()
        );
        assert_eq!(c.ip_fragments_dropped, 2, "past 65,535 bytes");
    }
}
