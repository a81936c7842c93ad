//! Any bytes as a DNS message.
#![no_main]

use lantern::proto::dns::{MAX_ANSWERS, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = parse(data) {
        assert!(message.answers.len() <= MAX_ANSWERS);
        if let Some((name, _)) = message.question {
            // 255 octets on the wire; escaping can make the text up to four times longer.
            assert!(name.len() <= 4 * 255);
        }
    }
});
