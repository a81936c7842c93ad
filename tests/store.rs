//! The SQLite store, through the binary: evidence of AI use, hourly rollups that later runs add
//! to, and refusing a file that was already replayed.

mod common;

use common::{lantern, lantern_in, own};
use rusqlite::Connection;

fn count(db: &Connection, sql: &str) -> i64 {
    db.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn evidence_rollups_and_ingested_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("lantern.db");
    let upload = own("python-upload.pcap");
    let chatgpt = own("curl-chatgpt.pcap");
    let run = lantern(&[
        "replay",
        "--store",
        store.to_str().unwrap(),
        "--sensor",
        "lab-1",
        upload.to_str().unwrap(),
        chatgpt.to_str().unwrap(),
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stderr.contains("store: "), "{}", run.stderr);
    let db = Connection::open(&store).unwrap();

    // Only AI-related flows and lookups are kept, with the sensor on every row.
    assert_eq!(count(&db, "SELECT count(*) FROM flows"), 2);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM flows WHERE sensor = 'lab-1' AND app_id IS NOT NULL"
        ),
        2
    );
    let (name, user, up, pattern): (String, String, i64, String) = db
        .query_row(
            "SELECT server_name, user, bytes_up, app_pattern FROM flows WHERE app_id = 'anthropic-api'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(
        (name.as_str(), user.as_str(), pattern.as_str()),
        ("api.anthropic.com", "10.77.0.11", "api.anthropic.com")
    );
    assert!(up > 200_000);
    assert_eq!(
        count(&db, "SELECT count(*) FROM dns WHERE query = 'chatgpt.com'"),
        2
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM dns WHERE app_id IS NULL AND candidate = 0"
        ),
        0
    );

    // Hourly rollups per (sensor, hour, user, app) agree with the evidence.
    let (flows, lookups, rollup_up): (i64, i64, i64) = db
        .query_row(
            "SELECT flows, dns_lookups, bytes_up FROM rollups_hourly
             WHERE sensor = 'lab-1' AND user = '10.77.0.11' AND app_id = 'anthropic-api'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((flows, lookups, rollup_up), (1, 0, up));
    assert_eq!(
        count(&db, "SELECT sum(flows) FROM rollups_hourly"),
        count(&db, "SELECT count(*) FROM flows WHERE app_id IS NOT NULL")
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM rollups_hourly WHERE hour % 3600 != 0"
        ),
        0
    );

    // Both files are recorded, read to the end, with their SHA-256 and packet counts.
    let (packets, complete, sha): (i64, bool, String) = db
        .query_row(
            "SELECT packets, complete, sha256 FROM files WHERE path LIKE '%python-upload.pcap'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert!(complete);
    assert_eq!(sha.len(), 64);
    assert!(packets > 150, "{packets}");
    assert_eq!(count(&db, "SELECT count(*) FROM files"), 2);
}

#[test]
fn the_same_file_twice_is_refused_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let file = own("node-openai.pcap");
    let args = [
        "replay",
        "--quiet",
        "--store",
        store.to_str().unwrap(),
        file.to_str().unwrap(),
    ];
    assert_eq!(lantern(&args).status, 0);
    let db = Connection::open(&store).unwrap();
    let flows = || count(&db, "SELECT sum(flows) FROM rollups_hourly");
    assert_eq!(flows(), 1);

    // A copy under another name is the same file.
    let copy = dir.path().join("copy.pcap");
    std::fs::copy(&file, &copy).unwrap();
    let again = lantern(&[
        "replay",
        "--quiet",
        "--store",
        store.to_str().unwrap(),
        copy.to_str().unwrap(),
    ]);
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

    let forced = lantern(&[
        "replay",
        "--quiet",
        "--force",
        "--store",
        store.to_str().unwrap(),
        copy.to_str().unwrap(),
    ]);
    assert_eq!(forced.status, 0, "{}", forced.stderr);
    assert_eq!(flows(), 2, "a forced replay adds to the rollups");
    assert_eq!(count(&db, "SELECT count(*) FROM files"), 2);
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
    let db = Connection::open(&elsewhere).unwrap();
    assert_eq!(
        count(
            &db,
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
    let run = lantern(&[
        "replay",
        "--store",
        store.to_str().unwrap(),
        "--events",
        "-",
        cut.to_str().unwrap(),
    ]);
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
    let db = Connection::open(&store).unwrap();
    let (complete, error): (bool, String) = db
        .query_row("SELECT complete, error FROM files", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert!(!complete);
    assert!(error.contains("cut short"), "{error}");
    assert_eq!(
        count(
            &db,
            "SELECT bytes_up FROM flows WHERE app_id = 'anthropic-api'"
        ),
        up as i64
    );
}
