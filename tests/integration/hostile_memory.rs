//! Floods built to exhaust memory, replayed through the real binary: for every port a TCP
//! framer reads (TLS and HTTP on any port, DNS on 53, Kerberos on 88) and for QUIC, the peak
//! RSS of `lantern replay` (from `wait4`) against a control file of the same flows whose bytes
//! cost nothing to hold, and against the bound the settings give.

use crate::common;

use crate::common::synth::{PcapWriter, first_fragment, syn, tcp_at, udp};
use std::path::Path;
use std::process::{Command, Stdio};

/// Flows in each flood, as in the report that found the problem.
const FLOWS: u32 = 20_000;

/// A pcap of `FLOWS` TCP flows to `port`, each a SYN and then `len` bytes `offset` bytes into
/// the stream: a gap the sensor must never allocate.
fn tcp_flood(path: &Path, port: u16, offset: u32, len: usize) {
    let mut pcap = PcapWriter::create(path);
    let payload = vec![0x16; len];
    for i in 0..FLOWS {
        let src = [10, 80, (i >> 8) as u8, i as u8];
        let sport = 20_000 + (i % 40_000) as u16;
        let isn = i.wrapping_mul(2_654_435_761);
        let t = u64::from(i) * 50;
        pcap.frame(t, &syn(src, [10, 81, 0, 1], sport, port, isn));
        let data = tcp_at(
            src,
            [10, 81, 0, 1],
            sport,
            port,
            isn.wrapping_add(1 + offset),
            &payload,
        );
        pcap.frame(t + 10, &data);
    }
}

/// Runs `lantern replay --no-store ARGS FILE`; its peak RSS in KiB and its standard error.
///
/// The peak comes from `wait4` in a small Python parent: a child started straight from this
/// test process would inherit the test's own high-water mark at `exec` (Linux keeps the larger
/// of the two), and the tests here run side by side in one process.
fn peak_rss(file: &Path, args: &[&str]) -> (u64, String) {
    const WAIT: &str = "import resource, subprocess, sys\n\
        r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n\
        sys.stderr.write('maxrss %d\\n' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n\
        sys.exit(r.returncode)\n";
    let out = Command::new("python3")
        .args([
            "-c",
            WAIT,
            env!("CARGO_BIN_EXE_lantern"),
            "replay",
            "--no-store",
        ])
        .args(args)
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{text}");
    let peak = text
        .lines()
        .find_map(|l| l.strip_prefix("maxrss ")?.parse().ok())
        .unwrap_or_else(|| panic!("no peak in {text}"));
    (peak, text)
}

/// A counter from the summary's `counters:` line, 0 when absent.
fn counter(summary: &str, name: &str) -> u64 {
    summary
        .lines()
        .filter_map(|l| l.trim().strip_prefix("counters: "))
        .flat_map(|l| l.split(", "))
        .find_map(|c| c.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn far_offsets_cost_what_arrived_on_every_tcp_port_a_framer_reads() {
    let dir = tempfile::tempdir().unwrap();
    // 443 and 8443: TLS and HTTP are recognised by content on any port.
    for port in [53, 88, 443, 8443] {
        let flood = dir.path().join(format!("far-{port}.pcap"));
        let control = dir.path().join(format!("near-{port}.pcap"));
        tcp_flood(&flood, port, 65_000, 1);
        tcp_flood(&control, port, 1, 1);
        let args = ["--max-flows", "1000000"];
        let (far, text) = peak_rss(&flood, &args);
        let (near, _) = peak_rss(&control, &args);
        eprintln!("port {port}: peak RSS {far} KiB with the byte at 65,000, {near} KiB at 1");
        // Before: 1.29 GB for port 53 and 336 MB for 443, against 26 MB.
        assert!(
            far <= near + 4 * 1024,
            "port {port}: {far} KiB against {near} KiB\n{text}"
        );
        assert_eq!(counter(&text, "reassembly_evicted"), 0, "{text}");
    }
}

#[test]
fn the_reassembly_budget_holds_under_a_flood_of_stalled_streams() {
    // Every flow holds 1,400 bytes it can never complete: 28 MB without a budget.
    let dir = tempfile::tempdir().unwrap();
    let flood = dir.path().join("stalled.pcap");
    let control = dir.path().join("stalled-control.pcap");
    tcp_flood(&flood, 443, 60_000, 1_400);
    tcp_flood(&control, 443, 60_000, 0);
    let budget_mib = 4;
    let args = ["--reassembly-memory", &budget_mib.to_string()];
    let (flooded, text) = peak_rss(&flood, &args);
    let (idle, _) = peak_rss(&control, &args);
    let (unbounded, _) = peak_rss(&flood, &["--reassembly-memory", "1024"]);
    eprintln!(
        "stalled streams: peak RSS {flooded} KiB in {budget_mib} MiB, {unbounded} KiB in 1 GiB, {idle} KiB without data"
    );
    // Within the budget, and the budget is what held it back: without it the same flood
    // takes far more.
    assert!(
        flooded <= idle + budget_mib * 1024 + 2 * 1024,
        "{flooded} KiB against {idle} KiB\n{text}"
    );
    assert!(
        unbounded > flooded + 16 * 1024,
        "{unbounded} against {flooded} KiB"
    );
    let evicted = counter(&text, "reassembly_evicted");
    assert!(evicted > u64::from(FLOWS) / 2, "{evicted} evicted\n{text}");
}

#[test]
fn a_quic_flood_of_second_halves_is_held_within_the_budget() {
    // Chromium's second Initial datagram (the ClientHello's later CRYPTO frames) from 20,000
    // client ports: each flow waits for a first half that never comes.
    let initials = lantern::testdata::payloads("chromium-quic-gemini.pcap", |p| {
        p.dst_port == 443 && p.payload.first().is_some_and(|b| b & 0xf0 == 0xc0)
    });
    let second = &initials[1];
    let dir = tempfile::tempdir().unwrap();
    let flood = dir.path().join("quic.pcap");
    let control = dir.path().join("quic-control.pcap");
    for (path, payload) in [(&flood, &second[..]), (&control, &[0x40u8; 8][..])] {
        let mut pcap = PcapWriter::create(path);
        for i in 0..FLOWS {
            let src = [10, 82, (i >> 8) as u8, i as u8];
            let frame = udp(
                src,
                [10, 83, 0, 1],
                30_000 + (i % 30_000) as u16,
                443,
                payload,
            );
            pcap.frame(u64::from(i) * 50, &frame);
        }
    }
    let (flooded, text) = peak_rss(&flood, &["--reassembly-memory", "4"]);
    let (idle, _) = peak_rss(&control, &["--reassembly-memory", "4"]);
    eprintln!("QUIC: peak RSS {flooded} KiB against {idle} KiB");
    // The budget, and each flow's QUIC state (its CRYPTO stream's handle and first DCID).
    let bound = idle + 4 * 1024 + u64::from(FLOWS) * 160 / 1024 + 1024;
    assert!(flooded <= bound, "{flooded} KiB against {idle} KiB\n{text}");
    assert!(counter(&text, "reassembly_evicted") > 0, "{text}");
}

/// A pcap of `frames`, 20 µs apart.
fn write_frames(path: &Path, frames: impl IntoIterator<Item = Vec<u8>>) {
    let mut pcap = PcapWriter::create(path);
    for (i, frame) in frames.into_iter().enumerate() {
        pcap.frame(i as u64 * 20, &frame);
    }
}

/// A 200-character name, different for each `i`.
fn long_name(i: u32) -> String {
    let label = "q".repeat(60);
    format!("{i:08}.{label}.{label}.{label}.example")
}

#[test]
fn dns_queries_awaiting_a_response_are_held_within_each_flows_and_the_workers_limit() {
    // 2,000 resolvers' flows, each asked 40 long names that are never answered: 80,000
    // queries, of which one worker holds at most 65,536 (and one flow at most 64).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queries.pcap");
    let frames = (0..80_000u32).map(|i| {
        let (flow, n) = (i % 2_000, i / 2_000);
        let src = [10, 84, (flow >> 8) as u8, flow as u8];
        udp(
            src,
            [10, 85, 0, 1],
            40_000,
            53,
            &common::synth::dns(n as u16, &long_name(i), None),
        )
    });
    write_frames(&path, frames);
    let (_, text) = peak_rss(&path, &[]);
    assert_eq!(
        counter(&text, "dns_pending_dropped"),
        80_000 - 65_536,
        "{text}"
    );
    assert_eq!(counter(&text, "dns_unanswered"), 65_536, "{text}");
    // One flow past its own limit hands its oldest query on unanswered instead.
    let path = dir.path().join("one-flow.pcap");
    let frames = (0..100u32).map(|i| {
        let dns = common::synth::dns(i as u16, &long_name(i), None);
        udp([10, 84, 0, 1], [10, 85, 0, 1], 40_000, 53, &dns)
    });
    write_frames(&path, frames);
    let (_, text) = peak_rss(&path, &[]);
    assert_eq!(counter(&text, "dns_pending_dropped"), 36, "{text}");
    assert_eq!(counter(&text, "dns_unanswered"), 64, "{text}");
    assert!(
        text.contains(", 100 DNS lookups"),
        "every query is still a lookup: {text}"
    );
}

#[test]
fn the_dns_history_holds_its_pairs_and_names_and_counts_what_it_drops() {
    // Answers for 3,000 addresses to one client, with --dns-cache-size 1000; then 20 names
    // for one address, of which a pair keeps 8.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("answers.pcap");
    let pairs = (0..3_000u32).map(|i| {
        let addr = [10, 86, (i >> 8) as u8, i as u8];
        let dns = common::synth::dns(i as u16, &long_name(i), Some(addr));
        udp([10, 85, 0, 1], [10, 84, 0, 1], 53, 40_000, &dns)
    });
    let names = (0..20u32).map(|i| {
        let dns = common::synth::dns(i as u16, &long_name(10_000 + i), Some([10, 87, 0, 1]));
        udp([10, 85, 0, 1], [10, 84, 0, 2], 53, 40_000, &dns)
    });
    write_frames(&path, pairs.chain(names));
    let (_, text) = peak_rss(&path, &["--dns-cache-size", "1000"]);
    // The 20-name pair is one more pair: 3,001 pairs in a history of 1,000.
    assert_eq!(counter(&text, "dns_cache_evictions"), 2_001, "{text}");
    assert_eq!(counter(&text, "dns_history_names_evicted"), 12, "{text}");
}

#[test]
fn ip_fragments_that_never_complete_are_held_within_the_defragmenters_limits() {
    // 20,000 first fragments of 1,400 bytes whose rest never comes: 28 MB if all were held;
    // the defragmenter holds at most 4,096 datagrams and 8 MiB.
    let dir = tempfile::tempdir().unwrap();
    let flood = dir.path().join("fragments.pcap");
    let control = dir.path().join("fragments-control.pcap");
    write_frames(
        &flood,
        (0..FLOWS).map(|i| {
            first_fragment(
                [10, 88, 0, (i >> 16) as u8],
                [10, 89, 0, 1],
                i as u16,
                1_400,
            )
        }),
    );
    write_frames(
        &control,
        (0..FLOWS)
            .map(|i| first_fragment([10, 88, 0, (i >> 16) as u8], [10, 89, 0, 1], i as u16, 8)),
    );
    let (flooded, text) = peak_rss(&flood, &[]);
    let (idle, _) = peak_rss(&control, &[]);
    eprintln!("fragments: peak RSS {flooded} KiB against {idle} KiB");
    assert!(
        flooded <= idle + 10 * 1024,
        "{flooded} KiB against {idle} KiB\n{text}"
    );
    assert!(
        counter(&text, "ip_fragments_dropped") >= u64::from(FLOWS) - 4_096,
        "{text}"
    );
}
