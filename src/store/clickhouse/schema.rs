//! The ClickHouse tables: the declared tables of [`tables`](crate::store::tables), in SQL
//! that ClickHouse 18.16 (Debian 12) and current releases both accept (no `LowCardinality`,
//! which 18.16 calls experimental; no `Bool`, `DateTime64`, TTL or server-side parameters).
//! The columns are the declarations'; their engines, partitions, keys and sharding are here.
//!
//! - `flows`, `dns`: evidence, `MergeTree` partitioned by month, ordered by time then sensor (a
//!   report reads a time range of every sensor).
//! - `rollups_in` takes each batch's rollups as sent (with the batch id, so a retried insert can
//!   tell whether it landed); the materialized view `rollups_mv` adds them into `rollups_hourly`,
//!   a `SummingMergeTree` keyed by the rollup key, whose first and last seen are `min`/`max`
//!   states.
//! - `coverage_hourly`: `MergeTree` as written, each write's counts with its batch id, summed
//!   by a report's read (a sensor writes a few rows an hour).
//! - `notices`: `ReplacingMergeTree` ordered by the notice key (kind, day, user, subject), not
//!   partitioned (rows of one key from different months must meet to collapse), sharded by the
//!   key so that they meet on one shard: sensors that raise the same notice leave one row once
//!   merged, and a read of whether a key was raised counts its rows, merged or not.
//! - `files` (`ReplacingMergeTree` by version) and `pseudonyms` (`ReplacingMergeTree`).
//! - `sensor_health`: each sensor's latest state (`ReplacingMergeTree` by its time, one row per
//!   sensor once merged; read whole, the reader keeping each sensor's latest, as parts not
//!   merged yet may hold older rows).
//! - `schema_version`: one row per migration run, the store's version its greatest. A store
//!   with lantern's tables and no `schema_version` was made by a release before version 5.
//!
//! With `--cluster NAME` each table is `ReplicatedMergeTree`-backed `*_local` on every node
//! (`ON CLUSTER`), with a `Distributed` table of the plain name over them: sensors insert into and
//! reports read from the plain names either way. A migration adds a column to the local and
//! the Distributed tables alike, on every node.

use crate::store::schema::{Column, Role, SCHEMA_VERSION, Table, names};
use crate::store::{
    CoverageRow, DnsRow, FileRow, FlowRow, HealthRow, NoticeRow, PseudonymRow, RollupRow,
};

/// A month partition of a time in microseconds (a column, or SQL), in UTC.
pub fn month_of(column: &str) -> String {
    format!("toYYYYMM(toDateTime(intDiv({column}, 1000000), 'UTC'))")
}

/// One ClickHouse table as created: its columns, engine (without the replicated prefix),
/// partition and order.
struct ClickHouseTable {
    name: &'static str,
    columns: String,
    /// `MergeTree`, `SummingMergeTree`, `ReplacingMergeTree(version)`...
    engine: &'static str,
    /// The time (in microseconds, as SQL) whose month partitions it, if it is partitioned.
    by_month: Option<&'static str>,
    /// Its `ORDER BY`.
    order_by: String,
    /// The `Distributed` sharding key. Evidence goes by batch id, so each insert (one batch id)
    /// lands whole on one shard and a retry's count of that id is exact; `files`, `pseudonyms`
    /// and `notices` by their key, so that the rows a `FINAL` collapses meet on one shard.
    shard_by: &'static str,
}

/// The declared tables, by the name rows are inserted into, and the columns a migration
/// may add to them.
pub const DECLARED: [(&str, Table); 8] = [
    ("flows", FlowRow::TABLE),
    ("dns", DnsRow::TABLE),
    ("rollups_in", RollupRow::TABLE),
    ("coverage_hourly", CoverageRow::TABLE),
    ("notices", NoticeRow::TABLE),
    ("files", FileRow::TABLE),
    ("pseudonyms", PseudonymRow::TABLE),
    ("sensor_health", HealthRow::TABLE),
];

impl ClickHouseTable {
    /// Its `PARTITION BY` and `ORDER BY`.
    fn clauses(&self) -> String {
        match self.by_month {
            Some(time) => format!("PARTITION BY {} ORDER BY {}", month_of(time), self.order_by),
            None => format!("ORDER BY {}", self.order_by),
        }
    }
}

/// Every table of the schema: the rows sent in batches, then those kept one per key.
fn tables() -> Vec<ClickHouseTable> {
    batched_tables().into_iter().chain(keyed_tables()).collect()
}

/// The evidence, rollups and coverage: the rows each batch sends, told apart by batch id.
fn batched_tables() -> [ClickHouseTable; 5] {
    [
        ClickHouseTable {
            name: "flows",
            columns: FlowRow::TABLE.clickhouse_columns(),
            engine: "MergeTree",
            by_month: Some("ts_us"),
            order_by: "(ts_us, sensor)".into(),
            shard_by: "batch_id",
        },
        ClickHouseTable {
            name: "dns",
            columns: DnsRow::TABLE.clickhouse_columns(),
            engine: "MergeTree",
            by_month: Some("ts_us"),
            order_by: "(ts_us, sensor)".into(),
            shard_by: "batch_id",
        },
        ClickHouseTable {
            name: "rollups_in",
            columns: RollupRow::TABLE.clickhouse_columns(),
            engine: "MergeTree",
            by_month: Some("hour * 1000000"),
            order_by: "(hour, sensor)".into(),
            shard_by: "batch_id",
        },
        ClickHouseTable {
            name: "rollups_hourly",
            columns: rollup_hourly_columns(),
            engine: "SummingMergeTree",
            by_month: Some("hour * 1000000"),
            order_by: format!("({})", names(rollup_key())),
            // Written by the view on each node, never through the Distributed table; a report
            // sums across shards.
            shard_by: "rand()",
        },
        // Few rows (a sensor's write adds one per hour and key it counted): kept as written,
        // its batch id telling whether a retried insert landed, and summed when read.
        ClickHouseTable {
            name: "coverage_hourly",
            columns: CoverageRow::TABLE.clickhouse_columns(),
            engine: "MergeTree",
            by_month: Some("hour * 1000000"),
            order_by: "(hour, sensor)".into(),
            shard_by: "batch_id",
        },
    ]
}

/// The tables of one row per key once merged (`ReplacingMergeTree`), and the schema's version.
fn keyed_tables() -> [ClickHouseTable; 5] {
    [
        // One row per key once merged; not partitioned, so that rows of one key written in
        // different months (a once-ever key raised again by another sensor) still collapse.
        ClickHouseTable {
            name: "notices",
            columns: NoticeRow::TABLE.clickhouse_columns(),
            engine: "ReplacingMergeTree",
            by_month: None,
            order_by: "(kind, day, user, subject)".into(),
            shard_by: "cityHash64(kind, day, user, subject)",
        },
        ClickHouseTable {
            name: "files",
            columns: FileRow::TABLE.clickhouse_columns(),
            engine: "ReplacingMergeTree(version)",
            by_month: None,
            order_by: "(sha256, id)".into(),
            shard_by: "cityHash64(id)",
        },
        ClickHouseTable {
            name: "pseudonyms",
            columns: PseudonymRow::TABLE.clickhouse_columns(),
            engine: "ReplacingMergeTree",
            by_month: None,
            order_by: "token".into(),
            shard_by: "cityHash64(token)",
        },
        ClickHouseTable {
            name: "sensor_health",
            columns: HealthRow::TABLE.clickhouse_columns(),
            engine: "ReplacingMergeTree(ts_us)",
            by_month: None,
            order_by: "sensor".into(),
            shard_by: "cityHash64(sensor)",
        },
        ClickHouseTable {
            name: "schema_version",
            columns: "version UInt32, applied_at String".into(),
            engine: "MergeTree",
            by_month: None,
            order_by: "version".into(),
            shard_by: "version",
        },
    ]
}

/// The tables that hold the rows of the declared `table`: the one they are inserted into, then
/// the declared name where that differs. Rollups go into `rollups_in`, which the view sums into
/// `rollups_hourly`: each batch's rows as sent, per user and hour like the rollups they add
/// to, and kept as long (a retried insert looks its batch id up there).
pub fn holding(table: &Table) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = (DECLARED.iter())
        .filter(|(_, t)| t.name == table.name)
        .map(|(name, _)| *name)
        .collect();
    if !names.contains(&table.name) {
        names.push(table.name);
    }
    names
}

/// The time (in microseconds, as SQL) whose month partitions `table`, if it is partitioned by
/// month.
pub fn month_partition(table: &str) -> Option<&'static str> {
    (tables().into_iter())
        .find(|t| t.name == table)
        .and_then(|t| t.by_month)
}

fn rollup_key() -> impl Iterator<Item = &'static Column> {
    RollupRow::TABLE.keys()
}

/// The rollup columns with `role`.
fn rollup_columns(role: Role) -> impl Iterator<Item = &'static Column> {
    (RollupRow::TABLE.columns.iter()).filter(move |c| c.opts.role == role)
}

/// The columns of `rollups_hourly`: the key and sums, first/last seen as aggregate states.
///
/// `batches` keeps the ids of the batches a row holds: the view's write into `rollups_hourly`
/// is not atomic with the insert into `rollups_in`, so a retry checks both (at most one id per
/// batch that touched the hour, user and app).
fn rollup_hourly_columns() -> String {
    let mut parts: Vec<String> = (rollup_key().chain(rollup_columns(Role::Sum)))
        .map(Column::clickhouse_decl)
        .collect();
    for (role, f) in [(Role::Min, "min"), (Role::Max, "max")] {
        for c in rollup_columns(role) {
            parts.push(format!(
                "{} AggregateFunction({f}, {})",
                c.name, c.clickhouse_type
            ));
        }
    }
    parts.push("batches AggregateFunction(groupUniqArray, UInt64)".into());
    parts.join(", ")
}

/// The rollup key, sums and first/last seen, aggregated with `functions` (`("sum", "minState",
/// "maxState")` to add rows up, `("sum", "minMerge", "maxMerge")` to read them).
fn rollup_aggregates(sum: &str, min: &str, max: &str) -> String {
    let mut parts: Vec<String> = rollup_key().map(|c| c.name.to_string()).collect();
    for (role, f) in [(Role::Sum, sum), (Role::Min, min), (Role::Max, max)] {
        parts.extend(rollup_columns(role).map(|c| format!("{f}({0}) AS {0}", c.name)));
    }
    parts.join(", ")
}

/// What `rollups_hourly` gets for rows of `rollups_in` (`source`) matching `filter`: the
/// view's query, and the repair's when the view's write was lost.
pub fn rollup_select(source: &str, filter: &str) -> String {
    format!(
        "SELECT {}, groupUniqArrayState(batch_id) AS batches FROM {source} {filter} GROUP BY {}",
        rollup_aggregates("sum", "minState", "maxState"),
        names(rollup_key())
    )
}

/// The statements that create lantern's tables in `database`, each idempotent
/// (`IF NOT EXISTS`), in the order to run them. With a cluster, the tables are replicated on
/// every node and read and written through `Distributed` tables.
pub fn statements(database: &str, cluster: Option<&str>) -> Vec<String> {
    let on_cluster = on_cluster(cluster);
    let mut out = vec![format!(
        "CREATE DATABASE IF NOT EXISTS `{database}`{on_cluster}"
    )];
    for table in tables() {
        let local = local_name(table.name, cluster);
        let engine = match cluster {
            None => table.engine.to_string(),
            Some(_) => replicated(table.engine, database, &local),
        };
        out.push(format!(
            "CREATE TABLE IF NOT EXISTS `{database}`.{local}{on_cluster} ({}) ENGINE = {engine} {}",
            table.columns,
            table.clauses()
        ));
        if let Some(c) = cluster {
            out.push(format!(
                "CREATE TABLE IF NOT EXISTS `{database}`.{}{on_cluster} AS `{database}`.{local} \
                 ENGINE = Distributed(`{c}`, `{database}`, {local}, {})",
                table.name, table.shard_by
            ));
        }
    }
    // On a cluster the view runs on each node, over the rows that node's shard receives.
    let (source, target) = match cluster {
        None => ("rollups_in", "rollups_hourly"),
        Some(_) => ("rollups_in_local", "rollups_hourly_local"),
    };
    out.push(format!(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS `{database}`.rollups_mv{on_cluster} TO `{database}`.{target} AS {}",
        rollup_select(&format!("`{database}`.{source}"), "")
    ));
    out
}

fn on_cluster(cluster: Option<&str>) -> String {
    cluster
        .map(|c| format!(" ON CLUSTER `{c}`"))
        .unwrap_or_default()
}

/// The table that holds the rows: the plain name, or `*_local` on a cluster.
fn local_name(table: &str, cluster: Option<&str>) -> String {
    match cluster {
        None => table.to_string(),
        Some(_) => format!("{table}_local"),
    }
}

/// The statements that bring a store of version `from` to [`SCHEMA_VERSION`], given the
/// columns its tables have (`has(table, column)`), to run before [`statements`]: `ALTER TABLE
/// … ADD COLUMN` on the tables that hold rows (on a cluster the `*_local` ones, on every
/// node). A cluster's Distributed table that lacks a column is dropped on every node, for
/// [`statements`] to make again over the altered local table: 18.16 refuses `ALTER … ON
/// CLUSTER` of a Distributed table over replicated shards, and a Distributed table holds no
/// rows of its own (sensors insert synchronously). Columns a table already has are left out,
/// so a migration interrupted half way is finished by the next.
pub fn migrations(
    database: &str,
    cluster: Option<&str>,
    from: u32,
    has: impl Fn(&str, &str) -> bool,
) -> Vec<String> {
    let on_cluster = on_cluster(cluster);
    let mut out = Vec::new();
    for (name, table) in DECLARED {
        // A table newer than the store is made whole by `statements`.
        if table.since() > from {
            continue;
        }
        let added: Vec<&Column> = (from + 1..=SCHEMA_VERSION)
            .flat_map(|v| table.added_in(v))
            .collect();
        let local = local_name(name, cluster);
        for column in added.iter().filter(|c| !has(&local, c.name)) {
            out.push(format!(
                "ALTER TABLE `{database}`.{local}{on_cluster} ADD COLUMN {}",
                column.clickhouse_decl()
            ));
        }
        if cluster.is_some() && added.iter().any(|c| !has(name, c.name)) {
            out.push(format!(
                "DROP TABLE IF EXISTS `{database}`.{name}{on_cluster}"
            ));
        }
    }
    out
}

/// `SummingMergeTree` → `ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/db/t', '{replica}')`,
/// keeping the engine's own arguments after the replication ones.
fn replicated(engine: &str, database: &str, table: &str) -> String {
    let (name, args) = match engine.split_once('(') {
        Some((name, rest)) => (name, format!(", {}", rest.trim_end_matches(')'))),
        None => (engine, String::new()),
    };
    format!(
        "Replicated{name}('/clickhouse/tables/{{shard}}/{database}/{table}', '{{replica}}'{args})"
    )
}

/// The month (`YYYYMM`, UTC) of a time in microseconds: the tables' partition.
pub(crate) fn month(ts_us: i64) -> u32 {
    let secs = ts_us.div_euclid(1_000_000);
    let date = time::OffsetDateTime::from_unix_timestamp(secs)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .date();
    u32::try_from(date.year()).unwrap_or(0) * 100 + u32::from(u8::from(date.month()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_utc_and_out_of_range_times_do_not_panic() {
        assert_eq!(month(0), 197001);
        // 2026-11-30T23:59:59.999999Z and the next microsecond.
        assert_eq!(month(1_796_083_199_999_999), 202611);
        assert_eq!(month(1_796_083_200_000_000), 202612);
        assert_eq!(month(i64::MAX), 197001);
        assert_eq!(month(i64::MIN), 197001);
    }

    #[test]
    fn every_declared_table_is_held_and_partitioned_as_made() {
        for table in crate::store::tables::ALL {
            let held = holding(&table);
            assert!(
                held.iter().all(|h| tables().iter().any(|t| t.name == *h)),
                "{held:?}"
            );
        }
        assert_eq!(holding(&RollupRow::TABLE), ["rollups_in", "rollups_hourly"]);
        assert_eq!(holding(&FlowRow::TABLE), ["flows"]);
        assert_eq!(month_partition("rollups_in"), Some("hour * 1000000"));
        assert_eq!(month_partition("sensor_health"), None);
        assert_eq!(holding(&NoticeRow::TABLE), ["notices"]);
        assert_eq!(month_partition("notices"), None);
    }

    #[test]
    fn migrations_add_the_missing_columns_and_remake_distributed_tables() {
        let from_4 = migrations("db", Some("sites"), 4, |_, _| false);
        assert!(from_4.contains(
            &"ALTER TABLE `db`.flows_local ON CLUSTER `sites` ADD COLUMN ech_kind Nullable(String)"
                .to_string()
        ));
        assert!(from_4.contains(&"DROP TABLE IF EXISTS `db`.flows ON CLUSTER `sites`".to_string()));
        assert!(!from_4.iter().any(|s| s.contains("`db`.dns")), "{from_4:?}");
        // A table newer than the store is made whole by `statements`, not altered.
        assert!(!from_4.iter().any(|s| s.contains("notices")), "{from_4:?}");
        assert!(migrations("db", Some("sites"), 9, |_, _| false).is_empty());
        let half = migrations("db", None, 4, |t, c| t == "flows" && c == "ech_kind");
        assert_eq!(
            half[0],
            "ALTER TABLE `db`.flows ADD COLUMN name_alternatives Nullable(String)"
        );
        assert!(!half.iter().any(|s| s.contains("ech_kind")), "{half:?}");
        assert!(migrations("db", None, SCHEMA_VERSION, |_, _| false).is_empty());
    }

    #[test]
    fn a_cluster_gets_replicated_local_tables_and_distributed_ones_over_them() {
        let single = statements("lantern", None);
        assert_eq!(single.len(), 12);
        assert!(single.iter().all(|s| !s.contains("ON CLUSTER")));
        let clustered = statements("lantern", Some("sites"));
        assert_eq!(clustered.len(), 22);
        assert!(clustered.iter().all(|s| s.contains(" ON CLUSTER `sites`")));
        let hourly = clustered
            .iter()
            .find(|s| s.contains(".rollups_hourly_local ON"))
            .unwrap();
        assert!(
            hourly.contains(
                "ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/lantern/rollups_hourly_local', '{replica}')"
            ),
            "{hourly}"
        );
        let files = clustered
            .iter()
            .find(|s| s.contains(".files_local ON"))
            .unwrap();
        assert!(files.contains("'{replica}', version)"), "{files}");
        assert!(clustered.iter().any(|s| s.contains(
            "`lantern`.notices ON CLUSTER `sites` AS `lantern`.notices_local ENGINE = Distributed(`sites`, `lantern`, notices_local, cityHash64(kind, day, user, subject))"
        )));
        assert!(clustered.iter().any(|s| s.contains(
            "`lantern`.rollups_hourly ON CLUSTER `sites` AS `lantern`.rollups_hourly_local ENGINE = Distributed(`sites`, `lantern`, rollups_hourly_local, rand())"
        )));
        let view = clustered.last().unwrap();
        assert!(
            view.contains("TO `lantern`.rollups_hourly_local")
                && view.contains("FROM `lantern`.rollups_in_local"),
            "{view}"
        );
    }
}
