//! The interfaces of the dissectors, and the registration they share.
//!
//! Every dissector is a unit type implementing one of two traits in its own file, plus one
//! line in the registration table (`dissectors!` in `proto/mod.rs`), as Suricata registers
//! every parser, UDP ones too, through one structure:
//!
//! - a [`StreamDissector`] is recognised from the first bytes of a TCP client's stream, on any
//!   port (TLS, MCP over HTTP, HTTP), and its first message is kept for the flow; the table's
//!   order is the order they are probed in: the first that recognises the bytes takes the flow,
//!   and one that needs more bytes makes the flow wait;
//! - a [`PortDissector`] is recognised by a port on either side (DNS, DHCP, Kerberos), carries
//!   messages both ways, over UDP a datagram each and over TCP framed by a length prefix, and
//!   hands on records of its own (a DNS lookup joins a query and its response); the framework
//!   (`proto/inspect.rs`) reassembles each TCP direction, frames and hands over each message,
//!   and tells it when the flow ends.
//!
//! From a table line the crate generates, with no dynamic dispatch (each use is a `match` over
//! the registered dissectors): the [`Protocol`](super::Protocol) variant and its name in
//! events; for a stream dissector the variant of [`Message`](super::Message) (boxed, so
//! per-flow state does not grow with the largest message), the probing chain, and its two
//! counters (parsed, malformed) in [`Counters`](super::Counters); for a port dissector its port
//! recognition, its per-flow state's slot in the flow, its per-worker state, the dispatch of
//! its messages and of the flow's end, its [`Record`](super::Record) variant and its own
//! counters, composed into the stage's. QUIC, tried on any other UDP flow, is the framework's.
//!
//! It also holds the flow's evidence vocabulary the dissectors speak in: [`NameSource`], how
//! the name a message gives was known, and [`EchKind`], what a ClientHello's ECH extension was
//! taken for (naming decides it; the TLS dissector's fields show it).

use super::{Counters, Origin, Parsed, ProtoConfig, Record};
use crate::flow::Direction;
use serde::Serialize;

crate::vocabulary! {
    /// How a flow's `server_name` was known; the members in order of precedence.
    pub enum NameSource {
        /// The TLS ClientHello's server_name extension.
        TlsSni = "tls_sni",
        /// The QUIC Initial's ClientHello server_name extension.
        QuicSni = "quic_sni",
        /// The HTTP/1.x Host header.
        HttpHost = "http_host",
        /// A DNS answer the client received for the server's address.
        DnsAnswer = "dns_answer",
        /// Not known.
        None = "none",
    }
}

crate::vocabulary! {
    /// What a ClientHello's Encrypted Client Hello extension was taken for.
    pub enum EchKind {
        /// No ECH extension (or no ClientHello).
        None = "none",
        /// An ECH extension beside the real name: the client resolved its SNI to the address.
        Grease = "grease",
        /// Real ECH: the SNI is the provider's outer name.
        Real = "real",
        /// An ECH extension and no DNS evidence either way: the SNI is kept.
        Unknown = "unknown",
    }
}

/// A protocol recognised from the start of a TCP client's stream, whose first message is kept
/// for the flow.
pub trait StreamDissector {
    /// What it parses from the start of the stream.
    type Message;
    /// Its fields in the flow event, under the key [`StreamDissector::NAME`].
    type Event<'a>: Serialize
    where
        Self: 'a;
    /// Its name in events: the flow's `protocol`, and the key of its fields.
    const NAME: &'static str;
    /// How the server name it gives was known.
    const NAME_SOURCE: NameSource;

    /// Whether `stream` starts like this protocol; `None` while too short to tell. Cheap: it
    /// runs on the first segment of every TCP flow that the dissectors before it declined.
    fn recognise(stream: &[u8]) -> Option<bool>;

    /// Parses the message at the start of a stream it recognised.
    fn parse(stream: &[u8]) -> Parsed<Self::Message>;

    /// The server name the message gives the flow, if any.
    fn server_name(message: &Self::Message) -> Option<&str>;

    /// Its fields in the flow event; `ech` is what naming took the flow's ECH extension for.
    fn event(message: &Self::Message, ech: EchKind) -> Self::Event<'_>;
}

/// Where a port dissector's message was seen, and what it may use: the stage's limits, where
/// it hands its records and the stage's counters.
pub struct Context<'c> {
    /// The flow, the packet, its time and the flow's endpoints.
    pub at: Origin,
    /// The message's direction.
    pub direction: Direction,
    /// The stage's limits.
    pub config: &'c ProtoConfig,
    /// Where it hands on records.
    pub records: &'c mut Vec<Record>,
    /// The stage's counters.
    pub counters: &'c mut Counters,
}

/// How the start of a TCP direction frames a message: the lengths of its prefix and of the
/// message; `None` while incomplete, `Err` when it is no valid prefix.
pub type Frame = Option<Result<(usize, usize), ()>>;

/// A protocol recognised by its port on either side of a flow, whose messages go both ways and
/// whose records are its own.
pub trait PortDissector {
    /// Its name in events (the flow's `protocol`).
    const NAME: &'static str;
    /// Ports, on either side, that make a UDP flow this protocol.
    const UDP_PORTS: &'static [u16];
    /// Ports, on either side, that make a TCP flow this protocol.
    const TCP_PORTS: &'static [u16];
    /// What one flow keeps between messages (pending queries, a request awaiting its reply):
    /// boxed in the flow, while it is inspected.
    type Flow: Default + std::fmt::Debug;
    /// What one worker keeps for all its flows (a budget of pending queries).
    type Worker: Default + std::fmt::Debug;
    /// What it hands on (its variant of [`Record`]).
    type Record;

    /// Over TCP, how the message at the start of `bytes` is framed.
    fn frame(bytes: &[u8]) -> Frame;

    /// One message (a UDP datagram, or a framed message over TCP): parse it, count it, and
    /// hand on what it completes; whether it was a message of this protocol (the flow's
    /// `protocol` is set by the first that is).
    fn message(
        bytes: &[u8],
        flow: &mut Self::Flow,
        worker: &mut Self::Worker,
        cx: Context<'_>,
    ) -> bool;

    /// A TCP direction whose framing broke: counted as a malformed message.
    fn malformed_frame(cx: Context<'_>);

    /// The flow ended: hand on what is pending.
    fn end(flow: Self::Flow, worker: &mut Self::Worker, cx: Context<'_>);

    /// Where a record of it goes in the order records are handed on in: its time and packet.
    fn order(record: &Self::Record) -> (crate::capture::Timestamp, u64);
}
