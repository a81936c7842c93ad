//! How flows are named on traffic as real networks carry it (`captures/`, made by `make.sh`):
//! several AI names and other names on one CDN address, lookups before and during each
//! connection, Chromium's GREASE ECH on every connection, a client without SNI whose name is
//! resolved again while its flow is open, and a real ECH ClientHello from Chromium given an
//! ECHConfig in a DNS HTTPS record. The rules are in `docs/naming.md`.

use crate::common::{self, Replay, own, replay};
use serde_json::{Value, json};

/// The flows to port 443 of one capture, in event order: (server, name, source, app,
/// alternatives, ech kind, outer SNI).
fn named(file: &str) -> Vec<Value> {
    replay(&[&own(file)], &[])
        .flows()
        .into_iter()
        .filter(|f| f["server"]["port"] == 443)
        .map(|f| {
            json!([
                f["server"]["ip"],
                f["server_name"],
                f["name_source"],
                f["app"]["id"],
                f.get("name_alternatives").cloned().unwrap_or(Value::Null),
                f["tls"]["ech_kind"],
                f["tls"].get("outer_sni").cloned().unwrap_or(Value::Null),
            ])
        })
        .collect()
}

#[test]
fn chromium_on_a_shared_cdn_address_is_named_by_its_sni() {
    // dig resolves perplexity.ai, character.ai, chat.deepseek.com, cdn.example.net and
    // static.example.net to 10.77.2.1, then before and during each page load cdn.example.net or
    // static.example.net again; Chromium connects from its own resolver rules (no lookup of its
    // own), two connections per page, each with GREASE ECH and the page's SNI.
    let cdn = "10.77.2.1";
    let flow = |name: &str, app: &str| json!([cdn, name, "tls_sni", app, null, "grease", null]);
    assert_eq!(
        named("chromium-shared-cdn.pcap"),
        [
            flow("perplexity.ai", "perplexity"),
            flow("perplexity.ai", "perplexity"),
            flow("character.ai", "character-ai"),
            flow("character.ai", "character-ai"),
            flow("chat.deepseek.com", "deepseek-chat"),
            flow("chat.deepseek.com", "deepseek-chat"),
        ]
    );
    // The same over QUIC: the ClientHello scattered over Initial packets, the SNI kept.
    let flow = |name: &str, app: &str| json!([cdn, name, "quic_sni", app, null, "grease", null]);
    assert_eq!(
        named("chromium-quic-shared-cdn.pcap"),
        [
            flow("perplexity.ai", "perplexity"),
            flow("character.ai", "character-ai")
        ]
    );
}

#[test]
fn a_flow_without_sni_keeps_the_name_in_force_at_its_start() {
    // Python resolves cdn.example.net, then perplexity.ai (both 10.77.2.1), opens TLS without
    // SNI, and while the flow is open resolves perplexity.ai again and then static.example.net.
    assert_eq!(
        named("nosni-relookup.pcap"),
        [json!([
            "10.77.2.1",
            "perplexity.ai",
            "dns_answer",
            "perplexity",
            ["cdn.example.net"],
            "none",
            null
        ])]
    );
    let events = replay(&[&own("nosni-relookup.pcap")], &[]).events();
    let lookups: Vec<(&str, i64)> = events
        .iter()
        .filter(|e| e["event_type"] == "dns" && e["qtype"] == "A")
        .map(|e| (e["query"].as_str().unwrap(), e["flow_id"].as_i64().unwrap()))
        .collect();
    let order: Vec<&str> = lookups.iter().map(|l| l.0).collect();
    assert_eq!(
        order,
        [
            "cdn.example.net",
            "perplexity.ai",
            "perplexity.ai",
            "static.example.net"
        ],
        "the capture has the lookups the test is about"
    );
    // Both later lookups fall inside the flow.
    let flow = events
        .iter()
        .find(|e| e["event_type"] == "flow" && e["server"]["port"] == 443)
        .unwrap();
    let (start, end) = (
        flow["ts"].as_str().unwrap(),
        flow["end_ts"].as_str().unwrap(),
    );
    let during = events
        .iter()
        .filter(|e| e["event_type"] == "dns" && e["qtype"] == "A")
        .filter(|e| {
            let ts = e["ts"].as_str().unwrap();
            start < ts && ts < end
        })
        .count();
    assert_eq!(during, 2);
}

#[test]
fn real_ech_from_chromium_is_named_by_dns() {
    // dnsmasq serves an HTTPS record for www.perplexity.ai with an ECHConfig whose public name
    // is ech-public.example.net; Chromium's own resolver reads it and sends real ECH with that
    // outer SNI (twice: main and preconnect socket), the server cannot decrypt, and Chromium
    // retries without the config (GREASE ECH, the real SNI).
    let addr = "10.77.2.2";
    let real = json!([
        addr,
        "www.perplexity.ai",
        "dns_answer",
        "perplexity",
        null,
        "real",
        "ech-public.example.net"
    ]);
    let retry = json!([
        addr,
        "www.perplexity.ai",
        "tls_sni",
        "perplexity",
        null,
        "grease",
        null
    ]);
    assert_eq!(
        named("chromium-real-ech.pcap"),
        [real.clone(), real, retry.clone(), retry]
    );
    let events = replay(&[&own("chromium-real-ech.pcap")], &[]).lookups();
    let https = common::one(&events, "the HTTPS lookup", |e| {
        e["query"] == "www.perplexity.ai" && e["qtype"] == "HTTPS"
    });
    assert_eq!(https["ech_public_names"], json!(["ech-public.example.net"]));
    // The SNI on the wire is the outer name.
    let flows = replay(&[&own("chromium-real-ech.pcap")], &[]).flows();
    assert!(
        flows
            .iter()
            .any(|f| f["tls"]["sni"] == "ech-public.example.net" && f["tls"]["ech"] == true)
    );
}

#[test]
fn one_replay_of_all_of_them_names_each_flow_as_alone() {
    // Replayed together the captures share one DNS history (the same client, the same CDN
    // address, names resolved minutes apart): the answers of earlier captures are still in
    // force, yet each flow gets the same name, and events do not depend on --threads.
    let files = [
        "chromium-shared-cdn.pcap",
        "chromium-quic-shared-cdn.pcap",
        "nosni-relookup.pcap",
        "chromium-real-ech.pcap",
    ];
    let paths: Vec<_> = files.iter().map(|f| own(f)).collect();
    let paths: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    let together = replay(&paths, &[]);
    let names = |run: &common::Run| -> Vec<(Value, Value, Value)> {
        run.flows()
            .into_iter()
            .filter(|f| f["server"]["port"] == 443)
            .map(|f| {
                (
                    f["server_name"].clone(),
                    f["name_source"].clone(),
                    f["tls"]["ech_kind"].clone(),
                )
            })
            .collect()
    };
    let alone: Vec<(Value, Value, Value)> = files
        .iter()
        .flat_map(|f| names(&replay(&[&own(f)], &[])))
        .collect();
    assert_eq!(names(&together), alone);
    for threads in ["2", "3"] {
        let run = replay(&paths, &["--threads", threads]);
        assert!(
            run.stdout == together.stdout,
            "--threads {threads} gives other events"
        );
    }
}

/// A flow without SNI that stays open four hours (a packet every 5 minutes, inside the TCP idle
/// timeout), while the client resolves its name again and another name on the same CDN address
/// every 10 minutes: named from the answer in force at its start, long after that answer's TTL.
/// With a history too small for the lookups made meanwhile, it loses the name and says so.
#[test]
fn a_flow_open_for_hours_keeps_the_name_it_started_with() {
    use common::synth::{PcapWriter, dns, syn, tcp, udp};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long-flow.pcap");
    let (client, resolver, cdn) = ([10, 9, 0, 7], [10, 9, 0, 53], [104, 18, 32, 47]);
    let t0: u64 = 1_795_305_600 * 1_000_000;
    let minute = 60_000_000;
    {
        let mut pcap = PcapWriter::create(&path);
        let lookup = |pcap: &mut PcapWriter, at: u64, id: u16, name: &str, addr: [u8; 4]| {
            pcap.frame(
                at,
                &udp(client, resolver, 40_000 + id, 53, &dns(id, name, None)),
            );
            let answer = dns(id, name, Some(addr));
            pcap.frame(at + 300, &udp(resolver, client, 53, 40_000 + id, &answer));
        };
        lookup(&mut pcap, t0, 1, "chat.deepseek.com", cdn);
        pcap.frame(t0 + 10_000, &syn(client, cdn, 50_000, 443, 1));
        let mut id = 2;
        for m in (5..=240).step_by(5) {
            let at = t0 + m * minute;
            if m % 10 == 0 {
                lookup(&mut pcap, at - 20 * 1_000_000, id, "cdn.example.net", cdn);
                lookup(
                    &mut pcap,
                    at - 10 * 1_000_000,
                    id + 1,
                    "chat.deepseek.com",
                    cdn,
                );
                // Other addresses the client resolves meanwhile.
                for k in 0..20u16 {
                    let other = [104, 16, (m % 250) as u8, k as u8];
                    lookup(
                        &mut pcap,
                        at - 5 * 1_000_000,
                        id + 2 + k,
                        "static.example.net",
                        other,
                    );
                }
                id += 22;
            }
            pcap.frame(
                at,
                &tcp(client, cdn, 50_000, 443, b"\x17\x03\x03\x00\x04data"),
            );
        }
    }
    // The flow's records: one with the active timeout off, else one every five minutes.
    let long = |run: &common::Run| -> Vec<Value> {
        run.flows()
            .into_iter()
            .filter(|f| f["server"]["ip"] == "104.18.32.47" && f["server"]["port"] == 443)
            .collect()
    };
    let run = replay(&[&path], &["--active-timeout", "0"]);
    let records = long(&run);
    assert_eq!(records.len(), 1, "one flow, one record: {records:#?}");
    let flow = &records[0];
    assert_eq!(flow["server_name"], "chat.deepseek.com");
    assert_eq!(flow["name_source"], "dns_answer");
    assert_eq!(flow["app"]["id"], "deepseek-chat");
    assert!(
        flow.get("name_alternatives").is_none(),
        "cdn.example.net came after the start"
    );
    assert_eq!(flow["end_reason"], "end_of_input");
    assert_eq!(flow["packets_up"], 49);
    // Split by the default active timeout (300 s, so a record every two packets): every record
    // keeps the start's name.
    let split = long(&replay(&[&path], &[]));
    assert!(split.len() >= 20, "{} records", split.len());
    for record in &split {
        assert_eq!(record["server_name"], "chat.deepseek.com", "{record}");
        assert_eq!(record["name_source"], "dns_answer");
        assert!(record.get("name_alternatives").is_none(), "{record}");
    }
    let packets: u64 = split
        .iter()
        .map(|r| r["packets_up"].as_u64().unwrap())
        .sum();
    assert_eq!(packets, 49);
    // A history of 16 pairs cannot hold the start's answer through the 480 other pairs resolved
    // while the flow was open: a single record at the end is not named by a later answer, and
    // the eviction shows. Split every minute, the first record (at 5 minutes) comes before any
    // other lookup and is named; every later one keeps that name, though the history has long
    // lost the answer.
    let small_history = |active_timeout: &str| {
        Replay::of(&[&path])
            .loud()
            .args(&["--dns-cache-size", "16", "--active-timeout", active_timeout])
            .ok()
    };
    let small = small_history("0");
    let records = long(&small);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["name_source"], "none", "{}", records[0]);
    assert!(
        small.stderr.contains("dns_cache_evictions"),
        "{}",
        small.stderr
    );
    let small = small_history("60");
    let records = long(&small);
    assert_eq!(records.len(), 25);
    for record in &records {
        assert_eq!(record["server_name"], "chat.deepseek.com", "{record}");
        assert_eq!(record["name_source"], "dns_answer", "{record}");
    }
}

/// `captures/nosni-race.pcap`: Python resolves perplexity.ai (10.77.2.1), connects to the
/// address without SNI, and 0.5 ms after its SYN an answer for static.example.net on the same
/// address arrives. The name in force at the first packet names the flow: the 50 ms grace is
/// for a flow with no answer in force, not for a later answer to steal the name.
#[test]
fn a_later_answer_within_the_race_does_not_steal_the_name_in_force() {
    assert_eq!(
        named("nosni-race.pcap"),
        [json!([
            "10.77.2.1",
            "perplexity.ai",
            "dns_answer",
            "perplexity",
            null,
            "none",
            null
        ])]
    );
}
