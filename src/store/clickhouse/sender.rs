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
//! `ReplacingMergeTree`s: a repeated row is the same row. So is `notices`, keyed by the notice
//! key, which carries batch ids all the same so that a retry adds no row while parts wait to be
//! merged. Before its first insert the sender
//! brings the store's schema up to date ([`ensure_schema`]), as `lantern store init` does.

use super::client::{FailedAttempt, cluster_of, within};
use super::schema;
use super::spool::{Entry, Spool};
use crate::capture::Timestamp;
use crate::store::retention::Retention;
use crate::store::schema::SCHEMA_VERSION;
use crate::store::{CoverageRow, DnsRow, FlowRow, NoticeRow, RollupRow};
use clickhouse::{Client, RowOwned, RowWrite};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::time::Instant;

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
    /// Rows pruned for being older than the retention.
    pub pruned: AtomicU64,
}

/// What the sender and the store share.
#[derive(Debug)]
pub struct Shared {
    pub spool: Spool,
    pub stats: SenderStats,
    /// Set by `close`: send what is spooled, then stop at the first failure or when empty.
    pub closing: AtomicBool,
    /// How long the store keeps rows, when this sensor prunes it (a live capture does).
    pub retention: Mutex<Option<Retention>>,
}

/// How often the sender prunes, when it does.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Why the schema could not be brought up to date.
#[derive(Debug)]
pub enum SchemaFailure {
    /// A newer lantern migrated the store (its version).
    Newer(i64),
    /// The server refused or did not answer.
    Failed(FailedAttempt),
}

impl From<FailedAttempt> for SchemaFailure {
    fn from(f: FailedAttempt) -> SchemaFailure {
        SchemaFailure::Failed(f)
    }
}

impl std::fmt::Display for SchemaFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SchemaFailure::Newer(v) => write!(f, "{}", crate::store::StoreFault::Newer(*v)),
            SchemaFailure::Failed(e) => write!(f, "{e}"),
        }
    }
}

/// Whether to create what is missing from a store whose version is this lantern's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Create {
    /// Only when the store is new or older (a sensor's start-up: two queries when current).
    WhenOlder,
    /// Always (`lantern store init`, which is idempotent).
    Always,
}

/// Brings lantern's tables in `database` to [`SCHEMA_VERSION`]: creates what is missing, adds
/// the columns of later versions to an older store (on every node of its cluster, found from
/// its Distributed tables when `cluster` is not given) and records the version; refuses a
/// store a newer lantern migrated. Idempotent, and safe to run from several sensors at once.
pub async fn ensure_schema(
    client: &Client,
    database: &str,
    cluster: Option<&str>,
    create: Create,
) -> Result<(), SchemaFailure> {
    // One at a time in this process: a sensor's reader (for the notices it asks of the store)
    // and its sender may both find the store older at start-up.
    static ONE_AT_A_TIME: std::sync::OnceLock<tokio::sync::Mutex<()>> = std::sync::OnceLock::new();
    let _only = ONE_AT_A_TIME.get_or_init(Default::default).lock().await;
    // The database may not exist yet: the statements name it, the session must not.
    // Through a Distributed table, an insert returns once every shard has its rows.
    let session =
        (client.clone().with_database("default")).with_setting("insert_distributed_sync", "1");
    let found = stored_version(&session, database).await?;
    let current = i64::from(SCHEMA_VERSION);
    match found {
        Some(v) if v == current && create == Create::WhenOlder => return Ok(()),
        Some(v) if v > current => return Err(SchemaFailure::Newer(v)),
        _ => {}
    }
    let detected = match cluster {
        Some(c) => Some(c.to_string()),
        None => cluster_of(&session, database).await?,
    };
    let cluster = detected.as_deref();
    if let Some(old) = found {
        let present: Vec<(String, String)> = within(
            session
                .query("SELECT table, name FROM system.columns WHERE database = ?")
                .bind(database)
                .fetch_all(),
        )
        .await?;
        let has = |t: &str, c: &str| present.iter().any(|(pt, pc)| pt == t && pc == c);
        let from = u32::try_from(old).unwrap_or(0);
        for statement in schema::migrations(database, cluster, from, has) {
            match within(session.query(&statement).execute()).await {
                // Another sensor added the column since `present` was read.
                Err(e) if statement.contains(" ADD COLUMN ") && e.contains("already exists") => {}
                done => done?,
            }
        }
    }
    for statement in schema::statements(database, cluster) {
        within(session.query(&statement).execute()).await?;
    }
    let applied = crate::capture::Rfc3339(crate::capture::Timestamp::now()).to_string();
    within(
        session
            .query(&format!(
                "INSERT INTO `{database}`.schema_version (version, applied_at) \
                 VALUES ({SCHEMA_VERSION}, ?)"
            ))
            .bind(applied)
            .execute(),
    )
    .await?;
    Ok(())
}

/// The store's schema version: its greatest migration; 4 for lantern's tables without one
/// (the releases before version 5); `None` for a database without lantern's tables.
async fn stored_version(session: &Client, database: &str) -> Result<Option<i64>, FailedAttempt> {
    let tables: Vec<String> = within(
        session
            .query(
                "SELECT name FROM system.tables WHERE database = ? \
                 AND name IN ('flows', 'schema_version')",
            )
            .bind(database)
            .fetch_all(),
    )
    .await?;
    if tables.iter().any(|t| t == "schema_version") {
        let version: u32 = within(
            session
                .query(&format!(
                    "SELECT max(version) FROM `{database}`.schema_version"
                ))
                .fetch_one(),
        )
        .await?;
        // Created and not yet written (a run stopped half way): as old as its tables.
        return Ok(Some(if version == 0 { 4 } else { i64::from(version) }));
    }
    Ok(tables.iter().any(|t| t == "flows").then_some(4))
}

/// Rows of one table that carry a batch id and a time.
trait Batched: RowOwned + RowWrite {
    fn batch_id(&self) -> u64;
    fn ts_us(&self) -> i64;
}

impl Batched for FlowRow {
    fn batch_id(&self) -> u64 {
        self.batch_id
    }
    fn ts_us(&self) -> i64 {
        self.ts_us
    }
}

impl Batched for DnsRow {
    fn batch_id(&self) -> u64 {
        self.batch_id
    }
    fn ts_us(&self) -> i64 {
        self.ts_us
    }
}

impl Batched for NoticeRow {
    fn batch_id(&self) -> u64 {
        self.batch_id
    }
    fn ts_us(&self) -> i64 {
        self.ts_us
    }
}

impl Batched for CoverageRow {
    fn batch_id(&self) -> u64 {
        self.batch_id
    }
    fn ts_us(&self) -> i64 {
        self.hour * 1_000_000
    }
}

impl Batched for RollupRow {
    fn batch_id(&self) -> u64 {
        self.batch_id
    }
    fn ts_us(&self) -> i64 {
        self.hour * 1_000_000
    }
}

/// Inserts `rows`, one insert per month (so each lands whole or not at all); with `check`,
/// first leaves out the rows of batch ids already there.
async fn insert_batched<T: Batched>(
    client: &Client,
    table: &str,
    time_column: &str,
    rows: &[T],
    check: bool,
    stats: &SenderStats,
) -> Result<(), FailedAttempt> {
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
) -> Result<(), FailedAttempt> {
    if !check || rows.is_empty() {
        return insert_batched(client, "rollups_in", "hour", rows, false, stats).await;
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
    insert_batched(client, "rollups_in", "hour", &rest, false, stats).await
}

/// The batch ids among `rows` that `rollups_hourly` holds.
async fn summed(client: &Client, rows: &[&RollupRow]) -> Result<BTreeSet<u64>, FailedAttempt> {
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
fn span<T: Batched>(rows: &[&T]) -> (i64, i64) {
    rows.iter().fold((i64::MAX, i64::MIN), |(a, b), r| {
        (a.min(r.ts_us()), b.max(r.ts_us()))
    })
}

/// The batch ids among `rows` that `table` already holds.
async fn landed<T: Batched>(
    client: &Client,
    table: &str,
    time_column: &str,
    rows: &[&T],
) -> Result<BTreeSet<u64>, FailedAttempt> {
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
) -> Result<(), FailedAttempt>
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
) -> Result<(), FailedAttempt> {
    insert_batched(client, "flows", "ts_us", &entry.flows, check, stats).await?;
    insert_batched(client, "dns", "ts_us", &entry.dns, check, stats).await?;
    insert_rollups(client, &entry.rollups, check, stats).await?;
    let coverage = &entry.coverage;
    insert_batched(client, "coverage_hourly", "hour", coverage, check, stats).await?;
    // A repeated notice key collapses when merged; the check keeps a retry from adding rows
    // to count meanwhile.
    insert_batched(client, "notices", "ts_us", &entry.notices, check, stats).await?;
    if !entry.pseudonyms.is_empty() {
        insert_all(client, "pseudonyms", entry.pseudonyms.iter()).await?;
    }
    if !entry.files.is_empty() {
        insert_all(client, "files", entry.files.iter()).await?;
    }
    if !entry.health.is_empty() {
        insert_all(client, "sensor_health", entry.health.iter()).await?;
    }
    Ok(())
}

/// Prunes the store to the retention set in `shared`, if any, and says what went (or why
/// not) on stderr. The seals wait for the next time, once the mutations are applied.
fn prune_now(
    runtime: &tokio::runtime::Runtime,
    shared: &Shared,
    client: &Client,
    database: &str,
    target: &str,
) {
    let Some(retention) = *shared.retention.lock().unwrap_or_else(|e| e.into_inner()) else {
        return;
    };
    let cutoffs = retention.cutoffs(Timestamp::now());
    match runtime.block_on(super::prune::prune(
        client, database, &cutoffs, false, false,
    )) {
        Ok(pruned) if pruned.rows() > 0 => {
            shared
                .stats
                .pruned
                .fetch_add(pruned.rows(), Ordering::Relaxed);
            eprintln!(
                "lantern: {target}: pruned {} rows older than the retention ({})",
                pruned.rows(),
                pruned.removed_tables()
            );
        }
        Ok(_) => {}
        Err(e) => eprintln!("lantern: {target}: pruning failed, tried again in an hour: {e}"),
    }
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
    let mut sender = Sender {
        // Batches below this may have landed already: those an earlier run left (it may have
        // stopped between an insert and removing its file), and one whose attempt failed.
        suspect_below: shared.spool.found_below(),
        shared,
        client,
        database,
        target,
        runtime,
        schema_ready: false,
        backoff: BACKOFF.0,
        down: false,
        next_prune: Instant::now(),
    };
    loop {
        let closing = sender.shared.closing.load(Ordering::Acquire);
        sender.prune_if_due(closing);
        let taken = sender.take(closing);
        let (Some(&(first, _)), Some(&(last, _))) = (taken.first(), taken.last()) else {
            if closing {
                return;
            }
            continue;
        };
        let seqs: Vec<u64> = taken.iter().map(|(seq, _)| *seq).collect();
        let entry = Entry::merge(taken.into_iter().map(|(_, entry)| entry));
        match sender.attempt(&entry, first < sender.suspect_below) {
            Ok(()) => sender.sent(&seqs, &entry),
            Err(e) => {
                sender.failed(last, &e);
                if sender.shared.closing.load(Ordering::Acquire) {
                    return;
                }
                sleep_unless_closing(&sender.shared, sender.backoff);
                sender.backoff = (sender.backoff * 2).min(BACKOFF.1);
            }
        }
    }
}

/// The sender thread's state.
struct Sender {
    shared: Arc<Shared>,
    client: Client,
    database: String,
    /// Where the store is, as the lines on stderr name it.
    target: String,
    runtime: tokio::runtime::Runtime,
    /// The schema was brought up to date (by the first insert that went through).
    schema_ready: bool,
    /// Batches below this may have landed in part already.
    suspect_below: u64,
    /// The wait after the next failed attempt.
    backoff: Duration,
    /// The latest attempt failed (said once on stderr, and again when it is back).
    down: bool,
    next_prune: Instant,
}

impl Sender {
    /// Prunes when a round is due, unless closing or down, and only once the schema is there.
    fn prune_if_due(&mut self, closing: bool) {
        if !closing && !self.down && self.schema_ready && Instant::now() >= self.next_prune {
            self.next_prune = Instant::now() + PRUNE_EVERY;
            let (shared, client) = (&self.shared, &self.client);
            prune_now(&self.runtime, shared, client, &self.database, &self.target);
        }
    }

    /// The oldest spooled batches, up to [`SEND_BYTES`], waiting a little for some unless
    /// closing; says on stderr which spool files could not be read.
    fn take(&self, closing: bool) -> Vec<(u64, Entry)> {
        let wait = if closing {
            Duration::ZERO
        } else {
            Duration::from_millis(200)
        };
        let (taken, errors) = self.shared.spool.take(wait, SEND_BYTES);
        for e in errors {
            eprintln!("lantern: {}: spool: {e}", self.target);
        }
        taken
    }

    /// Inserts `entry`, bringing the schema up to date first if it is not yet. `check`: it
    /// may have landed in part before.
    fn attempt(&self, entry: &Entry, check: bool) -> Result<(), FailedAttempt> {
        let (client, database) = (&self.client, &self.database);
        self.runtime.block_on(async {
            if !self.schema_ready {
                ensure_schema(client, database, None, Create::WhenOlder)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            send(client, entry, check, &self.shared.stats).await
        })
    }

    /// The batches `seqs` (merged into `entry`) landed: they leave the spool and count.
    fn sent(&mut self, seqs: &[u64], entry: &Entry) {
        self.schema_ready = true;
        self.backoff = BACKOFF.0;
        let shared = &self.shared;
        shared.spool.sent(seqs);
        shared
            .stats
            .batches
            .fetch_add(seqs.len() as u64, Ordering::Relaxed);
        shared.stats.rows.fetch_add(entry.rows(), Ordering::Relaxed);
        if self.down {
            self.down = false;
            eprintln!(
                "lantern: {}: ClickHouse is back; sending the spool",
                self.target
            );
        }
    }

    /// An attempt at the batches up to `last` failed with `e`: they stay in the spool, and
    /// are suspect from now on.
    fn failed(&mut self, last: u64, e: &FailedAttempt) {
        let shared = &self.shared;
        shared.spool.failed();
        shared.stats.failures.fetch_add(1, Ordering::Relaxed);
        // The insert may have landed before the failure was seen.
        self.suspect_below = self.suspect_below.max(last + 1);
        if !self.down {
            self.down = true;
            eprintln!(
                "lantern: {}: {e}; batches wait in {} until it answers",
                self.target,
                shared.spool.dir().display()
            );
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
