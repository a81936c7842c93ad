//! Notices raised by replays of this project's captures (`captures/`): each kind from the
//! traffic that should raise it, with its evidence pointing at the flows of the same run; and
//! the once-per-key rule across a restart (a second replay into the same SQLite file) and across
//! two sensors on one ClickHouse (a system test).

use crate::common::{Replay, own, sqlite_typed};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A policy that makes ChatGPT unsanctioned, in `dir`.
fn policy(dir: &Path) -> String {
    let path = dir.join("policy.toml");
    std::fs::write(&path, "[apps]\nopenai-chatgpt = \"unsanctioned\"\n").unwrap();
    path.display().to_string()
}

/// ChatGPT (new, and unsanctioned), a 201 KB upload to an unreviewed API, a plaintext MCP
/// server, an Ollama model server, an LLM gateway, and a 2 MB upload to an uncatalogued
/// AI-looking name (a candidate: no upload notice, which is for apps nobody approved).
fn captures() -> Vec<PathBuf> {
    [
        "curl-chatgpt.pcap",
        "python-upload.pcap",
        "mcp-streamable-http.pcap",
        "http-ollama.pcap",
        "gateway-prefix.pcap",
        "candidate-upload.pcap",
    ]
    .map(own)
    .to_vec()
}

/// The thresholds the tests use: uploads past 0.1 MiB, names used from one client.
const SETTINGS: [&str; 4] = [
    "--notice-upload-mib",
    "0.1",
    "--notice-candidate-clients",
    "1",
];

fn notices(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["event_type"] == "notice")
        .collect()
}

fn kinds(events: &[Value]) -> Vec<String> {
    let mut kinds: Vec<String> = notices(events)
        .iter()
        .map(|n| n["notice"].as_str().unwrap().to_string())
        .collect();
    kinds.sort();
    kinds
}

#[test]
fn each_notice_kind_is_raised_by_the_traffic_it_is_about() {
    let dir = tempfile::tempdir().unwrap();
    let events = Replay::of(&captures())
        .args(&["--policy", &policy(dir.path())])
        .args(&SETTINGS)
        .ok()
        .events();
    assert_eq!(
        kinds(&events),
        [
            "candidate_spread",
            "first_unsanctioned_use",
            "new_app",
            "new_app",
            "new_gateway",
            "new_mcp_server",
            "new_model_server",
            "upload",
        ]
    );
    for (at, notice) in events.iter().enumerate() {
        if notice["event_type"] != "notice" {
            continue;
        }
        // Its evidence is the flows of this run, the first of them the one just before it
        // (or before the notices it came with).
        let flows: Vec<u64> = (notice["flows"].as_array().unwrap().iter())
            .map(|f| f.as_u64().unwrap())
            .collect();
        let raising = events[..at]
            .iter()
            .rev()
            .find(|e| e["event_type"] == "flow")
            .unwrap();
        assert!(
            flows.contains(&raising["flow_id"].as_u64().unwrap()),
            "{notice}"
        );
        assert!(!notice["message"].as_str().unwrap().is_empty());
        match notice["notice"].as_str().unwrap() {
            "upload" => {
                // Past 0.1 MiB, to apps nobody approved.
                assert!(notice["bytes_up"].as_u64().unwrap() >= 104_857, "{notice}");
                assert_eq!(notice["threshold_bytes"], 104_857);
                assert_ne!(notice["app"]["status"], "sanctioned");
                assert_eq!(notice["severity"], "high");
            }
            "first_unsanctioned_use" => {
                assert_eq!(notice["app"]["id"], "openai-chatgpt");
                assert_eq!(notice["app"]["status"], "unsanctioned");
            }
            "new_mcp_server" => assert_eq!(notice["app"]["category"], "mcp_server"),
            "new_model_server" => assert_eq!(notice["app"]["category"], "local_model_server"),
            "new_gateway" => assert_eq!(notice["app"]["category"], "ai_gateway"),
            "candidate_spread" => {
                assert_eq!(notice["app"], Value::Null);
                assert_eq!(notice["clients"], 1);
                assert_eq!(notice["subject"], notice["server_name"]);
            }
            _ => {}
        }
    }
    // None without a policy that makes an app unsanctioned, and none at all with --notices none.
    let events = Replay::of(&captures()).args(&SETTINGS).ok().events();
    assert!(!kinds(&events).iter().any(|k| k == "first_unsanctioned_use"));
    let events = Replay::of(&captures())
        .args(&["--notices", "none"])
        .ok()
        .events();
    assert!(notices(&events).is_empty());
}

#[test]
fn a_restart_does_not_raise_a_notice_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lantern.db");
    let policy = policy(dir.path());
    let run = |settings: &[&str], extra: &[&str]| {
        Replay::of(&captures())
            .store(db.to_str().unwrap())
            .args(&["--policy", &policy])
            .args(settings)
            .args(extra)
            .ok()
            .events()
    };
    let first = run(&SETTINGS, &[]);
    assert_eq!(notices(&first).len(), 8);
    let rows: Vec<(String, String)> = sqlite_typed(
        &db,
        "SELECT kind, subject FROM notices ORDER BY kind, subject",
    );
    assert_eq!(rows.len(), 8, "{rows:?}");
    // The same traffic again (a restart, reading it again): every key is in the store.
    let again = run(&SETTINGS, &["--force"]);
    assert!(notices(&again).is_empty(), "{:#?}", notices(&again));
    assert_eq!(again.len(), first.len() - 8);
    // A lower threshold is no new key: the uploads were raised today already.
    let lower = run(
        &[
            "--notice-upload-mib",
            "0.01",
            "--notice-candidate-clients",
            "1",
        ],
        &["--force"],
    );
    assert!(notices(&lower).is_empty());
}

#[cfg(feature = "system-tests")]
mod clickhouse {
    use super::*;
    use crate::common::clickhouse::ClickHouse;

    /// Two sensors replay the same traffic into one ClickHouse: the second raises nothing,
    /// and the table holds one row per key.
    #[test]
    fn a_second_sensor_on_the_same_clickhouse_does_not_raise_them_again() {
        let Some(server) = ClickHouse::start() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let policy = policy(dir.path());
        let url = server.url("notices_db");
        let run = |sensor: &str| {
            let spool = dir.path().join(format!("spool-{sensor}"));
            Replay::of(&captures())
                .store(&url)
                .sensor(sensor)
                .args(&["--policy", &policy, "--spool", spool.to_str().unwrap()])
                .args(&SETTINGS)
                .args(&["--force"])
                .ok()
                .events()
        };
        assert_eq!(notices(&run("hq")).len(), 8);
        assert!(notices(&run("branch")).is_empty());
        let keys = server.count("SELECT count() FROM notices_db.notices FINAL");
        assert_eq!(keys, 8);
    }
}
