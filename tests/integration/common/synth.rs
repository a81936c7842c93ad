//! Synthetic captures for tests and benchmarks that need more traffic than a real capture
//! holds: a pcap writer and the frames of AI use (a DNS lookup and its answer, a TLS
//! ClientHello with SNI), built with `etherparse`. Also used by `benches/` (through `#[path]`).
#![allow(dead_code)]

use std::io::{BufWriter, Write};
use std::path::Path;

/// A pcap file (microsecond times, Ethernet) being written.
pub struct PcapWriter {
    out: BufWriter<std::fs::File>,
}

impl PcapWriter {
    pub fn create(path: &Path) -> PcapWriter {
        let mut out = BufWriter::new(std::fs::File::create(path).expect("create pcap"));
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        header.extend_from_slice(&2u16.to_le_bytes());
        header.extend_from_slice(&4u16.to_le_bytes());
        header.extend_from_slice(&[0; 8]);
        header.extend_from_slice(&65535u32.to_le_bytes());
        header.extend_from_slice(&1u32.to_le_bytes());
        out.write_all(&header).expect("write pcap");
        PcapWriter { out }
    }

    /// Writes a frame captured `micros` microseconds after the epoch.
    pub fn frame(&mut self, micros: u64, frame: &[u8]) {
        let mut record = Vec::with_capacity(16);
        record.extend_from_slice(&((micros / 1_000_000) as u32).to_le_bytes());
        record.extend_from_slice(&((micros % 1_000_000) as u32).to_le_bytes());
        record.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        record.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.out.write_all(&record).expect("write pcap");
        self.out.write_all(frame).expect("write pcap");
    }
}

impl Drop for PcapWriter {
    fn drop(&mut self) {
        self.out.flush().expect("write pcap");
    }
}

const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const SERVER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];

/// An Ethernet/IPv4/TCP frame with PSH+ACK carrying `payload`.
pub fn tcp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    tcp_at(src, dst, sport, dport, 1000, payload)
}

/// An Ethernet/IPv4/TCP frame with PSH+ACK carrying `payload` at sequence number `seq`.
pub fn tcp_at(
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    seq: u32,
    payload: &[u8],
) -> Vec<u8> {
    let builder = etherparse::PacketBuilder::ethernet2(CLIENT_MAC, SERVER_MAC)
        .ipv4(src, dst, 64)
        .tcp(sport, dport, seq, 64240)
        .psh()
        .ack(1);
    let mut out = Vec::with_capacity(builder.size(payload.len()));
    builder.write(&mut out, payload).expect("build frame");
    out
}

/// An Ethernet/IPv4/TCP frame with only SYN set.
pub fn syn(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, seq: u32) -> Vec<u8> {
    let builder = etherparse::PacketBuilder::ethernet2(CLIENT_MAC, SERVER_MAC)
        .ipv4(src, dst, 64)
        .tcp(sport, dport, seq, 65535)
        .syn();
    let mut out = Vec::with_capacity(builder.size(0));
    builder.write(&mut out, &[]).expect("build frame");
    out
}

/// An Ethernet/IPv4 first fragment (more to come) of a UDP datagram: identification `id`,
/// `len` bytes of payload.
pub fn first_fragment(src: [u8; 4], dst: [u8; 4], id: u16, len: usize) -> Vec<u8> {
    let mut ip = etherparse::Ipv4Header::new(len as u16, 64, etherparse::IpNumber::UDP, src, dst)
        .expect("fragment length");
    ip.identification = id;
    ip.dont_fragment = false;
    ip.more_fragments = true;
    let mut out = Vec::with_capacity(14 + 20 + len);
    etherparse::Ethernet2Header {
        source: CLIENT_MAC,
        destination: SERVER_MAC,
        ether_type: etherparse::EtherType::IPV4,
    }
    .write(&mut out)
    .expect("build frame");
    ip.write(&mut out).expect("build frame");
    out.resize(out.len() + len, 0x55);
    out
}

/// An Ethernet/IPv4/UDP frame.
pub fn udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let builder = etherparse::PacketBuilder::ethernet2(CLIENT_MAC, SERVER_MAC)
        .ipv4(src, dst, 64)
        .udp(sport, dport);
    let mut out = Vec::with_capacity(builder.size(payload.len()));
    builder.write(&mut out, payload).expect("build frame");
    out
}

/// A TLS record holding a ClientHello (TLS 1.2, one cipher suite) with `name` as SNI.
pub fn client_hello(name: &str) -> Vec<u8> {
    let name = name.as_bytes();
    let mut sni = Vec::new();
    sni.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
    sni.push(0);
    sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sni.extend_from_slice(name);
    let mut ext = vec![0, 0];
    ext.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    ext.extend_from_slice(&sni);
    let mut body = vec![3, 3];
    body.extend_from_slice(&[7; 32]);
    body.push(0);
    body.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut handshake = vec![1];
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![22, 3, 1];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// A DNS message for `name` type A: the query, or with `answer` the response carrying it.
pub fn dns(id: u16, name: &str, answer: Option<[u8; 4]>) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(if answer.is_some() {
        &[0x81, 0x80]
    } else {
        &[0x01, 0x00]
    });
    m.extend_from_slice(&[0, 1, 0, u8::from(answer.is_some()), 0, 0, 0, 0]);
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    if let Some(addr) = answer {
        m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        m.extend_from_slice(&addr);
    }
    m
}

/// Catalogued names the synthetic AI use goes to.
pub const AI_NAMES: [&str; 10] = [
    "api.openai.com",
    "chatgpt.com",
    "claude.ai",
    "api.anthropic.com",
    "gemini.google.com",
    "copilot.microsoft.com",
    "chat.deepseek.com",
    "huggingface.co",
    "www.perplexity.ai",
    "api.mistral.ai",
];

/// Writes `n` AI uses, `step_micros` apart from `start_secs`: a client among `clients` looks up
/// one of [`AI_NAMES`] (with `dns`), then opens a TLS connection to the answer.
pub fn ai_use(path: &Path, n: u32, clients: u32, start_secs: u64, step_micros: u64, dns_too: bool) {
    let mut pcap = PcapWriter::create(path);
    let resolver = [10, 70, 255, 53];
    for i in 0..n {
        let c = i % clients.max(1);
        let client = [10, 70 + (c >> 16) as u8, (c >> 8) as u8, c as u8];
        let name = AI_NAMES[(i as usize * 7 + c as usize) % AI_NAMES.len()];
        let server = [104, 18, (i >> 8) as u8, i as u8];
        let port = 20_000 + (i % 40_000) as u16;
        let at = start_secs * 1_000_000 + u64::from(i) * step_micros;
        if dns_too {
            let id = i as u16;
            pcap.frame(at, &udp(client, resolver, port, 53, &dns(id, name, None)));
            pcap.frame(
                at + 500,
                &udp(resolver, client, 53, port, &dns(id, name, Some(server))),
            );
        }
        pcap.frame(
            at + 1_000,
            &tcp(client, server, port, 443, &client_hello(name)),
        );
    }
}
