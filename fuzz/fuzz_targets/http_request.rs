//! The start of a client's HTTP stream: parse the request head, and ask the MCP dissector,
//! which is probed before HTTP, whether it is MCP.
#![no_main]

use lantern::proto::dissector::StreamDissector;
use lantern::proto::http::{looks_like_http, parse_request};
use lantern::proto::mcp::McpOverHttp;
use lantern::proto::Parsed;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = looks_like_http(data);
    if McpOverHttp::recognise(data) == Some(true) {
        assert!(matches!(McpOverHttp::parse(data), Parsed::Complete(_)));
    }
    if let Parsed::Complete(request) = parse_request(data) {
        assert!(!request.method.is_empty());
        // Names are escaped into printable ASCII, whatever the bytes on the wire.
        if let Some(host) = request.host {
            assert!(host.bytes().all(|b| (0x21..=0x7e).contains(&b)), "{host:?}");
        }
    }
});
