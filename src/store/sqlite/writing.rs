//! The SQLite store's writing thread: writes go to a thread with a connection of its own, each
//! batch one transaction, through a bounded queue (the writes that waited for it counted); a
//! failed write is told by the next write or [`SqliteStore::sync`].

use super::SqliteStore;
use crate::store::schema::{Role, Table, names};
use crate::store::{
    Batch, CoverageRow, DnsRow, FlowRow, HealthRow, NoticeRow, PseudonymRow, RollupRow, StoreError,
    StoreFault,
};
use crate::writing::{Destination, WritingThread};
use rusqlite::Connection;

/// Batches that may wait for the writing thread.
const WRITER_QUEUE: usize = 2;

/// The writing thread's end: its own connection, each batch one transaction.
pub(super) struct Batches {
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
    /// Hands a batch (rows of every table but `files`) to the writing thread, which writes
    /// each batch in one transaction of its own connection: the caller (the
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
    // The first row of a notice key stays (its unique index).
    let notices = NoticeRow::TABLE.sqlite_insert("OR IGNORE");
    insert_all(&tx, &notices, &batch.notices, NoticeRow::bind)?;
    tx.commit()
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
    use crate::store::sqlite::tests::rollup;

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
                crate::store::read::Rollups {
                    from: 0,
                    to: 7200,
                    filter: &Default::default(),
                }
                .query(crate::store::Dialect::Sqlite),
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
}
