//! Store: where evidence and rollups are kept between runs.
//!
//! The embedded default is a SQLite file ([`SqliteStore`], through `rusqlite` with SQLite
//! bundled, so nothing is installed). ClickHouse ([`ClickHouseStore`]) is the store for many
//! sensors: the same tables, written through an on-disk spool so that nothing is lost while the
//! server is away. Both hold flow and DNS evidence of AI use, hourly rollups per (sensor, hour,
//! user, app) that later runs add to, hourly coverage of every flow, each sensor's latest
//! state, the notices raised (so that a restart or another sensor does not raise one again),
//! the files that were ingested (so that the same file is not counted twice) and sealed
//! pseudonyms. Each table is declared once ([`tables`], through
//! [`schema`]): its row struct is what output makes, both stores write and the spool holds.
//! [`Store`] is whichever store a run was given; [`Batch`] is what one write adds; [`read`]
//! declares what reports read back, once for both stores, and [`Store::read`] runs it;
//! [`retention`] says how long rows are kept, and both stores prune to it.

pub mod clickhouse;
mod filter;
mod pending;
pub mod read;
pub mod retention;
pub mod schema;
mod sqlite;
pub mod tables;

use crate::output::notice::NoticeKey;

pub use self::clickhouse::{ClickHouseConfig, ClickHouseReader, ClickHouseStats, ClickHouseStore};
pub use filter::{Filter, FilterError, MAX_FILTER_LEN, MAX_FILTER_VALUES};
pub use pending::{Pending, keeps_flow, keeps_lookup};
pub use read::{Dialect, Query, Read, ReadRow};
pub use retention::{Cutoffs, Pruned, Retention};
pub use schema::SCHEMA_VERSION;
pub use sqlite::SqliteStore;
pub use tables::{
    CoverageRow, DnsRow, FileRow, FlowRow, HealthRow, NoticeRow, PseudonymRow, RollupRow,
};

/// Rows a table per transaction when pruning SQLite all at once (`lantern store prune`).
const PRUNE_BUDGET: u64 = 50_000;

/// What one write adds to the store: the rows of each table, which the store takes (and
/// stamps with its sensor name).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// Flow evidence rows.
    pub flows: Vec<FlowRow>,
    /// DNS evidence rows.
    pub dns: Vec<DnsRow>,
    /// Rollups to add.
    pub rollups: Vec<RollupRow>,
    /// Coverage to add.
    pub coverage: Vec<CoverageRow>,
    /// Sealed pseudonyms.
    pub pseudonyms: Vec<PseudonymRow>,
    /// The sensor's state (a live capture's writes; replays have none).
    pub health: Vec<HealthRow>,
    /// Notices raised: the first row of each key stays.
    pub notices: Vec<NoticeRow>,
}

impl Batch {
    /// Sets the sensor of every row.
    fn stamp(&mut self, sensor: &str) {
        let sensor = || sensor.to_string();
        self.flows.iter_mut().for_each(|r| r.sensor = sensor());
        self.dns.iter_mut().for_each(|r| r.sensor = sensor());
        self.rollups.iter_mut().for_each(|r| r.sensor = sensor());
        self.coverage.iter_mut().for_each(|r| r.sensor = sensor());
        self.health.iter_mut().for_each(|r| r.sensor = sensor());
        self.notices.iter_mut().for_each(|r| r.sensor = sensor());
    }
}

/// A file that an earlier run ingested.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestedFile {
    /// Row id.
    pub id: i64,
    /// The sensor that ingested it.
    pub sensor: String,
    /// Its path then.
    pub path: String,
    /// When (wall clock, RFC 3339).
    pub ingested_at: String,
    /// Whether that run read it to the end.
    pub complete: bool,
}

/// A file about to be ingested.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewFile {
    /// Path as given.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the whole file, hex; empty when it is hashed as it is read (then given to
    /// [`Store::finish_file`]).
    pub sha256: String,
    /// Its quick key (`capture::hash::quick_key`).
    pub quick_key: String,
}

/// A file the store holds that may be the one about to be replayed: same size, and the same
/// quick key (or none, from a lantern before version 8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchingFile {
    /// What the store says of it.
    pub file: IngestedFile,
    /// Its SHA-256; empty when the run that ingested it never finished.
    pub sha256: String,
}

/// A store operation that failed; displays as `STORE: what went wrong`.
#[derive(Debug, thiserror::Error)]
#[error("{place}: {source}")]
pub struct StoreError {
    /// The store: a file path, or a ClickHouse URL without its password.
    pub place: String,
    /// What went wrong.
    #[source]
    pub source: StoreFault,
}

/// What went wrong with a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreFault {
    /// SQLite refused.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// The file was written by a newer lantern.
    #[error(
        "store schema version {0} is newer than this lantern's ({SCHEMA_VERSION}); use a newer lantern"
    )]
    Newer(i64),
    /// ClickHouse refused or could not be reached.
    #[error("ClickHouse: {0}")]
    ClickHouse(#[from] ::clickhouse::error::Error),
    /// ClickHouse could not be reached.
    #[error("ClickHouse: {0}")]
    Unreachable(String),
    /// The spool could not be written or read, or the ClickHouse sender's thread or runtime
    /// could not start.
    #[error("spool: {0}")]
    Spool(std::io::Error),
    /// A setting is wrong.
    #[error("{0}")]
    Config(String),
    /// SQLite's writing thread failed (SQLite's message) or stopped.
    #[error("{0}")]
    Writer(String),
}

/// The store a run writes to.
#[derive(Debug)]
pub enum Store {
    /// A SQLite file.
    Sqlite(SqliteStore),
    /// A ClickHouse database, through the spool.
    ClickHouse(Box<ClickHouseStore>),
    /// A ClickHouse database, to read: no spool, no writes.
    ClickHouseReader(Box<ClickHouseReader>),
}

/// Who answers queries.
enum Reads<'a> {
    Sqlite(&'a SqliteStore),
    ClickHouse(&'a ClickHouseReader),
}

impl Store {
    /// The store as shown in messages.
    pub fn display(&self) -> String {
        match self.reads() {
            Reads::Sqlite(s) => s.path().display().to_string(),
            Reads::ClickHouse(c) => c.display(),
        }
    }

    fn reads(&self) -> Reads<'_> {
        match self {
            Store::Sqlite(s) => Reads::Sqlite(s),
            Store::ClickHouse(c) => Reads::ClickHouse(c.reader()),
            Store::ClickHouseReader(c) => Reads::ClickHouse(c),
        }
    }

    fn read_only(c: &ClickHouseReader) -> StoreError {
        StoreError {
            place: c.display(),
            source: StoreFault::Config("opened for reading only".into()),
        }
    }

    /// Adds a batch: in one transaction (SQLite), or to the spool (ClickHouse).
    pub fn write(&mut self, batch: Batch) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.write(batch),
            Store::ClickHouse(c) => c.write(batch),
            Store::ClickHouseReader(c) => Err(Self::read_only(c)),
        }
    }

    /// Whether a replay may hash a file as it reads it and give the hash at the end: SQLite
    /// updates the file's row in place. ClickHouse keeps `files` ordered by the hash
    /// (`ReplacingMergeTree` by version), where a row whose hash changed would stay twice, so
    /// a replay into it hashes each file before reading it, as before.
    pub fn hashes_as_read(&self) -> bool {
        matches!(self, Store::Sqlite(_))
    }

    /// The files of `size` bytes whose quick key is `quick_key` (or that have none), oldest
    /// first.
    pub fn files_matching(
        &self,
        size: u64,
        quick_key: &str,
    ) -> Result<Vec<MatchingFile>, StoreError> {
        match self {
            Store::Sqlite(s) => s.files_matching(size, quick_key),
            Store::ClickHouse(c) => c.reader().files_matching(size, quick_key),
            Store::ClickHouseReader(c) => c.files_matching(size, quick_key),
        }
    }

    /// Records that a file is being ingested.
    pub fn start_file(
        &mut self,
        file: &NewFile,
        now: crate::capture::Timestamp,
    ) -> Result<i64, StoreError> {
        match self {
            Store::Sqlite(s) => s.start_file(file, now),
            Store::ClickHouse(c) => c.start_file(file, now),
            Store::ClickHouseReader(c) => Err(Self::read_only(c)),
        }
    }

    /// Records how the ingestion of a file ended, and its SHA-256 when it was hashed as read.
    pub fn finish_file(
        &mut self,
        id: i64,
        packets: u64,
        span: Option<(crate::capture::Timestamp, crate::capture::Timestamp)>,
        error: Option<&str>,
        sha256: Option<&str>,
    ) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.finish_file(id, packets, span, error, sha256),
            Store::ClickHouse(c) => c.finish_file(id, packets, span, error, sha256),
            Store::ClickHouseReader(c) => Err(Self::read_only(c)),
        }
    }

    /// The sealed name of a pseudonym token, if the store holds it.
    pub fn sealed(&self, token: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.reads() {
            Reads::Sqlite(s) => s.sealed(token),
            Reads::ClickHouse(c) => c.sealed(token),
        }
    }

    /// The rows of `read`, sorted: the same read, declared once, in either store.
    pub fn read<R: Read>(&self, read: &R) -> Result<Vec<R::Row>, StoreError> {
        let mut rows = match self.reads() {
            Reads::Sqlite(s) => s.read(read.query(Dialect::Sqlite)),
            Reads::ClickHouse(c) => c.read(read.query(Dialect::ClickHouse)),
        }?;
        rows.sort_unstable();
        Ok(rows)
    }

    /// Makes sure the store has this lantern's tables before a read of one a sensor's first
    /// write may not have made yet: SQLite has them once open; ClickHouse is brought up to date
    /// once (see [`ClickHouseReader::current`]).
    fn current(&self) -> Result<(), StoreError> {
        match self.reads() {
            Reads::Sqlite(_) => Ok(()),
            Reads::ClickHouse(c) => c.current(),
        }
    }

    /// Whether a notice of `key` was raised, by this sensor or another writing to the same
    /// store: SQLite once every batch handed over is written (it waits for its writing thread);
    /// ClickHouse as the server holds it, which is without the batches still in this sensor's
    /// spool.
    pub fn raised(&self, key: &NoticeKey) -> Result<bool, StoreError> {
        self.current()?;
        let rows = self.read(&read::NoticeRaised { key })?;
        Ok(rows.iter().any(|r| r.rows > 0))
    }

    /// The keys of the notices raised once ever, sorted, each once (as [`Store::raised`] sees
    /// them); kinds this lantern does not know are left out.
    pub fn raised_ever(&self) -> Result<Vec<NoticeKey>, StoreError> {
        self.current()?;
        let rows = self.read(&read::NoticesEver)?;
        let mut keys: Vec<NoticeKey> = rows.into_iter().filter_map(|r| r.key()).collect();
        keys.sort_unstable();
        keys.dedup();
        Ok(keys)
    }

    /// One bounded step of pruning a SQLite store (at most `budget` rows a table; see
    /// [`SqliteStore::prune_step`]); a ClickHouse store is pruned by its sender (see
    /// [`Store::set_retention`]), so this is done at once there.
    pub fn prune_step(&mut self, cutoffs: &Cutoffs, budget: u64) -> Result<Pruned, StoreError> {
        match self {
            Store::Sqlite(s) => s.prune_step(cutoffs, budget, false),
            Store::ClickHouse(_) | Store::ClickHouseReader(_) => Ok(Pruned {
                done: true,
                ..Pruned::default()
            }),
        }
    }

    /// Prunes everything older than `cutoffs` (with `dry_run`, counts it): SQLite in bounded
    /// transactions one after the other, ClickHouse by partition drops and deletes, waiting
    /// for the server to apply them.
    pub fn prune(&mut self, cutoffs: &Cutoffs, dry_run: bool) -> Result<Pruned, StoreError> {
        match self {
            Store::Sqlite(s) => {
                let mut all = Pruned::default();
                loop {
                    let step = s.prune_step(cutoffs, PRUNE_BUDGET, dry_run)?;
                    all.merge(&step);
                    if step.done {
                        return Ok(all);
                    }
                }
            }
            Store::ClickHouse(c) => c.reader().prune(cutoffs, dry_run),
            Store::ClickHouseReader(c) => c.prune(cutoffs, dry_run),
        }
    }

    /// Has a ClickHouse store's sender prune it to `retention` once an hour (SQLite is pruned
    /// by [`Store::prune_step`], by whoever writes).
    pub fn set_retention(&mut self, retention: Retention) {
        if let Store::ClickHouse(c) = self {
            c.set_retention(retention);
        }
    }

    /// The SQLite store, if it is one.
    pub fn sqlite_mut(&mut self) -> Option<&mut SqliteStore> {
        match self {
            Store::Sqlite(s) => Some(s),
            Store::ClickHouse(_) | Store::ClickHouseReader(_) => None,
        }
    }

    /// How sending to ClickHouse goes (`None` for SQLite, which writes in place).
    pub fn clickhouse_stats(&self) -> Option<ClickHouseStats> {
        match self {
            Store::ClickHouse(c) => Some(c.stats()),
            Store::Sqlite(_) | Store::ClickHouseReader(_) => None,
        }
    }

    /// Returns once every batch written so far is in the SQLite file (its writing thread
    /// caught up), or with the first failure; ClickHouse's spool already holds them.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.sync(),
            Store::ClickHouse(_) | Store::ClickHouseReader(_) => Ok(()),
        }
    }

    /// Writes that waited because the SQLite writing thread was behind (0 for ClickHouse,
    /// whose spool takes every write).
    pub fn write_waits(&self) -> u64 {
        match self {
            Store::Sqlite(s) => s.waits(),
            Store::ClickHouse(_) | Store::ClickHouseReader(_) => 0,
        }
    }

    /// Finishes writing: ClickHouse sends what it can of the spool; SQLite has nothing to send
    /// (its writing thread ends its queue when the store is dropped, [`Store::sync`] waits for
    /// it).
    pub fn close(&mut self) -> Option<ClickHouseStats> {
        match self {
            Store::ClickHouse(c) => Some(c.close()),
            Store::Sqlite(_) | Store::ClickHouseReader(_) => None,
        }
    }
}
