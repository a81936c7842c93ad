//! Real packet bytes for unit tests, read from this project's own `captures/`.

use crate::capture::CaptureReader;
use crate::decode::{Decoder, Packet};
use crate::metrics::Counters;

/// The transport payloads of the packets of `captures/<name>` that `keep` selects, in order.
pub fn payloads(name: &str, keep: impl Fn(&Packet<'_>) -> bool) -> Vec<Vec<u8>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name);
    let mut reader = CaptureReader::open(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut counters = Counters::default();
    let mut decoder = Decoder::default();
    let mut out = Vec::new();
    while let Some(raw) = reader.next_packet().unwrap_or_else(|e| panic!("{e}")) {
        if let Some(packet) = decoder.decode(raw.link, raw.data, raw.ts, &mut counters)
            && !packet.payload.is_empty()
            && keep(&packet)
        {
            out.push(packet.payload.to_vec());
        }
    }
    out
}
