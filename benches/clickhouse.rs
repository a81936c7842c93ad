//! Rows per second into ClickHouse from a large replay, next to SQLite: `cargo bench --bench
//! clickhouse` (LANTERN_BENCH_USES sets how many AI uses the synthetic capture holds; each is a DNS
//! lookup, its answer and a TLS connection, so two evidence rows). It starts Debian's
//! clickhouse-server itself, as the tests do, and measures:
//!
//! - `sqlite`: `lantern replay` into a SQLite file;
//! - `spool only`: the same replay with the server down, so every batch goes to the spool;
//! - `store sync`: sending that spool once the server is back: the insert rate alone;
//! - `clickhouse`: the replay with the server up, into a new database, until the spool is empty.

#[path = "../tests/integration/common/clickhouse.rs"]
#[allow(dead_code)]
mod clickhouse;
#[path = "../tests/integration/common/synth.rs"]
mod synth;
#[path = "../tests/integration/common/system.rs"]
#[allow(dead_code)]
mod system;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn lantern(dir: &Path, args: &[&str]) -> Duration {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run lantern");
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "lantern {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// Rows written: (flow and DNS evidence, every table's).
fn rows(server: &clickhouse::ClickHouse, db: &str) -> (u64, u64) {
    let count = |t: &str| server.count(&format!("SELECT count() FROM {db}.{t}"));
    let evidence = count("flows") + count("dns");
    (evidence, evidence + count("rollups_in") + count("files"))
}

fn line(phase: &str, took: Duration, (evidence, all): (u64, u64)) {
    let secs = took.as_secs_f64();
    println!(
        "{phase:<12} {secs:>7.2} s {evidence:>10} {:>12.0} {all:>10} {:>12.0}",
        evidence as f64 / secs,
        all as f64 / secs
    );
}

fn main() {
    let Some(mut server) = clickhouse::ClickHouse::start() else {
        return;
    };
    let uses: u32 = std::env::var("LANTERN_BENCH_USES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500_000);
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("work directory");
    // LANTERN_BENCH_KEEP=1 keeps the capture and the stores, to profile with them.
    let (dir, _removed_at_end) = if std::env::var_os("LANTERN_BENCH_KEEP").is_some() {
        let kept = tmp.keep();
        println!("keeping {}", kept.display());
        (kept, None)
    } else {
        (tmp.path().to_path_buf(), Some(tmp))
    };
    let capture = &dir.join("ai.pcap");
    // 50,000 users over a week.
    let step = 7 * 86_400 * 1_000_000 / u64::from(uses);
    synth::ai_use(capture, uses, 50_000, 1_795_305_600, step, true);
    let size = std::fs::metadata(capture).expect("capture").len();
    println!(
        "capture: {uses} AI uses, {} packets, {} MB",
        u64::from(uses) * 3,
        size / 1_000_000
    );
    let file = capture.display().to_string();
    let db = &dir.join("bench.db").display().to_string();
    let took = lantern(&dir, &["replay", "-q", "--store", db, &file]);
    let conn = rusqlite::Connection::open(db).expect("sqlite");
    let count = |t: &str| -> u64 {
        conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| {
            r.get::<_, i64>(0)
        })
        .expect("count") as u64
    };
    let evidence = count("flows") + count("dns");
    println!(
        "{:<12} {:>9} {:>10} {:>12} {:>10} {:>12}",
        "store", "time", "evidence", "evidence/s", "all rows", "all rows/s"
    );
    line(
        "sqlite",
        took,
        (
            evidence,
            evidence + count("rollups_hourly") + count("files"),
        ),
    );

    let spooled = server.url("spooled");
    lantern(&dir, &["store", "init", "--store", &spooled]);
    server.kill();
    // --force: with the server down, whether the file was ingested before cannot be asked.
    let took = lantern(
        &dir,
        &["replay", "-q", "--force", "--store", &spooled, &file],
    );
    server.restart();
    let sync = lantern(&dir, &["store", "sync", "--store", &spooled]);
    let sent = rows(&server, "spooled");
    line("spool only", took, sent);
    line("store sync", sync, sent);

    let direct = server.url("direct");
    lantern(&dir, &["store", "init", "--store", &direct]);
    let took = lantern(&dir, &["replay", "-q", "--store", &direct, &file]);
    line("clickhouse", took, rows(&server, "direct"));
}
