//! Seeds the fuzz corpora from real captures: whole small capture files, link-layer frames,
//! first client payloads of TLS and HTTP streams, DNS messages, and runs of Ethernet frames.
//!
//! Usage: cargo run --example fuzz_seeds -- fuzz/corpus captures ../shared/captures

use lantern::capture::{CaptureReader, LinkType};
use lantern::decode::Counters;
use lantern::decode::Decoder;
use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

/// Link types in the order the `decode` target picks them by its first byte.
const LINKS: [u32; 14] = [0, 1, 9, 12, 14, 50, 101, 104, 108, 113, 228, 229, 239, 276];
const MAX_SEED: usize = 64 * 1024;

struct Corpus {
    root: PathBuf,
    seen: HashSet<(String, u64)>,
    written: usize,
}

impl Corpus {
    fn add(&mut self, target: &str, bytes: &[u8]) {
        if bytes.is_empty() || bytes.len() > MAX_SEED {
            return;
        }
        let mut h = DefaultHasher::new();
        bytes.hash(&mut h);
        let key = h.finish();
        if !self.seen.insert((target.to_string(), key)) {
            return;
        }
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir).expect("create corpus dir");
        std::fs::write(dir.join(format!("{key:016x}")), bytes).expect("write seed");
        self.written += 1;
    }
}

fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            captures(&path, out);
        } else if path
            .extension()
            .is_some_and(|e| e == "pcap" || e == "pcapng")
        {
            out.push(path);
        }
    }
}

fn seed_file(corpus: &mut Corpus, path: &Path) {
    if let Ok(bytes) = std::fs::read(path) {
        corpus.add("capture_file", &bytes[..bytes.len().min(MAX_SEED)]);
    }
    let Ok(mut reader) = CaptureReader::open(path) else {
        return;
    };
    let mut counters = Counters::default();
    let mut decoder = Decoder::default();
    let mut run = Vec::new();
    // Each TCP client stream's bytes, in capture order, for the request reader.
    let mut streams: std::collections::BTreeMap<(String, u16, u16), Vec<u8>> = Default::default();
    while let Ok(Some(raw)) = reader.next_packet() {
        if let Some(pick) = LINKS.iter().position(|&l| LinkType(l) == raw.link) {
            let mut seed = vec![pick as u8];
            seed.extend_from_slice(raw.data);
            corpus.add("decode", &seed);
        }
        if raw.link == LinkType::ETHERNET && run.len() < MAX_SEED / 2 {
            run.extend_from_slice(&(raw.data.len() as u16).to_be_bytes());
            run.extend_from_slice(raw.data);
        }
        let Some(packet) = decoder.decode(raw.link, raw.data, raw.ts, &mut counters) else {
            continue;
        };
        let payload = packet.payload;
        if packet.transport.number() == 6 && !payload.is_empty() {
            let key = (packet.src.to_string(), packet.src_port, packet.dst_port);
            let stream = streams.entry(key).or_default();
            if stream.len() < MAX_SEED {
                stream.extend_from_slice(payload);
            }
        }
        let port = |p: u16| packet.src_port == p || packet.dst_port == p;
        if port(67) || port(68) {
            let mut seed = vec![4];
            seed.extend_from_slice(payload);
            corpus.add("dhcp_message", &seed);
        } else if port(546) || port(547) {
            let mut seed = vec![6];
            seed.extend_from_slice(payload);
            corpus.add("dhcp_message", &seed);
        } else if port(88) {
            // Over TCP, the record marker first; a seed per message start.
            let message = if packet.transport.number() == 6 {
                payload.get(4..).unwrap_or(&[])
            } else {
                payload
            };
            corpus.add("kerberos_message", message);
        } else if packet.src_port == 53 || packet.dst_port == 53 {
            corpus.add(
                "dns_message",
                if packet.transport.number() == 6 {
                    payload.get(2..).unwrap_or(&[])
                } else {
                    payload
                },
            );
        } else if payload.starts_with(&[0x16, 0x03]) {
            corpus.add("tls_client_hello", payload);
        } else if lantern::proto::http::looks_like_http(payload) == Some(true) {
            corpus.add("http_request", payload);
        } else if packet.transport.number() == 17
            && payload.first().is_some_and(|b| b & 0xc0 == 0xc0)
        {
            // A QUIC long header: one length-prefixed datagram (lengths count in eights).
            let len = payload.len().min(255 * 8) / 8 * 8;
            let mut seed = vec![(len / 8) as u8];
            seed.extend_from_slice(&payload[..len]);
            corpus.add("quic_initial", &seed);
        }
    }
    corpus.add("pipeline", &run);
    // The request reader cuts its input in pieces of (first byte % 64) + 1 bytes: whole
    // segments as 1460-byte-ish cuts, and single bytes.
    for stream in streams.values() {
        if lantern::proto::http::looks_like_http(stream) == Some(true) {
            for cut in [63u8, 0] {
                let mut seed = vec![cut];
                seed.extend_from_slice(&stream[..stream.len().min(MAX_SEED - 1)]);
                corpus.add("http_requests", &seed);
            }
        }
    }
}

fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let Some((root, dirs)) = args.split_first() else {
        eprintln!("usage: fuzz_seeds OUT_DIR CAPTURE_DIR...");
        std::process::exit(2);
    };
    let mut corpus = Corpus {
        root: root.clone(),
        seen: HashSet::new(),
        written: 0,
    };
    let mut files = Vec::new();
    for dir in dirs {
        captures(dir, &mut files);
    }
    files.sort();
    for file in &files {
        seed_file(&mut corpus, file);
    }
    println!(
        "{} seeds from {} captures in {}",
        corpus.written,
        files.len(),
        root.display()
    );
}
