//! Real packet bytes for unit tests and the stage benchmarks, read from this project's own
//! `captures/`. Not an API: it panics on any error.

use crate::capture::{CaptureReader, Timestamp};
use crate::decode::Counters;
use crate::decode::{Decoder, Packet};

/// Every frame of `captures/<name>`: its link type and bytes.
pub fn frames(name: &str) -> Vec<(crate::capture::LinkType, Vec<u8>)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name);
    let mut reader = CaptureReader::open(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    while let Some(raw) = reader.next_packet().unwrap_or_else(|e| panic!("{e}")) {
        out.push((raw.link, raw.data.to_vec()));
    }
    out
}

/// The transport payloads of the packets of `captures/<name>` that `keep` selects, in order.
pub fn payloads(name: &str, keep: impl Fn(&Packet<'_>) -> bool) -> Vec<Vec<u8>> {
    let mut counters = Counters::default();
    let mut decoder = Decoder::default();
    let mut out = Vec::new();
    for (link, frame) in frames(name) {
        if let Some(packet) = decoder.decode(link, &frame, Timestamp(0), &mut counters)
            && !packet.payload.is_empty()
            && keep(&packet)
        {
            out.push(packet.payload.to_vec());
        }
    }
    out
}
