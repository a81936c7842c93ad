//! Helpers shared by the integration tests, one of each: where the captures are, running the
//! real `lantern` binary ([`lantern`], [`Replay`]), reading its events ([`Run`]), reading a
//! SQLite store ([`sqlite_rows`] and its typed kin), waiting for a condition ([`wait_until`]),
//! and what a system test needs (`system::can_run`). Submodules: [`synth`] writes synthetic captures,
//! `clickhouse` starts real ClickHouse servers, `rsyslog` a real rsyslog, `browser` a real
//! headless Chromium driven over the DevTools protocol, and `live` builds network namespaces and
//! runs the daemon in them (system tests only, feature `system-tests`);
//! [`console`] starts `lantern serve` and speaks HTTP to it.
#![allow(dead_code)]

#[cfg(feature = "system-tests")]
pub mod browser;
#[cfg(feature = "system-tests")]
pub mod clickhouse;
pub mod console;
#[cfg(feature = "system-tests")]
pub mod live;
#[cfg(feature = "system-tests")]
pub mod rsyslog;
pub mod synth;
pub mod system;

pub use system::wait_until;
#[cfg(feature = "system-tests")]
pub use system::{can_run, wait_for};

use lantern::capture::Timestamp;
use lantern::output::notice::{Notice, NoticeKind, NoticeSeverity};
use lantern::store::{Pending, Store};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A capture of this project's own `captures/`.
pub fn own(name: &str) -> PathBuf {
    root().join("captures").join(name)
}

/// Every capture (`.pcap`, `.pcapng`) of this project's own `captures/`, sorted.
pub fn own_captures() -> Vec<PathBuf> {
    captures_in(&own(""))
}

/// Every capture (`.pcap`, `.pcapng`) directly in `dir`, sorted.
pub fn captures_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    files.sort();
    files
}

/// `../shared/captures`, which CI places beside the clone.
pub fn shared_captures() -> PathBuf {
    let dir = root().join("../shared/captures");
    assert!(
        dir.join("MANIFEST.tsv").is_file(),
        "{} is missing: the shared captures must sit beside the repository (../shared)",
        dir.display()
    );
    dir
}

/// A file of `../shared/reference/`, the merged public AI-domain lists.
pub fn shared_reference(name: &str) -> PathBuf {
    let path = root().join("../shared/reference").join(name);
    assert!(
        path.is_file(),
        "{} is missing: the shared reference must sit beside the repository (../shared)",
        path.display()
    );
    path
}

/// A path as a `&str` argument.
pub fn arg(path: &Path) -> String {
    path.display().to_string()
}

/// Where a test's spool and SQLite files go when a server must reach them (`target/tmp/`).
pub fn work_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

/// `dir/identity.csv`: an identity map making the client 10.77.0.10 of this project's captures
/// `dana` (device `dana-ws`) of the group `engineering`.
pub fn dana_identity(dir: &Path) -> PathBuf {
    let path = dir.join("identity.csv");
    std::fs::write(&path, "10.77.0.10/32,dana,dana-ws,engineering,user\n").unwrap();
    path
}

/// `v`, sorted: rows compared as sets.
pub fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// The result of one `lantern` run.
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout as JSON events.
    pub fn events(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| panic!("bad event {line}: {e}"))
            })
            .collect()
    }

    /// Flow events.
    pub fn flows(&self) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event_type"] == "flow")
            .collect()
    }

    /// DNS events.
    pub fn lookups(&self) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event_type"] == "dns")
            .collect()
    }
}

/// Runs `lantern ARGS` in `dir` (the current directory when `None`) with `env`.
pub fn lantern_in(dir: Option<&Path>, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lantern"));
    cmd.args(args).env_remove("LANTERN_STORE");
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run lantern");
    Run {
        status: status.code().unwrap_or(-1),
        stdout: String::from_utf8(stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(stderr).expect("utf-8 stderr"),
    }
}

/// Runs `lantern ARGS`.
pub fn lantern(args: &[&str]) -> Run {
    lantern_in(None, &[], args)
}

/// Runs `lantern ARGS` in `dir`, which must succeed.
pub fn lantern_ok(dir: &Path, args: &[&str]) -> Run {
    let run = lantern_in(Some(dir), &[], args);
    assert_eq!(run.status, 0, "lantern {args:?}: {}", run.stderr);
    run
}

/// A `lantern replay` of some files: by default `--no-store --quiet --events -` (the events on
/// stdout, nothing written); [`Replay::store`], [`Replay::sensor`], [`Replay::loud`],
/// [`Replay::no_events`], [`Replay::args`] and [`Replay::dir`] change that. [`Replay::ok`] runs
/// it and asserts it succeeded; [`Replay::run`] leaves the exit to the test.
pub struct Replay {
    files: Vec<String>,
    store: Option<String>,
    sensor: Option<String>,
    quiet: bool,
    events: bool,
    extra: Vec<String>,
    dir: Option<PathBuf>,
}

impl Replay {
    /// A replay of `files`, read as one stream in the order of their first packets.
    pub fn of<P: AsRef<Path>>(files: &[P]) -> Replay {
        Replay {
            files: files.iter().map(|f| arg(f.as_ref())).collect(),
            store: None,
            sensor: None,
            quiet: true,
            events: true,
            extra: Vec::new(),
            dir: None,
        }
    }

    /// Into the store `store` (a SQLite path or a ClickHouse URL) instead of none.
    pub fn store(mut self, store: impl AsRef<str>) -> Replay {
        self.store = Some(store.as_ref().to_string());
        self
    }

    /// As sensor `name`.
    pub fn sensor(mut self, name: &str) -> Replay {
        self.sensor = Some(name.to_string());
        self
    }

    /// Without `--quiet`: the summary on stderr.
    pub fn loud(mut self) -> Replay {
        self.quiet = false;
        self
    }

    /// Without `--events -`: nothing on stdout.
    pub fn no_events(mut self) -> Replay {
        self.events = false;
        self
    }

    /// With these options too (before the files).
    pub fn args(mut self, extra: &[&str]) -> Replay {
        self.extra.extend(extra.iter().map(|a| a.to_string()));
        self
    }

    /// Run in `dir` (where relative paths and the default spool are).
    pub fn dir(mut self, dir: &Path) -> Replay {
        self.dir = Some(dir.to_path_buf());
        self
    }

    /// The command line after `lantern`.
    pub fn command_line(&self) -> Vec<String> {
        let mut args = vec!["replay".to_string()];
        match &self.store {
            Some(store) => args.extend(["--store".to_string(), store.clone()]),
            None => args.push("--no-store".into()),
        }
        if let Some(sensor) = &self.sensor {
            args.extend(["--sensor".to_string(), sensor.clone()]);
        }
        if self.quiet {
            args.push("--quiet".into());
        }
        if self.events {
            args.extend(["--events".to_string(), "-".to_string()]);
        }
        args.extend(self.extra.iter().cloned());
        args.extend(self.files.iter().cloned());
        args
    }

    /// Runs it, whatever its exit; it must not panic.
    pub fn run(&self) -> Run {
        let args = self.command_line();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = lantern_in(self.dir.as_deref(), &[], &args);
        assert!(
            !run.stderr.contains("panicked"),
            "lantern {args:?}: {}",
            run.stderr
        );
        run
    }

    /// Runs it; it must succeed.
    pub fn ok(&self) -> Run {
        let run = self.run();
        assert_eq!(
            run.status,
            0,
            "lantern {:?} failed: {}",
            self.command_line(),
            run.stderr
        );
        run
    }
}

/// `lantern replay --no-store --quiet --events - EXTRA... FILES...`, which must succeed.
pub fn replay(files: &[&Path], extra: &[&str]) -> Run {
    Replay::of(files).args(extra).ok()
}

/// The single event matching `pred`.
pub fn one<'a>(events: &'a [Value], what: &str, pred: impl Fn(&Value) -> bool) -> &'a Value {
    let found: Vec<&Value> = events.iter().filter(|e| pred(e)).collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {what}, found {}: {found:#?}",
        found.len()
    );
    found[0]
}

/// Every row `sql` gives on the SQLite file `db`, in the query's order, each as one line of
/// tab-separated cells written as ClickHouse writes them in TSV: NULL is `\N`, a number its
/// digits, text with backslashes, tabs, newlines and single quotes escaped, a blob its bytes in
/// hex. So a SQLite row and the same ClickHouse row (`ClickHouse::rows`) are the same line.
pub fn sqlite_rows(db: &Path, sql: &str) -> Vec<String> {
    use rusqlite::types::ValueRef;
    let conn = open(db);
    let mut stmt = conn
        .prepare(sql)
        .unwrap_or_else(|e| panic!("{}: {sql}: {e}", db.display()));
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        let cells: Vec<String> = (0..n)
            .map(|i| match r.get_ref(i).unwrap() {
                ValueRef::Null => "\\N".to_string(),
                ValueRef::Integer(v) => v.to_string(),
                ValueRef::Real(v) => v.to_string(),
                ValueRef::Text(t) => tsv_escape(&String::from_utf8_lossy(t)),
                ValueRef::Blob(b) => b.iter().map(|byte| format!("{byte:02x}")).collect(),
            })
            .collect();
        Ok(cells.join("\t"))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// ClickHouse's TSV escaping.
fn tsv_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\'', "\\'")
}

/// Every row `sql` gives on the SQLite file `db`, in the query's order, as typed values (a
/// tuple; NULL is `None` of an `Option`).
pub fn sqlite_typed<T>(db: &Path, sql: &str) -> Vec<T>
where
    T: for<'a> TryFrom<&'a rusqlite::Row<'a>, Error = rusqlite::Error>,
{
    let conn = open(db);
    let mut stmt = conn
        .prepare(sql)
        .unwrap_or_else(|e| panic!("{}: {sql}: {e}", db.display()));
    stmt.query_map([], |r| T::try_from(r))
        .unwrap()
        .map(|row| row.unwrap_or_else(|e| panic!("{}: {sql}: {e}", db.display())))
        .collect()
}

/// The one row `sql` gives, as typed values.
pub fn sqlite_row<T>(db: &Path, sql: &str) -> T
where
    T: for<'a> TryFrom<&'a rusqlite::Row<'a>, Error = rusqlite::Error>,
{
    let mut rows = sqlite_typed::<T>(db, sql);
    assert_eq!(
        rows.len(),
        1,
        "{}: {sql}: {} rows",
        db.display(),
        rows.len()
    );
    rows.remove(0)
}

/// The one value (a count, a sum) `sql` gives.
pub fn sqlite_value<T: rusqlite::types::FromSql>(db: &Path, sql: &str) -> T {
    sqlite_row::<(T,)>(db, sql).0
}

/// The value `sql` gives, or `None` while the store or its table is not there yet (a poll).
pub fn sqlite_try_value<T: rusqlite::types::FromSql>(db: &Path, sql: &str) -> Option<T> {
    open(db).query_row(sql, [], |r| r.get(0)).ok()
}

fn open(db: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(db).unwrap_or_else(|e| panic!("{}: {e}", db.display()))
}

/// A notice of `kind` about `subject`, raised by `user`'s record at `secs` (seconds since the
/// epoch), its other fields plausible: what the rules hand the store.
pub fn notice(kind: NoticeKind, user: &str, subject: &str, secs: i64) -> Notice {
    Notice {
        kind,
        severity: NoticeSeverity::High,
        ts: Timestamp::from_secs(secs),
        first_seen: Timestamp::from_secs(secs - 60),
        subject: subject.into(),
        user: user.into(),
        user_kind: "person",
        device: None,
        client: Some("10.0.0.2".into()),
        server: None,
        app: None,
        server_name: Some("chatgpt.com".into()),
        bytes_up: 5_000_000,
        bytes_down: 1000,
        threshold: (kind == NoticeKind::Upload).then_some(1_000_000),
        clients: None,
        flows: vec![7, 42],
        message: format!("{kind} {subject}"),
    }
}

/// Writes `notices` to `store` in one batch, as the sequencer does.
pub fn write_notices(store: &mut Store, notices: &[Notice]) {
    let batch = Pending::default().batch(&[], &[], notices, Vec::new(), Vec::new());
    store.write(batch).unwrap();
}
