//! What reports read back from a store: rows both stores return alike, so that a report is the
//! same whichever store it reads.

/// An hourly rollup as the store holds it, summed over every write.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize, clickhouse::Row)]
pub struct StoredRollup {
    pub sensor: String,
    /// Start of the hour, seconds since the epoch.
    pub hour: i64,
    pub user: String,
    pub app_id: String,
    pub user_source: String,
    pub user_kind: String,
    /// Empty when not known.
    pub device: String,
    pub flows: u64,
    pub dns_lookups: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub first_seen_us: i64,
    pub last_seen_us: i64,
}

/// When an app was first seen in the store, and by whom.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize, clickhouse::Row)]
pub struct FirstSeen {
    pub app_id: String,
    pub first_seen_us: i64,
}

/// How often one user met an uncatalogued name that looks like AI.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize, clickhouse::Row)]
pub struct StoredCandidate {
    /// The server name (flows) or query (DNS).
    pub name: String,
    pub user: String,
    pub flows: u64,
    pub lookups: u64,
}
