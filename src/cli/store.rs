//! Which store a command uses (`--store PATH|URL` and ClickHouse's login and spool), and
//! `lantern store init|sync`.

use super::Failure;
use clap::{Args, Subcommand};
use lantern::store::{
    ClickHouseConfig, ClickHouseReader, ClickHouseStats, ClickHouseStore, Pruned, Retention,
    SqliteStore, Store, retention,
};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Where the store is, for every command that reads or writes one.
#[derive(Clone, Debug, Args)]
pub struct StoreArgs {
    /// The store: a SQLite file, or ClickHouse as clickhouse://[USER[:PASSWORD]@]HOST[:PORT]/DB
    /// (HTTP, port 8123), http://... or https://... (port 8443).
    #[arg(
        long,
        value_name = "PATH|URL",
        env = "LANTERN_STORE",
        default_value = "lantern.db"
    )]
    pub store: String,
    /// ClickHouse user, when not in the URL.
    #[arg(long, value_name = "USER", env = "LANTERN_CLICKHOUSE_USER")]
    pub clickhouse_user: Option<String>,
    /// File whose first line is the ClickHouse password, when it is not in the URL or in
    /// LANTERN_CLICKHOUSE_PASSWORD.
    #[arg(long, value_name = "FILE", env = "LANTERN_CLICKHOUSE_PASSWORD_FILE")]
    pub clickhouse_password_file: Option<PathBuf>,
    /// Directory where batches wait for ClickHouse (sent in order, also by the next run).
    #[arg(long, value_name = "DIR", default_value = "lantern-spool")]
    pub spool: PathBuf,
    /// Most the spool holds; past it the oldest batches are dropped and counted.
    #[arg(long, value_name = "MIB", default_value_t = 1024)]
    pub spool_max_mib: u64,
}

/// How long the store keeps what (`lantern capture` prunes to it; `lantern store prune`).
#[derive(Clone, Debug, Args)]
pub struct RetentionArgs {
    /// Days the store keeps flow and DNS evidence, the per-person rows (0: forever).
    #[arg(long, value_name = "DAYS", default_value_t = retention::DEFAULT_EVIDENCE_DAYS)]
    pub retention_days: u32,
    /// Days the store keeps hourly rollups and sensor health (0: forever); at least
    /// --retention-days.
    #[arg(long, value_name = "DAYS", default_value_t = retention::DEFAULT_ROLLUP_DAYS)]
    pub rollup_retention_days: u32,
}

impl RetentionArgs {
    /// The retention, checked: rollups are kept at least as long as the evidence they sum.
    pub fn retention(&self) -> Result<Retention, Failure> {
        let (evidence, rollups) = (self.retention_days, self.rollup_retention_days);
        if rollups != 0 && (evidence == 0 || rollups < evidence) {
            return Err(Failure(format!(
                "--rollup-retention-days {rollups} is shorter than --retention-days {}: rollups \
                 sum the evidence and are kept at least as long (0 keeps them forever)",
                if evidence == 0 {
                    "0 (forever)".to_string()
                } else {
                    evidence.to_string()
                }
            )));
        }
        Ok(Retention {
            evidence_days: evidence,
            rollup_days: rollups,
        })
    }
}

/// The password from the environment (never a flag: flags show in `ps`).
const PASSWORD_ENV: &str = "LANTERN_CLICKHOUSE_PASSWORD";

impl StoreArgs {
    /// The ClickHouse settings, if `--store` is a URL: login from the URL, else the
    /// environment, else the password file.
    pub fn clickhouse(&self) -> Result<Option<ClickHouseConfig>, Failure> {
        if !lantern::store::clickhouse::is_url(&self.store) {
            return Ok(None);
        }
        let mut config = ClickHouseConfig::from_url(&self.store)
            .map_err(|e| Failure(format!("--store {}: {e}", redacted(&self.store))))?;
        if config.user.is_none() {
            config.user = self.clickhouse_user.clone();
        }
        if config.password.is_none() {
            config.password = std::env::var(PASSWORD_ENV).ok();
        }
        if config.password.is_none()
            && let Some(file) = &self.clickhouse_password_file
        {
            let text = std::fs::read_to_string(file)
                .map_err(|e| Failure(format!("{}: {e}", file.display())))?;
            config.password = Some(text.lines().next().unwrap_or("").to_string());
        }
        config.spool_dir = self.spool.join(spool_name(&config));
        config.spool_max_bytes = self.spool_max_mib.saturating_mul(1 << 20);
        Ok(Some(config))
    }

    /// Opens the store, writing as `sensor`.
    pub fn open(&self, sensor: &str) -> Result<Store, Failure> {
        Ok(match self.clickhouse()? {
            Some(config) => Store::ClickHouse(Box::new(ClickHouseStore::open(config, sensor)?)),
            None => Store::Sqlite(SqliteStore::open(
                std::path::Path::new(&self.store),
                sensor,
            )?),
        })
    }
}

impl StoreArgs {
    /// Opens the store to read it: a SQLite file must exist; ClickHouse opens no spool.
    pub fn open_for_reading(&self) -> Result<Store, Failure> {
        match self.clickhouse()? {
            Some(config) => Ok(Store::ClickHouseReader(Box::new(ClickHouseReader::open(
                config,
            )?))),
            None if !std::path::Path::new(&self.store).exists() => {
                Err(Failure(format!("{}: no such store", self.store)))
            }
            None => Ok(Store::Sqlite(SqliteStore::open(
                std::path::Path::new(&self.store),
                "",
            )?)),
        }
    }
}

/// One spool per server and database, so that pointing a sensor elsewhere does not send old
/// batches to the new place.
fn spool_name(config: &ClickHouseConfig) -> String {
    let (_, rest) = config.endpoint.split_once("://").unwrap_or(("", ""));
    let name = format!("{rest}-{}", config.database);
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// A store URL without its password, for messages.
fn redacted(store: &str) -> String {
    match url::Url::parse(store) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => store.to_string(),
    }
}

/// Flags of `lantern store`.
#[derive(Debug, Args)]
pub struct StoreCommandArgs {
    #[command(subcommand)]
    command: StoreCommand,
}

#[derive(Debug, Subcommand)]
enum StoreCommand {
    /// Create the store's tables where they are missing (safe to run again).
    Init {
        #[command(flatten)]
        store: StoreArgs,
        /// ClickHouse cluster (from the servers' remote_servers): replicated tables on every
        /// node, Distributed tables over them.
        #[arg(long, value_name = "NAME")]
        cluster: Option<String>,
    },
    /// Remove what is older than the retention, now: evidence, rollups, sensor health and the
    /// seals of pseudonyms no row names. Prints what went from each table. A SQLite file made
    /// before pruning existed is switched to give the space back (one VACUUM).
    Prune {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        retention: RetentionArgs,
        /// Count what would go, remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Send what the ClickHouse spool holds, then exit (1 if some is left).
    Sync {
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Runs `lantern store`.
pub fn run(args: StoreCommandArgs) -> Result<ExitCode, Failure> {
    match args.command {
        StoreCommand::Init { store, cluster } => {
            match store.clickhouse()? {
                Some(config) => lantern::store::clickhouse::init(&config, cluster.as_deref())?,
                None if cluster.is_some() => {
                    return Err(Failure("--cluster is for a ClickHouse store".into()));
                }
                None => drop(store.open("")?),
            }
            println!("{}: tables ready", display(&store)?);
            Ok(ExitCode::SUCCESS)
        }
        StoreCommand::Prune {
            store,
            retention,
            dry_run,
        } => prune(&store, &retention.retention()?, dry_run),
        StoreCommand::Sync { store } => {
            let Some(config) = store.clickhouse()? else {
                return Err(Failure(
                    "store sync is for a ClickHouse store; SQLite is written in place".into(),
                ));
            };
            let place = config.display();
            let mut opened = ClickHouseStore::open(config, "")?;
            let stats = opened.close();
            let mut out = std::io::stdout().lock();
            writeln!(out, "{place}: {}", spool_line(&stats))?;
            Ok(if stats.spool.batches == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// Runs `lantern store prune`.
fn prune(args: &StoreArgs, retention: &Retention, dry_run: bool) -> Result<ExitCode, Failure> {
    let mut store = args.open_for_reading()?;
    let place = store.display();
    let mut out = std::io::stdout().lock();
    if !dry_run
        && let Some(sqlite) = store.sqlite_mut()
        && !sqlite.reclaims_space()?
    {
        let before = sqlite.file_bytes()?;
        sqlite.switch_to_incremental_vacuum()?;
        writeln!(
            out,
            "{place}: switched to incremental vacuum ({} MiB before, {} MiB after)",
            before >> 20,
            sqlite.file_bytes()? >> 20
        )?;
    }
    let cutoffs = retention.cutoffs(lantern::capture::Timestamp::now());
    let pruned = store.prune(&cutoffs, dry_run)?;
    writeln!(out, "{}", prune_line(&place, retention, &pruned, dry_run))?;
    if !pruned.done {
        writeln!(
            out,
            "{place}: the server has not applied every delete yet; seals of pseudonyms are left for the next prune"
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `STORE: removed N rows older than ... (flows a, dns b, ...)`.
fn prune_line(place: &str, retention: &Retention, pruned: &Pruned, dry_run: bool) -> String {
    let days = |d: u32| match d {
        0 => "forever".to_string(),
        d => format!("{d} days"),
    };
    let tables: Vec<String> = (pruned.tables.iter())
        .map(|(t, n)| format!("{t} {n}"))
        .collect();
    let mut line = format!(
        "{place}: {} {} rows (evidence kept {}, rollups {}): {}",
        if dry_run { "would remove" } else { "removed" },
        pruned.rows(),
        days(retention.evidence_days),
        days(retention.rollup_days),
        tables.join(", ")
    );
    if pruned.pages_freed > 0 {
        line += &format!("; {} pages freed", pruned.pages_freed);
    }
    line
}

fn display(store: &StoreArgs) -> Result<String, Failure> {
    Ok(match store.clickhouse()? {
        Some(c) => c.display(),
        None => store.store.clone(),
    })
}

/// What the sender did and what waits: for the end of a run and `store sync`.
pub fn spool_line(stats: &ClickHouseStats) -> String {
    let mut line = format!(
        "{} batches ({} rows) sent",
        stats.batches_sent, stats.rows_sent
    );
    if stats.already_there > 0 {
        line += &format!(
            ", {} inserts found already there on retry",
            stats.already_there
        );
    }
    if stats.spool.batches > 0 {
        line += &format!(
            ", {} batches ({} bytes) left in the spool for the next run",
            stats.spool.batches, stats.spool.bytes
        );
    }
    if stats.spool.dropped_batches > 0 {
        line += &format!(
            ", {} batches dropped when the spool was full",
            stats.spool.dropped_batches
        );
    }
    line
}
