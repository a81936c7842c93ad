//! Flows and lookups as OCSF: a flow record is Network Activity (4001), or HTTP Activity (4002)
//! when a plaintext HTTP request was parsed (MCP over HTTP included); a DNS lookup is DNS
//! Activity (4003). The activity ids chosen, and what goes under `unmapped.lantern`, are in
//! docs/events.md ("OCSF").

use super::{Actor, AppExtra, Class, ConnectionInfo, DeviceOut, EndpointOut, Head, Member};
use super::{DNS_ACTIVITY, actor, device, is_false, ms, write};
use super::{HTTP_ACTIVITY, Metadata, NETWORK_ACTIVITY, Shown, Uid, Unmapped, Vlan};
use crate::flow::EndReason;
use crate::naming::MAX_ALTERNATIVES;
use crate::output::events::lantern::RequestsJson;
use crate::output::{DnsView, FlowView};
use crate::proto::FlowRecord;
use crate::proto::dns::{AnswerData, DnsAnswer};
use crate::proto::http::Request;
use crate::proto::mcp::Mcp;
use crate::proto::tls::ClientHello;
use domain::base::iana::Rtype;
use serde::{Serialize, Serializer};
use std::io;

/// A flow record as Network or HTTP Activity.
#[derive(Serialize)]
struct FlowEvent<'a> {
    #[serde(flatten)]
    head: Head<'a>,
    start_time: i64,
    end_time: i64,
    src_endpoint: EndpointOut<'a>,
    dst_endpoint: EndpointOut<'a>,
    connection_info: ConnectionInfo,
    traffic: Traffic,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_protocol_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actor: Option<Actor<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<DeviceOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<TlsOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ja4_fingerprint_list: Option<[Ja4<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_request: Option<HttpRequestOut<'a>>,
    unmapped: Unmapped<FlowExtra<'a>>,
}

/// `traffic`: `out` is client to server (lantern's `up`), `in` server to client.
#[derive(Serialize)]
struct Traffic {
    bytes: u64,
    bytes_out: u64,
    bytes_in: u64,
    packets: u64,
    packets_out: u64,
    packets_in: u64,
}

impl Traffic {
    fn of(r: &FlowRecord) -> Traffic {
        Traffic {
            bytes: r.bytes[0] + r.bytes[1],
            bytes_out: r.bytes[0],
            bytes_in: r.bytes[1],
            packets: r.packets[0] + r.packets[1],
            packets_out: r.packets[0],
            packets_in: r.packets[1],
        }
    }
}

/// `tls`: the ClientHello's highest version and SNI (the one on the wire, an outer name with
/// real ECH).
#[derive(Serialize)]
struct TlsOut<'a> {
    version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sni: Option<&'a str>,
}

/// OCSF's usual spelling of a TLS version (`TLSv1.3`); others (GREASE, draft codes, gQUIC) as
/// lantern has them.
fn tls_version(version: &str) -> &str {
    match version {
        "1.3" => "TLSv1.3",
        "1.2" => "TLSv1.2",
        "1.1" => "TLSv1.1",
        "1.0" => "TLSv1.0",
        "ssl3" => "SSLv3",
        other => other,
    }
}

/// A `ja4_fingerprint`: JA4 (type 1), with its three sections.
#[derive(Serialize)]
struct Ja4<'a> {
    type_id: u8,
    #[serde(rename = "type")]
    kind: &'static str,
    value: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    section_a: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    section_b: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    section_c: Option<&'a str>,
}

impl<'a> Ja4<'a> {
    fn of(value: &'a str) -> Ja4<'a> {
        let sections = value
            .split_once('_')
            .and_then(|(a, rest)| rest.split_once('_').map(|(b, c)| (a, b, c)));
        Ja4 {
            type_id: 1,
            kind: "JA4",
            value,
            section_a: sections.map(|s| s.0),
            section_b: sections.map(|s| s.1),
            section_c: sections.map(|s| s.2),
        }
    }
}

/// `http_request`: the method and the URL the first request named. Never the `User-Agent`.
#[derive(Serialize)]
struct HttpRequestOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    http_method: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<UrlOut<'a>>,
}

#[derive(Serialize)]
struct UrlOut<'a> {
    scheme: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<&'a str>,
    port: u16,
    path: &'a str,
}

/// The HTTP Activity a method is, and whether OCSF's `http_method` has it.
fn http_activity(method: &str) -> Option<Member> {
    Some(match method {
        "CONNECT" => Member(1, "Connect"),
        "DELETE" => Member(2, "Delete"),
        "GET" => Member(3, "Get"),
        "HEAD" => Member(4, "Head"),
        "OPTIONS" => Member(5, "Options"),
        "POST" => Member(6, "Post"),
        "PUT" => Member(7, "Put"),
        "TRACE" => Member(8, "Trace"),
        "PATCH" => Member(9, "Patch"),
        _ => return None,
    })
}

impl<'a> HttpRequestOut<'a> {
    /// The request; a `CONNECT` (its target an authority) has no URL path.
    fn of(request: &'a Request, port: u16) -> HttpRequestOut<'a> {
        HttpRequestOut {
            http_method: http_activity(&request.method).map(|_| request.method.as_str()),
            url: (!request.path.is_empty()).then(|| UrlOut {
                scheme: "http",
                hostname: request.host.as_deref(),
                port,
                path: &request.path,
            }),
        }
    }
}

/// What a flow event keeps under `unmapped.lantern`: lantern's fields without an OCSF
/// attribute, by their lantern names.
#[derive(Serialize)]
struct FlowExtra<'a> {
    name_source: &'static str,
    #[serde(skip_serializing_if = "Alternatives::is_empty")]
    name_alternatives: Alternatives<'a>,
    user_source: &'static str,
    client_software: SoftwareKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    app: Option<AppExtra<'a>>,
    #[serde(skip_serializing_if = "is_false")]
    candidate: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    encrypted_dns: Option<&'static str>,
    end_reason: &'static str,
    record: &'static str,
    #[serde(skip_serializing_if = "is_zero")]
    part: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    vlan: Option<Vlan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<TlsExtra<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mcp: Option<McpExtra<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    requests: Option<RequestsJson<'a>>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Serialize)]
struct SoftwareKind {
    kind: &'static str,
}

/// The other names in force for the flow's address (left out when there are none).
struct Alternatives<'a>([Option<&'a str>; MAX_ALTERNATIVES]);

impl Alternatives<'_> {
    fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }
}

impl Serialize for Alternatives<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().flatten())
    }
}

/// What a ClientHello says that `tls` has no attribute for.
#[derive(Serialize)]
struct TlsExtra<'a> {
    alpn: &'a [String],
    ech: bool,
    ech_kind: &'static str,
}

/// What an MCP request said (never its arguments).
#[derive(Serialize)]
struct McpExtra<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    transport: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool: Option<&'a str>,
}

impl<'a> McpExtra<'a> {
    fn of(mcp: &'a Mcp) -> McpExtra<'a> {
        McpExtra {
            transport: mcp.transport.map(|t| t.name()),
            method: mcp.method.as_deref(),
            client: mcp.client.as_deref(),
            version: mcp.version.as_deref(),
            tool: mcp.tool.as_deref(),
        }
    }
}

/// Network Activity's activity for a record: Close (2) when the flow was seen to close (FIN or
/// RST), else Traffic (6), a report of what it carried: an interim record, or one ended by
/// silence, eviction or the end of the input, where no close was seen.
fn flow_activity(end: EndReason) -> Member {
    match end {
        EndReason::Closed => Member(2, "Close"),
        _ => Member(6, "Traffic"),
    }
}

/// `app_protocol_name`: what lantern recognised (MCP is carried by HTTP); none when unknown.
fn app_protocol(r: &FlowRecord) -> Option<&'static str> {
    match r.protocol.name() {
        "unknown" => None,
        "mcp" => Some("http"),
        name => Some(name),
    }
}

/// A flow event: HTTP Activity with a parsed request, else Network Activity.
pub(super) fn flow(view: &FlowView<'_>, buf: &mut Vec<u8>) -> io::Result<()> {
    let r = view.record;
    let http = r.http();
    let (class, activity): (Class, Member) = match http.and_then(|h| http_activity(&h.method)) {
        Some(member) => (HTTP_ACTIVITY, member),
        None if http.is_some() => (HTTP_ACTIVITY, Member(99, "Other")),
        None => (NETWORK_ACTIVITY, flow_activity(r.end)),
    };
    let actor = actor(view.identity, view.user_kind(), view.software.family);
    let device = device(view.identity.device.as_deref());
    let metadata = Metadata::new(Uid::Flow(r.id, r.part), "flow");
    let hello = r.tls();
    let event = FlowEvent {
        head: Head::new(
            class,
            activity,
            r.first,
            metadata.host(actor.is_some() || device.is_some()),
        ),
        start_time: ms(r.first),
        end_time: ms(r.last),
        src_endpoint: EndpointOut::of(r.client, view.identity.client.as_deref(), r.vlan),
        dst_endpoint: EndpointOut::of(r.server, None, r.vlan).hostname(view.server_name),
        connection_info: ConnectionInfo::of(r.id, r.transport, r.client.addr),
        traffic: Traffic::of(r),
        app_protocol_name: app_protocol(r),
        app_name: view.app.map(|hit| hit.app.name.as_str()),
        actor,
        device,
        tls: hello.map(|h| TlsOut {
            version: tls_version(&h.version),
            sni: h.sni.as_deref(),
        }),
        ja4_fingerprint_list: hello.and_then(|h| h.ja4.as_deref()).map(|v| [Ja4::of(v)]),
        http_request: http.map(|h| HttpRequestOut::of(h, r.server.port)),
        unmapped: Unmapped {
            lantern: flow_extra(view, hello),
        },
    };
    write(buf, &event)
}

/// A flow's fields without an OCSF attribute.
fn flow_extra<'a>(view: &FlowView<'a>, hello: Option<&'a ClientHello>) -> FlowExtra<'a> {
    let r = view.record;
    FlowExtra {
        name_source: view.name_source.name(),
        name_alternatives: Alternatives(view.name_alternatives),
        user_source: view.identity.source.name(),
        client_software: SoftwareKind {
            kind: view.software.kind.name(),
        },
        app: view.app.map(|hit| AppExtra::new(hit, view.status)),
        candidate: view.candidate,
        encrypted_dns: view.encrypted_dns.map(|e| e.name()),
        end_reason: r.end.name(),
        record: if r.end.is_final() { "final" } else { "interim" },
        part: r.part,
        vlan: Vlan::of(r.vlan),
        tls: hello.map(|h| TlsExtra {
            alpn: &h.alpn,
            ech: h.ech,
            ech_kind: view.ech.name(),
        }),
        mcp: view.mcp.map(McpExtra::of),
        requests: r.requests.as_deref().map(RequestsJson::from),
    }
}

/// A DNS lookup as DNS Activity.
#[derive(Serialize)]
struct DnsEvent<'a> {
    #[serde(flatten)]
    head: Head<'a>,
    src_endpoint: EndpointOut<'a>,
    dst_endpoint: EndpointOut<'a>,
    connection_info: ConnectionInfo,
    query: QueryOut<'a>,
    answers: Answers<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rcode_id: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rcode: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    query_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actor: Option<Actor<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<DeviceOut<'a>>,
    unmapped: Unmapped<DnsExtra<'a>>,
}

/// `query`: the name, its type, and the message id (`packet_uid`).
#[derive(Serialize)]
struct QueryOut<'a> {
    hostname: &'a str,
    #[serde(rename = "type")]
    kind: Shown<Rtype>,
    packet_uid: u16,
}

/// `answers`: each with its data, TTL and type.
struct Answers<'a>(&'a [DnsAnswer]);

impl Serialize for Answers<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Answer<'a> {
            rdata: Shown<&'a AnswerData>,
            ttl: u32,
            #[serde(rename = "type")]
            kind: Shown<Rtype>,
        }
        s.collect_seq(self.0.iter().map(|a| Answer {
            rdata: Shown(&a.data),
            ttl: a.ttl,
            kind: Shown(Rtype::from_int(a.rtype)),
        }))
    }
}

/// What a DNS event keeps under `unmapped.lantern`.
#[derive(Serialize)]
struct DnsExtra<'a> {
    user_source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    app: Option<AppExtra<'a>>,
    #[serde(skip_serializing_if = "is_false")]
    candidate: bool,
    #[serde(skip_serializing_if = "EchNames::is_empty")]
    ech_public_names: EchNames<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vlan: Option<Vlan>,
}

/// The public names of ECHConfigs in HTTPS and SVCB answers.
struct EchNames<'a>(&'a [(String, u32)]);

impl EchNames<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for EchNames<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|(name, _)| name))
    }
}

/// `rcode_id` and `rcode` of a response code, in OCSF's captions (12 to 15 are unassigned).
fn rcode(code: u8) -> Member {
    const CAPTIONS: [&str; 24] = [
        "NoError",
        "FormError",
        "ServError",
        "NXDomain",
        "NotImp",
        "Refused",
        "YXDomain",
        "YXRRSet",
        "NXRRSet",
        "NotAuth",
        "NotZone",
        "DSOTYPENI",
        "",
        "",
        "",
        "",
        "BADSIG_VERS",
        "BADKEY",
        "BADTIME",
        "BADMODE",
        "BADNAME",
        "BADALG",
        "BADTRUNC",
        "BADCOOKIE",
    ];
    match CAPTIONS.get(usize::from(code)) {
        Some(caption) if !caption.is_empty() => Member(code, caption),
        _ => Member(24, "Unassigned"),
    }
}

/// DNS Activity's activity: Query (1) when no response was seen, Traffic (6) for a query and
/// its response, Response (2) when the query may not have been seen (the lookup's time is the
/// response's).
fn dns_activity(view: &DnsView<'_>) -> Member {
    match view.record.answered {
        None => Member(1, "Query"),
        Some(at) if at != view.record.ts => Member(6, "Traffic"),
        Some(_) => Member(2, "Response"),
    }
}

/// A DNS event.
pub(super) fn dns(view: &DnsView<'_>, buf: &mut Vec<u8>) -> io::Result<()> {
    let r = view.record;
    let activity = dns_activity(view);
    let actor = actor(view.identity, view.user_kind(), "");
    let device = device(view.identity.device.as_deref());
    let metadata = Metadata::new(Uid::Dns(r.packet, r.id), "dns");
    let code = r.rcode.map(rcode);
    let event = DnsEvent {
        head: Head::new(
            DNS_ACTIVITY,
            activity,
            r.ts,
            metadata.host(actor.is_some() || device.is_some()),
        ),
        src_endpoint: EndpointOut::of(r.client, view.identity.client.as_deref(), r.vlan),
        dst_endpoint: EndpointOut::of(r.server, None, r.vlan),
        connection_info: ConnectionInfo::of(r.flow_id, r.transport, r.client.addr),
        query: QueryOut {
            hostname: &r.query,
            kind: Shown(Rtype::from_int(r.qtype)),
            packet_uid: r.id,
        },
        answers: Answers(&r.answers),
        rcode_id: code.map(|m| m.0),
        rcode: code.map(|m| m.1),
        query_time: (activity != Member(2, "Response")).then_some(ms(r.ts)),
        response_time: r.answered.map(ms),
        app_name: view.app.map(|hit| hit.app.name.as_str()),
        actor,
        device,
        unmapped: Unmapped {
            lantern: DnsExtra {
                user_source: view.identity.source.name(),
                app: view.app.map(|hit| AppExtra::new(hit, view.status)),
                candidate: view.candidate,
                ech_public_names: EchNames(&r.ech_public_names),
                vlan: Vlan::of(r.vlan),
            },
        },
    };
    write(buf, &event)
}
