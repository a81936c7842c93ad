//! MCP in a request body: the bounded prefix scanner on any bytes, under every head.
#![no_main]

use lantern::proto::mcp::{Head, MAX_TEXT, recognise};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, body)) = data.split_first() else {
        return;
    };
    let head = Head {
        method: if flags & 1 == 0 { "POST" } else { "GET" },
        path: if flags & 2 == 0 { "/mcp" } else { "/messages/" },
        event_stream: flags & 4 != 0,
        session: flags & 8 != 0,
        protocol_version: (flags & 16 != 0).then_some("2025-11-25"),
        method_header: (flags & 32 != 0).then_some("tools/list"),
    };
    if let Some(mcp) = recognise(&head, body) {
        for text in [&mcp.method, &mcp.version, &mcp.tool].into_iter().flatten() {
            assert!(text.len() <= MAX_TEXT, "{text:?}");
        }
        // name/version: each part bounded.
        if let Some(client) = &mcp.client {
            assert!(client.len() <= 2 * MAX_TEXT + 1, "{client:?}");
        }
    }
});
