//! Throughput of each stage on real bytes from `captures/`: decoding frames, the flow table
//! (inserting new flows and finding known ones), parsing a TLS ClientHello, decrypting a QUIC
//! Initial, parsing a DNS message. (The catalog lookup is `benches/catalog.rs`.)
//!
//! `cargo bench --bench stages`. These report figures; none is a pass/fail timing.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use lantern::capture::Timestamp;
use lantern::decode::Decoder;
use lantern::flow::{FlowConfig, FlowTable, Stamp};
use lantern::pipeline::Counters;
use lantern::proto::dns;
use lantern::proto::quic::QuicState;
use lantern::proto::stream::Streams;
use lantern::proto::tls::parse_client_hello;
use lantern::testdata::{frames, payloads};
use std::hint::black_box;

/// Every frame of every capture of this project that has a single link type.
fn all_frames() -> Vec<(lantern::capture::LinkType, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".pcap") && !n.contains("-cut"))
        .collect();
    names.sort();
    names.iter().flat_map(|n| frames(n)).collect()
}

fn decode(c: &mut Criterion) {
    let frames = all_frames();
    let bytes: usize = frames.iter().map(|(_, f)| f.len()).sum();
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(frames.len() as u64));
    group.bench_function(format!("{} frames, {bytes} bytes", frames.len()), |b| {
        let mut decoder = Decoder::default();
        let mut counters = Counters::default();
        b.iter(|| {
            let mut n = 0;
            for (link, frame) in &frames {
                if let Some(p) = decoder.decode(*link, frame, Timestamp(0), &mut counters.decode) {
                    n += p.payload.len();
                }
            }
            black_box(n)
        })
    });
    group.finish();
}

/// SYNs of `n` distinct flows, as Ethernet frames.
fn syns(n: u32) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let builder =
                etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                    .ipv4(
                        [10, 1, (i >> 8) as u8, i as u8],
                        [104, 18, 0, (i >> 16) as u8],
                        64,
                    )
                    .tcp(1024 + (i % 60_000) as u16, 443, i, 65535)
                    .syn();
            let mut frame = Vec::with_capacity(builder.size(0));
            builder.write(&mut frame, &[]).unwrap();
            frame
        })
        .collect()
}

fn flow(c: &mut Criterion) {
    const FLOWS: u32 = 100_000;
    let frames = syns(FLOWS);
    let link = lantern::capture::LinkType(1);
    // A packet borrows its decoder, so each pass decodes again: `decode only` is that share.
    let pass = |table: &mut Option<FlowTable<()>>, decoder: &mut Decoder| {
        let mut counters = Counters::default();
        for (i, frame) in frames.iter().enumerate() {
            let Some(p) = decoder.decode(link, frame, Timestamp(0), &mut counters.decode) else {
                continue;
            };
            if let Some(table) = table.as_mut() {
                let stamp = Stamp {
                    number: i as u64 + 1,
                    ts: Timestamp(0),
                    clock: Timestamp(0),
                };
                black_box(table.packet(&p, stamp, &mut counters.flow, &mut |_, _| {}));
            } else {
                black_box(p.payload_len);
            }
        }
    };
    let mut group = c.benchmark_group("flow");
    group.throughput(Throughput::Elements(u64::from(FLOWS)));
    let mut decoder = Decoder::default();
    group.bench_function("decode only, 100k SYNs", |b| {
        b.iter(|| pass(&mut None, &mut decoder))
    });
    group.bench_function("decode and insert 100k new flows", |b| {
        b.iter_batched(
            || Some(FlowTable::<()>::new(FlowConfig::default())),
            |mut table| {
                pass(&mut table, &mut Decoder::default());
                table
            },
            BatchSize::LargeInput,
        )
    });
    let mut table = Some(FlowTable::<()>::new(FlowConfig::default()));
    pass(&mut table, &mut decoder);
    group.bench_function("decode and find 100k known flows", |b| {
        b.iter(|| pass(&mut table, &mut decoder))
    });
    group.finish();
}

fn per_message<T>(c: &mut Criterion, name: &str, inputs: &[Vec<u8>], parse: impl Fn(&[u8]) -> T) {
    assert!(!inputs.is_empty(), "{name}: no inputs");
    let bytes: usize = inputs.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(inputs.len() as u64));
    group.bench_function(format!("{} messages, {bytes} bytes", inputs.len()), |b| {
        b.iter(|| {
            for input in inputs {
                black_box(parse(input));
            }
        })
    });
    group.finish();
}

fn client_hello(c: &mut Criterion) {
    // First client payloads of TLS flows: a whole ClientHello record each.
    let mut hellos: Vec<Vec<u8>> = Vec::new();
    for name in [
        "curl-chatgpt.pcap",
        "chromium-claude.pcap",
        "python-upload.pcap",
    ] {
        hellos.extend(
            payloads(name, |p| p.dst_port == 443)
                .into_iter()
                .filter(|p| p.first() == Some(&22) && p.get(5) == Some(&1)),
        );
    }
    per_message(c, "tls_client_hello", &hellos, |h| {
        matches!(
            parse_client_hello(h, false),
            lantern::proto::Parsed::Complete(_)
        )
    });
}

fn quic_initial(c: &mut Criterion) {
    let initials = payloads("chromium-quic-gemini.pcap", |p| {
        p.dst_port == 443 && p.payload.first().is_some_and(|b| b & 0xf0 == 0xc0)
    });
    // Each datagram to a fresh flow's state: key derivation, header protection, AEAD.
    per_message(c, "quic_initial", &initials, |d| {
        let mut pool = Streams::new(64 * 1024);
        let mut state = QuicState::new(&mut pool, 4096);
        let mut scratch = Vec::new();
        matches!(
            state.datagram(d, &mut scratch, &mut pool),
            lantern::proto::quic::Outcome::Wait | lantern::proto::quic::Outcome::Hello(_)
        )
    });
}

fn dns_message(c: &mut Criterion) {
    let mut messages = Vec::new();
    for name in ["curl-chatgpt.pcap", "chromium-claude.pcap", "identity.pcap"] {
        messages.extend(payloads(name, |p| p.src_port == 53 || p.dst_port == 53));
    }
    per_message(c, "dns_message", &messages, |m| dns::parse(m).is_ok());
}

criterion_group!(
    stages,
    decode,
    flow,
    client_hello,
    quic_initial,
    dns_message
);
criterion_main!(stages);
