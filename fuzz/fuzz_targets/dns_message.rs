//! Any bytes as a DNS message, and as the ECHConfigList of an HTTPS record's `ech` parameter.
#![no_main]

use lantern::proto::dns::{MAX_ANSWERS, MAX_ECH_NAMES, ech_public_names, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = parse(data) {
        assert!(message.answers.len() <= MAX_ANSWERS);
        assert!(message.ech_public_names.len() <= MAX_ECH_NAMES);
        if let Some((name, _)) = message.question {
            // 255 octets on the wire; escaping can make the text up to four times longer.
            assert!(name.len() <= 4 * 255);
        }
    }
    // Every public name is a length byte's worth (255 octets, escaped at most fourfold), and
    // each takes at least its 4-byte config header: the walk ends.
    let mut names = 0;
    for name in ech_public_names(data) {
        assert!(!name.is_empty() && name.len() <= 4 * 255);
        names += 1;
    }
    assert!(names <= data.len() / 4);
});
