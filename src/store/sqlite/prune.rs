//! Pruning the SQLite store (see [`retention`](crate::store::retention)): bounded steps, each
//! one transaction that deletes at most a budget of rows a table, the seals no row that stays
//! names once nothing older is left, then free pages given back to the file system
//! (incremental vacuum). A file made before pruning existed is switched to incremental vacuum
//! only on demand (`lantern store prune`).

use super::SqliteStore;
use super::migrate::row_key;
use crate::store::StoreError;
use crate::store::retention::{Cutoffs, Pruned, TOKEN_COLUMNS, aging};
use crate::store::schema::{count, int};
use rusqlite::{Connection, params};

impl SqliteStore {
    /// One bounded step of pruning (see [`retention`](crate::store::retention)): in one
    /// transaction, at most `budget` rows of each table older than `cutoffs`, then, once none is
    /// left, the seals of tokens no row names any more; then up to `budget` free pages given
    /// back (incremental vacuum). Returns what it removed and whether it is finished: a caller that
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
}

/// One step of [`SqliteStore::prune_step`] inside its transaction: the tables that age out
/// ([`aging`]), each judged by its declared time, at most `budget` rows a table chosen by what
/// tells its rows apart ([`row_key`]); then, once every old row is gone, the seals.
fn prune_tx(
    tx: &rusqlite::Transaction<'_>,
    cutoffs: &Cutoffs,
    budget: u64,
    dry_run: bool,
) -> rusqlite::Result<Pruned> {
    let mut pruned = Pruned::default();
    let mut left = false;
    let limit = int(budget);
    for table in aging() {
        let Some((time, cut)) = cutoffs.cut(table.kept) else {
            pruned.add(table.name, 0);
            continue;
        };
        let (name, column, key) = (table.name, time.column(), row_key(table.name));
        let chosen = format!("SELECT {key} FROM {name} WHERE {column} < ?1 LIMIT ?2");
        let n = if dry_run {
            let sql = format!("SELECT count(*) FROM {name} WHERE {column} < ?1");
            count(tx.query_row(&sql, [cut], |r| r.get(0))?)
        } else {
            let sql = format!("DELETE FROM {name} WHERE ({key}) IN ({chosen})");
            tx.execute(&sql, params![cut, limit])? as u64
        };
        left |= !dry_run && n >= budget;
        pruned.add(name, n);
    }
    // Once every old row is gone, not while a step's worth is left.
    let n = if left {
        0
    } else {
        prune_seals(tx, cutoffs, dry_run)?
    };
    pruned.add("pseudonyms", n);
    pruned.done = !left;
    Ok(pruned)
}

/// Seals that no row that stays names: deleted, or counted the same way by a dry run.
fn prune_seals(
    tx: &rusqlite::Transaction<'_>,
    cutoffs: &Cutoffs,
    dry_run: bool,
) -> rusqlite::Result<u64> {
    let named: Vec<String> = TOKEN_COLUMNS
        .iter()
        .map(|(table, column)| {
            let stays = cutoffs
                .cut(table.kept)
                .map_or(String::new(), |(time, cut)| {
                    format!(" AND {} >= {cut}", time.column())
                });
            let table = table.name;
            format!("SELECT {column} FROM {table} WHERE {column} IS NOT NULL{stays}")
        })
        .collect();
    let gone = format!(
        "FROM pseudonyms WHERE token NOT IN ({})",
        named.join(" UNION ")
    );
    Ok(if dry_run {
        count(tx.query_row(&format!("SELECT count(*) {gone}"), [], |r| r.get(0))?)
    } else {
        tx.execute(&format!("DELETE {gone}"), [])? as u64
    })
}
