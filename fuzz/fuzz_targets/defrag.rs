//! IP fragment reassembly under any sequence of fragments: bounded, never a panic, and a
//! completed datagram covers the fragment that completed it.
#![no_main]

use lantern::capture::Timestamp;
use lantern::decode::Addr;
use lantern::decode::frag::{Defrag, FragConfig, FragKey, Fragment};
use lantern::decode::Counters;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut defrag = Defrag::new(FragConfig {
        max_datagrams: 4,
        max_bytes: 4096,
        timeout_secs: 30,
    });
    let mut counters = Counters::default();
    let mut rest = data;
    let mut clock = 0i64;
    while let [id, off_hi, off_lo, flags, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let key = FragKey {
            src: Addr::v4([10, 0, 0, 1]),
            dst: Addr::v4([10, 0, 0, 2]),
            id: u32::from(id & 3),
            protocol: 17,
            vlan: [0; 2],
        };
        let offset = u32::from(u16::from_be_bytes([*off_hi, *off_lo]) & 0x1fff) * 8;
        clock += i64::from(flags >> 4);
        let fragment = Fragment {
            offset,
            more: flags & 1 == 1,
            data: &tail[..len],
            cut: flags & 2 == 2,
        };
        if let Some(whole) = defrag.add(key, fragment, Timestamp::from_secs(clock), &mut counters) {
            // The completing fragment may be any piece; the datagram covers it.
            assert!(whole.len() <= 65_535);
            assert!(whole.len() as u32 >= offset + len as u32);
        }
        assert!(defrag.len() <= 4);
        rest = &tail[len..];
    }
});
