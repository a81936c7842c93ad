//! Pruning a ClickHouse store (see [`retention`](crate::store::retention)) with what 18.16
//! has: it has no table TTL (19.6 added it), so months wholly older than the cutoff are dropped
//! (`DROP PARTITION`, immediate and cheap) and the rest of the rows older than it go by one
//! `ALTER TABLE … DELETE` mutation per table, which the server applies in the background. The
//! cutoffs move once a day, so a table gets at most one mutation a day, and none when it holds
//! nothing older. On a cluster the `*_local` tables are altered `ON CLUSTER`, counted through
//! the Distributed ones. A seal goes when its token is in no evidence and no rollup row that
//! stays (judged by the cutoffs, so the deletes need not be applied yet).
//!
//! The same code serves `lantern store prune` (which waits for the mutations, to say when they
//! are applied) and the daemon, whose sender thread runs it once an hour between sends.

use super::client::{FailedAttempt, cluster_of, within};
use super::schema::{holding, month_of, month_partition};
use crate::store::retention::{Cutoffs, Pruned, TOKEN_COLUMNS, aging};
use crate::store::schema::Time;
use clickhouse::Client;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Tokens per `DELETE WHERE token IN (…)`.
const TOKENS_PER_DELETE: usize = 1000;

/// How long `store prune` waits for the server to apply its mutations.
const MUTATIONS_PATIENCE: Duration = Duration::from_secs(300);

/// A ClickHouse string literal.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// Where the rows are and how to alter them: the plain tables, or a cluster's local ones.
struct Layout<'a> {
    database: &'a str,
    cluster: Option<String>,
}

impl Layout<'_> {
    /// The table to read (the plain name: through a cluster's Distributed table).
    fn read(&self, table: &str) -> String {
        format!("`{}`.{table}", self.database)
    }

    /// The table to alter, with its `ON CLUSTER`.
    fn alter(&self, table: &str) -> String {
        match &self.cluster {
            None => format!("ALTER TABLE `{}`.{table}", self.database),
            Some(c) => format!(
                "ALTER TABLE `{}`.{table}_local ON CLUSTER `{c}`",
                self.database
            ),
        }
    }
}

/// Prunes every table older than `cutoffs`; with `dry_run`, counts what would go. With
/// `wait`, waits for the server to apply the deletes (`done` says whether it did in time).
pub(super) async fn prune(
    client: &Client,
    database: &str,
    cutoffs: &Cutoffs,
    dry_run: bool,
    wait: bool,
) -> Result<Pruned, FailedAttempt> {
    let layout = Layout {
        database,
        cluster: cluster_of(client, database).await?,
    };
    let mut pruned = Pruned::default();
    // The tables that age out, each in the tables that hold its rows (`rollups_in` too).
    for table in aging() {
        for name in holding(&table) {
            let n = match cutoffs.cut_us(table.kept) {
                Some((time, cut)) => prune_table(client, &layout, name, time, cut, dry_run).await?,
                None => 0,
            };
            pruned.add(name, n);
        }
    }
    let seals = prune_seals(client, &layout, cutoffs, dry_run).await?;
    pruned.add("pseudonyms", seals);
    pruned.done = dry_run || !wait || mutations_done(client, database).await?;
    Ok(pruned)
}

/// Rows of `table` whose `time` is older than `cut` (microseconds): counted, then whole months
/// dropped and the rest deleted.
async fn prune_table(
    client: &Client,
    layout: &Layout<'_>,
    table: &str,
    time: Time,
    cut: i64,
    dry_run: bool,
) -> Result<u64, FailedAttempt> {
    let read = layout.read(table);
    let old = format!("{} < {cut}", time.us_sql());
    let n: u64 = within(
        client
            .query(&format!("SELECT count() FROM {read} WHERE {old}"))
            .fetch_one(),
    )
    .await?;
    if dry_run || n == 0 {
        return Ok(n);
    }
    // A table partitioned by month: the months wholly before the cut.
    if let Some(partition) = month_partition(table) {
        let month = month_of(partition);
        let months: Vec<u32> = within(
            client
                .query(&format!(
                    "SELECT DISTINCT {month} FROM {read} WHERE {month} < {}",
                    month_of(&cut.to_string())
                ))
                .fetch_all(),
        )
        .await?;
        for m in months {
            let sql = format!("{} DROP PARTITION {m}", layout.alter(table));
            within(client.query(&sql).execute()).await?;
        }
    }
    let left: u64 = within(
        client
            .query(&format!("SELECT count() FROM {read} WHERE {old}"))
            .fetch_one(),
    )
    .await?;
    if left > 0 {
        let sql = format!("{} DELETE WHERE {old}", layout.alter(table));
        within(client.query(&sql).execute()).await?;
    }
    Ok(n)
}

/// Whether the server has applied every mutation of `database`, waiting up to
/// [`MUTATIONS_PATIENCE`].
async fn mutations_done(client: &Client, database: &str) -> Result<bool, FailedAttempt> {
    let started = Instant::now();
    loop {
        let pending: u64 = within(
            client
                .query("SELECT count() FROM system.mutations WHERE database = ? AND is_done = 0")
                .bind(database)
                .fetch_one(),
        )
        .await?;
        if pending == 0 {
            return Ok(true);
        }
        if started.elapsed() > MUTATIONS_PATIENCE {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Seals of tokens that no row names any more: counted, and deleted unless `dry_run`.
async fn prune_seals(
    client: &Client,
    layout: &Layout<'_>,
    cutoffs: &Cutoffs,
    dry_run: bool,
) -> Result<u64, FailedAttempt> {
    let sealed: Vec<String> = within(
        client
            .query(&format!(
                "SELECT DISTINCT token FROM {}",
                layout.read("pseudonyms")
            ))
            .fetch_all(),
    )
    .await?;
    if sealed.is_empty() {
        return Ok(0);
    }
    let mut named = BTreeSet::new();
    for (table, column) in TOKEN_COLUMNS {
        let stays = cutoffs
            .cut_us(table.kept)
            .map_or(String::new(), |(time, cut)| {
                format!(" WHERE {} >= {cut}", time.us_sql())
            });
        let rows: Vec<String> = within(
            client
                .query(&format!(
                    // ifNull: device is Nullable in the evidence tables.
                    "SELECT DISTINCT ifNull({column}, '') FROM {}{stays}",
                    layout.read(table.name)
                ))
                .fetch_all(),
        )
        .await?;
        named.extend(rows);
    }
    let gone: Vec<&String> = sealed.iter().filter(|t| !named.contains(*t)).collect();
    if !dry_run {
        for chunk in gone.chunks(TOKENS_PER_DELETE) {
            let list: Vec<String> = chunk.iter().map(|t| quote(t)).collect();
            let sql = format!(
                "{} DELETE WHERE token IN ({})",
                layout.alter("pseudonyms"),
                list.join(", ")
            );
            within(client.query(&sql).execute()).await?;
        }
    }
    Ok(gone.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_quotes_and_backslashes() {
        assert_eq!(quote("anon-1f"), "'anon-1f'");
        assert_eq!(quote(r"a'b\c"), r"'a\'b\\c'");
    }
}
