//! The sender: one thread that takes batches from the spool, oldest first, and inserts them,
//! so the pipeline never waits on the network. It runs the `clickhouse` crate's async client on
//! a single-threaded tokio runtime of its own.
//!
//! The sender takes the oldest batches together, up to [`SEND_BYTES`] of spool, and inserts them
//! as one insert per table and month (a month is a partition, and an insert of fewer rows than
//! `max_insert_block_size` into one partition lands whole or not at all). Each batch's rows of a
//! month carry one `batch_id`. Batches that failed part-way, or that an earlier run left in the
//! spool, may have landed in part: before each insert of theirs the sender asks which of their
//! batch ids the table holds, and leaves those rows out. That is the idempotence that 18.16,
//! which has no `insert_deduplication_token`, allows. `files` and `pseudonyms` are
//! `ReplacingMergeTree`s: a repeated row is the same row.

use super::rows::{DnsRow, FlowRow, RollupRow};
use super::schema;
use super::spool::{Entry, Spool};
use clickhouse::{Client, RowOwned, RowWrite};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Longest wait for one insert or query before the attempt counts as failed.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);
/// Most spool bytes sent in one go: the batches in them become one insert per table and month.
/// An insert costs tens of milliseconds whatever its size, so larger is faster, but the rows are
/// held in memory meanwhile: 8 MiB is about 55,000 rows and 50 MB (620,000 rows from the spool:
/// 6 MiB 3.8-5.1 s, 10 MiB 3.1 s, 16 MiB 2.0-2.4 s and 160 MB, 32 MiB 2.4 s and 290 MB).
const SEND_BYTES: u64 = 8 << 20;
/// Waits between attempts while ClickHouse is unreachable: doubling from the first to the last.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(30));

/// What the sender has done, read by status and metrics.
#[derive(Debug, Default)]
pub struct SenderStats {
    /// Batches inserted.
    pub batches: AtomicU64,
    /// Rows inserted.
    pub rows: AtomicU64,
    /// Inserts skipped because a retry found them already there.
    pub already_there: AtomicU64,
    /// Failed attempts.
    pub failures: AtomicU64,
}

/// What the sender and the store share.
#[derive(Debug)]
pub struct Shared {
    pub spool: Spool,
    pub stats: SenderStats,
    /// Set by `close`: send what is spooled, then stop at the first failure or when empty.
    pub closing: AtomicBool,
}

/// A failed attempt.
type Failure = String;

fn failure(e: impl std::fmt::Display) -> Failure {
    e.to_string()
}

async fn within<T>(
    what: impl std::future::Future<Output = clickhouse::error::Result<T>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(ATTEMPT_TIMEOUT, what).await {
        Ok(result) => result.map_err(failure),
        Err(_) => Err(format!("no answer in {} s", ATTEMPT_TIMEOUT.as_secs())),
    }
}

/// Creates lantern's tables where they are missing (single-server layout; a cluster's are made
/// by `lantern store init --cluster`, and then nothing is missing).
pub async fn ensure_schema(client: &Client, database: &str) -> Result<(), Failure> {
    // The database may not exist yet: the statements name it, the session must not.
    let session = client.clone().with_database("default");
    let present: u64 = within(
        session
            .query(
                "SELECT count() FROM system.tables WHERE database = ? AND name IN \
                 ('flows', 'dns', 'rollups_in', 'rollups_hourly', 'rollups_mv', 'files', 'pseudonyms')",
            )
            .bind(database)
            .fetch_one(),
    )
    .await?;
    if present == 7 {
        return Ok(());
    }
    for statement in schema::statements(database, None) {
        within(session.query(&statement).execute()).await?;
    }
    Ok(())
}

/// Rows of one table that carry a batch id and a time.
trait Evidence: RowOwned + RowWrite {
    fn batch_id(&self) -> u64;
    fn ts_us(&self) -> i64;
}

impl Evidence for FlowRow {
    fn batch_id(&self) -> u64 {
        self.batch_id
    }
    fn ts_us(&self) -> i64 {
        self.ts_us
    }
}

impl Evidence for DnsRow {
    fn batch_id(&self) -> u64 {
        self.batch_id
    }
    fn ts_us(&self) -> i64 {
        self.ts_us
    }
}

impl Evidence for RollupRow {
    fn batch_id(&self) -> u64 {
        self.batch_id
    }
    fn ts_us(&self) -> i64 {
        self.hour * 1_000_000
    }
}

/// Inserts `rows`, one insert per month (so each lands whole or not at all); with `check`,
/// first leaves out the rows of batch ids already there.
async fn insert_evidence<T: Evidence>(
    client: &Client,
    table: &str,
    time_column: &str,
    rows: &[T],
    check: bool,
    stats: &SenderStats,
) -> Result<(), Failure> {
    // The low 20 bits of a batch id are the month of its rows.
    let mut by_month: BTreeMap<u64, Vec<&T>> = BTreeMap::new();
    for row in rows {
        by_month
            .entry(row.batch_id() & 0xF_FFFF)
            .or_default()
            .push(row);
    }
    for rows in by_month.into_values() {
        let landed = if check {
            landed(client, table, time_column, &rows).await?
        } else {
            BTreeSet::new()
        };
        stats
            .already_there
            .fetch_add(landed.len() as u64, Ordering::Relaxed);
        let rows = rows.into_iter().filter(|r| !landed.contains(&r.batch_id()));
        insert_all(client, table, rows).await?;
    }
    Ok(())
}

/// Inserts rollups into `rollups_in`, whose view adds them into `rollups_hourly`. With `check`,
/// batches `rollups_in` holds are left out, and those whose view write was lost (the server
/// stopped between the two) are added into `rollups_hourly` from `rollups_in` by the server.
async fn insert_rollups(
    client: &Client,
    rows: &[RollupRow],
    check: bool,
    stats: &SenderStats,
) -> Result<(), Failure> {
    if !check || rows.is_empty() {
        return insert_evidence(client, "rollups_in", "hour", rows, false, stats).await;
    }
    let all: Vec<&RollupRow> = rows.iter().collect();
    let staged = landed(client, "rollups_in", "hour", &all).await?;
    let summed = summed(client, &all).await?;
    let lost: Vec<String> = staged.difference(&summed).map(u64::to_string).collect();
    if !lost.is_empty() {
        let (first, last) = span(&all);
        let filter = format!(
            "WHERE hour >= {} AND hour <= {} AND batch_id IN ({})",
            first / 1_000_000,
            last / 1_000_000,
            lost.join(", ")
        );
        let repair = format!(
            "INSERT INTO rollups_hourly {}",
            schema::rollup_select("rollups_in", &filter)
        );
        within(client.query(&repair).execute()).await?;
    }
    let there: BTreeSet<u64> = staged.union(&summed).copied().collect();
    stats
        .already_there
        .fetch_add(there.len() as u64, Ordering::Relaxed);
    let rest: Vec<RollupRow> = rows
        .iter()
        .filter(|r| !there.contains(&r.batch_id))
        .cloned()
        .collect();
    insert_evidence(client, "rollups_in", "hour", &rest, false, stats).await
}

/// The batch ids among `rows` that `rollups_hourly` holds.
async fn summed(client: &Client, rows: &[&RollupRow]) -> Result<BTreeSet<u64>, Failure> {
    let ids: Vec<String> = rows
        .iter()
        .map(|r| r.batch_id)
        .collect::<BTreeSet<u64>>()
        .iter()
        .map(u64::to_string)
        .collect();
    let (first, last) = span(rows);
    let query = format!(
        "SELECT DISTINCT id FROM (
            SELECT arrayJoin(groupUniqArrayMerge(batches)) AS id FROM rollups_hourly
            WHERE hour >= ? AND hour <= ?
            GROUP BY sensor, hour, user, app_id, user_source, user_kind, device, user_group)
         WHERE id IN ({})",
        ids.join(", ")
    );
    let found: Vec<u64> = within(
        client
            .query(&query)
            .bind(first / 1_000_000)
            .bind(last / 1_000_000)
            .fetch_all(),
    )
    .await?;
    Ok(found.into_iter().collect())
}

/// The earliest and latest time of `rows`, in microseconds.
fn span<T: Evidence>(rows: &[&T]) -> (i64, i64) {
    rows.iter().fold((i64::MAX, i64::MIN), |(a, b), r| {
        (a.min(r.ts_us()), b.max(r.ts_us()))
    })
}

/// The batch ids among `rows` that `table` already holds.
async fn landed<T: Evidence>(
    client: &Client,
    table: &str,
    time_column: &str,
    rows: &[&T],
) -> Result<BTreeSet<u64>, Failure> {
    let ids: BTreeSet<u64> = rows.iter().map(|r| r.batch_id()).collect();
    let (first, last) = span(rows);
    let scale = if time_column == "hour" { 1_000_000 } else { 1 };
    // The ids are numbers lantern made: written into the query, as 18.16 cannot bind a list.
    let list: Vec<String> = ids.iter().map(u64::to_string).collect();
    let query = format!(
        "SELECT DISTINCT batch_id FROM {table} WHERE {time_column} >= ? AND {time_column} <= ? \
         AND batch_id IN ({})",
        list.join(", ")
    );
    let found: Vec<u64> = within(
        client
            .query(&query)
            .bind(first / scale)
            .bind(last / scale)
            .fetch_all(),
    )
    .await?;
    Ok(found.into_iter().collect())
}

async fn insert_all<'r, T>(
    client: &Client,
    table: &str,
    rows: impl Iterator<Item = &'r T>,
) -> Result<(), Failure>
where
    T: RowOwned + RowWrite,
{
    let mut rows = rows.peekable();
    if rows.peek().is_none() {
        return Ok(());
    }
    let mut insert = within(client.insert::<T>(table)).await?;
    for row in rows {
        within(insert.write(row)).await?;
    }
    within(insert.end()).await
}

/// Inserts one batch. `check`: it may have landed in part before.
pub async fn send(
    client: &Client,
    entry: &Entry,
    check: bool,
    stats: &SenderStats,
) -> Result<(), Failure> {
    insert_evidence(client, "flows", "ts_us", &entry.flows, check, stats).await?;
    insert_evidence(client, "dns", "ts_us", &entry.dns, check, stats).await?;
    insert_rollups(client, &entry.rollups, check, stats).await?;
    if !entry.pseudonyms.is_empty() {
        insert_all(client, "pseudonyms", entry.pseudonyms.iter()).await?;
    }
    if !entry.files.is_empty() {
        insert_all(client, "files", entry.files.iter()).await?;
    }
    Ok(())
}

/// The sender thread's loop: until closed and (empty or failing).
pub fn run(shared: Arc<Shared>, client: Client, database: String, target: String) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lantern: {target}: cannot start the ClickHouse sender: {e}");
            return;
        }
    };
    let mut schema_ready = false;
    // Batches below this may have landed already: those an earlier run left (it may have
    // stopped between an insert and removing its file), and one whose attempt failed.
    let mut suspect_below = shared.spool.found_below();
    let mut backoff = BACKOFF.0;
    let mut down = false;
    loop {
        let closing = shared.closing.load(Ordering::Acquire);
        let wait = if closing {
            Duration::ZERO
        } else {
            Duration::from_millis(200)
        };
        let (taken, errors) = shared.spool.take(wait, SEND_BYTES);
        for e in errors {
            eprintln!("lantern: {target}: spool: {e}");
        }
        let (Some(&(first, _)), Some(&(last, _))) = (taken.first(), taken.last()) else {
            if closing {
                return;
            }
            continue;
        };
        let seqs: Vec<u64> = taken.iter().map(|(seq, _)| *seq).collect();
        let entry = Entry::merge(taken.into_iter().map(|(_, entry)| entry));
        let attempt = runtime.block_on(async {
            if !schema_ready {
                ensure_schema(&client, &database).await?;
            }
            send(&client, &entry, first < suspect_below, &shared.stats).await
        });
        match attempt {
            Ok(()) => {
                schema_ready = true;
                backoff = BACKOFF.0;
                shared.spool.sent(&seqs);
                shared
                    .stats
                    .batches
                    .fetch_add(seqs.len() as u64, Ordering::Relaxed);
                shared.stats.rows.fetch_add(entry.rows(), Ordering::Relaxed);
                if down {
                    down = false;
                    eprintln!("lantern: {target}: ClickHouse is back; sending the spool");
                }
            }
            Err(e) => {
                shared.spool.failed();
                shared.stats.failures.fetch_add(1, Ordering::Relaxed);
                // The insert may have landed before the failure was seen.
                suspect_below = suspect_below.max(last + 1);
                if !down {
                    down = true;
                    eprintln!(
                        "lantern: {target}: {e}; batches wait in {} until it answers",
                        shared.spool.dir().display()
                    );
                }
                if shared.closing.load(Ordering::Acquire) {
                    return;
                }
                sleep_unless_closing(&shared, backoff);
                backoff = (backoff * 2).min(BACKOFF.1);
            }
        }
    }
}

fn sleep_unless_closing(shared: &Shared, total: Duration) {
    let step = Duration::from_millis(100);
    let mut slept = Duration::ZERO;
    while slept < total && !shared.closing.load(Ordering::Acquire) {
        std::thread::sleep(step);
        slept += step;
    }
}
