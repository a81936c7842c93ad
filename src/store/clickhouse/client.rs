//! One attempt at the server, as the sender and pruning both make it: the timeout an insert or
//! query gets ([`within`]), what a failed attempt is ([`FailedAttempt`]), and which cluster a
//! store is on ([`cluster_of`]), which both the schema's migrations and pruning need to alter
//! the right tables.

use clickhouse::Client;
use std::time::Duration;

/// Longest wait for one insert or query before the attempt counts as failed.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

/// A failed attempt.
pub(super) type FailedAttempt = String;

/// Runs `what`, failing when the server refuses or does not answer in [`ATTEMPT_TIMEOUT`].
pub(super) async fn within<T>(
    what: impl std::future::Future<Output = clickhouse::error::Result<T>>,
) -> Result<T, FailedAttempt> {
    match tokio::time::timeout(ATTEMPT_TIMEOUT, what).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer in {} s", ATTEMPT_TIMEOUT.as_secs())),
    }
}

/// The cluster of a store whose `flows` is a Distributed table (its engine's first argument).
pub(super) async fn cluster_of(
    session: &Client,
    database: &str,
) -> Result<Option<String>, FailedAttempt> {
    let engine: Vec<String> = within(
        session
            .query("SELECT engine_full FROM system.tables WHERE database = ? AND name = 'flows'")
            .bind(database)
            .fetch_all(),
    )
    .await?;
    Ok(engine.first().and_then(|e| distributed_cluster(e)))
}

/// `Distributed(sites, db, flows_local, batch_id)` → `sites`.
fn distributed_cluster(engine: &str) -> Option<String> {
    let args = engine.strip_prefix("Distributed(")?;
    let first = args.split(',').next()?.trim();
    let name = first.trim_matches(|c| c == '`' || c == '\'' || c == '"');
    (!name.is_empty()).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_distributed_engine_names_its_cluster_first() {
        let engine = "Distributed(`sites`, `lantern`, flows_local, batch_id)";
        assert_eq!(distributed_cluster(engine).as_deref(), Some("sites"));
        assert_eq!(
            distributed_cluster("Distributed('sites', db, t)").as_deref(),
            Some("sites")
        );
        assert_eq!(distributed_cluster("MergeTree PARTITION BY x"), None);
        assert_eq!(distributed_cluster("Distributed(``, db, t)"), None);
    }
}
