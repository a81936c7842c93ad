//! Retention on both stores: real captures shifted in time with `editcap -t` (10, 100 and 200
//! days before today, and three hours either side of the evidence cutoff; each copy
//! pseudonymized with its own key, so each has its own tokens) are
//! replayed into a SQLite file and into a real ClickHouse server; `lantern store prune` with
//! evidence kept 90 days and rollups 150 must keep every row inside the windows unchanged,
//! remove every row outside, keep the 100-day rollups that outlive their evidence, remove the
//! seals of the tokens no row names any more, and give the freed pages back to the file. A
//! dry run counts the same and removes nothing. The daemon's pruning is in
//! `live_capture::a_daemon_prunes_what_is_older_than_the_retention_while_it_captures`. The
//! ClickHouse test is a system test (feature `system-tests`).

#[cfg(feature = "system-tests")]
use crate::common::clickhouse::ClickHouse;
use crate::common::{
    Replay, arg, lantern_in, lantern_ok, own, sorted, sqlite_rows, sqlite_typed, sqlite_value,
};
use std::path::{Path, PathBuf};
use std::process::Command;

const DAY: i64 = 86_400;
/// The ages of the three copies, in days, and the retention the tests prune to.
const AGES: [i64; 3] = [10, 100, 200];
const EVIDENCE_DAYS: i64 = 90;
const ROLLUP_DAYS: i64 = 150;

/// Captures with AI flows and DNS lookups, from several clients.
const CAPTURES: [&str; 4] = [
    "curl-chatgpt.pcap",
    "chromium-claude.pcap",
    "clients-same-api.pcap",
    "chromium-quic-gemini.pcap",
];

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The first packet's time of `capture`, in seconds.
fn start_of(capture: &Path) -> i64 {
    let out = Command::new("capinfos")
        .args(["-a", "-S", "-T", "-r"])
        .arg(capture)
        .output()
        .expect("capinfos (Debian: wireshark-common)");
    let text = String::from_utf8(out.stdout).unwrap();
    let field = text.trim().rsplit('\t').next().unwrap();
    field.split('.').next().unwrap().parse().unwrap()
}

/// `CAPTURES` moved so that each starts at `start` (seconds), in `dir`, named by `label`.
fn shifted(dir: &Path, label: &str, start: i64) -> Vec<PathBuf> {
    CAPTURES
        .iter()
        .map(|name| {
            let from = own(name);
            let to = dir.join(format!("{label}-{name}"));
            let offset = start - start_of(&from);
            let status = Command::new("editcap")
                .arg("-t")
                .arg(offset.to_string())
                .arg(&from)
                .arg(&to)
                .status()
                .expect("editcap (Debian: wireshark-common)");
            assert!(status.success());
            to
        })
        .collect()
}

/// The copies: one per age in [`AGES`], and two three hours either side of the evidence cutoff
/// (in the cutoff's month, but for the first days of a month: whole months go by partition,
/// the rest of an old month by a delete that must leave the newer rows of that month).
fn copies() -> Vec<(String, i64)> {
    let (evidence_cut, _) = cutoffs();
    let mut all: Vec<(String, i64)> = AGES
        .iter()
        .map(|age| (format!("{age}d"), now() - age * DAY))
        .collect();
    all.push(("edge-old".into(), evidence_cut - 3 * 3600));
    all.push(("edge-new".into(), evidence_cut + 3 * 3600));
    all
}

/// Replays each copy into `store` with its own pseudonym key.
fn fill(store: &str, dir: &Path) {
    for (label, start) in copies() {
        let key = dir.join(format!("key-{label}"));
        std::fs::write(&key, format!("the key of the copies {label:>10}")).unwrap();
        Replay::of(&shifted(dir, &label, start))
            .store(store)
            .sensor("s1")
            .no_events()
            .args(&["--pseudonymize", &arg(&key)])
            .dir(dir)
            .ok();
    }
}

/// `lantern store prune` to the tests' retention; its one line of output.
fn prune(store: &str, dir: &Path, dry_run: bool) -> String {
    let (evidence, rollups) = (EVIDENCE_DAYS.to_string(), ROLLUP_DAYS.to_string());
    let mut args = vec![
        "store",
        "prune",
        "--store",
        store,
        "--retention-days",
        &evidence,
        "--rollup-retention-days",
        &rollups,
    ];
    if dry_run {
        args.push("--dry-run");
    }
    lantern_ok(dir, &args).stdout
}

/// The cutoffs the prune uses: midnights (UTC), in seconds.
fn cutoffs() -> (i64, i64) {
    let today = now().div_euclid(DAY) * DAY;
    (today - EVIDENCE_DAYS * DAY, today - ROLLUP_DAYS * DAY)
}

/// `N` in `TABLE N` of a prune line.
fn removed(line: &str, table: &str) -> u64 {
    let at = line
        .find(&format!(" {table} "))
        .unwrap_or_else(|| panic!("no {table} in {line}"));
    let rest = &line[at + table.len() + 2..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap()
}

/// Sorted rows of `sql` on a SQLite file.
fn sqlite_sorted(db: &Path, sql: &str) -> Vec<String> {
    sorted(sqlite_rows(db, sql))
}

/// The number `sql` answers on a SQLite file.
fn sqlite_count(db: &Path, sql: &str) -> u64 {
    sqlite_value::<i64>(db, sql) as u64
}

/// Text answers of `sql` on a SQLite file, sorted.
fn sqlite_strings(db: &Path, sql: &str) -> Vec<String> {
    sorted(
        sqlite_typed::<(String,)>(db, sql)
            .into_iter()
            .map(|(s,)| s)
            .collect(),
    )
}

/// The tokens the copies of one age were given: the users of its rollups.
fn tokens_of_age_sqlite(db: &Path, age: i64) -> Vec<String> {
    let hour = now() - age * DAY;
    sqlite_strings(
        db,
        &format!(
            "SELECT DISTINCT user FROM rollups_hourly WHERE hour BETWEEN {} AND {}",
            hour - 2 * DAY,
            hour + 2 * DAY
        ),
    )
}

#[test]
fn pruning_a_sqlite_store_keeps_the_windows_and_gives_the_space_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let store = arg(&db);
    fill(&store, dir.path());
    let (evidence_cut, rollup_cut) = cutoffs();
    let evidence_us = evidence_cut * 1_000_000;
    let inside = |table: &str| {
        sqlite_sorted(
            &db,
            &format!("SELECT * FROM {table} WHERE ts_us >= {evidence_us}"),
        )
    };
    let old = |table: &str| {
        sqlite_count(
            &db,
            &format!("SELECT count(*) FROM {table} WHERE ts_us < {evidence_us}"),
        )
    };
    let (flows_kept, dns_kept) = (inside("flows"), inside("dns"));
    let rollups_kept = sqlite_sorted(
        &db,
        &format!("SELECT * FROM rollups_hourly WHERE hour >= {rollup_cut}"),
    );
    let (old_flows, old_dns) = (old("flows"), old("dns"));
    let old_rollups = sqlite_count(
        &db,
        &format!("SELECT count(*) FROM rollups_hourly WHERE hour < {rollup_cut}"),
    );
    assert!(
        !flows_kept.is_empty() && !dns_kept.is_empty(),
        "nothing recent"
    );
    assert!(
        old_flows > 0 && old_dns > 0 && old_rollups > 0,
        "nothing old"
    );
    // The 100-day copies' rollups outlive their evidence.
    let middle = sqlite_count(
        &db,
        &format!(
            "SELECT count(*) FROM rollups_hourly WHERE hour >= {rollup_cut} AND hour < {evidence_cut}"
        ),
    );
    assert!(middle > 0);
    let [recent, middle_aged, oldest] = AGES.map(|a| tokens_of_age_sqlite(&db, a));
    assert!(!oldest.is_empty() && !recent.is_empty() && !middle_aged.is_empty());
    let seals = sqlite_count(&db, "SELECT count(*) FROM pseudonyms");
    let pages_before = sqlite_count(&db, "PRAGMA page_count");

    // A dry run counts what would go and removes nothing.
    let dry = prune(&store, dir.path(), true);
    assert!(dry.contains("would remove"), "{dry}");
    assert_eq!(removed(&dry, "flows"), old_flows, "{dry}");
    assert_eq!(removed(&dry, "dns"), old_dns, "{dry}");
    assert_eq!(removed(&dry, "rollups_hourly"), old_rollups, "{dry}");
    let gone_seals = removed(&dry, "pseudonyms");
    assert!(gone_seals > 0, "{dry}");
    assert_eq!(old("flows"), old_flows);
    assert_eq!(sqlite_count(&db, "SELECT count(*) FROM pseudonyms"), seals);

    let line = prune(&store, dir.path(), false);
    assert!(
        !line.contains("switched"),
        "a new store reclaims space: {line}"
    );
    assert_eq!(removed(&line, "flows"), old_flows, "{line}");
    assert_eq!(removed(&line, "dns"), old_dns, "{line}");
    assert_eq!(removed(&line, "rollups_hourly"), old_rollups, "{line}");
    assert_eq!(removed(&line, "pseudonyms"), gone_seals, "{line}");
    // Everything inside the windows is there, unchanged; nothing outside is.
    assert_eq!(inside("flows"), flows_kept);
    assert_eq!(inside("dns"), dns_kept);
    assert_eq!(
        sqlite_sorted(&db, "SELECT * FROM rollups_hourly"),
        rollups_kept
    );
    assert_eq!(old("flows") + old("dns"), 0);
    // The seals of the oldest copies' tokens went; the others' stayed.
    let sealed = sqlite_strings(&db, "SELECT token FROM pseudonyms");
    for token in &oldest {
        assert!(!sealed.contains(token), "seal of {token} kept");
    }
    for token in recent.iter().chain(&middle_aged) {
        assert!(sealed.contains(token), "seal of {token} pruned");
    }
    assert_eq!(sealed.len() as u64, seals - gone_seals);
    // The freed pages went back to the file system.
    assert_eq!(sqlite_count(&db, "PRAGMA freelist_count"), 0);
    assert!(
        sqlite_count(&db, "PRAGMA page_count") < pages_before,
        "{line}"
    );
    // A second prune finds nothing.
    let again = prune(&store, dir.path(), false);
    assert!(again.contains("removed 0 rows"), "{again}");
}

#[test]
fn a_store_made_before_pruning_is_switched_to_give_space_back_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    let store = arg(&db);
    fill(&store, dir.path());
    // As a file made by an earlier lantern: no auto_vacuum.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("PRAGMA auto_vacuum = NONE; VACUUM;")
        .unwrap();
    drop(conn);
    assert_eq!(sqlite_count(&db, "PRAGMA auto_vacuum"), 0);
    let line = prune(&store, dir.path(), false);
    assert!(line.contains("switched to incremental vacuum"), "{line}");
    assert_eq!(sqlite_count(&db, "PRAGMA auto_vacuum"), 2);
    assert_eq!(sqlite_count(&db, "PRAGMA freelist_count"), 0);
    let again = prune(&store, dir.path(), false);
    assert!(!again.contains("switched"), "{again}");
}

#[test]
fn rollups_shorter_than_evidence_are_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let run = lantern_in(
        Some(dir.path()),
        &[],
        &[
            "store",
            "prune",
            "--store",
            "x.db",
            "--retention-days",
            "90",
            "--rollup-retention-days",
            "30",
        ],
    );
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("--rollup-retention-days 30"),
        "{}",
        run.stderr
    );
}

#[test]
#[cfg(feature = "system-tests")]
fn pruning_a_clickhouse_store_keeps_the_windows_and_drops_the_rest() {
    let Some(server) = ClickHouse::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = server.url("kept");
    fill(&url, dir.path());
    let (evidence_cut, rollup_cut) = cutoffs();
    let (evidence_us, rollup_us) = (evidence_cut * 1_000_000, rollup_cut * 1_000_000);
    let rows = |sql: &str| sorted(server.rows(sql));
    let inside = |table: &str| {
        rows(&format!(
            "SELECT * FROM kept.{table} WHERE ts_us >= {evidence_us} FORMAT TSV"
        ))
    };
    let old = |table: &str| {
        server.count(&format!(
            "SELECT count() FROM kept.{table} WHERE ts_us < {evidence_us}"
        ))
    };
    let rollups = || {
        rows(
            "SELECT hour, user, app_id, sum(flows), sum(bytes_up) FROM kept.rollups_hourly \
             GROUP BY hour, user, app_id FORMAT TSV",
        )
    };
    let (flows_kept, dns_kept) = (inside("flows"), inside("dns"));
    let (old_flows, old_dns) = (old("flows"), old("dns"));
    let all_rollups = rollups();
    let old_hours = server.count(&format!(
        "SELECT count() FROM kept.rollups_in WHERE hour < {rollup_cut}"
    ));
    assert!(!flows_kept.is_empty() && old_flows > 0 && old_dns > 0 && old_hours > 0);
    let oldest_users = rows(&format!(
        "SELECT DISTINCT user FROM kept.rollups_hourly WHERE hour < {rollup_cut} FORMAT TSV"
    ));
    let seals = server.count("SELECT count() FROM kept.pseudonyms FINAL");

    let dry = prune(&url, dir.path(), true);
    assert_eq!(removed(&dry, "flows"), old_flows, "{dry}");
    assert_eq!(old("flows"), old_flows, "a dry run removed rows");

    let line = prune(&url, dir.path(), false);
    assert_eq!(removed(&line, "flows"), old_flows, "{line}");
    assert_eq!(removed(&line, "dns"), old_dns, "{line}");
    assert!(!line.contains("not applied"), "{line}");
    assert_eq!(inside("flows"), flows_kept);
    assert_eq!(inside("dns"), dns_kept);
    assert_eq!(old("flows") + old("dns"), 0);
    // The rows just inside the cutoff's month survived its delete (not dropped with it).
    assert!(
        server.count(&format!(
            "SELECT count() FROM kept.flows WHERE ts_us BETWEEN {evidence_us} AND {}",
            evidence_us + 6 * 3_600_000_000
        )) > 0
    );
    // ... by a mutation, when the edge-old copies share the cutoff's month.
    let same_month = server.count(&format!(
        "SELECT toYYYYMM(toDateTime({}, 'UTC')) = toYYYYMM(toDateTime({evidence_cut}, 'UTC'))",
        evidence_cut - 3 * 3600
    ));
    if same_month == 1 {
        assert!(
            server.count(
                "SELECT count() FROM system.mutations WHERE database = 'kept' AND table = 'flows'"
            ) >= 1
        );
    }
    // Rollups: the 100-day ones stay, the 200-day ones went, whole months by partition.
    let kept_rollups: Vec<String> = all_rollups
        .iter()
        .filter(|r| r.split('\t').next().unwrap().parse::<i64>().unwrap() >= rollup_cut)
        .cloned()
        .collect();
    assert!(kept_rollups.len() < all_rollups.len());
    assert!(kept_rollups.iter().any(|r| {
        let hour: i64 = r.split('\t').next().unwrap().parse().unwrap();
        hour < evidence_cut
    }));
    assert_eq!(rollups(), kept_rollups);
    assert_eq!(
        server.count(&format!(
            "SELECT count() FROM kept.rollups_in WHERE hour * 1000000 < {rollup_us}"
        )),
        0
    );
    // The oldest copies' tokens are sealed no more; every other seal stays.
    let sealed = rows("SELECT token FROM kept.pseudonyms FINAL FORMAT TSV");
    assert!(!oldest_users.is_empty());
    for token in &oldest_users {
        assert!(!sealed.contains(token), "seal of {token} kept");
    }
    assert_eq!(sealed.len() as u64, seals - removed(&line, "pseudonyms"));
    assert!(removed(&line, "pseudonyms") >= oldest_users.len() as u64);
    let again = prune(&url, dir.path(), false);
    assert!(again.contains("removed 0 rows"), "{again}");
}
