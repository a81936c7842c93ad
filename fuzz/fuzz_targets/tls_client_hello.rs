//! The start of a client's TLS stream: parse the ClientHello, whole and cut at every length.
#![no_main]

use lantern::proto::tls::parse_client_hello;
use lantern::proto::Parsed;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let whole = parse_client_hello(data, false);
    if let Parsed::Complete(hello) = &whole {
        assert_eq!(hello.ja4.as_deref().map(str::len), Some(36), "{:?}", hello.ja4);
        if let Some(sni) = &hello.sni {
            assert!(sni.bytes().all(|b| (0x21..=0x7e).contains(&b)), "{sni:?}");
        }
    }
    // A prefix of a stream is never malformed when the whole is complete.
    if matches!(whole, Parsed::Complete(_)) {
        let half = &data[..data.len() / 2];
        assert!(!matches!(parse_client_hello(half, false), Parsed::Malformed(_)) || half.len() < 5);
    }
});
