//! Events as JSON lines, in the schema of DESIGN.md ("Event schema"). Field names are stable;
//! new fields are added, never renamed. Every record starts with the same join keys: event
//! type, time, flow id, endpoints.
//!
//! The sequencer encodes each event into a buffer of its own; full buffers (256 KiB) go to a
//! [`WritingThread`], which does the writes, so the sequencer never waits on the file or the
//! pipe unless [`QUEUED`] buffers are already waiting. A write error is reported at the next
//! hand-over or flush; a flush returns once every event before it is written out.

use super::{DnsView, FlowView};
use crate::capture::Rfc3339;
use crate::catalog::Identified;
use crate::decode::Addr;
use crate::flow::Endpoint;
use crate::identity::{Identity, Pseudonymizer, UserKind};
use crate::naming::MAX_ALTERNATIVES;
use crate::proto::dhcp;
use crate::proto::requests::RequestLog;
use crate::proto::{DhcpRecord, KerberosRecord, KrbOutcome, MessageEvent, Origin, dns, kerberos};
use crate::software::Software;
use crate::writing::{Destination, WritingThread};
use crossbeam_channel::{Receiver, Sender, bounded};
use serde::Serialize;
use std::fmt;
use std::io::{self, Write};

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
struct RequestsJson<'a> {
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
    dhcp: DhcpJson,
}

#[derive(Serialize)]
struct DhcpJson {
    version: u8,
    message: &'static str,
    xid: u32,
    mac: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duid: Option<String>,
    hostname: Option<String>,
    fqdn: Option<String>,
    address: Option<String>,
    lease_secs: Option<u32>,
}

#[derive(Serialize)]
struct KerberosEventJson<'a> {
    #[serde(flatten)]
    origin: OriginJson<'a>,
    kerberos: KerberosJson,
}

#[derive(Serialize)]
struct KerberosJson {
    exchange: &'static str,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<i32>,
    principal: Option<String>,
    machine: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    on_behalf: bool,
    till: Option<Rfc3339>,
}

/// A name from the wire as events show it: itself, or its token when pseudonymizing.
fn shown(pseudonyms: &mut Option<&mut Pseudonymizer>, name: String) -> String {
    match pseudonyms {
        Some(p) => p.pseudonym(&name),
        None => name,
    }
}

/// The client address's token, when pseudonymizing.
fn client_token(pseudonyms: &mut Option<&mut Pseudonymizer>, origin: &Origin) -> Option<String> {
    pseudonyms
        .as_deref_mut()
        .map(|p| p.pseudonym(&origin.client.addr.to_string()))
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

/// Writes events as JSON lines.
pub struct EventWriter {
    /// Lines gathered since the last hand-over.
    buf: Vec<u8>,
    thread: WritingThread<Out>,
    /// Buffers the writing thread is done with.
    spare: Receiver<Vec<u8>>,
}

/// Bytes gathered before they go to the writing thread.
const CHUNK: usize = 256 * 1024;
/// Buffers that may wait for the writing thread.
pub const QUEUED: usize = 4;

/// The writing thread's end: the file or pipe, and the way back for emptied buffers.
struct Out {
    out: Box<dyn Write + Send>,
    give_back: Sender<Vec<u8>>,
}

impl Destination for Out {
    type Item = Vec<u8>;

    fn write(&mut self, mut buf: Vec<u8>) -> io::Result<()> {
        let written = self.out.write_all(&buf);
        buf.clear();
        let _ = self.give_back.try_send(buf);
        written
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl fmt::Debug for EventWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventWriter")
    }
}

impl EventWriter {
    /// A writer to `out`, by a thread of its own (buffer `out`: a write per 256 KiB of events
    /// otherwise).
    pub fn new(out: Box<dyn Write + Send>) -> EventWriter {
        let (give_back, spare) = bounded::<Vec<u8>>(QUEUED);
        let thread = WritingThread::start("lantern-events", QUEUED, Out { out, give_back })
            .expect("failed to start the events thread");
        EventWriter {
            buf: Vec::with_capacity(CHUNK + 4096),
            thread,
            spare,
        }
    }

    /// Hands the gathered lines to the writing thread.
    fn hand_over(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let next = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK + 4096));
        let full = std::mem::replace(&mut self.buf, next);
        self.thread.send(full)
    }

    /// Writes a flow event.
    pub fn flow(&mut self, view: &FlowView<'_>) -> io::Result<()> {
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
        self.line(&event)
    }

    /// Writes a DNS event.
    pub fn dns(&mut self, view: &DnsView<'_>) -> io::Result<()> {
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
        self.line(&event)
    }

    /// Writes a DHCP event; with `pseudonyms`, every name and address of the client is a token.
    pub fn dhcp(
        &mut self,
        r: &DhcpRecord,
        mut pseudonyms: Option<&mut Pseudonymizer>,
    ) -> io::Result<()> {
        let m = &r.message;
        let client = client_token(&mut pseudonyms, &r.origin);
        let mut hide = |s: String| shown(&mut pseudonyms, s);
        let dhcp = DhcpJson {
            version: m.version,
            message: m.kind.map_or("none", |k| k.name()),
            xid: m.xid,
            mac: m.mac.map(|mac| hide(dhcp::mac_string(&mac))),
            duid: m.duid.as_deref().map(|d| hide(dhcp::hex(d))),
            hostname: m.hostname.clone().map(&mut hide),
            fqdn: m.fqdn.clone().map(&mut hide),
            address: m.address.map(|a| hide(a.to_string())),
            lease_secs: m.lease_secs,
        };
        let event = DhcpEventJson {
            origin: origin_json("dhcp", &r.origin, client.as_deref()),
            dhcp,
        };
        self.line(&event)
    }

    /// Writes a Kerberos event; with `pseudonyms`, the principal and client address are tokens.
    pub fn kerberos(
        &mut self,
        r: &KerberosRecord,
        mut pseudonyms: Option<&mut Pseudonymizer>,
    ) -> io::Result<()> {
        let client = client_token(&mut pseudonyms, &r.origin);
        let kerberos = KerberosJson {
            exchange: r.exchange.name(),
            outcome: r.outcome.name(),
            error_code: match r.outcome {
                KrbOutcome::Refused(code) => Some(code),
                _ => None,
            },
            principal: r.principal.clone().map(|p| shown(&mut pseudonyms, p)),
            machine: r
                .principal
                .as_deref()
                .is_some_and(|p| kerberos::machine_name(p).is_some()),
            on_behalf: r.on_behalf,
            till: r.till.map(Rfc3339),
        };
        let event = KerberosEventJson {
            origin: origin_json("kerberos", &r.origin, client.as_deref()),
            kerberos,
        };
        self.line(&event)
    }

    fn line<T: Serialize>(&mut self, event: &T) -> io::Result<()> {
        serde_json::to_writer(&mut self.buf, event)?;
        self.buf.push(b'\n');
        if self.buf.len() >= CHUNK {
            self.hand_over()?;
        }
        Ok(())
    }

    /// Writes out every event so far (returns once they are written and flushed).
    pub fn flush(&mut self) -> io::Result<()> {
        self.hand_over()?;
        self.thread.sync()
    }
}

impl Drop for EventWriter {
    /// Hands over what is left; the writing thread writes and flushes it as it ends.
    fn drop(&mut self) {
        let _ = self.hand_over();
    }
}
