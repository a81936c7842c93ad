//! The ClickHouse store, for many sensors and long history, through the official `clickhouse`
//! crate over HTTP(S).
//!
//! A write never touches the network: the batch goes to the `spool` on disk and the
//! `sender` thread inserts it from there, in order, retrying while the server is away. The
//! only calls that wait on the server are the ones whose answer is needed there and then:
//! whether a file was already ingested, a pseudonym's sealed name, a report's reads,
//! `store init` and `store prune`. A live sensor's pruning (`prune`) runs in the sender,
//! between sends. Both make their attempts through `client` (each with a timeout; the store's
//! cluster).

mod client;
mod prune;
mod schema;
mod sender;
mod spool;

pub use spool::SpoolStats;

use super::read::{Param, Query, ReadRow};
use super::retention::{Cutoffs, Pruned, Retention};
use super::tables::us;
use super::{Batch, FileRow, IngestedFile, MatchingFile, NewFile, StoreError, StoreFault};
use crate::capture::Rfc3339;
use crate::capture::Timestamp;
use clickhouse::Client;
use sender::{Create, SenderStats, Shared};
use spool::{Entry, Spool};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

/// Where a ClickHouse store is and how to log in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClickHouseConfig {
    /// `http://host:port` or `https://host:port`.
    pub endpoint: String,
    /// The database lantern's tables are in.
    pub database: String,
    /// User, if not the server's default.
    pub user: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// The spool directory.
    pub spool_dir: PathBuf,
    /// The spool's bound.
    pub spool_max_bytes: u64,
}

/// Whether `s` names a ClickHouse store rather than a SQLite file.
pub fn is_url(s: &str) -> bool {
    ["clickhouse://", "http://", "https://"]
        .iter()
        .any(|scheme| s.starts_with(scheme))
}

fn identifier(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl ClickHouseConfig {
    /// Parses `clickhouse://[user[:password]@]host[:port][/database]` (HTTP, port 8123), or the
    /// same with `http://` or `https://` (port 8443). The database defaults to `lantern`.
    pub fn from_url(url: &str) -> Result<ClickHouseConfig, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("{e}"))?;
        let (scheme, default_port) = match parsed.scheme() {
            "clickhouse" | "http" => ("http", 8123),
            "https" => ("https", 8443),
            other => return Err(format!("unknown scheme {other:?}")),
        };
        let host = parsed.host_str().ok_or("no host")?;
        let port = parsed.port().unwrap_or(default_port);
        let database = match parsed.path().trim_matches('/') {
            "" => "lantern",
            db => db,
        };
        if !identifier(database) {
            return Err(format!(
                "database name {database:?} is not letters, digits and '_'"
            ));
        }
        let decode =
            |s: &str| percent_decode(s).ok_or_else(|| "user or password is not UTF-8".to_string());
        let user = match parsed.username() {
            "" => None,
            u => Some(decode(u)?),
        };
        let password = parsed.password().map(decode).transpose()?;
        let host = match parsed.host() {
            Some(url::Host::Ipv6(a)) => format!("[{a}]"),
            _ => host.to_string(),
        };
        Ok(ClickHouseConfig {
            endpoint: format!("{scheme}://{host}:{port}"),
            database: database.to_string(),
            user,
            password,
            spool_dir: PathBuf::from("lantern-spool"),
            spool_max_bytes: 1 << 30,
        })
    }

    /// The store as shown in messages: no password.
    pub fn display(&self) -> String {
        let user = self
            .user
            .as_deref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        let (scheme, rest) = self.endpoint.split_once("://").unwrap_or(("http", ""));
        let scheme = if scheme == "http" {
            "clickhouse"
        } else {
            scheme
        };
        format!("{scheme}://{user}{rest}/{}", self.database)
    }

    /// A client for this store. Validation is off: 18.16 has neither
    /// `RowBinaryWithNamesAndTypes` nor the settings the crate's checks use.
    pub fn client(&self) -> Client {
        let mut client = Client::default()
            .with_url(&self.endpoint)
            .with_database(&self.database)
            .with_validation(false);
        if let Some(user) = &self.user {
            client = client.with_user(user);
        }
        if let Some(password) = &self.password {
            client = client.with_password(password);
        }
        client
    }
}

fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// How the sender is doing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClickHouseStats {
    /// The spool.
    pub spool: SpoolStats,
    /// Batches inserted by this run.
    pub batches_sent: u64,
    /// Rows inserted by this run.
    pub rows_sent: u64,
    /// Inserts a retry found already there.
    pub already_there: u64,
    /// Failed attempts.
    pub failures: u64,
}

/// Queries to a ClickHouse store: what reports, `pseudonym reveal` and a replay's check for
/// files already ingested ask, and `store prune`. Opens no spool.
pub struct ClickHouseReader {
    config: ClickHouseConfig,
    client: Client,
    runtime: tokio::runtime::Runtime,
    /// The store's schema was found current, or brought up to date, by [`Self::current`].
    current: AtomicBool,
}

impl std::fmt::Debug for ClickHouseReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseReader")
            .field("store", &self.config.display())
            .finish_non_exhaustive()
    }
}

/// Evidence and rollups in ClickHouse, through a spool.
pub struct ClickHouseStore {
    reader: ClickHouseReader,
    sensor: String,
    shared: Arc<Shared>,
    sender: Option<JoinHandle<()>>,
    /// Files started by this run, to write their final row.
    files: HashMap<i64, FileRow>,
}

impl std::fmt::Debug for ClickHouseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseStore")
            .field("store", &self.reader.config.display())
            .finish_non_exhaustive()
    }
}

/// A random non-zero id: batch ids (low 20 bits left for the month) and file ids.
fn random_u64() -> u64 {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    // The system's random source failing is not something a sensor can work around; a clock
    // based id is still unique enough per sensor.
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        return Timestamp::now().0.unsigned_abs();
    }
    u64::from_le_bytes(bytes) | 1 << 20
}

impl ClickHouseReader {
    /// A client for the store; does not connect until asked something.
    pub fn open(config: ClickHouseConfig) -> Result<ClickHouseReader, StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError {
                place: config.display(),
                source: StoreFault::Spool(e),
            })?;
        Ok(ClickHouseReader {
            client: config.client(),
            config,
            runtime,
            current: AtomicBool::new(false),
        })
    }

    /// The store as shown in messages.
    pub fn display(&self) -> String {
        self.config.display()
    }

    fn fail(&self, source: StoreFault) -> StoreError {
        StoreError {
            place: self.config.display(),
            source,
        }
    }

    fn ask<T>(
        &self,
        what: impl std::future::Future<Output = clickhouse::error::Result<T>>,
    ) -> Result<T, StoreError> {
        self.runtime
            .block_on(what)
            .map_err(|e| self.fail(StoreFault::ClickHouse(e)))
    }

    /// Prunes rows older than `cutoffs` (with `dry_run`, counts them), waits for the server
    /// to apply the deletes, then prunes the seals no row names. Asks the server.
    pub fn prune(&self, cutoffs: &Cutoffs, dry_run: bool) -> Result<Pruned, StoreError> {
        self.runtime
            .block_on(prune::prune(
                &self.client,
                &self.config.database,
                cutoffs,
                dry_run,
                true,
            ))
            .map_err(|e| self.fail(StoreFault::Unreachable(e)))
    }

    /// Brings the store's schema up to date, as a sensor's first send would, the first time
    /// only: a read of a table this lantern added (`notices`) may come before that send. Asks
    /// the server.
    pub fn current(&self) -> Result<(), StoreError> {
        if self.current.load(Ordering::Acquire) {
            return Ok(());
        }
        let database = &self.config.database;
        let ensured = self.runtime.block_on(sender::ensure_schema(
            &self.client,
            database,
            None,
            Create::WhenOlder,
        ));
        ensured.map_err(|e| match e {
            sender::SchemaFailure::Newer(v) => self.fail(StoreFault::Newer(v)),
            sender::SchemaFailure::Failed(e) => self.fail(StoreFault::Unreachable(e)),
        })?;
        self.current.store(true, Ordering::Release);
        Ok(())
    }

    /// The files of `size` bytes whose quick key is `quick_key`, or that have none, each as its
    /// latest row says. Asks the server.
    pub fn files_matching(
        &self,
        size: u64,
        quick_key: &str,
    ) -> Result<Vec<MatchingFile>, StoreError> {
        #[derive(clickhouse::Row, serde::Deserialize)]
        struct Found {
            id: i64,
            sensor: String,
            path: String,
            ingested_at: String,
            complete: u8,
            sha256: String,
        }
        let query = self
            .client
            .query(
                "SELECT id, argMax(sensor, version), argMax(path, version),
                    argMax(ingested_at, version), argMax(complete, version),
                    argMax(sha256, version)
                 FROM files WHERE size = ? AND quick_key IN (?, '') GROUP BY id ORDER BY id",
            )
            .bind(size)
            .bind(quick_key);
        let found = self.runtime.block_on(async {
            sender::ensure_schema(&self.client, &self.config.database, None, Create::WhenOlder)
                .await
                .map_err(|e| e.to_string())?;
            query.fetch_all::<Found>().await.map_err(|e| e.to_string())
        });
        let found = found.map_err(|e| {
            self.fail(StoreFault::Unreachable(format!(
                "{e}: cannot check whether the file was ingested before (--force replays without checking)"
            )))
        })?;
        Ok(found
            .into_iter()
            .map(|f| MatchingFile {
                file: IngestedFile {
                    id: f.id,
                    sensor: f.sensor,
                    path: f.path,
                    ingested_at: f.ingested_at,
                    complete: f.complete != 0,
                },
                sha256: f.sha256,
            })
            .collect())
    }

    /// The sealed name of a pseudonym token, if the store holds it. Asks the server.
    pub fn sealed(&self, token: &str) -> Result<Option<Vec<u8>>, StoreError> {
        #[derive(clickhouse::Row, serde::Deserialize)]
        struct Sealed {
            #[serde(with = "serde_bytes")]
            sealed: Vec<u8>,
        }
        let found = self.ask(
            self.client
                .query("SELECT sealed FROM pseudonyms WHERE token = ? LIMIT 1")
                .bind(token)
                .fetch_optional::<Sealed>(),
        )?;
        Ok(found.map(|s| s.sealed))
    }

    /// The rows of a query (see [`store::read`](crate::store::read)). Asks the server.
    pub fn read<R: ReadRow>(&self, query: Query) -> Result<Vec<R>, StoreError> {
        let mut q = self.client.query(&query.sql);
        for param in query.params {
            q = match param {
                Param::Int(v) => q.bind(v),
                Param::Text(v) => q.bind(v),
            };
        }
        self.ask(q.fetch_all::<R>())
    }
}

impl ClickHouseStore {
    /// The store's queries.
    pub fn reader(&self) -> &ClickHouseReader {
        &self.reader
    }

    /// The store as shown in messages.
    pub fn display(&self) -> String {
        self.reader.config.display()
    }

    fn fail(&self, source: StoreFault) -> StoreError {
        self.reader.fail(source)
    }

    /// Opens the spool and starts the sender. Does not wait for the server: a sensor starts
    /// while ClickHouse is down and catches up when it is back.
    pub fn open(config: ClickHouseConfig, sensor: &str) -> Result<ClickHouseStore, StoreError> {
        let place = config.display();
        let fail = |source: StoreFault| StoreError {
            place: place.clone(),
            source,
        };
        let spool = Spool::open(&config.spool_dir, config.spool_max_bytes)
            .map_err(|e| fail(StoreFault::Spool(e)))?;
        let shared = Arc::new(Shared {
            spool,
            stats: SenderStats::default(),
            closing: Default::default(),
            retention: Default::default(),
        });
        let sender = {
            // Through a Distributed table, an insert returns once every shard has its rows, so a
            // retry's count sees them.
            let client = config.client().with_setting("insert_distributed_sync", "1");
            let shared = Arc::clone(&shared);
            let (database, target) = (config.database.clone(), place.clone());
            std::thread::Builder::new()
                .name("clickhouse".into())
                .spawn(move || sender::run(shared, client, database, target))
                .map_err(|e| fail(StoreFault::Spool(e)))?
        };
        Ok(ClickHouseStore {
            reader: ClickHouseReader::open(config)?,
            sensor: sensor.to_string(),
            shared,
            sender: Some(sender),
            files: HashMap::new(),
        })
    }

    /// Has the sender prune the store to `retention` once an hour, between sends.
    pub fn set_retention(&self, retention: Retention) {
        *self
            .shared
            .retention
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = (!retention.keeps_all()).then_some(retention);
    }

    fn push(&self, entry: &Entry) -> Result<(), StoreError> {
        if entry.is_empty() {
            return Ok(());
        }
        let dropped = self
            .shared
            .spool
            .push(entry)
            .map_err(|e| self.fail(StoreFault::Spool(e)))?;
        if dropped > 0 {
            let stats = self.shared.spool.stats();
            eprintln!(
                "lantern: {}: spool {} is over its bound of {} bytes: dropped the oldest {dropped} batch(es) ({} dropped so far)",
                self.display(),
                self.shared.spool.dir().display(),
                self.reader.config.spool_max_bytes,
                stats.dropped_batches
            );
        }
        Ok(())
    }

    /// Puts a batch in the spool for the sender. Rows get their batch id: one per table and
    /// month, so each insert is one partition.
    pub fn write(&mut self, mut batch: Batch) -> Result<(), StoreError> {
        batch.stamp(&self.sensor);
        let base = random_u64() & !0xF_FFFF;
        let id = |ts_us: i64| base | u64::from(schema::month(ts_us) & 0xF_FFFF);
        for row in &mut batch.flows {
            row.batch_id = id(row.ts_us);
        }
        for row in &mut batch.dns {
            row.batch_id = id(row.ts_us);
        }
        for row in &mut batch.rollups {
            row.batch_id = id(row.hour * 1_000_000);
        }
        for row in &mut batch.coverage {
            row.batch_id = id(row.hour * 1_000_000);
        }
        for row in &mut batch.notices {
            row.batch_id = id(row.ts_us);
        }
        let Batch {
            flows,
            dns,
            rollups,
            coverage,
            pseudonyms,
            health,
            notices,
        } = batch;
        self.push(&Entry {
            flows,
            dns,
            rollups,
            pseudonyms,
            files: Vec::new(),
            health,
            coverage,
            notices,
        })
    }

    /// Records that a file is being ingested (through the spool, like every write).
    pub fn start_file(&mut self, file: &NewFile, now: Timestamp) -> Result<i64, StoreError> {
        let id = (random_u64() >> 1) as i64;
        let row = FileRow {
            id,
            sensor: self.sensor.clone(),
            path: file.path.clone(),
            size: file.size,
            sha256: file.sha256.clone(),
            quick_key: file.quick_key.clone(),
            ingested_at: Rfc3339(now).to_string(),
            version: 1,
            ..FileRow::default()
        };
        self.push(&Entry {
            files: vec![row.clone()],
            ..Entry::default()
        })?;
        self.files.insert(id, row);
        Ok(id)
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
        let Some(mut row) = self.files.remove(&id) else {
            return Ok(());
        };
        if let Some(sha256) = sha256 {
            row.sha256 = sha256.to_string();
        }
        row.packets = packets;
        row.first_ts_us = span.map(|s| us(s.0));
        row.last_ts_us = span.map(|s| us(s.1));
        row.complete = u8::from(error.is_none());
        row.error = error.map(str::to_string);
        row.version = 2;
        self.push(&Entry {
            files: vec![row],
            ..Entry::default()
        })
    }

    /// How sending goes.
    pub fn stats(&self) -> ClickHouseStats {
        let s = &self.shared.stats;
        ClickHouseStats {
            spool: self.shared.spool.stats(),
            batches_sent: s.batches.load(Ordering::Relaxed),
            rows_sent: s.rows.load(Ordering::Relaxed),
            already_there: s.already_there.load(Ordering::Relaxed),
            failures: s.failures.load(Ordering::Relaxed),
        }
    }

    /// Sends what the spool holds, stopping when it is empty or at the first failure, and
    /// stops the sender. What is left stays in the spool for the next run.
    pub fn close(&mut self) -> ClickHouseStats {
        self.shared.closing.store(true, Ordering::Release);
        self.shared.spool.wake();
        if let Some(sender) = self.sender.take() {
            let _ = sender.join();
        }
        self.stats()
    }
}

impl Drop for ClickHouseStore {
    fn drop(&mut self) {
        self.close();
    }
}

/// Creates lantern's tables in the store's database (on every node of `cluster`, replicated
/// and behind `Distributed` tables, if given), or migrates older ones. Idempotent.
pub fn init(config: &ClickHouseConfig, cluster: Option<&str>) -> Result<(), StoreError> {
    let fail = |source: StoreFault| StoreError {
        place: config.display(),
        source,
    };
    if let Some(c) = cluster
        && !identifier(c)
    {
        return Err(fail(StoreFault::Config(format!(
            "cluster name {c:?} is not letters, digits and '_'"
        ))));
    }
    // The database may not exist yet: connect without it.
    let client = ClickHouseConfig {
        database: "default".into(),
        ..config.clone()
    }
    .client();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(StoreFault::Spool(e)))?;
    runtime.block_on(async {
        sender::ensure_schema(&client, &config.database, cluster, Create::Always)
            .await
            .map_err(|e| match e {
                sender::SchemaFailure::Newer(v) => fail(StoreFault::Newer(v)),
                sender::SchemaFailure::Failed(e) => fail(StoreFault::Unreachable(e)),
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls_give_endpoint_database_and_login() {
        let c = ClickHouseConfig::from_url("clickhouse://ch.example:9123/sites").unwrap();
        assert_eq!(
            (c.endpoint.as_str(), c.database.as_str()),
            ("http://ch.example:9123", "sites")
        );
        assert_eq!((c.user, c.password), (None, None));
        let c = ClickHouseConfig::from_url("https://lantern:p%40ss%3Aw@[::1]/").unwrap();
        assert_eq!(c.endpoint, "https://[::1]:8443");
        assert_eq!(c.database, "lantern");
        assert_eq!(
            (c.user.as_deref(), c.password.as_deref()),
            (Some("lantern"), Some("p@ss:w"))
        );
        assert_eq!(c.display(), "https://lantern@[::1]:8443/lantern");
        let c = ClickHouseConfig::from_url("http://10.0.0.5").unwrap();
        assert_eq!(c.display(), "clickhouse://10.0.0.5:8123/lantern");
        for (bad, why) in [
            ("clickhouse://h/db;DROP", "is not letters"),
            ("ftp://h/db", "unknown scheme"),
            ("clickhouse:///db", "no host"),
        ] {
            let e = ClickHouseConfig::from_url(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert!(is_url("clickhouse://x") && is_url("https://x") && !is_url("lantern.db"));
    }
}
