//! Events in lantern's own format: JSON lines in the schema of docs/events.md. Field names
//! are stable; new fields are added, never renamed. Every record starts with the same join
//! keys: event type, time, flow id, endpoints.

use super::{DhcpShown, Event, KerberosShown};
use crate::capture::Rfc3339;
use crate::catalog::Identified;
use crate::decode::Addr;
use crate::flow::Endpoint;
use crate::identity::{Identity, UserKind};
use crate::naming::MAX_ALTERNATIVES;
use crate::output::notice::{Notice, NoticeApp};
use crate::output::{DnsView, FlowView};
use crate::proto::requests::RequestLog;
use crate::proto::{DhcpRecord, KerberosRecord, KrbOutcome, MessageEvent, Origin, dns};
use crate::software::Software;
use serde::Serialize;
use std::fmt;
use std::io;

/// An endpoint as `{"ip": ..., "port": ...}`; a client's `ip` is a token when pseudonymizing.
#[derive(Serialize)]
struct EndpointJson<'a> {
    ip: IpJson<'a>,
    port: u16,
}

#[derive(Serialize)]
#[serde(untagged)]
enum IpJson<'a> {
    Addr(#[serde(serialize_with = "display")] Addr),
    Token(&'a str),
}

impl From<Endpoint> for EndpointJson<'_> {
    fn from(e: Endpoint) -> Self {
        EndpointJson {
            ip: IpJson::Addr(e.addr),
            port: e.port,
        }
    }
}

/// The client endpoint as the identity shows it.
fn client_json<'a>(e: Endpoint, identity: &'a Identity) -> EndpointJson<'a> {
    EndpointJson {
        ip: identity
            .client
            .as_deref()
            .map_or(IpJson::Addr(e.addr), IpJson::Token),
        port: e.port,
    }
}

fn display<T: fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

#[derive(Serialize)]
struct AppJson<'a> {
    id: &'a str,
    name: &'a str,
    vendor: &'a str,
    category: &'a str,
    status: &'a str,
    /// The catalog pattern or request rule that identified it.
    pattern: &'a str,
}

impl<'a> AppJson<'a> {
    fn new(hit: Identified<'a>, status: crate::policy::Status) -> Self {
        AppJson {
            id: &hit.app.id,
            name: &hit.app.name,
            vendor: &hit.app.vendor,
            category: hit.app.category.name(),
            status: status.name(),
            pattern: hit.pattern,
        }
    }
}

/// The other names in force for a flow's address, as a list (left out when there are none).
#[derive(Clone, Copy)]
struct Alternatives<'a>([Option<&'a str>; MAX_ALTERNATIVES]);

impl Alternatives<'_> {
    fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }
}

impl Serialize for Alternatives<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().flatten())
    }
}

#[derive(Serialize)]
struct FlowJson<'a> {
    event_type: &'static str,
    ts: Rfc3339,
    end_ts: Rfc3339,
    flow_id: u64,
    client: EndpointJson<'a>,
    server: EndpointJson<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vlan: Option<Vec<u16>>,
    transport: &'static str,
    protocol: &'static str,
    server_name: Option<&'a str>,
    name_source: &'static str,
    #[serde(skip_serializing_if = "Alternatives::is_empty")]
    name_alternatives: Alternatives<'a>,
    #[serde(flatten)]
    who: WhoJson<'a>,
    client_software: SoftwareJson,
    app: Option<AppJson<'a>>,
    candidate: bool,
    /// `doh`, `dot` or `doq` when the flow carries encrypted DNS.
    #[serde(skip_serializing_if = "Option::is_none")]
    encrypted_dns: Option<&'static str>,
    bytes_up: u64,
    bytes_down: u64,
    packets_up: u64,
    packets_down: u64,
    end_reason: &'static str,
    /// `interim` (the flow is still open: what it sent since its last record) or `final`.
    record: &'static str,
    /// The record's number within its flow, after the first (which counts the flow).
    #[serde(skip_serializing_if = "is_zero")]
    part: u32,
    /// The first message's fields, under its dissector's name (`tls`, `http`).
    #[serde(flatten)]
    message: Option<MessageEvent<'a>>,
    /// The requests of a plaintext HTTP/1.x connection since the flow's last record.
    #[serde(skip_serializing_if = "Option::is_none")]
    requests: Option<RequestsJson<'a>>,
}

/// What a flow's requests were: their count, their distinct paths, and the MCP calls among
/// them.
#[derive(Serialize)]
pub(super) struct RequestsJson<'a> {
    count: u32,
    paths: &'a [Box<str>],
    #[serde(skip_serializing_if = "Option::is_none")]
    mcp: Option<McpCallsJson<'a>>,
}

#[derive(Serialize)]
struct McpCallsJson<'a> {
    calls: u32,
    methods: &'a [Box<str>],
    tools: &'a [Box<str>],
}

impl<'a> From<&'a RequestLog> for RequestsJson<'a> {
    fn from(log: &'a RequestLog) -> RequestsJson<'a> {
        RequestsJson {
            count: log.requests,
            paths: &log.paths,
            mcp: (log.mcp_calls > 0).then_some(McpCallsJson {
                calls: log.mcp_calls,
                methods: &log.mcp_methods,
                tools: &log.mcp_tools,
            }),
        }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Serialize)]
struct DnsJson<'a> {
    #[serde(flatten)]
    origin: OriginJson<'a>,
    query: &'a str,
    qtype: String,
    rcode: Option<String>,
    answers: Vec<String>,
    ttls: Vec<u32>,
    /// Public names of the ECHConfigs in HTTPS and SVCB answers (left out when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ech_public_names: Vec<&'a str>,
    #[serde(flatten)]
    who: WhoJson<'a>,
    app: Option<AppJson<'a>>,
    candidate: bool,
}

/// Who a flow or lookup is attributed to.
#[derive(Serialize)]
struct WhoJson<'a> {
    user: &'a str,
    user_source: &'static str,
    user_kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
}

impl<'a> WhoJson<'a> {
    fn of(identity: &'a Identity, kind: UserKind) -> Self {
        WhoJson {
            user: &identity.user,
            user_source: identity.source.name(),
            user_kind: kind.name(),
            device: identity.device.as_deref(),
            group: identity.group.as_deref(),
        }
    }
}

/// The client software of a flow.
#[derive(Serialize)]
struct SoftwareJson {
    family: Option<&'static str>,
    kind: &'static str,
}

impl From<Software> for SoftwareJson {
    fn from(s: Software) -> SoftwareJson {
        SoftwareJson {
            family: (!s.family.is_empty()).then_some(s.family),
            kind: s.kind.name(),
        }
    }
}

/// The join keys DNS and identity events start with.
#[derive(Serialize)]
struct OriginJson<'a> {
    event_type: &'static str,
    ts: Rfc3339,
    flow_id: u64,
    client: EndpointJson<'a>,
    server: EndpointJson<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vlan: Option<Vec<u16>>,
    transport: &'static str,
}

#[derive(Serialize)]
struct DhcpEventJson<'a> {
    #[serde(flatten)]
    origin: OriginJson<'a>,
    dhcp: DhcpJson<'a>,
}

#[derive(Serialize)]
struct DhcpJson<'a> {
    version: u8,
    message: &'static str,
    xid: u32,
    mac: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duid: Option<&'a str>,
    hostname: Option<&'a str>,
    fqdn: Option<&'a str>,
    address: Option<&'a str>,
    lease_secs: Option<u32>,
}

#[derive(Serialize)]
struct KerberosEventJson<'a> {
    #[serde(flatten)]
    origin: OriginJson<'a>,
    kerberos: KerberosJson<'a>,
}

#[derive(Serialize)]
struct KerberosJson<'a> {
    exchange: &'static str,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<i32>,
    principal: Option<&'a str>,
    machine: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    on_behalf: bool,
    till: Option<Rfc3339>,
}

fn origin_json<'a>(
    event_type: &'static str,
    p: &Origin,
    client: Option<&'a str>,
) -> OriginJson<'a> {
    OriginJson {
        event_type,
        ts: Rfc3339(p.ts),
        flow_id: p.flow_id,
        client: EndpointJson {
            ip: client.map_or(IpJson::Addr(p.client.addr), IpJson::Token),
            port: p.client.port,
        },
        server: p.server.into(),
        vlan: vlan(p.vlan),
        transport: p.transport.name(),
    }
}

fn vlan(ids: [u16; 2]) -> Option<Vec<u16>> {
    match ids {
        [0, 0] => None,
        [outer, 0] => Some(vec![outer]),
        [outer, inner] => Some(vec![outer, inner]),
    }
}

/// Appends `event` to `buf` as one JSON object (no newline).
pub fn encode(event: &Event<'_>, buf: &mut Vec<u8>) -> io::Result<()> {
    match event {
        Event::Flow(view) => flow(view, buf),
        Event::Dns(view) => dns(view, buf),
        Event::Dhcp(record, shown) => dhcp(record, shown, buf),
        Event::Kerberos(record, shown) => kerberos(record, shown, buf),
        Event::Notice(notice) => self::notice(notice, buf),
    }
}

/// A flow event.
fn flow(view: &FlowView<'_>, buf: &mut Vec<u8>) -> io::Result<()> {
    let r = view.record;
    let event = FlowJson {
        event_type: "flow",
        ts: Rfc3339(r.first),
        end_ts: Rfc3339(r.last),
        flow_id: r.id,
        client: client_json(r.client, view.identity),
        server: r.server.into(),
        vlan: vlan(r.vlan),
        transport: r.transport.name(),
        protocol: r.protocol.name(),
        server_name: view.server_name,
        name_source: view.name_source.name(),
        name_alternatives: Alternatives(view.name_alternatives),
        who: WhoJson::of(view.identity, view.user_kind()),
        client_software: SoftwareJson::from(view.software),
        app: view.app.map(|hit| AppJson::new(hit, view.status)),
        candidate: view.candidate,
        encrypted_dns: view.encrypted_dns.map(|e| e.name()),
        bytes_up: r.bytes[0],
        bytes_down: r.bytes[1],
        packets_up: r.packets[0],
        packets_down: r.packets[1],
        end_reason: r.end.name(),
        record: if r.end.is_final() { "final" } else { "interim" },
        part: r.part,
        message: r.message.as_ref().map(|m| m.event(view.ech)),
        requests: r.requests.as_deref().map(RequestsJson::from),
    };
    write(buf, &event)
}

/// A DNS event.
fn dns(view: &DnsView<'_>, buf: &mut Vec<u8>) -> io::Result<()> {
    let r = view.record;
    let event = DnsJson {
        origin: OriginJson {
            event_type: "dns",
            ts: Rfc3339(r.ts),
            flow_id: r.flow_id,
            client: client_json(r.client, view.identity),
            server: r.server.into(),
            vlan: vlan(r.vlan),
            transport: r.transport.name(),
        },
        query: &r.query,
        qtype: dns::type_name(r.qtype),
        rcode: r.rcode.map(dns::rcode_name),
        answers: r.answers.iter().map(|a| a.data.to_string()).collect(),
        ttls: r.answers.iter().map(|a| a.ttl).collect(),
        ech_public_names: r.ech_public_names.iter().map(|(n, _)| n.as_str()).collect(),
        who: WhoJson::of(view.identity, view.user_kind()),
        app: view.app.map(|hit| AppJson::new(hit, view.status)),
        candidate: view.candidate,
    };
    write(buf, &event)
}

/// A DHCP event, with the client's names and addresses as `shown`.
fn dhcp(r: &DhcpRecord, shown: &DhcpShown, buf: &mut Vec<u8>) -> io::Result<()> {
    let m = &r.message;
    let dhcp = DhcpJson {
        version: m.version,
        message: m.kind.map_or("none", |k| k.name()),
        xid: m.xid,
        mac: shown.mac.as_deref(),
        duid: shown.duid.as_deref(),
        hostname: shown.hostname.as_deref(),
        fqdn: shown.fqdn.as_deref(),
        address: shown.address.as_deref(),
        lease_secs: m.lease_secs,
    };
    let event = DhcpEventJson {
        origin: origin_json("dhcp", &r.origin, shown.client.as_deref()),
        dhcp,
    };
    write(buf, &event)
}

/// A Kerberos event, with the principal and client address as `shown`.
fn kerberos(r: &KerberosRecord, shown: &KerberosShown, buf: &mut Vec<u8>) -> io::Result<()> {
    let kerberos = KerberosJson {
        exchange: r.exchange.name(),
        outcome: r.outcome.name(),
        error_code: match r.outcome {
            KrbOutcome::Refused(code) => Some(code),
            _ => None,
        },
        principal: shown.principal.as_deref(),
        machine: shown.machine,
        on_behalf: r.on_behalf,
        till: r.till.map(Rfc3339),
    };
    let event = KerberosEventJson {
        origin: origin_json("kerberos", &r.origin, shown.client.as_deref()),
        kerberos,
    };
    write(buf, &event)
}

fn write<T: Serialize>(buf: &mut Vec<u8>, event: &T) -> io::Result<()> {
    Ok(serde_json::to_writer(buf, event)?)
}

/// A notice event: why, about whom and what, and the evidence.
#[derive(Serialize)]
struct NoticeJson<'a> {
    event_type: &'static str,
    ts: Rfc3339,
    notice: &'static str,
    severity: &'static str,
    message: &'a str,
    subject: &'a str,
    user: &'a str,
    user_kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<EndpointJson<'a>>,
    server_name: Option<&'a str>,
    app: Option<NoticeAppJson<'a>>,
    first_seen: Rfc3339,
    flows: &'a [u64],
    bytes_up: u64,
    bytes_down: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    threshold_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    clients: Option<u32>,
}

#[derive(Serialize)]
struct NoticeAppJson<'a> {
    id: &'a str,
    name: &'a str,
    vendor: &'a str,
    category: &'a str,
    status: &'a str,
}

impl<'a> From<&'a NoticeApp> for NoticeAppJson<'a> {
    fn from(a: &'a NoticeApp) -> Self {
        NoticeAppJson {
            id: &a.id,
            name: &a.name,
            vendor: &a.vendor,
            category: a.category,
            status: a.status,
        }
    }
}

fn notice(n: &Notice, buf: &mut Vec<u8>) -> io::Result<()> {
    let event = NoticeJson {
        event_type: "notice",
        ts: Rfc3339(n.ts),
        notice: n.kind.name(),
        severity: n.severity.name(),
        message: &n.message,
        subject: &n.subject,
        user: &n.user,
        user_kind: n.user_kind,
        device: n.device.as_deref(),
        client: n.client.as_deref(),
        server: n.server.map(EndpointJson::from),
        server_name: n.server_name.as_deref(),
        app: n.app.as_ref().map(NoticeAppJson::from),
        first_seen: Rfc3339(n.first_seen),
        flows: &n.flows,
        bytes_up: n.bytes_up,
        bytes_down: n.bytes_down,
        threshold_bytes: n.threshold,
        clients: n.clients,
    };
    write(buf, &event)
}
