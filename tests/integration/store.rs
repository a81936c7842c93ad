//! The SQLite store, through the binary: evidence of AI use, hourly rollups that later runs add
//! to, and refusing a file that was already replayed; through the library, notices kept once
//! per key and the reads that say whether one was raised.

use crate::common::{
    Replay, Run, arg, lantern_in, notice, own, sqlite_row, sqlite_try_value, sqlite_typed,
    sqlite_value, synth, wait_until, write_notices,
};
use lantern::output::notice::{Notice, NoticeKind};
use lantern::store::{Cutoffs, SqliteStore, Store};
use std::path::Path;
use std::time::Duration;

/// The number `sql` answers on the store `db`.
fn count(db: &Path, sql: &str) -> i64 {
    sqlite_value(db, sql)
}

/// `lantern replay --quiet --store STORE EXTRA FILE`, whatever its exit.
fn replay_into(store: &Path, file: &Path, extra: &[&str]) -> Run {
    Replay::of(&[file])
        .store(arg(store))
        .no_events()
        .args(extra)
        .run()
}

#[test]
fn evidence_rollups_and_ingested_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("lantern.db");
    let upload = own("python-upload.pcap");
    let chatgpt = own("curl-chatgpt.pcap");
    let run = Replay::of(&[&upload, &chatgpt])
        .store(arg(&store))
        .sensor("lab-1")
        .loud()
        .no_events()
        .ok();
    assert!(run.stderr.contains("store: "), "{}", run.stderr);
    let db = store.as_path();

    // Only AI-related flows and lookups are kept, with the sensor on every row.
    assert_eq!(count(db, "SELECT count(*) FROM flows"), 2);
    assert_eq!(
        count(
            db,
            "SELECT count(*) FROM flows WHERE sensor = 'lab-1' AND app_id IS NOT NULL"
        ),
        2
    );
    let (name, user, up, pattern): (String, String, i64, String) = sqlite_row(
        db,
        "SELECT server_name, user, bytes_up, app_pattern FROM flows WHERE app_id = 'anthropic-api'",
    );
    assert_eq!(
        (name.as_str(), user.as_str(), pattern.as_str()),
        ("api.anthropic.com", "10.77.0.11", "api.anthropic.com")
    );
    assert!(up > 200_000);
    assert_eq!(
        count(db, "SELECT count(*) FROM dns WHERE query = 'chatgpt.com'"),
        2
    );
    assert_eq!(
        count(
            db,
            "SELECT count(*) FROM dns WHERE app_id IS NULL AND candidate = 0"
        ),
        0
    );

    // Hourly rollups per (sensor, hour, user, app) agree with the evidence.
    let (flows, lookups, rollup_up): (i64, i64, i64) = sqlite_row(
        db,
        "SELECT flows, dns_lookups, bytes_up FROM rollups_hourly
             WHERE sensor = 'lab-1' AND user = '10.77.0.11' AND app_id = 'anthropic-api'",
    );
    assert_eq!((flows, lookups, rollup_up), (1, 0, up));
    assert_eq!(
        count(db, "SELECT sum(flows) FROM rollups_hourly"),
        count(db, "SELECT count(*) FROM flows WHERE app_id IS NOT NULL")
    );
    assert_eq!(
        count(
            db,
            "SELECT count(*) FROM rollups_hourly WHERE hour % 3600 != 0"
        ),
        0
    );

    // Both files are recorded, read to the end, with their SHA-256 and packet counts.
    let (packets, complete, sha): (i64, bool, String) = sqlite_row(
        db,
        "SELECT packets, complete, sha256 FROM files WHERE path LIKE '%python-upload.pcap'",
    );
    assert!(complete);
    assert_eq!(sha.len(), 64);
    assert!(packets > 150, "{packets}");
    assert_eq!(count(db, "SELECT count(*) FROM files"), 2);
}

#[test]
fn the_same_file_twice_is_refused_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let file = own("node-openai.pcap");
    assert_eq!(replay_into(&store, &file, &[]).status, 0);
    let db = store.as_path();
    let flows = || count(db, "SELECT sum(flows) FROM rollups_hourly");
    assert_eq!(flows(), 1);

    // A copy under another name is the same file.
    let copy = dir.path().join("copy.pcap");
    std::fs::copy(&file, &copy).unwrap();
    let again = replay_into(&store, &copy, &[]);
    assert_eq!(again.status, 1);
    let line = again.stderr.trim();
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(
        line.starts_with(&format!(
            "lantern: {}: already replayed into",
            copy.display()
        )),
        "{line}"
    );
    assert!(line.contains("--force"), "{line}");
    assert_eq!(flows(), 1, "nothing was added");

    let forced = replay_into(&store, &copy, &["--force"]);
    assert_eq!(forced.status, 0, "{}", forced.stderr);
    assert_eq!(flows(), 2, "a forced replay adds to the rollups");
    assert_eq!(count(db, "SELECT count(*) FROM files"), 2);
}

#[test]
fn the_store_defaults_to_lantern_db_or_lantern_store() {
    let dir = tempfile::tempdir().unwrap();
    let file = own("nosni-gemini.pcap");
    let run = lantern_in(
        Some(dir.path()),
        &[],
        &["replay", "--quiet", file.to_str().unwrap()],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(dir.path().join("lantern.db").is_file());

    let elsewhere = dir.path().join("env.db");
    let run = lantern_in(
        Some(dir.path()),
        &[("LANTERN_STORE", elsewhere.to_str().unwrap())],
        &["replay", "--quiet", file.to_str().unwrap()],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let db = elsewhere.as_path();
    assert_eq!(
        count(
            db,
            "SELECT count(*) FROM flows WHERE name_source = 'dns_answer'"
        ),
        1
    );

    let none = tempfile::tempdir().unwrap();
    let run = lantern_in(
        Some(none.path()),
        &[],
        &["replay", "--quiet", "--no-store", file.to_str().unwrap()],
    );
    assert_eq!(run.status, 0);
    assert_eq!(
        std::fs::read_dir(none.path()).unwrap().count(),
        0,
        "--no-store writes nothing"
    );
}

#[test]
fn a_file_cut_short_keeps_what_was_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("cut.db");
    let cut = own("python-upload-cut.pcap");
    let run = Replay::of(&[&cut]).store(arg(&store)).loud().run();
    assert_eq!(run.status, 1);
    let error = run.stderr.lines().last().unwrap();
    assert!(
        error.starts_with(&format!("lantern: {}: cut short: packet ", cut.display()))
            && error.contains(" at offset ")
            && error.ends_with("bytes later"),
        "{error}"
    );
    // The flow read so far is in the events and the store, and the file is marked incomplete.
    let flow = run
        .flows()
        .into_iter()
        .find(|e| e["server_name"] == "api.anthropic.com")
        .expect("the upload flow");
    let up = flow["bytes_up"].as_u64().unwrap();
    assert!(up > 50_000 && up < 200_000, "{up}");
    let db = store.as_path();
    let (complete, error): (bool, String) = sqlite_row(db, "SELECT complete, error FROM files");
    assert!(!complete);
    assert!(error.contains("cut short"), "{error}");
    assert_eq!(
        count(
            db,
            "SELECT bytes_up FROM flows WHERE app_id = 'anthropic-api'"
        ),
        up as i64
    );
}

/// `sha256sum FILE`'s hash.
fn sha256sum(path: &std::path::Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn a_new_file_is_hashed_as_it_is_read_and_a_same_looking_one_is_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let replay =
        |file: &std::path::Path, threads: &str| replay_into(&store, file, &["--threads", threads]);
    // A new file: one read, and its row gets the hash of every byte, as sha256sum says.
    let original = own("python-upload.pcap");
    assert_eq!(replay(&original, "1").status, 0);
    let db = store.as_path();
    let (sha, quick): (String, String) = sqlite_row(db, "SELECT sha256, quick_key FROM files");
    assert_eq!(sha, sha256sum(&original));
    assert_eq!(quick.len(), 64);
    // Same size, same first and last 64 KiB, one byte changed in the middle: the same
    // quick key, so it is hashed before the replay, found to differ, and replayed.
    let mut bytes = std::fs::read(&original).unwrap();
    assert!(bytes.len() > 200_000, "{}", bytes.len());
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    let edited = dir.path().join("edited.pcap");
    std::fs::write(&edited, &bytes).unwrap();
    let run = replay(&edited, "2");
    assert_eq!(run.status, 0, "{}", run.stderr);
    let hashes: Vec<(String, String)> =
        sqlite_typed(db, "SELECT sha256, quick_key FROM files ORDER BY id");
    assert_eq!(hashes.len(), 2);
    assert_eq!(hashes[1], (sha256sum(&edited), quick.clone()));
    // A copy of either is refused, with the threads' reader too.
    for file in [&original, &edited] {
        let copy = dir.path().join("copy.pcap");
        std::fs::copy(file, &copy).unwrap();
        let again = replay(&copy, "2");
        assert_eq!(again.status, 1);
        assert!(
            again.stderr.contains("already replayed into"),
            "{}",
            again.stderr
        );
    }
    // A file cut short is still hashed whole: its row's hash is sha256sum's.
    let cut = own("python-upload-cut.pcap");
    assert_eq!(replay(&cut, "2").status, 1);
    let cut_sha: String = sqlite_value(db, "SELECT sha256 FROM files WHERE complete = 0");
    assert_eq!(cut_sha, sha256sum(&cut));
}

#[test]
fn a_file_being_replayed_is_refused_by_a_second_replay_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let big = dir.path().join("big.pcap");
    // About 60 MB: the first replay takes a while, and is stopped while it runs.
    synth::ai_use(&big, 300_000, 500, 1_795_000_000, 1_000, true);
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args(["replay", "--quiet", "--store"])
        .arg(&store)
        .arg(&big)
        .spawn()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(first.id() as i32);
    wait_until(
        "the first replay's row in files",
        Duration::from_secs(30),
        || {
            let rows: i64 = sqlite_try_value(&store, "SELECT count(*) FROM files").unwrap_or(0);
            assert!(
                rows == 1 || first.try_wait().unwrap().is_none(),
                "the first replay ended first"
            );
            rows == 1
        },
    );
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    let second = replay_into(&store, &big, &[]);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    assert_eq!(second.status, 1, "{}", second.stderr);
    assert!(
        second.stderr.contains("or is running now"),
        "{}",
        second.stderr
    );
    assert!(first.wait().unwrap().success());
    let db = store.as_path();
    assert_eq!(count(db, "SELECT count(*) FROM files"), 1);
    let sha: String = sqlite_value(db, "SELECT sha256 FROM files");
    assert_eq!(sha, sha256sum(&big));
    let third = replay_into(&store, &big, &[]);
    assert!(
        third.stderr.contains("already replayed into"),
        "{}",
        third.stderr
    );
}

#[test]
fn a_copy_is_refused_at_once_while_another_process_holds_the_write_lock() {
    // A daemon or a replay writing the same store holds SQLite's write lock for each of its
    // transactions; one stopped inside one (SIGSTOP, a debugger, a paused VM) holds it for
    // as long as it is stopped. Deciding that a file was already replayed only reads.
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let capture = own("chromium-claude.pcap");
    let first = replay_into(&store, &capture, &[]);
    assert_eq!(first.status, 0, "{}", first.stderr);
    let writer = rusqlite::Connection::open(&store).unwrap();
    writer.execute_batch("BEGIN IMMEDIATE").unwrap();
    let again = replay_into(&store, &capture, &[]);
    writer.execute_batch("ROLLBACK").unwrap();
    assert_eq!(again.status, 1, "{}", again.stderr);
    assert!(
        again.stderr.contains("already replayed"),
        "{}",
        again.stderr
    );
}

/// 2024-10-04T00:00:00Z, in seconds: day 20,000.
const DAY_20000: i64 = 20_000 * 86_400;

#[test]
fn a_notice_key_is_kept_once_across_writes_and_sensors_and_read_back_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("n.db");
    let upload = notice(
        NoticeKind::Upload,
        "o'brien",
        "openai-chatgpt",
        DAY_20000 + 3600,
    );
    let new_app = notice(NoticeKind::NewApp, "bob", "openai-chatgpt", DAY_20000 + 60);
    let mut one = Store::Sqlite(SqliteStore::open(&db, "s1").unwrap());
    assert!(!one.raised(&upload.key()).unwrap());
    write_notices(&mut one, &[upload.clone(), new_app.clone()]);
    // Read by the store's own connection right after the write: it waits for the writing
    // thread.
    assert!(one.raised(&upload.key()).unwrap());
    assert!(one.raised(&new_app.key()).unwrap());
    // The same keys again: later that day in another batch, and from a second sensor on the
    // same file (a new app is the network's: another user's record has its key too).
    let again = Notice {
        message: "again".into(),
        ..notice(
            NoticeKind::Upload,
            "o'brien",
            "openai-chatgpt",
            DAY_20000 + 7200,
        )
    };
    write_notices(&mut one, std::slice::from_ref(&again));
    let mut two = Store::Sqlite(SqliteStore::open(&db, "s2").unwrap());
    let carol = notice(
        NoticeKind::NewApp,
        "carol",
        "openai-chatgpt",
        DAY_20000 + 600,
    );
    write_notices(&mut two, &[again, carol.clone()]);
    two.sync().unwrap();
    one.sync().unwrap();
    assert_eq!(carol.key(), new_app.key());
    let rows: Vec<(String, String, i64, String, String, String)> = sqlite_typed(
        &db,
        "SELECT sensor, kind, day, user, user_shown, message FROM notices ORDER BY kind",
    );
    let row = |sensor: &str, kind: &str, day: i64, user: &str, shown: &str, message: &str| {
        let s = |v: &str| v.to_string();
        (s(sensor), s(kind), day, s(user), s(shown), s(message))
    };
    assert_eq!(
        rows,
        [
            row("s1", "new_app", -1, "", "bob", "new_app openai-chatgpt"),
            row(
                "s1",
                "upload",
                20_000,
                "o'brien",
                "o'brien",
                "upload openai-chatgpt"
            ),
        ],
        "the first row of each key stays"
    );
    for store in [&one, &two] {
        assert!(store.raised(&upload.key()).unwrap());
        assert!(store.raised(&new_app.key()).unwrap());
    }
    // Another day or another user is another key.
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
        assert!(!one.raised(&other.key()).unwrap(), "{:?}", other.key());
    }
    // Only the kinds raised once ever are listed, each once.
    assert_eq!(one.raised_ever().unwrap(), [new_app.key()]);
}

#[test]
fn a_notice_pruned_with_the_rollups_is_raised_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::Sqlite(SqliteStore::open(&dir.path().join("p.db"), "s1").unwrap());
    let old = notice(NoticeKind::NewMcpServer, "bob", "mcp.example", DAY_20000);
    let kept = notice(
        NoticeKind::NewGateway,
        "bob",
        "gw.example",
        DAY_20000 + 86_400,
    );
    write_notices(&mut store, &[old.clone(), kept.clone()]);
    let cutoffs = Cutoffs {
        evidence_secs: None,
        rollup_secs: Some(DAY_20000 + 86_400),
    };
    let pruned = store.prune(&cutoffs, false).unwrap();
    assert_eq!(pruned.of("notices"), 1);
    assert!(!store.raised(&old.key()).unwrap());
    assert_eq!(store.raised_ever().unwrap(), [kept.key()]);
}
