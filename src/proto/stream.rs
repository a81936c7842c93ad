//! Bounded reassembly of one direction of a TCP stream.
//!
//! Segments are placed by sequence number relative to the stream's first byte, in any order;
//! retransmissions and overlaps keep the bytes that arrived first. The buffer never holds more
//! than `limit` bytes past the consumed point and tracks at most [`MAX_HOLES`] separate filled
//! ranges; past either bound the caller gives up on the stream (and counts it).
//!
//! When the SYN was not seen the first byte of the stream is a guess (the first data segment
//! seen); a segment that turns out to start earlier moves the start back, as long as nothing
//! was consumed and everything still fits.

/// Most separate filled ranges tracked; a stream with more holes than this is abandoned.
pub const MAX_HOLES: usize = 64;

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
}

/// One direction of a TCP stream, reassembled into a bounded buffer.
#[derive(Debug)]
pub struct Reassembler {
    /// Sequence number of `buf[0]`.
    base: u32,
    buf: Vec<u8>,
    /// Filled byte ranges `[start, end)` relative to `base`: sorted, disjoint, not adjacent.
    filled: Vec<(u32, u32)>,
    limit: usize,
    /// `base` is a guess that may still move back.
    guessed: bool,
}

impl Reassembler {
    /// A stream whose first byte has sequence number `base`; `guessed` when the SYN was not seen.
    pub fn new(base: u32, limit: usize, guessed: bool) -> Reassembler {
        Reassembler {
            base,
            buf: Vec::new(),
            filled: Vec::new(),
            limit,
            guessed,
        }
    }

    /// Places a segment of `data` starting at sequence number `seq`.
    pub fn insert(&mut self, seq: u32, data: &[u8]) -> Insert {
        if data.is_empty() {
            return Insert::Stored;
        }
        let mut offset = i64::from(seq.wrapping_sub(self.base) as i32);
        let mut data = data;
        if offset < 0 {
            let early = offset.unsigned_abs() as usize;
            if self.guessed && early + self.extent() <= self.limit {
                self.move_base_back(early);
                offset = 0;
            } else if early >= data.len() {
                return Insert::Old;
            } else {
                data = &data[early..];
                offset = 0;
            }
        }
        let start = offset as usize;
        if start >= self.limit {
            return Insert::BeyondLimit;
        }
        let end = (start + data.len()).min(self.limit);
        let data = &data[..end - start];
        if self.would_exceed_holes(start as u32, end as u32) {
            return Insert::TooManyHoles;
        }
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        self.copy_into_gaps(start as u32, end as u32, data);
        self.add_range(start as u32, end as u32);
        Insert::Stored
    }

    /// The bytes available without a gap from the start of the stream.
    pub fn contiguous(&self) -> &[u8] {
        match self.filled.first() {
            Some(&(0, end)) => &self.buf[..end as usize],
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
        self.buf.drain(..n);
        self.base = self.base.wrapping_add(n as u32);
        self.guessed = false;
        let n = n as u32;
        self.filled.retain_mut(|r| {
            r.0 = r.0.saturating_sub(n);
            r.1 = r.1.saturating_sub(n);
            r.1 > r.0
        });
    }

    /// Bytes from the start of the buffer to the end of the last filled range.
    fn extent(&self) -> usize {
        self.filled.last().map_or(0, |r| r.1 as usize)
    }

    fn move_base_back(&mut self, by: usize) {
        self.buf.splice(0..0, std::iter::repeat_n(0, by));
        let by32 = by as u32;
        for r in &mut self.filled {
            r.0 += by32;
            r.1 += by32;
        }
        self.base = self.base.wrapping_sub(by32);
    }

    /// Copies the parts of `[start, end)` not filled yet (first data wins).
    fn copy_into_gaps(&mut self, start: u32, end: u32, data: &[u8]) {
        let copy = |from: u32, to: u32, buf: &mut Vec<u8>| {
            let (from, to, at) = (from as usize, to as usize, start as usize);
            buf[from..to].copy_from_slice(&data[from - at..to - at]);
        };
        let mut cursor = start;
        for &(fs, fe) in &self.filled {
            if fe <= cursor {
                continue;
            }
            if fs >= end {
                break;
            }
            if fs > cursor {
                copy(cursor, fs.min(end), &mut self.buf);
            }
            cursor = cursor.max(fe);
            if cursor >= end {
                return;
            }
        }
        if cursor < end {
            copy(cursor, end, &mut self.buf);
        }
    }

    fn would_exceed_holes(&self, start: u32, end: u32) -> bool {
        let touching = self
            .filled
            .iter()
            .filter(|r| r.0 <= end && r.1 >= start)
            .count();
        // Adding the range merges every range it touches into one.
        self.filled.len() + 1 - touching > MAX_HOLES
    }

    fn add_range(&mut self, start: u32, end: u32) {
        let (mut start, mut end) = (start, end);
        self.filled.retain(|r| {
            if r.0 <= end && r.1 >= start {
                start = start.min(r.0);
                end = end.max(r.1);
                false
            } else {
                true
            }
        });
        let at = self.filled.partition_point(|r| r.0 < start);
        self.filled.insert(at, (start, end));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_limit_is_never_exceeded() {
        let mut r = Reassembler::new(0, 8, false);
        assert_eq!(r.insert(0, b"0123456789"), Insert::Stored);
        assert_eq!(r.contiguous(), b"01234567");
        assert!(r.is_full());
        assert_eq!(r.insert(8, b"89"), Insert::BeyondLimit);
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
}
