//! `lantern ingest` of the logs real Suricata 8.0.6 wrote from the same captures
//! (`../shared/nsm-logs/eve/`) against `lantern replay` of the captures: the same flows to the
//! same apps by the same users, bytes within what EVE's counting allows, the same rollups and
//! report; every difference is one the README says logs cannot know, asserted as such.

use crate::common::{Replay, arg, lantern, root, sqlite_rows};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `../shared/nsm-logs/eve/`.
fn eve_dir() -> PathBuf {
    let dir = root().join("../shared/nsm-logs/eve");
    assert!(
        dir.join("suricata.yaml").is_file(),
        "{} is missing: the shared NSM logs must sit beside the repository (../shared)",
        dir.display()
    );
    dir
}

/// Every capture with its EVE file.
fn captures_with_eve() -> Vec<(PathBuf, PathBuf)> {
    let dir = eve_dir();
    let mut pairs = Vec::new();
    for (sub, captures) in [
        ("captures", root().join("captures")),
        ("shared", root().join("../shared/captures")),
    ] {
        let mut names: Vec<String> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".eve.json"))
            .collect();
        names.sort();
        for name in names {
            let capture = name.trim_end_matches(".eve.json").replace("__", "/");
            pairs.push((captures.join(capture), dir.join(sub).join(&name)));
        }
    }
    assert!(pairs.len() > 100, "{} EVE files", pairs.len());
    pairs
}

/// An AI flow of a run, by its endpoints.
type Flows = BTreeMap<(String, String), Value>;

fn endpoints(flow: &Value) -> (String, String) {
    let side = |s: &Value| format!("{}:{}", s["ip"].as_str().unwrap(), s["port"]);
    (side(&flow["client"]), side(&flow["server"]))
}

fn flows(events: Vec<Value>, ai_only: bool) -> Flows {
    events
        .into_iter()
        .filter(|e| e["event_type"] == "flow" && !(ai_only && e["app"].is_null()))
        .map(|e| (endpoints(&e), e))
        .collect()
}

fn ingest_events(eve: &Path) -> Vec<Value> {
    let run = lantern(&[
        "ingest",
        "--no-store",
        "--quiet",
        "--events",
        "-",
        &arg(eve),
    ]);
    assert_eq!(run.status, 0, "{}: {}", eve.display(), run.stderr);
    run.events()
}

/// Why a flow replay names cannot come out the same from logs, if it cannot.
fn unknowable(flow: &Value) -> Option<&'static str> {
    if flow["tls"]["ech_kind"] == "real" {
        return Some("real ECH: logs give the outer SNI, not the extension");
    }
    if flow["protocol"] == "mcp" {
        return Some("MCP over plaintext HTTP: logs hold no request bodies");
    }
    let v6 = flow["client"]["ip"].as_str().unwrap().contains(':');
    if v6 && !flow["device"].is_null() {
        return Some("an IPv6 client known by its DHCPv6 lease: Suricata logs DHCPv4 only");
    }
    None
}

/// Payload bytes from EVE's frame bytes are above the packet path's by at most the TCP options
/// (40 bytes a packet), and below by at most the link header Suricata does not count for
/// tunnelled packets (14 bytes a packet).
fn bytes_agree(replay: &Value, logs: &Value, way: &str, packets: &str) -> bool {
    let (r, l, p) = (
        replay[way].as_u64().unwrap(),
        logs[way].as_u64().unwrap(),
        replay[packets].as_u64().unwrap(),
    );
    l + 14 * p >= r && l <= r + 40 * p
}

#[test]
fn the_eve_of_every_capture_gives_the_flows_its_replay_gives() {
    let mut compared = 0;
    let mut exceptions = BTreeMap::<&str, usize>::new();
    for (capture, eve) in captures_with_eve() {
        let replay = flows(Replay::of(&[&capture]).run().events(), true);
        let logs = flows(ingest_events(&eve), false);
        let name = capture.display();
        for (key, r) in &replay {
            let l = logs.get(key);
            if let Some(why) = unknowable(r) {
                *exceptions.entry(why).or_default() += 1;
                // Each exception comes out as the README says.
                match why.split(':').next().unwrap() {
                    "real ECH" => assert_eq!(l.unwrap()["server_name"], r["tls"]["sni"], "{name}"),
                    "MCP over plaintext HTTP" => assert!(l.unwrap()["app"].is_null(), "{name}"),
                    _ => assert_eq!(l.unwrap()["user"], r["client"]["ip"], "{name}"),
                }
                continue;
            }
            let l = l.unwrap_or_else(|| panic!("{name}: {key:?} not from logs: {r}"));
            for field in ["user", "user_kind", "server_name", "protocol", "transport"] {
                assert_eq!(l[field], r[field], "{name} {key:?} {field}");
            }
            assert_eq!(l["app"]["id"], r["app"]["id"], "{name} {key:?}");
            assert_eq!(l["packets_up"], r["packets_up"], "{name} {key:?}");
            assert_eq!(l["packets_down"], r["packets_down"], "{name} {key:?}");
            assert!(
                bytes_agree(r, l, "bytes_up", "packets_up"),
                "{name} {r} {l}"
            );
            assert!(
                bytes_agree(r, l, "bytes_down", "packets_down"),
                "{name} {r} {l}"
            );
            compared += 1;
        }
        for (key, l) in logs.iter().filter(|(_, l)| !l["app"].is_null()) {
            assert!(
                replay.contains_key(key),
                "{name}: {key:?} only from logs: {l}"
            );
        }
    }
    assert!(compared >= 80, "{compared} flows compared");
    assert_eq!(exceptions.len(), 3, "{exceptions:?}");
}

/// The rollups of a store: (hour, user, app) with flows, lookups, bytes up and down.
type Rollups = BTreeMap<(String, String, String), (i64, i64, i64, i64)>;

fn rollups(store: &Path) -> Rollups {
    let rows = sqlite_rows(
        store,
        "SELECT hour, user, app_id, SUM(flows), SUM(dns_lookups), SUM(bytes_up), \
         SUM(bytes_down) FROM rollups_hourly GROUP BY hour, user, app_id",
    );
    rows.into_iter()
        .map(|row| {
            let r: Vec<&str> = row.split('\t').collect();
            let n = |i: usize| r[i].parse::<i64>().unwrap();
            let key = (r[0].to_string(), r[1].to_string(), r[2].to_string());
            (key, (n(3), n(4), n(5), n(6)))
        })
        .collect()
}

#[test]
fn the_rollups_and_report_of_logs_are_those_of_the_packets() {
    let dir = tempfile::tempdir().unwrap();
    let (from_packets, from_logs) = (dir.path().join("p.db"), dir.path().join("l.db"));
    let ours: Vec<_> = captures_with_eve()
        .into_iter()
        .filter(|(c, _)| c.starts_with(root().join("captures")))
        .filter(|(c, _)| {
            let name = c.file_name().unwrap().to_string_lossy();
            // The captures with a flow logs cannot know (see the test above), and the one
            // whose DNS inside a 6in4 tunnel Suricata did not log.
            !name.contains("mcp")
                && !name.contains("real-ech")
                && name != "identity.pcap"
                && name != "curl-chatgpt-v6-6in4.pcap"
        })
        .collect();
    for (capture, eve) in &ours {
        // A capture cut short replays to its cut and says so: its exit is not the point here.
        Replay::of(&[capture])
            .store(arg(&from_packets))
            .no_events()
            .run();
        let run = lantern(&["ingest", "--quiet", "--store", &arg(&from_logs), &arg(eve)]);
        assert_eq!(run.status, 0, "{}", run.stderr);
    }
    let (p, l) = (rollups(&from_packets), rollups(&from_logs));
    assert_eq!(p.keys().collect::<Vec<_>>(), l.keys().collect::<Vec<_>>());
    // Bytes per flow are compared within EVE's per-packet bound above; summed by the hour they
    // stay within a quarter below and a half above (TCP timestamps on small packets).
    for (key, (flows, lookups, up, down)) in &p {
        let (lf, ll, lu, ld) = l[key];
        assert_eq!((lf, ll), (*flows, *lookups), "{key:?}");
        assert!(
            lu >= up - up / 4 && lu <= up + up / 2 + 400,
            "{key:?} {up} {lu}"
        );
        assert!(
            ld >= down - down / 4 && ld <= down + down / 2 + 400,
            "{key:?} {down} {ld}"
        );
    }
    let report = |store: &Path| -> Value {
        let run = lantern(&[
            "report",
            "--store",
            &arg(store),
            "--from",
            "2026-11-01",
            "--to",
            "2026-12-31",
            "--format",
            "json",
        ]);
        assert_eq!(run.status, 0, "{}", run.stderr);
        serde_json::from_str(&run.stdout).unwrap()
    };
    let apps = |r: &Value| -> Vec<(Value, Value, Value, Value)> {
        let rows = r["apps"].as_array().unwrap();
        let mut out: Vec<_> = rows
            .iter()
            .map(|a| {
                (
                    a["app_id"].clone(),
                    a["users"].clone(),
                    a["flows"].clone(),
                    a["dns_lookups"].clone(),
                )
            })
            .collect();
        out.sort_by_key(|a| a.0.to_string());
        out
    };
    let (rp, rl) = (report(&from_packets), report(&from_logs));
    assert!(!apps(&rp).is_empty());
    assert_eq!(apps(&rp), apps(&rl));
}

/// `../shared/nsm-logs/NAME`.
fn nsm_logs(name: &str) -> PathBuf {
    let dir = root().join("../shared/nsm-logs").join(name);
    assert!(dir.is_dir(), "{} is missing (../shared)", dir.display());
    dir
}

#[test]
fn zeeks_tsv_and_json_logs_of_the_same_traffic_give_identical_stores() {
    let dir = tempfile::tempdir().unwrap();
    let mut dumps = Vec::new();
    for format in ["tsv", "json"] {
        let store = dir.path().join(format!("{format}.db"));
        let logs = nsm_logs("zeek-wrccdc").join(format);
        let run = lantern(&[
            "ingest",
            "--store",
            &arg(&store),
            "--sensor",
            "wrccdc",
            &arg(&logs),
        ]);
        assert_eq!(run.status, 0, "{}", run.stderr);
        // 49,474 ssl lines make as many flows (no conn log: none waits), 53,613 lookups.
        assert!(
            run.stderr.contains("49474 flows, 53613 DNS lookups"),
            "{}",
            run.stderr
        );
        let tables = ["flows", "dns", "rollups_hourly", "coverage_hourly"];
        let dump: Vec<Vec<String>> = tables
            .iter()
            .map(|t| {
                sqlite_rows(
                    &store,
                    &format!("SELECT * FROM {t} ORDER BY 1, 2, 3, 4, 5, 6"),
                )
            })
            .collect();
        assert!(dump[1].len() > 10 && !dump[3].is_empty(), "{format}");
        dumps.push(dump);
    }
    assert!(dumps[0] == dumps[1], "TSV and JSON stores differ");
}

#[test]
fn zeeks_own_test_logs_are_read_without_a_panic_and_every_bad_line_is_named() {
    let run = lantern(&["ingest", "--no-store", &arg(&nsm_logs("zeek-btest"))]);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    // Zeek's test tool masks times (XXXXXXXXXX.XXXXXX): those lines are malformed, counted,
    // the first of each file named with its line number, and the run says so by its exit.
    let counted = run.stderr.contains("log_lines_malformed");
    let named = run
        .stderr
        .lines()
        .any(|l| l.contains(": line ") && l.contains("zeek-btest"));
    assert!(counted && named, "{}", run.stderr);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(run.stderr.contains("log file(s)"), "{}", run.stderr);
}

#[test]
fn a_log_already_ingested_is_refused_unless_forced_and_a_named_file_that_is_no_log_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = arg(&dir.path().join("s.db"));
    let eve = arg(&eve_dir().join("captures/curl-chatgpt.pcap.eve.json"));
    let ingest = |extra: &[&str]| {
        let mut args = vec!["ingest", "--quiet", "--store", store.as_str()];
        args.extend(extra);
        args.push(eve.as_str());
        lantern(&args)
    };
    assert_eq!(ingest(&[]).status, 0);
    let again = ingest(&[]);
    assert_eq!(again.status, 1, "{}", again.stderr);
    assert!(
        again.stderr.contains("already ingested into"),
        "{}",
        again.stderr
    );
    assert!(
        again.stderr.contains("ingest it again with --force"),
        "{}",
        again.stderr
    );
    let rows = |sql: &str| sqlite_rows(&dir.path().join("s.db"), sql);
    assert_eq!(rows("SELECT COUNT(*) FROM flows"), ["1"]);
    assert_eq!(ingest(&["--force"]).status, 0);
    assert_eq!(rows("SELECT COUNT(*) FROM flows"), ["2"]);
    let not_a_log = lantern(&["ingest", "--no-store", &arg(&root().join("README.md"))]);
    assert_eq!(not_a_log.status, 1);
    assert!(
        not_a_log
            .stderr
            .contains("README.md: not a Zeek or EVE log"),
        "{}",
        not_a_log.stderr
    );
}
