//! Proto: what each flow says about itself, from its bytes.
//!
//! This stage owns the dissectors, each in its own file and registered by one line in
//! [`dissectors!`] (the interfaces are in [`dissector`]): the stream dissectors [`tls`]
//! ClientHello, [`mcp`] and [`http`] requests, recognised from the start of a TCP client's
//! stream on any port, and the port dissectors [`dns`], [`dhcp`] and [`kerberos`], recognised by
//! their ports; QUIC ([`quic`]) is tried on any other UDP flow, and plaintext HTTP goes on to
//! [`requests`], every request of the connection. The framework that runs them over a flow's
//! packets, with the bounded [`stream`] reassembly they share, is [`inspect`].
//!
//! The stage hands on [`Record`]s: one [`FlowRecord`] per ended flow (and an interim one for a
//! flow open past `--active-timeout`), and the port dissectors' own: one DNS lookup per query
//! and response joined, one DHCP message, one Kerberos exchange per request and reply joined.

pub mod dhcp;
pub mod dissector;
pub mod dns;
pub mod http;
mod inspect;
pub mod kerberos;
pub mod mcp;
pub mod quic;
mod record;
pub mod requests;
pub mod stream;
pub mod tls;

pub use dhcp::DhcpRecord;
pub use dissector::{EchKind, NameSource};
pub use dns::DnsRecord;
pub use inspect::{FlowState, Inspector, Seen};
pub use kerberos::{KerberosRecord, KrbOutcome};
pub use record::{FlowRecord, Origin};

use crate::capture::Timestamp;
use crate::decode::Transport;
use dissector::{Context, PortDissector, StreamDissector};
use serde::{Serialize, Serializer};

/// The outcome of parsing the start of a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed<T> {
    /// The message is complete and parsed.
    Complete(T),
    /// More bytes are needed.
    Incomplete,
    /// The bytes cannot be this message.
    Malformed(&'static str),
}

/// The registration table: every dissector, one entry each.
///
/// `stream` lists the stream dissectors in the order they are probed: the first that
/// recognises the start of a client's stream takes the flow, and one that needs more bytes to
/// tell makes the flow wait. TLS comes before HTTP, which takes nothing but a request method
/// and would otherwise be asked first for nothing. An entry names the [`Protocol`] (and
/// [`Message`]) variant, the [`StreamDissector`], and its two counters, parsed and malformed,
/// with their help text (they become [`Counters`] fields of those names).
///
/// `port` lists the port dissectors in the order their ports are tried. An entry names the
/// [`Protocol`] (and [`Record`]) variant with the snake-case name of its per-worker state,
/// the [`PortDissector`], the type of its records, and its counters with their help text.
///
/// Called with the name of a macro, it hands that macro the table: it generates the
/// protocols, messages, the probing chain, the port dispatch, the records and the counters.
macro_rules! dissectors {
    ($then:ident) => {
        $then! {
            stream {
                Tls: $crate::proto::tls::Tls,
                    tls_client_hellos: "TLS ClientHellos parsed",
                    tls_malformed: "TLS streams whose ClientHello was malformed";
                Mcp: $crate::proto::mcp::McpOverHttp,
                    mcp_requests: "MCP requests over plaintext HTTP parsed",
                    mcp_malformed: "MCP requests whose head could not be parsed again";
                Http: $crate::proto::http::Http,
                    http_requests: "HTTP/1.x requests parsed",
                    http_malformed: "HTTP streams whose request head was malformed";
            }
            port {
                Dns(dns): $crate::proto::dns::Dns => $crate::proto::dns::DnsRecord {
                    dns_messages: "DNS messages parsed",
                    dns_malformed: "DNS messages that were malformed",
                    dns_truncated: "DNS responses whose answers were cut short; the answers before the cut are kept",
                    dns_unanswered: "DNS queries that got no response",
                    dns_unmatched_responses: "DNS responses without a query seen in the same flow",
                    dns_pending_dropped: "DNS queries not held for their response: a flow's oldest, or one past the worker's limit",
                };
                Dhcp(dhcp): $crate::proto::dhcp::Dhcp => Box<$crate::proto::dhcp::DhcpRecord> {
                    dhcp_messages: "DHCPv4 and DHCPv6 messages parsed",
                    dhcp_malformed: "DHCP datagrams that were not valid DHCP messages",
                    dhcp_bad_options: "DHCP options skipped because they were malformed (the rest of the message counts)",
                };
                Kerberos(kerberos): $crate::proto::kerberos::Kerberos
                    => Box<$crate::proto::kerberos::KerberosRecord> {
                    kerberos_messages: "Kerberos KDC messages parsed",
                    kerberos_malformed: "Kerberos messages whose ASN.1 or TCP record marker was malformed (one longer than --reassembly-limit counts as tcp_reassembly_gave_up)",
                    kerberos_refused: "Kerberos requests the KDC answered with an error",
                    kerberos_unanswered: "Kerberos requests that got no reply in their flow",
                };
            }
        }
    };
}

/// What the table generates; see [`dissectors!`].
macro_rules! generate {
    (
        stream {
            $($variant:ident: $dissector:ty, $parsed:ident: $parsed_help:literal,
                $malformed:ident: $malformed_help:literal;)*
        }
        port {
            $($port:ident($state:ident): $port_dissector:ty => $record:ty {
                $($counter:ident: $counter_help:literal,)*
            };)*
        }
    ) => {
        /// The application protocol of a flow, as far as lantern recognised it.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Protocol {
            /// Not recognised.
            #[default]
            Unknown,
            $(#[doc = concat!("Recognised by its stream dissector (", stringify!($variant), ").")]
            $variant,)*
            $(#[doc = concat!("Recognised by its port dissector (", stringify!($port), ").")]
            $port,)*
            /// QUIC (IETF, or Google's).
            Quic,
        }

        impl Protocol {
            /// Name in events.
            pub fn name(self) -> &'static str {
                match self {
                    Protocol::Unknown => "unknown",
                    $(Protocol::$variant => <$dissector as StreamDissector>::NAME,)*
                    $(Protocol::$port => <$port_dissector as PortDissector>::NAME,)*
                    Protocol::Quic => "quic",
                }
            }
        }

        /// The first message of a flow, as its stream dissector parsed it (a QUIC flow's
        /// ClientHello is a [`Message::Tls`]). Boxed: most flows have none, and the flow's
        /// state stays one pointer and a tag whatever the messages' sizes.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum Message {
            $(#[doc = concat!("Parsed by its stream dissector (", stringify!($variant), ").")]
            $variant(Box<<$dissector as StreamDissector>::Message>),)*
        }

        impl Message {
            /// The protocol whose dissector parsed it.
            pub fn protocol(&self) -> Protocol {
                match self {
                    $(Message::$variant(_) => Protocol::$variant,)*
                }
            }

            /// The server name it gives its flow, if any.
            pub fn server_name(&self) -> Option<&str> {
                match self {
                    $(Message::$variant(m) => <$dissector as StreamDissector>::server_name(m),)*
                }
            }

            /// How that name was known.
            pub fn name_source(&self) -> NameSource {
                match self {
                    $(Message::$variant(_) => <$dissector as StreamDissector>::NAME_SOURCE,)*
                }
            }
        }

        impl Serialize for MessageEvent<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut map = s.serialize_map(Some(1))?;
                match self.message {
                    $(Message::$variant(m) => map.serialize_entry(
                        <$dissector as StreamDissector>::NAME,
                        &<$dissector as StreamDissector>::event(m, self.ech),
                    )?,)*
                }
                map.end()
            }
        }

        /// Probes the start of a client's stream with each stream dissector in turn.
        fn first_message(bytes: &[u8], counters: &mut Counters) -> Opening {
            $(match <$dissector as StreamDissector>::recognise(bytes) {
                None => return Opening::Wait,
                Some(true) => {
                    return match <$dissector as StreamDissector>::parse(bytes) {
                        Parsed::Complete(m) => {
                            counters.$parsed += 1;
                            Opening::Parsed(Message::$variant(Box::new(m)))
                        }
                        Parsed::Incomplete => Opening::Wait,
                        Parsed::Malformed(_) => {
                            counters.$malformed += 1;
                            Opening::Malformed(Protocol::$variant)
                        }
                    };
                }
                Some(false) => {}
            })*
            Opening::Unknown
        }

        /// Each stream dissector's count of malformed messages, by protocol name, in probing
        /// order (the daemon reports them as parse errors).
        pub fn stream_malformed(
            c: &Counters,
        ) -> [(&'static str, u64); [$(stringify!($variant)),*].len()] {
            [$((<$dissector as StreamDissector>::NAME, c.$malformed),)*]
        }

        /// A port dissector's flow: which one, and its state.
        #[derive(Debug)]
        enum PortFlow {
            $($port(Box<<$port_dissector as PortDissector>::Flow>),)*
        }

        /// What each port dissector keeps for all of one worker's flows.
        #[derive(Debug, Default)]
        struct PortWorkers {
            $($state: <$port_dissector as PortDissector>::Worker,)*
        }

        impl PortFlow {
            /// The port dissector a flow of `transport` between `ports` is for, if any.
            fn recognise(transport: Transport, ports: [u16; 2]) -> Option<PortFlow> {
                let on = |list: &[u16]| ports.iter().any(|p| list.contains(p));
                $(
                    let listed = match transport {
                        Transport::Udp => <$port_dissector as PortDissector>::UDP_PORTS,
                        Transport::Tcp => <$port_dissector as PortDissector>::TCP_PORTS,
                    };
                    if on(listed) {
                        return Some(PortFlow::$port(Box::default()));
                    }
                )*
                None
            }

            /// Its protocol.
            fn protocol(&self) -> Protocol {
                match self {
                    $(PortFlow::$port(_) => Protocol::$port,)*
                }
            }

            /// How its dissector frames a message over TCP.
            fn frame(&self, bytes: &[u8]) -> dissector::Frame {
                match self {
                    $(PortFlow::$port(_) => <$port_dissector as PortDissector>::frame(bytes),)*
                }
            }

            /// One message, to its dissector.
            fn message(&mut self, bytes: &[u8], workers: &mut PortWorkers, cx: Context<'_>) -> bool {
                match self {
                    $(PortFlow::$port(flow) => <$port_dissector as PortDissector>::message(
                        bytes, flow, &mut workers.$state, cx,
                    ),)*
                }
            }

            /// A TCP direction whose framing broke.
            fn malformed_frame(&self, cx: Context<'_>) {
                match self {
                    $(PortFlow::$port(_) => <$port_dissector as PortDissector>::malformed_frame(cx),)*
                }
            }

            /// The flow ended.
            fn end(self, workers: &mut PortWorkers, cx: Context<'_>) {
                match self {
                    $(PortFlow::$port(flow) => <$port_dissector as PortDissector>::end(
                        *flow, &mut workers.$state, cx,
                    ),)*
                }
            }
        }

        /// What the protocol stage hands on.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum Record {
            /// An ended flow, or an interim record of one still open.
            Flow(FlowRecord),
            $(#[doc = concat!("A record of its port dissector (", stringify!($port), ").")]
            $port($record),)*
        }

        impl Record {
            /// A total order that does not depend on threads: time (completion for DNS lookups,
            /// start for flows, the message for DHCP and Kerberos), then packet number, flows
            /// last.
            pub fn order_key(&self) -> (Timestamp, u64, u8) {
                match self {
                    Record::Flow(f) => (f.first, f.id, 1),
                    $(Record::$port(r) => {
                        let (ts, packet) = <$port_dissector as PortDissector>::order(r);
                        (ts, packet, 0)
                    })*
                }
            }
        }

        crate::counters! {
            /// What the protocol stage counts: reassembly, each dissector's messages (the
            /// counters of the table's entries), and what they joined or could not.
            pub struct Counters {
                tcp_reassembly_gave_up: "TCP streams given up because a message did not fit in --reassembly-limit",
                tcp_reassembly_holes: "TCP streams given up because they had too many holes",
                reassembly_evicted: "TCP and QUIC CRYPTO streams freed, oldest first, to stay within --reassembly-memory",
                tcp_incomplete_at_end: "TCP streams whose first message was still incomplete when the flow ended",
                $($parsed: $parsed_help, $malformed: $malformed_help,)*
                http_more_requests: "HTTP/1.x requests read after the first of their connection (keep-alive, pipelining)",
                http_log_dropped: "request paths, MCP methods and tools not kept: their flow's list held 8, or the worker's request logs 16 MiB",
                quic_client_hellos: "ClientHellos decrypted from QUIC Initial packets (and Google QUIC CHLOs)",
                quic_gave_up: "QUIC flows whose ClientHello could not be recovered",
                quic_incomplete_at_end: "QUIC flows whose ClientHello was still incomplete when the flow ended",
                $($($counter: $counter_help,)*)*
            }
        }
    };
}

dissectors!(generate);

impl Message {
    /// Whether the connection goes on request after request (plaintext HTTP/1.x, MCP over it),
    /// each read by [`requests`].
    pub fn reads_requests(&self) -> bool {
        matches!(self, Message::Http(_) | Message::Mcp(_))
    }
}

/// A flow's [`Message`] as its fields in the flow event: one key, the dissector's name.
#[derive(Clone, Copy, Debug)]
pub struct MessageEvent<'a> {
    message: &'a Message,
    ech: EchKind,
}

impl Message {
    /// Its fields in the flow event; `ech` is what naming took the flow's ECH extension for.
    pub fn event(&self, ech: EchKind) -> MessageEvent<'_> {
        MessageEvent { message: self, ech }
    }
}

/// Limits of the protocol stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtoConfig {
    /// Most bytes one stream buffers past the point its dissector consumed: a ClientHello, a
    /// request head, one DNS or Kerberos message over TCP, a QUIC ClientHello.
    pub reassembly_bytes: usize,
    /// Most bytes all streams of one worker hold together.
    pub reassembly_memory: usize,
    /// Most DNS queries awaiting a response in one flow.
    pub dns_pending: usize,
    /// Most DNS queries awaiting a response in all flows of one worker.
    pub dns_pending_total: usize,
}

/// Default of [`ProtoConfig::reassembly_bytes`]: a whole DNS message over TCP (64 KiB and its
/// length prefix) fits, and so does a Kerberos reply with a large PAC.
pub const DEFAULT_REASSEMBLY_BYTES: usize = 65_540;

impl Default for ProtoConfig {
    fn default() -> Self {
        ProtoConfig {
            reassembly_bytes: DEFAULT_REASSEMBLY_BYTES,
            reassembly_memory: 64 << 20,
            dns_pending: 64,
            dns_pending_total: 65_536,
        }
    }
}

/// What the start of a client's stream turned out to be.
enum Opening {
    /// Need more bytes.
    Wait,
    /// A stream dissector's message.
    Parsed(Message),
    /// A stream of this protocol whose first message is malformed.
    Malformed(Protocol),
    /// No stream dissector recognised it.
    Unknown,
    /// Out of buffer or too many holes.
    GiveUp,
}
