//! Coverage: what the sensor could and could not name, per hour, over every flow (not only the
//! AI-related ones): flows and bytes by transport, protocol, how they were named, what their
//! ECH extension was taken for, whether only one direction was seen and whether they carry
//! encrypted DNS, and how many the flow table evicted. The store keeps these counts (never a
//! name or an address) so that a report can say where its inventory may be incomplete, and the
//! summary of a run says the same of the run.

use super::FlowView;
use crate::capture::Timestamp;
use crate::flow::EndReason;
use crate::naming::EncryptedDns;
use crate::proto::Protocol;
use crate::proto::{EchKind, NameSource};
use std::collections::HashMap;

/// What coverage is counted by (the store adds the sensor).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CoverageKey {
    /// Start of the hour the record's first packet is in.
    pub hour: Timestamp,
    /// `tcp` or `udp`.
    pub transport: &'static str,
    /// The recognised protocol.
    pub protocol: Protocol,
    /// How the flow was named.
    pub name_source: NameSource,
    /// What its ECH extension was taken for.
    pub ech: EchKind,
    /// Packets were seen one way only.
    pub one_way: bool,
    /// It carries encrypted DNS.
    pub encrypted_dns: Option<EncryptedDns>,
}

/// The counts of one key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Flows (their first records).
    pub flows: u64,
    /// Payload bytes client to server.
    pub bytes_up: u64,
    /// Payload bytes server to client.
    pub bytes_down: u64,
    /// Flows the full flow table ended early (their last records).
    pub evicted: u64,
}

impl Coverage {
    /// Adds `other`.
    pub fn add(&mut self, other: &Coverage) {
        self.flows += other.flows;
        self.bytes_up += other.bytes_up;
        self.bytes_down += other.bytes_down;
        self.evicted += other.evicted;
    }
}

/// What a report and a run's summary say of one sensor's coverage, over the traffic the
/// inventory is about (every flow but the plumbing: DNS, DHCP and Kerberos, whose messages are
/// events of their own, and encrypted DNS, which the report lists apart): how much of it was
/// named, and what kept the rest from being.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Visible {
    /// Flows.
    pub flows: u64,
    /// Flows given a name, whatever its source.
    pub named_flows: u64,
    /// Payload bytes client to server.
    pub bytes_up: u64,
    /// Those of named flows.
    pub named_bytes_up: u64,
    /// Flows named only by a DNS answer: no SNI or Host (no-SNI TLS, real ECH, other TCP/UDP).
    pub dns_only_flows: u64,
    /// Real ECH flows with no DNS answer in force: named by the provider's outer name only.
    pub real_ech_unnamed: u64,
    /// Flows seen in one direction only (a SPAN or TAP fed with one side).
    pub one_way_flows: u64,
    /// Flows the full flow table ended early.
    pub evicted_flows: u64,
}

impl Visible {
    /// Adds the counts of one coverage key.
    pub fn add(&mut self, class: Class<'_>, counts: &Coverage) {
        let Class {
            protocol,
            source,
            ech,
            one_way,
            encrypted_dns,
        } = class;
        if is_plumbing(protocol) || encrypted_dns {
            return;
        }
        let named = source != NameSource::None;
        self.flows += counts.flows;
        self.bytes_up += counts.bytes_up;
        if named {
            self.named_flows += counts.flows;
            self.named_bytes_up += counts.bytes_up;
        }
        if source == NameSource::DnsAnswer {
            self.dns_only_flows += counts.flows;
        }
        if ech == EchKind::Real && source != NameSource::DnsAnswer {
            self.real_ech_unnamed += counts.flows;
        }
        if one_way {
            self.one_way_flows += counts.flows;
        }
        self.evicted_flows += counts.evicted;
    }

    /// Adds the counts of a typed key.
    pub fn add_key(&mut self, key: &CoverageKey, counts: &Coverage) {
        let class = Class {
            protocol: key.protocol.name(),
            source: key.name_source,
            ech: key.ech,
            one_way: key.one_way,
            encrypted_dns: key.encrypted_dns.is_some(),
        };
        self.add(class, counts);
    }
}

/// What [`Visible::add`] goes by of a coverage key.
#[derive(Clone, Copy, Debug)]
pub struct Class<'a> {
    /// The protocol's name.
    pub protocol: &'a str,
    /// How the flows were named.
    pub source: NameSource,
    /// What their ECH extension was taken for.
    pub ech: EchKind,
    /// Seen one way only.
    pub one_way: bool,
    /// They carry encrypted DNS.
    pub encrypted_dns: bool,
}

/// `part` as a share of `whole`, for people: `97.5%`, or `-` of nothing.
pub fn share(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".to_string();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

/// Protocols that are the network's own plumbing: they carry their own names (a lookup is an
/// event of its own) or no application, so the shares of named traffic leave them out.
pub fn is_plumbing(protocol: &str) -> bool {
    [Protocol::Dns, Protocol::Dhcp, Protocol::Kerberos]
        .iter()
        .any(|p| p.name() == protocol)
}

/// The key and counts of one flow record.
pub fn of(view: &FlowView<'_>) -> (CoverageKey, Coverage) {
    let r = view.record;
    let key = CoverageKey {
        hour: r.first.hour_floor(),
        transport: r.transport.name(),
        protocol: r.protocol,
        name_source: view.name_source,
        ech: view.ech,
        one_way: r.packets[0] == 0 || r.packets[1] == 0,
        encrypted_dns: view.encrypted_dns,
    };
    let counts = Coverage {
        flows: u64::from(r.part == 0),
        bytes_up: r.bytes[0],
        bytes_down: r.bytes[1],
        evicted: u64::from(r.end == EndReason::Evicted),
    };
    (key, counts)
}

/// Coverage gathered in memory until the store takes it.
#[derive(Debug, Default)]
pub struct CoverageSums {
    map: HashMap<CoverageKey, Coverage>,
}

impl CoverageSums {
    /// Counts one flow record.
    pub fn flow(&mut self, view: &FlowView<'_>) {
        let (key, counts) = of(view);
        self.map.entry(key).or_default().add(&counts);
    }

    /// Takes what was gathered, sorted by key.
    pub fn drain(&mut self) -> Vec<(CoverageKey, Coverage)> {
        let mut all: Vec<_> = self.map.drain().collect();
        all.sort_unstable_by_key(|(k, _)| *k);
        all
    }
}
