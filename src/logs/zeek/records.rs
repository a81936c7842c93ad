//! The Zeek logs whose lines are records of their own, as the packet path's port dissectors
//! make them: `dns` (a lookup), `kerberos` (a KDC exchange) and `dhcp` (a DHCPv4 exchange).

use super::flow_line;
use super::value::{Interval, Ip, Syntax, Text, Time};
use crate::decode::{Addr, Transport};
use crate::flow::Endpoint;
use crate::logs::{LineProblem, Piece, key_of_uid};
use crate::proto::dhcp::{DhcpKind, DhcpMessage, DhcpRecord};
use crate::proto::dns::{AnswerData, DnsAnswer, DnsRecord, MAX_ANSWERS};
use crate::proto::kerberos::{self, Exchange, KerberosRecord, KrbOutcome};
use crate::proto::{Origin, Record};
use std::net::IpAddr;

flow_line! {
    /// A `dns` line.
    DnsLine<'a> {
        /// `proto`: `udp` or `tcp`.
        #[serde(borrow)]
        proto: Option<Text<'a>>,
        /// `trans_id`.
        trans_id: Option<u16>,
        /// `rtt`: from the query to the response.
        rtt: Option<Interval>,
        /// `query`.
        #[serde(borrow)]
        query: Option<Text<'a>>,
        /// `qtype`.
        qtype: Option<u16>,
        /// `rcode`.
        rcode: Option<u16>,
        /// `answers`: each answer's data as Zeek writes it.
        #[serde(borrow)]
        answers: Option<Vec<Text<'a>>>,
        /// `TTLs`: each answer's TTL.
        #[serde(rename = "TTLs")]
        ttls: Option<Vec<Interval>>,
    }
}

/// Record types of the answers a lookup keeps.
const A: u16 = 1;
const CNAME: u16 = 5;
const AAAA: u16 = 28;
const HTTPS: u16 = 65;

/// A `dns` line: a lookup, answered when Zeek logged a response (an `rtt`, or at least an
/// `rcode`). Of the answers, an address is an A or AAAA record; a name, when the question asked
/// for an address, a CNAME or an HTTPS record, is a CNAME (Zeek does not log answers' types);
/// anything else (TXT, records Zeek writes with their type, `RRSIG 5 upenn.edu`) is left out,
/// as the packet path leaves it out. Zeek writes the root as an empty name: it is `.`. A line
/// without a question is skipped.
pub fn dns(line: DnsLine<'_>, syntax: Syntax) -> Result<Piece, LineProblem> {
    let id = line.id()?;
    let transport = transport(line.proto.as_ref())?;
    let Some(query) = line.query.as_ref().map(|q| q.bytes(syntax)) else {
        return Err(LineProblem::Skipped);
    };
    let qtype = line.qtype.unwrap_or(0);
    let rcode = (line.rcode)
        .map(|r| u8::try_from(r).map_err(|_| LineProblem::Malformed("an rcode past 255")))
        .transpose()?;
    let answered = match (line.rtt, rcode) {
        (Some(rtt), _) => Some(crate::capture::Timestamp(id.ts.0.saturating_add(rtt.0))),
        (None, Some(_)) => Some(id.ts),
        (None, None) => None,
    };
    let ttls = line.ttls.as_deref().unwrap_or_default();
    let mut answers = Vec::new();
    for (i, answer) in line.answers.iter().flatten().enumerate() {
        if answers.len() == MAX_ANSWERS {
            break;
        }
        let ttl = ttls.get(i).map_or(0, |t| t.secs_u32());
        let data = answer.bytes(syntax);
        let addr = std::str::from_utf8(&data)
            .ok()
            .and_then(|a| a.parse::<IpAddr>().ok());
        let (rtype, data) = match addr {
            Some(addr @ IpAddr::V4(_)) => (A, AnswerData::Addr(addr)),
            Some(addr @ IpAddr::V6(_)) => (AAAA, AnswerData::Addr(addr)),
            None if matches!(qtype, A | AAAA | CNAME | HTTPS) && is_name(&data) => {
                (CNAME, AnswerData::Name(dns_name(&data)))
            }
            None => continue,
        };
        answers.push(DnsAnswer { rtype, ttl, data });
    }
    Ok(Piece::Record(Record::Dns(DnsRecord {
        flow_id: id.key,
        packet: 0,
        ts: id.ts,
        answered,
        client: id.client,
        server: id.server,
        transport,
        vlan: [0, 0],
        id: line.trans_id.unwrap_or(0),
        query: dns_name(&query),
        qtype,
        rcode,
        answers,
        ech_public_names: Vec::new(),
    })))
}

/// TCP or UDP, from `proto`.
fn transport(proto: Option<&Text<'_>>) -> Result<Transport, LineProblem> {
    match proto.map(Text::raw) {
        Some(b"udp") => Ok(Transport::Udp),
        Some(b"tcp") => Ok(Transport::Tcp),
        Some(_) => Err(LineProblem::Malformed("a proto neither tcp nor udp")),
        None => Err(LineProblem::Malformed("no proto")),
    }
}

/// Whether an answer is a name (no spaces: Zeek writes other records as their type and data).
fn is_name(data: &[u8]) -> bool {
    !data.is_empty() && !data.contains(&b' ')
}

/// A DNS name as the packet path writes one: lower-case presentation format (what is not
/// printable as `\DDD`), without the trailing dot, `.` for the root, at most 255 bytes of it.
fn dns_name(name: &[u8]) -> String {
    let name = name.strip_suffix(b".").unwrap_or(name);
    if name.is_empty() {
        return ".".into();
    }
    let name = &name[..name.len().min(crate::text::MAX_WIRE_NAME)];
    let mut out = String::with_capacity(name.len());
    crate::text::escape_label(&mut out, name, false);
    out
}

flow_line! {
    /// A `kerberos` line.
    KerberosLine<'a> {
        /// `request_type`: `AS`, `TGS` (or `AP`, an authentication to a service).
        #[serde(borrow)]
        request_type: Option<Text<'a>>,
        /// `client`: the principal as `name/REALM`.
        #[serde(borrow)]
        client: Option<Text<'a>>,
        /// `success`.
        success: Option<bool>,
        /// `error_msg`: the error's name, or the text the KDC sent with it.
        #[serde(borrow)]
        error_msg: Option<Text<'a>>,
        /// `till`: the ticket end time asked for.
        till: Option<Time>,
    }
}

/// A `kerberos` line: an AS or TGS exchange (an AP line, an authentication to a service, is
/// skipped: the packet path sees only the KDC's). The principal is written as the packet path
/// writes one, `name@REALM` (Zeek's `name/REALM` split at its last `/`), none when the name is
/// empty (`/REALM`, a request without one). Granted when `success` is T; refused when F (or
/// unset with an error), with the error's code ([`kerberos::error_code`], -1 for a name it does
/// not know); unanswered otherwise. An exchange whose type Zeek left unset is an AS exchange, as
/// the packet path takes a KRB-ERROR without its request. The log does not say whether the
/// exchange was over UDP or TCP: it is taken for UDP (no stage reads it of Kerberos records).
pub fn kerberos(line: KerberosLine<'_>, syntax: Syntax) -> Result<Piece, LineProblem> {
    let id = line.id()?;
    let exchange = match line.request_type.as_ref().map(Text::raw) {
        None | Some(b"AS") => Exchange::As,
        Some(b"TGS") => Exchange::Tgs,
        Some(_) => return Err(LineProblem::Skipped),
    };
    let client = line.client.as_ref().map(|c| c.bytes(syntax));
    let principal = client.as_deref().and_then(|client| {
        let (name, realm) = match client.iter().rposition(|&b| b == b'/') {
            Some(at) => (&client[..at], &client[at + 1..]),
            None => (client, &b""[..]),
        };
        (!name.is_empty()).then(|| kerberos::principal_text([name], realm))
    });
    let error = line.error_msg.as_ref().map(|e| e.bytes(syntax));
    let refused = || {
        let code = (error.as_deref())
            .and_then(|e| std::str::from_utf8(e).ok())
            .and_then(kerberos::error_code);
        KrbOutcome::Refused(code.unwrap_or(-1))
    };
    let outcome = match line.success {
        Some(true) => KrbOutcome::Granted,
        Some(false) => refused(),
        None if error.is_some() => refused(),
        None => KrbOutcome::Unanswered,
    };
    Ok(Piece::Record(Record::Kerberos(Box::new(KerberosRecord {
        origin: Origin {
            flow_id: id.key,
            packet: 0,
            ts: id.ts,
            client: id.client,
            server: id.server,
            transport: Transport::Udp,
            vlan: [0, 0],
        },
        exchange,
        principal,
        till: line.till.map(|t| t.0),
        on_behalf: false,
        outcome,
    }))))
}

/// A `dhcp` line: the messages of one DHCPv4 exchange.
#[derive(serde::Deserialize)]
pub struct DhcpLine<'a> {
    /// `ts`.
    ts: Option<Time>,
    /// `uids`: the flows that carried the exchange.
    #[serde(borrow)]
    uids: Option<Vec<Text<'a>>>,
    /// `client_addr`: the client's address, when it sent from one.
    client_addr: Option<Ip>,
    /// `server_addr`: the address of the server that handed out the lease.
    server_addr: Option<Ip>,
    /// `mac`.
    #[serde(borrow)]
    mac: Option<Text<'a>>,
    /// `host_name`: option 12.
    #[serde(borrow)]
    host_name: Option<Text<'a>>,
    /// `client_fqdn`: option 81.
    #[serde(borrow)]
    client_fqdn: Option<Text<'a>>,
    /// `requested_addr`: option 50.
    requested_addr: Option<Ip>,
    /// `assigned_addr`: the address leased.
    assigned_addr: Option<Ip>,
    /// `lease_time`.
    lease_time: Option<Interval>,
    /// `msg_types`: the exchange's messages, in order.
    #[serde(borrow)]
    msg_types: Option<Vec<Text<'a>>>,
}

/// A `dhcp` line: Zeek writes one line per exchange (DISCOVER, OFFER, REQUEST, ACK); it is the
/// message that ended it (the last of `msg_types`), about the address the packet path would
/// take from that message (the one assigned for an ACK or OFFER, the one requested for a
/// REQUEST, DISCOVER or DECLINE, the client's own for a RELEASE or INFORM). Its origin is the
/// client's and server's addresses on ports 68 and 67 (`0.0.0.0` where Zeek logged none: the
/// client had no address yet, or both sides broadcast). Zeek logs no transaction id: the xid
/// is the low 32 bits of the first uid's hash, so that a NAK is never matched to another
/// client's request.
pub fn dhcp(line: DhcpLine<'_>, syntax: Syntax) -> Result<Piece, LineProblem> {
    let ts = line.ts.ok_or(LineProblem::Malformed("no ts"))?.0;
    let key = match line.uids.as_deref().and_then(<[_]>::first) {
        Some(uid) => key_of_uid(
            std::str::from_utf8(uid.raw())
                .map_err(|_| LineProblem::Malformed("a uid that is not text"))?,
        ),
        None => 0,
    };
    let kind = (line.msg_types.as_deref())
        .and_then(<[_]>::last)
        .map(|t| dhcp_kind(t.raw()));
    let ip = |ip: Option<Ip>| ip.map(|i| Addr::from(i.0));
    let (client, requested, assigned) = (
        ip(line.client_addr),
        ip(line.requested_addr),
        ip(line.assigned_addr),
    );
    let address = match kind {
        Some(DhcpKind::Ack) => assigned.or(client),
        Some(DhcpKind::Offer) => assigned,
        Some(DhcpKind::Request | DhcpKind::Discover | DhcpKind::Decline) => requested.or(client),
        Some(DhcpKind::Release | DhcpKind::Inform) => client,
        _ => None,
    };
    let unspecified = Addr::v4([0; 4]);
    let message = DhcpMessage {
        version: 4,
        kind,
        xid: key as u32,
        mac: line.mac.as_ref().and_then(|m| mac(m.raw())),
        duid: None,
        hostname: host_name(line.host_name.as_ref(), syntax),
        fqdn: host_name(line.client_fqdn.as_ref(), syntax),
        address,
        lease_secs: line.lease_time.map(Interval::secs_u32),
        bad_options: 0,
    };
    Ok(Piece::Record(Record::Dhcp(Box::new(DhcpRecord {
        origin: Origin {
            flow_id: key,
            packet: 0,
            ts,
            client: Endpoint {
                addr: client.unwrap_or(unspecified),
                port: 68,
            },
            server: Endpoint {
                addr: ip(line.server_addr).unwrap_or(unspecified),
                port: 67,
            },
            transport: Transport::Udp,
            vlan: [0, 0],
        },
        message,
    }))))
}

/// A message type as Zeek names it.
fn dhcp_kind(name: &[u8]) -> DhcpKind {
    match name {
        b"DISCOVER" => DhcpKind::Discover,
        b"OFFER" => DhcpKind::Offer,
        b"REQUEST" => DhcpKind::Request,
        b"DECLINE" => DhcpKind::Decline,
        b"ACK" => DhcpKind::Ack,
        b"NAK" => DhcpKind::Nak,
        b"RELEASE" => DhcpKind::Release,
        b"INFORM" => DhcpKind::Inform,
        _ => DhcpKind::Other,
    }
}

/// `00:0a:28:00:fa:42` as bytes; none for anything else (Zeek logs other hardware addresses in
/// other lengths).
fn mac(text: &[u8]) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(|&b| b == b':');
    for byte in &mut mac {
        let part = std::str::from_utf8(parts.next()?).ok()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// A host name or FQDN as the packet path keeps one (lower-cased, escaped, no trailing dot);
/// none when unset or empty.
fn host_name(field: Option<&Text<'_>>, syntax: Syntax) -> Option<String> {
    let bytes = field?.bytes(syntax);
    let bytes = bytes.strip_suffix(&[0]).unwrap_or(&bytes);
    (!bytes.is_empty()).then(|| crate::text::name_from_bytes(bytes))
}
