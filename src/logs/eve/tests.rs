//! Tests of the EVE reader on real Suricata 8.0.6 events, and on damaged ones.

use super::*;
use crate::proto::Record;

/// `../shared/nsm-logs/eve/captures/NAME.eve.json`, line by line.
fn real(name: &str) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/nsm-logs/eve/captures")
        .join(format!("{name}.eve.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (../shared must sit beside the repository)",
            path.display()
        )
    });
    text.lines().map(str::to_string).collect()
}

fn read(lines: &[String]) -> (Vec<Piece>, Vec<Result<(), LineProblem>>) {
    let mut reader = EveReader::new(0);
    let mut pieces = Vec::new();
    let results = lines
        .iter()
        .map(|l| reader.line(l.as_bytes(), &mut pieces))
        .collect();
    reader.finish(&mut pieces);
    (pieces, results)
}

#[test]
fn a_real_tls_flow_gives_its_totals_and_its_client_hello() {
    let (pieces, results) = read(&real("curl-chatgpt.pcap"));
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(()) | Err(LineProblem::Skipped)))
    );
    let hello = pieces.iter().find_map(|p| match p {
        Piece::Message(Message {
            said: Said::Tls(h),
            key,
            ..
        }) => Some((h, *key)),
        _ => None,
    });
    let (hello, key) = hello.expect("a tls event");
    assert_eq!(hello.sni.as_deref(), Some("chatgpt.com"));
    assert_eq!(hello.version, "1.3");
    assert_eq!(
        hello.ja4.as_deref(),
        Some("t13d3112h2_e8f1e7e78f70_b26ce05bbdd6")
    );
    let totals = pieces.iter().find_map(|p| match p {
        Piece::Totals(t) if t.key == key => Some(t),
        _ => None,
    });
    let totals = totals.expect("its flow event");
    assert_eq!(totals.packets, [11, 7]);
    // 1452 frame bytes up over 11 packets of at least 54 bytes of headers.
    assert_eq!(totals.bytes, [1452 - 11 * 54, 2554 - 7 * 54]);
    assert_eq!(totals.protocol, Protocol::Tls);
    assert_eq!(totals.end, EndReason::Closed);
}

#[test]
fn a_dns_request_and_its_response_are_one_lookup() {
    let (pieces, _) = read(&real("curl-chatgpt.pcap"));
    let lookups: Vec<&DnsRecord> = pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Record(Record::Dns(d)) => Some(d),
            _ => None,
        })
        .collect();
    let a = lookups
        .iter()
        .find(|d| d.query == "chatgpt.com" && d.qtype == 1)
        .unwrap();
    assert!(a.answered.unwrap() >= a.ts);
    assert_eq!(a.rcode, Some(0));
    assert!(
        a.answers
            .iter()
            .any(|x| x.data == AnswerData::Addr("10.77.1.1".parse().unwrap()))
    );
    assert_eq!(a.client.port, a.client.port);
    assert_eq!(a.server.port, 53);
}

#[test]
fn kerberos_and_dhcp_events_give_the_packet_paths_records() {
    let (pieces, results) = read(&real("identity.pcap"));
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(()) | Err(LineProblem::Skipped)))
    );
    let krb: Vec<&KerberosRecord> = pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Record(Record::Kerberos(k)) => Some(&**k),
            _ => None,
        })
        .collect();
    let outcomes: Vec<_> = krb
        .iter()
        .map(|k| (k.principal.as_deref(), k.outcome))
        .collect();
    assert!(outcomes.contains(&(Some("alice@CORP.EXAMPLE"), KrbOutcome::Refused(25))));
    assert!(outcomes.contains(&(Some("alice@CORP.EXAMPLE"), KrbOutcome::Granted)));
    assert!(outcomes.contains(&(Some("BUILD01$@CORP.EXAMPLE"), KrbOutcome::Granted)));
    let ack = pieces.iter().find_map(|p| match p {
        Piece::Record(Record::Dhcp(d)) if d.message.kind == Some(DhcpKind::Ack) => Some(d),
        _ => None,
    });
    let ack = ack.expect("a DHCP ACK");
    assert_eq!(ack.message.mac, Some([2, 0x88, 0, 0, 0, 1]));
    assert_eq!(ack.message.hostname.as_deref(), Some("alice-laptop"));
    assert_eq!(ack.message.lease_secs, Some(3600));
    assert_eq!(ack.origin.client.port, 68);
}

#[test]
fn every_kind_of_damaged_line_is_one_problem_and_never_a_panic() {
    let flow = real("curl-chatgpt.pcap")
        .into_iter()
        .find(|l| l.contains("\"event_type\":\"flow\"") && l.contains("\"TCP\""))
        .unwrap();
    let cases: Vec<(String, &str)> = vec![
        (flow[..flow.len() / 2].to_string(), "cut short"),
        ("not json at all".into(), "not valid JSON"),
        (
            flow.replace("\"pkts_toserver\":11", "\"pkts_toserver\":\"11\""),
            "wrong type",
        ),
        (
            flow.replace("\"pkts_toserver\":11", "\"pkts_toserver\":-11"),
            "wrong type",
        ),
        (flow.replace("\"flow_id\":", "\"flow_idx\":"), "no flow_id"),
        (
            flow.replace("10.77.0.10", "10.77.0.999"),
            "an address that is not one",
        ),
        (
            flow.replace("\"start\":\"2026", "\"start\":\"9999x"),
            "no valid flow.start",
        ),
        (
            String::from_utf8_lossy(&[b'{', 0xff, 0xfe, b'}']).into_owned(),
            "not valid JSON",
        ),
        (
            "{\"event_type\":\"tls\",\"flow_id\":1}".into(),
            "without its object",
        ),
    ];
    for (line, what) in cases {
        let mut reader = EveReader::new(0);
        let mut out = Vec::new();
        assert!(
            matches!(
                reader.line(line.as_bytes(), &mut out),
                Err(LineProblem::Malformed(_))
            ),
            "{what}: {line}"
        );
        assert!(out.is_empty(), "{what}");
    }
    // Invalid UTF-8 inside a string is refused by JSON; unknown fields are ignored.
    let mut bytes = flow.clone().into_bytes();
    let at = flow.find("shutdown").unwrap();
    bytes[at] = 0xff;
    assert!(EveReader::new(0).line(&bytes, &mut Vec::new()).is_err());
    let extra = flow.replacen('{', "{\"surprise\":[1,{\"x\":null}],", 1);
    assert_eq!(
        EveReader::new(0).line(extra.as_bytes(), &mut Vec::new()),
        Ok(())
    );
    // Other event types are skipped, not refused.
    let alert = "{\"event_type\":\"alert\",\"timestamp\":\"2026-11-23T04:54:47.950085+0000\"}";
    assert_eq!(
        EveReader::new(0).line(alert.as_bytes(), &mut Vec::new()),
        Err(LineProblem::Skipped)
    );
}

#[test]
fn requests_waiting_for_responses_are_bounded() {
    let mut reader = EveReader::new(0);
    let mut out = Vec::new();
    for id in 0..(MAX_PENDING as u64 + 10) {
        let line = format!(
            "{{\"timestamp\":\"2026-11-23T04:54:47.603265+0000\",\"flow_id\":{id},\"event_type\":\"dns\",\
             \"src_ip\":\"10.0.0.1\",\"src_port\":5000,\"dest_ip\":\"10.0.0.53\",\"dest_port\":53,\
             \"proto\":\"UDP\",\"dns\":{{\"version\":3,\"type\":\"request\",\"id\":7,\
             \"queries\":[{{\"rrname\":\"a.example\",\"rrtype\":\"A\"}}]}}}}"
        );
        reader.line(line.as_bytes(), &mut out).unwrap();
    }
    assert_eq!(reader.dns.len(), MAX_PENDING);
    assert_eq!(out.len(), 10);
    reader.finish(&mut out);
    assert_eq!(out.len(), MAX_PENDING + 10);
}
