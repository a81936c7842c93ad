//! Kerberos: the client principal of a KDC exchange (RFC 4120), in the clear on UDP and TCP
//! port 88.
//!
//! The ASN.1 is parsed by rusticata's `kerberos-parser` (the parser Suricata uses); this module
//! picks the message by its APPLICATION tag and keeps only what identity needs: which exchange
//! (AS or TGS), the client principal (`cname@realm`: in an AS-REQ's body, and in every KDC-REP),
//! the end time the client asked for (`till`), and a KRB-ERROR's code. Over TCP each message
//! has a four-byte length prefix ([`tcp_length`]). [`Kerberos`] is the port dissector (port 88
//! over UDP and TCP): it joins a request and its reply into an exchange ([`KerberosRecord`]),
//! and hands on a request never answered when its flow ends.

use super::dissector::{Context, Frame, PortDissector};
use super::{Origin, Record};
use crate::capture::Timestamp;
use asn1_rs::FromDer;
use kerberos_parser::krb5::{KdcRep, KdcReq, KrbError as KrbErrorMessage, PrincipalName, Realm};
use kerberos_parser::krb5_parser;

/// Longest principal kept, in bytes; longer ones are cut (and counted malformed).
const MAX_PRINCIPAL: usize = 256;

/// Largest Kerberos message over TCP lantern reassembles (a TGS-REP with a large PAC fits).
pub const MAX_TCP_MESSAGE: usize = 65_536;

/// The kind of a KDC message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KrbKind {
    /// AS-REQ: a client asks for a ticket-granting ticket (a login).
    AsReq,
    /// AS-REP: the KDC grants it.
    AsRep,
    /// TGS-REQ: a client asks for a service ticket.
    TgsReq,
    /// TGS-REP: the KDC grants it.
    TgsRep,
    /// KRB-ERROR, with its error code.
    Error(i32),
}

impl KrbKind {
    /// Whether the client sends it.
    pub fn is_request(self) -> bool {
        matches!(self, KrbKind::AsReq | KrbKind::TgsReq)
    }
}

/// The exchange a message belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Exchange {
    /// Authentication service: the login.
    As,
    /// Ticket-granting service: a service ticket.
    Tgs,
}

impl Exchange {
    /// Name in events.
    pub fn name(self) -> &'static str {
        match self {
            Exchange::As => "as",
            Exchange::Tgs => "tgs",
        }
    }
}

/// What one KDC message says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KrbMessage {
    /// Its kind.
    pub kind: KrbKind,
    /// The client principal, `name@REALM` (the name's components joined by `/`), escaped
    /// where not printable.
    pub principal: Option<String>,
    /// The end time the client asked for (requests).
    pub till: Option<Timestamp>,
    /// A TGS-REQ for a ticket on behalf of another principal (MS-SFU S4U2Self: PA-FOR-USER or
    /// PA-S4U-X509-USER): the reply names that user, not the one at the client address.
    pub on_behalf: bool,
}

/// MS-SFU pre-authentication types of S4U2Self requests.
const PA_FOR_USER: i32 = 129;
const PA_S4U_X509_USER: i32 = 130;

/// Why bytes are not a Kerberos message lantern reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KrbParseError {
    /// Not AS-REQ, AS-REP, TGS-REQ, TGS-REP or KRB-ERROR.
    #[error("not a KDC message")]
    NotKdc,
    /// The ASN.1 does not parse.
    #[error("malformed ASN.1")]
    Malformed,
}

/// Parses one KDC message.
pub fn parse(bytes: &[u8]) -> Result<KrbMessage, KrbParseError> {
    let bad = |_| KrbParseError::Malformed;
    match bytes.first() {
        Some(0x6a) => krb5_parser::parse_as_req(bytes)
            .map(|(_, r)| request(KrbKind::AsReq, &r))
            .map_err(bad),
        Some(0x6c) => krb5_parser::parse_tgs_req(bytes)
            .map(|(_, r)| request(KrbKind::TgsReq, &r))
            .map_err(bad),
        Some(0x6b) => krb5_parser::parse_as_rep(bytes)
            .map(|(_, r)| reply(KrbKind::AsRep, &r))
            .map_err(bad),
        Some(0x6d) => krb5_parser::parse_tgs_rep(bytes)
            .map(|(_, r)| reply(KrbKind::TgsRep, &r))
            .map_err(bad),
        Some(0x7e) => KrbErrorMessage::from_der(bytes)
            .map(|(_, e)| KrbMessage {
                kind: KrbKind::Error(e.error_code.0),
                principal: None,
                till: None,
                on_behalf: false,
            })
            .map_err(bad),
        _ => Err(KrbParseError::NotKdc),
    }
}

/// The length of the message a TCP record marker announces, if the first four bytes are one
/// (the high bit is reserved and must be zero).
pub fn tcp_length(bytes: &[u8]) -> Option<Result<usize, KrbParseError>> {
    let &[a, b, c, d] = bytes.first_chunk::<4>()?;
    let len = u32::from_be_bytes([a, b, c, d]);
    Some(if len & 0x8000_0000 != 0 {
        Err(KrbParseError::Malformed)
    } else {
        Ok(len as usize)
    })
}

fn request(kind: KrbKind, r: &KdcReq<'_>) -> KrbMessage {
    let body = &r.req_body;
    KrbMessage {
        kind,
        principal: body.cname.as_ref().map(|c| principal(c, &body.realm)),
        till: {
            let t = &body.till.0;
            time(t.year, t.month, t.day, [t.hour, t.minute, t.second])
        },
        on_behalf: r
            .padata
            .iter()
            .any(|p| matches!(p.padata_type.0, PA_FOR_USER | PA_S4U_X509_USER)),
    }
}

fn reply(kind: KrbKind, r: &KdcRep<'_>) -> KrbMessage {
    KrbMessage {
        kind,
        principal: Some(principal(&r.cname, &r.crealm)),
        till: None,
        on_behalf: false,
    }
}

/// `a/b@REALM`, escaped where not printable (case kept: realms are upper case by convention), at most [`MAX_PRINCIPAL`] bytes.
fn principal(name: &PrincipalName, realm: &Realm) -> String {
    let parts = name.name_string.iter().map(|p| p.as_bytes());
    principal_text(parts, realm.0.as_bytes())
}

/// A principal as lantern writes it, `name@REALM`, from the name's components (joined by `/`)
/// and the realm as sent (or as a log wrote them): escaped where not printable, bounded.
pub fn principal_text<'a>(parts: impl Iterator<Item = &'a [u8]>, realm: &[u8]) -> String {
    let mut out = String::new();
    for (i, part) in parts.enumerate() {
        if i > 0 {
            out.push('/');
        }
        crate::text::escape_bytes(&mut out, part, false, false);
    }
    out.push('@');
    crate::text::escape_bytes(&mut out, realm, false, false);
    if out.len() > MAX_PRINCIPAL {
        let mut cut = MAX_PRINCIPAL;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

/// A KerberosTime (always UTC) as a timestamp; `None` when it is not a valid date.
fn time(year: u32, month: u8, day: u8, [h, m, s]: [u8; 3]) -> Option<Timestamp> {
    let month = time::Month::try_from(month).ok()?;
    let date = time::Date::from_calendar_date(i32::try_from(year).ok()?, month, day).ok()?;
    let dt = date.with_hms(h, m, s).ok()?;
    Some(Timestamp::from_secs(dt.assume_utc().unix_timestamp()))
}

/// Whether a principal is a machine account: `NAME$@REALM` (Active Directory computer
/// accounts) or `host/NAME@REALM`. Returns the device name.
pub fn machine_name(principal: &str) -> Option<&str> {
    let name = principal.rsplit_once('@').map_or(principal, |(n, _)| n);
    if let Some(host) = name.strip_prefix("host/") {
        return Some(host);
    }
    name.strip_suffix('$')
        .filter(|n| !n.is_empty() && !n.contains('/'))
}

/// How a Kerberos exchange ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KrbOutcome {
    /// The KDC issued the ticket (AS-REP or TGS-REP).
    Granted,
    /// The KDC answered with this error code.
    Refused(i32),
    /// No reply was seen in the flow (a one-way SPAN, or a lost reply).
    Unanswered,
}

impl KrbOutcome {
    /// Name in events.
    pub fn name(self) -> &'static str {
        match self {
            KrbOutcome::Granted => "granted",
            KrbOutcome::Refused(_) => "refused",
            KrbOutcome::Unanswered => "unanswered",
        }
    }
}

/// One Kerberos exchange: a request and its reply, or either alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KerberosRecord {
    /// Where the reply was seen (the request, when unanswered).
    pub origin: Origin,
    /// AS (a login) or TGS (a service ticket).
    pub exchange: Exchange,
    /// The client principal: the reply's, else the request's.
    pub principal: Option<String>,
    /// The ticket end time the client asked for.
    pub till: Option<Timestamp>,
    /// A service asked for a ticket on behalf of the principal (S4U2Self): the principal is
    /// not the user at the client address.
    pub on_behalf: bool,
    /// How it ended.
    pub outcome: KrbOutcome,
}

/// A Kerberos request waiting for its reply.
#[derive(Clone, Debug)]
pub struct PendingKrb {
    exchange: Exchange,
    on_behalf: bool,
    principal: Option<String>,
    till: Option<Timestamp>,
    ts: Timestamp,
    packet: u64,
}

/// The Kerberos port dissector.
#[derive(Clone, Copy, Debug)]
pub struct Kerberos;

impl PortDissector for Kerberos {
    const NAME: &'static str = "kerberos";
    const UDP_PORTS: &'static [u16] = &[88];
    const TCP_PORTS: &'static [u16] = &[88];
    /// The request awaiting its reply.
    type Flow = Option<PendingKrb>;
    type Worker = ();
    type Record = Box<KerberosRecord>;

    fn frame(bytes: &[u8]) -> Frame {
        match tcp_length(bytes)? {
            Ok(len) if len <= MAX_TCP_MESSAGE => Some(Ok((4, len))),
            _ => Some(Err(())),
        }
    }

    fn message(
        bytes: &[u8],
        pending: &mut Option<PendingKrb>,
        _: &mut (),
        cx: Context<'_>,
    ) -> bool {
        match parse(bytes) {
            Ok(message) => {
                cx.counters.kerberos_messages += 1;
                join(message, pending, cx);
                true
            }
            Err(_) => {
                cx.counters.kerberos_malformed += 1;
                false
            }
        }
    }

    fn malformed_frame(cx: Context<'_>) {
        cx.counters.kerberos_malformed += 1;
    }

    fn order(record: &Box<KerberosRecord>) -> (Timestamp, u64) {
        (record.origin.ts, record.origin.packet)
    }

    fn end(pending: Option<PendingKrb>, _: &mut (), cx: Context<'_>) {
        let Some(p) = pending else { return };
        cx.counters.kerberos_unanswered += 1;
        cx.records.push(Record::Kerberos(Box::new(KerberosRecord {
            origin: Origin {
                packet: p.packet,
                ts: p.ts,
                ..cx.at
            },
            exchange: p.exchange,
            principal: p.principal,
            till: p.till,
            on_behalf: p.on_behalf,
            outcome: KrbOutcome::Unanswered,
        })));
    }
}

/// Joins a flow's requests and replies into exchanges.
fn join(message: KrbMessage, pending: &mut Option<PendingKrb>, cx: Context<'_>) {
    let exchange = match message.kind {
        KrbKind::AsReq | KrbKind::AsRep => Exchange::As,
        KrbKind::TgsReq | KrbKind::TgsRep => Exchange::Tgs,
        KrbKind::Error(_) => pending.as_ref().map_or(Exchange::As, |p| p.exchange),
    };
    if message.kind.is_request() {
        *pending = Some(PendingKrb {
            exchange,
            on_behalf: message.on_behalf,
            principal: message.principal,
            till: message.till,
            ts: cx.at.ts,
            packet: cx.at.packet,
        });
        return;
    }
    let outcome = match message.kind {
        KrbKind::Error(code) => {
            cx.counters.kerberos_refused += 1;
            KrbOutcome::Refused(code)
        }
        _ => KrbOutcome::Granted,
    };
    let asked = pending.take().filter(|p| p.exchange == exchange);
    cx.records.push(Record::Kerberos(Box::new(KerberosRecord {
        origin: cx.at,
        exchange,
        principal: message
            .principal
            .or_else(|| asked.as_ref().and_then(|p| p.principal.clone())),
        on_behalf: asked.as_ref().is_some_and(|p| p.on_behalf),
        till: asked.and_then(|p| p.till),
        outcome,
    })));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An AS-REQ for `alice@CORP.EXAMPLE`, built with the DER of RFC 4120 by hand: pvno 5,
    /// msg-type 10, req-body with kdc-options, cname, realm, sname krbtgt/CORP.EXAMPLE, till
    /// 20261124060802Z, nonce, etype.
    fn as_req() -> Vec<u8> {
        kdc_req(0x6a, 10, &[])
    }

    /// A KDC-REQ with this APPLICATION tag, msg-type and pre-authentication data types.
    fn kdc_req(app: u8, msg_type: u8, padata: &[u8]) -> Vec<u8> {
        fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
            let mut v = vec![tag];
            if body.len() < 128 {
                v.push(body.len() as u8);
            } else {
                v.extend_from_slice(&[0x81, body.len() as u8]);
            }
            v.extend_from_slice(body);
            v
        }
        let int = |n: u8| tlv(0x02, &[n]);
        let gstr = |s: &str| tlv(0x1b, s.as_bytes());
        let seq = |parts: &[Vec<u8>]| tlv(0x30, &parts.concat());
        let name = |t: u8, parts: &[&str]| {
            seq(&[
                tlv(0xa0, &int(t)),
                tlv(
                    0xa1,
                    &seq(&parts.iter().map(|p| gstr(p)).collect::<Vec<_>>()),
                ),
            ])
        };
        let body = seq(&[
            tlv(0xa0, &tlv(0x03, &[0, 0, 0, 0, 0])),
            tlv(0xa1, &name(1, &["alice"])),
            tlv(0xa2, &gstr("CORP.EXAMPLE")),
            tlv(0xa3, &name(2, &["krbtgt", "CORP.EXAMPLE"])),
            tlv(0xa5, &tlv(0x18, b"20261124060802Z")),
            tlv(0xa7, &int(42)),
            tlv(0xa8, &seq(&[int(18)])),
        ]);
        let pa: Vec<Vec<u8>> = padata
            .iter()
            .map(|&t| {
                let value = tlv(0xa2, &tlv(0x04, b"x"));
                if t < 128 {
                    seq(&[tlv(0xa1, &int(t)), value])
                } else {
                    seq(&[tlv(0xa1, &tlv(0x02, &[0, t])), value])
                }
            })
            .collect();
        let mut parts = vec![tlv(0xa1, &int(5)), tlv(0xa2, &int(msg_type))];
        if !pa.is_empty() {
            parts.push(tlv(0xa3, &seq(&pa)));
        }
        parts.push(tlv(0xa4, &body));
        tlv(app, &seq(&parts))
    }

    #[test]
    fn s4u2self_requests_are_marked_on_behalf() {
        let plain = parse(&kdc_req(0x6c, 12, &[1])).unwrap();
        assert_eq!((plain.kind, plain.on_behalf), (KrbKind::TgsReq, false));
        let s4u = parse(&kdc_req(0x6c, 12, &[1, 129])).unwrap();
        assert!(s4u.on_behalf);
        assert!(parse(&kdc_req(0x6c, 12, &[130])).unwrap().on_behalf);
    }

    #[test]
    fn as_req_gives_principal_and_till() {
        let m = parse(&as_req()).unwrap();
        assert_eq!(m.kind, KrbKind::AsReq);
        assert_eq!(m.principal.as_deref(), Some("alice@CORP.EXAMPLE"));
        // 2026-11-24T06:08:02Z
        assert_eq!(m.till, Some(Timestamp::from_secs(1_795_500_482)));
    }

    #[test]
    fn every_truncation_and_corruption_is_an_error_not_a_panic() {
        let good = as_req();
        for cut in 0..good.len() {
            assert!(parse(&good[..cut]).is_err(), "cut at {cut}");
        }
        for at in 0..good.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[at] ^= flip;
                let _ = parse(&bad);
            }
        }
        assert_eq!(parse(&[0x30, 0]), Err(KrbParseError::NotKdc));
    }

    #[test]
    fn tcp_record_marker() {
        assert_eq!(tcp_length(&[0, 0, 1, 0, 9]), Some(Ok(256)));
        assert_eq!(
            tcp_length(&[0x80, 0, 0, 1]),
            Some(Err(KrbParseError::Malformed))
        );
        assert_eq!(tcp_length(&[0, 0]), None);
    }

    #[test]
    fn machine_accounts_name_devices() {
        assert_eq!(machine_name("BUILD01$@CORP.EXAMPLE"), Some("BUILD01"));
        assert_eq!(
            machine_name("host/ws7.corp.example@CORP.EXAMPLE"),
            Some("ws7.corp.example")
        );
        assert_eq!(machine_name("alice@CORP.EXAMPLE"), None);
        assert_eq!(machine_name("$@CORP.EXAMPLE"), None);
        assert_eq!(machine_name("HTTP/web$@CORP.EXAMPLE"), None);
    }

    #[test]
    fn principals_are_escaped_and_bounded() {
        let name = PrincipalName {
            name_type: kerberos_parser::krb5::NameType(1),
            name_string: vec!["a\u{1}b".into(), "x".repeat(400)],
        };
        let p = principal(&name, &Realm("R".into()));
        assert!(p.starts_with("a\\001b/xxx"));
        assert_eq!(p.len(), MAX_PRINCIPAL);
    }
}
