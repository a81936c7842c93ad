//! Naming: the server name of each flow, and how it was known.
//!
//! A flow is named by the first of: its TLS or QUIC SNI, its HTTP Host, or the answer of a DNS
//! lookup that the same client made before the flow started for the flow's server address (a
//! bounded, TTL-aware [`DnsCache`]). SNIs and Hosts that are IP literals name nothing better than
//! the address, so a DNS answer wins over them when there is one. So does a DNS answer that
//! differs from the SNI of a ClientHello carrying Encrypted Client Hello: the SNI on the wire is
//! then the provider's public name (`cloudflare-ech.com`), not the site.
//!
//! This stage runs in the sequencer, which sees records in a fixed order whatever the number of
//! threads, so which DNS answer names which flow never depends on timing.

mod cache;

pub use cache::DnsCache;

use crate::proto::{DnsRecord, FlowRecord, Protocol};
use std::net::IpAddr;

/// How a flow's `server_name` was known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NameSource {
    /// The TLS ClientHello's server_name extension.
    TlsSni,
    /// The QUIC Initial's ClientHello server_name extension.
    QuicSni,
    /// The HTTP/1.x Host header.
    HttpHost,
    /// A DNS answer the client received for the server's address.
    DnsAnswer,
    /// Not known.
    None,
}

impl NameSource {
    /// Name in events.
    pub fn name(self) -> &'static str {
        match self {
            NameSource::TlsSni => "tls_sni",
            NameSource::QuicSni => "quic_sni",
            NameSource::HttpHost => "http_host",
            NameSource::DnsAnswer => "dns_answer",
            NameSource::None => "none",
        }
    }

    /// Every source, in order of precedence.
    pub const ALL: [NameSource; 5] = [
        NameSource::TlsSni,
        NameSource::QuicSni,
        NameSource::HttpHost,
        NameSource::DnsAnswer,
        NameSource::None,
    ];
}

/// Settings of the naming stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamingConfig {
    /// Most (client, address) answers remembered.
    pub dns_cache_entries: usize,
    /// Seconds an answer stays usable past its TTL (clients cache answers a little longer).
    pub dns_ttl_grace_secs: u64,
}

impl Default for NamingConfig {
    fn default() -> Self {
        NamingConfig {
            dns_cache_entries: 262_144,
            dns_ttl_grace_secs: 60,
        }
    }
}

/// Names flows from their own bytes or from DNS answers seen before them.
#[derive(Debug)]
pub struct Namer {
    cache: DnsCache,
}

impl Namer {
    /// A namer with an empty answer cache.
    pub fn new(config: &NamingConfig) -> Namer {
        Namer {
            cache: DnsCache::new(config.dns_cache_entries, config.dns_ttl_grace_secs),
        }
    }

    /// Remembers the addresses a lookup returned, for the client that asked.
    pub fn learn(&mut self, lookup: &DnsRecord) {
        let Some(answered) = lookup.answered else {
            return;
        };
        for answer in &lookup.answers {
            if let crate::proto::dns::AnswerData::Addr(addr) = answer.data {
                self.cache.insert(
                    lookup.client.addr,
                    addr.into(),
                    &lookup.query,
                    answered,
                    answer.ttl,
                );
            }
        }
    }

    /// The flow's server name and how it was known.
    pub fn name<'a>(&'a self, flow: &'a FlowRecord) -> (Option<&'a str>, NameSource) {
        let sni_source = if flow.protocol == Protocol::Quic {
            NameSource::QuicSni
        } else {
            NameSource::TlsSni
        };
        let own = flow
            .tls
            .as_ref()
            .and_then(|t| t.sni.as_deref())
            .map(|n| (n, sni_source))
            .or_else(|| {
                flow.http
                    .as_ref()
                    .and_then(|h| h.host.as_deref())
                    .map(|n| (n, NameSource::HttpHost))
            });
        let answered = self
            .cache
            .lookup(flow.client.addr, flow.server.addr, flow.first);
        let ech = flow.tls.as_ref().is_some_and(|t| t.ech);
        if let Some((name, source)) = own
            && !is_ip_literal(name)
            && !(ech && answered.is_some_and(|a| a != name))
        {
            return (Some(name), source);
        }
        if let Some(name) = answered {
            return (Some(name), NameSource::DnsAnswer);
        }
        match own {
            Some((name, source)) => (Some(name), source),
            None => (None, NameSource::None),
        }
    }

    /// Answers evicted from the cache because it was full.
    pub fn cache_evictions(&self) -> u64 {
        self.cache.evictions()
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
        }
    }

    fn flow(at: i64, server: u8, sni: Option<&str>) -> FlowRecord {
        FlowRecord {
            id: 9,
            first: Timestamp::from_secs(at),
            last: Timestamp::from_secs(at + 1),
            client: endpoint(2, 50000),
            server: endpoint(server, 443),
            transport: Transport::Tcp,
            vlan: [0; 2],
            packets: [1, 1],
            bytes: [0, 0],
            end: EndReason::Closed,
            protocol: Protocol::Tls,
            tls: sni.map(|s| {
                Box::new(ClientHello {
                    sni: Some(s.into()),
                    ..ClientHello::default()
                })
            }),
            http: None,
        }
    }

    #[test]
    fn precedence_and_ttl() {
        let mut namer = Namer::new(&NamingConfig::default());
        namer.learn(&lookup(100, "claude.ai", [10, 0, 0, 7], 300));
        let sni = flow(150, 7, Some("api.anthropic.com"));
        assert_eq!(
            namer.name(&sni),
            (Some("api.anthropic.com"), NameSource::TlsSni)
        );
        let bare = flow(150, 7, None);
        assert_eq!(
            namer.name(&bare),
            (Some("claude.ai"), NameSource::DnsAnswer)
        );
        // An IP-literal SNI yields to the DNS answer.
        let literal = flow(150, 7, Some("10.0.0.7"));
        assert_eq!(
            namer.name(&literal),
            (Some("claude.ai"), NameSource::DnsAnswer)
        );
        // Before the answer, and after TTL plus grace, the answer does not apply.
        assert_eq!(namer.name(&flow(99, 7, None)), (None, NameSource::None));
        assert_eq!(namer.name(&flow(461, 7, None)), (None, NameSource::None));
        assert_eq!(namer.name(&flow(460, 7, None)).1, NameSource::DnsAnswer);
        // With Encrypted Client Hello the SNI is the provider's public name: the answer wins.
        let mut ech = flow(150, 7, Some("cloudflare-ech.com"));
        ech.tls.as_mut().unwrap().ech = true;
        assert_eq!(namer.name(&ech), (Some("claude.ai"), NameSource::DnsAnswer));
        // GREASE ECH (Chromium) names the real site: no conflict with the answer.
        let mut grease = flow(150, 7, Some("claude.ai"));
        grease.tls.as_mut().unwrap().ech = true;
        assert_eq!(namer.name(&grease), (Some("claude.ai"), NameSource::TlsSni));
        // Another address is not named.
        assert_eq!(
            namer.name(&flow(150, 8, Some("10.0.0.8"))),
            (Some("10.0.0.8"), NameSource::TlsSni)
        );
    }
}
