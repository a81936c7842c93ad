//! The ClickHouse tables: the SQLite store's logical tables, in SQL that ClickHouse 18.16
//! (Debian 12) and current releases both accept (no `LowCardinality`, which 18.16 calls
//! experimental; no `Bool`, `DateTime64`, TTL or server-side parameters).
//!
//! - `flows`, `dns`: evidence, `MergeTree` partitioned by month, ordered by time then sensor (a
//!   report reads a time range of every sensor).
//! - `rollups_in` takes each batch's rollups as sent (with the batch id, so a retried insert can
//!   tell whether it landed); the materialized view `rollups_mv` adds them into `rollups_hourly`,
//!   a `SummingMergeTree` keyed by sensor, hour, user and app (and, as in SQLite, how the user was
//!   known, the kind and the device), whose first and last seen are `min`/`max` states.
//! - `files` (`ReplacingMergeTree` by version) and `pseudonyms` (`ReplacingMergeTree`).
//!
//! With `--cluster NAME` each table is `ReplicatedMergeTree`-backed `*_local` on every node
//! (`ON CLUSTER`), with a `Distributed` table of the plain name over them: sensors insert into and
//! reports read from the plain names either way.

/// A month partition of a time column in microseconds, in UTC.
fn month_of(column: &str) -> String {
    format!("toYYYYMM(toDateTime(intDiv({column}, 1000000), 'UTC'))")
}

/// One table: its columns, engine (without the replicated prefix) and clauses.
struct Table {
    name: &'static str,
    columns: &'static str,
    /// `MergeTree`, `SummingMergeTree`, `ReplacingMergeTree(version)`...
    engine: &'static str,
    clauses: String,
    /// The `Distributed` sharding key. Evidence goes by batch id, so each insert (one batch id)
    /// lands whole on one shard and a retry's count of that id is exact; `files` and
    /// `pseudonyms` by their key, so that the rows a `FINAL` collapses meet on one shard.
    shard_by: &'static str,
}

const FLOW_COLUMNS: &str = "sensor String, ts_us Int64, end_ts_us Int64, flow_id UInt64,
    client_ip String, client_port UInt16, server_ip String, server_port UInt16,
    transport String, protocol String, server_name Nullable(String), name_source String,
    user String, user_source String, user_kind String, device Nullable(String),
    user_group Nullable(String), app_id Nullable(String), app_pattern Nullable(String),
    candidate UInt8, bytes_up UInt64, bytes_down UInt64, packets_up UInt64, packets_down UInt64,
    tls_version Nullable(String), tls_alpn Nullable(String), ja4 Nullable(String),
    ech Nullable(UInt8), batch_id UInt64";

const DNS_COLUMNS: &str = "sensor String, ts_us Int64, flow_id UInt64, client_ip String,
    client_port UInt16, server_ip String, server_port UInt16, transport String, query String,
    qtype String, rcode Nullable(String), answers String, user String, user_source String,
    user_kind String, device Nullable(String), user_group Nullable(String),
    app_id Nullable(String), app_pattern Nullable(String), candidate UInt8, batch_id UInt64";

const ROLLUP_KEY: &str = "sensor String, hour Int64, user String, app_id String,
    user_source String, user_kind String, device String, user_group String, flows UInt64,
    dns_lookups UInt64, bytes_up UInt64, bytes_down UInt64";

const ROLLUP_ORDER: &str =
    "(sensor, hour, user, app_id, user_source, user_kind, device, user_group)";

const FILE_COLUMNS: &str = "id Int64, sensor String, path String, size UInt64, sha256 String,
    packets UInt64, first_ts_us Nullable(Int64), last_ts_us Nullable(Int64), complete UInt8,
    error Nullable(String), ingested_at String, version UInt64";

fn tables() -> [Table; 6] {
    [
        Table {
            name: "flows",
            columns: FLOW_COLUMNS,
            engine: "MergeTree",
            clauses: format!(
                "PARTITION BY {} ORDER BY (ts_us, sensor)",
                month_of("ts_us")
            ),
            shard_by: "batch_id",
        },
        Table {
            name: "dns",
            columns: DNS_COLUMNS,
            engine: "MergeTree",
            clauses: format!(
                "PARTITION BY {} ORDER BY (ts_us, sensor)",
                month_of("ts_us")
            ),
            shard_by: "batch_id",
        },
        Table {
            name: "rollups_in",
            columns: "sensor String, hour Int64, user String, app_id String,
                user_source String, user_kind String, device String, user_group String,
                flows UInt64, dns_lookups UInt64, bytes_up UInt64, bytes_down UInt64,
                first_seen_us Int64, last_seen_us Int64, batch_id UInt64",
            engine: "MergeTree",
            clauses: format!(
                "PARTITION BY {} ORDER BY (hour, sensor)",
                month_of("hour * 1000000")
            ),
            shard_by: "batch_id",
        },
        Table {
            name: "rollups_hourly",
            columns: "",
            engine: "SummingMergeTree",
            clauses: format!(
                "PARTITION BY {} ORDER BY {ROLLUP_ORDER}",
                month_of("hour * 1000000")
            ),
            // Written by the view on each node, never through the Distributed table; a report
            // sums across shards.
            shard_by: "rand()",
        },
        Table {
            name: "files",
            columns: FILE_COLUMNS,
            engine: "ReplacingMergeTree(version)",
            clauses: "ORDER BY (sha256, id)".into(),
            shard_by: "cityHash64(id)",
        },
        Table {
            name: "pseudonyms",
            columns: "token String, sealed String",
            engine: "ReplacingMergeTree",
            clauses: "ORDER BY token".into(),
            shard_by: "cityHash64(token)",
        },
    ]
}

/// The columns of `rollups_hourly`: the key and sums, and first/last seen as aggregate states.
///
/// `batches` keeps the ids of the batches a row holds: the view's write into `rollups_hourly`
/// is not atomic with the insert into `rollups_in`, so a retry checks both (at most one id per
/// batch that touched the hour, user and app).
fn rollup_hourly_columns() -> String {
    format!(
        "{ROLLUP_KEY}, first_seen_us AggregateFunction(min, Int64),
        last_seen_us AggregateFunction(max, Int64), batches AggregateFunction(groupUniqArray, UInt64)"
    )
}

/// What `rollups_hourly` gets for rows of `rollups_in` (`source`) matching `filter`: the
/// view's query, and the repair's when the view's write was lost.
pub fn rollup_select(source: &str, filter: &str) -> String {
    format!(
        "SELECT sensor, hour, user, app_id, user_source, user_kind, device, user_group,
            sum(flows) AS flows,
            sum(dns_lookups) AS dns_lookups, sum(bytes_up) AS bytes_up,
            sum(bytes_down) AS bytes_down, minState(first_seen_us) AS first_seen_us,
            maxState(last_seen_us) AS last_seen_us, groupUniqArrayState(batch_id) AS batches
         FROM {source} {filter}
         GROUP BY sensor, hour, user, app_id, user_source, user_kind, device, user_group"
    )
}

/// The statements that create lantern's tables in `database`, each idempotent
/// (`IF NOT EXISTS`), in the order to run them. With a cluster, the tables are replicated on
/// every node and read and written through `Distributed` tables.
pub fn statements(database: &str, cluster: Option<&str>) -> Vec<String> {
    let on_cluster = cluster
        .map(|c| format!(" ON CLUSTER `{c}`"))
        .unwrap_or_default();
    let mut out = vec![format!(
        "CREATE DATABASE IF NOT EXISTS `{database}`{on_cluster}"
    )];
    for table in tables() {
        let columns = if table.name == "rollups_hourly" {
            rollup_hourly_columns()
        } else {
            table.columns.to_string()
        };
        let local = match cluster {
            None => table.name.to_string(),
            Some(_) => format!("{}_local", table.name),
        };
        let engine = match cluster {
            None => table.engine.to_string(),
            Some(_) => replicated(table.engine, database, &local),
        };
        out.push(format!(
            "CREATE TABLE IF NOT EXISTS `{database}`.{local}{on_cluster} ({columns}) ENGINE = {engine} {}",
            table.clauses
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_gets_replicated_local_tables_and_distributed_ones_over_them() {
        let single = statements("lantern", None);
        assert_eq!(single.len(), 8);
        assert!(single.iter().all(|s| !s.contains("ON CLUSTER")));
        let clustered = statements("lantern", Some("sites"));
        assert_eq!(clustered.len(), 14);
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
