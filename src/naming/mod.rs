//! Naming: the server name of each flow, and how it was known.
//!
//! A flow is named by the first of: its TLS or QUIC SNI, its HTTP Host, or the DNS answer the
//! same client had for the flow's server address at the flow's first packet (the
//! [`DnsHistory`]). The rules, which `docs/naming.md` repeats:
//!
//! - **The answer in force at the start.** Of the names the client was told are at the address,
//!   those answered at or before the first packet and not expired then (TTL plus
//!   [`NamingConfig::dns_ttl_grace_secs`]) are in force; the one answered last names the flow
//!   and the others are its `name_alternatives`. Only when none was in force do answers up to
//!   [`NamingConfig::dns_race_millis`] after the first packet count (a client that connected
//!   before its own lookup came back): a later answer never wins over one in force, as a
//!   browser's prefetch of another name on the same CDN address would. Answers after the start
//!   never rename or unname a flow, however long it stays open. A flow that started before any
//!   answer stays unnamed.
//! - **IP literals.** An SNI or Host that is an address names nothing better than the address:
//!   a DNS answer wins over it.
//! - **Encrypted Client Hello.** A ClientHello with the ECH extension keeps its SNI unless there
//!   is evidence that the SNI is the provider's outer name: it is the public name of an
//!   ECHConfig the client received in an HTTPS or SVCB answer, or a catalogued ECH public name
//!   (`cloudflare-ech.com`), or the client never resolved it to the address while another name
//!   was in force there and it identifies no catalogued app. Then ECH is `real` and the answer
//!   names the flow. When the client resolved the SNI to the address it is `grease` (Chromium
//!   sends ECH on every connection); with no DNS evidence either way, `unknown`.
//!
//! - **Encrypted DNS.** A flow to a DNS-over-HTTPS resolver the catalog names, DNS over TLS
//!   (TCP port 853) or DNS over QUIC (ALPN `doq`, or UDP port 853) carries lookups the sensor
//!   cannot read ([`encrypted_dns`]): its client's flows without SNI cannot be named from DNS,
//!   and the report's visibility says so.
//!
//! This stage runs in the sequencer, which sees records in a fixed order whatever the number of
//! threads, so which DNS answer names which flow never depends on timing.

mod bounded;
mod history;

pub use history::{AtStart, DnsHistory, MAX_ALTERNATIVES, NAMES_PER_ADDRESS};

use crate::catalog::Catalog;
use crate::decode::Transport;
use crate::proto::{DnsRecord, EchKind, FlowRecord, Message, NameSource, Protocol};
use std::net::IpAddr;

crate::vocabulary! {
    /// How a flow carries DNS the sensor cannot read: a client that resolves names this way
    /// gives the sensor no answers to name its flows from.
    pub enum EncryptedDns {
        /// DNS over HTTPS: a flow to a resolver the catalog names (`signatures/encrypted_dns.toml`).
        Doh = "doh",
        /// DNS over TLS: TCP to port 853.
        Dot = "dot",
        /// DNS over QUIC: UDP to port 853, or a QUIC ClientHello offering ALPN `doq`.
        Doq = "doq",
    }
}

/// The port of DNS over TLS and over QUIC (RFC 7858, RFC 9250).
pub const ENCRYPTED_DNS_PORT: u16 = 853;

/// Whether `flow`, named `server_name`, carries encrypted DNS, and how.
pub fn encrypted_dns(
    flow: &FlowRecord,
    server_name: Option<&str>,
    catalog: &Catalog,
) -> Option<EncryptedDns> {
    let port = flow.server.port == ENCRYPTED_DNS_PORT;
    let doq = flow
        .tls()
        .is_some_and(|t| t.alpn.iter().any(|a| a == "doq"));
    match flow.transport {
        Transport::Tcp if port => Some(EncryptedDns::Dot),
        Transport::Udp if port || doq => Some(EncryptedDns::Doq),
        _ => server_name
            .and_then(|n| catalog.doh_resolver(n))
            .map(|_| EncryptedDns::Doh),
    }
}

/// Settings of the naming stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamingConfig {
    /// Most (client, address) pairs whose answers are remembered.
    pub dns_cache_entries: usize,
    /// Seconds an answer stays usable past its TTL (clients cache answers a little longer).
    pub dns_ttl_grace_secs: u64,
    /// Milliseconds an answer may come after a flow's first packet and still name it, when no
    /// answer was in force at the first packet: a client that raced its lookup (Happy Eyeballs,
    /// a cached answer refreshed as it connects).
    pub dns_race_millis: u32,
}

impl Default for NamingConfig {
    fn default() -> Self {
        NamingConfig {
            dns_cache_entries: 262_144,
            dns_ttl_grace_secs: 60,
            dns_race_millis: 50,
        }
    }
}

/// A flow's name, how it was known, and the doubt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Naming<'a> {
    /// The server name.
    pub server_name: Option<&'a str>,
    /// How it was known.
    pub source: NameSource,
    /// What the ClientHello's ECH extension was taken for.
    pub ech: EchKind,
    /// For a name from DNS: the other names in force for the address at the start.
    pub alternatives: [Option<&'a str>; MAX_ALTERNATIVES],
}

impl<'a> Naming<'a> {
    /// The other names, most recent first.
    pub fn alternatives(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.alternatives.iter().flatten().copied()
    }

    fn new(server_name: Option<&'a str>, source: NameSource, ech: EchKind) -> Naming<'a> {
        Naming {
            server_name,
            source,
            ech,
            alternatives: [None; MAX_ALTERNATIVES],
        }
    }

    fn from_dns(start: AtStart<'a>, ech: EchKind) -> Naming<'a> {
        Naming {
            server_name: start.name,
            source: NameSource::DnsAnswer,
            ech,
            alternatives: start.others,
        }
    }
}

/// Names flows from their own bytes or from DNS answers seen before them.
#[derive(Debug)]
pub struct Namer {
    history: DnsHistory,
}

impl Namer {
    /// A namer with an empty history.
    pub fn new(config: &NamingConfig) -> Namer {
        Namer {
            history: DnsHistory::new(
                config.dns_cache_entries,
                config.dns_ttl_grace_secs,
                config.dns_race_millis,
            ),
        }
    }

    /// Remembers the addresses a lookup returned, and the ECH public names it carried, for the
    /// client that asked.
    pub fn learn(&mut self, lookup: &DnsRecord) {
        let Some(answered) = lookup.answered else {
            return;
        };
        for answer in &lookup.answers {
            if let crate::proto::dns::AnswerData::Addr(addr) = answer.data {
                self.history.insert(
                    lookup.client.addr,
                    addr.into(),
                    &lookup.query,
                    answered,
                    answer.ttl,
                );
            }
        }
        for (name, ttl) in &lookup.ech_public_names {
            self.history
                .insert_ech(lookup.client.addr, name, answered, *ttl);
        }
    }

    /// The flow's server name, how it was known, and what its ECH extension was taken for;
    /// `catalog` says which names are ECH public names and which identify apps.
    pub fn name<'a>(&'a self, flow: &'a FlowRecord, catalog: &Catalog) -> Naming<'a> {
        let sni = flow.tls().and_then(|t| t.sni.as_deref());
        let own = flow
            .message
            .as_ref()
            .and_then(|m| Some((m.server_name()?, source(flow, m))));
        // The history is looked at only when the flow's own bytes leave a doubt: most flows
        // carry their name and no ECH, and skip the lookup.
        let at_start = || {
            self.history
                .at(flow.client.addr, flow.server.addr, flow.started)
        };
        let (ech, start) = match (flow.tls().is_some_and(|t| t.ech), sni) {
            (false, _) => (EchKind::None, None),
            (true, None) => (EchKind::Unknown, None),
            (true, Some(sni)) => {
                let start = at_start();
                (self.ech_kind(flow, sni, &start, catalog), Some(start))
            }
        };
        if let Some((name, source)) = own
            && !is_ip_literal(name)
            && ech != EchKind::Real
        {
            return Naming::new(Some(name), source, ech);
        }
        let start = start.unwrap_or_else(at_start);
        match own {
            _ if start.name.is_some() => Naming::from_dns(start, ech),
            Some((name, source)) => Naming::new(Some(name), source, ech),
            None => Naming::new(None, NameSource::None, ech),
        }
    }

    /// Whether an SNI beside an ECH extension is the real name (GREASE) or an outer name.
    fn ech_kind(
        &self,
        flow: &FlowRecord,
        sni: &str,
        start: &AtStart<'_>,
        catalog: &Catalog,
    ) -> EchKind {
        let (client, server) = (flow.client.addr, flow.server.addr);
        if self.history.ech_public_name(client, sni, flow.started)
            || catalog.is_ech_public_name(sni)
        {
            return EchKind::Real;
        }
        // Resolved to the address by the start, in force or not (the names in force are among
        // those resolved).
        if self.history.resolved(client, server, sni, flow.started) {
            return EchKind::Grease;
        }
        if start.name.is_some() && catalog.identify(sni).is_none() {
            return EchKind::Real;
        }
        EchKind::Unknown
    }

    /// (client, address) pairs evicted from the history because it was full.
    pub fn cache_evictions(&self) -> u64 {
        self.history.evictions()
    }

    /// Names evicted from a full (client, address) pair, and ECH public names evicted.
    pub fn names_evicted(&self) -> u64 {
        self.history.names_evicted()
    }
}

/// How the name `message` gives its flow was known: its dissector's source, except that
/// QUIC's ClientHello names by [`NameSource::QuicSni`].
fn source(flow: &FlowRecord, message: &Message) -> NameSource {
    if flow.protocol == Protocol::Quic {
        NameSource::QuicSni
    } else {
        message.name_source()
    }
}

fn is_ip_literal(name: &str) -> bool {
    name.parse::<IpAddr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Timestamp;
    use crate::decode::{Addr, Transport};
    use crate::flow::{EndReason, Endpoint};
    use crate::proto::dns::{AnswerData, DnsAnswer};
    use crate::proto::tls::ClientHello;

    fn endpoint(last: u8, port: u16) -> Endpoint {
        Endpoint {
            addr: Addr::v4([10, 0, 0, last]),
            port,
        }
    }

    fn lookup(at: i64, name: &str, addr: [u8; 4], ttl: u32) -> DnsRecord {
        DnsRecord {
            flow_id: 1,
            packet: 1,
            ts: Timestamp::from_secs(at),
            answered: Some(Timestamp::from_secs(at)),
            client: endpoint(2, 40000),
            server: endpoint(53, 53),
            transport: Transport::Udp,
            vlan: [0; 2],
            id: 1,
            query: name.into(),
            qtype: 1,
            rcode: Some(0),
            answers: vec![DnsAnswer {
                rtype: 1,
                ttl,
                data: AnswerData::Addr(std::net::Ipv4Addr::from(addr).into()),
            }],
            ech_public_names: vec![],
        }
    }

    fn flow(at: i64, server: u8, sni: Option<&str>) -> FlowRecord {
        FlowRecord {
            id: 9,
            first: Timestamp::from_secs(at),
            last: Timestamp::from_secs(at + 1),
            started: Timestamp::from_secs(at),
            part: 0,
            client: endpoint(2, 50000),
            server: endpoint(server, 443),
            transport: Transport::Tcp,
            vlan: [0; 2],
            packets: [1, 1],
            bytes: [0, 0],
            end: EndReason::Closed,
            protocol: Protocol::Tls,
            message: sni.map(|s| {
                Message::Tls(Box::new(ClientHello {
                    sni: Some(s.into()),
                    ..ClientHello::default()
                }))
            }),
            requests: None,
        }
    }

    fn hello(flow: &mut FlowRecord) -> &mut ClientHello {
        match flow.message.as_mut() {
            Some(Message::Tls(hello)) => hello,
            _ => panic!("not a TLS flow"),
        }
    }

    fn catalog() -> Catalog {
        Catalog::load(&[]).unwrap()
    }

    fn ech(mut flow: FlowRecord) -> FlowRecord {
        hello(&mut flow).ech = true;
        flow
    }

    #[test]
    fn precedence_and_ttl() {
        let catalog = catalog();
        let mut namer = Namer::new(&NamingConfig::default());
        namer.learn(&lookup(100, "claude.ai", [10, 0, 0, 7], 300));
        let name = |f: &FlowRecord| {
            let n = namer.name(f, &catalog);
            (n.server_name.map(str::to_string), n.source)
        };
        let sni = flow(150, 7, Some("api.anthropic.com"));
        assert_eq!(
            name(&sni),
            (Some("api.anthropic.com".into()), NameSource::TlsSni)
        );
        assert_eq!(
            name(&flow(150, 7, None)),
            (Some("claude.ai".into()), NameSource::DnsAnswer)
        );
        // An IP-literal SNI yields to the DNS answer.
        let literal = flow(150, 7, Some("10.0.0.7"));
        assert_eq!(
            name(&literal),
            (Some("claude.ai".into()), NameSource::DnsAnswer)
        );
        // Before the answer, and after TTL plus grace, the answer does not apply.
        assert_eq!(name(&flow(99, 7, None)), (None, NameSource::None));
        assert_eq!(name(&flow(461, 7, None)), (None, NameSource::None));
        assert_eq!(name(&flow(460, 7, None)).1, NameSource::DnsAnswer);
        // Another address is not named.
        assert_eq!(
            name(&flow(150, 8, Some("10.0.0.8"))),
            (Some("10.0.0.8".into()), NameSource::TlsSni)
        );
    }

    #[test]
    fn a_lookup_during_the_flow_changes_nothing() {
        let catalog = catalog();
        let mut namer = Namer::new(&NamingConfig::default());
        namer.learn(&lookup(100, "chatgpt.com", [104, 18, 32, 47], 300));
        // The flow starts at 101; the client resolves chatgpt.com again at 110, and another
        // name on the same address at 111, while it is open. It is named when it ends.
        namer.learn(&lookup(110, "chatgpt.com", [104, 18, 32, 47], 300));
        namer.learn(&lookup(111, "cdn.example.net", [104, 18, 32, 47], 300));
        let mut bare = flow(101, 0, None);
        bare.server.addr = Addr::v4([104, 18, 32, 47]);
        let n = namer.name(&bare, &catalog);
        assert_eq!(
            (n.server_name, n.source),
            (Some("chatgpt.com"), NameSource::DnsAnswer)
        );
        assert_eq!(n.alternatives().count(), 0);
        // A flow after both lookups: the last one names it, the other is the doubt.
        bare.started = Timestamp::from_secs(112);
        let n = namer.name(&bare, &catalog);
        assert_eq!(n.server_name, Some("cdn.example.net"));
        assert_eq!(n.alternatives().collect::<Vec<_>>(), ["chatgpt.com"]);
    }

    #[test]
    fn grease_ech_keeps_the_sni_on_a_shared_address() {
        let catalog = catalog();
        let mut namer = Namer::new(&NamingConfig::default());
        // chatgpt.com, then another name on the same CDN address.
        namer.learn(&lookup(100, "chatgpt.com", [10, 0, 0, 7], 300));
        namer.learn(&lookup(101, "cdn.example.net", [10, 0, 0, 7], 300));
        let f = ech(flow(102, 7, Some("chatgpt.com")));
        let n = namer.name(&f, &catalog);
        assert_eq!(
            (n.server_name, n.source, n.ech),
            (Some("chatgpt.com"), NameSource::TlsSni, EchKind::Grease)
        );
        // A resolved name that expired before the flow: still the client's own name.
        let f = ech(flow(1000, 7, Some("chatgpt.com")));
        let n = namer.name(&f, &catalog);
        assert_eq!(
            (n.server_name, n.ech),
            (Some("chatgpt.com"), EchKind::Grease)
        );
        // An app's name never resolved here, beside another name: kept, not known to be outer.
        let f = ech(flow(102, 7, Some("claude.ai")));
        let n = namer.name(&f, &catalog);
        assert_eq!(
            (n.server_name, n.ech),
            (Some("claude.ai"), EchKind::Unknown)
        );
        // No DNS for the address at all: kept, unknown.
        let f = ech(flow(102, 9, Some("perplexity.ai")));
        let n = namer.name(&f, &catalog);
        assert_eq!(
            (n.server_name, n.source, n.ech),
            (Some("perplexity.ai"), NameSource::TlsSni, EchKind::Unknown)
        );
        // Without the extension: none.
        assert_eq!(
            namer.name(&flow(102, 7, Some("chatgpt.com")), &catalog).ech,
            EchKind::None
        );
    }

    #[test]
    fn real_ech_is_named_from_dns() {
        let catalog = catalog();
        let mut namer = Namer::new(&NamingConfig::default());
        // (a) The public name of an ECHConfig the client received in an HTTPS answer.
        let mut https = lookup(100, "www.perplexity.ai", [10, 0, 0, 7], 300);
        https.ech_public_names = vec![("ech-public.example.net".into(), 300)];
        namer.learn(&https);
        let f = ech(flow(101, 7, Some("ech-public.example.net")));
        let n = namer.name(&f, &catalog);
        assert_eq!(
            (n.server_name, n.source, n.ech),
            (
                Some("www.perplexity.ai"),
                NameSource::DnsAnswer,
                EchKind::Real
            )
        );
        // ... but only for the client that received it, and not before.
        let mut other = ech(flow(101, 7, Some("ech-public.example.net")));
        other.client.addr = Addr::v4([10, 0, 0, 99]);
        assert_eq!(namer.name(&other, &catalog).ech, EchKind::Unknown);
        assert_eq!(
            namer
                .name(&ech(flow(99, 7, Some("ech-public.example.net"))), &catalog)
                .ech,
            EchKind::Unknown
        );
        // (b) A catalogued ECH public name.
        namer.learn(&lookup(100, "claude.ai", [10, 0, 0, 8], 300));
        let f = ech(flow(101, 8, Some("cloudflare-ech.com")));
        let n = namer.name(&f, &catalog);
        assert_eq!((n.server_name, n.ech), (Some("claude.ai"), EchKind::Real));
        // ... with no answer for the address, the outer name is all there is.
        let f = ech(flow(101, 9, Some("cloudflare-ech.com")));
        let n = namer.name(&f, &catalog);
        assert_eq!(
            (n.server_name, n.source, n.ech),
            (
                Some("cloudflare-ech.com"),
                NameSource::TlsSni,
                EchKind::Real
            )
        );
        // (c) A name that identifies no app, never resolved, while another name was in force.
        let f = ech(flow(101, 8, Some("public.cdn-provider.example")));
        let n = namer.name(&f, &catalog);
        assert_eq!((n.server_name, n.ech), (Some("claude.ai"), EchKind::Real));
        // The same extension without a ClientHello name: unknown, named from DNS.
        let mut no_sni = ech(flow(101, 8, Some("x")));
        hello(&mut no_sni).sni = None;
        let n = namer.name(&no_sni, &catalog);
        assert_eq!(
            (n.server_name, n.ech),
            (Some("claude.ai"), EchKind::Unknown)
        );
    }
}
