//! Visibility: what the report could not see, per sensor. Of the traffic the inventory is
//! about (every flow but DNS, DHCP, Kerberos and encrypted DNS), the share named and what kept the rest from
//! being named (no SNI and no DNS answer, real ECH, one direction only, a full flow table,
//! capture drops), and the clients whose DNS the sensor could not read (DNS over HTTPS, TLS or
//! QUIC), with the resolvers they used. Nothing here is an AI app: it says where the inventory
//! may be incomplete and why.

use super::time;
use crate::catalog::Catalog;
use crate::output::Coverage;
use crate::output::coverage::{Class, Visible, share};
use crate::proto::{EchKind, NameSource};
use crate::store::read::StoredEncryptedDns;
use crate::store::{CoverageRow, HealthRow};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The visibility section.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Visibility {
    /// One row per sensor.
    pub sensors: Vec<SensorVisibility>,
    /// Every flow, per sensor, transport, protocol and how it was named: what the shares are
    /// made of.
    pub by_source: Vec<SourceCount>,
    /// Clients that resolved names over encrypted DNS, per resolver.
    pub encrypted_dns: Vec<EncryptedDnsClient>,
}

/// One sensor's coverage in the period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SensorVisibility {
    pub sensor: String,
    /// Flows of the traffic the inventory is about (not DNS, DHCP or Kerberos).
    pub flows: u64,
    /// Of those, named (by SNI, Host or a DNS answer).
    pub named_flows: u64,
    /// `named_flows` of `flows`, for people: `97.5%`.
    pub named_share: String,
    /// Payload bytes client to server.
    pub bytes_up: u64,
    /// Of those, of named flows.
    pub named_bytes_up: u64,
    /// `named_bytes_up` of `bytes_up`.
    pub named_bytes_share: String,
    /// Named only by a DNS answer (no SNI or Host): the names a client using encrypted DNS
    /// would have hidden.
    pub dns_only_flows: u64,
    /// Real ECH flows with no DNS answer in force: named by the provider's outer name only.
    pub real_ech_unnamed: u64,
    /// Flows seen in one direction only.
    pub one_way_flows: u64,
    /// Flows the full flow table ended early.
    pub evicted_flows: u64,
    /// Clients seen using encrypted DNS.
    pub encrypted_dns_clients: u64,
    /// The sensor's latest health row (a live sensor's; empty for one that only replayed):
    /// the drops below are counted since it started.
    pub health_at: String,
    /// Packets the kernel dropped.
    pub drops_kernel: u64,
    /// Packets the interface or its driver dropped.
    pub drops_interface: u64,
    /// Packets dropped because a worker's queue stayed full.
    pub drops_queue: u64,
}

/// Flows of one sensor, transport, protocol and name source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SourceCount {
    pub sensor: String,
    pub transport: String,
    pub protocol: String,
    pub name_source: String,
    pub flows: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
}

/// One client's use of one encrypted-DNS resolver.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EncryptedDnsClient {
    pub user: String,
    /// The device, empty when not known.
    pub device: String,
    /// `doh`, `dot` or `doq`.
    pub kind: String,
    /// The resolver's name, else its address and port.
    pub resolver: String,
    /// Who runs it, when the catalog's resolver table knows the name.
    pub provider: String,
    pub sensor: String,
    pub flows: u64,
    pub bytes_up: u64,
    pub first_seen: String,
    pub last_seen: String,
}

/// The section, from the period's coverage rows, the flows that carried encrypted DNS and the
/// sensors' latest health rows.
pub fn assemble(
    coverage: &[CoverageRow],
    encrypted: &[StoredEncryptedDns],
    health: &[HealthRow],
    catalog: &Catalog,
) -> Visibility {
    let mut visible: BTreeMap<&str, Visible> = BTreeMap::new();
    let mut by_source: BTreeMap<(&str, &str, &str, &str), SourceCount> = BTreeMap::new();
    for row in coverage {
        let counts = Coverage {
            flows: row.flows,
            bytes_up: row.bytes_up,
            bytes_down: row.bytes_down,
            evicted: row.evicted,
        };
        let source = NameSource::from_name(&row.name_source).unwrap_or(NameSource::None);
        let ech = EchKind::from_name(&row.ech_kind).unwrap_or(EchKind::None);
        let class = Class {
            protocol: &row.protocol,
            source,
            ech,
            one_way: row.one_way != 0,
            encrypted_dns: !row.encrypted_dns.is_empty(),
        };
        visible.entry(&row.sensor).or_default().add(class, &counts);
        let key = (
            &*row.sensor,
            &*row.transport,
            &*row.protocol,
            &*row.name_source,
        );
        let count = by_source.entry(key).or_insert_with(|| SourceCount {
            sensor: row.sensor.clone(),
            transport: row.transport.clone(),
            protocol: row.protocol.clone(),
            name_source: row.name_source.clone(),
            ..SourceCount::default()
        });
        count.flows += row.flows;
        count.bytes_up += row.bytes_up;
        count.bytes_down += row.bytes_down;
    }
    let clients = encrypted_dns(encrypted, catalog);
    let mut sensors: BTreeSet<&str> = visible.keys().copied().collect();
    sensors.extend(clients.iter().map(|c| c.sensor.as_str()));
    let sensors = (sensors.into_iter())
        .map(|name| {
            let v = visible.get(name).copied().unwrap_or_default();
            let users: BTreeSet<&str> = (clients.iter())
                .filter(|c| c.sensor == name)
                .map(|c| c.user.as_str())
                .collect();
            sensor_row(name, &v, users.len() as u64, health)
        })
        .collect();
    Visibility {
        sensors,
        by_source: by_source.into_values().collect(),
        encrypted_dns: clients,
    }
}

/// One sensor's row.
fn sensor_row(name: &str, v: &Visible, clients: u64, health: &[HealthRow]) -> SensorVisibility {
    let latest = health.iter().find(|h| h.sensor == name);
    SensorVisibility {
        sensor: name.to_string(),
        flows: v.flows,
        named_flows: v.named_flows,
        named_share: share(v.named_flows, v.flows),
        bytes_up: v.bytes_up,
        named_bytes_up: v.named_bytes_up,
        named_bytes_share: share(v.named_bytes_up, v.bytes_up),
        dns_only_flows: v.dns_only_flows,
        real_ech_unnamed: v.real_ech_unnamed,
        one_way_flows: v.one_way_flows,
        evicted_flows: v.evicted_flows,
        encrypted_dns_clients: clients,
        health_at: latest.map_or(String::new(), |h| time(h.ts_us)),
        drops_kernel: latest.map_or(0, |h| h.drops_kernel),
        drops_interface: latest.map_or(0, |h| h.drops_interface),
        drops_queue: latest.map_or(0, |h| h.drops_queue),
    }
}

/// The clients of encrypted DNS, one row per (sensor, user, device, kind, resolver), most
/// flows first.
fn encrypted_dns(rows: &[StoredEncryptedDns], catalog: &Catalog) -> Vec<EncryptedDnsClient> {
    let mut out: Vec<EncryptedDnsClient> = (rows.iter())
        .map(|r| {
            let named = r.resolver.parse::<std::net::IpAddr>().is_err();
            let resolver = match (named, r.resolver.contains(':')) {
                (true, _) => r.resolver.clone(),
                (false, true) => format!("[{}]:{}", r.resolver, r.server_port),
                (false, false) => format!("{}:{}", r.resolver, r.server_port),
            };
            let provider = (named.then(|| catalog.doh_resolver(&r.resolver)))
                .flatten()
                .map_or(String::new(), |p| p.name.clone());
            EncryptedDnsClient {
                user: r.user.clone(),
                device: r.device.clone(),
                kind: r.kind.clone(),
                resolver,
                provider,
                sensor: r.sensor.clone(),
                flows: r.flows,
                bytes_up: r.bytes_up,
                first_seen: time(r.first_us),
                last_seen: time(r.last_us),
            }
        })
        .collect();
    out.sort_by(|a, b| (b.flows, &a.user, &a.resolver).cmp(&(a.flows, &b.user, &b.resolver)));
    out
}
