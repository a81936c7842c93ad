//! DNS: the port dissector ([`Dns`], port 53 over UDP and TCP) and its messages.
//!
//! A message is reduced to its first question and the A, AAAA, CNAME and HTTPS answers with
//! their TTLs, and the ECH public names of the ECHConfigs that HTTPS and SVCB answers carry.
//! Parsing is done by NLnet Labs' `domain` crate, which reads names in place and refuses
//! compression pointers that do not point backwards (so a pointer loop is malformed, not a
//! hang) and names over 255 octets. The dissector joins a flow's queries and responses by
//! transaction id, name and type into lookups ([`DnsRecord`]): a query waits for its response
//! within a bound per flow and one per worker, and one never answered is handed on alone when
//! its flow ends.

use super::dissector::{Context, Frame, PortDissector};
use super::{Origin, Record};
use crate::capture::Timestamp;
use crate::decode::Transport;
use crate::flow::Endpoint;
use crate::text::escape_label;
use domain::base::iana::{Rcode, Rtype};
use domain::base::name::ToLabelIter;
use domain::base::{Message, ParsedName};
use domain::rdata::{A, Aaaa, Cname, Https, Svcb};
use std::net::IpAddr;

/// Most answers kept from one response.
pub const MAX_ANSWERS: usize = 32;

/// Most ECH public names kept from one response.
pub const MAX_ECH_NAMES: usize = 4;

/// A parsed DNS message, reduced to what lantern reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsMessage {
    /// Transaction id.
    pub id: u16,
    /// QR bit: this is a response.
    pub response: bool,
    /// Response code.
    pub rcode: u8,
    /// The first question: name (lower-case presentation format) and type.
    pub question: Option<(String, u16)>,
    /// A, AAAA, CNAME and HTTPS answers, in order, at most [`MAX_ANSWERS`].
    pub answers: Vec<DnsAnswer>,
    /// The answer section could not be read to its end (cut by the snaplen, or malformed):
    /// `answers` holds those read before the problem.
    pub truncated: bool,
    /// The `public_name` of each ECHConfig in the `ech` parameter of HTTPS and SVCB answers
    /// (the outer SNI a client will send with real Encrypted Client Hello), at most
    /// [`MAX_ECH_NAMES`], with the TTL of its record.
    pub ech_public_names: Vec<(String, u32)>,
}

/// One answer record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsAnswer {
    /// Record type.
    pub rtype: u16,
    /// Time to live in seconds.
    pub ttl: u32,
    /// The address (A, AAAA) or name (CNAME, HTTPS target).
    pub data: AnswerData,
}

/// The data of an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnswerData {
    /// An address from an A or AAAA record.
    Addr(IpAddr),
    /// A name from a CNAME record or an HTTPS record's target.
    Name(String),
}

impl std::fmt::Display for AnswerData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnswerData::Addr(addr) => addr.fmt(f),
            AnswerData::Name(name) => f.write_str(name),
        }
    }
}

/// Parses one DNS message (without the TCP length prefix).
pub fn parse(bytes: &[u8]) -> Result<DnsMessage, &'static str> {
    let message = Message::from_octets(bytes).map_err(|_| "shorter than a DNS header")?;
    let header = message.header();
    let question = match message.question().next() {
        None => None,
        Some(Ok(q)) => Some((name_string(q.qname()), q.qtype().to_int())),
        Some(Err(_)) => return Err("malformed question"),
    };
    let mut answers = Vec::new();
    let mut ech_public_names = Vec::new();
    let mut truncated = false;
    if header.qr() {
        match message.answer() {
            Err(_) => truncated = true,
            Ok(section) => {
                for record in section {
                    if answers.len() >= MAX_ANSWERS {
                        break;
                    }
                    let added =
                        record.and_then(|r| add_answers(&r, &mut answers, &mut ech_public_names));
                    if added.is_err() {
                        truncated = true;
                        break;
                    }
                }
                answers.truncate(MAX_ANSWERS);
            }
        }
    }
    Ok(DnsMessage {
        id: header.id(),
        response: header.qr(),
        rcode: header.rcode().to_int(),
        question,
        answers,
        truncated,
        ech_public_names,
    })
}

type Answer<'a> = domain::base::ParsedRecord<'a, &'a [u8]>;

/// Adds what one answer record says: an A or AAAA address, a CNAME target, or an HTTPS
/// record's target name and address hints (RFC 9460), which name flows like A records do; and
/// the ECH public names of an HTTPS or SVCB record's `ech` parameter.
fn add_answers(
    record: &Answer<'_>,
    answers: &mut Vec<DnsAnswer>,
    ech_names: &mut Vec<(String, u32)>,
) -> Result<(), domain::base::wire::ParseError> {
    let ttl = record.ttl().as_secs();
    let rtype = record.rtype().to_int();
    let mut push = |data| answers.push(DnsAnswer { rtype, ttl, data });
    match record.rtype() {
        Rtype::A => {
            if let Some(r) = record.to_record::<A>()? {
                push(AnswerData::Addr(r.data().addr().into()));
            }
        }
        Rtype::AAAA => {
            if let Some(r) = record.to_record::<Aaaa>()? {
                push(AnswerData::Addr(r.data().addr().into()));
            }
        }
        Rtype::CNAME => {
            if let Some(r) = record.to_record::<Cname<ParsedName<&[u8]>>>()? {
                push(AnswerData::Name(name_string(r.data().cname())));
            }
        }
        Rtype::HTTPS => {
            if let Some(r) = record.to_record::<Https<&[u8], ParsedName<&[u8]>>>()? {
                let https = r.data();
                let target = name_string(https.target());
                if target != "." {
                    push(AnswerData::Name(target));
                }
                let params = https.params();
                for addr in params.ipv4hint().iter().flat_map(|h| h.iter()) {
                    push(AnswerData::Addr(addr.into()));
                }
                for addr in params.ipv6hint().iter().flat_map(|h| h.iter()) {
                    push(AnswerData::Addr(addr.into()));
                }
                if let Some(ech) = params.ech() {
                    add_ech_names(ech.as_slice(), ttl, ech_names);
                }
            }
        }
        Rtype::SVCB => {
            if let Some(r) = record.to_record::<Svcb<&[u8], ParsedName<&[u8]>>>()?
                && let Some(ech) = r.data().params().ech()
            {
                add_ech_names(ech.as_slice(), ttl, ech_names);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Adds the public names of an `ech` parameter's ECHConfigList, each once, at most
/// [`MAX_ECH_NAMES`] in all.
fn add_ech_names(list: &[u8], ttl: u32, names: &mut Vec<(String, u32)>) {
    for name in ech_public_names(list) {
        if names.len() >= MAX_ECH_NAMES {
            return;
        }
        if !names.iter().any(|(n, _)| *n == name) {
            names.push((name, ttl));
        }
    }
}

/// ECHConfig version of draft-ietf-tls-esni-18 and later (the one browsers use).
const ECH_VERSION: u16 = 0xfe0d;

/// The public names of an ECHConfigList (draft-ietf-tls-esni, section 4), lower-cased; configs
/// of other versions, and everything after the first malformed byte, are skipped. Checked
/// reads only: a length that points past the list ends the walk.
pub fn ech_public_names(list: &[u8]) -> impl Iterator<Item = String> + '_ {
    let total = be16(list, 0).map_or(0, usize::from);
    let mut configs = list.get(2..2 + total).unwrap_or_default();
    std::iter::from_fn(move || {
        loop {
            let version = be16(configs, 0)?;
            let len = usize::from(be16(configs, 2)?);
            let Some(contents) = configs.get(4..4 + len) else {
                configs = &[];
                return None;
            };
            configs = &configs[4 + len..];
            if version == ECH_VERSION
                && let Some(name) = public_name(contents)
            {
                return Some(name);
            }
        }
    })
}

/// The public_name of one ECHConfigContents: after the HPKE key config (config_id, kem_id, a
/// 16-bit-length public key, 16-bit-length cipher suites) and maximum_name_length.
fn public_name(contents: &[u8]) -> Option<String> {
    let key_len = usize::from(be16(contents, 3)?);
    let suites_at = 5 + key_len;
    let suites_len = usize::from(be16(contents, suites_at)?);
    let name_at = suites_at + 2 + suites_len + 1;
    let name_len = usize::from(*contents.get(name_at)?);
    let name = contents.get(name_at + 1..name_at + 1 + name_len)?;
    // Written as the SNI is, so that the two compare equal.
    (!name.is_empty()).then(|| crate::text::name_from_bytes(name))
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

/// A name in lower-case presentation format without the trailing dot ("." for the root).
fn name_string(name: &ParsedName<&[u8]>) -> String {
    let mut out = String::new();
    for label in name.iter_labels() {
        if label.is_root() {
            continue;
        }
        if !out.is_empty() {
            out.push('.');
        }
        escape_label(&mut out, label.as_slice(), true);
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

/// The mnemonic of a record type ("A", "HTTPS", "TYPE65280").
pub fn type_name(rtype: u16) -> String {
    Rtype::from_int(rtype).to_string()
}

/// The mnemonic of a response code ("NOERROR", "NXDOMAIN").
pub fn rcode_name(rcode: u8) -> String {
    Rcode::checked_from_int(rcode).map_or_else(|| format!("RCODE{rcode}"), |r| r.to_string())
}

/// One DNS lookup: a query and its response, or either alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsRecord {
    /// The flow that carried it.
    pub flow_id: u64,
    /// Number of the query packet (of the response when no query was seen).
    pub packet: u64,
    /// Time of the query (of the response when no query was seen).
    pub ts: Timestamp,
    /// Time of the response, if one was seen.
    pub answered: Option<Timestamp>,
    /// The querier.
    pub client: Endpoint,
    /// The resolver.
    pub server: Endpoint,
    /// UDP or TCP.
    pub transport: Transport,
    /// VLAN ids (outer, inner).
    pub vlan: [u16; 2],
    /// Transaction id.
    pub id: u16,
    /// The name asked for.
    pub query: String,
    /// The type asked for.
    pub qtype: u16,
    /// Response code, if answered.
    pub rcode: Option<u8>,
    /// A, AAAA, CNAME and HTTPS answers.
    pub answers: Vec<DnsAnswer>,
    /// ECH public names from HTTPS and SVCB answers, with their TTLs.
    pub ech_public_names: Vec<(String, u32)>,
}

impl DnsRecord {
    /// When the lookup completed (the response) or was last heard of (the query).
    pub fn completed(&self) -> Timestamp {
        self.answered.unwrap_or(self.ts)
    }
}

/// A DNS query waiting for its response.
#[derive(Clone, Debug)]
pub struct PendingQuery {
    id: u16,
    name: String,
    qtype: u16,
    ts: Timestamp,
    packet: u64,
}

/// The DNS port dissector.
#[derive(Clone, Copy, Debug)]
pub struct Dns;

impl PortDissector for Dns {
    const NAME: &'static str = "dns";
    const UDP_PORTS: &'static [u16] = &[53];
    const TCP_PORTS: &'static [u16] = &[53];
    /// The flow's queries awaiting their response.
    type Flow = Vec<PendingQuery>;
    /// Queries awaiting a response in all the worker's flows.
    type Worker = usize;
    type Record = DnsRecord;

    fn frame(bytes: &[u8]) -> Frame {
        let &[hi, lo] = bytes.first_chunk::<2>()?;
        Some(Ok((2, usize::from(u16::from_be_bytes([hi, lo])))))
    }

    fn message(
        bytes: &[u8],
        flow: &mut Vec<PendingQuery>,
        held: &mut usize,
        cx: Context<'_>,
    ) -> bool {
        match parse(bytes) {
            Ok(message) => {
                cx.counters.dns_messages += 1;
                join(message, flow, held, cx);
                true
            }
            Err(_) => {
                cx.counters.dns_malformed += 1;
                false
            }
        }
    }

    fn malformed_frame(_: Context<'_>) {}

    fn order(record: &DnsRecord) -> (Timestamp, u64) {
        (record.completed(), record.packet)
    }

    fn end(flow: Vec<PendingQuery>, held: &mut usize, cx: Context<'_>) {
        *held -= flow.len();
        for query in flow {
            cx.counters.dns_unanswered += 1;
            cx.records.push(Record::Dns(unanswered(query, &cx.at)));
        }
    }
}

/// Joins a flow's queries and responses into lookups.
fn join(message: DnsMessage, pending: &mut Vec<PendingQuery>, held: &mut usize, cx: Context<'_>) {
    let counters = &mut *cx.counters;
    let Some((name, qtype)) = message.question else {
        counters.dns_malformed += 1;
        return;
    };
    if message.truncated {
        counters.dns_truncated += 1;
    }
    let at = cx.at;
    if !message.response {
        if pending.len() >= cx.config.dns_pending {
            counters.dns_pending_dropped += 1;
            let oldest = pending.remove(0);
            *held -= 1;
            cx.records.push(Record::Dns(unanswered(oldest, &at)));
        } else if *held >= cx.config.dns_pending_total {
            // Not held: its response alone still makes the lookup.
            counters.dns_pending_dropped += 1;
            return;
        }
        *held += 1;
        pending.push(PendingQuery {
            id: message.id,
            name,
            qtype,
            ts: at.ts,
            packet: at.packet,
        });
        return;
    }
    let query = pending
        .iter()
        .position(|q| q.id == message.id && q.name == name && q.qtype == qtype)
        .map(|i| pending.remove(i));
    match query {
        Some(_) => *held -= 1,
        None => counters.dns_unmatched_responses += 1,
    }
    let (ts_query, packet) = query
        .as_ref()
        .map_or((at.ts, at.packet), |q| (q.ts, q.packet));
    cx.records.push(Record::Dns(DnsRecord {
        flow_id: at.flow_id,
        packet,
        ts: ts_query,
        answered: Some(at.ts),
        client: at.client,
        server: at.server,
        transport: at.transport,
        vlan: at.vlan,
        id: message.id,
        query: name,
        qtype,
        rcode: Some(message.rcode),
        answers: message.answers,
        ech_public_names: message.ech_public_names,
    }));
}

/// The lookup of a query that got no response.
fn unanswered(q: PendingQuery, at: &Origin) -> DnsRecord {
    DnsRecord {
        flow_id: at.flow_id,
        packet: q.packet,
        ts: q.ts,
        answered: None,
        client: at.client,
        server: at.server,
        transport: at.transport,
        vlan: at.vlan,
        id: q.id,
        query: q.name,
        qtype: q.qtype,
        rcode: None,
        answers: Vec::new(),
        ech_public_names: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            m.push(label.len() as u8);
            m.extend_from_slice(label.as_bytes());
        }
        m.push(0);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        m
    }

    #[test]
    fn a_query_and_its_answers() {
        assert_eq!(
            parse(&query("ChatGPT.com", 1)).unwrap(),
            DnsMessage {
                id: 0x1234,
                response: false,
                rcode: 0,
                question: Some(("chatgpt.com".into(), 1)),
                answers: vec![],
                truncated: false,
                ech_public_names: vec![],
            }
        );
        let mut resp = query("chatgpt.com", 1);
        resp[2] = 0x81;
        resp[3] = 0x80;
        resp[7] = 2;
        // CNAME chatgpt.com -> cdn.chatgpt.com (compressed), then A for it.
        resp.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6, 3, b'c', b'd', b'n']);
        resp.extend_from_slice(&[0xc0, 12]);
        let cname_at = resp.len() - 8;
        resp.extend_from_slice(&[
            0xc0,
            cname_at as u8,
            0,
            1,
            0,
            1,
            0,
            0,
            1,
            44,
            0,
            4,
            104,
            18,
            32,
            47,
        ]);
        let m = parse(&resp).unwrap();
        assert!(m.response);
        assert_eq!(m.answers.len(), 2);
        assert_eq!(
            m.answers[0].data,
            AnswerData::Name("cdn.chatgpt.com".into())
        );
        assert_eq!(
            m.answers[1].data,
            AnswerData::Addr("104.18.32.47".parse().unwrap())
        );
        assert_eq!(m.answers[1].ttl, 300);
    }

    /// An ECHConfig of version 0xfe0d with `public_name`, as draft-ietf-tls-esni section 4 lays
    /// it out (X25519, HKDF-SHA256, AES-128-GCM).
    fn ech_config(version: u16, public_name: &str) -> Vec<u8> {
        let mut contents = vec![7, 0x00, 0x20, 0, 32];
        contents.extend_from_slice(&[0x42; 32]);
        contents.extend_from_slice(&[0, 4, 0, 1, 0, 1, 0]);
        contents.push(public_name.len() as u8);
        contents.extend_from_slice(public_name.as_bytes());
        contents.extend_from_slice(&[0, 0]);
        let mut config = version.to_be_bytes().to_vec();
        config.extend_from_slice(&(contents.len() as u16).to_be_bytes());
        config.extend_from_slice(&contents);
        config
    }

    fn ech_list(configs: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = configs.concat();
        let mut list = (body.len() as u16).to_be_bytes().to_vec();
        list.extend_from_slice(&body);
        list
    }

    #[test]
    fn ech_public_names_of_a_config_list() {
        let list = ech_list(&[
            ech_config(0xfe0a, "old.example"),
            ech_config(0xfe0d, "Cloudflare-ECH.com"),
            ech_config(0xfe0d, "second.example"),
        ]);
        let names: Vec<String> = ech_public_names(&list).collect();
        assert_eq!(names, ["cloudflare-ech.com", "second.example"]);
        // Cut anywhere, or with lengths that point past the end: only whole configs count.
        for cut in 0..list.len() {
            let names: Vec<String> = ech_public_names(&list[..cut]).collect();
            assert!(names.is_empty(), "cut at {cut}: {names:?}");
        }
        let mut lying = list.clone();
        lying[0] = 0xff;
        assert_eq!(ech_public_names(&lying).count(), 0);
        let mut key_too_long = ech_list(&[ech_config(0xfe0d, "x.example")]);
        key_too_long[2 + 4 + 3] = 0xff;
        assert_eq!(ech_public_names(&key_too_long).count(), 0);
    }

    #[test]
    fn https_answer_with_an_ech_parameter() {
        let mut resp = query("www.perplexity.ai", 65);
        resp[2] = 0x81;
        resp[3] = 0x80;
        resp[7] = 1;
        let ech = ech_list(&[ech_config(0xfe0d, "ech-public.example.net")]);
        let mut rdata = vec![0, 1, 0];
        rdata.extend_from_slice(&[0, 1, 0, 3, 2, b'h', b'2']);
        rdata.extend_from_slice(&[0, 5]);
        rdata.extend_from_slice(&(ech.len() as u16).to_be_bytes());
        rdata.extend_from_slice(&ech);
        resp.extend_from_slice(&[0xc0, 12, 0, 65, 0, 1, 0, 0, 0, 120]);
        resp.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        resp.extend_from_slice(&rdata);
        let m = parse(&resp).unwrap();
        assert_eq!(m.ech_public_names, [("ech-public.example.net".into(), 120)]);
        assert!(!m.truncated);
    }

    /// dnsmasq's real answers to curl from `captures/curl-chatgpt.pcap`.
    #[test]
    fn real_answers_for_a_and_aaaa() {
        let answers = crate::testdata::payloads("curl-chatgpt.pcap", |p| p.src_port == 53);
        let parsed: Vec<DnsMessage> = answers.iter().map(|a| parse(a).unwrap()).collect();
        let a = parsed
            .iter()
            .find(|m| m.question.as_ref().unwrap().1 == 1)
            .unwrap();
        assert!(a.response && a.rcode == 0);
        assert_eq!(a.question.as_ref().unwrap().0, "chatgpt.com");
        assert_eq!(
            a.answers,
            [DnsAnswer {
                rtype: 1,
                ttl: 300,
                data: AnswerData::Addr("10.77.1.1".parse().unwrap())
            }]
        );
        let aaaa = parsed
            .iter()
            .find(|m| m.question.as_ref().unwrap().1 == 28)
            .unwrap();
        assert_eq!(
            aaaa.answers[0].data,
            AnswerData::Addr("fd77::1:1".parse().unwrap())
        );
        // Cut inside the header or question, a real answer is malformed; cut later, the
        // question survives and the answers read before the cut are kept, marked truncated.
        let whole = &answers[0];
        let question_end = 12 + "chatgpt.com".len() + 2 + 4;
        for cut in 0..whole.len() {
            match parse(&whole[..cut]) {
                Err(_) => assert!(cut < question_end, "cut at {cut}"),
                Ok(m) => {
                    assert!(cut >= question_end && m.truncated, "cut at {cut}");
                    assert_eq!(m.question, parse(whole).unwrap().question);
                }
            }
        }
    }

    /// A real answer whose question name is rewritten into a pointer to itself.
    #[test]
    fn a_pointer_loop_in_a_real_answer() {
        let mut answer =
            crate::testdata::payloads("curl-chatgpt.pcap", |p| p.src_port == 53).remove(0);
        answer[12] = 0xc0;
        answer[13] = 12;
        assert!(parse(&answer).is_err());
    }

    #[test]
    fn a_compression_pointer_loop_is_malformed() {
        let mut m = vec![0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(parse(&m), Err("malformed question"));
        let mut forward = vec![0, 1, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        forward.extend_from_slice(&[0xc0, 14, 1, b'a', 0, 0, 1, 0, 1]);
        assert_eq!(parse(&forward), Err("malformed question"));
    }

    #[test]
    fn odd_bytes_are_escaped_and_long_names_refused() {
        let m = parse(&query("www.a\u{4}b.cn", 1)).unwrap();
        assert_eq!(m.question.unwrap().0, "www.a\\004b.cn");
        let long = ["a".repeat(63).as_str(); 5].join(".");
        assert!(parse(&query(&long, 1)).is_err());
        assert_eq!(type_name(65), "HTTPS");
        assert_eq!(rcode_name(3), "NXDOMAIN");
    }
}
