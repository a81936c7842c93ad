//! The SQLite store: the tables of [`tables`](super::tables) in one file, each write one
//! transaction. Its physical design (row ids, keys, indexes, incremental auto-vacuum) is here;
//! its columns are the declarations'. Opening a store brings it to [`SCHEMA_VERSION`]: a new
//! file gets every table, an older one is migrated (versions 1 to 4 by the frozen steps below,
//! later ones by adding the columns declared since), a newer one is refused.
//!
//! Writes go to a writing thread with a connection of its own (bounded queue, waits counted);
//! reads, file records and pruning use the store's own connection, each after the writing
//! thread caught up. Pruning ([`SqliteStore::prune_step`]) deletes in bounded steps.

use super::read::{Query, ReadRow};
use super::retention::{Cutoffs, Pruned, TOKEN_COLUMNS};
use super::schema::{Role, SCHEMA_VERSION, Table, names};
use super::{
    Batch, Candidate, CoverageRow, DnsRow, FileRow, FlowRow, HealthRow, IngestedFile, NewFile,
    PseudonymRow, RollupRow, StoreError, StoreFault,
};
use crate::capture::Rfc3339;
use crate::capture::Timestamp;
use crate::writing::{Destination, WritingThread};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::{Path, PathBuf};

/// What turns a version-1 store into a version-2 one: `app_pattern` on evidence.
const MIGRATE_1_TO_2: &str = "
ALTER TABLE flows ADD COLUMN app_pattern TEXT;
ALTER TABLE dns ADD COLUMN app_pattern TEXT;
";

/// What turns a version-2 store into a version-3 one: who a row is attributed to, and rollups
/// keyed by how. Rows written before attribution existed were attributed to the client
/// address.
const MIGRATE_2_TO_3: &str = "
ALTER TABLE flows ADD COLUMN user_kind TEXT NOT NULL DEFAULT 'unknown';
ALTER TABLE flows ADD COLUMN device TEXT;
ALTER TABLE flows ADD COLUMN user_group TEXT;
ALTER TABLE dns ADD COLUMN user_kind TEXT NOT NULL DEFAULT 'unknown';
ALTER TABLE dns ADD COLUMN device TEXT;
ALTER TABLE dns ADD COLUMN user_group TEXT;
ALTER TABLE rollups_hourly RENAME TO rollups_hourly_v2;
CREATE TABLE rollups_hourly (
    sensor TEXT NOT NULL, hour INTEGER NOT NULL, user TEXT NOT NULL, app_id TEXT NOT NULL,
    user_source TEXT NOT NULL, user_kind TEXT NOT NULL, device TEXT NOT NULL,
    flows INTEGER NOT NULL, dns_lookups INTEGER NOT NULL, bytes_up INTEGER NOT NULL,
    bytes_down INTEGER NOT NULL, first_seen_us INTEGER NOT NULL, last_seen_us INTEGER NOT NULL,
    PRIMARY KEY (sensor, hour, user, app_id, user_source, user_kind, device)
) WITHOUT ROWID;
INSERT INTO rollups_hourly (sensor, hour, user, app_id, user_source, user_kind, device, flows,
    dns_lookups, bytes_up, bytes_down, first_seen_us, last_seen_us)
    SELECT sensor, hour, user, app_id, 'ip', 'unknown', '', flows, dns_lookups, bytes_up,
    bytes_down, first_seen_us, last_seen_us FROM rollups_hourly_v2;
DROP TABLE rollups_hourly_v2;
";

/// What turns a version-3 store into a version-4 one: rollups keyed by group too (earlier rows
/// have none).
const MIGRATE_3_TO_4: &str = "
ALTER TABLE rollups_hourly RENAME TO rollups_hourly_v3;
CREATE TABLE rollups_hourly (
    sensor TEXT NOT NULL, hour INTEGER NOT NULL, user TEXT NOT NULL, app_id TEXT NOT NULL,
    user_source TEXT NOT NULL, user_kind TEXT NOT NULL, device TEXT NOT NULL,
    user_group TEXT NOT NULL, flows INTEGER NOT NULL, dns_lookups INTEGER NOT NULL,
    bytes_up INTEGER NOT NULL, bytes_down INTEGER NOT NULL, first_seen_us INTEGER NOT NULL,
    last_seen_us INTEGER NOT NULL,
    PRIMARY KEY (sensor, hour, user, app_id, user_source, user_kind, device, user_group)
) WITHOUT ROWID;
INSERT INTO rollups_hourly (sensor, hour, user, app_id, user_source, user_kind, device,
    user_group, flows, dns_lookups, bytes_up, bytes_down, first_seen_us, last_seen_us)
    SELECT sensor, hour, user, app_id, user_source, user_kind, device, '', flows, dns_lookups,
    bytes_up, bytes_down, first_seen_us, last_seen_us FROM rollups_hourly_v3;
DROP TABLE rollups_hourly_v3;
";

/// The frozen steps from version `n + 1` to `n + 2`.
const FROZEN: [&str; 3] = [MIGRATE_1_TO_2, MIGRATE_2_TO_3, MIGRATE_3_TO_4];

/// The indexes pruning goes by: made with a new store, and by the first pruning of an older one.
const FLOWS_BY_TIME: &str = "CREATE INDEX IF NOT EXISTS flows_by_time ON flows (ts_us)";
const DNS_BY_TIME: &str = "CREATE INDEX IF NOT EXISTS dns_by_time ON dns (ts_us)";
const ROLLUPS_BY_HOUR: &str = "CREATE INDEX IF NOT EXISTS rollups_by_hour ON rollups_hourly (hour)";
const COVERAGE_BY_HOUR: &str =
    "CREATE INDEX IF NOT EXISTS coverage_by_hour ON coverage_hourly (hour)";

/// SQLite's physical design of one table: what its declaration does not say.
struct Shape {
    table: Table,
    /// A row id column before the declared ones (evidence rows have one).
    row_id: bool,
    /// Keyed by its rollup key (or `key`), without a row id.
    key: Option<&'static str>,
    /// `CREATE INDEX` statements.
    indexes: &'static [&'static str],
}

const SHAPES: [Shape; 7] = [
    Shape {
        table: FileRow::TABLE,
        row_id: false,
        key: None,
        indexes: &["CREATE INDEX IF NOT EXISTS files_by_sha256 ON files (sha256)"],
    },
    Shape {
        table: FlowRow::TABLE,
        row_id: true,
        key: None,
        indexes: &[
            "CREATE INDEX IF NOT EXISTS flows_by_app_time ON flows (app_id, ts_us)",
            "CREATE INDEX IF NOT EXISTS flows_by_user_time ON flows (user, ts_us)",
            FLOWS_BY_TIME,
        ],
    },
    Shape {
        table: DnsRow::TABLE,
        row_id: true,
        key: None,
        indexes: &[
            "CREATE INDEX IF NOT EXISTS dns_by_app_time ON dns (app_id, ts_us)",
            DNS_BY_TIME,
        ],
    },
    Shape {
        table: RollupRow::TABLE,
        row_id: false,
        key: Some(""),
        indexes: &[ROLLUPS_BY_HOUR],
    },
    Shape {
        table: CoverageRow::TABLE,
        row_id: false,
        key: Some(""),
        indexes: &[COVERAGE_BY_HOUR],
    },
    Shape {
        table: PseudonymRow::TABLE,
        row_id: false,
        key: Some("token"),
        indexes: &[],
    },
    Shape {
        table: HealthRow::TABLE,
        row_id: false,
        key: Some("sensor"),
        indexes: &[],
    },
];

impl Shape {
    /// `CREATE TABLE IF NOT EXISTS` and its indexes.
    fn create(&self) -> String {
        let mut extra = Vec::new();
        if self.row_id {
            extra.push("id INTEGER PRIMARY KEY".to_string());
        }
        let key = match self.key {
            Some("") => Some(names(self.table.keys())),
            Some(k) => Some(k.to_string()),
            None => None,
        };
        if let Some(k) = &key {
            extra.push(format!("PRIMARY KEY ({k})"));
        }
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let mut sql = self.table.sqlite_create(&extra);
        if key.is_some() {
            sql += " WITHOUT ROWID";
        }
        sql += ";\n";
        for index in self.indexes {
            sql += index;
            sql += ";\n";
        }
        sql
    }
}

/// Every table and index, each created only if missing.
fn create_all() -> String {
    let mut sql = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
        .to_string();
    for shape in &SHAPES {
        sql += &shape.create();
    }
    sql
}

/// The columns declared since version `v` that a table of the store lacks, added. A table
/// that does not exist yet is left to [`create_all`].
fn add_columns(conn: &Connection, v: u32) -> rusqlite::Result<()> {
    for shape in &SHAPES {
        let table = shape.table;
        let present = columns(conn, table.name)?;
        if present.is_empty() {
            continue;
        }
        for column in table.added_in(v).filter(|c| c.in_sqlite()) {
            if !present.iter().any(|p| p == column.name) {
                conn.execute_batch(&format!(
                    "ALTER TABLE {} ADD COLUMN {}",
                    table.name,
                    column.sqlite_decl()
                ))?;
            }
        }
    }
    Ok(())
}

/// The columns a table has (none when it does not exist).
fn columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut query = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let names = query.query_map([table], |r| r.get(0))?;
    names.collect()
}

/// The store's schema version: `None` for a new file.
fn version(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    if columns(conn, "meta")?.is_empty() {
        return Ok(None);
    }
    let found: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    Ok(found.and_then(|v| v.parse::<i64>().ok()))
}

/// Brings the schema of an open store to [`SCHEMA_VERSION`], in one transaction: a new file
/// gets every table as declared now, an older one is migrated, a newer one is refused.
fn migrate(conn: &mut Connection) -> Result<(), StoreFault> {
    let current = i64::from(SCHEMA_VERSION);
    // A store already current is only read: opening it never waits for the write lock of
    // another process writing it (a daemon, or a replay a second one is refused by).
    if version(conn)? == Some(current) {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    match version(&tx)? {
        Some(v) if v == current => return Ok(()),
        Some(newer) if newer > current => return Err(StoreFault::Newer(newer)),
        Some(old) => {
            let from = usize::try_from(old.max(1) - 1).unwrap_or(0);
            for step in FROZEN.iter().skip(from) {
                tx.execute_batch(step)?;
            }
            let first = u32::try_from(old.max(4) + 1).unwrap_or(SCHEMA_VERSION);
            for v in first..=SCHEMA_VERSION {
                add_columns(&tx, v)?;
            }
        }
        None => {}
    }
    tx.execute_batch(&create_all())?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [current.to_string()],
    )?;
    tx.commit()?;
    Ok(())
}

/// Evidence and rollups in a SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    sensor: String,
    /// The indexes pruning goes by exist (an older file gets them at its first pruning).
    indexed: bool,
    /// The thread that writes batches, from the first write on.
    writer: Option<Box<WritingThread<Batches>>>,
}

/// Batches that may wait for the writing thread.
const WRITER_QUEUE: usize = 2;

/// The writing thread's end: its own connection, each batch one transaction.
struct Batches {
    conn: Connection,
}

impl Destination for Batches {
    type Item = Batch;

    fn write(&mut self, batch: Batch) -> std::io::Result<()> {
        write_tx(&mut self.conn, &batch).map_err(std::io::Error::other)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn us(t: Timestamp) -> i64 {
    t.0.div_euclid(1000)
}

/// A count read back: stored from a `u64` by [`int`], so never negative.
fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// `ON CONFLICT` of a rollup upsert: sums add up, the least first and the greatest last
/// seen are kept.
fn upsert(table: Table) -> String {
    let merge: Vec<String> = (table.sqlite_columns())
        .filter_map(|c| {
            let n = c.name;
            match c.opts.role {
                Role::Sum => Some(format!("{n} = {n} + excluded.{n}")),
                Role::Min => Some(format!("{n} = min({n}, excluded.{n})")),
                Role::Max => Some(format!("{n} = max({n}, excluded.{n})")),
                Role::Key | Role::Plain => None,
            }
        })
        .collect();
    format!(
        "{} ON CONFLICT ({}) DO UPDATE SET {}",
        table.sqlite_insert(""),
        names(table.keys()),
        merge.join(", ")
    )
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path`, writing as `sensor`.
    pub fn open(path: &Path, sensor: &str) -> Result<SqliteStore, StoreError> {
        let wrap = |source: rusqlite::Error| StoreError {
            place: path.display().to_string(),
            source: source.into(),
        };
        let mut conn = Connection::open(path).map_err(wrap)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(wrap)?;
        // A new file gives back the space pruning frees: set before anything is written,
        // even the switch to WAL.
        if version(&conn).map_err(wrap)?.is_none() {
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
                .map_err(wrap)?;
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(wrap)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(wrap)?;
        migrate(&mut conn).map_err(|source| StoreError {
            place: path.display().to_string(),
            source,
        })?;
        Ok(SqliteStore {
            conn,
            path: path.to_path_buf(),
            sensor: sensor.to_string(),
            indexed: false,
            writer: None,
        })
    }

    /// The store's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn wrap(&self, source: rusqlite::Error) -> StoreError {
        StoreError {
            place: self.path.display().to_string(),
            source: source.into(),
        }
    }

    /// The files of `size` bytes whose candidate key is `quick_key`, or that have none.
    pub fn candidates_for(&self, size: u64, quick_key: &str) -> Result<Vec<Candidate>, StoreError> {
        self.sync()?;
        let rows = || -> rusqlite::Result<Vec<Candidate>> {
            let mut query = self.conn.prepare_cached(
                "SELECT id, sensor, path, ingested_at, complete, sha256 FROM files
                 WHERE size = ?1 AND quick_key IN (?2, '') ORDER BY id",
            )?;
            let rows = query.query_map(params![int(size), quick_key], |row| {
                Ok(Candidate {
                    file: IngestedFile {
                        id: row.get(0)?,
                        sensor: row.get(1)?,
                        path: row.get(2)?,
                        ingested_at: row.get(3)?,
                        complete: row.get(4)?,
                    },
                    sha256: row.get(5)?,
                })
            })?;
            rows.collect()
        };
        rows().map_err(|e| self.wrap(e))
    }

    /// Records that a file is being ingested (incomplete until [`finish_file`](Self::finish_file)).
    pub fn start_file(&mut self, file: &NewFile, now: Timestamp) -> Result<i64, StoreError> {
        let row = FileRow {
            sensor: self.sensor.clone(),
            path: file.path.clone(),
            size: file.size,
            sha256: file.sha256.clone(),
            quick_key: file.quick_key.clone(),
            ingested_at: Rfc3339(now).to_string(),
            ..FileRow::default()
        };
        let insert = || -> rusqlite::Result<i64> {
            let mut statement = self
                .conn
                .prepare_cached(&FileRow::TABLE.sqlite_insert(""))?;
            row.bind(&mut statement)?;
            statement.raw_execute()?;
            Ok(self.conn.last_insert_rowid())
        };
        insert().map_err(|e| self.wrap(e))
    }

    /// Records how the ingestion of a file ended.
    pub fn finish_file(
        &mut self,
        id: i64,
        packets: u64,
        span: Option<(Timestamp, Timestamp)>,
        error: Option<&str>,
        sha256: Option<&str>,
    ) -> Result<(), StoreError> {
        // A file is marked read once the rows read from it are written.
        self.sync()?;
        self.conn
            .execute(
                "UPDATE files SET packets = ?2, first_ts_us = ?3, last_ts_us = ?4, complete = ?5,
                 error = ?6, sha256 = coalesce(?7, sha256) WHERE id = ?1",
                params![
                    id,
                    int(packets),
                    span.map(|s| us(s.0)),
                    span.map(|s| us(s.1)),
                    error.is_none(),
                    error,
                    sha256
                ],
            )
            .map_err(|e| self.wrap(e))?;
        Ok(())
    }

    /// Hands a batch of evidence rows, rollups and sealed pseudonyms to the writing thread,
    /// which writes each batch in one transaction of its own connection: the caller (the
    /// sequencer) goes on unless two batches already wait (counted, see
    /// [`waits`](Self::waits)). A failed write is told by the next write or
    /// [`sync`](Self::sync).
    pub fn write(&mut self, mut batch: Batch) -> Result<(), StoreError> {
        batch.stamp(&self.sensor);
        if self.writer.is_none() {
            self.writer = Some(Box::new(self.start_writer()?));
        }
        let writer = self.writer.as_mut().expect("started");
        let sent = writer.send(batch);
        sent.map_err(|e| self.writer_failed(e))
    }

    /// Writes that waited for the writing thread (it was two batches behind).
    pub fn waits(&self) -> u64 {
        self.writer.as_ref().map_or(0, |w| w.waits())
    }

    /// Returns once every batch handed over is written, or with the first failure.
    pub fn sync(&self) -> Result<(), StoreError> {
        match &self.writer {
            Some(writer) => writer.sync().map_err(|e| self.writer_failed(e)),
            None => Ok(()),
        }
    }

    fn writer_failed(&self, e: std::io::Error) -> StoreError {
        StoreError {
            place: self.path.display().to_string(),
            source: StoreFault::Writer(e.to_string()),
        }
    }

    /// Opens the writing thread's connection and starts it.
    fn start_writer(&self) -> Result<WritingThread<Batches>, StoreError> {
        let conn = Connection::open(&self.path).map_err(|e| self.wrap(e))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| self.wrap(e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| self.wrap(e))?;
        WritingThread::start("lantern-sqlite", WRITER_QUEUE, Batches { conn })
            .map_err(|e| self.writer_failed(e))
    }

    /// One bounded step of pruning (see [`retention`](super::retention)): in one transaction,
    /// at most `budget` rows of each table older than `cutoffs`, then, once none is left,
    /// the seals of tokens no row names any more; then up to `budget` free pages given back
    /// (incremental vacuum). Returns what it removed and whether it is finished: a caller that
    /// must not stall (the daemon) calls it again at its next write. With `dry_run`, counts
    /// what would go and removes nothing.
    pub fn prune_step(
        &mut self,
        cutoffs: &Cutoffs,
        budget: u64,
        dry_run: bool,
    ) -> Result<Pruned, StoreError> {
        // Judged with every batch handed over written: a seal is kept while a row waiting
        // in the writing thread's queue names its token.
        self.sync()?;
        let mut pruned = self
            .prune_tx_step(cutoffs, budget, dry_run)
            .map_err(|e| self.wrap(e))?;
        if !dry_run {
            pruned.pages_freed = self.vacuum_step(budget).map_err(|e| self.wrap(e))?;
        }
        Ok(pruned)
    }

    fn prune_tx_step(
        &mut self,
        cutoffs: &Cutoffs,
        budget: u64,
        dry_run: bool,
    ) -> rusqlite::Result<Pruned> {
        if !self.indexed {
            self.conn
                .execute_batch(&format!("{FLOWS_BY_TIME};{DNS_BY_TIME};{ROLLUPS_BY_HOUR};"))?;
            self.indexed = true;
        }
        let tx = self.conn.transaction()?;
        let pruned = prune_tx(&tx, cutoffs, budget, dry_run)?;
        if !dry_run {
            tx.commit()?;
        }
        Ok(pruned)
    }

    /// Gives back up to `pages` free pages, where the file reclaims space (`auto_vacuum` is
    /// incremental); returns how many it gave back.
    fn vacuum_step(&mut self, pages: u64) -> rusqlite::Result<u64> {
        let mode: i64 = self
            .conn
            .pragma_query_value(None, "auto_vacuum", |r| r.get(0))?;
        if mode != 2 {
            return Ok(0);
        }
        let free = |c: &Connection| -> rusqlite::Result<i64> {
            c.pragma_query_value(None, "freelist_count", |r| r.get(0))
        };
        let before = free(&self.conn)?;
        // It frees a page per step: run it to the end.
        let mut vacuum = self
            .conn
            .prepare(&format!("PRAGMA incremental_vacuum({pages})"))?;
        let mut steps = vacuum.query([])?;
        while steps.next()?.is_some() {}
        drop(steps);
        drop(vacuum);
        Ok(count(before - free(&self.conn)?))
    }

    /// Whether the file gives freed space back (made by this lantern, or switched).
    pub fn reclaims_space(&self) -> Result<bool, StoreError> {
        let mode: i64 = self
            .conn
            .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
            .map_err(|e| self.wrap(e))?;
        Ok(mode == 2)
    }

    /// Switches a file made before pruning existed to incremental vacuum: one `VACUUM`, which
    /// rewrites the whole file (it needs as much free disk again, and holds the store while it
    /// runs: `lantern store prune` does it, never the daemon).
    pub fn switch_to_incremental_vacuum(&mut self) -> Result<(), StoreError> {
        let switch = || -> rusqlite::Result<()> {
            self.conn
                .pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
            self.conn.execute_batch("VACUUM")
        };
        switch().map_err(|e| self.wrap(e))
    }

    /// The file's size in bytes, pages times page size (WAL not counted).
    pub fn file_bytes(&self) -> Result<u64, StoreError> {
        let size = || -> rusqlite::Result<i64> {
            let pages: i64 = self
                .conn
                .pragma_query_value(None, "page_count", |r| r.get(0))?;
            let size: i64 = self
                .conn
                .pragma_query_value(None, "page_size", |r| r.get(0))?;
            Ok(pages * size)
        };
        size().map(count).map_err(|e| self.wrap(e))
    }

    /// The sealed name of a pseudonym token, if this store holds it.
    pub fn sealed(&self, token: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.sync()?;
        self.conn
            .query_row(
                "SELECT sealed FROM pseudonyms WHERE token = ?1",
                [token],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.wrap(e))
    }

    /// The rows of a query (see [`store::read`](super::read)), once the writing thread caught
    /// up.
    pub fn read<R: ReadRow>(&self, query: Query) -> Result<Vec<R>, StoreError> {
        self.sync()?;
        let rows = || -> rusqlite::Result<Vec<R>> {
            let mut statement = self.conn.prepare_cached(&query.sql)?;
            let rows = statement.query_map(
                rusqlite::params_from_iter(query.params.iter()),
                R::from_sqlite,
            )?;
            rows.collect()
        };
        rows().map_err(|e| self.wrap(e))
    }

    /// Direct access for reports and tests.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

fn write_tx(conn: &mut Connection, batch: &Batch) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    insert_all(
        &tx,
        &FlowRow::TABLE.sqlite_insert(""),
        &batch.flows,
        FlowRow::bind,
    )?;
    insert_all(
        &tx,
        &DnsRow::TABLE.sqlite_insert(""),
        &batch.dns,
        DnsRow::bind,
    )?;
    insert_all(
        &tx,
        &upsert(RollupRow::TABLE),
        &batch.rollups,
        RollupRow::bind,
    )?;
    insert_all(
        &tx,
        &upsert(CoverageRow::TABLE),
        &batch.coverage,
        CoverageRow::bind,
    )?;
    let seal = PseudonymRow::TABLE.sqlite_insert("OR IGNORE");
    insert_all(&tx, &seal, &batch.pseudonyms, PseudonymRow::bind)?;
    let health = HealthRow::TABLE.sqlite_insert("OR REPLACE");
    insert_all(&tx, &health, &batch.health, HealthRow::bind)?;
    tx.commit()
}

/// The tables pruning goes through: name, time column, the key a batch is chosen by, and
/// whether it is evidence (else kept with the rollups).
const PRUNED: [(&str, &str, &str, bool); 5] = [
    ("flows", "ts_us", "id", true),
    ("dns", "ts_us", "id", true),
    (
        "rollups_hourly",
        "hour",
        "sensor, hour, user, app_id, user_source, user_kind, device, user_group",
        false,
    ),
    (
        "coverage_hourly",
        "hour",
        "sensor, hour, transport, protocol, name_source, ech_kind, one_way, encrypted_dns",
        false,
    ),
    ("sensor_health", "ts_us", "sensor", false),
];

/// One step of [`SqliteStore::prune_step`] inside its transaction.
fn prune_tx(
    tx: &rusqlite::Transaction<'_>,
    cutoffs: &Cutoffs,
    budget: u64,
    dry_run: bool,
) -> rusqlite::Result<Pruned> {
    let mut pruned = Pruned::default();
    let mut left = false;
    let limit = int(budget);
    for (table, column, key, evidence) in PRUNED {
        let cut = match (evidence, column) {
            (true, _) => cutoffs.evidence_us(),
            (false, "hour") => cutoffs.rollup_secs,
            (false, _) => cutoffs.rollup_us(),
        };
        let Some(cut) = cut else {
            pruned.add(table, 0);
            continue;
        };
        let chosen = format!("SELECT {key} FROM {table} WHERE {column} < ?1 LIMIT ?2");
        let n = if dry_run {
            let sql = format!("SELECT count(*) FROM {table} WHERE {column} < ?1");
            count(tx.query_row(&sql, [cut], |r| r.get(0))?)
        } else {
            let sql = format!("DELETE FROM {table} WHERE ({key}) IN ({chosen})");
            tx.execute(&sql, params![cut, limit])? as u64
        };
        left |= !dry_run && n >= budget;
        pruned.add(table, n);
    }
    // Seals go once no row that stays names them (counted the same way by a dry run). Once
    // every old row is gone, not while a step's worth is left.
    let n = if left {
        0
    } else {
        let named: Vec<String> = TOKEN_COLUMNS
            .iter()
            .map(|(table, column)| {
                let (time, cut) = match *table {
                    "rollups_hourly" => ("hour", cutoffs.rollup_secs),
                    _ => ("ts_us", cutoffs.evidence_us()),
                };
                let stays = cut.map_or(String::new(), |cut| format!(" AND {time} >= {cut}"));
                format!("SELECT {column} FROM {table} WHERE {column} IS NOT NULL{stays}")
            })
            .collect();
        let gone = format!(
            "FROM pseudonyms WHERE token NOT IN ({})",
            named.join(" UNION ")
        );
        if dry_run {
            count(tx.query_row(&format!("SELECT count(*) {gone}"), [], |r| r.get(0))?)
        } else {
            tx.execute(&format!("DELETE {gone}"), [])? as u64
        }
    };
    pruned.add("pseudonyms", n);
    pruned.done = !left;
    Ok(pruned)
}

/// Inserts `rows` with the statement `sql`, each bound by `bind`.
fn insert_all<R>(
    tx: &rusqlite::Transaction<'_>,
    sql: &str,
    rows: &[R],
    bind: fn(&R, &mut rusqlite::Statement<'_>) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut statement = tx.prepare_cached(sql)?;
    for row in rows {
        bind(row, &mut statement)?;
        statement.raw_execute()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Read as _;

    fn rollup(flows: u64, up: u64, first: i64, last: i64) -> RollupRow {
        RollupRow {
            hour: 3600,
            user: "10.0.0.2".into(),
            app_id: "openai-chatgpt".into(),
            user_source: "ip".into(),
            user_kind: "unknown".into(),
            flows,
            dns_lookups: 1,
            bytes_up: up,
            first_seen_us: first * 1_000_000,
            last_seen_us: last * 1_000_000,
            ..RollupRow::default()
        }
    }

    #[test]
    fn writes_go_through_the_writing_thread_in_order_and_a_failure_is_told_next() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let mut store = SqliteStore::open(&path, "s1").unwrap();
        for i in 0..200 {
            let batch = Batch {
                rollups: vec![rollup(1, 10, 3600 + i, 3600 + i)],
                ..Batch::default()
            };
            store.write(batch).unwrap();
        }
        // Every batch is in, added up in order, and the queue was full at times.
        let rows: Vec<RollupRow> = store
            .read(
                super::super::read::Rollups {
                    from: 0,
                    to: 7200,
                    filter: &Default::default(),
                }
                .query(super::super::Dialect::Sqlite),
            )
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].flows, rows[0].bytes_up), (200, 2000));
        assert_eq!(rows[0].last_seen_us, 3799 * 1_000_000);
        assert!(store.waits() > 0, "the writer never fell behind");
        // A batch the file refuses: the next call says so, naming the file.
        Connection::open(&path)
            .unwrap()
            .execute_batch("DROP TABLE rollups_hourly")
            .unwrap();
        store
            .write(Batch {
                rollups: vec![rollup(1, 10, 3600, 3600)],
                ..Batch::default()
            })
            .unwrap();
        let error = store.sync().unwrap_err().to_string();
        assert!(error.starts_with(&path.display().to_string()), "{error}");
        assert!(error.contains("rollups_hourly"), "{error}");
        assert!(store.write(Batch::default()).is_err());
    }

    #[test]
    fn rollups_add_up_across_writes_and_files_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        {
            let mut store = SqliteStore::open(&path, "s1").unwrap();
            store
                .write(Batch {
                    rollups: vec![rollup(2, 100, 3700, 3800)],
                    ..Batch::default()
                })
                .unwrap();
            let id = store
                .start_file(
                    &NewFile {
                        path: "a.pcap".into(),
                        size: 10,
                        sha256: "ab".into(),
                        quick_key: "cd".into(),
                    },
                    Timestamp::from_secs(0),
                )
                .unwrap();
            store.finish_file(id, 5, None, None, None).unwrap();
        }
        let mut store = SqliteStore::open(&path, "s1").unwrap();
        store
            .write(Batch {
                rollups: vec![rollup(1, 50, 3650, 3790)],
                ..Batch::default()
            })
            .unwrap();
        let read: Vec<RollupRow> = store
            .read(
                super::super::read::Rollups {
                    from: 0,
                    to: 7200,
                    filter: &Default::default(),
                }
                .query(super::super::Dialect::Sqlite),
            )
            .unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].sensor, "s1");
        let row: (i64, i64, i64, i64, i64) = store
            .connection()
            .query_row(
                "SELECT flows, dns_lookups, bytes_up, first_seen_us, last_seen_us FROM rollups_hourly",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .unwrap();
        assert_eq!(row, (3, 2, 150, 3_650_000_000, 3_800_000_000));
        let found = store.candidates_for(10, "cd").unwrap().remove(0).file;
        assert_eq!((found.path.as_str(), found.complete), ("a.pcap", true));
        assert!(store.candidates_for(10, "other").unwrap().is_empty());
    }

    /// The tables of a version-2 store, as lantern wrote them before attribution.
    const V2_SCHEMA: &str = "
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema_version', '2');
        CREATE TABLE flows (id INTEGER PRIMARY KEY, sensor TEXT NOT NULL, ts_us INTEGER NOT NULL,
            end_ts_us INTEGER NOT NULL, flow_id INTEGER NOT NULL, client_ip TEXT NOT NULL,
            client_port INTEGER NOT NULL, server_ip TEXT NOT NULL, server_port INTEGER NOT NULL,
            transport TEXT NOT NULL, protocol TEXT NOT NULL, server_name TEXT,
            name_source TEXT NOT NULL, user TEXT NOT NULL, user_source TEXT NOT NULL, app_id TEXT,
            app_pattern TEXT, candidate INTEGER NOT NULL, bytes_up INTEGER NOT NULL,
            bytes_down INTEGER NOT NULL, packets_up INTEGER NOT NULL,
            packets_down INTEGER NOT NULL, tls_version TEXT, tls_alpn TEXT, ja4 TEXT, ech INTEGER);
        CREATE TABLE dns (id INTEGER PRIMARY KEY, sensor TEXT NOT NULL, ts_us INTEGER NOT NULL,
            flow_id INTEGER NOT NULL, client_ip TEXT NOT NULL, client_port INTEGER NOT NULL,
            server_ip TEXT NOT NULL, server_port INTEGER NOT NULL, transport TEXT NOT NULL,
            query TEXT NOT NULL, qtype TEXT NOT NULL, rcode TEXT, answers TEXT NOT NULL,
            user TEXT NOT NULL, user_source TEXT NOT NULL, app_id TEXT, app_pattern TEXT,
            candidate INTEGER NOT NULL);
        CREATE TABLE rollups_hourly (sensor TEXT NOT NULL, hour INTEGER NOT NULL,
            user TEXT NOT NULL, app_id TEXT NOT NULL, flows INTEGER NOT NULL,
            dns_lookups INTEGER NOT NULL, bytes_up INTEGER NOT NULL, bytes_down INTEGER NOT NULL,
            first_seen_us INTEGER NOT NULL, last_seen_us INTEGER NOT NULL,
            PRIMARY KEY (sensor, hour, user, app_id)) WITHOUT ROWID;
        INSERT INTO rollups_hourly VALUES ('s1', 3600, '10.0.0.2', 'openai-chatgpt', 2, 1, 100, 0, 1, 2);
    ";

    #[test]
    fn older_stores_are_migrated_and_a_newer_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        for (version, downgrade) in [
            (2, ""),
            (
                1,
                "ALTER TABLE flows DROP COLUMN app_pattern;
                 ALTER TABLE dns DROP COLUMN app_pattern;
                 UPDATE meta SET value = '1' WHERE key = 'schema_version';",
            ),
        ] {
            let path = dir.path().join(format!("v{version}.db"));
            let old = Connection::open(&path).unwrap();
            old.execute_batch(V2_SCHEMA).unwrap();
            old.execute_batch(downgrade).unwrap();
            drop(old);
            let store = SqliteStore::open(&path, "s1").unwrap();
            let row: (String, String, String, String, i64) = store
                .connection()
                .query_row(
                    "SELECT user, user_source, user_kind, device || user_group, flows FROM rollups_hourly",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .unwrap();
            assert_eq!(
                row,
                (
                    "10.0.0.2".into(),
                    "ip".into(),
                    "unknown".into(),
                    String::new(),
                    2
                ),
                "from version {version}"
            );
        }
        let path = dir.path().join("old.db");
        std::fs::copy(dir.path().join("v1.db"), &path).unwrap();
        let store = SqliteStore::open(&path, "s1").unwrap();
        let version: String = store
            .connection()
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION.to_string());
        store
            .connection()
            .execute_batch(
                "SELECT app_pattern, user_kind, device, user_group FROM flows;
                 SELECT app_pattern, user_kind, device, user_group FROM dns;
                 SELECT user_source, user_kind, device, user_group FROM rollups_hourly;
                 SELECT token, sealed FROM pseudonyms;
                 SELECT sensor, ts_us, spool_batches FROM sensor_health;",
            )
            .unwrap();
        store
            .connection()
            .execute(
                "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
                [],
            )
            .unwrap();
        drop(store);
        let e = SqliteStore::open(&path, "s1").unwrap_err().to_string();
        assert!(
            e.contains(&format!(
                "old.db: store schema version 99 is newer than this lantern's ({SCHEMA_VERSION})"
            )),
            "{e}"
        );
    }
}
