//! Any bytes as client datagrams of one flow that may be QUIC: header parsing, key derivation,
//! decryption attempts, frame walking and CRYPTO reassembly must end without a panic.
#![no_main]

use lantern::proto::quic::{Outcome, QuicState};
use lantern::proto::stream::Streams;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut pool = Streams::new(64 * 1024);
    let mut state = QuicState::new(&mut pool, 4096);
    let mut scratch = Vec::new();
    // Datagrams are length-prefixed (one byte, times eight) so several can reach one flow.
    let mut rest = data;
    while let [len, tail @ ..] = rest {
        let len = (usize::from(*len) * 8).min(tail.len());
        match state.datagram(&tail[..len], &mut scratch, &mut pool) {
            Outcome::Hello(hello) => assert_eq!(hello.ja4.map_or(36, |j| j.len()), 36),
            Outcome::NotQuic | Outcome::GiveUp => break,
            Outcome::Wait => {}
        }
        assert!(pool.held() <= 64 * 1024);
        rest = &tail[len..];
    }
    state.close(&mut pool);
    assert_eq!(pool.held(), 0, "closing gives every byte back");
});
