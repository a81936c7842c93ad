//! The Zeek reader on real logs, `../shared/nsm-logs`: Zeek's own test baselines, and one
//! capture's logs in both formats ([`damaged`](super::damaged) has the lines made up by hand).

use super::ZeekReader;
use crate::capture::Timestamp;
use crate::decode::{Addr, Transport};
use crate::flow::Endpoint;
use crate::logs::lines::{Lines, Next};
use crate::logs::{LineProblem, LogReader, Piece, Said, key_of_uid};
use crate::proto::dhcp::DhcpKind;
use crate::proto::dns::AnswerData;
use crate::proto::{KrbOutcome, Record};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A file of `../shared/nsm-logs` (always beside the repository, in CI too).
fn shared(rel: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/nsm-logs")
        .join(rel);
    assert!(path.exists(), "{} is missing", path.display());
    path
}

/// Zeek's btest masks most times as this; the tests put a real time in its place.
const MASK: &[u8] = b"XXXXXXXXXX.XXXXXX";
const UNMASKED: &[u8] = b"1700000000.000000";

/// What reading one file gave.
#[derive(Default)]
struct Read {
    lines: u64,
    pieces: Vec<Piece>,
    skipped: u64,
    /// Line number and reason of each malformed line.
    malformed: Vec<(u64, &'static str)>,
}

/// Reads a file as `lantern` would: through [`Lines`] and a reader for its name.
fn read(path: &Path) -> Read {
    let mut lines = Lines::open(path).unwrap_or_else(|e| panic!("{e}"));
    let name = path.file_name().unwrap().to_string_lossy();
    let mut reader = ZeekReader::new(&name);
    let mut read = Read::default();
    let mut line = Vec::new();
    loop {
        match lines.next_line().unwrap_or_else(|e| panic!("{e}")) {
            Next::End => return read,
            Next::TooLong => panic!("{}: line {} too long", path.display(), lines.number()),
            Next::Line => {}
        }
        read.lines += 1;
        line.clear();
        line.extend_from_slice(lines.line());
        for at in 0..line.len().saturating_sub(MASK.len() - 1) {
            if line[at..].starts_with(MASK) {
                line[at..at + MASK.len()].copy_from_slice(UNMASKED);
            }
        }
        match reader.line(&line, &mut read.pieces) {
            Ok(()) => {}
            Err(LineProblem::Skipped) => read.skipped += 1,
            Err(LineProblem::Malformed(why)) => read.malformed.push((lines.number(), why)),
        }
    }
}

/// The column names a file's header gives: its `#fields` line, or the first line of names
/// `zeek-cut -m` leaves (after btest's comment).
fn header_names(path: &Path) -> Vec<String> {
    let text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
    let names = text
        .lines()
        .find_map(|l| l.strip_prefix("#fields\t"))
        .or_else(|| text.lines().find(|l| !l.starts_with('#')))
        .unwrap_or_default();
    names.split('\t').map(str::to_string).collect()
}

/// Every log of Zeek's own test baselines (434 files: all of the seven logs lantern reads, as
/// Zeek wrote them, some cut to a few columns by `zeek-cut`) is read without a panic, and
/// every line Zeek wrote whole is read: a line is malformed only when its file lacks a field
/// lantern needs. That is so of files cut to a few columns (`uid service history`), files whose
/// test renames the fields (`src`, `dst_port`), a file cut with its header left out, and cut
/// files that name a column twice. The files' lines, and what each log gives, are counted
/// so that a change in what is read shows.
#[test]
fn every_log_of_zeeks_own_tests_reads() {
    let root = shared("zeek-btest");
    let mut files = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        for file in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            files.push(file.unwrap().path());
        }
    }
    files.sort();
    assert_eq!(files.len(), 434);
    let mut unexplained = Vec::new();
    let mut kinds = BTreeMap::<&str, usize>::new();
    let mut cut = 0;
    let mut whole = Vec::new();
    for path in &files {
        let read = read(path);
        for piece in &read.pieces {
            *kinds.entry(kind(piece)).or_default() += 1;
        }
        if read.malformed.is_empty() {
            continue;
        }
        let text = std::fs::read(path).unwrap();
        match text.windows(8).any(|w| w == b"#fields\t") {
            true => whole.push(
                path.strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            ),
            false => cut += 1,
        }
        let names = header_names(path);
        let twice = (1..names.len()).any(|i| names[..i].contains(&names[i]));
        for (number, why) in &read.malformed {
            let explained = match why.strip_prefix("no ") {
                Some(field) => !names.iter().any(|n| n == field),
                None if *why == "a data line before the #fields header" => !names
                    .iter()
                    .any(|n| n == "ts" || n == "uid" || n.starts_with("id.")),
                None => *why == "a field named twice in the header" && twice,
            };
            if !explained {
                unexplained.push(format!("{}:{number}: {why}", path.display()));
            }
        }
    }
    assert!(unexplained.is_empty(), "{}", unexplained.join("\n"));
    let expected = [
        ("conn", 549),
        ("dhcp", 183),
        ("dns", 77),
        ("http", 185),
        ("kerberos", 96),
        ("quic", 17),
        ("ssl", 77),
    ];
    assert_eq!(kinds, BTreeMap::from(expected));
    // Of the 155 files cut by zeek-cut, 138 lack a field lantern needs.
    assert_eq!(cut, 138);
    // Of the 279 files with Zeek's whole header, those whose test renamed `id.*` or logged
    // one column.
    assert_eq!(
        whole,
        [
            "scripts.base.frameworks.logging.field-name-map/conn.log",
            "scripts.base.frameworks.logging.field-name-map2/conn.log",
            "scripts.base.frameworks.logging.scope_sep_and_field_name_map/conn.log",
            "spicy.terminate-session/conn.log",
        ]
    );
}

/// The name of what a piece is, for counting.
fn kind(piece: &Piece) -> &'static str {
    match piece {
        Piece::Totals(_) => "conn",
        Piece::Message(m) => match m.said {
            Said::Tls(_) => "ssl",
            Said::Quic(_) => "quic",
            Said::Http(_) => "http",
        },
        Piece::Record(Record::Dns(_)) => "dns",
        Piece::Record(Record::Kerberos(_)) => "kerberos",
        Piece::Record(Record::Dhcp(_)) => "dhcp",
        Piece::Record(Record::Flow(_)) => "flow",
    }
}

/// One capture's `ssl`, `dns` and `kerberos` logs, as Zeek 6.2 wrote them in both formats (TSV
/// with ISO times in JSON): the pieces of the TSV file are those of the JSON file, line for
/// line, times to the nanosecond (`rtt`, which JSON writes with every digit of the double,
/// included). Every line is read; the two `dns` lines without a question are skipped.
#[test]
fn tsv_and_json_of_the_same_traffic_give_the_same_pieces() {
    for (log, lines, pieces) in [
        ("ssl", 49_474, 49_474),
        ("dns", 53_615, 53_613),
        ("kerberos", 11, 11),
    ] {
        let tsv = read(&shared(&format!("zeek-wrccdc/tsv/{log}.log.gz")));
        let json = read(&shared(&format!("zeek-wrccdc/json/{log}.json.gz")));
        assert_eq!((tsv.malformed, json.malformed), (vec![], vec![]), "{log}");
        assert_eq!(json.lines, lines, "{log}");
        assert_eq!(tsv.lines - tsv.skipped + (lines - pieces), lines, "{log}");
        assert_eq!(tsv.pieces.len() as u64, pieces, "{log}");
        assert_eq!(json.skipped, lines - pieces, "{log}");
        for (i, (t, j)) in tsv.pieces.iter().zip(&json.pieces).enumerate() {
            assert_eq!(t, j, "{log}, piece {i}");
        }
        assert_eq!(tsv.pieces.len(), json.pieces.len());
    }
    // The logs lantern does not read are skipped whole, in either format.
    for file in [
        "tsv/ntlm.log.gz",
        "json/ntlm.json.gz",
        "json/software.json.gz",
    ] {
        let read = read(&shared(&format!("zeek-wrccdc/{file}")));
        assert!(
            read.pieces.is_empty() && read.malformed.is_empty(),
            "{file}"
        );
        assert_eq!(read.skipped, read.lines, "{file}");
    }
}

/// What the first lines of those logs give, field by field.
#[test]
fn what_a_dns_ssl_and_kerberos_line_give() {
    let dns = read(&shared("zeek-wrccdc/json/dns.json.gz"));
    let Piece::Record(Record::Dns(first)) = &dns.pieces[0] else {
        panic!("{:?}", dns.pieces[0])
    };
    let ts = Timestamp::from_parts(1_521_911_720, 865_716_000);
    assert_eq!(first.flow_id, key_of_uid("CqKst53mF3det3eDV9"));
    assert_eq!(
        (first.ts, first.answered),
        (ts, Some(Timestamp(ts.0 + 870_000)))
    );
    assert_eq!(
        (first.id, first.query.as_str(), first.qtype, first.rcode),
        (36329, "ise.wrccdc.org", 1, Some(0))
    );
    assert_eq!(first.transport, Transport::Udp);
    assert_eq!(first.client, endpoint([10, 47, 1, 100], 41772));
    let answers: Vec<_> = (first.answers.iter())
        .map(|a| (a.rtype, a.ttl, a.data.to_string()))
        .collect();
    assert_eq!(
        answers,
        [
            (5, 2230, "ise.wrccdc.cpp.edu".into()),
            (1, 41830, "134.71.3.16".to_string())
        ]
    );
    let root = dns.pieces.iter().find_map(|p| match p {
        Piece::Record(Record::Dns(d)) if d.qtype == 2 && d.query == "." => Some(d),
        _ => None,
    });
    assert!(
        root.is_some(),
        "the root's NS lookups, an empty query in Zeek's log"
    );

    let ssl = read(&shared("zeek-wrccdc/tsv/ssl.log.gz"));
    let Piece::Message(hello) = &ssl.pieces[0] else {
        panic!()
    };
    assert_eq!(hello.ts, Timestamp::from_parts(1_521_911_720, 615_923_000));
    assert_eq!(hello.tuple.transport, Transport::Tcp);
    let Said::Tls(hello) = &hello.said else {
        panic!()
    };
    assert_eq!(
        (hello.sni.as_deref(), hello.version.as_str()),
        (None, "1.0")
    );
    let named = ssl.pieces.iter().find_map(|p| match p {
        Piece::Message(m) => match &m.said {
            Said::Tls(h) if h.sni.is_some() => Some(h),
            _ => None,
        },
        _ => None,
    });
    assert_eq!(named.unwrap().sni.as_deref(), Some("ise.wrccdc.org"));

    let krb = read(&shared("zeek-wrccdc/tsv/kerberos.log.gz"));
    let Some(Piece::Record(Record::Kerberos(refused))) = krb.pieces.last() else {
        panic!()
    };
    // `/NM`: a request without a client name.
    assert_eq!(refused.principal, None);
    assert_eq!(refused.outcome, KrbOutcome::Refused(68));
    assert_eq!(refused.till, Some(Timestamp(0)));
}

fn endpoint(v4: [u8; 4], port: u16) -> Endpoint {
    Endpoint {
        addr: Addr::v4(v4),
        port,
    }
}

/// A few of Zeek's own test logs, field by field: a Kerberos login refused then granted, a DHCP
/// exchange, DNS over QUIC.
#[test]
fn what_zeeks_test_logs_give() {
    let krb = read(&shared(
        "zeek-btest/scripts.base.protocols.tcp.krb-tcp-tso/kerberos.log",
    ));
    let records: Vec<_> = (krb.pieces.iter())
        .map(|p| match p {
            Piece::Record(Record::Kerberos(k)) => {
                (k.principal.clone().unwrap_or_default(), k.outcome)
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        records[..3],
        [
            (
                "administrator@TEST.LOCAL".to_string(),
                KrbOutcome::Refused(25)
            ),
            ("administrator@TEST.LOCAL".to_string(), KrbOutcome::Granted),
            ("Administrator@TEST.LOCAL".to_string(), KrbOutcome::Granted),
        ]
    );
    // Its four AP lines (authentication to a file server) are not KDC exchanges.
    assert_eq!((krb.pieces.len(), krb.skipped), (7, 4 + 10));

    let dhcp = read(&shared(
        "zeek-btest/scripts.base.protocols.dhcp.dhcp-all-msg-types/dhcp.log",
    ));
    let Piece::Record(Record::Dhcp(first)) = &dhcp.pieces[0] else {
        panic!()
    };
    let m = &first.message;
    // DISCOVER,OFFER,REQUEST,NAK,REQUEST,ACK,DECLINE: the client declined what it was given.
    assert_eq!(m.kind, Some(DhcpKind::Decline));
    assert_eq!(m.address, Some(Addr::v4([128, 2, 6, 189])));
    assert_eq!(m.mac, Some([0x90, 0xb1, 0x1c, 0x99, 0x49, 0x29]));
    assert_eq!(
        (m.hostname.as_deref(), m.lease_secs),
        (Some("btest.is.cool"), Some(900))
    );
    assert_eq!(first.origin.client, endpoint([128, 2, 6, 97], 68));
    assert_eq!(first.origin.server, endpoint([128, 2, 6, 152], 67));
    assert_eq!(first.origin.flow_id, key_of_uid("ClEkJM2Vm5giqnMf4h"));

    let quic = read(&shared(
        "zeek-btest/scripts.base.protocols.quic.quicdoq/quic.log",
    ));
    let Piece::Message(m) = &quic.pieces[0] else {
        panic!()
    };
    let Said::Quic(hello) = &m.said else { panic!() };
    assert_eq!(
        (hello.alpn.as_slice(), hello.version.as_str()),
        (&["doq".to_string()][..], "1.3")
    );
    assert_eq!(m.tuple.transport, Transport::Udp);

    let dns = read(&shared("zeek-btest/opt.basic/dns.log"));
    let answers = dns.pieces.iter().find_map(|p| match p {
        Piece::Record(Record::Dns(d)) if d.answers.len() == 3 => Some(&d.answers),
        _ => None,
    });
    let data: Vec<_> = answers
        .unwrap()
        .iter()
        .map(|a| (a.rtype, a.ttl, &a.data))
        .collect();
    assert_eq!(
        data,
        [
            (5, 723, &AnswerData::Name("text.wikimedia.org".into())),
            (5, 593, &AnswerData::Name("text.pmtpa.wikimedia.org".into())),
            (1, 2141, &AnswerData::Addr([208, 80, 152, 2].into())),
        ]
    );
}
