//! Bounded TCP reassembly under any sequence of segments and consumes: it never holds more
//! than its limit and never panics.
#![no_main]

use lantern::proto::stream::Reassembler;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, mut ops)) = data.split_first() else { return };
    let limit = 64 + usize::from(first) * 16;
    let mut stream = Reassembler::new(1000, limit, first & 1 == 1);
    while let [kind, a, b, len, rest @ ..] = ops {
        let len = usize::from(*len).min(rest.len());
        let seq = 1000u32.wrapping_add(u32::from(u16::from_le_bytes([*a, *b]))).wrapping_sub(256);
        if kind & 7 == 0 {
            stream.consume(usize::from(*a));
        } else {
            stream.insert(seq, &rest[..len]);
        }
        assert!(stream.contiguous().len() <= limit);
        ops = &rest[len..];
    }
});
