//! The SQLite store: the tables of [`tables`](super::tables) in one file, each write one
//! transaction. This module is the store and its reads (files ingested, seals, the queries of
//! [`read`](super::read)); `migrate` holds its physical design and the migrations that bring a
//! file to [`SCHEMA_VERSION`](super::SCHEMA_VERSION) when it is opened, `writing` the writing
//! thread, `prune` pruning.
//!
//! Writes go to a writing thread with a connection of its own (bounded queue, waits counted);
//! reads, file records and pruning use the store's own connection, and all of them but the
//! record of a file's start wait for the writing thread to catch up first. Pruning
//! ([`SqliteStore::prune_step`]) deletes in bounded steps.

mod migrate;
mod prune;
mod writing;

use super::read::{Query, ReadRow};
use super::schema::int;
use super::tables::us;
use super::{FileRow, IngestedFile, MatchingFile, NewFile, StoreError};
use crate::capture::Rfc3339;
use crate::capture::Timestamp;
use crate::writing::WritingThread;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use writing::Batches;

/// Evidence and rollups in a SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    sensor: String,
    /// The thread that writes batches, from the first write on.
    writer: Option<Box<WritingThread<Batches>>>,
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
        if migrate::version(&conn).map_err(wrap)?.is_none() {
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
                .map_err(wrap)?;
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(wrap)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(wrap)?;
        migrate::migrate(&mut conn).map_err(|source| StoreError {
            place: path.display().to_string(),
            source,
        })?;
        Ok(SqliteStore {
            conn,
            path: path.to_path_buf(),
            sensor: sensor.to_string(),
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

    /// The files of `size` bytes whose quick key is `quick_key`, or that have none.
    pub fn files_matching(
        &self,
        size: u64,
        quick_key: &str,
    ) -> Result<Vec<MatchingFile>, StoreError> {
        self.sync()?;
        let rows = || -> rusqlite::Result<Vec<MatchingFile>> {
            let mut query = self.conn.prepare_cached(
                "SELECT id, sensor, path, ingested_at, complete, sha256 FROM files
                 WHERE size = ?1 AND quick_key IN (?2, '') ORDER BY id",
            )?;
            let rows = query.query_map(params![int(size), quick_key], |row| {
                Ok(MatchingFile {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Read as _;
    use crate::store::{Batch, RollupRow};

    pub(super) fn rollup(flows: u64, up: u64, first: i64, last: i64) -> RollupRow {
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
                crate::store::read::Rollups {
                    from: 0,
                    to: 7200,
                    filter: &Default::default(),
                }
                .query(crate::store::Dialect::Sqlite),
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
        let found = store.files_matching(10, "cd").unwrap().remove(0).file;
        assert_eq!((found.path.as_str(), found.complete), ("a.pcap", true));
        assert!(store.files_matching(10, "other").unwrap().is_empty());
    }
}
