//! Link, tag, tunnel, IP and TCP/UDP decoding of any bytes, under every supported link type
//! (chosen by the first byte), with one decoder across inputs so fragments meet.
#![no_main]

use lantern::capture::{LinkType, Timestamp};
use lantern::decode::Decoder;
use lantern::decode::Counters;
use libfuzzer_sys::fuzz_target;
use std::sync::Mutex;

const LINKS: [u32; 14] = [0, 1, 9, 12, 14, 50, 101, 104, 108, 113, 228, 229, 239, 276];

static DECODER: Mutex<Option<Decoder>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else { return };
    let link = LinkType(LINKS[usize::from(pick) % LINKS.len()]);
    let mut guard = DECODER.lock().unwrap();
    let decoder = guard.get_or_insert_with(Decoder::default);
    let mut counters = Counters::default();
    if let Some(packet) = decoder.decode(link, bytes, Timestamp(0), &mut counters) {
        assert!(packet.payload_len as usize >= packet.payload.len());
        assert!(packet.payload.len() <= 65_535);
    }
});
