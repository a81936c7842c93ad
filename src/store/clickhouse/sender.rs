//! The sender: one thread that takes batches from the spool, oldest first, and inserts them,
//! so the pipeline never waits on the network. It runs the `clickhouse` crate's async client on
//! a single-threaded tokio runtime of its own.
//!
//! A batch is one insert per table and month (a month is a partition, and an insert of fewer
//! rows than `max_insert_block_size` into one partition lands whole or not at all). Each such
//! insert's rows carry one `batch_id`. A batch that failed part-way, or that an earlier run left
//! in the spool, may have landed in part: before each of its inserts the sender counts the rows
//! with that id, and skips the insert if they are there. That is the idempotence that 18.16,
//! which has no `insert_deduplication_token`, allows. `files` and `pseudonyms` are
//! `ReplacingMergeTree`s: a repeated row is the same row.

use super::rows::{DnsRow, FlowRow, RollupRow};
use super::schema;
use super::spool::{Entry, Spool};
use clickhouse::{Client, RowOwned, RowWrite};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Longest wait for one insert or query before the attempt counts as failed.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);
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

/// Inserts `rows`, one insert per batch id; with `check`, first skips those already there.
async fn insert_evidence<T: Evidence>(
    client: &Client,
    table: &str,
    time_column: &str,
    rows: &[T],
    check: bool,
    stats: &SenderStats,
) -> Result<(), Failure> {
    let mut by_id: BTreeMap<u64, Vec<&T>> = BTreeMap::new();
    for row in rows {
        by_id.entry(row.batch_id()).or_default().push(row);
    }
    for (id, rows) in by_id {
        if check {
            let (first, last) = rows.iter().fold((i64::MAX, i64::MIN), |(a, b), r| {
                (a.min(r.ts_us()), b.max(r.ts_us()))
            });
            let query = format!(
                "SELECT count() FROM {table} WHERE batch_id = ? AND {time_column} >= ? AND {time_column} <= ?"
            );
            let scale = if time_column == "hour" { 1_000_000 } else { 1 };
            let found: u64 = within(
                client
                    .query(&query)
                    .bind(id)
                    .bind(first / scale)
                    .bind(last / scale)
                    .fetch_one(),
            )
            .await?;
            if found > 0 {
                stats.already_there.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        }
        insert_all(client, table, rows.into_iter()).await?;
    }
    Ok(())
}

async fn insert_all<'r, T>(
    client: &Client,
    table: &str,
    rows: impl Iterator<Item = &'r T>,
) -> Result<(), Failure>
where
    T: RowOwned + RowWrite,
{
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
    insert_evidence(client, "rollups_in", "hour", &entry.rollups, check, stats).await?;
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
        let (seq, entry) = match shared.spool.oldest(wait) {
            Ok(Some(next)) => next,
            Ok(None) if closing => return,
            Ok(None) => continue,
            Err(e) => {
                eprintln!("lantern: {target}: spool: {e}");
                continue;
            }
        };
        let attempt = runtime.block_on(async {
            if !schema_ready {
                ensure_schema(&client, &database).await?;
            }
            send(&client, &entry, seq < suspect_below, &shared.stats).await
        });
        match attempt {
            Ok(()) => {
                schema_ready = true;
                backoff = BACKOFF.0;
                shared.spool.sent(seq);
                shared.stats.batches.fetch_add(1, Ordering::Relaxed);
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
                suspect_below = suspect_below.max(seq + 1);
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
