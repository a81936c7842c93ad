//! The rows lantern sends to ClickHouse, one struct per table, in the column order of
//! [`schema`](super::schema). The same structs are what a spooled batch holds on disk (JSON), so
//! what is resent after a restart is exactly what was first tried.
//!
//! Times are integers as in the SQLite store: microseconds since the epoch (`*_us`), rollup hours
//! in seconds. Booleans are `UInt8` (18.16 has no `Bool`). Every evidence row carries the id of
//! the insert it belongs to (`batch_id`), which is how a retried insert finds out whether it had
//! already landed.

use crate::capture::Timestamp;
use crate::output::{DnsEvidence, FlowEvidence, Rollup, RollupKey};
use clickhouse::Row;
use serde::{Deserialize, Serialize};

/// Microseconds since the epoch.
pub(crate) fn us(t: Timestamp) -> i64 {
    t.0.div_euclid(1000)
}

/// A row of `flows`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Row)]
pub struct FlowRow {
    pub sensor: String,
    pub ts_us: i64,
    pub end_ts_us: i64,
    pub flow_id: u64,
    pub client_ip: String,
    pub client_port: u16,
    pub server_ip: String,
    pub server_port: u16,
    pub transport: String,
    pub protocol: String,
    pub server_name: Option<String>,
    pub name_source: String,
    pub user: String,
    pub user_source: String,
    pub user_kind: String,
    pub device: Option<String>,
    pub user_group: Option<String>,
    pub app_id: Option<String>,
    pub app_pattern: Option<String>,
    pub candidate: u8,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub packets_up: u64,
    pub packets_down: u64,
    pub tls_version: Option<String>,
    pub tls_alpn: Option<String>,
    pub ja4: Option<String>,
    pub ech: Option<u8>,
    pub batch_id: u64,
}

impl FlowRow {
    pub(crate) fn new(sensor: &str, f: &FlowEvidence) -> FlowRow {
        FlowRow {
            sensor: sensor.to_string(),
            ts_us: us(f.ts),
            end_ts_us: us(f.end_ts),
            flow_id: f.flow_id,
            client_ip: f.client_ip.clone(),
            client_port: f.client_port,
            server_ip: f.server_ip.clone(),
            server_port: f.server_port,
            transport: f.transport.to_string(),
            protocol: f.protocol.to_string(),
            server_name: f.server_name.clone(),
            name_source: f.name_source.to_string(),
            user: f.user.clone(),
            user_source: f.user_source.to_string(),
            user_kind: f.user_kind.to_string(),
            device: f.device.clone(),
            user_group: f.group.clone(),
            app_id: f.app_id.clone(),
            app_pattern: f.app_pattern.clone(),
            candidate: u8::from(f.candidate),
            bytes_up: f.bytes_up,
            bytes_down: f.bytes_down,
            packets_up: f.packets_up,
            packets_down: f.packets_down,
            tls_version: f.tls_version.clone(),
            tls_alpn: f.tls_alpn.clone(),
            ja4: f.ja4.clone(),
            ech: f.ech.map(u8::from),
            batch_id: 0,
        }
    }
}

/// A row of `dns`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Row)]
pub struct DnsRow {
    pub sensor: String,
    pub ts_us: i64,
    pub flow_id: u64,
    pub client_ip: String,
    pub client_port: u16,
    pub server_ip: String,
    pub server_port: u16,
    pub transport: String,
    pub query: String,
    pub qtype: String,
    pub rcode: Option<String>,
    pub answers: String,
    pub user: String,
    pub user_source: String,
    pub user_kind: String,
    pub device: Option<String>,
    pub user_group: Option<String>,
    pub app_id: Option<String>,
    pub app_pattern: Option<String>,
    pub candidate: u8,
    pub batch_id: u64,
}

impl DnsRow {
    pub(crate) fn new(sensor: &str, d: &DnsEvidence) -> DnsRow {
        DnsRow {
            sensor: sensor.to_string(),
            ts_us: us(d.ts),
            flow_id: d.flow_id,
            client_ip: d.client_ip.clone(),
            client_port: d.client_port,
            server_ip: d.server_ip.clone(),
            server_port: d.server_port,
            transport: d.transport.to_string(),
            query: d.query.clone(),
            qtype: d.qtype.clone(),
            rcode: d.rcode.clone(),
            answers: d.answers.clone(),
            user: d.user.clone(),
            user_source: d.user_source.to_string(),
            user_kind: d.user_kind.to_string(),
            device: d.device.clone(),
            user_group: d.group.clone(),
            app_id: d.app_id.clone(),
            app_pattern: d.app_pattern.clone(),
            candidate: u8::from(d.candidate),
            batch_id: 0,
        }
    }
}

/// A row of `rollups_in`, which a materialized view adds into `rollups_hourly`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Row)]
pub struct RollupRow {
    pub sensor: String,
    pub hour: i64,
    pub user: String,
    pub app_id: String,
    pub user_source: String,
    pub user_kind: String,
    pub device: String,
    pub user_group: String,
    pub flows: u64,
    pub dns_lookups: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub first_seen_us: i64,
    pub last_seen_us: i64,
    pub batch_id: u64,
}

impl RollupRow {
    pub(crate) fn new(sensor: &str, key: &RollupKey, r: &Rollup) -> RollupRow {
        RollupRow {
            sensor: sensor.to_string(),
            hour: key.hour.secs(),
            user: key.user.clone(),
            app_id: key.app_id.clone(),
            user_source: key.user_source.to_string(),
            user_kind: key.user_kind.to_string(),
            device: key.device.clone(),
            user_group: key.group.clone(),
            flows: r.flows,
            dns_lookups: r.dns_lookups,
            bytes_up: r.bytes_up,
            bytes_down: r.bytes_down,
            first_seen_us: us(r.first_seen),
            last_seen_us: us(r.last_seen),
            batch_id: 0,
        }
    }
}

/// A row of `pseudonyms` (a `ReplacingMergeTree`: the same token twice is one row).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Row)]
pub struct PseudonymRow {
    pub token: String,
    #[serde(with = "serde_bytes")]
    pub sealed: Vec<u8>,
}

/// A row of `files`: one when ingestion starts, one with a higher `version` when it ends (a
/// `ReplacingMergeTree` keeps the latest).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Row)]
pub struct FileRow {
    pub id: i64,
    pub sensor: String,
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub packets: u64,
    pub first_ts_us: Option<i64>,
    pub last_ts_us: Option<i64>,
    pub complete: u8,
    pub error: Option<String>,
    pub ingested_at: String,
    pub version: u64,
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
}
