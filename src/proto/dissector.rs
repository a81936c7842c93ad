//! The interface of a stream dissector: a protocol that a TCP flow is recognised by from the
//! first bytes of the client's stream, on any port (TLS, HTTP).
//!
//! A dissector is a unit type implementing [`StreamDissector`] in its own file, plus one line
//! in the registration table (`stream_dissectors!` in `proto/mod.rs`), whose order is the
//! order the dissectors are probed in: the first that recognises the bytes takes the flow, and
//! one that needs more bytes makes the flow wait. From that line the crate generates, with no
//! dynamic dispatch (each use is a `match` over the registered dissectors):
//!
//! - the [`Protocol`](super::Protocol) variant and its name in events;
//! - the variant of [`Message`](super::Message), how a flow holds what was parsed (boxed, so
//!   per-flow state does not grow with the largest message);
//! - the probing chain over the start of a client's stream, and the counting of parsed and
//!   malformed messages;
//! - the dissector's two counters in [`Counters`](super::Counters), exported by name
//!   like every counter, the malformed one also as a parse error in the daemon's status;
//! - the server name the message gives a flow, and its fields in the flow event.
//!
//! It also holds the flow's evidence vocabulary the dissectors speak in: [`NameSource`], how
//! the name a message gives was known, and [`EchKind`], what a ClientHello's ECH extension was
//! taken for (naming decides it; the TLS dissector's fields show it).
//!
//! Protocols recognised by port (DNS, DHCP, Kerberos) and QUIC are not stream dissectors:
//! they carry many messages per flow, both ways, and hand on records of their own (a DNS
//! lookup joins a query and its response), which a first-message interface does not describe.

use super::Parsed;
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
