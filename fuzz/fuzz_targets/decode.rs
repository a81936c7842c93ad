//! Link, VLAN, IP and TCP/UDP decoding of any bytes, under every supported link type (chosen by
//! the first byte).
#![no_main]

use lantern::capture::LinkType;
use lantern::decode::decode;
use lantern::metrics::Counters;
use libfuzzer_sys::fuzz_target;

const LINKS: [u32; 14] = [0, 1, 9, 12, 14, 50, 101, 104, 108, 113, 228, 229, 239, 276];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else { return };
    let link = LinkType(LINKS[usize::from(pick) % LINKS.len()]);
    let mut counters = Counters::default();
    if let Some(packet) = decode(link, bytes, &mut counters) {
        assert!(packet.payload.len() <= bytes.len());
        assert!(packet.payload_len as usize >= packet.payload.len());
    }
});
