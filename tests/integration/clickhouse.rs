//! The ClickHouse store against a real server (Debian's clickhouse-server, started by the test):
//! the same traffic gives the same rows and the same report as SQLite; a server killed in the
//! middle of a replay loses nothing and repeats nothing; a batch resent after it landed is not
//! inserted twice; `store init` can run again; filtered reports are the same from both, and
//! hostile filter values match nothing; a notice key written by two sensors and twice by one is
//! one row once merged, and the reads say it was raised.
//!
//! System tests (feature `system-tests`): without clickhouse-server they pass with a note,
//! except under CI (`CI` set), where they fail.

use crate::common::clickhouse::{ClickHouse, Cluster};
use crate::common::{
    self, Replay, arg, captures_in, lantern_in, lantern_ok, notice, own, own_captures,
    shared_captures, sorted, sqlite_rows, synth, wait_until, work_dir, write_notices,
};
use lantern::output::notice::{Notice, NoticeKind};
use lantern::store::schema::{self, Role};
use lantern::store::{CoverageRow, DnsRow, FileRow, FlowRow, RollupRow, Store};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every capture of this project and of ../shared/captures.
fn all_captures() -> Vec<PathBuf> {
    let mut files = own_captures();
    for sub in ["ndpi", "suricata", "zeek"] {
        files.extend(captures_in(&shared_captures().join(sub)));
    }
    files
}

/// `lantern replay --quiet --sensor s1 --store STORE EXTRA FILES` in `dir`, whatever its exit.
fn replay_into(store: &str, files: &[PathBuf], dir: &Path, extra: &[&str]) -> common::Run {
    Replay::of(files)
        .store(store)
        .sensor("s1")
        .no_events()
        .args(extra)
        .dir(dir)
        .run()
}

/// The JSON report of `store` over `period`.
fn report(store: &str, dir: &Path, period: &[&str]) -> String {
    let args = [&["report", "--store", store, "--format", "json"], period].concat();
    lantern_ok(dir, &args).stdout
}

/// The rollup columns, aggregated as a read of `rollups_hourly` sums its parts: from the
/// declaration, as the store's own read.
fn rollup_read(sum: &str, min: &str, max: &str) -> String {
    aggregated(RollupRow::TABLE, sum, min, max)
}

/// The columns of a table with roles, aggregated with `sum`, `min` and `max`.
fn aggregated(table: schema::Table, sum: &str, min: &str, max: &str) -> String {
    let columns = table.columns.iter().filter(|c| c.in_sqlite());
    let parts: Vec<String> = columns
        .map(|c| match c.opts.role {
            Role::Sum => format!("{sum}({})", c.name),
            Role::Min => format!("{min}({})", c.name),
            Role::Max => format!("{max}({})", c.name),
            Role::Key | Role::Plain => c.name.to_string(),
        })
        .collect();
    parts.join(", ")
}

/// Every row of every table, from each store, must be the same: every column both keep, as
/// the declarations list them (a file's wall-clock start differs between the runs).
fn assert_same_rows(server: &ClickHouse, database: &str, sqlite: &Path) {
    let flows = FlowRow::TABLE.shared_column_list();
    let dns = DnsRow::TABLE.shared_column_list();
    let files = FileRow::TABLE
        .shared_column_list()
        .replace(", ingested_at", "");
    let keys = schema::names(RollupRow::TABLE.keys());
    assert!(flows.contains("ech_kind") && !files.contains("ingested_at"));
    let pairs = [
        (
            "flows",
            format!("SELECT {flows} FROM flows"),
            format!("SELECT {flows} FROM `{database}`.flows FORMAT TSV"),
        ),
        (
            "dns",
            format!("SELECT {dns} FROM dns"),
            format!("SELECT {dns} FROM `{database}`.dns FORMAT TSV"),
        ),
        (
            "rollups_hourly",
            format!("SELECT {} FROM rollups_hourly", rollup_read("", "", "")),
            format!(
                "SELECT {} FROM `{database}`.rollups_hourly GROUP BY {keys} FORMAT TSV",
                rollup_read("sum", "minMerge", "maxMerge")
            ),
        ),
        (
            "coverage_hourly",
            format!(
                "SELECT {} FROM coverage_hourly",
                aggregated(CoverageRow::TABLE, "", "", "")
            ),
            format!(
                "SELECT {} FROM `{database}`.coverage_hourly GROUP BY {} FORMAT TSV",
                aggregated(CoverageRow::TABLE, "sum", "min", "max"),
                schema::names(CoverageRow::TABLE.keys())
            ),
        ),
        (
            "files",
            format!("SELECT {files} FROM files"),
            format!("SELECT {files} FROM `{database}`.files FINAL FORMAT TSV"),
        ),
    ];
    for (table, lite, ch) in pairs {
        let expected = sorted(sqlite_rows(sqlite, &lite));
        let found = sorted(server.rows(&ch));
        assert!(
            table == "dns" || !expected.is_empty(),
            "{table}: no rows to compare"
        );
        if expected != found {
            let missing: Vec<_> = expected.iter().filter(|r| !found.contains(r)).collect();
            let extra: Vec<_> = found.iter().filter(|r| !expected.contains(r)).collect();
            panic!(
                "{table}: {} rows in SQLite, {} in ClickHouse\nmissing from ClickHouse: {missing:#?}\nextra in ClickHouse: {extra:#?}",
                expected.len(),
                found.len()
            );
        }
    }
}

#[test]
fn replaying_into_clickhouse_and_into_sqlite_gives_the_same_rows_and_reports() {
    let Some(server) = ClickHouse::start() else {
        return;
    };
    let dir = tempfile::tempdir_in(work_dir()).unwrap();
    let files = all_captures();
    let sqlite = dir.path().join("s.db");
    let url = server.url("same");
    let lite = replay_into(&arg(&sqlite), &files, dir.path(), &[]);
    let ch = replay_into(&url, &files, dir.path(), &[]);
    assert_eq!(lite.status, ch.status, "{}\n{}", lite.stderr, ch.stderr);
    assert_eq!(lite.stderr, ch.stderr, "the same files fail the same way");
    assert_same_rows(&server, "same", &sqlite);
    // Reports: the whole history, and the week of this project's own captures.
    for period in [
        &["--from", "1970-01-01", "--to", "2100-12-31"][..],
        &["--week", "2026-W48"],
        &["--from", "2019-01-01", "--to", "2019-12-31"],
    ] {
        let expected = report(&arg(&sqlite), dir.path(), period);
        let found = report(&url, dir.path(), period);
        assert_eq!(expected, found, "report {period:?}");
        let json: serde_json::Value = serde_json::from_str(&found).unwrap();
        if period[1] == "1970-01-01" {
            assert!(json["headline"]["apps"].as_u64().unwrap() >= 10, "{found}");
            assert!(
                !json["candidates"].as_array().unwrap().is_empty(),
                "{found}"
            );
        }
    }
    // A second replay of the same files is refused by both, by the files table.
    let again = replay_into(&url, &files[..1], dir.path(), &[]);
    assert_eq!(again.status, 1);
    assert!(
        again
            .stderr
            .contains("already replayed into clickhouse://127.0.0.1:"),
        "{}",
        again.stderr
    );
}

#[test]
fn filtered_reports_are_the_same_from_both_stores_and_hostile_values_match_nothing() {
    let Some(server) = ClickHouse::start() else {
        return;
    };
    let dir = tempfile::tempdir_in(work_dir()).unwrap();
    let files = own_captures();
    let sqlite = arg(&dir.path().join("s.db"));
    let url = server.url("filtered");
    let half = files.len() / 2;
    for store in [&sqlite, &url] {
        for (sensor, files) in [("s1", &files[..half]), ("s2", &files[half..])] {
            Replay::of(files)
                .store(store)
                .sensor(sensor)
                .no_events()
                .dir(dir.path())
                .run();
        }
    }
    let all = ["--from", "1970-01-01", "--to", "2100-12-31"];
    for filter in [
        &["--sensor", "s1"][..],
        &["--sensor", "s2", "--sensor", "s1"],
        &["--user", "alice@CORP.EXAMPLE"],
        &[
            "--app",
            "openai-chatgpt",
            "--app",
            "ollama-server",
            "--sensor",
            "s2",
        ],
        &["--user", "x' OR '1'='1"],
        &["--sensor", "s1\\' OR 1 --"],
        &["--app", "?"],
        &["--group", "a\tb\nc\\"],
    ] {
        let period = [&all[..], filter].concat();
        let expected = report(&sqlite, dir.path(), &period);
        let found = report(&url, dir.path(), &period);
        assert_eq!(expected, found, "report {filter:?}");
        let json: serde_json::Value = serde_json::from_str(&found).unwrap();
        let flows = json["headline"]["flows"].as_u64().unwrap();
        let hostile = filter[1].contains(['\'', '?', '\t']);
        assert_eq!(flows == 0, hostile, "{filter:?}: {flows} flows");
    }
}

#[test]
fn a_server_killed_in_the_middle_of_a_replay_loses_and_repeats_nothing() {
    let Some(mut server) = ClickHouse::start() else {
        return;
    };
    let dir = tempfile::tempdir_in(work_dir()).unwrap();
    let capture = dir.path().join("many.pcap");
    // 60,000 flows, each from its own client: 15 batches of 4,096 evidence rows, each insert
    // tens of milliseconds.
    synth::ai_use(&capture, 60_000, 60_000, 1_795_305_600, 1_000_000, false);
    let url = server.url("outage");
    let init = lantern_in(Some(dir.path()), &[], &["store", "init", "--store", &url]);
    assert_eq!(init.status, 0, "{}", init.stderr);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args(["replay", "--sensor", "s1", "--store", &url, &arg(&capture)])
        .current_dir(dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Kill the server once the first batch has landed.
    wait_until("rows in ClickHouse", Duration::from_secs(60), || {
        server.count("SELECT count() FROM outage.flows") > 0
    });
    server.kill();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("left in the spool for the next run"),
        "the outage must have come mid-replay: {stderr}"
    );
    server.restart();
    let landed = server.count("SELECT count() FROM outage.flows");
    assert!(
        landed > 0 && landed < 60_000,
        "{landed} rows before the resend"
    );
    let sync = lantern_in(Some(dir.path()), &[], &["store", "sync", "--store", &url]);
    assert_eq!(sync.status, 0, "{}{}", sync.stdout, sync.stderr);
    // Every flow exactly once, and the rollups add up to the same.
    assert_eq!(
        server.count("SELECT count() FROM outage.flows"),
        60_000,
        "{}",
        server.query("SELECT batch_id, count(), min(ts_us), max(ts_us) FROM outage.flows GROUP BY batch_id ORDER BY min(ts_us)")
    );
    assert_eq!(
        server.count("SELECT uniqExact(client_ip, client_port, ts_us) FROM outage.flows"),
        60_000
    );
    assert_eq!(
        server.count("SELECT sum(flows) FROM outage.rollups_hourly"),
        60_000
    );
    // And the same as SQLite from the same file.
    let sqlite = dir.path().join("s.db");
    replay_into(&arg(&sqlite), &[capture], dir.path(), &[]);
    assert_same_rows(&server, "outage", &sqlite);
}

#[test]
fn a_batch_resent_after_it_landed_is_not_inserted_twice() {
    let Some(mut server) = ClickHouse::start() else {
        return;
    };
    let dir = tempfile::tempdir_in(work_dir()).unwrap();
    let url = server.url("resend");
    let init = lantern_in(Some(dir.path()), &[], &["store", "init", "--store", &url]);
    assert_eq!(init.status, 0, "{}", init.stderr);
    let again = lantern_in(Some(dir.path()), &[], &["store", "init", "--store", &url]);
    assert_eq!(again.status, 0, "init runs twice: {}", again.stderr);
    // With the server down, the batches stay in the spool.
    server.kill();
    let files = [own("chromium-claude.pcap"), own("identity.pcap")];
    let run = replay_into(&url, &files, dir.path(), &["--force"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stderr.contains("left in the spool"), "{}", run.stderr);
    let spool = dir.path().join("lantern-spool");
    let saved = dir.path().join("saved");
    copy_dir(&spool, &saved);
    server.restart();
    let sync = lantern_in(Some(dir.path()), &[], &["store", "sync", "--store", &url]);
    assert_eq!(sync.status, 0, "{}{}", sync.stdout, sync.stderr);
    let tables = ["flows", "dns", "rollups_in"];
    let counts = |server: &ClickHouse| -> Vec<u64> {
        tables
            .iter()
            .map(|t| server.count(&format!("SELECT count() FROM resend.{t}")))
            .collect()
    };
    let first = counts(&server);
    assert!(first.iter().all(|&n| n > 0), "{first:?}");
    // As if ClickHouse had taken the batches but lantern never heard, and had stopped between
    // storing the rollups and the view adding them up: the sums are gone, the batches are in
    // the spool again.
    server.query("ALTER TABLE resend.rollups_hourly DELETE WHERE 1");
    wait_until("the delete finished", Duration::from_secs(30), || {
        server.count("SELECT count() FROM resend.rollups_hourly") == 0
    });
    copy_dir(&saved, &spool);
    let resend = lantern_in(Some(dir.path()), &[], &["store", "sync", "--store", &url]);
    assert_eq!(resend.status, 0, "{}{}", resend.stdout, resend.stderr);
    assert!(
        resend
            .stdout
            .contains("inserts found already there on retry"),
        "{}",
        resend.stdout
    );
    assert_eq!(counts(&server), first, "nothing inserted twice");
    // The rollups are whole again, from what rollups_in holds.
    let sqlite = dir.path().join("s.db");
    replay_into(&arg(&sqlite), &files, dir.path(), &[]);
    assert_same_rows(&server, "resend", &sqlite);
}

#[test]
fn a_cluster_of_two_shards_holds_every_row_once_and_reports_like_sqlite() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let dir = tempfile::tempdir_in(work_dir()).unwrap();
    let (one, two) = (&cluster.nodes[0], &cluster.nodes[1]);
    let url = one.url("sites_db");
    for round in 1..=2 {
        let init = lantern_in(
            Some(dir.path()),
            &[],
            &["store", "init", "--store", &url, "--cluster", "sites"],
        );
        assert_eq!(
            init.status,
            0,
            "init, run {round}: {}{}",
            init.stderr,
            one.log()
        );
    }
    for node in [one, two] {
        let tables = node.query(
            "SELECT name, engine FROM system.tables WHERE database = 'sites_db' ORDER BY name FORMAT TSV",
        );
        assert!(
            tables.contains("flows\tDistributed\n")
                && tables.contains("flows_local\tReplicatedMergeTree\n")
                && tables.contains("rollups_hourly_local\tReplicatedSummingMergeTree\n")
                && tables.contains("rollups_mv\tMaterializedView\n"),
            "{tables}"
        );
    }
    let capture = dir.path().join("many.pcap");
    synth::ai_use(&capture, 20_000, 5_000, 1_795_305_600, 100_000, true);
    let mut files = all_captures();
    files.push(capture);
    // No notices from the replays: the notices below are the table's only rows.
    let quiet = ["--notices", "none"];
    let run = replay_into(&url, &files, dir.path(), &quiet);
    let sqlite = dir.path().join("s.db");
    let lite = replay_into(&arg(&sqlite), &files, dir.path(), &quiet);
    assert_eq!(run.stderr, lite.stderr);
    // Each shard holds some of the evidence, together all of it, each row once.
    let local = |node: &ClickHouse| node.count("SELECT count() FROM sites_db.flows_local");
    let (a, b) = (local(one), local(two));
    assert!(a > 0 && b > 0, "both shards hold flows: {a} and {b}");
    assert_same_rows(two, "sites_db", &sqlite);
    let period = ["--from", "1970-01-01", "--to", "2100-12-31"];
    assert_eq!(
        report(&two.url("sites_db"), dir.path(), &period),
        report(&arg(&sqlite), dir.path(), &period)
    );
    // Notices from a sensor on each node: the rows of one key meet on one shard, where they
    // collapse.
    let mut a = one.store("sites_db", "n1", &dir.path().join("spool-n1"));
    let mut b = two.store("sites_db", "n2", &dir.path().join("spool-n2"));
    let [upload, new_app] = notices_twice(&mut a, &mut b);
    assert_eq!(two.count("SELECT count() FROM sites_db.notices FINAL"), 2);
    for kind in ["upload", "new_app"] {
        let sql = format!("SELECT count() FROM sites_db.notices_local WHERE kind = '{kind}'");
        let shards = [one, two].iter().filter(|n| n.count(&sql) > 0).count();
        assert_eq!(shards, 1, "{kind}: the rows of one key are on one shard");
    }
    assert!(one.reader("sites_db").raised(&upload.key()).unwrap());
    assert_eq!(
        two.reader("sites_db").raised_ever().unwrap(),
        [new_app.key()]
    );
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walk(from) {
        let rel = entry.strip_prefix(from).unwrap();
        if rel.file_name().is_some_and(|n| n == "lock") {
            continue;
        }
        let target = to.join(rel);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &target).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The uploads to an uncatalogued AI-looking name, and what the sensor could not see, from
/// the same replay into both stores: the candidates row and the headline carry the bytes the
/// events say; `visibility` names the clients that used DNS over HTTPS and over TLS with their
/// resolvers, not the one that used plain DNS, counts the one-way flow, and its numbers are
/// the replay summary's. Both stores give the same report.
#[test]
fn uploads_to_uncatalogued_names_and_blind_spots_are_reported_by_both_stores() {
    let Some(server) = ClickHouse::start() else {
        return;
    };
    let dir = tempfile::tempdir_in(work_dir()).unwrap();
    let files = [own("candidate-upload.pcap"), own("encrypted-dns.pcap")];
    let sqlite = dir.path().join("s.db");
    let url = server.url("visibility");
    // Not --quiet: the summary's visibility line is compared with the report.
    let run = Replay::of(&files)
        .store(arg(&sqlite))
        .sensor("s1")
        .loud()
        .dir(dir.path())
        .ok();
    replay_into(&url, &files, dir.path(), &[]);
    let period = ["--from", "2026-01-01", "--to", "2027-01-01"];
    let lite = report(&arg(&sqlite), dir.path(), &period);
    assert_eq!(lite, report(&url, dir.path(), &period), "both stores");
    let r: Value = serde_json::from_str(&lite).unwrap();
    let events = run.events();
    // What the events say was sent to promptforge.ai.
    let sent: u64 = (events.iter())
        .filter(|e| e["event_type"] == "flow" && e["server_name"] == "promptforge.ai")
        .map(|e| e["bytes_up"].as_u64().unwrap())
        .sum();
    assert!(sent > 2_500_000, "{sent}");
    let row = &r["candidates"][0];
    assert_eq!(
        (row["name"].as_str(), row["bytes_up"].as_u64()),
        (Some("promptforge.ai"), Some(sent))
    );
    assert_eq!(
        (row["flows"].as_u64(), row["users"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(r["headline"]["bytes_up_uncatalogued"].as_u64(), Some(sent));
    let top = &r["top_users"][0];
    assert_eq!(
        (top["name"].as_str(), top["uncatalogued"].as_bool()),
        (Some("promptforge.ai"), Some(true))
    );
    // Encrypted DNS: the DoH and DoT clients, with their resolvers; not the plain-DNS one.
    let clients: Vec<(String, String, String, String)> =
        (r["visibility"]["encrypted_dns"].as_array().unwrap().iter())
            .map(|c| {
                let s = |k: &str| c[k].as_str().unwrap().to_string();
                (s("user"), s("kind"), s("resolver"), s("provider"))
            })
            .collect();
    let clients: std::collections::BTreeSet<_> = clients.into_iter().collect();
    let want = |u: &str, k: &str, r: &str, p: &str| (u.into(), k.into(), r.into(), p.into());
    assert_eq!(
        clients,
        [
            want("10.77.0.10", "doh", "dns.google", "Google Public DNS"),
            want("10.77.0.11", "dot", "10.77.1.21:853", ""),
        ]
        .into_iter()
        .collect(),
    );
    // The sensor's numbers are the summary's (the run's own coverage), and the flows by name
    // source add up to the summary's names line.
    let sensor = &r["visibility"]["sensors"][0];
    let summary = run
        .stderr
        .lines()
        .find(|l| l.contains("visibility:"))
        .unwrap();
    let line = format!(
        "visibility: {} of {} flows named ({}), {} of bytes up; DNS only {}, real ECH unnamed {}, one-way {}, evicted {}",
        sensor["named_flows"],
        sensor["flows"],
        sensor["named_share"].as_str().unwrap(),
        sensor["named_bytes_share"].as_str().unwrap(),
        sensor["dns_only_flows"],
        sensor["real_ech_unnamed"],
        sensor["one_way_flows"],
        sensor["evicted_flows"]
    );
    assert!(summary.trim_start().starts_with(&line), "{summary}\n{line}");
    assert_eq!(
        sensor["one_way_flows"], 1,
        "www.example.org: the server's packets were not captured"
    );
    assert_eq!(sensor["encrypted_dns_clients"], 2);
    let names = run.stderr.lines().find(|l| l.contains("names:")).unwrap();
    for source in ["tls_sni", "quic_sni", "http_host", "dns_answer", "none"] {
        let flows: u64 = (r["visibility"]["by_source"].as_array().unwrap().iter())
            .filter(|b| b["name_source"] == source)
            .map(|b| b["flows"].as_u64().unwrap())
            .sum();
        assert!(
            names.contains(&format!("{source} {flows}")),
            "{source} {flows}: {names}"
        );
    }
}

/// 2024-10-04T00:00:00Z, in seconds: day 20,000.
const DAY_20000: i64 = 20_000 * 86_400;

/// The notices two sensors raise of the same keys: an upload (per user and day) and a new app
/// (once ever, about the network), each written by the first sensor, the upload again in a
/// second batch, and both again by the second sensor, a month later for the new app.
fn notices_twice(one: &mut Store, two: &mut Store) -> [Notice; 2] {
    let upload = notice(
        NoticeKind::Upload,
        "o'brien",
        "openai-chatgpt",
        DAY_20000 + 3600,
    );
    let new_app = notice(NoticeKind::NewApp, "bob", "openai-chatgpt", DAY_20000 + 60);
    let later = notice(
        NoticeKind::Upload,
        "o'brien",
        "openai-chatgpt",
        DAY_20000 + 7200,
    );
    let next_month = DAY_20000 + 40 * 86_400;
    write_notices(one, &[upload.clone(), new_app.clone()]);
    write_notices(one, std::slice::from_ref(&later));
    let carol = notice(NoticeKind::NewApp, "carol", "openai-chatgpt", next_month);
    write_notices(two, &[later, carol]);
    for store in [one, two] {
        let stats = store.close().unwrap();
        assert_eq!(stats.spool.batches, 0, "sent: {stats:?}");
    }
    [upload, new_app]
}

#[test]
fn a_notice_key_written_by_two_sensors_is_one_row_and_reads_say_it_was_raised() {
    let Some(server) = ClickHouse::start() else {
        return;
    };
    let dir = tempfile::tempdir_in(work_dir()).unwrap();
    let mut one = server.store("notes", "s1", &dir.path().join("spool-1"));
    let mut two = server.store("notes", "s2", &dir.path().join("spool-2"));
    let [upload, new_app] = notices_twice(&mut one, &mut two);
    // Before the server merges the parts: raised, and each once-ever key listed once.
    let reader = server.reader("notes");
    for store in [&one, &reader] {
        assert!(store.raised(&upload.key()).unwrap());
        assert!(store.raised(&new_app.key()).unwrap());
        assert_eq!(store.raised_ever().unwrap(), [new_app.key()]);
    }
    let next_day = notice(
        NoticeKind::Upload,
        "o'brien",
        "openai-chatgpt",
        DAY_20000 + 86_400,
    );
    let other_user = notice(
        NoticeKind::Upload,
        "bob",
        "openai-chatgpt",
        DAY_20000 + 3600,
    );
    for other in [&next_day, &other_user] {
        assert!(!reader.raised(&other.key()).unwrap(), "{:?}", other.key());
    }
    assert_eq!(server.count("SELECT count() FROM notes.notices FINAL"), 2);
    server.query("OPTIMIZE TABLE notes.notices FINAL");
    // Which sensor's row stays is the server's choice; the key is one row.
    let rows = server.rows("SELECT kind, day, user FROM notes.notices ORDER BY kind FORMAT TSV");
    assert_eq!(rows, ["new_app\t-1\t", "upload\t20000\to\\'brien"]);
}
