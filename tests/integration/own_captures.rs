//! Replays of the captures this project made with real clients (`captures/`, see its README):
//! what each client did must show up in the events, the events must be exactly the reviewed
//! ones in `tests/expected/`, and the same packets in other formats must give the same events.
//!
//! `LANTERN_BLESS=1 cargo test --release --test integration own_captures::events_match` rewrites
//! `tests/expected/` after a deliberate change; review the diff before committing it.

use crate::common::{Replay, one, own, replay, root};
use serde_json::Value;

/// Every capture with its reviewed events.
const CAPTURES: [&str; 30] = [
    "curl-chatgpt.pcap",
    "python-upload.pcap",
    "node-openai.pcap",
    "chromium-claude.pcap",
    "nosni-gemini.pcap",
    "http-ollama.pcap",
    "http-local-models.pcap",
    "dns-lookups.pcap",
    "mixed-links.pcapng",
    "curl-chatgpt-sll2.pcap",
    "curl-chatgpt-v6.pcap",
    "chromium-quic-gemini.pcap",
    "dns-fragmented.pcap",
    "identity.pcap",
    "chromium-shared-cdn.pcap",
    "chromium-quic-shared-cdn.pcap",
    "nosni-relookup.pcap",
    "chromium-real-ech.pcap",
    "mcp-streamable-http.pcap",
    "mcp-streamable-http-modern.pcap",
    "mcp-sse.pcap",
    "mcp-node-client.pcap",
    "mcp-remote-tls.pcap",
    "gateway-prefix.pcap",
    "clients-same-api.pcap",
    "clients-same-api-http.pcap",
    "nosni-race.pcap",
    "http-keepalive.pcap",
    "candidate-upload.pcap",
    "encrypted-dns.pcap",
];

fn flow_named<'a>(events: &'a [Value], name: &str) -> &'a Value {
    one(events, &format!("flow to {name}"), |e| {
        e["event_type"] == "flow" && e["server_name"] == name
    })
}

#[test]
fn events_match_the_reviewed_ones() {
    for name in CAPTURES {
        let run = replay(&[&own(name)], &[]);
        let expected = root().join("tests/expected").join(format!("{name}.jsonl"));
        if std::env::var_os("LANTERN_BLESS").is_some() {
            std::fs::write(&expected, &run.stdout).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&expected)
            .unwrap_or_else(|e| panic!("{}: {e}", expected.display()));
        if run.stdout != want {
            let first = run
                .stdout
                .lines()
                .zip(want.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(run.stdout.lines().count().min(want.lines().count()));
            panic!(
                "{name}: events differ from {} at line {}:\n got: {}\nwant: {}",
                expected.display(),
                first + 1,
                run.stdout.lines().nth(first).unwrap_or("<none>"),
                want.lines().nth(first).unwrap_or("<none>")
            );
        }
    }
}

#[test]
fn curl_to_chatgpt() {
    let events = replay(&[&own("curl-chatgpt.pcap")], &[]).events();
    let flow = flow_named(&events, "chatgpt.com");
    assert_eq!(flow["name_source"], "tls_sni");
    assert_eq!(flow["protocol"], "tls");
    assert_eq!(flow["app"]["id"], "openai-chatgpt");
    assert_eq!(flow["app"]["status"], "unreviewed");
    assert_eq!(flow["client"]["ip"], "10.77.0.10");
    assert_eq!(flow["server"]["ip"], "10.77.1.1");
    assert_eq!(flow["server"]["port"], 443);
    assert_eq!(flow["user"], "10.77.0.10");
    assert_eq!(flow["user_source"], "ip");
    assert_eq!(flow["end_reason"], "closed");
    assert_eq!(flow["tls"]["alpn"], serde_json::json!(["h2", "http/1.1"]));
    assert_eq!(flow["tls"]["version"], "1.3");
    assert!(flow["tls"]["ja4"].as_str().unwrap().starts_with("t13d"));
    // curl's resolver asks for A and AAAA; dnsmasq answers both with TTL 300.
    for (qtype, answer) in [("A", "10.77.1.1"), ("AAAA", "fd77::1:1")] {
        let lookup = one(&events, qtype, |e| {
            e["event_type"] == "dns" && e["qtype"] == qtype
        });
        assert_eq!(lookup["query"], "chatgpt.com");
        assert_eq!(lookup["answers"], serde_json::json!([answer]));
        assert_eq!(lookup["ttls"], serde_json::json!([300]));
        assert_eq!(lookup["rcode"], "NOERROR");
        assert_eq!(lookup["app"]["id"], "openai-chatgpt");
    }
}

#[test]
fn python_uploads_200000_bytes_to_the_anthropic_api_from_the_second_address() {
    let events = replay(&[&own("python-upload.pcap")], &[]).events();
    let flow = flow_named(&events, "api.anthropic.com");
    assert_eq!(flow["app"]["id"], "anthropic-api");
    assert_eq!(flow["user"], "10.77.0.11");
    let up = flow["bytes_up"].as_u64().unwrap();
    // The body, the request head and TLS framing: a little over 200,000 bytes.
    assert!((200_000..202_000).contains(&up), "bytes_up {up}");
    assert!(flow["bytes_down"].as_u64().unwrap() < 5_000);
}

#[test]
fn node_posts_to_the_openai_api() {
    let events = replay(&[&own("node-openai.pcap")], &[]).events();
    let flow = flow_named(&events, "api.openai.com");
    assert_eq!(flow["app"]["id"], "openai-api");
    assert_eq!(flow["app"]["category"], "llm_api");
    assert!(flow["bytes_up"].as_u64().unwrap() > 5_000);
}

#[test]
fn chromium_post_quantum_client_hello_over_two_segments() {
    let events = replay(&[&own("chromium-claude.pcap")], &[]).events();
    let flows: Vec<&Value> = events
        .iter()
        .filter(|e| e["event_type"] == "flow" && e["server_name"] == "claude.ai")
        .collect();
    assert!(!flows.is_empty(), "no flow to claude.ai");
    for flow in flows {
        assert_eq!(flow["name_source"], "tls_sni");
        assert_eq!(flow["app"]["id"], "anthropic-claude");
        assert_eq!(flow["tls"]["alpn"], serde_json::json!(["h2", "http/1.1"]));
        // Chromium offers an encrypted_client_hello extension (GREASE when it has no config).
        assert_eq!(flow["tls"]["ech"], true);
    }
}

#[test]
fn tls_without_sni_is_named_by_the_dns_answer() {
    let events = replay(&[&own("nosni-gemini.pcap")], &[]).events();
    let flow = flow_named(&events, "gemini.google.com");
    assert_eq!(flow["name_source"], "dns_answer");
    assert_eq!(flow["tls"]["sni"], Value::Null);
    assert_eq!(flow["app"]["id"], "google-gemini");
    let lookup = one(&events, "lookup", |e| e["event_type"] == "dns");
    assert_eq!(
        lookup["answers"],
        serde_json::json!([flow["server"]["ip"].clone()])
    );
}

#[test]
fn plain_http_is_named_by_its_host() {
    let events = replay(&[&own("http-ollama.pcap")], &[]).events();
    let flow = flow_named(&events, "ollama.lan");
    assert_eq!(flow["name_source"], "http_host");
    assert_eq!(flow["protocol"], "http");
    assert_eq!(flow["http"]["method"], "POST");
    assert_eq!(flow["server"]["port"], 11434);
    // Not a catalogued name: the request identifies the Ollama server.
    assert_eq!(flow["app"]["id"], "ollama-server");
    assert_eq!(flow["app"]["category"], "local_model_server");
    assert_eq!(flow["app"]["pattern"], "POST /api/generate on port 11434");
}

#[test]
fn local_model_servers_are_recognised_by_their_requests() {
    let run = replay(&[&own("http-local-models.pcap")], &[]);
    let events = run.events();
    let app_of = |name: &str| flow_named(&events, name)["app"].clone();
    // Python to a vLLM-style server on 8000: OpenAI-compatible, on a port no rule names.
    let vllm = app_of("vllm.lan");
    assert_eq!(vllm["id"], "openai-compatible-server");
    assert_eq!(vllm["pattern"], "POST /v1/chat/completions on any port");
    // The same path on LM Studio's port is LM Studio.
    assert_eq!(app_of("lmstudio.lan")["id"], "lm-studio-server");
    // A server reached by address: the flow's name is the address from the Host header.
    let bare = flow_named(&events, "10.77.1.13");
    assert_eq!(bare["app"]["id"], "openai-compatible-server");
    assert_eq!(bare["server"]["port"], 8080);
    // Ollama's /api/chat sent to an ordinary web app on 3000 is not a model server.
    let wiki = flow_named(&events, "wiki.lan");
    assert_eq!(wiki["app"], Value::Null);
    assert_eq!(wiki["candidate"], false);
    // The summary lists each server with its address.
    let summary = lantern_summary(&own("http-local-models.pcap"));
    for row in [
        "vllm.lan (10.77.1.11:8000)",
        "lmstudio.lan (10.77.1.12:1234)",
        "10.77.1.13:8080",
    ] {
        assert!(summary.contains(row), "{row} missing from:\n{summary}");
    }
    assert!(!summary.contains("10.77.1.14"), "{summary}");
}

#[test]
fn dns_over_tcp_and_udp_lookups_are_events_of_their_own() {
    let events = replay(&[&own("dns-lookups.pcap")], &[]).events();
    let lookup = |name: &str| {
        one(&events, name, |e| {
            e["event_type"] == "dns" && e["query"] == name
        })
    };
    let hf = lookup("huggingface.co");
    assert_eq!(hf["transport"], "tcp");
    assert_eq!(hf["app"]["id"], "huggingface");
    assert_eq!(hf["answers"], serde_json::json!(["10.77.1.9"]));
    assert_eq!(lookup("deepseek.com")["app"]["id"], "deepseek-chat");
    let newtool = lookup("newtool.ai");
    assert_eq!(newtool["app"], Value::Null);
    assert_eq!(newtool["candidate"], true);
    let example = lookup("www.example.org");
    assert_eq!(
        (&example["app"], &example["candidate"]),
        (&Value::Null, &Value::Bool(false))
    );
}

#[test]
fn the_same_packets_in_other_formats_give_the_same_events() {
    let base = replay(&[&own("curl-chatgpt.pcap")], &[]);
    assert!(base.events().len() >= 4);
    for variant in [
        "curl-chatgpt.pcapng",
        "curl-chatgpt-nsec.pcap",
        "curl-chatgpt-be.pcap",
    ] {
        let run = replay(&[&own(variant)], &[]);
        assert_eq!(run.stdout, base.stdout, "{variant}");
    }
    for (variant, tags) in [
        ("curl-chatgpt-vlan.pcap", vec![42]),
        ("curl-chatgpt-qinq.pcap", vec![7, 42]),
    ] {
        let run = replay(&[&own(variant)], &[]);
        // Every record's event; a notice is about a flow, not a packet.
        for e in run.events().iter().filter(|e| e["event_type"] != "notice") {
            assert_eq!(e["vlan"], serde_json::json!(tags), "{variant}");
        }
        assert_eq!(
            without(run.events(), &["vlan"]),
            without(base.events(), &[]),
            "{variant}"
        );
    }
    // Captured at the same moment on the "any" device: Linux cooked headers, and timestamps
    // that the kernel took a microsecond apart for each tap.
    for variant in ["curl-chatgpt-sll.pcap", "curl-chatgpt-sll2.pcap"] {
        let run = replay(&[&own(variant)], &[]);
        assert_eq!(
            without(run.events(), &["ts", "end_ts", "first_seen"]),
            without(base.events(), &["ts", "end_ts", "first_seen"]),
            "{variant}"
        );
    }
}

#[test]
fn a_pcapng_with_two_link_types_is_read_whole() {
    let mixed = replay(&[&own("mixed-links.pcapng")], &[]).events();
    let names: Vec<&str> = mixed
        .iter()
        .filter_map(|e| e["query"].as_str().or(e["server_name"].as_str()))
        .collect();
    // Interface 0 (Ethernet) carried the lookups, interface 1 (Linux SLL2) the candidate.
    for name in [
        "huggingface.co",
        "deepseek.com",
        "www.example.org",
        "newtool.ai",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let candidate = flow_named(&mixed, "newtool.ai");
    assert_eq!(candidate["candidate"], true);
    assert_eq!(candidate["app"], Value::Null);
}

#[test]
fn events_do_not_depend_on_the_number_of_threads() {
    let all: Vec<std::path::PathBuf> = CAPTURES.iter().map(|c| own(c)).collect();
    let files: Vec<&std::path::Path> = all.iter().map(|p| p.as_path()).collect();
    let one_thread = replay(&files, &["--threads", "1"]);
    assert!(one_thread.events().len() > 80);
    for threads in ["2", "3", "8"] {
        let run = replay(&files, &["--threads", threads]);
        assert!(
            run.stdout == one_thread.stdout,
            "--threads {threads} gives other events"
        );
    }
}

#[test]
fn chromium_quic_initials_are_decrypted_and_named() {
    let events = replay(&[&own("chromium-quic-gemini.pcap")], &[]).events();
    let quic: Vec<&Value> = events.iter().filter(|e| e["protocol"] == "quic").collect();
    assert_eq!(quic.len(), 1, "one QUIC connection attempt: {quic:#?}");
    let flow = quic[0];
    assert_eq!(flow["server_name"], "gemini.google.com");
    assert_eq!(flow["name_source"], "quic_sni");
    assert_eq!(flow["app"]["id"], "google-gemini");
    assert_eq!(flow["transport"], "udp");
    assert_eq!(flow["tls"]["alpn"], serde_json::json!(["h3"]));
    assert!(flow["tls"]["ja4"].as_str().unwrap().starts_with("q13d"));
    // Chromium sent its Initial pair and retransmissions: six datagrams of 1,250 bytes.
    assert_eq!(
        (flow["packets_up"].as_u64(), flow["bytes_up"].as_u64()),
        (Some(6), Some(7500))
    );
}

/// Drops the fields a variant legitimately changes from every event.
fn without(events: Vec<Value>, fields: &[&str]) -> Vec<Value> {
    events
        .into_iter()
        .map(|mut e| {
            for f in fields {
                e.as_object_mut().unwrap().remove(*f);
            }
            e
        })
        .collect()
}

#[test]
fn the_same_traffic_in_every_tunnel_gives_the_same_events() {
    let bare = replay(&[&own("curl-chatgpt.pcap")], &[]);
    // scapy wrapped the captured frames: same packets, same times, so the same events.
    for kind in [
        "gre",
        "gre-key-seq",
        "gretap",
        "erspan1",
        "erspan2",
        "erspan3",
        "geneve",
        "mpls",
        "ipip",
        "4in6",
        "pppoe",
    ] {
        let run = replay(&[&own(&format!("curl-chatgpt-{kind}.pcap"))], &[]);
        assert!(
            run.stdout == bare.stdout,
            "{kind}: events differ from the bare capture"
        );
    }
    // VLAN tags inside VXLAN are the flow's own.
    let qinq = replay(&[&own("curl-chatgpt-vxlan-qinq.pcap")], &[]).events();
    assert!(
        qinq.iter()
            .filter(|e| e["event_type"] != "notice")
            .all(|e| e["vlan"] == serde_json::json!([100, 200]))
    );
    assert_eq!(without(qinq, &["vlan"]), bare.events());
    // The kernel's VXLAN device, fed by tcpreplay: new times (so events may come out in another
    // order, as epochs end at other packets), the same events otherwise.
    let sorted = |events: Vec<Value>| {
        let mut lines: Vec<String> = without(events, &["ts", "end_ts", "first_seen"])
            .iter()
            .map(Value::to_string)
            .collect();
        lines.sort();
        lines
    };
    let vxlan = replay(&[&own("curl-chatgpt-vxlan.pcap")], &[]).events();
    assert_eq!(sorted(vxlan), sorted(bare.events()));
    // IPv6 inside IPv4.
    let v6 = replay(&[&own("curl-chatgpt-v6.pcap")], &[]);
    let sit = replay(&[&own("curl-chatgpt-v6-6in4.pcap")], &[]);
    assert!(sit.stdout == v6.stdout, "6in4 differs from bare IPv6");
    let flow = flow_named(&v6.events(), "chatgpt.com").clone();
    assert_eq!(flow["client"]["ip"], "fd77::10");
    // QUIC in tunnels.
    let quic = replay(&[&own("chromium-quic-gemini.pcap")], &[]);
    for kind in ["geneve", "erspan3"] {
        let run = replay(&[&own(&format!("chromium-quic-gemini-{kind}.pcap"))], &[]);
        assert!(run.stdout == quic.stdout, "QUIC in {kind} differs");
    }
}

#[test]
fn fragmented_quic_initials_and_dns_answers_are_reassembled() {
    // scapy fragmented every datagram over 600 bytes: more packets (so other flow ids), the
    // same flows.
    let quic = replay(&[&own("chromium-quic-gemini.pcap")], &[]).events();
    let run = lantern_summary(&own("chromium-quic-gemini-fragment.pcap"));
    assert!(run.contains("ip_reassembled 6"), "{run}");
    let fragmented = replay(&[&own("chromium-quic-gemini-fragment.pcap")], &[]).events();
    assert_eq!(
        without(fragmented, &["flow_id", "flows"]),
        without(quic, &["flow_id", "flows"])
    );
    // The kernel fragmented dnsmasq's answer of many addresses over a 576-byte link.
    let events = replay(&[&own("dns-fragmented.pcap")], &[]).events();
    let lookup = one(&events, "lookup", |e| e["event_type"] == "dns");
    assert_eq!(lookup["query"], "api.mistral.ai");
    assert_eq!(lookup["app"]["id"], "mistral-api");
    assert!(
        lookup["answers"].as_array().unwrap().len() >= 32,
        "{lookup}"
    );
    let summary = lantern_summary(&own("dns-fragmented.pcap"));
    assert!(
        summary.contains("ip_fragments 3") && summary.contains("ip_reassembled 1"),
        "{summary}"
    );
}

/// The stderr summary of a replay.
fn lantern_summary(file: &std::path::Path) -> String {
    Replay::of(&[file]).loud().no_events().ok().stderr
}

/// The flows of one of the `clients-same-api` captures that carried a request, in the order
/// the clients ran: (client software family, kind, user kind).
fn clients(capture: &str) -> Vec<(String, String, String)> {
    let events = replay(&[&own(capture)], &[]).events();
    let mut flows: Vec<&Value> = (events.iter())
        .filter(|e| e["event_type"] == "flow" && e["bytes_up"].as_u64() > Some(200))
        .filter(|e| e["protocol"] == "tls" || e["protocol"] == "http")
        .collect();
    flows.sort_by_key(|e| e["ts"].as_str().map(str::to_string));
    let text = |v: &Value| v.as_str().unwrap_or("-").to_string();
    (flows.iter())
        .map(|e| {
            let s = &e["client_software"];
            (text(&s["family"]), text(&s["kind"]), text(&e["user_kind"]))
        })
        .collect()
}

#[test]
fn nine_client_stacks_to_one_api_host_are_told_apart() {
    let program = |family: &str| (family.to_string(), "program".into(), "agent".into());
    let browser = (
        String::from("Chromium"),
        String::from("browser"),
        String::from("unknown"),
    );
    // Over TLS: the fingerprint says the stack (the three Python clients share one), and a
    // browser's call to the API is not an agent's.
    assert_eq!(
        clients("clients-same-api.pcap"),
        [
            program("curl (OpenSSL)"),
            program("Python (OpenSSL)"),
            program("Python (OpenSSL)"),
            program("Python (OpenSSL)"),
            program("Node (OpenSSL)"),
            program("Node (OpenSSL)"),
            program("Go"),
            program("Java"),
            browser.clone(),
            browser,
        ]
    );
    // In plaintext the User-Agent says more; Node's https module sends none.
    let unknown = (
        String::from("-"),
        String::from("unknown"),
        String::from("unknown"),
    );
    let http = clients("clients-same-api-http.pcap");
    assert_eq!(
        http[..8],
        [
            program("curl"),
            program("Python urllib"),
            program("Python requests"),
            program("Python httpx"),
            program("Node"),
            unknown,
            program("Go"),
            program("Java"),
        ]
    );
    assert_eq!(http[8].0, "Chromium");
}

#[test]
fn chromiums_connections_have_one_fingerprint_whatever_their_grease() {
    let events = replay(&[&own("clients-same-api.pcap")], &[]).events();
    let ja4: std::collections::BTreeSet<&str> = (events.iter())
        .filter(|e| e["client_software"]["family"] == "Chromium")
        .filter_map(|e| e["tls"]["ja4"].as_str())
        .collect();
    assert_eq!(ja4.len(), 1, "{ja4:?}");
}

#[test]
fn a_company_gateway_is_found_by_its_api_under_a_prefix() {
    let events = replay(&[&own("gateway-prefix.pcap")], &[]).events();
    let rules: std::collections::BTreeSet<&str> = (events.iter())
        .filter(|e| e["event_type"] == "flow" && e["app"]["id"] == "llm-gateway")
        .filter_map(|e| e["app"]["pattern"].as_str())
        .collect();
    assert_eq!(
        rules.into_iter().collect::<Vec<_>>(),
        [
            "POST */v1/chat/completions on any port",
            "POST */v1/embeddings on any port",
            "POST */v1/messages on any port",
            "POST */v1/responses on any port",
        ]
    );
}

#[test]
fn mcp_over_plaintext_http_from_both_sdks_and_both_transports() {
    let events = replay(
        &[&own("mcp-streamable-http.pcap"), &own("mcp-sse.pcap")],
        &[],
    )
    .events();
    let mcp: Vec<&Value> = (events.iter())
        .filter(|e| e["event_type"] == "flow" && e["protocol"] == "mcp")
        .collect();
    let methods: Vec<(&str, &str)> = (mcp.iter())
        .map(|e| {
            let m = &e["mcp"];
            (
                m["transport"].as_str().unwrap(),
                m["method"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        methods,
        [
            ("streamable_http", "initialize"),
            ("streamable_http", "notifications/initialized"),
            ("streamable_http", "-"),
            ("streamable_http", "tools/list"),
            ("streamable_http", "tools/call"),
            ("streamable_http", "tools/call"),
            ("streamable_http", "resources/list"),
            ("streamable_http", "resources/read"),
            ("streamable_http", "prompts/list"),
            ("sse", "-"),
            ("sse", "initialize"),
        ]
    );
    let init = mcp[0];
    assert_eq!(init["mcp"]["client"], "lantern-capture-client/1.4.0");
    assert_eq!(init["mcp"]["version"], "2025-11-25");
    assert_eq!(init["app"]["id"], "mcp-server-plaintext");
    assert_eq!(init["user_kind"], "agent", "the Python SDK is a program");
    // The tool a call names is kept; its arguments ("vpn") never are.
    let tools: Vec<&str> = mcp
        .iter()
        .filter_map(|e| e["mcp"]["tool"].as_str())
        .collect();
    assert_eq!(tools, ["search_docs", "add"]);
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains("vpn"), "no argument leaves the sensor");
    // A request that is not MCP on the same server stays HTTP.
    assert!(
        events
            .iter()
            .any(|e| e["protocol"] == "http" && e["http"]["method"] == "DELETE")
    );
}

/// The MCP methods and tools of every request of a capture's plaintext MCP flows, in order
/// first seen, and their calls.
fn mcp_calls(capture: &str) -> (Vec<String>, Vec<String>, u64) {
    let events = replay(&[&own(capture)], &[]).events();
    let (mut methods, mut tools, mut calls) = (Vec::new(), Vec::new(), 0);
    for e in events.iter().filter(|e| e["event_type"] == "flow") {
        let mcp = &e["requests"]["mcp"];
        calls += mcp["calls"].as_u64().unwrap_or(0);
        for (list, key) in [(&mut methods, "methods"), (&mut tools, "tools")] {
            for name in mcp[key].as_array().into_iter().flatten() {
                let name = name.as_str().unwrap().to_string();
                if !list.contains(&name) {
                    list.push(name);
                }
            }
        }
    }
    (methods, tools, calls)
}

/// Every request of a plaintext connection is read: the Python SDK's SSE client posts all its
/// messages on one kept-alive connection, and the 2026-revision client sends every request on
/// one; each method and tool that crossed the wire is in the events, never an argument.
#[test]
fn every_mcp_method_and_tool_on_a_connection_is_in_the_events() {
    let (methods, tools, calls) = mcp_calls("mcp-sse.pcap");
    assert_eq!(
        methods,
        [
            "initialize",
            "notifications/initialized",
            "tools/list",
            "tools/call",
            "resources/list",
            "resources/read",
            "prompts/list"
        ]
    );
    assert_eq!(
        (tools, calls),
        (vec!["search_docs".into(), "add".into()], 8)
    );
    let (methods, tools, calls) = mcp_calls("mcp-streamable-http-modern.pcap");
    assert_eq!(
        methods,
        [
            "server/discover",
            "tools/list",
            "tools/call",
            "resources/list",
            "resources/read",
            "prompts/list"
        ]
    );
    assert_eq!(
        (tools, calls),
        (vec!["search_docs".into(), "add".into()], 7)
    );
    let all = replay(&[&own("mcp-sse.pcap")], &[]).stdout;
    assert!(!all.contains("vpn"), "no argument leaves the sensor");
}

/// curl asks a local model server `/v1/models` and then `/v1/chat/completions` on one
/// connection (`--next`): both paths are the flow's, and the second identifies the server. On
/// another kept-alive connection the Python client's JSON-RPC batch of two calls counts two.
#[test]
fn two_requests_on_one_connection_and_a_batch_are_all_read() {
    let run = replay(&[&own("http-keepalive.pcap")], &[]);
    let flows = run.flows();
    let model = flow_named(&flows, "vllm.lan");
    assert_eq!(model["requests"]["count"], 2);
    assert_eq!(
        model["requests"]["paths"],
        serde_json::json!(["GET /v1/models", "POST /v1/chat/completions"])
    );
    assert_eq!(model["app"]["id"], "openai-compatible-server");
    let mcp = flow_named(&flows, "mcp.corp.lan");
    assert_eq!(mcp["requests"]["count"], 3);
    assert_eq!(
        mcp["requests"]["mcp"]["calls"], 4,
        "initialize, initialized, a batch of two"
    );
    assert_eq!(
        mcp["requests"]["mcp"]["methods"],
        serde_json::json!([
            "initialize",
            "notifications/initialized",
            "tools/list",
            "tools/call"
        ])
    );
    assert_eq!(mcp["requests"]["mcp"]["tools"], serde_json::json!(["add"]));
    let summary = lantern_summary(&own("http-keepalive.pcap"));
    assert!(summary.contains("http_more_requests 3"), "{summary}");
}
