//! Logs: the records the packet path makes, read from the logs a network already keeps, Zeek's
//! (TSV with its `#` header, or JSON lines) and Suricata's EVE JSON.
//!
//! A log line says one thing about one flow: its totals (Zeek `conn`, EVE `flow`), a message
//! seen on it (`ssl`/`tls`, `quic`, `http`), or a record complete in itself (a DNS lookup, a
//! DHCP message, a Kerberos exchange). Each reader ([`zeek`], [`eve`]) turns lines into
//! [`Piece`]s; [`join`] puts the pieces of one flow together by Zeek's `uid` or EVE's
//! `flow_id`, in a bounded window, and hands on the same [`Record`]s the protocol stage makes
//! from packets, which then go through naming, identity, policy, output and the store as
//! theirs do. [`lines`] reads a file's lines, bounded, gzip or not, and [`Format`] tells a
//! file's format from its first line.
//!
//! What a log cannot say is left as the packet path leaves what it did not see: no ECH kind
//! (Zeek and Suricata do not tell GREASE from a real ECH), no JA4 where the log has none, and
//! payload bytes only as the log counts them (see [`eve`] for how EVE's frame bytes become
//! payload bytes).

pub mod eve;
pub mod follow;
pub mod join;
pub mod lines;
pub mod time;
pub mod zeek;

pub use join::{JoinConfig, Joiner};
pub use lines::{LineError, Lines, MAX_LINE};

use crate::capture::Timestamp;
use crate::decode::Transport;
use crate::flow::{EndReason, Endpoint};
use crate::proto::{Protocol, Record, http, tls};

crate::counters! {
    /// What reading logs counts: lines read and refused, and what could not be joined.
    pub struct Counters {
        log_lines: "log lines read",
        log_lines_skipped: "log lines of a kind lantern does not read (other Zeek logs, other EVE event types, Zeek header lines)",
        log_lines_malformed: "log lines that were not valid (cut short, invalid JSON or UTF-8, a field of the wrong type, a header that does not fit)",
        log_lines_too_long: "log lines longer than the line limit, skipped whole",
        log_flows: "flows read from conn or flow lines",
        log_messages_joined: "ssl, tls, quic and http lines joined to their flow's totals",
        log_messages_unjoined: "ssl, tls, quic and http lines whose flow's totals never came within the window: their flow is made from them, with no bytes",
        log_joins_evicted: "flows whose pieces were handed on early because the join window was full",
        log_dns_unanswered: "EVE DNS requests whose response never came (handed on unanswered)",
    }
}

/// A log format lantern reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum Format {
    /// Zeek, tab-separated with its `#` header or JSON lines.
    Zeek,
    /// Suricata's EVE JSON.
    Eve,
}

impl Format {
    /// The format a file's first line shows: a Zeek header, an EVE event (it names an
    /// `event_type`), or a Zeek JSON line (it has a `uid`, or a `ts` and `id.orig_h`).
    pub fn of_first_line(line: &[u8]) -> Option<Format> {
        let line = line.trim_ascii_start();
        if line.starts_with(b"#separator") || line.starts_with(b"#fields") {
            return Some(Format::Zeek);
        }
        if !line.starts_with(b"{") {
            return None;
        }
        let has = |needle: &[u8]| line.windows(needle.len()).any(|w| w == needle);
        if has(b"\"event_type\"") {
            Some(Format::Eve)
        } else if has(b"\"uid\"") || has(b"\"id.orig_h\"") {
            Some(Format::Zeek)
        } else {
            None
        }
    }

    /// Name on the command line and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Zeek => "zeek",
            Format::Eve => "eve",
        }
    }
}

/// Which flow a piece belongs to: Zeek's `uid` (hashed) or EVE's `flow_id`.
pub type Key = u64;

/// The join key of a Zeek `uid`: its FNV-1a hash (uids are random 96-bit strings).
pub fn key_of_uid(uid: &str) -> Key {
    uid.bytes().fold(0xcbf2_9ce4_8422_2325, |h: u64, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A flow's five-tuple as a log states it, the client first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tuple {
    /// The side that opened the flow (Zeek's originator, EVE's source).
    pub client: Endpoint,
    /// The other side.
    pub server: Endpoint,
    /// TCP or UDP.
    pub transport: Transport,
}

/// A flow's totals: a Zeek `conn` line, an EVE `flow` event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Totals {
    /// Its flow.
    pub key: Key,
    /// Endpoints and transport.
    pub tuple: Tuple,
    /// First packet.
    pub first: Timestamp,
    /// Last packet.
    pub last: Timestamp,
    /// Packets up, down.
    pub packets: [u64; 2],
    /// Payload bytes up, down (EVE's frame bytes turned into payload bytes, see [`eve`]).
    pub bytes: [u64; 2],
    /// The protocol the log recognised, as lantern names it.
    pub protocol: Protocol,
    /// Why it ended.
    pub end: EndReason,
}

/// What a message line said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Said {
    /// A TLS ClientHello (Zeek `ssl`, EVE `tls`).
    Tls(tls::ClientHello),
    /// A QUIC Initial's ClientHello (Zeek `quic`, EVE `quic`).
    Quic(tls::ClientHello),
    /// An HTTP request (Zeek `http`, EVE `http`).
    Http(http::Request),
}

/// A message seen on a flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Its flow.
    pub key: Key,
    /// Endpoints and transport.
    pub tuple: Tuple,
    /// When it was seen.
    pub ts: Timestamp,
    /// What it said.
    pub said: Said,
}

/// What one log line gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// A flow's totals.
    Totals(Totals),
    /// A message seen on a flow.
    Message(Message),
    /// A record complete in itself: a DNS lookup, a DHCP message, a Kerberos exchange.
    Record(Record),
}

impl Piece {
    /// When the line was written, about: a flow's totals at its end, anything else when it was
    /// seen. Streams are merged by this time, and the join window runs on it.
    pub fn written(&self) -> Timestamp {
        match self {
            Piece::Totals(t) => t.last,
            Piece::Message(m) => m.ts,
            Piece::Record(r) => r.order_key().0,
        }
    }
}

/// Why a line was not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LineProblem {
    /// Not a kind of line lantern reads.
    #[error("not a log lantern reads")]
    Skipped,
    /// Not valid: the reason.
    #[error("{0}")]
    Malformed(&'static str),
}

/// A reader of one log stream: the lines of one file after another, in order.
pub trait LogReader {
    /// Reads one line (without its newline) into `out`.
    fn line(&mut self, line: &[u8], out: &mut Vec<Piece>) -> Result<(), LineProblem>;

    /// The stream ended: hands on what the reader still holds (EVE's unanswered DNS requests).
    fn finish(&mut self, _out: &mut Vec<Piece>) {}

    /// Its own counters, added to `counters`.
    fn add_counters(&self, _counters: &mut Counters) {}
}

/// A new reader for `format`, for a file named `name` (Zeek's JSON lines say which log they are
/// only by their file's name, unless they carry `_path`). `stream` numbers the EVE streams of a
/// run: Suricata's `flow_id`s are unique within one Suricata's output only, so a flow's key is
/// its `flow_id` with the stream's number in its top byte (0 for the first stream, whose keys
/// are Suricata's own). Zeek's `uid`s are unique across logs, and its keys are theirs.
pub fn reader(format: Format, name: &str, stream: u8) -> Box<dyn LogReader + Send> {
    match format {
        Format::Zeek => Box::new(zeek::ZeekReader::new(name)),
        Format::Eve => Box::new(eve::EveReader::new(stream)),
    }
}
