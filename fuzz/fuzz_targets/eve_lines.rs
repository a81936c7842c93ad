//! Suricata EVE lines: any bytes, split at newlines, through one EVE reader and a joiner, as
//! `lantern ingest` reads them. It never panics, a line gives a piece, a counted problem or
//! nothing, and the joiner hands on every flow it took.
#![no_main]

use lantern::logs::{Format, JoinConfig, Joiner, LineProblem, reader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut eve = reader(Format::Eve, "eve.json", 0);
    let mut joiner = Joiner::new(JoinConfig {
        max_flows: 4,
        ..JoinConfig::default()
    });
    let (mut pieces, mut records) = (Vec::new(), Vec::new());
    for line in data.split(|&b| b == b'\n') {
        match eve.line(line, &mut pieces) {
            Ok(()) | Err(LineProblem::Skipped) | Err(LineProblem::Malformed(_)) => {}
        }
        for piece in pieces.drain(..) {
            let written = piece.written();
            joiner.piece(piece, &mut records);
            joiner.advance(written, &mut records);
        }
        assert!(joiner.waiting() <= 4);
    }
    eve.finish(&mut pieces);
    for piece in pieces.drain(..) {
        joiner.piece(piece, &mut records);
    }
    joiner.finish(&mut records);
    assert_eq!(joiner.waiting(), 0);
});
