//! Reading pcap and pcapng files record by record, from a reused buffer, with bounded memory.
//!
//! The buffer is reference-counted so that threaded replay can hand whole buffers to its
//! workers instead of copying each packet out: while anyone else holds the current buffer,
//! the reader goes on in a fresh one (from its pool when one came back) rather than writing
//! over it.
//!
//! Every byte of a file is untrusted: record lengths are checked against [`MAX_RECORD`] before
//! the buffer grows, timestamps are computed with checked arithmetic, and a file that ends in
//! the middle of a record gives [`ReadErrorKind::Truncated`] naming the packet number and the
//! byte offset. Packets read before an error stay valid: the caller has already seen them.
//!
//! This module owns the reader: opening, the buffer and its filling, the file's magic number,
//! and handing on packets. Its children read each format (`pcap`, `pcapng`) and say how
//! reading fails (`error`).

mod error;
mod pcap;
mod pcapng;
#[cfg(test)]
mod tests;

pub use error::{Position, ReadError, ReadErrorKind};

use super::hash::{FileHash, Tap};
use super::{LinkType, RawPacket, Timestamp};
use pcapng::Interface;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The largest record (pcap packet record or pcapng block) accepted: 16 MiB, as libpcap.
pub const MAX_RECORD: usize = 16 * 1024 * 1024;

/// How much is read from the file at a time.
const READ_CHUNK: usize = 1024 * 1024;

/// Which kind of capture file this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Classic libpcap format.
    Pcap {
        /// Records are big-endian.
        big_endian: bool,
        /// Timestamps carry nanoseconds rather than microseconds.
        nanos: bool,
        /// The link type of every packet.
        link: LinkType,
    },
    /// pcapng: the link type is per interface.
    PcapNg,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Format::Pcap {
                big_endian, nanos, ..
            } => write!(
                f,
                "pcap ({}, {})",
                if *big_endian {
                    "big-endian"
                } else {
                    "little-endian"
                },
                if *nanos {
                    "nanoseconds"
                } else {
                    "microseconds"
                }
            ),
            Format::PcapNg => f.write_str("pcapng"),
        }
    }
}

/// Per-format reading state.
enum State {
    Pcap {
        big_endian: bool,
        nanos: bool,
        modified: bool,
        link: LinkType,
    },
    PcapNg {
        big_endian: bool,
        interfaces: Vec<Interface>,
        last_ts: Timestamp,
    },
}

/// Reads one capture file, packet by packet.
pub struct CaptureReader {
    path: PathBuf,
    source: Box<dyn Read + Send>,
    size: Option<u64>,
    buf: Arc<Vec<u8>>,
    /// Buffers given back for reuse (see [`recycle`](Self::recycle)).
    spare: Vec<Vec<u8>>,
    /// Start of the unread bytes in `buf`.
    pos: usize,
    /// End of the valid bytes in `buf`.
    end: usize,
    /// File offset of `buf[0]`.
    buf_offset: u64,
    eof: bool,
    format: Format,
    state: State,
    packets: u64,
    /// Where the bytes read go to be hashed, when the file's hash is wanted.
    tap: Option<Tap>,
}

impl fmt::Debug for CaptureReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaptureReader")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("packets", &self.packets)
            .finish()
    }
}

impl CaptureReader {
    /// Opens a capture file and reads its header.
    pub fn open(path: &Path) -> Result<CaptureReader, ReadError> {
        let err = |kind| ReadError {
            path: path.to_path_buf(),
            kind,
        };
        let file = File::open(path).map_err(|e| err(ReadErrorKind::Io(e)))?;
        let meta = file.metadata().map_err(|e| err(ReadErrorKind::Io(e)))?;
        if meta.is_dir() {
            return Err(err(ReadErrorKind::Io(io::Error::new(
                io::ErrorKind::IsADirectory,
                "is a directory",
            ))));
        }
        Self::from_reader(path, Box::new(file), Some(meta.len()))
    }

    /// Opens a capture file as [`open`](Self::open) does, hashing every byte it reads in a
    /// thread of its own (see [`hash`](super::hash)): call [`end_hash`](Self::end_hash), then
    /// [`FileHash::finish`].
    pub fn open_hashing(path: &Path) -> Result<(CaptureReader, FileHash), ReadError> {
        let err = |kind| ReadError {
            path: path.to_path_buf(),
            kind,
        };
        let file = File::open(path).map_err(|e| err(ReadErrorKind::Io(e)))?;
        let size = file
            .metadata()
            .map_err(|e| err(ReadErrorKind::Io(e)))?
            .len();
        let (hash, tap) = FileHash::start().map_err(|e| err(ReadErrorKind::Io(e)))?;
        let reader = Self::build(path, Box::new(file), Some(size), Some(tap))?;
        Ok((reader, hash))
    }

    /// Reads what is left of the file into the hash (a replay that stopped at a malformed
    /// record still hashes the whole file), and lets the hashing thread finish.
    pub fn end_hash(&mut self) -> Result<(), ReadError> {
        while self.tap.is_some() {
            self.pos = self.end;
            match self.fill(1) {
                Ok(true) => {}
                Ok(false) => self.tap = None,
                Err(e) => {
                    self.tap = None;
                    return Err(ReadError {
                        path: self.path.clone(),
                        kind: ReadErrorKind::Io(e),
                    });
                }
            }
        }
        Ok(())
    }

    /// Reads a capture from any byte source; `name` is used in messages.
    pub fn from_reader(
        name: &Path,
        source: Box<dyn Read + Send>,
        size: Option<u64>,
    ) -> Result<CaptureReader, ReadError> {
        Self::build(name, source, size, None)
    }

    fn build(
        name: &Path,
        source: Box<dyn Read + Send>,
        size: Option<u64>,
        tap: Option<Tap>,
    ) -> Result<CaptureReader, ReadError> {
        let mut reader = CaptureReader {
            path: name.to_path_buf(),
            source,
            size,
            // Small files get a small buffer; it grows (to MAX_RECORD at most) when a record needs it.
            buf: Arc::new(vec![
                0;
                size.map_or(READ_CHUNK, |s| (s as usize)
                    .clamp(4096, READ_CHUNK))
            ]),
            spare: Vec::new(),
            pos: 0,
            end: 0,
            buf_offset: 0,
            eof: false,
            format: Format::PcapNg,
            state: State::PcapNg {
                big_endian: false,
                interfaces: Vec::new(),
                last_ts: Timestamp::default(),
            },
            packets: 0,
            tap,
        };
        reader.read_file_header()?;
        Ok(reader)
    }

    /// The file's path as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The file's size in bytes, when known.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// Bytes consumed so far (the offset of the next record).
    pub fn offset(&self) -> u64 {
        self.buf_offset + self.pos as u64
    }

    /// Packets returned so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Reads the next packet; `Ok(None)` at the clean end of the file.
    pub fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, ReadError> {
        Ok(self.advance()?.map(|slot| self.packet(&slot)))
    }

    /// Reads the next packet and says where it is: [`packet`](Self::packet) gives it, and
    /// [`buffer`](Self::buffer) the buffer that holds it, both borrowing the reader only
    /// immutably.
    pub fn advance(&mut self) -> Result<Option<PacketSpan>, ReadError> {
        let found = match self.state {
            State::Pcap { .. } => self.next_pcap_record(),
            State::PcapNg { .. } => self.next_pcapng_packet(),
        };
        match found {
            Ok(Some((ts, link, start, len, wire_len))) => {
                self.packets += 1;
                Ok(Some(PacketSpan {
                    ts,
                    link,
                    start,
                    len,
                    wire_len,
                }))
            }
            Ok(None) => Ok(None),
            Err(kind) => Err(ReadError {
                path: self.path.clone(),
                kind,
            }),
        }
    }

    /// The packet the latest [`advance`](Self::advance) found.
    pub fn packet(&self, slot: &PacketSpan) -> RawPacket<'_> {
        RawPacket {
            ts: slot.ts,
            link: slot.link,
            data: &self.buf[slot.start..slot.start + slot.len],
            wire_len: slot.wire_len,
        }
    }

    /// The buffer that holds the latest packet. Holding a clone makes the reader go on in
    /// another buffer when it next needs to read.
    pub fn buffer(&self) -> &Arc<Vec<u8>> {
        &self.buf
    }

    /// Gives back a buffer for reuse (at most a few are kept).
    pub fn recycle(&mut self, buffer: Vec<u8>) {
        if self.spare.len() < 4 {
            self.spare.push(buffer);
        }
    }

    fn position(&self) -> Position {
        Position {
            packet: self.packets + 1,
            offset: self.offset(),
        }
    }

    /// Makes at least `need` unread bytes available; `Ok(false)` if the file ends first.
    fn fill(&mut self, need: usize) -> io::Result<bool> {
        if self.end - self.pos >= need {
            return Ok(true);
        }
        if Arc::get_mut(&mut self.buf).is_none() {
            // Someone still holds the buffer: go on in another, with the unread bytes.
            // A recycled buffer is written over as it is, without zeroing it first.
            let returned = || self.tap.as_ref()?.returned.try_recv().ok();
            let mut fresh = self.spare.pop().or_else(returned).unwrap_or_default();
            if fresh.len() < self.buf.len() {
                fresh.resize(self.buf.len(), 0);
            }
            fresh[..self.end - self.pos].copy_from_slice(&self.buf[self.pos..self.end]);
            self.buf = Arc::new(fresh);
            self.buf_offset += self.pos as u64;
            self.end -= self.pos;
            self.pos = 0;
        }
        let buf = Arc::get_mut(&mut self.buf).expect("the reader's own buffer");
        if self.pos > 0 {
            buf.copy_within(self.pos..self.end, 0);
            self.buf_offset += self.pos as u64;
            self.end -= self.pos;
            self.pos = 0;
        }
        if buf.len() < need {
            buf.resize(need.next_power_of_two(), 0);
        }
        let start = self.end;
        while self.end < need && !self.eof {
            match self.source.read(&mut buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(tap) = &self.tap
            && self.end > start
        {
            // The hashing thread holds the buffer now: the next read goes into another.
            let run = (Arc::clone(&self.buf), start..self.end);
            if tap.runs.send(run).is_err() {
                self.tap = None;
            }
        }
        Ok(self.end >= need)
    }

    /// Like [`fill`](Self::fill), but a short file is an error naming this position.
    fn require(&mut self, need: usize) -> Result<(), ReadErrorKind> {
        if self.fill(need)? {
            Ok(())
        } else {
            Err(ReadErrorKind::Truncated {
                at: self.position(),
                needed: need,
                available: self.end - self.pos,
            })
        }
    }

    fn malformed(&self, reason: impl Into<String>) -> ReadErrorKind {
        ReadErrorKind::Malformed {
            at: self.position(),
            reason: reason.into(),
        }
    }

    fn read_file_header(&mut self) -> Result<(), ReadError> {
        self.read_file_header_kind().map_err(|kind| ReadError {
            path: self.path.clone(),
            kind,
        })
    }

    fn read_file_header_kind(&mut self) -> Result<(), ReadErrorKind> {
        self.fill(4)?;
        let have = self.end - self.pos;
        if have == 0 {
            return Err(ReadErrorKind::Empty);
        }
        let head = &self.buf[..have.min(4)];
        match head {
            [0x0A, 0x0D, 0x0D, 0x0A] => {
                self.format = Format::PcapNg;
                Ok(())
            }
            [0xD4, 0xC3, 0xB2, 0xA1]
            | [0xA1, 0xB2, 0xC3, 0xD4]
            | [0x4D, 0x3C, 0xB2, 0xA1]
            | [0xA1, 0xB2, 0x3C, 0x4D]
            | [0x34, 0xCD, 0xB2, 0xA1]
            | [0xA1, 0xB2, 0xCD, 0x34] => self.read_pcap_header(),
            _ => Err(ReadErrorKind::NotCapture(
                head.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            )),
        }
    }
}

/// Asks the CPU to bring the first two cache lines of `bytes` (the next record: its header
/// and the start of its packet) closer while this packet is processed.
#[inline]
fn prefetch(bytes: Option<&[u8]>) {
    #[cfg(target_arch = "x86_64")]
    if let Some(bytes) = bytes {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        for line in bytes.chunks(64).take(2) {
            // SAFETY: SSE is part of every x86_64 CPU, and a prefetch only hints: it reads
            // nothing and cannot fault (the address is in the buffer anyway).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
        }
    }
}

/// Where a packet is in the reader's buffer, and what its record says.
#[derive(Clone, Copy, Debug)]
pub struct PacketSpan {
    /// Capture time.
    pub ts: Timestamp,
    /// Link type.
    pub link: LinkType,
    /// Offset of the captured bytes in [`CaptureReader::buffer`].
    pub start: usize,
    /// Captured length.
    pub len: usize,
    /// Length on the wire.
    pub wire_len: u32,
}

/// `(timestamp, link type, data start in the buffer, captured length, wire length)`.
type PacketSlot = (Timestamp, LinkType, usize, usize, u32);
