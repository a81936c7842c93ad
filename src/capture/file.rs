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

use super::hash::{FileHash, Tap};
use super::{LinkType, RawPacket, Timestamp};
use pcap_parser::pcapng::Block;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The largest record (pcap packet record or pcapng block) accepted: 16 MiB, as libpcap.
pub const MAX_RECORD: usize = 16 * 1024 * 1024;

/// How much is read from the file at a time.
const READ_CHUNK: usize = 1024 * 1024;

/// Block type of a pcapng Section Header Block (the same in both byte orders).
const PCAPNG_SHB: u32 = 0x0A0D_0D0A;
/// pcapng byte-order magic as written by a little-endian writer, read little-endian.
const PCAPNG_BOM: u32 = 0x1A2B_3C4D;

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

/// An error reading a capture file; displays as `PATH: what went wrong`.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct ReadError {
    /// The file being read.
    pub path: PathBuf,
    /// What went wrong.
    pub kind: ReadErrorKind,
}

/// Where in a file something went wrong: the packet being read and its byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// The 1-based number of the packet being read (the packets before it were read).
    pub packet: u64,
    /// Byte offset of the record in the file.
    pub offset: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "packet {} at offset {}", self.packet, self.offset)
    }
}

/// The ways reading a capture file fails.
#[derive(Debug, thiserror::Error)]
pub enum ReadErrorKind {
    /// The operating system refused (no such file, permission denied, a directory...).
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The file is empty.
    #[error("the file is empty, not a capture")]
    Empty,
    /// The file does not start with a pcap or pcapng magic number.
    #[error("not a pcap or pcapng file (it starts with {0})")]
    NotCapture(String),
    /// The file ends in the middle of a header or record.
    #[error("cut short: {at} needs {needed} bytes but the file ends {available} bytes later")]
    Truncated {
        /// Where the incomplete record starts.
        at: Position,
        /// Bytes the record needs.
        needed: usize,
        /// Bytes the file still had.
        available: usize,
    },
    /// A header or record is invalid.
    #[error("{at}: {reason}")]
    Malformed {
        /// Where the bad record starts.
        at: Position,
        /// What is wrong with it.
        reason: String,
    },
}

/// One pcapng interface: its link type and how to read its timestamps.
#[derive(Clone, Copy, Debug)]
struct Interface {
    link: LinkType,
    /// Timestamp units per second.
    units_per_sec: u64,
    /// Seconds added to every timestamp.
    offset_secs: i64,
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

    fn read_pcap_header(&mut self) -> Result<(), ReadErrorKind> {
        const HEADER: usize = 24;
        if !self.fill(HEADER)? {
            return Err(ReadErrorKind::Truncated {
                at: Position {
                    packet: 0,
                    offset: 0,
                },
                needed: HEADER,
                available: self.end,
            });
        }
        let (_, header) = pcap_parser::parse_pcap_header(&self.buf[..HEADER])
            .map_err(|e| self.malformed(format!("bad pcap file header: {e:?}")))?;
        let big_endian = header.is_bigendian();
        let nanos = header.is_nanosecond_precision();
        let modified = matches!(
            self.buf[..4],
            [0x34, 0xCD, 0xB2, 0xA1] | [0xA1, 0xB2, 0xCD, 0x34]
        );
        let link = LinkType(header.network.0 as u32);
        self.pos = HEADER;
        self.format = Format::Pcap {
            big_endian,
            nanos,
            link,
        };
        self.state = State::Pcap {
            big_endian,
            nanos,
            modified,
            link,
        };
        Ok(())
    }

    /// One pcap record: `(ts, link, data start in buf, captured length, wire length)`.
    fn next_pcap_record(&mut self) -> Result<Option<PacketSlot>, ReadErrorKind> {
        let State::Pcap {
            big_endian,
            nanos,
            modified,
            link,
        } = self.state
        else {
            unreachable!("pcap state")
        };
        let header_len = if modified { 24 } else { 16 };
        if !self.fill(header_len)? {
            if self.end == self.pos {
                return Ok(None);
            }
            return Err(ReadErrorKind::Truncated {
                at: self.position(),
                needed: header_len,
                available: self.end - self.pos,
            });
        }
        let word = |i: usize| {
            let b: [u8; 4] = self.buf[self.pos + i..self.pos + i + 4]
                .try_into()
                .expect("4 bytes");
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let caplen = word(8) as usize;
        if caplen > MAX_RECORD {
            return Err(self.malformed(format!(
                "record claims {caplen} captured bytes, more than the {MAX_RECORD}-byte limit"
            )));
        }
        // The record header (the first 16 bytes of both layouts) is read here rather than by
        // pcap_parser: it is four words, the length is checked above, and this runs for every
        // packet.
        let frac = i64::from(word(4));
        let ts = Timestamp::from_parts(i64::from(word(0)), if nanos { frac } else { frac * 1000 });
        let wire_len = word(12).max(caplen as u32);
        self.require(header_len + caplen)?;
        let start = self.pos + header_len;
        self.pos += header_len + caplen;
        prefetch(self.buf.get(self.pos..));
        Ok(Some((ts, link, start, caplen, wire_len)))
    }

    /// The next packet of a pcapng file, skipping blocks that carry none.
    fn next_pcapng_packet(&mut self) -> Result<Option<PacketSlot>, ReadErrorKind> {
        loop {
            if !self.fill(8)? {
                if self.end == self.pos {
                    return Ok(None);
                }
                return Err(ReadErrorKind::Truncated {
                    at: self.position(),
                    needed: 8,
                    available: self.end - self.pos,
                });
            }
            let block_len = self.pcapng_block_len()?;
            self.require(block_len)?;
            if let Some(packet) = self.pcapng_block(block_len)? {
                return Ok(Some(packet));
            }
        }
    }

    /// Reads the length of the block at `pos`, switching byte order at a section header.
    fn pcapng_block_len(&mut self) -> Result<usize, ReadErrorKind> {
        let at = self.pos;
        let le = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes"));
        let block_type = le(&self.buf[at..at + 4]);
        if block_type == PCAPNG_SHB {
            self.require(12)?;
            let bom = le(&self.buf[at + 8..at + 12]);
            let big_endian = match bom {
                PCAPNG_BOM => false,
                0x4D3C_2B1A => true,
                _ => {
                    return Err(self.malformed(format!(
                        "section header with bad byte-order magic {bom:#010x}"
                    )));
                }
            };
            if let State::PcapNg {
                big_endian: order, ..
            } = &mut self.state
            {
                *order = big_endian;
            }
        }
        let State::PcapNg { big_endian, .. } = self.state else {
            unreachable!("pcapng state")
        };
        let raw: [u8; 4] = self.buf[at + 4..at + 8].try_into().expect("4 bytes");
        let len = if big_endian {
            u32::from_be_bytes(raw)
        } else {
            u32::from_le_bytes(raw)
        } as usize;
        if len < 12 || !len.is_multiple_of(4) {
            return Err(self.malformed(format!(
                "block length {len} is invalid (at least 12, a multiple of 4)"
            )));
        }
        if len > MAX_RECORD {
            return Err(self.malformed(format!(
                "block of {len} bytes is larger than the {MAX_RECORD}-byte limit"
            )));
        }
        Ok(len)
    }

    /// Interprets the complete block at `pos`; returns the packet it carries, if any.
    fn pcapng_block(&mut self, len: usize) -> Result<Option<PacketSlot>, ReadErrorKind> {
        let State::PcapNg { big_endian, .. } = self.state else {
            unreachable!("pcapng state")
        };
        let block = &self.buf[self.pos..self.pos + len];
        let parsed = if big_endian {
            pcap_parser::pcapng::parse_block_be(block)
        } else {
            pcap_parser::pcapng::parse_block_le(block)
        };
        let block = match parsed {
            Ok((_, block)) => block,
            Err(e) => return Err(self.malformed(format!("bad pcapng block: {e:?}"))),
        };
        let start = self.pos;
        let packet = match block {
            Block::SectionHeader(_) => {
                if let State::PcapNg { interfaces, .. } = &mut self.state {
                    interfaces.clear();
                }
                None
            }
            Block::InterfaceDescription(idb) => {
                let units_per_sec = idb.ts_resolution().filter(|&u| u > 0).ok_or_else(|| {
                    self.malformed(format!(
                        "interface with invalid timestamp resolution {:#04x}",
                        idb.if_tsresol
                    ))
                })?;
                let iface = Interface {
                    link: LinkType(idb.linktype.0 as u32),
                    units_per_sec,
                    offset_secs: idb.ts_offset(),
                };
                if let State::PcapNg { interfaces, .. } = &mut self.state {
                    if interfaces.len() >= 65_536 {
                        return Err(self.malformed("more than 65536 interfaces"));
                    }
                    interfaces.push(iface);
                }
                None
            }
            Block::EnhancedPacket(epb) => {
                let (caplen, wire_len) = (epb.caplen as usize, epb.origlen.max(epb.caplen));
                let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let iface = self.interface(epb.if_id)?;
                let ts = iface_time(&iface, units);
                if let State::PcapNg { last_ts, .. } = &mut self.state {
                    *last_ts = ts;
                }
                // EPB layout: type, length, interface, ts high, ts low, caplen, origlen, data.
                Some((ts, iface.link, start + 28, caplen, wire_len))
            }
            Block::SimplePacket(spb) => {
                let iface = self.interface(0)?;
                let caplen = (spb.origlen as usize).min(len - 16);
                let State::PcapNg { last_ts, .. } = self.state else {
                    unreachable!("pcapng state")
                };
                // SPB layout: type, length, original length, data. It has no timestamp.
                Some((last_ts, iface.link, start + 12, caplen, spb.origlen))
            }
            _ => None,
        };
        self.pos += len;
        prefetch(self.buf.get(self.pos..));
        Ok(packet)
    }

    fn interface(&self, id: u32) -> Result<Interface, ReadErrorKind> {
        let State::PcapNg { interfaces, .. } = &self.state else {
            unreachable!("pcapng state")
        };
        interfaces.get(id as usize).copied().ok_or_else(|| {
            self.malformed(format!(
                "packet on interface {id}, but the section describes {}",
                interfaces.len()
            ))
        })
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

/// Converts a pcapng timestamp in interface units to a [`Timestamp`], saturating.
fn iface_time(iface: &Interface, units: u64) -> Timestamp {
    let per_sec = u128::from(iface.units_per_sec);
    let secs = u128::from(units) / per_sec;
    let nanos = (u128::from(units) % per_sec) * 1_000_000_000 / per_sec;
    let secs = i64::try_from(secs).unwrap_or(i64::MAX);
    Timestamp::from_parts(secs.saturating_add(iface.offset_secs), nanos as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn reader(bytes: Vec<u8>) -> Result<CaptureReader, ReadError> {
        let size = bytes.len() as u64;
        CaptureReader::from_reader(
            Path::new("test.pcap"),
            Box::new(Cursor::new(bytes)),
            Some(size),
        )
    }

    /// A little-endian microsecond pcap header for `link`.
    fn pcap_header(link: u32) -> Vec<u8> {
        let mut h = vec![0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4, 0];
        h.extend_from_slice(&[0; 8]);
        h.extend_from_slice(&65535u32.to_le_bytes());
        h.extend_from_slice(&link.to_le_bytes());
        h
    }

    fn pcap_record(sec: u32, usec: u32, data: &[u8], wire: u32) -> Vec<u8> {
        let mut r = Vec::new();
        for v in [sec, usec, data.len() as u32, wire] {
            r.extend_from_slice(&v.to_le_bytes());
        }
        r.extend_from_slice(data);
        r
    }

    #[test]
    fn empty_and_foreign_files_are_refused() {
        assert!(matches!(
            reader(vec![]).unwrap_err().kind,
            ReadErrorKind::Empty
        ));
        let err = reader(b"#!/bin/sh\necho hi\n".to_vec()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "test.pcap: not a pcap or pcapng file (it starts with 23212f62)"
        );
    }

    #[test]
    fn pcap_records_and_a_record_cut_short() {
        let mut file = pcap_header(1);
        file.extend(pcap_record(1_700_000_000, 500_000, &[1, 2, 3], 60));
        file.extend(pcap_record(1_700_000_001, 0, &[4; 10], 10));
        file.truncate(file.len() - 4);
        let mut r = reader(file).unwrap();
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!(p.ts, Timestamp::from_parts(1_700_000_000, 500_000_000));
        assert_eq!(
            (p.data, p.wire_len, p.link),
            (&[1u8, 2, 3][..], 60, LinkType::ETHERNET)
        );
        let err = r.next_packet().unwrap_err();
        assert_eq!(
            err.to_string(),
            "test.pcap: cut short: packet 2 at offset 43 needs 26 bytes but the file ends 22 bytes later"
        );
    }

    #[test]
    fn an_absurd_record_length_is_malformed_not_an_allocation() {
        let mut file = pcap_header(1);
        let mut rec = pcap_record(1, 0, &[], 0);
        rec[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        file.extend(rec);
        let err = reader(file).unwrap().next_packet().unwrap_err();
        assert!(
            err.to_string()
                .contains("packet 1 at offset 24: record claims 4294967295 captured bytes"),
            "{err}"
        );
    }

    #[test]
    fn pcapng_packet_before_any_interface_is_malformed() {
        // SHB (28 bytes), then an EPB that names interface 0 which was never described.
        let mut file = Vec::new();
        file.extend_from_slice(&PCAPNG_SHB.to_le_bytes());
        file.extend_from_slice(&28u32.to_le_bytes());
        file.extend_from_slice(&PCAPNG_BOM.to_le_bytes());
        file.extend_from_slice(&[1, 0, 0, 0]);
        file.extend_from_slice(&(-1i64).to_le_bytes());
        file.extend_from_slice(&28u32.to_le_bytes());
        let mut epb = Vec::new();
        for v in [6u32, 32, 0, 0, 0, 0, 0, 32] {
            epb.extend_from_slice(&v.to_le_bytes());
        }
        file.extend(epb);
        let err = reader(file).unwrap().next_packet().unwrap_err();
        assert!(
            err.to_string()
                .contains("packet on interface 0, but the section describes 0"),
            "{err}"
        );
    }

    #[test]
    fn pcapng_timestamps_honour_resolution_and_offset() {
        let iface = Interface {
            link: LinkType::ETHERNET,
            units_per_sec: 1_000_000,
            offset_secs: 10,
        };
        assert_eq!(
            iface_time(&iface, 1_500_000),
            Timestamp::from_parts(11, 500_000_000)
        );
        let binary = Interface {
            units_per_sec: 1 << 10,
            offset_secs: 0,
            ..iface
        };
        assert_eq!(
            iface_time(&binary, 1024 + 512),
            Timestamp::from_parts(1, 500_000_000)
        );
        let huge = Interface {
            units_per_sec: 1,
            offset_secs: i64::MAX,
            ..iface
        };
        assert_eq!(iface_time(&huge, u64::MAX), Timestamp(i64::MAX));
    }
}
