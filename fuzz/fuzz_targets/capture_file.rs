//! Any bytes as a capture file: the reader must end with packets, a clean end or an error.
#![no_main]

use lantern::capture::CaptureReader;
use libfuzzer_sys::fuzz_target;
use std::io::Cursor;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let size = data.len() as u64;
    let source = Box::new(Cursor::new(data.to_vec()));
    let Ok(mut reader) = CaptureReader::from_reader(Path::new("fuzz.pcap"), source, Some(size)) else {
        return;
    };
    let mut packets = 0u64;
    while let Ok(Some(packet)) = reader.next_packet() {
        assert!(packet.data.len() <= data.len());
        packets += 1;
    }
    assert_eq!(packets, reader.packets());
    assert!(reader.offset() <= size);
});
