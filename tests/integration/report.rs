//! `lantern report` on stores built from real captures: its numbers against the events of the
//! same replay, every format, hostile names escaped in each, empty stores and periods, a policy
//! with a group's exception, the HTML page in headless Chromium (no console errors, no
//! network requests), and the filters (`--sensor`, `--user`, `--app`, `--group`) against the
//! numbers of the unfiltered report of a store written by two sensors, with the user's timeline
//! in every format. The Chromium test is a system test (feature `system-tests`).

use crate::common::{
    self, Replay, dana_identity, lantern, lantern_in, lantern_ok, own, own_captures,
};
use lantern::capture::Timestamp;
use lantern::store::{Batch, DnsRow, FlowRow, RollupRow, SqliteStore};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn policy() -> String {
    common::root()
        .join("dist/policy.toml")
        .display()
        .to_string()
}

/// The report's tables besides the headline, as CSV files and JSON fields.
const TABLES: [&str; 8] = [
    "apps",
    "new_apps",
    "top_users",
    "api_use",
    "categories",
    "trend",
    "candidates",
    "local_servers",
];

const ALL_TIME: [&str; 4] = ["--from", "1970-01-01", "--to", "2100-12-31"];

/// The `.pcap` files of this project's captures (not the `.pcapng` ones), sorted.
fn own_pcaps() -> Vec<PathBuf> {
    (own_captures().into_iter())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect()
}

/// Every capture of this project, replayed into `dir/s.db` with the example policy; the
/// events.
fn replay_own(dir: &Path) -> Vec<Value> {
    Replay::of(&own_pcaps())
        .store("s.db")
        .args(&["--policy", &policy()])
        .dir(dir)
        .run()
        .events()
}

#[derive(Default, Debug, PartialEq)]
struct AppCount {
    flows: u64,
    lookups: u64,
    bytes_up: u64,
    bytes_down: u64,
    users: BTreeSet<String>,
}

#[test]
fn the_report_counts_what_the_events_say_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let events = replay_own(dir.path());
    // What the events say, app by app.
    let mut apps: BTreeMap<String, AppCount> = BTreeMap::new();
    let mut statuses: BTreeMap<String, String> = BTreeMap::new();
    let mut candidates: BTreeMap<String, (u64, BTreeSet<String>)> = BTreeMap::new();
    for e in &events {
        let kind = e["event_type"].as_str().unwrap();
        if kind != "flow" && kind != "dns" {
            continue;
        }
        let user = e["user"].as_str().unwrap().to_string();
        if e["candidate"] == true {
            let name = e["server_name"].as_str().or(e["query"].as_str()).unwrap();
            let c = candidates.entry(name.to_string()).or_default();
            c.0 += 1;
            c.1.insert(user.clone());
        }
        let Some(id) = e["app"]["id"].as_str() else {
            continue;
        };
        if e.get("group").is_none_or(Value::is_null) {
            statuses.insert(id.into(), e["app"]["status"].as_str().unwrap().into());
        }
        let a = apps.entry(id.to_string()).or_default();
        a.users.insert(user);
        if kind == "flow" {
            a.flows += 1;
            a.bytes_up += e["bytes_up"].as_u64().unwrap();
            a.bytes_down += e["bytes_down"].as_u64().unwrap();
        } else {
            a.lookups += 1;
        }
    }
    assert!(apps.len() >= 10, "{apps:?}");
    let mut args = vec!["report", "--store", "s.db", "--policy"];
    let p = policy();
    args.push(&p);
    args.extend(ALL_TIME);
    let json: Value = serde_json::from_str(
        &lantern_ok(dir.path(), &[&args[..], &["--format", "json"]].concat()).stdout,
    )
    .unwrap();
    let reported: BTreeMap<String, AppCount> = json["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let id = a["app_id"].as_str().unwrap().to_string();
            let users: BTreeSet<String> =
                apps.get(&id).map(|c| c.users.clone()).unwrap_or_default();
            assert_eq!(
                a["users"].as_u64().unwrap(),
                users.len() as u64,
                "{id} users"
            );
            assert_eq!(
                a["status"].as_str(),
                statuses.get(&id).map(String::as_str),
                "{id} status"
            );
            (
                id,
                AppCount {
                    flows: a["flows"].as_u64().unwrap(),
                    lookups: a["dns_lookups"].as_u64().unwrap(),
                    bytes_up: a["bytes_up"].as_u64().unwrap(),
                    bytes_down: a["bytes_down"].as_u64().unwrap(),
                    users,
                },
            )
        })
        .collect();
    assert_eq!(reported, apps);
    let h = &json["headline"];
    assert_eq!(h["apps"].as_u64().unwrap(), apps.len() as u64);
    let sum = |f: fn(&AppCount) -> u64| apps.values().map(f).sum::<u64>();
    assert_eq!(h["flows"].as_u64().unwrap(), sum(|a| a.flows));
    assert_eq!(h["bytes_up"].as_u64().unwrap(), sum(|a| a.bytes_up));
    assert_eq!(h["dns_lookups"].as_u64().unwrap(), sum(|a| a.lookups));
    // The example policy makes local model servers unsanctioned: the data sent to them.
    let unsanctioned: u64 = (apps.iter())
        .filter(|(id, _)| statuses.get(*id).is_some_and(|s| s == "unsanctioned"))
        .map(|(_, a)| a.bytes_up)
        .sum();
    assert!(unsanctioned > 0);
    assert_eq!(h["bytes_up_unsanctioned"].as_u64().unwrap(), unsanctioned);
    let reported_candidates: BTreeMap<String, (u64, u64)> = json["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let n = c["flows"].as_u64().unwrap() + c["lookups"].as_u64().unwrap();
            (
                c["name"].as_str().unwrap().to_string(),
                (n, c["users"].as_u64().unwrap()),
            )
        })
        .collect();
    let expected: BTreeMap<String, (u64, u64)> = (candidates.into_iter())
        .map(|(k, (n, users))| (k, (n, users.len() as u64)))
        .collect();
    assert_eq!(reported_candidates, expected);
    let servers = json["local_servers"].as_array().unwrap();
    assert!(servers.len() >= 2, "{servers:?}");

    // The other formats carry the same numbers.
    let md = lantern_ok(dir.path(), &[&args[..], &["--format", "md"]].concat()).stdout;
    let html_path = dir.path().join("r.html");
    lantern_ok(
        dir.path(),
        &[
            &args[..],
            &["--format", "html", "-o", html_path.to_str().unwrap()],
        ]
        .concat(),
    );
    let html = std::fs::read_to_string(&html_path).unwrap();
    lantern_ok(
        dir.path(),
        &[&args[..], &["--format", "csv", "-o", "csv"]].concat(),
    );
    let mut csv = csv::Reader::from_path(dir.path().join("csv/apps.csv")).unwrap();
    let header = csv.headers().unwrap().clone();
    assert_eq!(&header[0], "app_id");
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), apps.len());
    for row in &rows {
        let id = &row[0];
        let a = &apps[id];
        let col = |name: &str| row[header.iter().position(|h| h == name).unwrap()].to_string();
        assert_eq!(col("flows"), a.flows.to_string(), "{id}");
        assert_eq!(col("bytes_up"), a.bytes_up.to_string(), "{id}");
        assert!(md.contains(&format!("| {id} |")), "{id} in markdown");
        let app = (json["apps"].as_array().unwrap().iter())
            .find(|a| a["app_id"] == id)
            .unwrap();
        let name = app["name"].as_str().unwrap();
        assert!(html.contains(name), "{name} in html");
    }
    for table in std::iter::once("headline").chain(TABLES) {
        assert!(
            dir.path().join(format!("csv/{table}.csv")).is_file(),
            "{table}.csv"
        );
    }
    // The trend is of the eight weeks ending with the period: none end in 2100. The week of
    // the captures has all three charts.
    assert_eq!(
        html.matches("<svg").count(),
        2,
        "bars of apps and categories"
    );
    let day = &events.iter().find(|e| e["event_type"] == "flow").unwrap()["ts"]
        .as_str()
        .unwrap()[..10];
    let week = lantern_ok(
        dir.path(),
        &[
            "report", "--store", "s.db", "--from", day, "--to", day, "--format", "html",
        ],
    )
    .stdout;
    assert_eq!(week.matches("<svg").count(), 3, "and the trend");
    // CSV columns are the JSON report's field names (on the captures' day, where no table is
    // empty).
    let day_args = [
        "report", "--store", "s.db", "--policy", &p, "--from", day, "--to", day,
    ];
    lantern_ok(
        dir.path(),
        &[&day_args[..], &["--format", "csv", "-o", "csv-day"]].concat(),
    );
    let day_json: Value = serde_json::from_str(
        &lantern_ok(dir.path(), &[&day_args[..], &["--format", "json"]].concat()).stdout,
    )
    .unwrap();
    for table in TABLES {
        let mut reader =
            csv::Reader::from_path(dir.path().join(format!("csv-day/{table}.csv"))).unwrap();
        let columns: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_string)
            .collect();
        let first = &day_json[table][0];
        let mut keys: Vec<String> = first
            .as_object()
            .unwrap_or_else(|| panic!("{table} is empty"))
            .keys()
            .cloned()
            .collect();
        let mut sorted = columns.clone();
        sorted.sort();
        keys.sort();
        assert_eq!(sorted, keys, "{table}");
    }
    let headline: Vec<String> = csv::Reader::from_path(dir.path().join("csv-day/headline.csv"))
        .unwrap()
        .records()
        .map(|r| r.unwrap()[0].to_string())
        .collect();
    let mut keys: Vec<String> = day_json["headline"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    keys.sort();
    let mut headline_sorted = headline.clone();
    headline_sorted.sort();
    assert_eq!(headline_sorted, keys);
}

/// A store holding names as hostile as the wire can make them.
fn hostile_store(path: &Path) {
    let hostile = [
        "<script>alert(1)</script>",
        "=HYPERLINK(\"http://evil.example/\",\"x\")",
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(1+1)",
        "| **bold** [link](http://evil.example) `code`",
        "\"quoted\" & 'single' \u{202e}rtl",
    ];
    let t = Timestamp::from_secs(1_795_305_600 + 3600);
    let us = t.0 / 1000;
    let flows: Vec<FlowRow> = hostile
        .iter()
        .enumerate()
        .map(|(i, name)| FlowRow {
            ts_us: us,
            end_ts_us: us,
            flow_id: i as u64,
            client_ip: "10.0.0.1".into(),
            client_port: 1000 + i as u16,
            server_ip: "10.0.0.2".into(),
            server_port: 11434,
            transport: "tcp".into(),
            protocol: "http".into(),
            server_name: Some(format!("{name}.ai")),
            name_source: "http_host".into(),
            user: name.to_string(),
            user_source: "kerberos".into(),
            user_kind: "person".into(),
            device: Some(name.to_string()),
            app_id: (i % 2 == 0).then(|| "ollama-server".into()),
            candidate: u8::from(i % 2 == 1),
            bytes_up: 100,
            bytes_down: 10,
            packets_up: 1,
            packets_down: 1,
            ..FlowRow::default()
        })
        .collect();
    let dns: Vec<DnsRow> = hostile
        .iter()
        .map(|name| DnsRow {
            ts_us: us,
            flow_id: 99,
            client_ip: "10.0.0.1".into(),
            client_port: 53000,
            server_ip: "10.0.0.53".into(),
            server_port: 53,
            transport: "udp".into(),
            query: format!("{name}.gpt"),
            qtype: "A".into(),
            user: name.to_string(),
            user_source: "kerberos".into(),
            user_kind: "person".into(),
            candidate: 1,
            ..DnsRow::default()
        })
        .collect();
    let rollups: Vec<RollupRow> = hostile
        .iter()
        .map(|name| RollupRow {
            hour: t.hour_floor().secs(),
            user: name.to_string(),
            app_id: "ollama-server".into(),
            user_source: "kerberos".into(),
            user_kind: "person".into(),
            device: name.to_string(),
            flows: 1,
            bytes_up: 100,
            bytes_down: 10,
            first_seen_us: us,
            last_seen_us: us,
            ..RollupRow::default()
        })
        .collect();
    let mut store = SqliteStore::open(path, "<b>sensor</b>").unwrap();
    store
        .write(Batch {
            flows,
            dns,
            rollups,
            ..Batch::default()
        })
        .unwrap();
}

#[test]
fn hostile_names_are_escaped_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    hostile_store(&dir.path().join("h.db"));
    let base = ["report", "--store", "h.db", "--week", "2026-W47"];
    let html = lantern_ok(dir.path(), &[&base[..], &["--format", "html"]].concat()).stdout;
    // minijinja escapes `/` too.
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
        "escaped in html"
    );
    assert!(!html.contains("<script>"), "no script element");
    assert!(!html.contains("<b>sensor"), "{html}");
    assert_eq!(html.matches("<script").count(), 0);
    let md = lantern_ok(dir.path(), &[&base[..], &["--format", "md"]].concat()).stdout;
    assert!(
        md.contains("&lt;script&gt;alert\\(1\\)&lt;/script&gt;"),
        "{md}"
    );
    assert!(
        md.contains("\\| \\*\\*bold\\*\\* \\[link\\]\\(http://evil.example\\) \\`code\\`"),
        "{md}"
    );
    lantern_ok(
        dir.path(),
        &[&base[..], &["--format", "csv", "-o", "csv"]].concat(),
    );
    let mut seen = 0;
    for entry in std::fs::read_dir(dir.path().join("csv")).unwrap() {
        let path = entry.unwrap().path();
        let mut reader = csv::Reader::from_path(&path).unwrap();
        for record in reader.records() {
            for cell in record.unwrap().iter() {
                seen += 1;
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "{}: {cell:?} would run as a formula",
                    path.display()
                );
            }
        }
    }
    assert!(seen > 20);
    let csv_users = std::fs::read_to_string(dir.path().join("csv/top_users.csv")).unwrap();
    assert!(csv_users.contains("'=HYPERLINK"), "{csv_users}");
    assert!(
        csv_users.contains("'@SUM(1+1)") && csv_users.contains("'-2+3"),
        "{csv_users}"
    );
    let json: Value = serde_json::from_str(
        &lantern_ok(dir.path(), &[&base[..], &["--format", "json"]].concat()).stdout,
    )
    .unwrap();
    let users: Vec<&str> = (json["top_users"].as_array().unwrap().iter())
        .map(|u| u["user"].as_str().unwrap())
        .collect();
    assert!(
        users.contains(&"<script>alert(1)</script>"),
        "JSON keeps the names: {users:?}"
    );
    let candidates = json["candidates"].as_array().unwrap();
    assert!(
        candidates
            .iter()
            .any(|c| c["name"] == "=HYPERLINK(\"http://evil.example/\",\"x\").ai")
    );
}

#[test]
fn an_empty_store_and_an_empty_period_say_so_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    // A store that exists and holds nothing.
    drop(SqliteStore::open(&dir.path().join("empty.db"), "s").unwrap());
    hostile_store(&dir.path().join("h.db"));
    for (store, week, says) in [
        ("empty.db", "2026-W47", "The store holds no AI use yet"),
        (
            "h.db",
            "2026-W30",
            "No AI use was seen from 2026-07-20 to 2026-07-26.",
        ),
    ] {
        for format in ["html", "md"] {
            let out = lantern_ok(
                dir.path(),
                &[
                    "report", "--store", store, "--week", week, "--format", format,
                ],
            )
            .stdout;
            assert!(out.contains(says), "{store} {format}: {out}");
        }
        let json: Value = serde_json::from_str(
            &lantern_ok(
                dir.path(),
                &[
                    "report", "--store", store, "--week", week, "--format", "json",
                ],
            )
            .stdout,
        )
        .unwrap();
        assert_eq!(json["headline"]["apps"], 0);
        assert_eq!(json["store_has_data"], store != "empty.db");
        lantern_ok(
            dir.path(),
            &[
                "report",
                "--store",
                store,
                "--week",
                week,
                "--format",
                "csv",
                "-o",
                &format!("csv-{store}"),
            ],
        );
    }
    let run = lantern_in(
        Some(dir.path()),
        &[],
        &["report", "--store", "h.db", "--format", "csv"],
    );
    assert_eq!(run.status, 1);
    assert_eq!(
        run.stderr,
        "lantern: csv writes one file per table: give --output DIR\n"
    );
}

#[test]
fn a_report_of_a_store_that_is_not_there_is_one_line() {
    let run = lantern(&["report", "--store", "/nonexistent/lantern.db"]);
    assert_eq!(run.status, 1);
    assert_eq!(
        run.stderr,
        "lantern: /nonexistent/lantern.db: no such store\n"
    );
}

#[test]
fn a_groups_exception_changes_the_status_for_that_group_only() {
    let dir = tempfile::tempdir().unwrap();
    // captures/http-local-models.pcap: clients on 10.77.0.10 ask local model servers.
    dana_identity(dir.path());
    let capture = own("http-local-models.pcap").display().to_string();
    let p = policy();
    let run = lantern_ok(
        dir.path(),
        &[
            "replay",
            "-q",
            "--store",
            "s.db",
            "--policy",
            &p,
            "--identity",
            "identity.csv",
            "--events",
            "-",
            &capture,
        ],
    );
    let statuses: BTreeSet<(String, String)> = (run.events().iter())
        .filter(|e| e["event_type"] != "notice" && e["app"]["category"] == "local_model_server")
        .map(|e| {
            (
                e["group"].as_str().unwrap_or("").to_string(),
                e["app"]["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        BTreeSet::from([("engineering".to_string(), "tolerated".to_string())])
    );
    let json: Value = serde_json::from_str(
        &lantern_ok(
            dir.path(),
            &[
                &[
                    "report", "--store", "s.db", "--format", "json", "--policy", &p,
                ][..],
                &ALL_TIME,
            ]
            .concat(),
        )
        .stdout,
    )
    .unwrap();
    // The app is unsanctioned in the inventory, but dana's group may use it: no data counted
    // as sent to unsanctioned apps, and dana is not among the top users of unsanctioned apps.
    let local = (json["apps"].as_array().unwrap().iter())
        .find(|a| a["category"] == "local_model_server")
        .unwrap();
    assert_eq!(local["status"], "unsanctioned");
    assert_eq!(json["headline"]["bytes_up_unsanctioned"], 0);
    assert!(
        json["top_users"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["app_id"] != local["app_id"])
    );
}

/// Hosts Chromium itself talks to in the background (time, component updates, sign-in), not the
/// page: a request anywhere else came from the page.
#[cfg(feature = "system-tests")]
const CHROMIUM_OWN: [&str; 8] = [
    "clients2.google.com",
    "update.googleapis.com",
    "accounts.google.com",
    "optimizationguide-pa.googleapis.com",
    "content-autofill.googleapis.com",
    "safebrowsingohttpgateway.googleapis.com",
    "edgedl.me.gvt1.com",
    "redirector.gvt1.com",
];

/// What Chromium did with a page: its console messages, the hosts the page asked for through
/// the proxy, and its screenshot.
#[cfg(feature = "system-tests")]
struct Loaded {
    console: Vec<String>,
    requested: Vec<String>,
    screenshot: Vec<u8>,
}

/// Loads `page` in headless Chromium with every request sent to a proxy that records it.
#[cfg(feature = "system-tests")]
fn load_in_chromium(page: &Path, screenshot: &Path) -> Loaded {
    use std::io::Read;
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = proxy.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    {
        let seen = std::sync::Arc::clone(&seen);
        std::thread::spawn(move || {
            for mut conn in proxy.incoming().flatten() {
                let mut head = [0u8; 512];
                let n = conn.read(&mut head).unwrap_or(0);
                let line = String::from_utf8_lossy(&head[..n])
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string();
                seen.lock().unwrap().push(line);
            }
        });
    }
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("chromium")
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1000,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--proxy-server=http://127.0.0.1:{port}"))
        .arg("--proxy-bypass-list=<-loopback>")
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed: {stderr}");
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    let requested = seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|line| {
            // "GET http://host/path HTTP/1.1" or "CONNECT host:443 HTTP/1.1"
            let target = line.split_whitespace().nth(1)?;
            let host = target
                .trim_start_matches("http://")
                .split(['/', ':'])
                .next()?;
            Some(host.to_string())
        })
        .filter(|host| !CHROMIUM_OWN.contains(&host.as_str()))
        .collect();
    Loaded {
        console,
        requested,
        screenshot: std::fs::read(screenshot).unwrap_or_default(),
    }
}

/// A system test (feature `system-tests`): it needs Chromium.
#[test]
#[cfg(feature = "system-tests")]
fn the_html_report_loads_in_chromium_with_no_console_errors_and_no_requests() {
    if !common::can_run(&["chromium"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The harness sees a page's console and its requests: a page with both, first.
    let control = dir.path().join("control.html");
    std::fs::write(
        &control,
        "<!DOCTYPE html><p>x</p><script>console.error('boom')</script><img src=\"http://lantern-test.invalid/x.png\">",
    )
    .unwrap();
    let loaded = load_in_chromium(&control, &dir.path().join("control.png"));
    assert!(
        loaded.console.iter().any(|l| l.contains("boom")),
        "{:?}",
        loaded.console
    );
    assert!(
        loaded.requested.iter().any(|h| h == "lantern-test.invalid"),
        "{:?}",
        loaded.requested
    );

    let events = replay_own(dir.path());
    let day = &events.iter().find(|e| e["event_type"] == "flow").unwrap()["ts"]
        .as_str()
        .unwrap()[..10];
    let page = dir.path().join("report.html");
    let p = policy();
    lantern_ok(
        dir.path(),
        &[
            "report",
            "--store",
            "s.db",
            "--policy",
            &p,
            "--from",
            day,
            "--to",
            day,
            "-o",
            page.to_str().unwrap(),
        ],
    );
    let shot = dir.path().join("report.png");
    let loaded = load_in_chromium(&page, &shot);
    assert!(loaded.console.is_empty(), "console: {:?}", loaded.console);
    assert!(
        loaded.requested.is_empty(),
        "requests: {:?}",
        loaded.requested
    );
    assert!(loaded.screenshot.starts_with(b"\x89PNG"), "a screenshot");
    assert!(
        loaded.screenshot.len() > 20_000,
        "{} bytes: an empty page?",
        loaded.screenshot.len()
    );
    // Printed, it is A4 pages (595 x 842 points).
    let pdf = dir.path().join("report.pdf");
    let profile = tempfile::tempdir().unwrap();
    let printed = std::process::Command::new("chromium")
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .args(["--disable-background-networking", "--no-pdf-header-footer"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(printed.status.success());
    let pdf = String::from_utf8_lossy(&std::fs::read(&pdf).unwrap()).into_owned();
    assert!(
        pdf.contains("/MediaBox [0 0 594.95996 841.91998]"),
        "not A4"
    );
    if let Some(keep) = std::env::var_os("LANTERN_REPORT_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
}

/// The JSON report of a store written from `captures` of this project, over the captures'
/// year.
fn report_of(dir: &Path, captures: &[&str]) -> Value {
    let store = dir.join("s.db");
    let files: Vec<PathBuf> = captures.iter().map(|c| own(c)).collect();
    Replay::of(&files)
        .store(store.to_str().unwrap())
        .no_events()
        .dir(dir)
        .ok();
    let period = ["--from", "2026-01-01", "--to", "2027-01-01"];
    let mut args = vec![
        "report",
        "--store",
        store.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend(period);
    serde_json::from_str(&lantern_ok(dir, &args).stdout).unwrap()
}

/// The README's replay example: the program that sent 201,043 bytes to the Anthropic API is an
/// agent, and the API table has a row for every user kind, agents included, with its bytes.
#[test]
fn the_api_table_of_the_readme_example_has_the_agent_and_every_kind() {
    let dir = tempfile::tempdir().unwrap();
    let r = report_of(
        dir.path(),
        &[
            "curl-chatgpt.pcap",
            "python-upload.pcap",
            "nosni-gemini.pcap",
            "dns-lookups.pcap",
            "chromium-quic-gemini.pcap",
        ],
    );
    let kinds: Vec<&str> = (r["api_use"].as_array().unwrap().iter())
        .map(|k| k["user_kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["person", "service", "agent", "unknown"]);
    let agent = &r["api_use"][2];
    assert_eq!(agent["bytes_up"], 201_043, "{agent}");
    assert_eq!(
        (agent["users"].as_u64(), agent["flows"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(r["headline"]["agents"], 1);
}

#[test]
fn programs_agents_and_mcp_servers_have_their_tables() {
    let dir = tempfile::tempdir().unwrap();
    let r = report_of(
        dir.path(),
        &[
            "clients-same-api.pcap",
            "clients-same-api-http.pcap",
            "mcp-remote-tls.pcap",
            "mcp-streamable-http.pcap",
        ],
    );
    // One row per (host, user, client software), most data first; the browser is not there.
    let rows: Vec<(String, String)> = (r["programs"].as_array().unwrap().iter())
        .map(|p| {
            let apps: Vec<&str> = (p["apps"].as_array().unwrap().iter())
                .map(|a| a.as_str().unwrap())
                .collect();
            (p["software"].as_str().unwrap().to_string(), apps.join(", "))
        })
        .collect();
    let tls_and_mcp = "Linear MCP server, OpenAI API";
    let tls_and_http = "OpenAI API, OpenAI-compatible model server";
    let rows: Vec<(&str, &str)> = rows.iter().map(|(s, a)| (s.as_str(), a.as_str())).collect();
    assert_eq!(
        rows,
        [
            ("Python (OpenSSL)", tls_and_mcp),
            ("Node (OpenSSL)", tls_and_mcp),
            (
                "Python httpx",
                "MCP server (plaintext HTTP), OpenAI-compatible model server"
            ),
            ("Java", tls_and_http),
            ("Go", tls_and_http),
            ("curl (OpenSSL)", "OpenAI API"),
            ("Node", "OpenAI-compatible model server"),
            ("Python requests", "OpenAI-compatible model server"),
            ("Python urllib", "OpenAI-compatible model server"),
            ("curl", "OpenAI-compatible model server"),
        ]
    );
    assert!(!rows.iter().any(|(s, _)| s.contains("Chromium")));
    assert_eq!(r["headline"]["agents"], 1);
    // The local MCP server by its plaintext requests, with the methods seen; the remote one
    // by its catalogued host, whose methods TLS hides.
    let mcp = &r["mcp_servers"];
    assert_eq!(mcp.as_array().unwrap().len(), 2, "{mcp}");
    assert_eq!(mcp[0]["server"], "mcp.corp.lan:8001");
    assert_eq!(mcp[0]["remote"], false);
    assert_eq!(
        mcp[0]["methods"],
        serde_json::json!([
            "initialize",
            "notifications/initialized",
            "prompts/list",
            "resources/list",
            "resources/read",
            "tools/call",
            "tools/list"
        ])
    );
    assert_eq!(mcp[1]["server"], "mcp.linear.app");
    assert_eq!(mcp[1]["remote"], true);
    assert_eq!(mcp[1]["clients"], serde_json::json!(["10.77.0.10"]));
    assert_eq!(mcp[1]["methods"], serde_json::json!([]));
}

#[test]
fn names_catalogued_since_they_were_seen_leave_the_candidates_and_one_source_apps_are_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let t = Timestamp::from_secs(1_795_305_600 + 3600);
    let us = t.0 / 1000;
    // Written by a sensor whose catalog knew neither name: both were candidates.
    let flow = |i: u64, name: &str| FlowRow {
        ts_us: us,
        end_ts_us: us,
        flow_id: i,
        client_ip: "10.0.0.1".into(),
        server_ip: "10.0.0.2".into(),
        server_port: 443,
        transport: "tcp".into(),
        protocol: "tls".into(),
        server_name: Some(name.into()),
        name_source: "tls_sni".into(),
        user: "alice".into(),
        user_source: "ip".into(),
        user_kind: "person".into(),
        candidate: 1,
        bytes_up: 100,
        ..FlowRow::default()
    };
    let rollup = |app: &str| RollupRow {
        hour: t.hour_floor().secs(),
        user: "alice".into(),
        app_id: app.into(),
        user_source: "ip".into(),
        user_kind: "person".into(),
        flows: 1,
        bytes_up: 100,
        first_seen_us: us,
        last_seen_us: us,
        ..RollupRow::default()
    };
    let mut store = SqliteStore::open(&dir.path().join("s.db"), "s").unwrap();
    store
        .write(Batch {
            flows: vec![
                flow(1, "ourtool-ai.example"),
                flow(2, "stillnew-ai.example"),
            ],
            dns: Vec::new(),
            rollups: vec![rollup("ourtool"), rollup("openai-api")],
            ..Batch::default()
        })
        .unwrap();
    drop(store);
    // Today's catalog knows the first name, from one list.
    std::fs::write(
        dir.path().join("ours.toml"),
        "[[app]]\nid = \"ourtool\"\nname = \"Our Tool\"\nvendor = \"Acme\"\n\
         category = \"writing_productivity\"\ndomains = [\"ourtool-ai.example\"]\n\
         sources = [\"list:eudk/awesome-ai-tools@626be08\"]\n",
    )
    .unwrap();
    let base = ["report", "--store", "s.db", "--week", "2026-W47"];
    let json: Value = serde_json::from_str(
        &lantern_ok(
            dir.path(),
            &[&base[..], &["--catalog", "ours.toml", "--format", "json"]].concat(),
        )
        .stdout,
    )
    .unwrap();
    let names: Vec<&str> = (json["candidates"].as_array().unwrap().iter())
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["stillnew-ai.example"]);
    let one: Vec<(&str, &str)> = (json["one_source_apps"].as_array().unwrap().iter())
        .map(|a| {
            (
                a["app_id"].as_str().unwrap(),
                a["sources"][0].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(one, [("ourtool", "list:eudk/awesome-ai-tools@626be08")]);
    let confidence: BTreeMap<&str, &str> = (json["apps"].as_array().unwrap().iter())
        .map(|a| {
            (
                a["app_id"].as_str().unwrap(),
                a["confidence"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(confidence["ourtool"], "low");
    assert_eq!(confidence["openai-api"], "high");
    // Without it, the name is a candidate still.
    let json: Value = serde_json::from_str(
        &lantern_ok(dir.path(), &[&base[..], &["--format", "json"]].concat()).stdout,
    )
    .unwrap();
    assert_eq!(json["candidates"].as_array().unwrap().len(), 2);
    let html = lantern_ok(
        dir.path(),
        &[&base[..], &["--catalog", "ours.toml"]].concat(),
    )
    .stdout;
    assert!(
        html.contains("Apps the catalog knows from one source") && html.contains("Our Tool"),
        "{html}"
    );
}

/// This project's captures replayed into `dir/s.db` in two halves, as sensors `s1` and `s2`,
/// with the example policy and an identity map that puts the clients of 10.77.0.10 in the group
/// `engineering` as `dana`; the events of both, each with its sensor.
fn replay_two_sensors(dir: &Path) -> Vec<Value> {
    dana_identity(dir);
    let files = own_pcaps();
    let half = files.len() / 2;
    let p = policy();
    let mut events = Vec::new();
    for (sensor, files) in [("s1", &files[..half]), ("s2", &files[half..])] {
        let run = Replay::of(files)
            .store("s.db")
            .sensor(sensor)
            .args(&["--policy", &p, "--identity", "identity.csv"])
            .dir(dir)
            .run();
        for mut e in run.events() {
            e["sensor"] = sensor.into();
            events.push(e);
        }
    }
    events
}

/// The JSON report of all time of `dir/s.db` with the example policy and `filters`.
fn filtered(dir: &Path, filters: &[&str]) -> Value {
    let p = policy();
    let args = [
        &[
            "report", "--store", "s.db", "--policy", &p, "--format", "json",
        ][..],
        &ALL_TIME,
        filters,
    ]
    .concat();
    serde_json::from_str(&lantern_ok(dir, &args).stdout).unwrap()
}

/// The rows of `table`, keyed by the `key` fields, with the `sums` fields as numbers.
fn numbers(report: &Value, table: &str, key: &[&str], sums: &[&str]) -> BTreeMap<String, Vec<u64>> {
    let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let rows = table.split('/').fold(report, |v, part| &v[part]);
    for row in rows.as_array().unwrap() {
        let k: Vec<String> = key.iter().map(|f| row[*f].to_string()).collect();
        let n = out
            .entry(k.join(" "))
            .or_insert_with(|| vec![0; sums.len()]);
        for (i, f) in sums.iter().enumerate() {
            n[i] += row[*f].as_u64().unwrap();
        }
    }
    out
}

/// Adds the numbers of `b` to those of `a`.
fn add(a: &mut BTreeMap<String, Vec<u64>>, b: BTreeMap<String, Vec<u64>>) {
    for (k, v) in b {
        let n = a.entry(k).or_insert_with(|| vec![0; v.len()]);
        n.iter_mut().zip(v).for_each(|(x, y)| *x += y);
    }
}

/// The rows of `table` whose `field` is `value`.
fn rows_where(report: &Value, table: &str, field: &str, value: &str) -> Vec<Value> {
    (report[table].as_array().unwrap().iter())
        .filter(|r| r[field] == value)
        .cloned()
        .collect()
}

/// The tables whose numbers add up over sensors: each row's key, and its numbers.
const ADDITIVE: [(&str, &[&str], &[&str]); 9] = [
    (
        "apps",
        &["app_id"],
        &["flows", "dns_lookups", "bytes_up", "bytes_down"],
    ),
    ("categories", &["category"], &["flows", "bytes_up"]),
    (
        "candidates",
        &["name"],
        &["flows", "lookups", "bytes_up", "bytes_down"],
    ),
    (
        "local_servers",
        &["server"],
        &["flows", "requests", "bytes_up"],
    ),
    (
        "programs",
        &["host", "user", "software"],
        &["flows", "bytes_up"],
    ),
    ("mcp_servers", &["server"], &["flows", "calls"]),
    (
        "visibility/sensors",
        &["sensor"],
        &[
            "flows",
            "named_flows",
            "bytes_up",
            "one_way_flows",
            "dns_only_flows",
        ],
    ),
    (
        "visibility/by_source",
        &["sensor", "transport", "protocol", "name_source"],
        &["flows", "bytes_up", "bytes_down"],
    ),
    (
        "visibility/encrypted_dns",
        &["sensor", "user", "kind", "resolver"],
        &["flows", "bytes_up"],
    ),
];

#[test]
fn each_sensors_report_adds_up_to_the_whole_and_both_are_the_whole() {
    let dir = tempfile::tempdir().unwrap();
    let events = replay_two_sensors(dir.path());
    let all = filtered(dir.path(), &[]);
    assert_eq!(all["filter"]["sensors"], serde_json::json!([]));
    let s1 = filtered(dir.path(), &["--sensor", "s1"]);
    let s2 = filtered(dir.path(), &["--sensor", "s2"]);
    for (table, key, sums) in ADDITIVE {
        let whole = numbers(&all, table, key, sums);
        assert!(!whole.is_empty(), "{table} is empty");
        let mut parts = numbers(&s1, table, key, sums);
        add(&mut parts, numbers(&s2, table, key, sums));
        assert_eq!(parts, whole, "{table}");
    }
    for metric in [
        "flows",
        "dns_lookups",
        "bytes_up",
        "bytes_down",
        "bytes_up_unsanctioned",
        "bytes_up_uncatalogued",
    ] {
        let sum =
            s1["headline"][metric].as_u64().unwrap() + s2["headline"][metric].as_u64().unwrap();
        assert_eq!(sum, all["headline"][metric].as_u64().unwrap(), "{metric}");
    }
    // Each sensor's numbers are its own events'.
    for (sensor, report) in [("s1", &s1), ("s2", &s2)] {
        let flows = (events.iter())
            .filter(|e| {
                e["sensor"] == sensor && e["event_type"] == "flow" && e["app"]["id"].is_string()
            })
            .count() as u64;
        assert_eq!(report["headline"]["flows"], flows, "{sensor}");
        assert!(flows > 0, "{sensor} saw AI use");
        assert_eq!(report["filter"]["sensors"], serde_json::json!([sensor]));
    }
    // Both sensors are every row: the same report but for the filter it names.
    let mut both = filtered(dir.path(), &["--sensor", "s1", "--sensor", "s2"]);
    assert_eq!(both["filter"]["sensors"], serde_json::json!(["s1", "s2"]));
    both["filter"] = all["filter"].clone();
    assert_eq!(both, all);
    // A sensor that wrote nothing: an empty report that says why.
    let none = filtered(dir.path(), &["--sensor", "s3"]);
    assert_eq!(
        (
            none["headline"]["flows"].as_u64(),
            none["store_has_data"].as_bool()
        ),
        (Some(0), Some(true))
    );
    let md = lantern_ok(
        dir.path(),
        &[
            &[
                "report", "--store", "s.db", "--format", "md", "--sensor", "s3",
            ][..],
            &ALL_TIME,
        ]
        .concat(),
    )
    .stdout;
    assert!(
        md.contains("Only sensor s3.") && md.contains("No AI use \\(sensor s3\\) was seen"),
        "{md}"
    );
}

#[test]
fn a_user_an_app_and_a_group_report_their_rows_of_the_whole() {
    let dir = tempfile::tempdir().unwrap();
    let events = replay_two_sensors(dir.path());
    let all = filtered(dir.path(), &[]);
    // A user's rows of the tables that name users are theirs of the whole report.
    let users: BTreeSet<String> = (all["programs"].as_array().unwrap().iter())
        .chain(all["top_users"].as_array().unwrap())
        .map(|r| r["user"].as_str().unwrap().to_string())
        .collect();
    assert!(users.contains("dana") && users.len() >= 3, "{users:?}");
    for user in &users {
        let mine = filtered(dir.path(), &["--user", user]);
        assert_eq!(mine["filter"]["user"], user.as_str());
        assert_eq!(
            mine["programs"].as_array().unwrap(),
            &rows_where(&all, "programs", "user", user),
            "{user}"
        );
        let top = rows_where(&all, "top_users", "user", user);
        let all_top = all["top_users"].as_array().unwrap().len();
        if all_top < lantern::report::TOP_USERS {
            assert_eq!(mine["top_users"].as_array().unwrap(), &top, "{user}");
        } else {
            assert!(
                top.iter()
                    .all(|r| mine["top_users"].as_array().unwrap().contains(r)),
                "{user}"
            );
        }
        for server in mine["local_servers"].as_array().unwrap() {
            assert_eq!(server["users"], serde_json::json!([user]));
        }
        // The timeline is their events', day by day and app by app.
        let mut expected: BTreeMap<(String, String), [u64; 3]> = BTreeMap::new();
        for e in events.iter().filter(|e| e["user"] == user.as_str()) {
            let (Some(app), Some(ts)) = (e["app"]["id"].as_str(), e["ts"].as_str()) else {
                continue;
            };
            let d = expected
                .entry((ts[..10].to_string(), app.to_string()))
                .or_default();
            if e["event_type"] == "flow" {
                d[0] += 1;
                d[1] += e["bytes_up"].as_u64().unwrap();
                d[2] += e["bytes_down"].as_u64().unwrap();
            }
        }
        let timeline: BTreeMap<(String, String), [u64; 3]> =
            (mine["timeline"].as_array().unwrap().iter())
                .map(|d| {
                    let n = |f: &str| d[f].as_u64().unwrap();
                    assert!(d["first_seen"].as_str() <= d["last_seen"].as_str(), "{d}");
                    assert!(
                        d["first_seen"]
                            .as_str()
                            .unwrap()
                            .starts_with(d["day"].as_str().unwrap()),
                        "{d}"
                    );
                    (
                        (
                            d["day"].as_str().unwrap().to_string(),
                            d["app_id"].as_str().unwrap().to_string(),
                        ),
                        [n("flows"), n("bytes_up"), n("bytes_down")],
                    )
                })
                .collect();
        assert_eq!(timeline, expected, "{user}");
        let total: u64 = timeline.values().map(|d| d[1]).sum();
        assert_eq!(mine["headline"]["bytes_up"], total, "{user}");
    }
    // An app's rows are its rows of the whole; names that are not catalogued are no app's.
    let apps: Vec<&str> = (all["apps"].as_array().unwrap().iter())
        .map(|a| a["app_id"].as_str().unwrap())
        .collect();
    assert!(apps.len() >= 10);
    for app in &apps {
        let one = filtered(dir.path(), &["--app", app]);
        assert_eq!(
            one["apps"].as_array().unwrap(),
            &rows_where(&all, "apps", "app_id", app),
            "{app}"
        );
        assert_eq!(
            one["trend"].as_array().unwrap(),
            &rows_where(&all, "trend", "app_id", app),
            "{app}"
        );
        assert_eq!(
            one["new_apps"].as_array().unwrap(),
            &rows_where(&all, "new_apps", "app_id", app),
            "{app}"
        );
        assert_eq!(one["candidates"], serde_json::json!([]));
        assert_eq!(one["headline"]["flows"], one["apps"][0]["flows"]);
        assert_eq!(
            one["timeline"],
            serde_json::json!([]),
            "no timeline without --user"
        );
    }
    let two = filtered(dir.path(), &["--app", apps[0], "--app", apps[1]]);
    let mut expected = rows_where(&all, "apps", "app_id", apps[0]);
    expected.extend(rows_where(&all, "apps", "app_id", apps[1]));
    assert_eq!(two["apps"].as_array().unwrap(), &expected);
    // A group's numbers are its events'; with a user outside it, nothing.
    let group = filtered(dir.path(), &["--group", "engineering"]);
    let theirs = |e: &&Value| {
        e["group"] == "engineering" && e["event_type"] == "flow" && e["app"]["id"].is_string()
    };
    let flows = events.iter().filter(theirs).count() as u64;
    let up: u64 = events
        .iter()
        .filter(theirs)
        .map(|e| e["bytes_up"].as_u64().unwrap())
        .sum();
    assert!(flows > 0);
    assert_eq!(
        (
            group["headline"]["flows"].as_u64(),
            group["headline"]["bytes_up"].as_u64()
        ),
        (Some(flows), Some(up))
    );
    assert_eq!(group["headline"]["people"], 1, "dana");
    let outside = filtered(
        dir.path(),
        &["--group", "engineering", "--user", "alice@CORP.EXAMPLE"],
    );
    assert_eq!(outside["headline"]["flows"], 0);
}

#[test]
fn filters_and_the_timeline_are_in_every_format_and_hostile_values_stay_values() {
    let dir = tempfile::tempdir().unwrap();
    hostile_store(&dir.path().join("h.db"));
    let user = "<script>alert(1)</script>";
    let base = [
        "report",
        "--store",
        "h.db",
        "--week",
        "2026-W47",
        "--user",
        user,
        "--sensor",
        "<b>sensor</b>",
    ];
    let json: Value = serde_json::from_str(
        &lantern_ok(dir.path(), &[&base[..], &["--format", "json"]].concat()).stdout,
    )
    .unwrap();
    assert_eq!(json["filter"]["user"], user);
    assert_eq!(
        json["filter"]["sensors"],
        serde_json::json!(["<b>sensor</b>"])
    );
    let timeline = json["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 1, "{timeline:?}");
    let day = &timeline[0];
    assert_eq!(
        (
            day["app_id"].as_str(),
            day["flows"].as_u64(),
            day["bytes_up"].as_u64()
        ),
        (Some("ollama-server"), Some(1), Some(100))
    );
    assert_eq!(day["day"], "2026-11-22");
    assert_eq!(json["headline"]["flows"], 1);
    assert_eq!(json["local_servers"][0]["users"], serde_json::json!([user]));
    let html = lantern_ok(dir.path(), &[&base[..], &["--format", "html"]].concat()).stdout;
    assert!(html.contains("Only sensor &lt;b&gt;sensor&lt;&#x2f;b&gt;; user &lt;script&gt;alert(1)&lt;&#x2f;script&gt;."), "{html}");
    assert!(
        html.contains("<h2>Timeline of &lt;script&gt;")
            && html.contains("<td class=\"k\">2026-11-22</td>"),
        "{html}"
    );
    assert!(!html.contains("<script>") && !html.contains("<b>sensor"));
    let md = lantern_ok(dir.path(), &[&base[..], &["--format", "md"]].concat()).stdout;
    assert!(
        md.contains(
            "Only sensor &lt;b&gt;sensor&lt;/b&gt;; user &lt;script&gt;alert\\(1\\)&lt;/script&gt;."
        ),
        "{md}"
    );
    assert!(
        md.contains("## Timeline of the user\n\n| day | app_id |")
            && md.contains(
                "| 2026-11-22 | ollama-server | Ollama \\(model server\\) | 1 | 100 | 10 |"
            ),
        "{md}"
    );
    lantern_ok(
        dir.path(),
        &[&base[..], &["--format", "csv", "-o", "csv"]].concat(),
    );
    let read = |name: &str| -> Vec<Vec<String>> {
        let mut r = csv::Reader::from_path(dir.path().join("csv").join(name)).unwrap();
        r.records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect()
    };
    assert_eq!(
        read("filters.csv"),
        [["sensor", "<b>sensor</b>"], ["user", user]]
    );
    let rows = read("timeline.csv");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        &rows[0][..6],
        [
            "2026-11-22",
            "ollama-server",
            "Ollama (model server)",
            "1",
            "100",
            "10"
        ]
    );
    // Values that would change the query if written into it are matched as names: the user
    // with quotes is found, an injection finds no one.
    let quoted = "\"quoted\" & 'single' \u{202e}rtl";
    for (user, flows) in [
        (quoted, 1),
        ("x' OR '1'='1", 0),
        ("x\" OR 1=1 --", 0),
        ("?1", 0),
    ] {
        let json: Value = serde_json::from_str(
            &lantern_ok(
                dir.path(),
                &[
                    "report", "--store", "h.db", "--week", "2026-W47", "--format", "json",
                    "--user", user,
                ],
            )
            .stdout,
        )
        .unwrap();
        assert_eq!(json["headline"]["flows"], flows, "{user}");
    }
    // Without --user there is no timeline, and without filters no filters table.
    lantern_ok(
        dir.path(),
        &[
            "report", "--store", "h.db", "--week", "2026-W47", "--format", "csv", "-o", "plain",
        ],
    );
    assert!(
        !dir.path().join("plain/timeline.csv").exists()
            && !dir.path().join("plain/filters.csv").exists()
    );
    let run = lantern_in(
        Some(dir.path()),
        &[],
        &["report", "--store", "h.db", "--user", ""],
    );
    assert_eq!(
        (run.status, run.stderr.as_str()),
        (1, "lantern: --user needs a value\n")
    );
}

#[test]
fn a_pseudonymized_store_is_filtered_by_the_users_token() {
    let dir = tempfile::tempdir().unwrap();
    dana_identity(dir.path());
    std::fs::write(dir.path().join("k.key"), [7u8; 32]).unwrap();
    let capture = own("http-local-models.pcap").display().to_string();
    lantern_ok(
        dir.path(),
        &[
            "replay",
            "-q",
            "--store",
            "s.db",
            "--identity",
            "identity.csv",
            "--pseudonymize",
            "k.key",
            &capture,
        ],
    );
    let token = lantern_ok(
        dir.path(),
        &["pseudonym", "token", "--key", "k.key", "dana"],
    )
    .stdout;
    let token = token.trim();
    assert!(token.starts_with("anon-"), "{token}");
    let base = ["report", "--store", "s.db", "--format", "json"];
    let by_token: Value = serde_json::from_str(
        &lantern_ok(
            dir.path(),
            &[&base[..], &ALL_TIME, &["--user", token]].concat(),
        )
        .stdout,
    )
    .unwrap();
    let all: Value =
        serde_json::from_str(&lantern_ok(dir.path(), &[&base[..], &ALL_TIME].concat()).stdout)
            .unwrap();
    assert!(by_token["headline"]["flows"].as_u64().unwrap() > 0);
    let days: u64 = (by_token["timeline"].as_array().unwrap().iter())
        .map(|d| d["flows"].as_u64().unwrap())
        .sum();
    assert_eq!(days, by_token["headline"]["flows"].as_u64().unwrap());
    assert!(
        (all["local_servers"].as_array().unwrap().iter())
            .all(|s| s["users"] == serde_json::json!([token])),
        "dana is the only user: {all}"
    );
    // The name finds nothing in a store of tokens, and the note says what to give instead.
    let run = lantern_ok(
        dir.path(),
        &[&base[..], &ALL_TIME, &["--user", "dana"]].concat(),
    );
    let by_name: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(by_name["headline"]["flows"], 0);
    assert_eq!(
        run.stderr,
        "lantern: note: no AI use by dana in the period; if the sensor pseudonymizes, give the \
         token (lantern pseudonym token --key KEYFILE 'dana')\n"
    );
}
