//! Identity: who a client address is, at the time of each record.
//!
//! Sources, in order of precedence (`docs/identity.md`):
//!
//! 1. the static map (`--identity FILE`, [`static_map`]): most specific prefix wins;
//! 2. Kerberos: a principal the KDC granted a ticket to (AS-REP or TGS-REP; an AS-REQ whose
//!    reply was never seen also counts, for one-way SPAN ports) is bound to the client address
//!    until the end time the client asked for, capped by [`IdentityConfig::kerberos_lifetime`],
//!    and to the device holding that address, so the user follows the device to its other
//!    addresses (DHCPv6, a new lease). Machine accounts (`NAME$`, `host/NAME`) name devices,
//!    not users;
//! 3. DHCP: an ACK (DHCPv6 REPLY) binds the leased address to the client's device (its MAC
//!    address, or DUID) for the lease time; the device's name is the FQDN or host name it sent
//!    in any message, so a device seen later at another address keeps its name. A REQUEST or
//!    INFORM binds the address it names until its ACK (or a NAK) says otherwise, for SPAN
//!    ports that only see the client's side;
//! 4. the address itself.
//!
//! A new DHCP holder of an address ends the Kerberos bindings of the previous one, and so does a
//! RELEASE. Bindings are kept per address with their times ([`bindings`]), so a record is
//! attributed to whoever held the address at the record's time, even when records reach this
//! stage after later DHCP or Kerberos messages. With `--pseudonymize`, users, devices and
//! client addresses leave this stage as tokens ([`pseudonym`]).

pub mod bindings;
pub mod pseudonym;
pub mod static_map;

pub use pseudonym::Pseudonymizer;
pub use static_map::{StaticEntry, StaticMap, StaticMapError};

use crate::capture::Timestamp;
use crate::catalog::Category;
use crate::decode::Addr;
use crate::proto::dhcp::{self, DhcpKind, DhcpMessage};
use crate::proto::kerberos;
use crate::proto::{DhcpRecord, KerberosRecord, KrbOutcome};
use crate::software;
use bindings::Bindings;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

crate::vocabulary! {
    /// Where a user name came from.
    pub enum UserSource {
        /// The static map.
        Static = "static",
        /// A Kerberos ticket.
        Kerberos = "kerberos",
        /// A DHCP host name.
        Dhcp = "dhcp",
        /// The client's address itself.
        Ip = "ip",
    }
}

crate::vocabulary! {
    /// Whether a person, a service or a program is behind a record.
    pub enum UserKind {
        /// A person: a Kerberos user, or a static-map user.
        Person = "person",
        /// No interactive user: flagged `server` in the static map, or a client with no known
        /// person calling an AI API (category `llm_api`): automation, agents, integrations.
        Service = "service",
        /// A program acting with AI for its user: a model API, a coding assistant's backend, an
        /// LLM gateway, a cloud model endpoint, a model server or an MCP server reached by a
        /// non-browser TLS stack (or `User-Agent`), whoever the user is.
        Agent = "agent",
        /// Not known.
        Unknown = "unknown",
    }
}

/// A resolved identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The user (or the address, when nothing better is known).
    pub user: String,
    /// How it was known.
    pub source: UserSource,
    /// The device, where known.
    pub device: Option<String>,
    /// The group, from the static map.
    pub group: Option<String>,
    /// A person is known to be behind the address.
    pub person: bool,
    /// Flagged as a server in the static map.
    pub server: bool,
    /// The client address as events and the store show it: its token when pseudonymizing.
    pub client: Option<String>,
}

impl Identity {
    /// No one: what records nobody looks at the identity of carry.
    pub fn unknown() -> Identity {
        Identity {
            user: String::new(),
            source: UserSource::Ip,
            device: None,
            group: None,
            person: false,
            server: false,
            client: None,
        }
    }

    /// Person, service, agent or unknown, for a record whose app is of `category`, sent by
    /// client software of kind `software`.
    pub fn kind(&self, category: Option<Category>, software: software::Kind) -> UserKind {
        if software == software::Kind::Program && category.is_some_and(used_by_programs) {
            UserKind::Agent
        } else if self.server {
            UserKind::Service
        } else if self.person {
            UserKind::Person
        } else if category == Some(Category::LlmApi) && software != software::Kind::Browser {
            // No known person calls a model API: automation. A browser's call is a person's.
            UserKind::Service
        } else {
            UserKind::Unknown
        }
    }
}

/// Categories whose use by a program makes it an agent: model APIs and what stands for them,
/// and coding assistants' backends (a CLI agent: Claude Code, Copilot CLI, Gemini CLI).
fn used_by_programs(category: Category) -> bool {
    matches!(
        category,
        Category::LlmApi
            | Category::CodingAssistant
            | Category::AiPlatformCloud
            | Category::AiGateway
            | Category::McpServer
            | Category::LocalModelServer
    )
}

/// Settings of the identity stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityConfig {
    /// Longest a Kerberos binding lasts, in seconds, whatever end time the client asked for.
    pub kerberos_lifetime: u64,
    /// How long a DHCP binding lasts when no lease time was seen (a REQUEST or INFORM without
    /// its ACK), in seconds.
    pub dhcp_default_lease: u64,
    /// Most addresses remembered per binding table.
    pub max_addresses: usize,
    /// Most devices remembered.
    pub max_devices: usize,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            kerberos_lifetime: 10 * 3600,
            dhcp_default_lease: 3600,
            max_addresses: 65_536,
            max_devices: 65_536,
        }
    }
}

/// Longest DHCP lease honoured (an "infinite" lease is 0xffffffff seconds).
const MAX_LEASE: u64 = 366 * 86_400;

/// DHCP REQUESTs remembered until their ACK or NAK.
const MAX_PENDING_REQUESTS: usize = 1024;

/// A device as DHCP knows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DeviceKey {
    /// Its Ethernet address.
    Mac([u8; 6]),
    /// Its DHCPv6 DUID, when that holds no Ethernet address.
    Duid(Box<[u8]>),
}

impl DeviceKey {
    fn of(m: &DhcpMessage) -> Option<DeviceKey> {
        match (m.mac, &m.duid) {
            (Some(mac), _) => Some(DeviceKey::Mac(mac)),
            (None, Some(duid)) => Some(DeviceKey::Duid(duid.clone().into_boxed_slice())),
            (None, None) => None,
        }
    }

    fn label(&self) -> String {
        match self {
            DeviceKey::Mac(mac) => dhcp::mac_string(mac),
            DeviceKey::Duid(duid) => format!("duid:{}", dhcp::hex(duid)),
        }
    }
}

/// A Kerberos principal bound to an address.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Principal(Arc<str>);

/// Devices and their names, bounded, first in first out.
#[derive(Debug)]
struct Devices {
    names: HashMap<DeviceKey, Arc<str>>,
    order: VecDeque<DeviceKey>,
    capacity: usize,
    evictions: u64,
}

impl Devices {
    /// Learns a device's name. The client's own word wins: a server's echo of it (dnsmasq
    /// returns the bare host name in the ACK's FQDN option) names a device only when nothing
    /// better is known.
    fn learn(&mut self, key: &DeviceKey, name: &str, from_client: bool) {
        if let Some(known) = self.names.get_mut(key) {
            if from_client && &**known != name {
                *known = name.into();
            }
            return;
        }
        while self.names.len() >= self.capacity.max(1) {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if self.names.remove(&oldest).is_some() {
                self.evictions += 1;
            }
        }
        self.order.push_back(key.clone());
        self.names.insert(key.clone(), name.into());
    }
}

/// Resolves client addresses to identities, learning from DHCP and Kerberos records.
#[derive(Debug)]
pub struct Resolver {
    config: IdentityConfig,
    static_map: Option<Arc<StaticMap>>,
    leases: Bindings<Addr, DeviceKey>,
    users: Bindings<Addr, Principal>,
    machines: Bindings<Addr, Principal>,
    /// Kerberos users by the device that held their address when they logged in: the user
    /// follows the laptop to its other addresses (IPv6, a new lease) for the ticket's lifetime.
    device_users: Bindings<DeviceKey, Principal>,
    devices: Devices,
    /// (transaction id, device, address) of REQUESTs awaiting their ACK or NAK.
    requests: VecDeque<(u32, DeviceKey, Addr)>,
    pseudonyms: Option<Pseudonymizer>,
}

impl Default for Resolver {
    fn default() -> Self {
        Resolver::new(IdentityConfig::default())
    }
}

impl Resolver {
    /// A resolver with no static map: identities come from the wire.
    pub fn new(config: IdentityConfig) -> Resolver {
        Resolver {
            leases: Bindings::new(config.max_addresses),
            users: Bindings::new(config.max_addresses),
            machines: Bindings::new(config.max_addresses),
            device_users: Bindings::new(config.max_devices),
            devices: Devices {
                names: HashMap::new(),
                order: VecDeque::new(),
                capacity: config.max_devices,
                evictions: 0,
            },
            requests: VecDeque::new(),
            static_map: None,
            pseudonyms: None,
            config,
        }
    }

    /// Uses `map` from now on (a reload replaces the previous map whole).
    pub fn set_static_map(&mut self, map: Option<Arc<StaticMap>>) {
        self.static_map = map;
    }

    /// Reloads the static map from `path` (the daemon's SIGHUP): the new map replaces the old
    /// one whole, for records from now on; a map that does not load leaves the old one in use.
    /// Returns the number of rows now in use.
    pub fn reload_static_map(&mut self, path: &std::path::Path) -> Result<usize, StaticMapError> {
        let map = StaticMap::load(path)?;
        let rows = map.len();
        self.static_map = Some(Arc::new(map));
        Ok(rows)
    }

    /// Replaces users, devices and client addresses by tokens from now on.
    pub fn set_pseudonymizer(&mut self, pseudonyms: Option<Pseudonymizer>) {
        self.pseudonyms = pseudonyms;
    }

    /// The pseudonymizer, if pseudonymizing.
    pub fn pseudonymizer(&mut self) -> Option<&mut Pseudonymizer> {
        self.pseudonyms.as_mut()
    }

    /// Identity entries dropped because a table was full.
    pub fn evictions(&self) -> u64 {
        self.leases.evictions()
            + self.users.evictions()
            + self.machines.evictions()
            + self.device_users.evictions()
            + self.devices.evictions
    }

    /// The identity of `client` at time `at`.
    pub fn resolve(&mut self, client: Addr, at: Timestamp) -> Identity {
        // The map is shared (an Arc), so its entry is read in place, not copied whole.
        let map = self.static_map.clone();
        let fixed = map.as_deref().and_then(|m| m.lookup(client));
        let lease = self.leases.at(&client, at);
        let user = self
            .users
            .at(&client, at)
            .or_else(|| lease.and_then(|d| self.device_users.at(d, at)))
            .map(|p| p.0.clone());
        // Computer names are case-insensitive (JOHNSON-PC$ and johnson-pc$ are one account),
        // and DHCP host names are shown in lower case too.
        let machine = self
            .machines
            .at(&client, at)
            .and_then(|p| kerberos::machine_name(&p.0).map(str::to_ascii_lowercase));
        let dhcp_name = lease.and_then(|k| self.devices.names.get(k)).cloned();
        let dhcp_label = lease.map(DeviceKey::label);
        let device = fixed
            .and_then(|f| f.device.clone())
            .or(machine)
            .or_else(|| dhcp_name.as_deref().map(str::to_string))
            .or(dhcp_label);
        let (user, source, person) = match (fixed, user, &dhcp_name) {
            (Some(f), _, _) => (f.user.clone(), UserSource::Static, !f.server),
            (None, Some(p), _) => (p.to_string(), UserSource::Kerberos, true),
            (None, None, Some(name)) => (name.to_string(), UserSource::Dhcp, false),
            (None, None, None) => (client.to_string(), UserSource::Ip, false),
        };
        let mut identity = Identity {
            user,
            source,
            device,
            group: fixed.and_then(|f| f.group.clone()),
            person,
            server: fixed.is_some_and(|f| f.server),
            client: None,
        };
        if let Some(p) = &mut self.pseudonyms {
            identity.user = p.pseudonym(&identity.user);
            identity.device = identity.device.map(|d| p.pseudonym(&d));
            identity.client = Some(p.pseudonym(&client.to_string()));
        }
        identity
    }

    /// Learns from a DHCP message.
    pub fn dhcp(&mut self, record: &DhcpRecord) {
        let m = &record.message;
        let at = record.origin.ts;
        let Some(key) = DeviceKey::of(m) else { return };
        if let Some(name) = m.fqdn.as_deref().or(m.hostname.as_deref()) {
            let from_client = !matches!(
                m.kind,
                Some(DhcpKind::Offer | DhcpKind::Ack | DhcpKind::Nak)
            );
            self.devices.learn(&key, name, from_client);
        }
        let lease = |secs: Option<u32>, default: u64| {
            at.plus_secs(secs.map_or(default, u64::from).min(MAX_LEASE))
        };
        match (m.kind, m.address) {
            (Some(DhcpKind::Ack), Some(addr)) => {
                // A DHCPv6 REPLY with a zero valid lifetime confirms a release.
                if m.lease_secs == Some(0) {
                    return self.release(addr, at, &key);
                }
                self.hand_over(addr, at, &key);
                let end = lease(m.lease_secs, self.config.dhcp_default_lease);
                self.leases.bind(&addr, at, end, key.clone());
                self.requests
                    .retain(|(xid, k, _)| !(*xid == m.xid && *k == key));
            }
            (Some(DhcpKind::Request | DhcpKind::Inform), Some(addr)) => {
                if self.leases.at(&addr, at) != Some(&key) {
                    self.hand_over(addr, at, &key);
                    let end = lease(None, self.config.dhcp_default_lease);
                    self.leases.bind(&addr, at, end, key.clone());
                }
                if self.requests.len() >= MAX_PENDING_REQUESTS {
                    self.requests.pop_front();
                }
                self.requests.push_back((m.xid, key, addr));
            }
            (Some(DhcpKind::Nak), _) => {
                let pending = self.requests.iter().position(|(xid, _, _)| *xid == m.xid);
                if let Some((_, k, addr)) = pending.and_then(|i| self.requests.remove(i)) {
                    self.leases.end_at(&addr, at, |held| *held == k);
                }
            }
            (Some(DhcpKind::Release | DhcpKind::Decline), Some(addr)) => {
                self.release(addr, at, &key)
            }
            _ => {}
        }
    }

    /// `addr` goes to device `key` at `at`: a different previous holder's Kerberos users and
    /// machine accounts no longer hold it.
    fn hand_over(&mut self, addr: Addr, at: Timestamp, key: &DeviceKey) {
        if self.leases.at(&addr, at).is_some_and(|held| held != key) {
            self.users.end_at(&addr, at, |_| true);
            self.machines.end_at(&addr, at, |_| true);
        }
    }

    fn release(&mut self, addr: Addr, at: Timestamp, key: &DeviceKey) {
        if self.leases.at(&addr, at) == Some(key) {
            self.leases.end_at(&addr, at, |held| held == key);
            self.users.end_at(&addr, at, |_| true);
            self.machines.end_at(&addr, at, |_| true);
        }
    }

    /// Learns from a Kerberos exchange. Refused logins bind nothing, and neither do tickets a
    /// service obtained on behalf of a user (S4U2Self): that user is not at the address.
    pub fn kerberos(&mut self, record: &KerberosRecord) {
        if matches!(record.outcome, KrbOutcome::Refused(_)) || record.on_behalf {
            return;
        }
        let Some(principal) = record.principal.as_deref() else {
            return;
        };
        let at = record.origin.ts;
        let cap = at.plus_secs(self.config.kerberos_lifetime);
        let end = record.till.filter(|t| *t > at).map_or(cap, |t| t.min(cap));
        let client = record.origin.client.addr;
        let value = Principal(principal.into());
        if kerberos::machine_name(principal).is_some() {
            self.machines.bind(&client, at, end, value);
        } else {
            if let Some(device) = self.leases.at(&client, at).cloned() {
                self.device_users.bind(&device, at, end, value.clone());
            }
            self.users.bind(&client, at, end, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Transport;
    use crate::flow::Endpoint;
    use crate::proto::Origin;
    use crate::proto::kerberos::Exchange;

    const PC: Addr = Addr([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 88, 0, 50]);

    fn t(s: i64) -> Timestamp {
        Timestamp::from_secs(s)
    }

    fn origin(ts: i64, client: Addr) -> Origin {
        Origin {
            flow_id: 1,
            packet: 1,
            ts: t(ts),
            client: Endpoint {
                addr: client,
                port: 1,
            },
            server: Endpoint {
                addr: Addr::v4([10, 88, 0, 1]),
                port: 88,
            },
            transport: Transport::Udp,
            vlan: [0; 2],
        }
    }

    fn dhcp(ts: i64, kind: DhcpKind, mac: u8, hostname: Option<&str>, lease: u32) -> DhcpRecord {
        DhcpRecord {
            origin: origin(ts, Addr::v4([0; 4])),
            message: DhcpMessage {
                version: 4,
                kind: Some(kind),
                xid: u32::from(mac),
                mac: Some([2, 0x88, 0, 0, 0, mac]),
                hostname: hostname.map(str::to_string),
                address: Some(PC),
                lease_secs: Some(lease),
                ..DhcpMessage::default()
            },
        }
    }

    fn krb(ts: i64, principal: &str, till: Option<i64>) -> KerberosRecord {
        KerberosRecord {
            origin: origin(ts, PC),
            exchange: Exchange::As,
            principal: Some(principal.into()),
            till: till.map(t),
            on_behalf: false,
            outcome: KrbOutcome::Granted,
        }
    }

    fn who(r: &mut Resolver, ts: i64) -> (String, &'static str, Option<String>) {
        let i = r.resolve(PC, t(ts));
        (i.user, i.source.name(), i.device)
    }

    #[test]
    fn precedence_static_then_kerberos_then_dhcp_then_ip() {
        let mut r = Resolver::default();
        assert_eq!(who(&mut r, 0), ("10.88.0.50".into(), "ip", None));
        r.dhcp(&dhcp(10, DhcpKind::Ack, 1, Some("alice-laptop"), 3600));
        assert_eq!(
            who(&mut r, 11),
            ("alice-laptop".into(), "dhcp", Some("alice-laptop".into()))
        );
        r.kerberos(&krb(20, "alice@CORP.EXAMPLE", None));
        assert_eq!(
            who(&mut r, 21),
            (
                "alice@CORP.EXAMPLE".into(),
                "kerberos",
                Some("alice-laptop".into())
            )
        );
        let map = StaticMap::read(
            "10.88.0.0/16,lan-user,,lan\n10.88.0.50,alice.static,desk-7,finance\n".as_bytes(),
            std::path::Path::new("m.csv"),
        )
        .unwrap();
        r.set_static_map(Some(Arc::new(map)));
        let i = r.resolve(PC, t(22));
        assert_eq!(
            (i.user.as_str(), i.source),
            ("alice.static", UserSource::Static)
        );
        assert_eq!(
            (i.device.as_deref(), i.group.as_deref()),
            (Some("desk-7"), Some("finance"))
        );
        // Reloaded without the map: back to the wire's answer.
        r.set_static_map(None);
        assert_eq!(who(&mut r, 23).1, "kerberos");
        // Before any of it, at the packet's time: the address.
        assert_eq!(who(&mut r, 5).1, "ip");
    }

    #[test]
    fn a_new_holder_of_the_address_ends_the_old_one_and_its_tickets() {
        let mut r = Resolver::default();
        r.dhcp(&dhcp(10, DhcpKind::Ack, 1, Some("alice-laptop"), 3600));
        r.kerberos(&krb(20, "alice@CORP.EXAMPLE", Some(20 + 36_000)));
        r.dhcp(&dhcp(30, DhcpKind::Release, 1, None, 0));
        assert_eq!(who(&mut r, 31).1, "ip");
        r.dhcp(&dhcp(40, DhcpKind::Ack, 2, Some("build-server"), 3600));
        assert_eq!(who(&mut r, 41).0, "build-server");
        // Earlier records still get the identity valid then.
        assert_eq!(who(&mut r, 25).0, "alice@CORP.EXAMPLE");
        // Without a release, a new holder also ends the previous one's Kerberos user.
        r.kerberos(&krb(50, "BUILD01$@CORP.EXAMPLE", None));
        r.dhcp(&dhcp(60, DhcpKind::Ack, 3, Some("guest"), 3600));
        assert_eq!(
            who(&mut r, 61),
            ("guest".into(), "dhcp", Some("guest".into()))
        );
        assert_eq!(
            who(&mut r, 55),
            ("build-server".into(), "dhcp", Some("build01".into()))
        );
    }

    #[test]
    fn kerberos_bindings_last_the_ticket_capped_by_the_setting() {
        let mut r = Resolver::new(IdentityConfig {
            kerberos_lifetime: 100,
            ..IdentityConfig::default()
        });
        r.kerberos(&krb(0, "alice@R", Some(50)));
        assert_eq!(who(&mut r, 49).1, "kerberos");
        assert_eq!(who(&mut r, 50).1, "ip");
        // Windows asks for 2037; the setting caps it.
        r.kerberos(&krb(1000, "bob@R", Some(2_136_000_000)));
        assert_eq!(who(&mut r, 1099).0, "bob@R");
        assert_eq!(who(&mut r, 1100).1, "ip");
        // A refused login binds nothing, nor does a ticket a service got for a user (S4U2Self).
        let mut refused = krb(2000, "mallory@R", None);
        refused.outcome = KrbOutcome::Refused(24);
        r.kerberos(&refused);
        assert_eq!(who(&mut r, 2001).1, "ip");
        let mut delegated = krb(3000, "carol@R", None);
        delegated.on_behalf = true;
        r.kerberos(&delegated);
        assert_eq!(who(&mut r, 3001).1, "ip");
    }

    #[test]
    fn a_device_keeps_its_name_at_a_new_address_and_a_nak_undoes_a_request() {
        let mut r = Resolver::default();
        r.dhcp(&dhcp(10, DhcpKind::Request, 1, Some("alice-laptop"), 0));
        assert_eq!(who(&mut r, 11).0, "alice-laptop");
        r.dhcp(&dhcp(12, DhcpKind::Nak, 1, None, 0));
        assert_eq!(who(&mut r, 13).1, "ip");
        let other = Addr::v4([10, 88, 0, 60]);
        let mut ack = dhcp(20, DhcpKind::Ack, 1, None, 3600);
        ack.message.address = Some(other);
        r.dhcp(&ack);
        assert_eq!(r.resolve(other, t(21)).user, "alice-laptop");
    }

    #[test]
    fn a_reload_replaces_the_map_and_a_bad_file_keeps_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ids.csv");
        let mut r = Resolver::default();
        std::fs::write(&path, "10.88.0.0/16,lan\n").unwrap();
        assert_eq!(r.reload_static_map(&path).unwrap(), 1);
        assert_eq!(who(&mut r, 0).0, "lan");
        std::fs::write(&path, "10.88.0.0/16,lan\n10.88.0.50,alice\n").unwrap();
        assert_eq!(r.reload_static_map(&path).unwrap(), 2);
        assert_eq!(who(&mut r, 0).0, "alice");
        std::fs::write(&path, "10.88.0.50/8,broken\n").unwrap();
        let e = r.reload_static_map(&path).unwrap_err().to_string();
        assert!(
            e.ends_with("ids.csv:1: 10.88.0.50/8 has host bits set (the prefix is 10.0.0.0/8)"),
            "{e}"
        );
        assert_eq!(who(&mut r, 0).0, "alice", "the old map stays in use");
    }

    #[test]
    fn a_kerberos_user_follows_the_device_to_its_other_addresses() {
        let mut r = Resolver::default();
        r.dhcp(&dhcp(10, DhcpKind::Ack, 1, Some("alice-laptop"), 3600));
        r.kerberos(&krb(20, "alice@R", None));
        // The laptop moves to .60 (a new lease): alice's ticket goes with it.
        let other = Addr::v4([10, 88, 0, 60]);
        let mut ack = dhcp(30, DhcpKind::Ack, 1, None, 3600);
        ack.message.address = Some(other);
        r.dhcp(&ack);
        assert_eq!(r.resolve(other, t(31)).user, "alice@R");
        // Not before her login, and not to the next holder of her old address.
        assert_eq!(r.resolve(other, t(15)).source, UserSource::Ip);
        r.dhcp(&dhcp(40, DhcpKind::Ack, 2, Some("guest"), 3600));
        assert_eq!(who(&mut r, 41).0, "guest");
    }

    #[test]
    fn services_are_servers_or_non_persons_calling_ai_apis() {
        let mut r = Resolver::default();
        let anon = r.resolve(PC, t(0));
        assert_eq!(
            anon.kind(Some(Category::LlmApi), software::Kind::Unknown),
            UserKind::Service
        );
        assert_eq!(
            anon.kind(Some(Category::ChatAssistant), software::Kind::Unknown),
            UserKind::Unknown
        );
        r.kerberos(&krb(1, "alice@R", None));
        let alice = r.resolve(PC, t(2));
        assert_eq!(
            alice.kind(Some(Category::LlmApi), software::Kind::Unknown),
            UserKind::Person
        );
        // A program calling a model API is an agent, whoever the user is; a browser is not.
        assert_eq!(
            alice.kind(Some(Category::LlmApi), software::Kind::Program),
            UserKind::Agent
        );
        assert_eq!(
            alice.kind(Some(Category::McpServer), software::Kind::Program),
            UserKind::Agent
        );
        assert_eq!(
            alice.kind(Some(Category::LlmApi), software::Kind::Browser),
            UserKind::Person
        );
        assert_eq!(
            alice.kind(Some(Category::ChatAssistant), software::Kind::Program),
            UserKind::Person,
            "curl to a chat site is still the person's"
        );
        let map = StaticMap::read(
            "10.88.0.50,ci,,,server\n".as_bytes(),
            std::path::Path::new("m"),
        )
        .unwrap();
        r.set_static_map(Some(Arc::new(map)));
        assert_eq!(
            r.resolve(PC, t(3)).kind(None, software::Kind::Unknown),
            UserKind::Service
        );
    }

    #[test]
    fn pseudonyms_replace_users_devices_and_addresses() {
        let mut r = Resolver::default();
        r.dhcp(&dhcp(10, DhcpKind::Ack, 1, Some("alice-laptop"), 3600));
        r.set_pseudonymizer(Some(Pseudonymizer::from_key(b"0123456789abcdef")));
        let i = r.resolve(PC, t(11));
        let p = Pseudonymizer::from_key(b"0123456789abcdef");
        assert_eq!(i.user, p.token("alice-laptop"));
        assert_eq!(i.device, Some(p.token("alice-laptop")));
        assert_eq!(i.client, Some(p.token("10.88.0.50")));
        assert_eq!(r.pseudonymizer().unwrap().take_sealed().len(), 2);
    }
}
