//! Tables: the one declaration of each store table (see [`schema`](super::schema)): its
//! columns in order, with their types, what each is made of, and the version that added it.
//!
//! Adding a column is one line here (with `=> Opts::new().since(N)` and
//! [`SCHEMA_VERSION`](super::schema::SCHEMA_VERSION) raised to `N`), plus the field it reads.
//! Both stores' DDL, inserts and migrations, the spool's decoding of older batches, the store
//! comparison test and the column tables of `docs/store.md` follow from it.
//!
//! Times are integers in both stores: microseconds since the epoch (`*_us`), rollup hours in
//! seconds. Booleans are `0`/`1` (ClickHouse 18.16 has no `Bool`). `sensor` is set by the
//! store that writes the row; `batch_id` by the ClickHouse store, which uses it to tell
//! whether a retried insert had already landed.

use super::schema::{Kept, Opts, Role, Table, Time};
use crate::capture::Timestamp;
use crate::decode::Addr;
use crate::identity::Identity;
use crate::output::notice::Notice;
use crate::output::{Coverage, CoverageKey, DnsView, FlowView, Rollup, RollupKey};
use crate::proto::dns;

/// Every declared table, in the order both stores prune them (see
/// [`retention::aging`](super::retention::aging)) and `docs/store.md` lists them.
pub const ALL: [Table; 8] = [
    FlowRow::TABLE,
    DnsRow::TABLE,
    RollupRow::TABLE,
    CoverageRow::TABLE,
    NoticeRow::TABLE,
    FileRow::TABLE,
    PseudonymRow::TABLE,
    HealthRow::TABLE,
];

/// Microseconds since the epoch.
pub(crate) fn us(t: Timestamp) -> i64 {
    t.0.div_euclid(1000)
}

/// The client address as the store keeps it: its token when pseudonymizing.
fn client_ip(addr: Addr, identity: &Identity) -> String {
    identity.client.clone().unwrap_or_else(|| addr.to_string())
}

/// Text columns of lists: comma-separated, `None` when empty.
fn joined<'s>(items: impl Iterator<Item = &'s str>) -> Option<String> {
    let all: Vec<&str> = items.collect();
    (!all.is_empty()).then(|| all.join(","))
}

/// A list of names from the wire as a text column: comma-separated, a comma inside a name
/// written `%2C`; `None` when empty.
fn listed(items: &[Box<str>]) -> Option<String> {
    let all: Vec<String> = items.iter().map(|i| i.replace(',', "%2C")).collect();
    (!all.is_empty()).then(|| all.join(","))
}

crate::table! {
    /// A flow to an AI app, or to a name that looks like one.
    pub struct FlowRow in "flows" kept (Kept::AsEvidence(Time::Us("ts_us")))
        from (v: &FlowView<'_>) {
        /// The sensor that saw it.
        sensor: String = String::new(),
        /// First packet.
        ts_us: i64 = us(v.record.first),
        /// Last packet.
        end_ts_us: i64 = us(v.record.last),
        /// Flow id within the run (number of its first packet).
        flow_id: u64 = v.record.id,
        /// Client address, or its pseudonym token.
        client_ip: String = client_ip(v.record.client.addr, v.identity),
        /// Client port.
        client_port: u16 = v.record.client.port,
        /// Server address.
        server_ip: String = v.record.server.addr.to_string(),
        /// Server port.
        server_port: u16 = v.record.server.port,
        /// `tcp` or `udp`.
        transport: String = v.record.transport.name().to_string(),
        /// `tls`, `http`, `quic`, ...
        protocol: String = v.record.protocol.name().to_string(),
        /// The server name the flow was given.
        server_name: Option<String> = v.server_name.map(str::to_string),
        /// How the name was known: `tls_sni`, `quic_sni`, `http_host`, `dns_answer` or `none`.
        name_source: String = v.name_source.name().to_string(),
        /// Who the flow is attributed to.
        user: String = v.identity.user.clone(),
        /// How the user was known.
        user_source: String = v.identity.source.name().to_string(),
        /// A user kind: `person`, `service`, `agent` (a program) or `unknown`.
        user_kind: String = v.user_kind().name().to_string() => Opts::new().default("'unknown'"),
        /// The device, where known.
        device: Option<String> = v.identity.device.clone(),
        /// The user's group, from the static map.
        user_group: Option<String> = v.identity.group.clone(),
        /// The catalogued app.
        app_id: Option<String> = v.app.map(|a| a.app.id.clone()),
        /// The catalog pattern or request rule that identified the app.
        app_pattern: Option<String> = v.app.map(|a| a.pattern.to_string()),
        /// 1 when not catalogued but the name looks like AI.
        candidate: u8 = u8::from(v.candidate),
        /// Payload bytes client to server.
        bytes_up: u64 = v.record.bytes[0],
        /// Payload bytes server to client.
        bytes_down: u64 = v.record.bytes[1],
        /// Packets client to server.
        packets_up: u64 = v.record.packets[0],
        /// Packets server to client.
        packets_down: u64 = v.record.packets[1],
        /// The TLS version the ClientHello offered.
        tls_version: Option<String> = v.record.tls().map(|t| t.version.clone()),
        /// ALPN protocols offered, comma-separated.
        tls_alpn: Option<String> = v.record.tls().map(|t| t.alpn.join(",")),
        /// JA4 fingerprint of the ClientHello.
        ja4: Option<String> = v.record.tls().and_then(|t| t.ja4.clone()),
        /// 1 when the ClientHello carried an ECH extension.
        ech: Option<u8> = v.record.tls().map(|t| u8::from(t.ech)),
        /// What the ECH extension was taken for: `none`, `grease`, `real`, `unknown`.
        ech_kind: Option<String> = v.record.tls().map(|_| v.ech.name().to_string())
            => Opts::new().since(5),
        /// For a name from DNS, the other names in force for the address at the flow's start,
        /// comma-separated.
        name_alternatives: Option<String> = joined(v.name_alternatives.iter().flatten().copied())
            => Opts::new().since(5),
        /// The client software's family (`Chromium`, `Python (OpenSSL)`), when known.
        client_software: Option<String> = (!v.software.family.is_empty())
            .then(|| v.software.family.to_string()) => Opts::new().since(5),
        /// `browser`, `program` or `unknown`.
        client_kind: Option<String> = Some(v.software.kind.name().to_string())
            => Opts::new().since(5),
        /// MCP over plaintext HTTP: `streamable_http` or `sse`.
        mcp_transport: Option<String> = v.mcp.and_then(|m| m.transport).map(|t| t.name().to_string())
            => Opts::new().since(5),
        /// The MCP method of the first request (`initialize`, `tools/call`, ...).
        mcp_method: Option<String> = v.mcp.and_then(|m| m.method.clone()) => Opts::new().since(5),
        /// The MCP client (`clientInfo` name/version) of an `initialize`.
        mcp_client: Option<String> = v.mcp.and_then(|m| m.client.clone()) => Opts::new().since(5),
        /// The MCP protocol version.
        mcp_version: Option<String> = v.mcp.and_then(|m| m.version.clone()) => Opts::new().since(5),
        /// The tool a `tools/call` called (never its arguments).
        mcp_tool: Option<String> = v.mcp.and_then(|m| m.tool.clone()) => Opts::new().since(5),
        /// The record's number within its flow: 0 for the first, which counts the flow (count
        /// flows as rows with `part = 0`); one more after each interim record.
        part: u32 = v.record.part => Opts::new().since(7).default("0"),
        /// 1 for an interim record: the flow was still open, and the row holds what it sent
        /// since its previous row (`--active-timeout`).
        interim: u8 = u8::from(!v.record.end.is_final()) => Opts::new().since(7).default("0"),
        /// Plaintext HTTP/1.x: the requests read on the connection (in this record).
        requests: Option<u32> = v.record.requests.as_ref().map(|l| l.requests)
            => Opts::new().since(9),
        /// Their distinct `METHOD /path` (no query string), at most 8, comma-separated (a comma
        /// in a path written `%2C`).
        request_paths: Option<String> = v.record.requests.as_ref().and_then(|l| listed(&l.paths))
            => Opts::new().since(9),
        /// The JSON-RPC calls with an MCP method among them (each call of a batch counts).
        mcp_calls: Option<u32> = v.record.requests.as_ref().map(|l| l.mcp_calls)
            .filter(|&n| n > 0) => Opts::new().since(9),
        /// The distinct MCP methods called, at most 8, comma-separated.
        mcp_methods: Option<String> = v.record.requests.as_ref()
            .and_then(|l| listed(&l.mcp_methods)) => Opts::new().since(9),
        /// The distinct tools a `tools/call` named, at most 8, comma-separated.
        mcp_tools: Option<String> = v.record.requests.as_ref().and_then(|l| listed(&l.mcp_tools))
            => Opts::new().since(9),
        /// The flow carries encrypted DNS: `doh`, `dot` or `doq`.
        encrypted_dns: Option<String> = v.encrypted_dns.map(|e| e.name().to_string())
            => Opts::new().since(9),
        /// The ClickHouse insert the row belongs to.
        batch_id: u64 = 0 => Opts::new().clickhouse_only(),
    }
}

crate::table! {
    /// A DNS lookup of an AI app's name, or of a name that looks like one.
    pub struct DnsRow in "dns" kept (Kept::AsEvidence(Time::Us("ts_us")))
        from (v: &DnsView<'_>) {
        /// The sensor that saw it.
        sensor: String = String::new(),
        /// Query time.
        ts_us: i64 = us(v.record.ts),
        /// The flow that carried it.
        flow_id: u64 = v.record.flow_id,
        /// Client address, or its pseudonym token.
        client_ip: String = client_ip(v.record.client.addr, v.identity),
        /// Client port.
        client_port: u16 = v.record.client.port,
        /// Resolver address.
        server_ip: String = v.record.server.addr.to_string(),
        /// Resolver port.
        server_port: u16 = v.record.server.port,
        /// `udp` or `tcp`.
        transport: String = v.record.transport.name().to_string(),
        /// The name looked up.
        query: String = v.record.query.clone(),
        /// Query type mnemonic.
        qtype: String = dns::type_name(v.record.qtype),
        /// Response code mnemonic, if answered.
        rcode: Option<String> = v.record.rcode.map(dns::rcode_name),
        /// Answers, comma-separated.
        answers: String = answers(v),
        /// Who the lookup is attributed to.
        user: String = v.identity.user.clone(),
        /// How the user was known.
        user_source: String = v.identity.source.name().to_string(),
        /// A user kind: `person`, `service`, `agent` (a program) or `unknown`.
        user_kind: String = v.user_kind().name().to_string() => Opts::new().default("'unknown'"),
        /// The device, where known.
        device: Option<String> = v.identity.device.clone(),
        /// The user's group, from the static map.
        user_group: Option<String> = v.identity.group.clone(),
        /// The catalogued app.
        app_id: Option<String> = v.app.map(|a| a.app.id.clone()),
        /// The catalog pattern that identified the app.
        app_pattern: Option<String> = v.app.map(|a| a.pattern.to_string()),
        /// 1 when not catalogued but the name looks like AI.
        candidate: u8 = u8::from(v.candidate),
        /// The ClickHouse insert the row belongs to.
        batch_id: u64 = 0 => Opts::new().clickhouse_only(),
    }
}

fn answers(v: &DnsView<'_>) -> String {
    let all: Vec<String> = v
        .record
        .answers
        .iter()
        .map(|a| a.data.to_string())
        .collect();
    all.join(",")
}

crate::table! {
    /// One hour of one user's use of one app, added to by every write.
    pub struct RollupRow in "rollups_hourly" kept (Kept::AsRollups(Time::Secs("hour")))
        from (r: (&RollupKey, &Rollup)) {
        /// The sensor that saw it.
        sensor: String = String::new() => Opts::new().role(Role::Key),
        /// Start of the hour, seconds since the epoch.
        hour: i64 = r.0.hour.secs() => Opts::new().role(Role::Key),
        /// Who.
        user: String = r.0.user.clone() => Opts::new().role(Role::Key),
        /// The app.
        app_id: String = r.0.app_id.clone() => Opts::new().role(Role::Key),
        /// How the user was known.
        user_source: String = r.0.user_source.to_string() => Opts::new().role(Role::Key),
        /// A user kind: `person`, `service`, `agent` (a program) or `unknown`.
        user_kind: String = r.0.user_kind.to_string() => Opts::new().role(Role::Key),
        /// The device, empty when not known.
        device: String = r.0.device.clone() => Opts::new().role(Role::Key),
        /// The user's group, empty when not known.
        user_group: String = r.0.group.clone() => Opts::new().role(Role::Key),
        /// Flows.
        flows: u64 = r.1.flows => Opts::new().role(Role::Sum),
        /// DNS lookups.
        dns_lookups: u64 = r.1.dns_lookups => Opts::new().role(Role::Sum),
        /// Payload bytes up.
        bytes_up: u64 = r.1.bytes_up => Opts::new().role(Role::Sum),
        /// Payload bytes down.
        bytes_down: u64 = r.1.bytes_down => Opts::new().role(Role::Sum),
        /// Earliest activity in the hour.
        first_seen_us: i64 = us(r.1.first_seen) => Opts::new().role(Role::Min),
        /// Latest activity in the hour.
        last_seen_us: i64 = us(r.1.last_seen) => Opts::new().role(Role::Max),
        /// The ClickHouse insert the row belongs to.
        batch_id: u64 = 0 => Opts::new().clickhouse_only(),
    }
}

crate::table! {
    /// One hour of one sensor's traffic, every flow (not only AI), counted by how it was named:
    /// what a report says the sensor could and could not see. Counts only, never a name.
    pub struct CoverageRow in "coverage_hourly" kept (Kept::AsRollups(Time::Secs("hour")))
        from (c: &(CoverageKey, Coverage)) {
        /// The sensor that saw it.
        sensor: String = String::new() => Opts::new().since(9).role(Role::Key),
        /// Start of the hour, seconds since the epoch.
        hour: i64 = c.0.hour.secs() => Opts::new().since(9).role(Role::Key),
        /// `tcp` or `udp`.
        transport: String = c.0.transport.to_string() => Opts::new().since(9).role(Role::Key),
        /// The recognised protocol (`tls`, `quic`, `http`, `dns`, ..., `unknown`).
        protocol: String = c.0.protocol.name().to_string()
            => Opts::new().since(9).role(Role::Key),
        /// How the flows were named: `tls_sni`, `quic_sni`, `http_host`, `dns_answer` or `none`.
        name_source: String = c.0.name_source.name().to_string()
            => Opts::new().since(9).role(Role::Key),
        /// What their ECH extension was taken for (`none` without one).
        ech_kind: String = c.0.ech.name().to_string() => Opts::new().since(9).role(Role::Key),
        /// 1 when packets were seen in one direction only.
        one_way: u8 = u8::from(c.0.one_way) => Opts::new().since(9).role(Role::Key),
        /// `doh`, `dot` or `doq` for flows that carry encrypted DNS, else empty.
        encrypted_dns: String = c.0.encrypted_dns.map_or("", |e| e.name()).to_string()
            => Opts::new().since(9).role(Role::Key),
        /// Flows (counted in the hour they started).
        flows: u64 = c.1.flows => Opts::new().since(9).role(Role::Sum),
        /// Payload bytes client to server.
        bytes_up: u64 = c.1.bytes_up => Opts::new().since(9).role(Role::Sum),
        /// Payload bytes server to client.
        bytes_down: u64 = c.1.bytes_down => Opts::new().since(9).role(Role::Sum),
        /// Flows ended early because the flow table was full.
        evicted: u64 = c.1.evicted => Opts::new().since(9).role(Role::Sum),
        /// The ClickHouse insert the row belongs to.
        batch_id: u64 = 0 => Opts::new().since(9).clickhouse_only(),
    }
}

crate::table! {
    /// A notice raised, once per key (kind, day, user, subject): what keeps a restart, or
    /// another sensor writing to the same store, from raising it again. The first row of a key
    /// stays (SQLite ignores the later ones; ClickHouse collapses them when it merges).
    pub struct NoticeRow in "notices" kept (Kept::AsRollups(Time::Us("ts_us")))
        from (n: &Notice) {
        /// The sensor that raised it.
        sensor: String = String::new() => Opts::new().since(10),
        /// The time of the record that raised it.
        ts_us: i64 = us(n.ts) => Opts::new().since(10),
        /// Part of the key: the day it was raised (days since 1970-01-01), or -1 for the kinds
        /// raised once ever.
        day: i64 = n.key().day => Opts::new().since(10),
        /// Part of the key: why it was raised (`new_app`, `first_unsanctioned_use`, `upload`,
        /// ...).
        kind: String = n.kind.name().to_string() => Opts::new().since(10),
        /// Part of the key: the user it is about, empty for the kinds about the network.
        user: String = n.key().user => Opts::new().since(10),
        /// Part of the key: what it is about (the app id, the server, or the name).
        subject: String = n.subject.clone() => Opts::new().since(10),
        /// `low`, `medium` or `high`.
        severity: String = n.severity.name().to_string() => Opts::new().since(10),
        /// The user whose record raised it (also for a notice about the network).
        user_shown: String = n.user.clone() => Opts::new().since(10),
        /// The catalogued app.
        app_id: Option<String> = n.app.as_ref().map(|a| a.id.clone()) => Opts::new().since(10),
        /// The server name, when known.
        server_name: Option<String> = n.server_name.clone() => Opts::new().since(10),
        /// The client address of the first flow, or its pseudonym token.
        client: Option<String> = n.client.clone() => Opts::new().since(10),
        /// Payload bytes up in the evidence.
        bytes_up: u64 = n.bytes_up => Opts::new().since(10),
        /// Payload bytes down in the evidence.
        bytes_down: u64 = n.bytes_down => Opts::new().since(10),
        /// For an upload, the threshold it crossed, in bytes.
        threshold: Option<u64> = n.threshold => Opts::new().since(10),
        /// For a candidate, the distinct clients seen.
        clients: Option<u32> = n.clients => Opts::new().since(10),
        /// The flow ids it is about, first first, comma-separated.
        flows: String = flow_ids(&n.flows) => Opts::new().since(10),
        /// Why, in a sentence.
        message: String = n.message.clone() => Opts::new().since(10),
        /// When what it is about was first seen.
        first_seen_us: i64 = us(n.first_seen) => Opts::new().since(10),
        /// The ClickHouse insert the row belongs to.
        batch_id: u64 = 0 => Opts::new().since(10).clickhouse_only(),
    }
}

/// Flow ids as a text column: comma-separated.
fn flow_ids(ids: &[u64]) -> String {
    let all: Vec<String> = ids.iter().map(u64::to_string).collect();
    all.join(",")
}

crate::table! {
    /// A capture file ingested (or being ingested) by a replay.
    pub struct FileRow in "files" kept (Kept::Always) {
        /// Its id.
        id: i64 => Opts::new().sqlite_row_id(),
        /// The sensor that ingested it.
        sensor: String,
        /// Its path then.
        path: String,
        /// Its size in bytes.
        size: u64,
        /// SHA-256 of the whole file, hex; empty until a replay that hashes as it reads ends.
        sha256: String,
        /// The quick key that a later replay looks up first: SHA-256 of the size and the
        /// first and last 64 KiB (see `capture::hash::quick_key`).
        quick_key: String => Opts::new().since(8).default("''"),
        /// Packets read.
        packets: u64,
        /// First packet.
        first_ts_us: Option<i64>,
        /// Last packet.
        last_ts_us: Option<i64>,
        /// 1 when the replay read it to the end.
        complete: u8,
        /// Why it was not read to the end.
        error: Option<String>,
        /// When the ingestion started (wall clock, RFC 3339).
        ingested_at: String,
        /// 1 when ingestion starts, 2 when it ended: the latest wins.
        version: u64 => Opts::new().clickhouse_only(),
    }
}

crate::table! {
    /// A pseudonym token and the sealed name behind it (written only when pseudonymizing).
    pub struct PseudonymRow in "pseudonyms" kept (Kept::WhileNamed) {
        /// The token in every other table.
        token: String,
        /// The name, sealed with the operator's key.
        sealed: serde_bytes::ByteBuf,
    }
}

crate::table! {
    /// A sensor's state at its latest store write, one row per sensor (a later write replaces
    /// it): what `lantern status` reads to say which sensor went silent, how far its spool is
    /// behind and what it dropped. Counters are since the sensor started.
    pub struct HealthRow in "sensor_health" kept (Kept::AsRollups(Time::Us("ts_us"))) {
        /// The sensor.
        sensor: String => Opts::new().since(6),
        /// When it wrote (wall clock).
        ts_us: i64 => Opts::new().since(6),
        /// When it started (wall clock): a restart shows as a later start.
        started_us: i64 => Opts::new().since(6),
        /// The lantern version it runs.
        version: String => Opts::new().since(6),
        /// Its interfaces, comma-separated.
        interfaces: String => Opts::new().since(6),
        /// Packets captured.
        packets: u64 => Opts::new().since(6),
        /// Bytes captured.
        bytes: u64 => Opts::new().since(6),
        /// Packets the kernel's ring dropped.
        drops_kernel: u64 => Opts::new().since(6),
        /// Packets the interface's driver dropped.
        drops_interface: u64 => Opts::new().since(6),
        /// Packets dropped because a worker's queue stayed full.
        drops_queue: u64 => Opts::new().since(6),
        /// Flows ended early because the flow table was full.
        flows_evicted: u64 => Opts::new().since(6),
        /// Flows open.
        flows_open: u64 => Opts::new().since(6),
        /// Evidence rows waiting for the next write.
        backlog_rows: u64 => Opts::new().since(6),
        /// How long the previous store write took, in microseconds.
        last_write_us: u64 => Opts::new().since(6),
        /// ClickHouse batches waiting in the spool (0 for SQLite).
        spool_batches: u64 => Opts::new().since(6),
        /// Their size in bytes.
        spool_bytes: u64 => Opts::new().since(6),
        /// Batches the spool dropped because it was full.
        spool_dropped_batches: u64 => Opts::new().since(6),
    }
}

/// The declarations against what the stores and the docs make of them.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::notice::{EVER, NoticeKind, NoticeSeverity};
    use crate::store::schema::{SCHEMA_VERSION, markdown};

    #[test]
    fn every_column_is_documented_and_added_columns_can_be_filled_in() {
        for table in ALL {
            for c in table.columns {
                assert!(!c.doc.is_empty(), "{}.{} has no doc", table.name, c.name);
                assert!(c.opts.since <= SCHEMA_VERSION, "{}.{}", table.name, c.name);
                let nullable = c.clickhouse_type.starts_with("Nullable");
                assert!(
                    c.opts.since == table.since() || nullable || c.opts.default.is_some(),
                    "{}.{} was added to the table later: it needs NULL or a default for older rows",
                    table.name,
                    c.name
                );
            }
        }
    }

    #[test]
    fn a_table_whose_rows_age_out_has_its_time_column() {
        for table in ALL {
            let Some(time) = table.kept.time() else {
                continue;
            };
            let column = table.columns.iter().find(|c| c.name == time.column());
            assert_eq!(
                column.map(|c| c.clickhouse_type),
                Some("Int64"),
                "{} ages by {}",
                table.name,
                time.column()
            );
        }
    }

    #[test]
    fn docs_store_lists_every_column_as_declared() {
        let doc = include_str!("../../docs/store.md");
        let begin = "<!-- columns: made by store::schema::markdown, checked by its test -->\n";
        let table = markdown(&ALL);
        assert!(
            doc.contains(&format!("{begin}\n{table}<!-- end of columns -->")),
            "docs/store.md's column tables differ from the declarations; they are:\n\n{table}"
        );
    }

    /// A notice of `kind` raised by `user`'s record at `secs`.
    pub(crate) fn notice(kind: NoticeKind, user: &str, subject: &str, secs: i64) -> Notice {
        Notice {
            kind,
            severity: NoticeSeverity::Medium,
            ts: Timestamp::from_secs(secs),
            first_seen: Timestamp::from_secs(secs - 60),
            subject: subject.into(),
            user: user.into(),
            user_kind: "person",
            device: None,
            client: Some("10.0.0.2".into()),
            server: None,
            app: None,
            server_name: Some("chatgpt.com".into()),
            bytes_up: 5_000_000,
            bytes_down: 1000,
            threshold: Some(1_000_000),
            clients: None,
            flows: vec![7, 42],
            message: "why".into(),
        }
    }

    #[test]
    fn a_notice_row_is_keyed_as_the_notice_is_raised_once() {
        let day = 20_000 * 86_400 + 3600;
        let upload = NoticeRow::from_source(&notice(NoticeKind::Upload, "bob", "app", day));
        assert_eq!(
            (upload.kind.as_str(), upload.day, upload.user.as_str()),
            ("upload", 20_000, "bob")
        );
        assert_eq!(
            (upload.ts_us, upload.first_seen_us),
            (day * 1_000_000, (day - 60) * 1_000_000)
        );
        assert_eq!(
            (upload.threshold, upload.flows.as_str()),
            (Some(1_000_000), "7,42")
        );
        assert_eq!(
            (upload.severity.as_str(), upload.user_shown.as_str()),
            ("medium", "bob")
        );
        // A notice about the network: no user in its key, but who raised it is shown.
        let new = NoticeRow::from_source(&notice(NoticeKind::NewApp, "bob", "app", day));
        assert_eq!((new.kind.as_str(), new.day), ("new_app", EVER));
        assert_eq!((new.user.as_str(), new.user_shown.as_str()), ("", "bob"));
        let columns: Vec<&str> = NoticeRow::TABLE.columns.iter().map(|c| c.name).collect();
        assert_eq!(columns[1..6], ["ts_us", "day", "kind", "user", "subject"]);
        let threshold = NoticeRow::TABLE
            .columns
            .iter()
            .find(|c| c.name == "threshold");
        assert_eq!(
            threshold.map(|c| c.clickhouse_type),
            Some("Nullable(UInt64)")
        );
        assert_eq!(NoticeRow::TABLE.since(), SCHEMA_VERSION);
        assert!(!NoticeRow::TABLE.sqlite_create(&[]).contains("batch_id"));
    }

    #[test]
    fn sqlite_statements_follow_the_declaration() {
        let insert = PseudonymRow::TABLE.sqlite_insert("OR IGNORE");
        assert_eq!(
            insert,
            "INSERT OR IGNORE INTO pseudonyms (token, sealed) VALUES (?1, ?2)"
        );
        let files = FileRow::TABLE.sqlite_insert("");
        assert!(
            !files.contains("(id,") && !files.contains("version"),
            "{files}"
        );
        assert!(FlowRow::TABLE.sqlite_create(&[]).contains("ech_kind TEXT"));
        assert!(!FlowRow::TABLE.sqlite_create(&[]).contains("batch_id"));
    }
}
