//! Suricata's EVE JSON: `flow`, `tls`, `quic`, `http`, `dns` (the v3 layout of Suricata 8 and
//! the v2 one before it), `dhcp` and `krb5` events; every other event type is skipped.
//!
//! **Bytes.** EVE counts whole frames (`bytes_toserver` includes the link, IP and TCP or UDP
//! headers of every packet); the packet path counts payload. A flow's payload bytes each way are
//! taken as the frame bytes less, per packet, the least headers it can have had: Ethernet (14),
//! IPv4 (20) or IPv6 (40), and TCP (20) or UDP (8). That is never below the payload on an
//! Ethernet link; it is above it by the TCP options (12 bytes a packet with timestamps, up to 40)
//! and by any tunnel or VLAN headers, per packet.
//!
//! **Joins inside EVE.** A DNS request and its response are two events of one flow; they are
//! joined by flow and DNS id into one lookup, as the packet path joins them. A `krb5` request and
//! its reply (or error) likewise. Both wait in bounded tables.

mod held;

use super::{Key, LineProblem, LogReader, Message, Piece, Said, Totals, Tuple, time};
use crate::capture::Timestamp;
use crate::decode::{Addr, Transport};
use crate::flow::{EndReason, Endpoint};
use crate::proto::dhcp::{self, DhcpKind, DhcpMessage, DhcpRecord};
use crate::proto::dns::{AnswerData, DnsAnswer, DnsRecord};
use crate::proto::kerberos::{self, Exchange, KerberosRecord, KrbOutcome};
use crate::proto::{Origin, Protocol, Record, http, tls};
use crate::text;
use held::Held;
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;

/// Most DNS requests (and Kerberos requests) waiting for their response; past it the oldest
/// is handed on unanswered.
const MAX_PENDING: usize = 65_536;

/// Least header bytes of a packet on an Ethernet link: link, IP, transport.
fn least_headers(ipv6: bool, transport: Transport) -> u64 {
    let ip = if ipv6 { 40 } else { 20 };
    let l4 = match transport {
        Transport::Tcp => 20,
        Transport::Udp => 8,
    };
    14 + ip + l4
}

/// One EVE event: the fields lantern reads, borrowed from the line where it can.
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow)]
    event_type: Cow<'a, str>,
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    flow_id: Option<u64>,
    pcap_cnt: Option<u64>,
    #[serde(borrow)]
    src_ip: Option<Cow<'a, str>>,
    src_port: Option<u16>,
    #[serde(borrow)]
    dest_ip: Option<Cow<'a, str>>,
    dest_port: Option<u16>,
    #[serde(borrow)]
    proto: Option<Cow<'a, str>>,
    #[serde(borrow)]
    app_proto: Option<Cow<'a, str>>,
    #[serde(borrow)]
    flow: Option<Flow<'a>>,
    #[serde(borrow)]
    tls: Option<Hello<'a>>,
    #[serde(borrow)]
    quic: Option<Hello<'a>>,
    #[serde(borrow)]
    http: Option<Http<'a>>,
    #[serde(borrow)]
    dns: Option<Dns<'a>>,
    #[serde(borrow)]
    dhcp: Option<Dhcp<'a>>,
    #[serde(borrow)]
    krb5: Option<Krb5<'a>>,
    vlan: Option<Vec<u16>>,
}

#[derive(Deserialize)]
struct Flow<'a> {
    pkts_toserver: u64,
    pkts_toclient: u64,
    bytes_toserver: u64,
    bytes_toclient: u64,
    #[serde(borrow)]
    start: Cow<'a, str>,
    #[serde(borrow)]
    end: Cow<'a, str>,
    #[serde(borrow)]
    state: Option<Cow<'a, str>>,
    #[serde(borrow)]
    reason: Option<Cow<'a, str>>,
}

/// A `tls` or `quic` event's ClientHello.
#[derive(Deserialize)]
struct Hello<'a> {
    #[serde(borrow)]
    sni: Option<Cow<'a, str>>,
    #[serde(borrow)]
    version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    ja4: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    client_alpns: Vec<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Http<'a> {
    #[serde(borrow)]
    hostname: Option<Cow<'a, str>>,
    #[serde(borrow)]
    url: Option<Cow<'a, str>>,
    #[serde(borrow)]
    http_method: Option<Cow<'a, str>>,
    #[serde(borrow)]
    http_user_agent: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Dns<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    id: Option<u16>,
    #[serde(borrow)]
    rcode: Option<Cow<'a, str>>,
    /// v3: the question.
    #[serde(borrow, default)]
    queries: Vec<Question<'a>>,
    /// v2: the question, on the event itself.
    #[serde(borrow)]
    rrname: Option<Cow<'a, str>>,
    #[serde(borrow)]
    rrtype: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    answers: Vec<Answer<'a>>,
    /// v2 with the grouped format: answers by type.
    #[serde(borrow)]
    grouped: Option<HashMap<Cow<'a, str>, Vec<serde_json::Value>>>,
}

#[derive(Deserialize)]
struct Question<'a> {
    #[serde(borrow)]
    rrname: Cow<'a, str>,
    #[serde(borrow)]
    rrtype: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Answer<'a> {
    #[serde(borrow)]
    rrtype: Option<Cow<'a, str>>,
    ttl: Option<u32>,
    #[serde(borrow)]
    rdata: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Dhcp<'a> {
    id: Option<u32>,
    #[serde(borrow)]
    client_mac: Option<Cow<'a, str>>,
    #[serde(borrow)]
    assigned_ip: Option<Cow<'a, str>>,
    #[serde(borrow)]
    requested_ip: Option<Cow<'a, str>>,
    #[serde(borrow)]
    client_ip: Option<Cow<'a, str>>,
    #[serde(borrow)]
    dhcp_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    hostname: Option<Cow<'a, str>>,
    lease_time: Option<u32>,
}

#[derive(Deserialize)]
struct Krb5<'a> {
    #[serde(borrow)]
    msg_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    cname: Option<Cow<'a, str>>,
    #[serde(borrow)]
    realm: Option<Cow<'a, str>>,
    #[serde(borrow)]
    error_code: Option<Cow<'a, str>>,
}

/// A reader of one EVE stream.
pub struct EveReader {
    /// The stream's number in the run, in the top byte of every key.
    stream: u64,
    dns: Held<(Key, u16), DnsRecord>,
    krb: Held<Key, KerberosRecord>,
    unanswered: u64,
}

impl EveReader {
    /// A reader of the run's EVE stream number `stream`.
    pub fn new(stream: u8) -> EveReader {
        EveReader {
            stream: u64::from(stream) << 56,
            dns: Held::new(MAX_PENDING),
            krb: Held::new(MAX_PENDING),
            unanswered: 0,
        }
    }
}

impl LogReader for EveReader {
    fn line(&mut self, line: &[u8], out: &mut Vec<Piece>) -> Result<(), LineProblem> {
        let event: Event<'_> =
            serde_json::from_slice(line).map_err(|e| LineProblem::Malformed(json_problem(&e)))?;
        match &*event.event_type {
            "flow" => out.push(Piece::Totals(totals(&event, self.stream)?)),
            "tls" => out.push(message(
                &event,
                self.stream,
                hello(event.tls.as_ref())?,
                false,
            )?),
            "quic" => out.push(message(
                &event,
                self.stream,
                hello(event.quic.as_ref())?,
                true,
            )?),
            "http" => out.push(http_message(&event, self.stream)?),
            "dns" => self.dns(&event, out)?,
            "dhcp" => out.push(Piece::Record(Record::Dhcp(Box::new(dhcp(
                &event,
                self.stream,
            )?)))),
            "krb5" => self.krb5(&event, out)?,
            _ => return Err(LineProblem::Skipped),
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<Piece>) {
        let dns = self.dns.drain();
        self.unanswered += dns.len() as u64;
        out.extend(dns.into_iter().map(|d| Piece::Record(Record::Dns(d))));
        let krb = self.krb.drain().into_iter();
        out.extend(krb.map(|k| Piece::Record(Record::Kerberos(Box::new(k)))));
    }

    fn add_counters(&self, counters: &mut super::Counters) {
        counters.log_dns_unanswered += self.unanswered;
    }
}

/// What serde_json said, as a short fixed reason.
fn json_problem(e: &serde_json::Error) -> &'static str {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => "cut short",
        Category::Syntax => "not valid JSON",
        Category::Data => "a field of the wrong type, or a required one missing",
        Category::Io => "not valid JSON",
    }
}

fn ts(event: &Event<'_>) -> Result<Timestamp, LineProblem> {
    event
        .timestamp
        .as_deref()
        .and_then(time::iso)
        .ok_or(LineProblem::Malformed("no valid timestamp"))
}

fn addr(text: &str) -> Result<Addr, LineProblem> {
    let ip: IpAddr = text
        .parse()
        .map_err(|_| LineProblem::Malformed("an address that is not one"))?;
    Ok(Addr::from(ip))
}

fn transport(event: &Event<'_>) -> Result<Transport, LineProblem> {
    match event.proto.as_deref() {
        Some("TCP") => Ok(Transport::Tcp),
        Some("UDP") => Ok(Transport::Udp),
        Some(_) => Err(LineProblem::Skipped),
        None => Err(LineProblem::Malformed("no proto")),
    }
}

fn tuple(event: &Event<'_>) -> Result<Tuple, LineProblem> {
    let transport = transport(event)?;
    let (Some(src), Some(dest)) = (&event.src_ip, &event.dest_ip) else {
        return Err(LineProblem::Malformed("no src_ip or dest_ip"));
    };
    Ok(Tuple {
        client: Endpoint {
            addr: addr(src)?,
            port: event.src_port.unwrap_or(0),
        },
        server: Endpoint {
            addr: addr(dest)?,
            port: event.dest_port.unwrap_or(0),
        },
        transport,
    })
}

/// A flow's key: its `flow_id`, with the stream's number in the top byte.
fn key(event: &Event<'_>, stream: u64) -> Result<Key, LineProblem> {
    (event.flow_id.map(|id| id ^ stream)).ok_or(LineProblem::Malformed("no flow_id"))
}

/// The VLAN ids an event carries (outer, inner).
fn vlan(event: &Event<'_>) -> [u16; 2] {
    let ids = event.vlan.as_deref().unwrap_or(&[]);
    [
        ids.first().copied().unwrap_or(0),
        ids.get(1).copied().unwrap_or(0),
    ]
}

/// The protocol of an EVE `app_proto`, as lantern names it.
fn protocol(app_proto: Option<&str>) -> Protocol {
    match app_proto {
        Some("tls") => Protocol::Tls,
        Some("http" | "http1") => Protocol::Http,
        Some("dns") => Protocol::Dns,
        Some("quic") => Protocol::Quic,
        Some("krb5") => Protocol::Kerberos,
        Some("dhcp") => Protocol::Dhcp,
        _ => Protocol::Unknown,
    }
}

fn totals(event: &Event<'_>, stream: u64) -> Result<Totals, LineProblem> {
    let tuple = tuple(event)?;
    let flow = event
        .flow
        .as_ref()
        .ok_or(LineProblem::Malformed("a flow event without its flow"))?;
    let first = time::iso(&flow.start).ok_or(LineProblem::Malformed("no valid flow.start"))?;
    let last = time::iso(&flow.end).ok_or(LineProblem::Malformed("no valid flow.end"))?;
    let ipv6 = tuple.client.addr.ip().is_ipv6();
    let headers = least_headers(ipv6, tuple.transport);
    let payload = |bytes: u64, packets: u64| bytes.saturating_sub(packets.saturating_mul(headers));
    let end = match (flow.state.as_deref(), flow.reason.as_deref()) {
        (Some("closed"), _) => EndReason::Closed,
        (_, Some("shutdown")) => EndReason::EndOfInput,
        _ => EndReason::IdleTimeout,
    };
    Ok(Totals {
        key: key(event, stream)?,
        tuple,
        first,
        last: last.max(first),
        packets: [flow.pkts_toserver, flow.pkts_toclient],
        bytes: [
            payload(flow.bytes_toserver, flow.pkts_toserver),
            payload(flow.bytes_toclient, flow.pkts_toclient),
        ],
        protocol: protocol(event.app_proto.as_deref()),
        end,
    })
}

/// A server name from a log: lower case, escaped as the packet path escapes names.
fn name(raw: &str) -> String {
    text::name_from_bytes(raw.as_bytes())
}

fn hello(hello: Option<&Hello<'_>>) -> Result<tls::ClientHello, LineProblem> {
    let hello = hello.ok_or(LineProblem::Malformed(
        "a tls or quic event without its object",
    ))?;
    let version = match hello.version.as_deref() {
        Some("TLS 1.3") | Some("TLSv1.3") => "1.3".to_string(),
        Some("TLS 1.2") | Some("TLSv1.2") => "1.2".to_string(),
        Some("TLS 1.1") | Some("TLSv1.1") => "1.1".to_string(),
        Some("TLS 1.0") | Some("TLSv1") => "1.0".to_string(),
        Some("SSLv3") => "ssl3".to_string(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    Ok(tls::ClientHello {
        sni: hello.sni.as_deref().filter(|s| !s.is_empty()).map(name),
        alpn: hello.client_alpns.iter().map(|a| a.to_string()).collect(),
        version,
        ech: false,
        ja4: hello.ja4.as_deref().map(str::to_string),
    })
}

fn message(
    event: &Event<'_>,
    stream: u64,
    hello: tls::ClientHello,
    quic: bool,
) -> Result<Piece, LineProblem> {
    Ok(Piece::Message(Message {
        key: key(event, stream)?,
        tuple: tuple(event)?,
        ts: ts(event)?,
        said: if quic {
            Said::Quic(hello)
        } else {
            Said::Tls(hello)
        },
    }))
}

fn http_message(event: &Event<'_>, stream: u64) -> Result<Piece, LineProblem> {
    let h = event
        .http
        .as_ref()
        .ok_or(LineProblem::Malformed("an http event without its object"))?;
    let request = http::request_of(
        h.http_method.as_deref().unwrap_or(""),
        h.url.as_deref().unwrap_or(""),
        h.hostname.as_deref().map(str::as_bytes),
        h.http_user_agent.as_deref().map(str::as_bytes),
    );
    Ok(Piece::Message(Message {
        key: key(event, stream)?,
        tuple: tuple(event)?,
        ts: ts(event)?,
        said: Said::Http(request),
    }))
}

impl EveReader {
    fn dns(&mut self, event: &Event<'_>, out: &mut Vec<Piece>) -> Result<(), LineProblem> {
        let dns = event
            .dns
            .as_ref()
            .ok_or(LineProblem::Malformed("a dns event without its object"))?;
        let flow = key(event, self.stream)?;
        let id = dns
            .id
            .ok_or(LineProblem::Malformed("a dns event without its id"))?;
        let at = ts(event)?;
        if matches!(dns.kind.as_deref(), Some("request" | "query")) {
            let record = lookup(event, dns, flow, id, at, true)?;
            self.hold_dns((flow, id), record, out);
            return Ok(());
        }
        if !matches!(dns.kind.as_deref(), Some("response" | "answer")) {
            return Err(LineProblem::Malformed(
                "a dns event neither request nor response",
            ));
        }
        let mut record = match self.dns.remove(&(flow, id)) {
            Some(pending) => pending,
            None => lookup(event, dns, flow, id, at, false)?,
        };
        record.answered = Some(at.max(record.ts));
        record.rcode = dns.rcode.as_deref().map(rcode);
        record.answers = answers(dns);
        out.push(Piece::Record(Record::Dns(record)));
        Ok(())
    }

    /// Holds a request for its response; past [`MAX_PENDING`] the oldest goes on unanswered,
    /// as does an earlier request with the same id.
    fn hold_dns(&mut self, key: (Key, u16), record: DnsRecord, out: &mut Vec<Piece>) {
        let (replaced, evicted) = self.dns.insert(key, record);
        for earlier in replaced.into_iter().chain(evicted) {
            self.unanswered += 1;
            out.push(Piece::Record(Record::Dns(earlier)));
        }
    }

    fn krb5(&mut self, event: &Event<'_>, out: &mut Vec<Piece>) -> Result<(), LineProblem> {
        let krb = event
            .krb5
            .as_ref()
            .ok_or(LineProblem::Malformed("a krb5 event without its object"))?;
        let flow = key(event, self.stream)?;
        let tuple = tuple(event)?;
        let at = ts(event)?;
        let msg = krb.msg_type.as_deref().unwrap_or("");
        let principal = principal(krb);
        let exchange = match msg {
            "KRB_AS_REQ" | "KRB_AS_REP" => Some(Exchange::As),
            "KRB_TGS_REQ" | "KRB_TGS_REP" => Some(Exchange::Tgs),
            _ => None,
        };
        let request = msg.ends_with("_REQ");
        let (client, server) = match request {
            true => (tuple.client, tuple.server),
            false => (tuple.server, tuple.client),
        };
        let origin = Origin {
            flow_id: flow,
            packet: event.pcap_cnt.unwrap_or(0),
            ts: at,
            client,
            server,
            transport: tuple.transport,
            vlan: vlan(event),
        };
        if request {
            let record = KerberosRecord {
                origin,
                exchange: exchange.unwrap_or(Exchange::As),
                principal,
                till: None,
                on_behalf: false,
                outcome: KrbOutcome::Unanswered,
            };
            self.hold_krb(flow, record, out);
            return Ok(());
        }
        let pending = self.krb.remove(&flow);
        let outcome = match msg {
            "KRB_AS_REP" | "KRB_TGS_REP" => KrbOutcome::Granted,
            "KRB_ERROR" => KrbOutcome::Refused(
                krb.error_code
                    .as_deref()
                    .and_then(kerberos::error_code)
                    .unwrap_or(-1),
            ),
            _ => return Err(LineProblem::Skipped),
        };
        let exchange = exchange
            .or(pending.as_ref().map(|p| p.exchange))
            .unwrap_or(Exchange::As);
        let principal = principal.or(pending.and_then(|p| p.principal));
        out.push(Piece::Record(Record::Kerberos(Box::new(KerberosRecord {
            origin,
            exchange,
            principal,
            till: None,
            on_behalf: false,
            outcome,
        }))));
        Ok(())
    }

    fn hold_krb(&mut self, flow: Key, record: KerberosRecord, out: &mut Vec<Piece>) {
        let (replaced, evicted) = self.krb.insert(flow, record);
        for earlier in replaced.into_iter().chain(evicted) {
            out.push(Piece::Record(Record::Kerberos(Box::new(earlier))));
        }
    }
}

/// A lookup as its request (or, when the request was not logged, its response) states it, not
/// yet answered. The querier is the client: a response goes from the resolver to it.
fn lookup(
    event: &Event<'_>,
    dns: &Dns<'_>,
    flow: Key,
    id: u16,
    at: Timestamp,
    request: bool,
) -> Result<DnsRecord, LineProblem> {
    let question = (dns.queries.first())
        .map(|q| (&q.rrname, &q.rrtype))
        .or(dns.rrname.as_ref().map(|n| (n, &dns.rrtype)));
    let Some((query, qtype)) = question else {
        return Err(LineProblem::Malformed("a dns event without a question"));
    };
    let tuple = tuple(event)?;
    let (client, server) = match request {
        true => (tuple.client, tuple.server),
        false => (tuple.server, tuple.client),
    };
    Ok(DnsRecord {
        flow_id: flow,
        packet: event.pcap_cnt.unwrap_or(0),
        ts: at,
        answered: None,
        client,
        server,
        transport: tuple.transport,
        vlan: vlan(event),
        id,
        query: name(query),
        qtype: qtype.as_deref().map_or(0, rrtype),
        rcode: None,
        answers: Vec::new(),
        ech_public_names: Vec::new(),
    })
}

/// `cname@realm`, as the packet path writes a principal; none for Suricata's `<empty>`.
fn principal(krb: &Krb5<'_>) -> Option<String> {
    let cname = krb
        .cname
        .as_deref()
        .filter(|c| !c.is_empty() && *c != "<empty>")?;
    let realm = krb.realm.as_deref().unwrap_or("");
    let parts = cname.split('/').map(str::as_bytes);
    Some(kerberos::principal_text(parts, realm.as_bytes()))
}

fn dhcp(event: &Event<'_>, stream: u64) -> Result<DhcpRecord, LineProblem> {
    let d = event
        .dhcp
        .as_ref()
        .ok_or(LineProblem::Malformed("a dhcp event without its object"))?;
    let tuple = tuple(event)?;
    // The client is the side on port 68, as the packet path has it.
    let (client, server) = match tuple.client.port {
        67 => (tuple.server, tuple.client),
        _ => (tuple.client, tuple.server),
    };
    let kind = d.dhcp_type.as_deref().map(|t| match t {
        "discover" => DhcpKind::Discover,
        "offer" => DhcpKind::Offer,
        "request" => DhcpKind::Request,
        "decline" => DhcpKind::Decline,
        "ack" => DhcpKind::Ack,
        "nak" => DhcpKind::Nak,
        "release" => DhcpKind::Release,
        "inform" => DhcpKind::Inform,
        _ => DhcpKind::Other,
    });
    let ip = |text: &Option<Cow<'_, str>>| {
        text.as_deref()
            .filter(|t| *t != "0.0.0.0")
            .and_then(|t| t.parse::<IpAddr>().ok())
            .map(Addr::from)
    };
    let address = match kind {
        Some(DhcpKind::Offer | DhcpKind::Ack) => ip(&d.assigned_ip),
        Some(DhcpKind::Request) => ip(&d.requested_ip).or(ip(&d.client_ip)),
        _ => ip(&d.client_ip),
    };
    Ok(DhcpRecord {
        origin: Origin {
            flow_id: key(event, stream)?,
            packet: event.pcap_cnt.unwrap_or(0),
            ts: ts(event)?,
            client,
            server,
            transport: tuple.transport,
            vlan: vlan(event),
        },
        message: DhcpMessage {
            version: 4,
            kind,
            xid: d.id.unwrap_or(0),
            mac: d.client_mac.as_deref().and_then(mac),
            duid: None,
            hostname: d
                .hostname
                .as_deref()
                .and_then(|h| dhcp::host_name(h.as_bytes())),
            fqdn: None,
            address,
            lease_secs: d.lease_time,
            bad_options: 0,
        },
    })
}

/// `02:88:00:00:00:01`.
fn mac(text: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut out {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// A DNS type's number from its name (`A`, `AAAA`, `TYPE65`...); 0 for a name not known.
fn rrtype(name: &str) -> u16 {
    match name {
        "A" => 1,
        "NS" => 2,
        "CNAME" => 5,
        "SOA" => 6,
        "PTR" => 12,
        "MX" => 15,
        "TXT" => 16,
        "AAAA" => 28,
        "SRV" => 33,
        "DS" => 43,
        "RRSIG" => 46,
        "DNSKEY" => 48,
        "SVCB" => 64,
        "HTTPS" => 65,
        "ANY" => 255,
        other => other
            .strip_prefix("TYPE")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
    }
}

/// A response code's number from its name.
fn rcode(name: &str) -> u8 {
    match name {
        "NOERROR" => 0,
        "FORMERR" => 1,
        "SERVFAIL" => 2,
        "NXDOMAIN" => 3,
        "NOTIMP" => 4,
        "REFUSED" => 5,
        "YXDOMAIN" => 6,
        "YXRRSET" => 7,
        "NXRRSET" => 8,
        "NOTAUTH" => 9,
        "NOTZONE" => 10,
        other => other.parse().unwrap_or(2),
    }
}

/// The A, AAAA and CNAME answers of a response, in either layout.
fn answers(dns: &Dns<'_>) -> Vec<DnsAnswer> {
    let mut out = Vec::new();
    for answer in &dns.answers {
        let (Some(rtype), Some(data)) = (answer.rrtype.as_deref(), answer.rdata.as_deref()) else {
            continue;
        };
        if let Some(a) = answer_of(rtype, data, answer.ttl.unwrap_or(0)) {
            out.push(a);
        }
    }
    if dns.answers.is_empty()
        && let Some(grouped) = &dns.grouped
    {
        let mut types: Vec<_> = grouped.iter().collect();
        types.sort_by(|a, b| a.0.cmp(b.0));
        for (rtype, values) in types {
            for value in values.iter().filter_map(|v| v.as_str()) {
                out.extend(answer_of(rtype, value, 0));
            }
        }
    }
    out
}

fn answer_of(rtype: &str, data: &str, ttl: u32) -> Option<DnsAnswer> {
    let (rtype, data) = match rtype {
        "A" | "AAAA" => (rrtype(rtype), AnswerData::Addr(data.parse().ok()?)),
        "CNAME" => (5, AnswerData::Name(name(data.trim_end_matches('.')))),
        _ => return None,
    };
    Some(DnsAnswer { rtype, ttl, data })
}

#[cfg(test)]
mod tests;
