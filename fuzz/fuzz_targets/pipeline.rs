//! The per-packet stages together: any bytes cut into Ethernet frames, a few milliseconds apart,
//! through decode, the flow table and every dissector, with ticks and a final drain.
#![no_main]

use lantern::capture::{LinkType, Timestamp};
use lantern::decode::Decoder;
use lantern::flow::Stamp;
use lantern::decode::Counters;
use lantern::pipeline::{Settings, Worker};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut settings = Settings::default();
    settings.flow.max_flows = 8;
    settings.proto.reassembly_bytes = 2048;
    let mut decoder = Decoder::default();
    let mut counters = Counters::default();
    let mut worker = Worker::new(&settings);
    let mut rest = data;
    let mut number = 0;
    while let [hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        number += 1;
        let ts = Timestamp::from_parts(1_700_000_000 + number / 64, (number % 64) * 15_000_000);
        if let Some(packet) = decoder.decode(LinkType::ETHERNET, &tail[..len], ts, &mut counters) {
            worker.packet(&packet, Stamp { number: number as u64, ts, clock: ts });
        }
        if number % 64 == 0 {
            let _ = worker.tick(ts);
        }
        rest = &tail[len..];
    }
    let _ = worker.finish();
});
