//! The real captures of other projects' test suites (`../shared/captures/`, see its MANIFEST):
//! every TLS SNI and DNS query name that Suricata 8 extracts from a file must be among
//! lantern's events for that file, except where the table below says why not; no file may make
//! lantern fail.

use crate::common::{Replay, one, replay, shared_captures};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// Names Suricata reports that lantern does not, and why. The test also checks that each is
/// still missing, so this table cannot outlive the reason.
const NOT_YET: &[(&str, &str, &str)] = &[];

/// Names Suricata reports that lantern rejects on purpose.
const REJECTED: &[(&str, &str)] = &[(
    "ndpi/malformed_dns.pcap",
    "an answer's owner name longer than 255 octets is malformed (RFC 1035 3.1): lantern keeps the \
     lookup of www.xt.com with the answers before it; Suricata logs the bytes it read as a name",
)];

struct Row {
    file: String,
}

fn manifest() -> Vec<Row> {
    let text = std::fs::read_to_string(shared_captures().join("MANIFEST.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = header.iter().position(|h| *h == "local_file").unwrap();
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| Row {
            file: l.split('\t').nth(col).unwrap().to_string(),
        })
        .collect()
}

/// Suricata writes control bytes raw; lantern writes names in presentation format (`\DDD`),
/// lower-cased.
fn presentation(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        match b {
            0x21..=0x7e => out.push(b.to_ascii_lowercase() as char),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out.trim_end_matches('.').to_string()
}

/// The TLS SNIs, QUIC SNIs and DNS query names among the events.
fn names(events: &[Value]) -> [BTreeSet<String>; 3] {
    let mut found: [BTreeSet<String>; 3] = Default::default();
    for e in events {
        if let Some(name) = e["tls"]["sni"].as_str() {
            let quic = e["protocol"] == "quic";
            found[usize::from(quic)].insert(name.to_string());
        }
        if let Some(query) = e["query"].as_str() {
            found[2].insert(query.to_string());
        }
    }
    found
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_name_suricata_finds_is_found() {
    let dir = shared_captures();
    let rows = manifest();
    assert!(rows.len() >= 80, "{} captures in the manifest", rows.len());
    let mut checked = 0;
    let mut quic = 0;
    let mut problems = Vec::new();
    let mut still_missing = BTreeSet::new();
    for row in &rows {
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("expected").join(format!("{}.json", row.file)))
                .unwrap(),
        )
        .unwrap();
        let run = replay(&[&dir.join(&row.file)], &[]);
        let [sni, quic_sni, queries] = names(&run.events());
        if REJECTED.iter().any(|(f, _)| *f == row.file) {
            continue;
        }
        quic += expected["quic_sni"].as_array().unwrap().len();
        for (kind, want, found) in [
            ("TLS SNI", &expected["tls_sni"], &sni),
            ("QUIC SNI", &expected["quic_sni"], &quic_sni),
            ("DNS query", &expected["dns_query"], &queries),
        ] {
            for name in strings(want) {
                checked += 1;
                let name = presentation(&name);
                let excused = NOT_YET.iter().any(|(f, n, _)| *f == row.file && *n == name);
                match (found.contains(&name), excused) {
                    (true, false) => {}
                    (false, true) => {
                        still_missing.insert((row.file.clone(), name));
                    }
                    (false, false) => {
                        problems.push(format!("{}: {kind} {name} not found", row.file))
                    }
                    (true, true) => problems.push(format!(
                        "{}: {name} is found now: remove it from NOT_YET",
                        row.file
                    )),
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(
        still_missing.len(),
        NOT_YET.len(),
        "every NOT_YET entry names a real miss"
    );
    assert!(checked > 200, "only {checked} names checked");
    assert!(quic > 60, "only {quic} QUIC names checked");
}

#[test]
fn one_run_over_every_capture_is_the_same_with_two_threads() {
    let dir = shared_captures();
    let files: Vec<PathBuf> = manifest().iter().map(|r| dir.join(&r.file)).collect();
    let paths: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
    let one = replay(&paths, &["--threads", "1"]);
    let two = replay(&paths, &["--threads", "2"]);
    assert!(one.events().len() > 400, "{} events", one.events().len());
    assert!(
        one.stdout == two.stdout,
        "events differ between --threads 1 and --threads 2"
    );
}

#[test]
fn ja4_matches_suricata() {
    // suricata-verify's ja4-tls-quic test expects these fingerprints for its TLS and QUIC
    // ClientHellos.
    let run = replay(
        &[&shared_captures().join("suricata/ja4-tls-quic__input.pcap")],
        &[],
    );
    let ja4: Vec<String> = run
        .flows()
        .iter()
        .filter_map(|f| f["tls"]["ja4"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        ja4,
        [
            "t13d1516h2_8daaf6152771_e5627efa2ab1",
            "q13d0310h3_55b375c5d22e_cd85d2d88918"
        ]
    );
}

#[test]
fn deep_compression_is_read_and_over_long_names_cut_the_answers_not_the_lookup() {
    let dir = shared_captures();
    let run = Replay::of(&[
        dir.join("zeek/dns__max-compression-depth.pcap"),
        dir.join("ndpi/malformed_dns.pcap"),
    ])
    .loud()
    .ok();
    // Only nDPI's four responses are cut; Zeek's chain of compression pointers is legal.
    assert!(run.stderr.contains("dns_truncated 4"), "{}", run.stderr);
    let lookups = run.lookups();
    let deep = one(&lookups, "lookup of a", |e| e["query"] == "a");
    assert_eq!(deep["answers"].as_array().unwrap().len(), 7);
    assert_eq!(
        lookups
            .iter()
            .filter(|e| e["query"] == "www.xt.com")
            .count(),
        4
    );
}

#[test]
fn the_543_ndpi_captures_in_one_run_are_the_same_with_any_number_of_threads() {
    // ../shared/bench/ndpi-pcaps: thousands of flows, idle timeouts, every protocol nDPI tests.
    let dir = shared_captures().join("../bench/ndpi-pcaps");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() > 500,
        "{} files in {}",
        files.len(),
        dir.display()
    );
    // Not --quiet: the summary on stderr (packets, bytes, every counter) must match too.
    let run = |threads: &str| {
        // A few of these files are fuzzed on purpose (link types lantern does not decode): the
        // run reports them and exits 1; the events of the rest must still be the same. (`run`
        // fails on a panic.)
        let run = Replay::of(&files)
            .loud()
            .args(&["--threads", threads])
            .run();
        assert!(run.status == 0 || run.status == 1, "{}", run.stderr);
        run
    };
    let one = run("1");
    assert!(one.events().len() > 5_000, "{} events", one.events().len());
    assert!(one.stderr.contains("counters:"), "{}", one.stderr);
    for threads in ["2", "4"] {
        let other = run(threads);
        assert!(
            other.stdout == one.stdout,
            "--threads {threads} differs from --threads 1"
        );
        assert_eq!(other.stderr, one.stderr, "--threads {threads}");
    }
}

/// The QUIC SNIs and JA4 of one capture.
fn quic_hellos(file: &str) -> Vec<(String, String)> {
    let run = replay(&[&shared_captures().join(file)], &[]);
    run.flows()
        .iter()
        .filter(|f| f["protocol"] == "quic" && f["name_source"] == "quic_sni")
        .map(|f| {
            let tls = &f["tls"];
            (
                tls["sni"].as_str().unwrap_or_default().to_string(),
                tls["ja4"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn quic_v2_draft_29_google_quic_and_reserved_versions() {
    // QUIC v2 (0x6b3343cf) over Linux SLL, from nDPI's suite.
    assert_eq!(quic_hellos("ndpi/quic-v2.pcapng")[0].0, "test");
    // Draft-29 from nDPI, once over Ethernet and once over a PPP link.
    assert_eq!(quic_hellos("ndpi/quic-29.pcap")[0].0, "localhost");
    assert_eq!(quic_hellos("ndpi/dlt_ppp.pcap")[0].0, "server4");
    // Google QUIC Q046 sends its CHLO in the clear: its SNI tag, and no JA4.
    assert_eq!(
        quic_hellos("ndpi/quic_q46.pcap"),
        [("play.google.com".into(), String::new())]
    );
    // Facebook's mvfst (0xfaceb001).
    assert_eq!(
        quic_hellos("ndpi/quic-mvfst-22.pcap")[0].0,
        "graph.facebook.com"
    );
    // quic-interop-runner's version-negotiation test: reserved versions, draft-29 keys.
    assert_eq!(quic_hellos("ndpi/quic_interop_V.pcapng").len(), 63);
    // suricata-verify's JA4 test expects this fingerprint for the QUIC ClientHello.
    assert_eq!(
        quic_hellos("suricata/ja4-tls-quic__input.pcap"),
        [(
            "cloudflare-quic.com".into(),
            "q13d0310h3_55b375c5d22e_cd85d2d88918".into()
        )]
    );
}

#[test]
fn ech_keeps_the_outer_sni_and_https_records_feed_the_cache() {
    let run = replay(&[&shared_captures().join("zeek/tls__tls13-ech.pcap")], &[]);
    let flows = run.flows();
    let ech: Vec<&Value> = flows.iter().filter(|f| f["tls"]["ech"] == true).collect();
    assert!(!ech.is_empty());
    for flow in ech {
        // No DNS answer for the address in this trace: the outer name is all there is.
        assert_eq!(flow["tls"]["outer_sni"], "cloudflare-ech.com");
        assert_eq!(flow["server_name"], "cloudflare-ech.com");
    }
    // Zeek's trace of HTTPS (type 65) lookups: the address hints are answers, as A records are.
    let run = replay(&[&shared_captures().join("zeek/dns__ech.pcap")], &[]);
    let lookups = run.lookups();
    let cf = one(&lookups, "HTTPS lookup", |e| {
        e["query"] == "cloudflare-ech.com"
    });
    assert_eq!(cf["qtype"], "HTTPS");
    let answers: Vec<&str> = cf["answers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        answers.contains(&"104.18.10.118") && answers.contains(&"2606:4700::6812:a76"),
        "{answers:?}"
    );
}

#[test]
fn fragmented_dns_answers_from_real_traces() {
    let events = |file: &str| {
        let run = Replay::of(&[shared_captures().join(file)]).loud().ok();
        assert!(
            run.stderr.contains("ip_reassembled"),
            "{file}: {}",
            run.stderr
        );
        run.lookups()
    };
    // nDPI's trace of IP-fragmented DNS responses: after reassembly they carry their answers.
    let ndpi = events("ndpi/dns_fragmented.pcap");
    let answered = ndpi
        .iter()
        .filter(|l| !l["answers"].as_array().unwrap().is_empty())
        .count();
    assert!(answered >= 10, "{answered} lookups with answers");
    // Zeek's IPv6 trace: the second response came only in three fragments (a TXT answer).
    let zeek = events("zeek/ipv6-fragmented-dns.pcap");
    let answered = zeek
        .iter()
        .filter(|l| {
            l["query"] == "txtpadding_3230.n1.netalyzr.icsi.berkeley.edu" && l["rcode"] == "NOERROR"
        })
        .count();
    assert_eq!(answered, 1);
}
