//! Upgrades: stores and spools written by the previous release (schema version 4) are
//! migrated or sent by this one with every row kept, stores of schema version 9 get the
//! `notices` table that version 10 added, and a store from a newer lantern is refused with one
//! line.
//!
//! The previous release's output is in `tests/fixtures/schema-v4/`: a SQLite store, the
//! ClickHouse tables as that release created them (single node and the two-shard cluster) with
//! their rows, and a spool it left while its server was away. They were made by the ignored
//! test at the end of this file with that release's binary:
//! `LANTERN_PREVIOUS=/path/to/old/lantern cargo test --release --features system-tests --test
//! integration upgrade::make_fixtures -- --ignored`. The ClickHouse tests are system tests
//! (feature `system-tests`).

#[cfg(feature = "system-tests")]
use crate::common::clickhouse::{ClickHouse, Cluster};
#[cfg(feature = "system-tests")]
use crate::common::work_dir;
use crate::common::{
    Replay, arg, lantern_in, lantern_ok, notice, own, sorted, sqlite_rows, sqlite_typed,
    write_notices,
};
use lantern::output::notice::NoticeKind;
use lantern::store::{SqliteStore, Store};
use std::path::{Path, PathBuf};

/// The schema version this lantern writes.
const VERSION: u32 = lantern::store::SCHEMA_VERSION;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema-v4")
}

/// The captures the fixtures were written from.
const CAPTURES: [&str; 6] = [
    "curl-chatgpt.pcap",
    "chromium-claude.pcap",
    "chromium-shared-cdn.pcap",
    "dns-lookups.pcap",
    "http-ollama.pcap",
    "http-local-models.pcap",
];

/// The rows of `columns` of `table`, sorted.
fn table_rows(db: &Path, table: &str, columns: &str) -> Vec<String> {
    sorted_rows(db, &format!("SELECT {columns} FROM {table}"))
}

/// The rows `sql` answers, sorted.
fn sorted_rows(db: &Path, sql: &str) -> Vec<String> {
    sorted(sqlite_rows(db, sql))
}

/// The columns a SQLite table has, in order.
fn sqlite_columns(db: &Path, table: &str) -> Vec<String> {
    let sql = format!("SELECT name FROM pragma_table_info('{table}')");
    sqlite_typed::<(String,)>(db, &sql)
        .into_iter()
        .map(|(name,)| name)
        .collect()
}

#[test]
fn a_sqlite_store_of_the_previous_release_is_migrated_on_open_with_every_row_kept() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    std::fs::copy(fixtures().join("store.db"), &db).unwrap();
    let tables = ["flows", "dns", "rollups_hourly", "files", "pseudonyms"];
    let before: Vec<(Vec<String>, Vec<String>)> = tables
        .iter()
        .map(|t| {
            let columns = sqlite_columns(&db, t);
            let rows = table_rows(&db, t, &columns.join(", "));
            assert!(!rows.is_empty(), "the fixture has {t} rows");
            (columns, rows)
        })
        .collect();
    assert!(!sqlite_columns(&db, "flows").contains(&"ech_kind".to_string()));
    // Opening it for a report migrates it.
    let period = ["--from", "1970-01-01", "--to", "2100-12-31"];
    let mut args = vec![
        "report",
        "--store",
        db.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend(period);
    let report = lantern_ok(dir.path(), &args);
    assert!(
        report.stdout.contains("openai-chatgpt"),
        "{}",
        report.stdout
    );
    for (table, (columns, rows)) in tables.iter().zip(&before) {
        assert_eq!(
            &table_rows(&db, table, &columns.join(", ")),
            rows,
            "{table} kept"
        );
    }
    let flows = sqlite_columns(&db, "flows");
    assert!(
        flows.contains(&"ech_kind".to_string()) && flows.contains(&"name_alternatives".to_string())
    );
    assert!(
        table_rows(&db, "flows", "ech_kind, name_alternatives")
            .iter()
            .all(|r| r == "\\N\t\\N"),
        "older rows have no ECH kind"
    );
    assert_eq!(table_rows(&db, "meta", "value"), [VERSION.to_string()]);
    assert!(sqlite_columns(&db, "notices").contains(&"subject".to_string()));
    // New rows go in beside the old ones, with their ECH kind.
    let captures: Vec<PathBuf> = CAPTURES.iter().map(|c| own(c)).collect();
    Replay::of(&captures)
        .store(arg(&db))
        .sensor("s2")
        .no_events()
        .args(&["--force"])
        .dir(dir.path())
        .ok();
    let kinds = table_rows(&db, "flows", "count(ech_kind)");
    assert_ne!(kinds, ["0"], "rows of this release carry their ECH kind");
}

/// A new app raised once ever, to write into an upgraded store.
fn a_new_app() -> lantern::output::notice::Notice {
    notice(NoticeKind::NewApp, "bob", "openai-chatgpt", 1_728_000_000)
}

#[test]
fn a_sqlite_store_of_schema_version_9_gets_the_notices_table_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v9.db");
    Replay::of(&[own("curl-chatgpt.pcap")])
        .store(arg(&db))
        .no_events()
        .dir(dir.path())
        .ok();
    // The store as version 9 left it: the tables of this release but `notices`.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "DROP TABLE notices; UPDATE meta SET value = '9' WHERE key = 'schema_version'",
    )
    .unwrap();
    drop(conn);
    let flows = table_rows(&db, "flows", "*");
    assert!(!flows.is_empty());
    let mut store = Store::Sqlite(SqliteStore::open(&db, "s2").unwrap());
    write_notices(&mut store, &[a_new_app(), a_new_app()]);
    assert!(store.raised(&a_new_app().key()).unwrap());
    drop(store);
    assert_eq!(table_rows(&db, "meta", "value"), [VERSION.to_string()]);
    assert_eq!(table_rows(&db, "flows", "*"), flows, "flows kept");
    assert_eq!(table_rows(&db, "notices", "count(*)"), ["1"]);
    let indexes = "SELECT name FROM sqlite_master WHERE tbl_name = 'notices' AND type = 'index'";
    assert_eq!(
        sorted_rows(&db, indexes),
        ["notices_by_key", "notices_by_time"]
    );
}

/// Writes a SQLite store from the fixtures' captures as the fixture maker did.
fn write_like_the_fixtures(dir: &Path, db: &Path) {
    let key = dir.join("key");
    std::fs::write(&key, "works council key, kept by the DPO\n").unwrap();
    let captures: Vec<PathBuf> = CAPTURES.iter().map(|c| own(c)).collect();
    let into_db = |files: &[PathBuf]| Replay::of(files).store(arg(db)).sensor("s1").no_events();
    into_db(&captures).dir(dir).ok();
    (into_db(&[own("identity.pcap")]))
        .args(&["--pseudonymize", &arg(&key)])
        .dir(dir)
        .ok();
}

#[test]
fn this_release_writes_the_rows_the_previous_one_did_but_for_agents() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh.db");
    write_like_the_fixtures(dir.path(), &fresh);
    let old = dir.path().join("old.db");
    std::fs::copy(fixtures().join("store.db"), &old).unwrap();
    for table in ["flows", "dns", "pseudonyms", "files"] {
        let mut columns = sqlite_columns(&old, table);
        // Wall-clock times of the ingestion differ between any two runs; since version 5 a
        // program's flow to a model API is an agent's (below), and JA4 leaves out GREASE in
        // signature algorithms as its specification says (Chromium's third part).
        // A file's path is where the repository was checked out; its SHA-256 says it is the same.
        columns.retain(|c| !["ingested_at", "path", "user_kind", "ja4"].contains(&c.as_str()));
        let columns = columns.join(", ");
        assert_eq!(
            table_rows(&fresh, table, &columns),
            table_rows(&old, table, &columns),
            "{table}"
        );
    }
    // The kinds that changed are exactly the programs' flows to model APIs.
    let changed = |db: &Path| sorted_rows(db, "SELECT ts_us, flow_id, user_kind FROM flows");
    let (now, before) = (changed(&fresh), changed(&old));
    let differ: Vec<(&String, &String)> = now.iter().zip(&before).filter(|(a, b)| a != b).collect();
    assert!(!differ.is_empty());
    for (now, _) in &differ {
        assert!(now.ends_with("\tagent"), "{now}");
    }
    let agents = sorted_rows(
        &fresh,
        "SELECT DISTINCT client_software || ' ' || client_kind || ' ' || app_id FROM flows \
         WHERE user_kind = 'agent'",
    );
    assert_eq!(
        agents,
        [
            "Python (OpenSSL) program openai-api",
            "Python urllib program openai-compatible-server",
            "curl program lm-studio-server",
            "curl program ollama-server",
            "curl program openai-compatible-server",
        ]
    );
    // Rollups add up to the same totals per user and app, whatever the kind.
    let totals = "SELECT sensor, hour, user, app_id, sum(flows), sum(dns_lookups), \
                  sum(bytes_up), sum(bytes_down), min(first_seen_us), max(last_seen_us) \
                  FROM rollups_hourly GROUP BY sensor, hour, user, app_id";
    let sums = |db: &Path| sorted_rows(db, totals);
    assert_eq!(sums(&fresh), sums(&old));
}

#[test]
fn a_store_written_by_a_newer_lantern_is_refused_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("newer.db");
    std::fs::copy(fixtures().join("store.db"), &db).unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
        [],
    )
    .unwrap();
    drop(conn);
    let run = lantern_in(
        Some(dir.path()),
        &[],
        &["report", "--store", db.to_str().unwrap()],
    );
    assert_eq!(run.status, 1);
    assert_eq!(
        run.stderr,
        format!(
            "lantern: {}: store schema version 99 is newer than this lantern's ({VERSION}); use a newer lantern\n",
            db.display()
        )
    );
}

/// What only the ClickHouse tests use: the previous release's tables and rows on a server.
#[cfg(feature = "system-tests")]
mod previous_on_clickhouse {
    use super::fixtures;
    use crate::common::clickhouse::ClickHouse;
    use crate::common::{Replay, Run, arg, own, sorted};
    use std::path::Path;

    /// The tables the previous release wrote rows into (rollups_hourly is the view's).
    pub(super) const TABLES: [&str; 5] = ["flows", "dns", "rollups_in", "files", "pseudonyms"];

    /// The objects the previous release created, in the order to create them.
    pub(super) const OBJECTS: [&str; 7] = [
        "flows",
        "dns",
        "rollups_in",
        "rollups_hourly",
        "files",
        "pseudonyms",
        "rollups_mv",
    ];

    /// `lantern replay --force` of one of this project's captures as sensor `s2` into the
    /// ClickHouse store `url`, with its spool under `dir`: a sensor of this release starting up.
    pub(super) fn replay_as_s2(dir: &Path, url: &str, capture: &str) -> Run {
        Replay::of(&[own(capture)])
            .store(url)
            .sensor("s2")
            .no_events()
            .args(&["--force", "--spool", &arg(&dir.join("spool"))])
            .dir(dir)
            .ok()
    }

    /// Statements separated by a line holding `;`.
    pub(super) fn statements(text: &str) -> Vec<&str> {
        text.split("\n;\n")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// Creates the previous release's tables on `node` and loads its rows (through `prefix`, the
    /// table names rows are inserted into: `""` or, on a cluster, the Distributed tables).
    pub(super) fn load_previous(node: &ClickHouse, schema: &str, database: &str, rows: bool) {
        node.query(&format!("CREATE DATABASE IF NOT EXISTS `{database}`"));
        let ddl = std::fs::read_to_string(fixtures().join(schema)).unwrap();
        let ddl = ddl.replace("prev.", &format!("{database}."));
        for statement in statements(&ddl) {
            node.query(statement);
        }
        if rows {
            for table in TABLES {
                let data =
                    std::fs::read_to_string(fixtures().join(format!("{table}.tsv"))).unwrap();
                node.query(&format!(
                    "INSERT INTO `{database}`.{table} FORMAT TabSeparated\n{data}"
                ));
            }
        }
    }

    /// The previous release's rows of `table`, as it wrote them, sorted: the columns it had.
    pub(super) fn previous_rows(table: &str) -> Vec<String> {
        let data = std::fs::read_to_string(fixtures().join(format!("{table}.tsv"))).unwrap();
        let mut rows: Vec<String> = data.lines().map(str::to_string).collect();
        rows.sort();
        rows
    }

    /// The columns of `table` the previous release had, in its order.
    pub(super) fn previous_columns(table: &str) -> String {
        std::fs::read_to_string(fixtures().join(format!("{table}.columns")))
            .unwrap()
            .trim()
            .to_string()
    }

    pub(super) fn clickhouse_rows(node: &ClickHouse, database: &str, table: &str) -> Vec<String> {
        let columns = previous_columns(table);
        let rows = node.rows(&format!(
            "SELECT {columns} FROM `{database}`.{table} FORMAT TabSeparated"
        ));
        // Rows a run of this release added after the upgrade (sensor `s2`) are not the fixture's.
        sorted(rows)
            .into_iter()
            .filter(|r| !r.starts_with("s2\t") && !r.contains("\ts2\t"))
            .collect()
    }

    pub(super) fn assert_every_previous_row_kept(node: &ClickHouse, database: &str) {
        for table in TABLES {
            let want = previous_rows(table);
            assert!(!want.is_empty(), "the fixture has {table} rows");
            assert_eq!(
                clickhouse_rows(node, database, table),
                want,
                "{database}.{table}"
            );
        }
    }

    pub(super) fn columns_of(node: &ClickHouse, database: &str, table: &str) -> String {
        node.query(&format!(
            "SELECT name FROM system.columns WHERE database = '{database}' AND table = '{table}' FORMAT TSV"
        ))
    }

    pub(super) fn version_of(node: &ClickHouse, database: &str) -> String {
        node.query(&format!(
            "SELECT max(version) FROM `{database}`.schema_version FORMAT TSV"
        ))
        .trim()
        .to_string()
    }
}

#[cfg(feature = "system-tests")]
use previous_on_clickhouse::*;

#[test]
#[cfg(feature = "system-tests")]
fn a_clickhouse_store_of_the_previous_release_is_migrated_at_start_up_and_by_init() {
    let Some(server) = ClickHouse::start() else {
        return;
    };
    let dir = tempfile::tempdir_in(work_dir()).unwrap();
    for (database, how) in [("by_start", "replay"), ("by_init", "init")] {
        load_previous(&server, "clickhouse-single.sql", database, true);
        assert!(!columns_of(&server, database, "flows").contains("ech_kind"));
        let url = server.url(database);
        match how {
            "init" => {
                lantern_ok(dir.path(), &["store", "init", "--store", &url]);
            }
            _ => {
                replay_as_s2(dir.path(), &url, "curl-chatgpt.pcap");
            }
        }
        let columns = columns_of(&server, database, "flows");
        assert!(
            columns.contains("ech_kind\n") && columns.contains("name_alternatives\n"),
            "{database}: {columns}"
        );
        assert_eq!(
            version_of(&server, database),
            VERSION.to_string(),
            "{database}"
        );
        assert_every_previous_row_kept(&server, database);
        assert!(columns_of(&server, database, "notices").contains("subject\n"));
        if how == "replay" {
            let new = server.count(&format!(
                "SELECT count() FROM `{database}`.flows WHERE sensor = 's2' AND ech_kind IS NOT NULL"
            ));
            assert!(new > 0, "the replay's rows went in with their ECH kind");
        }
    }
    // A store a newer lantern migrated is refused, with one line.
    server.query("INSERT INTO by_init.schema_version (version, applied_at) VALUES (99, 'later')");
    let run = lantern_in(
        Some(dir.path()),
        &[],
        &["store", "init", "--store", &server.url("by_init")],
    );
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(
        run.stderr.ends_with(&format!(
            "store schema version 99 is newer than this lantern's ({VERSION}); use a newer lantern\n"
        )) && run.stderr.lines().count() == 1,
        "{}",
        run.stderr
    );
}

#[test]
#[cfg(feature = "system-tests")]
fn a_cluster_of_the_previous_release_is_migrated_on_local_and_distributed_tables() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let dir = tempfile::tempdir_in(work_dir()).unwrap();
    let (one, two) = (&cluster.nodes[0], &cluster.nodes[1]);
    for node in [one, two] {
        load_previous(node, "clickhouse-cluster.sql", "sites_db", false);
    }
    for table in TABLES {
        let data = std::fs::read_to_string(fixtures().join(format!("{table}.tsv"))).unwrap();
        // All on the first shard, which reads through the Distributed tables see whole.
        one.query(&format!(
            "INSERT INTO sites_db.{table}_local FORMAT TabSeparated\n{data}"
        ));
    }
    // Start-up (a replay, without --cluster) finds the cluster and migrates every node.
    let run = replay_as_s2(dir.path(), &two.url("sites_db"), "curl-chatgpt.pcap");
    assert_eq!(run.stderr, "", "the replay says nothing");
    for (i, node) in [one, two].into_iter().enumerate() {
        for table in ["flows", "flows_local"] {
            let columns = columns_of(node, "sites_db", table);
            assert!(
                columns.contains("ech_kind\n") && columns.contains("name_alternatives\n"),
                "node {i}, {table}: {columns}{}",
                node.log()
            );
        }
        assert_eq!(version_of(node, "sites_db"), VERSION.to_string());
        for table in ["notices", "notices_local"] {
            let columns = columns_of(node, "sites_db", table);
            assert!(
                columns.contains("subject\n"),
                "node {i}, {table}: {columns}"
            );
        }
    }
    for node in [one, two] {
        for table in TABLES {
            let (want, got) = (
                previous_rows(table),
                clickhouse_rows(node, "sites_db", table),
            );
            assert_eq!(got, want, "{table} through the Distributed table");
        }
    }
    let new = one
        .count("SELECT count() FROM sites_db.flows WHERE sensor = 's2' AND ech_kind IS NOT NULL");
    assert!(new > 0);
}

#[test]
#[cfg(feature = "system-tests")]
fn a_clickhouse_store_of_schema_version_9_gets_the_notices_table_at_start_up() {
    let Some(server) = ClickHouse::start() else {
        return;
    };
    let dir = tempfile::tempdir_in(work_dir()).unwrap();
    replay_as_s2(dir.path(), &server.url("v9"), "curl-chatgpt.pcap");
    // The store as version 9 left it: the tables of this release but `notices`.
    for statement in [
        "DROP TABLE v9.notices",
        "DROP TABLE v9.schema_version",
        "CREATE TABLE v9.schema_version (version UInt32, applied_at String) \
         ENGINE = MergeTree ORDER BY version",
        "INSERT INTO v9.schema_version (version, applied_at) VALUES (9, 'then')",
    ] {
        server.query(statement);
    }
    let flows = server.count("SELECT count() FROM v9.flows");
    assert!(flows > 0);
    let mut store = server.store("v9", "s1", &dir.path().join("spool-v9"));
    // The rules read before the sender's first insert: the read brings the schema up to date.
    assert_eq!(store.raised_ever().unwrap(), []);
    assert_eq!(version_of(&server, "v9"), VERSION.to_string());
    write_notices(&mut store, &[a_new_app()]);
    let stats = store.close().unwrap();
    assert_eq!(stats.spool.batches, 0, "sent: {stats:?}{}", server.log());
    assert_eq!(version_of(&server, "v9"), VERSION.to_string());
    assert_eq!(server.count("SELECT count() FROM v9.flows"), flows);
    assert!(store.raised(&a_new_app().key()).unwrap());
}

#[test]
#[cfg(feature = "system-tests")]
fn a_spool_left_by_the_previous_release_is_sent_after_an_upgrade() {
    let Some(server) = ClickHouse::start() else {
        return;
    };
    let dir = tempfile::tempdir_in(work_dir()).unwrap();
    let url = server.url("from_spool");
    lantern_ok(dir.path(), &["store", "init", "--store", &url]);
    // The spool as the previous release left it, under the name this store's spool has.
    let spool = dir.path().join("spool");
    let port = server
        .url("")
        .split(':')
        .nth(2)
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let store_spool = spool.join(format!("127_0_0_1_{port}_from_spool"));
    std::fs::create_dir_all(&store_spool).unwrap();
    let mut batches = 0;
    for entry in std::fs::read_dir(fixtures().join("spool")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), store_spool.join(entry.file_name())).unwrap();
        batches += 1;
    }
    assert!(batches > 0);
    let run = lantern_ok(
        dir.path(),
        &[
            "replay",
            "--store",
            &url,
            "--spool",
            spool.to_str().unwrap(),
            &arg(&own("dns-lookups.pcap")),
            "--force",
        ],
    );
    assert!(run.stderr.contains(" batches ("), "{}", run.stderr);

    let left: Vec<_> = std::fs::read_dir(&store_spool)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".batch"))
        .collect();
    assert!(left.is_empty(), "the spool is sent: {left:?}");
    // The spool's rows are those the fixture's store holds, from another run of the same
    // captures: the same but for batch ids, file ids and wall-clock times.
    for table in ["flows", "dns", "rollups_in", "files"] {
        let columns = previous_columns(table);
        let names: Vec<&str> = columns.split(", ").collect();
        let same = |row: &str| -> String {
            let cells = row.split('\t').zip(&names);
            let kept = cells.filter(|(_, n)| !["batch_id", "id", "ingested_at"].contains(n));
            kept.map(|(c, _)| c).collect::<Vec<_>>().join("\t")
        };
        let mut want: Vec<String> = previous_rows(table).iter().map(|r| same(r)).collect();
        let mut got: Vec<String> = (clickhouse_rows(&server, "from_spool", table).iter())
            .map(|r| same(r))
            .collect();
        // The replay after the upgrade added its own rows of dns-lookups.pcap, as the fixture's did.
        want.sort();
        got.sort();
        let missing: Vec<&String> = want.iter().filter(|r| !got.contains(r)).collect();
        assert!(
            missing.is_empty(),
            "{table}: spooled rows missing: {missing:#?}"
        );
    }
}

/// Makes `tests/fixtures/schema-v4/` with the previous release's binary (`LANTERN_PREVIOUS`).
#[test]
#[ignore]
#[cfg(feature = "system-tests")]
fn make_fixtures_with_the_previous_release() {
    let previous = std::env::var("LANTERN_PREVIOUS").expect("LANTERN_PREVIOUS=old lantern");
    let out = fixtures();
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(out.join("spool")).unwrap();
    let dir = tempfile::tempdir_in(work_dir()).unwrap();
    let old = |args: &[&str]| {
        let run = std::process::Command::new(&previous)
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(
            run.status.success() || args.contains(&"--force"),
            "{args:?}: {stderr}"
        );
    };
    let key = dir.path().join("key");
    std::fs::write(&key, "works council key, kept by the DPO\n").unwrap();
    let captures: Vec<String> = CAPTURES.iter().map(|c| arg(&own(c))).collect();
    let write_into = |store: &str, spool: &Path, force: bool| {
        let spool = arg(spool);
        let mut args = vec![
            "replay", "--quiet", "--sensor", "s1", "--store", store, "--spool", &spool,
        ];
        args.extend(captures.iter().map(String::as_str));
        if force {
            args.push("--force");
        }
        old(&args);
        let identity = arg(&own("identity.pcap"));
        let key = arg(&key);
        let mut args = vec![
            "replay",
            "--quiet",
            "--sensor",
            "s1",
            "--store",
            store,
            "--spool",
            &spool,
            "--pseudonymize",
            &key,
            &identity,
        ];
        if force {
            args.push("--force");
        }
        old(&args);
    };
    // SQLite.
    let db = dir.path().join("store.db");
    write_into(&arg(&db), &dir.path().join("unused"), false);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("VACUUM INTO ?1", [arg(&out.join("store.db"))])
        .unwrap();
    // ClickHouse, single node.
    let server = ClickHouse::start().expect("clickhouse");
    let url = server.url("prev");
    old(&["store", "init", "--store", &url]);
    write_into(&url, &dir.path().join("spool-single"), false);
    let mut ddl = String::new();
    for object in OBJECTS {
        ddl += &server.query(&format!(
            "SHOW CREATE TABLE prev.{object} FORMAT TabSeparatedRaw"
        ));
        ddl += "\n;\n";
    }
    std::fs::write(out.join("clickhouse-single.sql"), ddl).unwrap();
    for table in TABLES {
        let rows = server.query(&format!("SELECT * FROM prev.{table} FORMAT TabSeparated"));
        std::fs::write(out.join(format!("{table}.tsv")), rows).unwrap();
        let columns = server.query(&format!(
            "SELECT name FROM system.columns WHERE database = 'prev' AND table = '{table}' FORMAT TSV"
        ));
        let columns: Vec<&str> = columns.lines().collect();
        std::fs::write(
            out.join(format!("{table}.columns")),
            columns.join(", ") + "\n",
        )
        .unwrap();
    }
    // A spool left while the server was away (nothing listens on port 9).
    let away = "clickhouse://127.0.0.1:9/prev";
    let spool = dir.path().join("spool-away");
    write_into(away, &spool, true);
    let sub = std::fs::read_dir(&spool).unwrap().next().unwrap().unwrap();
    for batch in std::fs::read_dir(sub.path()).unwrap() {
        let batch = batch.unwrap();
        if batch.file_name().to_string_lossy().ends_with(".batch") {
            std::fs::copy(batch.path(), out.join("spool").join(batch.file_name())).unwrap();
        }
    }
    drop(server);
    // The two-shard cluster.
    let cluster = Cluster::start().expect("cluster");
    let url = cluster.nodes[0].url("sites_db");
    old(&["store", "init", "--store", &url, "--cluster", "sites"]);
    let mut ddl = String::new();
    for object in OBJECTS {
        for name in [format!("{object}_local"), object.to_string()] {
            if object == "rollups_mv" && name.ends_with("_local") {
                continue;
            }
            ddl += &cluster.nodes[0].query(&format!(
                "SHOW CREATE TABLE sites_db.{name} FORMAT TabSeparatedRaw"
            ));
            ddl += "\n;\n";
        }
    }
    std::fs::write(out.join("clickhouse-cluster.sql"), ddl).unwrap();
}
