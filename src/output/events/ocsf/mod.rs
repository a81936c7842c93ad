//! Events as OCSF 1.8.0 (`--events-format ocsf`): one JSON object per event, of the class
//! docs/events.md ("OCSF") maps it to: flows to Network Activity (4001) or, with a parsed
//! plaintext HTTP request, HTTP Activity (4002) (`network`); lookups to DNS Activity (4003)
//! (`network`); DHCP messages to DHCP Activity (4004) and Kerberos exchanges to Authentication
//! (3002) (`messages`); notices to Detection Finding (2004) (`finding`).
//!
//! This file owns what every class shares: the head (class, activity, type, severity, time),
//! `metadata`, endpoints, `connection_info`, the actor and device, and the app as `unmapped`
//! keeps it. The rules the validator of `../shared/ocsf/` holds events to shape the types: no
//! `null` (an absent value is left out), no attribute the class does not define (what OCSF has
//! no attribute for goes under `unmapped.lantern`), a profile's attributes only when
//! `metadata.profiles` declares it, times in milliseconds. Every type borrows from the record:
//! nothing is built as a `serde_json::Value`.

mod finding;
mod messages;
mod network;

use super::Event;
use crate::capture::Timestamp;
use crate::catalog::Identified;
use crate::decode::{Addr, Transport};
use crate::flow::Endpoint;
use crate::identity::{Identity, UserKind};
use crate::policy::Status;
use serde::{Serialize, Serializer};
use std::fmt;
use std::io;

/// The OCSF version events are written in.
pub const VERSION: &str = "1.8.0";

/// Appends `event` to `buf` as one OCSF event (no newline).
pub fn encode(event: &Event<'_>, buf: &mut Vec<u8>) -> io::Result<()> {
    match event {
        Event::Flow(view) => network::flow(view, buf),
        Event::Dns(view) => network::dns(view, buf),
        Event::Dhcp(record, shown) => messages::dhcp(record, shown, buf),
        Event::Kerberos(record, shown) => messages::kerberos(record, shown, buf),
        Event::Notice(notice) => finding::notice(notice, buf),
    }
}

fn write<T: Serialize>(buf: &mut Vec<u8>, event: &T) -> io::Result<()> {
    Ok(serde_json::to_writer(buf, event)?)
}

/// An OCSF class: its uid and caption, and its category's.
#[derive(Clone, Copy, Debug)]
struct Class {
    uid: u32,
    caption: &'static str,
    category_uid: u32,
    category: &'static str,
}

const NETWORK: (u32, &str) = (4, "Network Activity");

const NETWORK_ACTIVITY: Class = Class::of(4001, "Network Activity", NETWORK);
const HTTP_ACTIVITY: Class = Class::of(4002, "HTTP Activity", NETWORK);
const DNS_ACTIVITY: Class = Class::of(4003, "DNS Activity", NETWORK);
const DHCP_ACTIVITY: Class = Class::of(4004, "DHCP Activity", NETWORK);
const AUTHENTICATION: Class =
    Class::of(3002, "Authentication", (3, "Identity & Access Management"));
const DETECTION_FINDING: Class = Class::of(2004, "Detection Finding", (2, "Findings"));

impl Class {
    const fn of(
        uid: u32,
        caption: &'static str,
        (category_uid, category): (u32, &'static str),
    ) -> Class {
        Class {
            uid,
            caption,
            category_uid,
            category,
        }
    }
}

/// An enum member of OCSF: its id and caption (`activity_id` and `activity_name`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Member(u8, &'static str);

/// `severity_id` 1, of every event but a finding.
const INFORMATIONAL: Member = Member(1, "Informational");

/// The attributes every event starts with.
#[derive(Serialize)]
struct Head<'a> {
    class_uid: u32,
    class_name: &'static str,
    category_uid: u32,
    category_name: &'static str,
    activity_id: u8,
    activity_name: &'a str,
    type_uid: u32,
    type_name: TypeName<'a>,
    severity_id: u8,
    severity: &'static str,
    time: i64,
    metadata: Metadata<'a>,
}

impl<'a> Head<'a> {
    /// The head of an event of `class` and `activity`, at `time`.
    fn new(class: Class, activity: Member, time: Timestamp, metadata: Metadata<'a>) -> Head<'a> {
        Head::named(class, activity.0, activity.1, time, metadata)
    }

    /// The head of an activity with a name of its own (99 Other, `activity_name` the source's).
    fn named(
        class: Class,
        activity_id: u8,
        activity_name: &'a str,
        time: Timestamp,
        metadata: Metadata<'a>,
    ) -> Head<'a> {
        Head {
            class_uid: class.uid,
            class_name: class.caption,
            category_uid: class.category_uid,
            category_name: class.category,
            activity_id,
            activity_name,
            type_uid: class.uid * 100 + u32::from(activity_id),
            type_name: TypeName(class.caption, activity_name),
            severity_id: INFORMATIONAL.0,
            severity: INFORMATIONAL.1,
            time: ms(time),
            metadata,
        }
    }

    /// The same head with `severity`.
    fn severity(self, severity: Member) -> Head<'a> {
        Head {
            severity_id: severity.0,
            severity: severity.1,
            ..self
        }
    }
}

/// `type_name`: "Class: Activity".
struct TypeName<'a>(&'static str, &'a str);

impl Serialize for TypeName<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{}: {}", self.0, self.1))
    }
}

/// A time in milliseconds since the epoch, as OCSF's `timestamp_t`.
fn ms(t: Timestamp) -> i64 {
    t.0.div_euclid(1_000_000)
}

/// `metadata`: the version, lantern as the product, the event's uid and lantern's name of it.
#[derive(Serialize)]
struct Metadata<'a> {
    version: &'static str,
    product: Product,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    profiles: &'static [&'static str],
    uid: Uid<'a>,
    /// lantern's `event_type`.
    event_code: &'static str,
}

impl<'a> Metadata<'a> {
    fn new(uid: Uid<'a>, event_code: &'static str) -> Metadata<'a> {
        Metadata {
            version: VERSION,
            product: Product,
            profiles: &[],
            uid,
            event_code,
        }
    }

    /// With the `host` profile declared, when `yes` (its `actor` and `device` are there).
    fn host(self, yes: bool) -> Metadata<'a> {
        Metadata {
            profiles: if yes { &["host"] } else { &[] },
            ..self
        }
    }
}

/// `metadata.product`: lantern, of this version.
struct Product;

impl Serialize for Product {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Fields {
            name: &'static str,
            vendor_name: &'static str,
            version: &'static str,
        }
        Fields {
            name: "lantern",
            vendor_name: "lantern",
            version: env!("CARGO_PKG_VERSION"),
        }
        .serialize(s)
    }
}

/// `metadata.uid`: unique among the events of one run (flow ids, packet numbers).
#[derive(Clone, Copy, Debug)]
enum Uid<'a> {
    /// A flow record: `flow-ID`, then `flow-ID-PART` for its later records.
    Flow(u64, u32),
    /// A DNS lookup: its query packet and transaction id.
    Dns(u64, u16),
    /// A DHCP message or Kerberos exchange: its kind and packet.
    Message(&'static str, u64),
    /// A notice: its finding's uid.
    Notice(&'a str),
}

impl fmt::Display for Uid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uid::Flow(id, 0) => write!(f, "flow-{id}"),
            Uid::Flow(id, part) => write!(f, "flow-{id}-{part}"),
            Uid::Dns(packet, txid) => write!(f, "dns-{packet}-{txid}"),
            Uid::Message(kind, packet) => write!(f, "{kind}-{packet}"),
            Uid::Notice(uid) => f.write_str(uid),
        }
    }
}

impl Serialize for Uid<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A value written as its `Display` string (a number where OCSF wants a string).
#[derive(Clone, Copy, Debug)]
struct Shown<T>(T);

impl<T: fmt::Display> Serialize for Shown<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// A `network_endpoint`. A client's pseudonym token is its `uid`: `ip` must be an address.
#[derive(Default, Serialize)]
struct EndpointOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<Shown<Addr>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mac: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vlan_uid: Option<Shown<u16>>,
}

impl<'a> EndpointOut<'a> {
    /// An endpoint of a flow: its address (or, for a client, the token that stands for it) and
    /// port, and the innermost VLAN of `vlan`.
    fn of(e: Endpoint, token: Option<&'a str>, vlan: [u16; 2]) -> EndpointOut<'a> {
        EndpointOut {
            ip: token.is_none().then_some(Shown(e.addr)),
            uid: token,
            port: Some(e.port),
            vlan_uid: innermost(vlan).map(Shown),
            ..EndpointOut::default()
        }
    }

    /// With `hostname`.
    fn hostname(self, hostname: Option<&'a str>) -> EndpointOut<'a> {
        EndpointOut { hostname, ..self }
    }
}

/// The VLAN the hosts are on: the inner tag of two, else the only one.
fn innermost(vlan: [u16; 2]) -> Option<u16> {
    match vlan {
        [0, 0] => None,
        [outer, 0] => Some(outer),
        [_, inner] => Some(inner),
    }
}

/// lantern's `vlan` (`[outer]` or `[outer, inner]`), for `unmapped`.
#[derive(Clone, Copy, Debug)]
struct Vlan([u16; 2]);

impl Vlan {
    fn of(ids: [u16; 2]) -> Option<Vlan> {
        (ids != [0, 0]).then_some(Vlan(ids))
    }
}

impl Serialize for Vlan {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = if self.0[1] == 0 { 1 } else { 2 };
        s.collect_seq(&self.0[..n])
    }
}

/// `connection_info`: the flow, its transport and IP version. The direction is not known: a
/// sensor does not know which addresses are inside.
#[derive(Serialize)]
struct ConnectionInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<Shown<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    protocol_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    protocol_num: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    protocol_ver_id: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    protocol_ver: Option<&'static str>,
    direction_id: u8,
    direction: &'static str,
}

impl ConnectionInfo {
    /// The connection of flow `flow_id`, over `transport`, from `client`.
    fn of(flow_id: u64, transport: Transport, client: Addr) -> ConnectionInfo {
        let (ver_id, ver) = if client.ip().is_ipv4() {
            (4, "Internet Protocol version 4 (IPv4)")
        } else {
            (6, "Internet Protocol version 6 (IPv6)")
        };
        ConnectionInfo {
            protocol_name: Some(transport.name()),
            protocol_num: Some(transport.number()),
            protocol_ver_id: Some(ver_id),
            protocol_ver: Some(ver),
            ..ConnectionInfo::flow(flow_id)
        }
    }

    /// Only the flow's id.
    fn flow(flow_id: u64) -> ConnectionInfo {
        ConnectionInfo {
            uid: Some(Shown(flow_id)),
            protocol_name: None,
            protocol_num: None,
            protocol_ver_id: None,
            protocol_ver: None,
            direction_id: 0,
            direction: "Unknown",
        }
    }
}

/// `actor`: the user, and the client software as its `app_name`.
#[derive(Serialize)]
struct Actor<'a> {
    user: UserOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_name: Option<&'a str>,
}

/// A `user`: its name and what kind of user it is.
#[derive(Serialize)]
struct UserOut<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    type_id: Option<u8>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<[GroupOut<'a>; 1]>,
}

#[derive(Serialize)]
struct GroupOut<'a> {
    name: &'a str,
}

/// `user.type_id` of a user kind: a person is a User (1), a service a Service (4), an agent
/// Other (99, `type` "Agent"), else Unknown (0).
fn user_type(kind: UserKind) -> Member {
    match kind {
        UserKind::Person => Member(1, "User"),
        UserKind::Service => Member(4, "Service"),
        UserKind::Agent => Member(99, "Agent"),
        UserKind::Unknown => Member(0, "Unknown"),
    }
}

impl<'a> UserOut<'a> {
    fn new(name: &'a str, kind: UserKind, group: Option<&'a str>) -> UserOut<'a> {
        let Member(id, caption) = user_type(kind);
        UserOut {
            name,
            type_id: Some(id),
            kind: Some(caption),
            groups: group.map(|name| [GroupOut { name }]),
        }
    }
}

/// The actor of a record attributed to `identity` (none when it names no one).
fn actor<'a>(identity: &'a Identity, kind: UserKind, software: &'a str) -> Option<Actor<'a>> {
    (!identity.user.is_empty()).then(|| Actor {
        user: UserOut::new(&identity.user, kind, identity.group.as_deref()),
        app_name: (!software.is_empty()).then_some(software),
    })
}

/// A `device`: lantern's device name (a static map's, a machine account's, a DHCP name or a
/// MAC address, or their token). Its type is not known.
#[derive(Serialize)]
struct DeviceOut<'a> {
    name: &'a str,
    type_id: u8,
    #[serde(rename = "type")]
    kind: &'static str,
}

fn device(name: Option<&str>) -> Option<DeviceOut<'_>> {
    name.map(|name| DeviceOut {
        name,
        type_id: 0,
        kind: "Unknown",
    })
}

/// The app as `unmapped.lantern.app` keeps it (its name is the event's `app_name`): OCSF has
/// no attribute for a catalog id, vendor, category, policy status or matched pattern.
#[derive(Serialize)]
struct AppExtra<'a> {
    id: &'a str,
    vendor: &'a str,
    category: &'static str,
    status: &'static str,
    pattern: &'a str,
}

impl<'a> AppExtra<'a> {
    fn new(hit: Identified<'a>, status: Status) -> AppExtra<'a> {
        AppExtra {
            id: &hit.app.id,
            vendor: &hit.app.vendor,
            category: hit.app.category.name(),
            status: status.name(),
            pattern: hit.pattern,
        }
    }
}

/// `unmapped`: lantern's fields OCSF has no attribute for, under `lantern`.
#[derive(Serialize)]
struct Unmapped<T> {
    lantern: T,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
mod tests;
