//! Bounded reassembly of byte streams: one direction of a TCP stream, or a QUIC CRYPTO stream.
//!
//! A [`Reassembler`] places segments by sequence number relative to the stream's first byte,
//! in any order; retransmissions and overlaps keep the bytes that arrived first. It holds only
//! the bytes that arrived, as sorted filled ranges, never the gaps between them: a segment that
//! claims a far offset costs its own length, not the distance. No byte at or past `limit` from
//! the consumed point is taken, and at most [`MAX_HOLES`] separate ranges are tracked; past
//! either bound the caller gives up on the stream (and counts it).
//!
//! A [`Streams`] pool owns every reassembler of one worker and bounds the bytes they hold in
//! sum. When a segment would take the pool past its cap, the streams opened longest ago are
//! freed first (and counted) until it fits: a legitimate first message is complete within a
//! round trip or two, so the oldest buffers are the ones stalled, by loss or on purpose, and
//! freeing them keeps new flows visible under a flood. A flow whose stream was freed finds its
//! [`StreamId`] stale and gives up for good.
//!
//! When the SYN was not seen the first byte of the stream is a guess (the first data segment
//! seen); a segment that turns out to start earlier moves the start back, as long as nothing
//! was consumed and everything still fits.

use std::mem::size_of;

/// Most separate filled ranges tracked; a stream with more holes than this is abandoned.
pub const MAX_HOLES: usize = 64;

/// Bytes a stream costs before it holds any data: its slot in the pool.
pub const STREAM_OVERHEAD: usize = size_of::<PoolEntry>();

/// Bytes one filled range costs besides its data.
pub const RANGE_OVERHEAD: usize = size_of::<Range>();

/// What became of a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insert {
    /// Stored (possibly only partly, when it reached past the limit).
    Stored,
    /// Entirely before the start of the stream, or already consumed: ignored.
    Old,
    /// Starts at or beyond the limit: nothing stored.
    BeyondLimit,
    /// Would create more than [`MAX_HOLES`] filled ranges: nothing stored.
    TooManyHoles,
    /// The stream was freed to make room for others: nothing stored, and it is gone.
    Evicted,
}

/// One filled range: `bytes` from offset `start`.
#[derive(Debug)]
struct Range {
    start: u32,
    bytes: Vec<u8>,
}

impl Range {
    fn end(&self) -> u32 {
        self.start + self.bytes.len() as u32
    }
}

/// One direction of a stream, reassembled into the bytes that arrived.
#[derive(Debug)]
pub struct Reassembler {
    /// Sequence number of offset 0.
    base: u32,
    /// Filled ranges relative to `base`: sorted, disjoint, not adjacent; each vector's
    /// capacity is its length.
    ranges: Vec<Range>,
    limit: usize,
    /// `base` is a guess that may still move back.
    guessed: bool,
}

impl Reassembler {
    /// A stream whose first byte has sequence number `base`; `guessed` when the SYN was not seen.
    pub fn new(base: u32, limit: usize, guessed: bool) -> Reassembler {
        Reassembler {
            base,
            ranges: Vec::new(),
            limit,
            guessed,
        }
    }

    /// Places a segment of `data` starting at sequence number `seq`.
    pub fn insert(&mut self, seq: u32, data: &[u8]) -> Insert {
        let (start, data) = match self.place(seq, data) {
            Ok(placed) => placed,
            Err(outcome) => return outcome,
        };
        if data.is_empty() {
            return Insert::Stored;
        }
        let end = start + data.len() as u32;
        let first = self.ranges.partition_point(|r| r.end() < start);
        let after = first + self.ranges[first..].partition_point(|r| r.start <= end);
        if first == after {
            if self.ranges.len() >= MAX_HOLES {
                return Insert::TooManyHoles;
            }
            self.ranges.reserve_exact(1);
            self.ranges.insert(
                first,
                Range {
                    start,
                    bytes: data.to_vec(),
                },
            );
        } else {
            self.merge(first, after, start, data);
        }
        Insert::Stored
    }

    /// Where `data` goes: its offset and the part of it inside `[0, limit)`, or why nothing.
    fn place<'d>(&mut self, seq: u32, data: &'d [u8]) -> Result<(u32, &'d [u8]), Insert> {
        if data.is_empty() {
            return Ok((0, data));
        }
        let mut offset = i64::from(seq.wrapping_sub(self.base) as i32);
        let mut data = data;
        if offset < 0 {
            let early = offset.unsigned_abs() as usize;
            if self.guessed && early + self.extent() <= self.limit {
                self.move_base_back(early as u32);
                offset = 0;
            } else if early >= data.len() {
                return Err(Insert::Old);
            } else {
                data = &data[early..];
                offset = 0;
            }
        }
        let start = offset as usize;
        if start >= self.limit {
            return Err(Insert::BeyondLimit);
        }
        let end = (start + data.len()).min(self.limit);
        Ok((start as u32, &data[..end - start]))
    }

    /// Joins `data` at `start` with the ranges `first..after` it overlaps or touches into one
    /// range; the bytes already held win.
    fn merge(&mut self, first: usize, after: usize, start: u32, data: &[u8]) {
        let end = start + data.len() as u32;
        let merged_start = start.min(self.ranges[first].start);
        let merged_end = end.max(self.ranges[after - 1].end());
        let mut later: Vec<Range> = self.ranges.drain(first + 1..after).collect();
        let head = &mut self.ranges[first];
        let mut bytes = std::mem::take(&mut head.bytes);
        bytes.reserve_exact((merged_end - merged_start) as usize - bytes.len());
        if start < head.start {
            let before = (head.start - start) as usize;
            bytes.splice(0..0, data[..before].iter().copied());
        }
        let from = |at: u32, to: u32| &data[(at - start) as usize..(to - start) as usize];
        for range in &mut later {
            let cursor = merged_start + bytes.len() as u32;
            bytes.extend_from_slice(from(cursor, range.start));
            bytes.append(&mut range.bytes);
        }
        let cursor = merged_start + bytes.len() as u32;
        if cursor < merged_end {
            bytes.extend_from_slice(from(cursor, merged_end));
        }
        *head = Range {
            start: merged_start,
            bytes,
        };
    }

    /// The bytes available without a gap from the start of the stream.
    pub fn contiguous(&self) -> &[u8] {
        match self.ranges.first() {
            Some(r) if r.start == 0 => &r.bytes,
            _ => &[],
        }
    }

    /// Whether the buffer is full up to its limit without a gap: nothing more can be added.
    pub fn is_full(&self) -> bool {
        self.contiguous().len() >= self.limit
    }

    /// Drops the first `n` contiguous bytes; the stream continues after them.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.contiguous().len());
        if n == 0 {
            return;
        }
        if n == self.ranges[0].bytes.len() {
            self.ranges.remove(0);
        } else {
            let rest = self.ranges[0].bytes[n..].to_vec();
            self.ranges[0].bytes = rest;
        }
        self.base = self.base.wrapping_add(n as u32);
        self.guessed = false;
        let n = n as u32;
        for r in &mut self.ranges {
            r.start = r.start.saturating_sub(n);
        }
    }

    /// Moves the start of the stream `n` bytes on, whether or not they arrived: the bytes held
    /// before it are dropped and later segments of them are old (a body the dissector does not
    /// read). `n` below 2^31, so that sequence numbers still order.
    pub fn skip(&mut self, n: u32) {
        debug_assert!(n < 1 << 31);
        self.ranges.retain(|r| r.end() > n);
        self.ranges.shrink_to_fit();
        if let Some(first) = self.ranges.first_mut()
            && first.start < n
        {
            first.bytes.drain(..(n - first.start) as usize);
            first.bytes.shrink_to_fit();
            first.start = n;
        }
        for r in &mut self.ranges {
            r.start -= n;
        }
        self.base = self.base.wrapping_add(n);
        self.guessed = false;
    }

    /// Bytes held: the data of every range and the ranges' own bookkeeping.
    pub fn held(&self) -> usize {
        self.ranges.capacity() * RANGE_OVERHEAD
            + self
                .ranges
                .iter()
                .map(|r| r.bytes.capacity())
                .sum::<usize>()
    }

    /// The most `held` can grow by inserting `len` bytes: the bytes and one new range.
    fn growth_bound(&self, len: usize) -> usize {
        len.min(self.limit) + RANGE_OVERHEAD
    }

    /// Bytes from the start of the buffer to the end of the last filled range.
    fn extent(&self) -> usize {
        self.ranges.last().map_or(0, |r| r.end() as usize)
    }

    fn move_base_back(&mut self, by: u32) {
        for r in &mut self.ranges {
            r.start += by;
        }
        self.base = self.base.wrapping_sub(by);
    }
}

/// A handle to a stream in a [`Streams`] pool; stale once the stream is closed or freed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamId {
    index: u32,
    generation: u32,
}

/// No slot: the end of the age list.
const NONE: u32 = u32::MAX;

/// A place in the pool, on the age list while it holds a stream.
#[derive(Debug)]
struct PoolEntry {
    generation: u32,
    /// Next older and next younger open stream.
    older: u32,
    younger: u32,
    /// What `held` counted for this stream's data.
    held: usize,
    stream: Option<Reassembler>,
}

/// Every stream of one worker, within one budget of bytes held.
#[derive(Debug)]
pub struct Streams {
    slots: Vec<PoolEntry>,
    free: Vec<u32>,
    /// The open stream opened longest ago, and the one opened last.
    oldest: u32,
    youngest: u32,
    /// Bytes held by all open streams, slots included.
    held: usize,
    /// Most bytes `held` may reach.
    cap: usize,
    /// Streams freed to make room, since the last [`Streams::take_evicted`].
    evicted: u64,
}

impl Streams {
    /// An empty pool whose streams may hold `cap` bytes in all.
    pub fn new(cap: usize) -> Streams {
        Streams {
            slots: Vec::new(),
            free: Vec::new(),
            oldest: NONE,
            youngest: NONE,
            held: 0,
            cap,
            evicted: 0,
        }
    }

    /// Opens a stream (see [`Reassembler::new`]), freeing the oldest ones if its slot does not
    /// fit in the budget.
    pub fn open(&mut self, base: u32, limit: usize, guessed: bool) -> StreamId {
        self.make_room(STREAM_OVERHEAD, None);
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.slots.push(PoolEntry {
                    generation: 0,
                    older: NONE,
                    younger: NONE,
                    held: 0,
                    stream: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.stream = Some(Reassembler::new(base, limit, guessed));
        slot.held = 0;
        self.held += STREAM_OVERHEAD;
        self.link_youngest(index);
        StreamId {
            index,
            generation: self.slots[index as usize].generation,
        }
    }

    /// The stream `id` names, if it is still open.
    pub fn get(&self, id: StreamId) -> Option<&Reassembler> {
        let slot = self.slots.get(id.index as usize)?;
        (slot.generation == id.generation)
            .then_some(slot.stream.as_ref())
            .flatten()
    }

    /// Places a segment in stream `id` (see [`Reassembler::insert`]), first freeing the oldest
    /// other streams if the bytes it may add do not fit in the budget.
    pub fn insert(&mut self, id: StreamId, seq: u32, data: &[u8]) -> Insert {
        let Some(stream) = self.get(id) else {
            return Insert::Evicted;
        };
        let more = stream.growth_bound(data.len());
        self.make_room(more, Some(id.index));
        if self.held + more > self.cap {
            // Even alone it does not fit: it goes too, rather than the pool passing its cap.
            self.release(id.index);
            self.evicted += 1;
            return Insert::Evicted;
        }
        let slot = &mut self.slots[id.index as usize];
        let Some(stream) = slot.stream.as_mut() else {
            return Insert::Evicted;
        };
        let outcome = stream.insert(seq, data);
        self.settle(id.index);
        outcome
    }

    /// Drops the first `n` contiguous bytes of stream `id`.
    pub fn consume(&mut self, id: StreamId, n: usize) {
        let slot = &mut self.slots[id.index as usize];
        if slot.generation == id.generation
            && let Some(stream) = slot.stream.as_mut()
        {
            stream.consume(n);
            self.settle(id.index);
        }
    }

    /// Moves stream `id` on by `n` bytes, arrived or not (see [`Reassembler::skip`]).
    pub fn skip(&mut self, id: StreamId, n: u32) {
        let slot = &mut self.slots[id.index as usize];
        if slot.generation == id.generation
            && let Some(stream) = slot.stream.as_mut()
        {
            stream.skip(n);
            self.settle(id.index);
        }
    }

    /// Closes stream `id` and gives its bytes back; a stale id is ignored.
    pub fn close(&mut self, id: StreamId) {
        if self.get(id).is_some() {
            self.release(id.index);
        }
    }

    /// Streams freed to make room since the last call.
    pub fn take_evicted(&mut self) -> u64 {
        std::mem::take(&mut self.evicted)
    }

    /// Bytes held by every open stream.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Open streams.
    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Whether no stream is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Brings `held` up to date with what slot `index`'s stream holds now.
    fn settle(&mut self, index: u32) {
        let slot = &mut self.slots[index as usize];
        let now = slot.stream.as_ref().map_or(0, Reassembler::held);
        self.held = self.held - slot.held + now;
        slot.held = now;
    }

    /// Frees the oldest streams other than `keep` until `more` bytes fit in the budget.
    fn make_room(&mut self, more: usize, keep: Option<u32>) {
        let mut at = self.oldest;
        while self.held + more > self.cap && at != NONE {
            let younger = self.slots[at as usize].younger;
            if Some(at) != keep {
                self.release(at);
                self.evicted += 1;
            }
            at = younger;
        }
    }

    /// Frees slot `index`'s stream; its ids go stale.
    fn release(&mut self, index: u32) {
        let slot = &mut self.slots[index as usize];
        slot.stream = None;
        slot.generation = slot.generation.wrapping_add(1);
        self.held -= slot.held + STREAM_OVERHEAD;
        slot.held = 0;
        self.unlink(index);
        self.free.push(index);
    }

    fn link_youngest(&mut self, index: u32) {
        let slot = &mut self.slots[index as usize];
        slot.older = self.youngest;
        slot.younger = NONE;
        match self.youngest {
            NONE => self.oldest = index,
            y => self.slots[y as usize].younger = index,
        }
        self.youngest = index;
    }

    fn unlink(&mut self, index: u32) {
        let (older, younger) = {
            let slot = &self.slots[index as usize];
            (slot.older, slot.younger)
        };
        match older {
            NONE => self.oldest = younger,
            o => self.slots[o as usize].younger = younger,
        }
        match younger {
            NONE => self.youngest = older,
            y => self.slots[y as usize].older = older,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipping_past_bytes_not_arrived_makes_them_old() {
        let mut r = Reassembler::new(1000, 100, false);
        assert_eq!(r.insert(1000, b"head"), Insert::Stored);
        assert_eq!(r.insert(1010, b"body-tail|next"), Insert::Stored);
        // Skip the 4-byte head and a 16-byte body whose start never came.
        r.skip(4 + 16);
        assert_eq!(r.contiguous(), b"next");
        assert_eq!(
            r.insert(1005, b"middl"),
            Insert::Old,
            "inside the skipped body"
        );
        assert_eq!(r.insert(1020, b"next request"), Insert::Stored);
        assert_eq!(r.contiguous(), b"next request");
        // Skipping beyond everything held leaves nothing, and the stream goes on from there.
        r.skip(1000);
        assert_eq!((r.contiguous(), r.held()), (&b""[..], 0));
        assert_eq!(r.insert(1020 + 1000, b"x"), Insert::Stored);
        assert_eq!(r.contiguous(), b"x");
    }

    #[test]
    fn in_order_out_of_order_and_overlapping_segments() {
        let mut r = Reassembler::new(1000, 64, false);
        assert_eq!(r.insert(1006, b"world"), Insert::Stored);
        assert_eq!(r.contiguous(), b"");
        assert_eq!(r.insert(1000, b"hello "), Insert::Stored);
        assert_eq!(r.contiguous(), b"hello world");
        // A retransmission with different bytes does not overwrite what came first.
        assert_eq!(r.insert(1003, b"XXXXXXXX!"), Insert::Stored);
        assert_eq!(r.contiguous(), b"hello world!");
        assert_eq!(r.insert(990, b"0123456789"), Insert::Old);
    }

    #[test]
    fn a_segment_bridging_several_ranges_keeps_what_came_first() {
        let mut r = Reassembler::new(0, 64, false);
        r.insert(2, b"cd");
        r.insert(6, b"gh");
        r.insert(10, b"kl");
        assert_eq!(r.insert(1, b"XXXXXXXXXXX"), Insert::Stored);
        assert_eq!(r.insert(0, b"a"), Insert::Stored);
        assert_eq!(r.contiguous(), b"aXcdXXghXXkl");
        assert_eq!(r.held(), 12 + RANGE_OVERHEAD * r.ranges.capacity());
    }

    #[test]
    fn the_limit_is_never_exceeded() {
        let mut r = Reassembler::new(0, 8, false);
        assert_eq!(r.insert(0, b"0123456789"), Insert::Stored);
        assert_eq!(r.contiguous(), b"01234567");
        assert!(r.is_full());
        assert_eq!(r.insert(8, b"89"), Insert::BeyondLimit);
    }

    #[test]
    fn a_far_offset_costs_its_own_bytes_not_the_gap() {
        let mut r = Reassembler::new(0, 65_536, false);
        assert_eq!(r.insert(65_000, b"x"), Insert::Stored);
        assert!(r.held() < 64, "{} bytes held for one byte", r.held());
        assert_eq!(r.contiguous(), b"");
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut r = Reassembler::new(u32::MAX - 2, 16, false);
        r.insert(0, b"def");
        r.insert(u32::MAX - 2, b"abc");
        assert_eq!(r.contiguous(), b"abcdef");
    }

    #[test]
    fn a_guessed_start_moves_back_for_an_earlier_segment() {
        let mut r = Reassembler::new(500, 64, true);
        r.insert(500, b"second");
        assert_eq!(r.insert(494, b"first "), Insert::Stored);
        assert_eq!(r.contiguous(), b"first second");
    }

    #[test]
    fn consume_keeps_the_rest() {
        let mut r = Reassembler::new(0, 16, false);
        r.insert(0, b"abcdef");
        r.insert(8, b"ij");
        r.consume(4);
        assert_eq!(r.contiguous(), b"ef");
        r.insert(6, b"gh");
        assert_eq!(r.contiguous(), b"efghij");
        assert_eq!(r.insert(2, b"cd"), Insert::Old);
        r.consume(6);
        assert_eq!(
            (r.contiguous(), r.held()),
            (&b""[..], r.ranges.capacity() * RANGE_OVERHEAD)
        );
    }

    #[test]
    fn too_many_holes() {
        let mut r = Reassembler::new(0, 1 << 16, false);
        for i in 0..MAX_HOLES as u32 {
            assert_eq!(r.insert(10 + i * 10, b"x"), Insert::Stored);
        }
        assert_eq!(r.insert(5000, b"x"), Insert::TooManyHoles);
        // Filling a gap that joins two ranges is still fine.
        assert_eq!(r.insert(11, b"xxxxxxxxx"), Insert::Stored);
    }

    #[test]
    fn a_pool_frees_the_oldest_streams_to_stay_within_its_cap() {
        let cap = 64 * 1024;
        let mut pool = Streams::new(cap);
        let mut ids = Vec::new();
        // A flood: each stream holds 1,000 bytes far from its start and never completes.
        for i in 0..1_000u32 {
            let id = pool.open(0, 65_536, false);
            assert_eq!(pool.insert(id, 60_000 + i, &[7; 1000]), Insert::Stored);
            assert!(pool.held() <= cap, "{} held", pool.held());
            ids.push(id);
        }
        let evicted = pool.take_evicted();
        assert!(evicted > 900, "{evicted} evicted");
        assert_eq!(pool.len() as u64, 1_000 - evicted);
        // The oldest went first: the newest are all still there, the first ones are stale.
        assert!(pool.get(ids[999]).is_some() && pool.get(ids[0]).is_none());
        assert_eq!(pool.insert(ids[0], 0, b"late"), Insert::Evicted);
        // Closing gives every byte back.
        for id in ids {
            pool.close(id);
        }
        assert_eq!((pool.held(), pool.len()), (0, 0));
    }

    #[test]
    fn a_stream_that_fits_is_never_freed_for_its_own_segment() {
        let mut pool = Streams::new(4 * 1024);
        let id = pool.open(0, 2048, false);
        for at in (0..2048).step_by(100) {
            pool.insert(id, at, &[1; 100]);
        }
        assert_eq!(pool.get(id).unwrap().contiguous().len(), 2048);
        assert_eq!(pool.take_evicted(), 0);
        pool.consume(id, 2000);
        assert_eq!(pool.get(id).unwrap().contiguous().len(), 48);
        assert!(pool.held() < 200, "{} held after consuming", pool.held());
    }
}
