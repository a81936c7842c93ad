//! Reads: what reports read back from a store, each declared once for both stores.
//!
//! A read is a type implementing [`Read`]: its [`Query`] (SQL that SQLite and ClickHouse both
//! run, the few places where they differ written through [`Dialect`], and the values for its
//! `?` placeholders in order) and its row type, declared with [`read_row!`](crate::read_row)
//! (serde for ClickHouse, a positional mapping for SQLite, from the same fields). Both stores
//! run it the same way ([`Store::read`](super::Store::read)), and every read returns its rows
//! sorted, so a report is the same whichever store it reads. The store does the sums; the
//! report counts distinct users and devices itself.
//!
//! Besides the reports' reads, [`NoticeRaised`] and [`NoticesEver`] say which notices the store
//! holds, for the rules that raise each notice once ([`Store::raised`](super::Store::raised),
//! [`Store::raised_ever`](super::Store::raised_ever)).
//!
//! Adding a read is a row type and a `Read` here; nothing in either store changes.

use super::filter::Filter;
pub use super::schema::ReadRow;
use super::schema::{Role, names};
use super::tables::{CoverageRow, HealthRow, RollupRow};
use crate::output::notice::{EVER, NoticeKey, NoticeKind};
use rusqlite::ToSql;
use rusqlite::types::ToSqlOutput;

/// The store a query is written for: the few places where their SQL differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// ClickHouse (18.16 and later).
    ClickHouse,
}

impl Dialect {
    /// The least of a rollup's kept minimums over rows: SQLite keeps plain values, ClickHouse
    /// `min` states.
    pub fn min_of(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => format!("min({column})"),
            Dialect::ClickHouse => format!("minMerge({column})"),
        }
    }

    /// The greatest of a rollup's kept maximums over rows.
    pub fn max_of(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => format!("max({column})"),
            Dialect::ClickHouse => format!("maxMerge({column})"),
        }
    }

    /// The number of distinct values of `column` that are not empty, as an unsigned 64-bit
    /// count (18.16 types a count over a `NULL`-able expression as `NULL`-able).
    pub fn distinct_nonempty(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => format!("count(DISTINCT nullif({column}, ''))"),
            Dialect::ClickHouse => format!("uniqExactIf({column}, {column} != '')"),
        }
    }

    /// A constant read as an unsigned 64-bit count (ClickHouse types a bare literal by its
    /// size, and rows are read by type).
    pub fn uint64(self, value: u64) -> String {
        match self {
            Dialect::Sqlite => value.to_string(),
            Dialect::ClickHouse => format!("toUInt64({value})"),
        }
    }

    /// `INDEXED BY index` for SQLite, which then reads through that index or fails: the plan
    /// a read was measured with, which no filter's index that merely looks better can replace
    /// (SQLite keeps no statistics of how many rows an app or a user has). Nothing for
    /// ClickHouse.
    pub fn indexed_by(self, index: &str) -> String {
        match self {
            Dialect::Sqlite => format!(" INDEXED BY {index}"),
            Dialect::ClickHouse => String::new(),
        }
    }
}

/// A value for a query's next `?`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Param {
    /// An integer (a time bound).
    Int(i64),
    /// Text (a filter's value): SQLite binds it, ClickHouse's client writes it as an escaped
    /// literal.
    Text(String),
}

impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Param::Int(v) => ToSqlOutput::from(*v),
            Param::Text(s) => ToSqlOutput::from(s.as_str()),
        })
    }
}

/// A query and the values of its `?` placeholders, in the order they appear: built by
/// appending text and values together, so the two cannot drift apart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// The SQL.
    pub sql: String,
    /// The values of its placeholders, in order.
    pub params: Vec<Param>,
}

impl Query {
    /// A query starting with `sql` (no placeholders).
    pub fn new(sql: &str) -> Query {
        Query {
            sql: sql.to_string(),
            params: Vec::new(),
        }
    }

    /// Appends `sql` (no placeholders).
    pub fn then(mut self, sql: &str) -> Query {
        self.sql += sql;
        self
    }

    /// Appends `column >= ? AND column < ?` for `[from, to)`.
    pub fn range(mut self, column: &str, from: i64, to: i64) -> Query {
        self.sql += &format!("{column} >= ? AND {column} < ?");
        self.params.extend([Param::Int(from), Param::Int(to)]);
        self
    }

    /// Appends `column = ?` for `value`.
    pub fn eq(mut self, column: &str, value: Param) -> Query {
        self.sql += &format!("{column} = ?");
        self.params.push(value);
        self
    }

    /// Appends the filter's conditions (` AND sensor IN (?) ...`) and their values.
    pub fn filter(mut self, filter: &Filter) -> Query {
        let (sql, values) = filter.sql();
        self.sql += &sql;
        self.params
            .extend(values.into_iter().map(|v| Param::Text(v.to_string())));
        self
    }
}

/// A read of the store: its query in each dialect, and the type of its rows.
pub trait Read {
    /// What each row holds.
    type Row: ReadRow;

    /// The query, as `dialect` runs it.
    fn query(&self, dialect: Dialect) -> Query;
}

/// Declares the row type of a read: a struct whose fields are its columns in order, each of a
/// [`ColumnType`](super::schema::ColumnType).
#[macro_export]
macro_rules! read_row {
    (
        $(#[doc = $doc:literal])*
        $vis:vis struct $row:ident {
            $( $(#[doc = $fdoc:literal])* pub $field:ident : $ty:ty, )*
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(
            Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize,
            serde::Deserialize, clickhouse::Row,
        )]
        $vis struct $row {
            $( $(#[doc = $fdoc])* pub $field: $ty, )*
        }

        impl $crate::store::schema::ReadRow for $row {
            fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<$row> {
                use $crate::store::schema::ColumnType;
                let mut at = 0;
                Ok($row {
                    $( $field: {
                        at += 1;
                        <$ty>::from_sqlite(row, at - 1)?
                    }, )*
                })
            }
        }
    };
}

/// Microseconds of `[from, to)` seconds.
fn micros(from: i64, to: i64) -> (i64, i64) {
    (from.saturating_mul(1_000_000), to.saturating_mul(1_000_000))
}

/// `app_id IN (...)` for ids from the catalog, written into the query (18.16 cannot bind a
/// list); an id with anything but letters, digits, `-`, `_` and `.` is left out.
pub(crate) fn app_list(ids: &[&str]) -> String {
    let quoted: Vec<String> = ids
        .iter()
        .filter(|id| {
            !id.is_empty()
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map(|id| format!("'{id}'"))
        .collect();
    if quoted.is_empty() {
        "('')".to_string()
    } else {
        format!("({})", quoted.join(", "))
    }
}

/// The hourly rollups of the hours in `[from, to)` (seconds) that the filter lets through, one
/// row per key (ClickHouse's parts not merged yet summed).
pub struct Rollups<'a> {
    /// First hour, seconds.
    pub from: i64,
    /// End, seconds.
    pub to: i64,
    /// Which rows.
    pub filter: &'a Filter,
}

impl Read for Rollups<'_> {
    type Row = RollupRow;

    fn query(&self, d: Dialect) -> Query {
        let table = RollupRow::TABLE;
        let of = |role: Role| table.columns.iter().filter(move |c| c.opts.role == role);
        let mut parts: Vec<String> = of(Role::Key).map(|c| c.name.to_string()).collect();
        parts.extend(of(Role::Sum).map(|c| format!("sum({0}) AS {0}", c.name)));
        parts.extend(of(Role::Min).map(|c| format!("{} AS {}", d.min_of(c.name), c.name)));
        parts.extend(of(Role::Max).map(|c| format!("{} AS {}", d.max_of(c.name), c.name)));
        parts.push(format!("{} AS batch_id", d.uint64(0)));
        Query::new(&format!(
            "SELECT {} FROM rollups_hourly WHERE ",
            parts.join(", ")
        ))
        .range("hour", self.from, self.to)
        .filter(self.filter)
        .then(&format!(" GROUP BY {}", names(of(Role::Key))))
    }
}

crate::read_row! {
    /// When an app was first seen in the store.
    pub struct FirstSeen {
        pub app_id: String,
        pub first_seen_us: i64,
    }
}

/// Each app's earliest activity in the whole store, in the rows the filter lets through.
pub struct AppsFirstSeen<'a> {
    /// Which rows.
    pub filter: &'a Filter,
}

impl Read for AppsFirstSeen<'_> {
    type Row = FirstSeen;

    fn query(&self, d: Dialect) -> Query {
        let first = d.min_of("first_seen_us");
        Query::new(&format!(
            "SELECT app_id, {first} FROM rollups_hourly WHERE 1"
        ))
        .filter(self.filter)
        .then(" GROUP BY app_id")
    }
}

crate::read_row! {
    /// One user's (and device's) flows to an uncatalogued name that looks like AI.
    pub struct CandidateFlows {
        /// The server name.
        pub name: String,
        pub user: String,
        pub user_kind: String,
        /// The device, empty when not known.
        pub device: String,
        pub flows: u64,
        pub bytes_up: u64,
        pub bytes_down: u64,
        pub first_us: i64,
        pub last_us: i64,
    }
}

/// Flows to uncatalogued names that look like AI, per name, user, kind and device, in
/// `[from, to)` (seconds) that the filter lets through (none when it names apps).
pub struct CandidateFlowUse<'a> {
    /// Start, seconds.
    pub from: i64,
    /// End, seconds.
    pub to: i64,
    /// Which rows.
    pub filter: &'a Filter,
}

impl Read for CandidateFlowUse<'_> {
    type Row = CandidateFlows;

    fn query(&self, d: Dialect) -> Query {
        let (from, to) = micros(self.from, self.to);
        Query::new(&format!(
            "SELECT ifNull(server_name, '') AS name, user, user_kind,
                ifNull(device, '') AS dev, sum(part = 0), sum(bytes_up), sum(bytes_down),
                min(ts_us), max(end_ts_us)
             FROM flows{} WHERE candidate = 1 AND server_name IS NOT NULL AND ",
            d.indexed_by("flows_of_candidates")
        ))
        .range("ts_us", from, to)
        .filter(self.filter)
        .then(" GROUP BY name, user, user_kind, dev")
    }
}

crate::read_row! {
    /// One user's (and device's) lookups of an uncatalogued name that looks like AI.
    pub struct CandidateLookups {
        /// The name looked up.
        pub name: String,
        pub user: String,
        /// The device, empty when not known.
        pub device: String,
        pub lookups: u64,
        pub first_us: i64,
        pub last_us: i64,
    }
}

/// Lookups of uncatalogued names that look like AI, per name, user and device, in
/// `[from, to)` (seconds) that the filter lets through (none when it names apps).
pub struct CandidateLookupUse<'a> {
    /// Start, seconds.
    pub from: i64,
    /// End, seconds.
    pub to: i64,
    /// Which rows.
    pub filter: &'a Filter,
}

impl Read for CandidateLookupUse<'_> {
    type Row = CandidateLookups;

    fn query(&self, d: Dialect) -> Query {
        let (from, to) = micros(self.from, self.to);
        Query::new(&format!(
            "SELECT query, user, ifNull(device, '') AS dev, sum({}), min(ts_us), max(ts_us)
             FROM dns{} WHERE candidate = 1 AND ",
            d.uint64(1),
            d.indexed_by("dns_of_candidates")
        ))
        .range("ts_us", from, to)
        .filter(self.filter)
        .then(" GROUP BY query, user, dev")
    }
}

crate::read_row! {
    /// Who used a local model server, and how much, with which requests.
    pub struct StoredServerUse {
        pub app_id: String,
        pub server_ip: String,
        pub server_port: u16,
        pub user: String,
        /// The distinct `METHOD /path` of the flows' requests, comma-separated.
        pub paths: String,
        pub flows: u64,
        pub requests: u64,
        pub bytes_up: u64,
    }
}

/// Flows to the servers of some apps (local model servers) in `[from, to)` (seconds) that the
/// filter lets through, per app, server, user and the requests' paths.
pub struct ServerUse<'a> {
    /// Start, seconds.
    pub from: i64,
    /// End, seconds.
    pub to: i64,
    /// The apps (catalog ids).
    pub apps: &'a [&'a str],
    /// Which rows.
    pub filter: &'a Filter,
}

impl Read for ServerUse<'_> {
    type Row = StoredServerUse;

    fn query(&self, _: Dialect) -> Query {
        let (from, to) = micros(self.from, self.to);
        Query::new(
            "SELECT ifNull(app_id, '') AS app, server_ip, server_port, user,
                ifNull(request_paths, '') AS paths, sum(part = 0), sum(ifNull(requests, 0)),
                sum(bytes_up)
             FROM flows WHERE ",
        )
        .range("ts_us", from, to)
        .then(&format!(" AND app_id IN {}", app_list(self.apps)))
        .filter(self.filter)
        .then(" GROUP BY app, server_ip, server_port, user, paths")
    }
}

crate::read_row! {
    /// AI use by programs (flows whose user kind is `agent`), per host, user, software and app.
    pub struct StoredProgramUse {
        /// The device, else the client address (or its token).
        pub host: String,
        pub user: String,
        /// The client software's family, empty when not known.
        pub software: String,
        pub app_id: String,
        pub flows: u64,
        pub bytes_up: u64,
    }
}

/// AI use by programs and agents in `[from, to)` (seconds) that the filter lets through: per
/// host, user, software and app.
pub struct ProgramUse<'a> {
    /// Start, seconds.
    pub from: i64,
    /// End, seconds.
    pub to: i64,
    /// Which rows.
    pub filter: &'a Filter,
}

impl Read for ProgramUse<'_> {
    type Row = StoredProgramUse;

    fn query(&self, d: Dialect) -> Query {
        let (from, to) = micros(self.from, self.to);
        Query::new(&format!(
            "SELECT ifNull(device, client_ip) AS host, user,
                ifNull(client_software, '') AS software, ifNull(app_id, '') AS app,
                sum(part = 0), sum(bytes_up) FROM flows{} WHERE ",
            d.indexed_by("flows_of_agents")
        ))
        .range("ts_us", from, to)
        .then(" AND user_kind = 'agent'")
        .filter(self.filter)
        .then(" GROUP BY host, user, software, app")
    }
}

crate::read_row! {
    /// Flows to MCP servers, per server, user and what their requests called.
    pub struct StoredMcpUse {
        pub app_id: String,
        /// The server's name, else its address.
        pub server: String,
        pub server_port: u16,
        pub user: String,
        /// The MCP method of the flow's first request, empty when not seen (TLS).
        pub method: String,
        /// The distinct MCP methods of all its requests, comma-separated.
        pub methods: String,
        /// The distinct tools called, comma-separated.
        pub tools: String,
        pub flows: u64,
        /// JSON-RPC calls with an MCP method.
        pub calls: u64,
    }
}

/// Flows to the MCP servers among some apps in `[from, to)` (seconds) that the filter lets
/// through, per server, user and what their requests called.
pub struct McpUse<'a> {
    /// Start, seconds.
    pub from: i64,
    /// End, seconds.
    pub to: i64,
    /// The apps (catalog ids).
    pub apps: &'a [&'a str],
    /// Which rows.
    pub filter: &'a Filter,
}

impl Read for McpUse<'_> {
    type Row = StoredMcpUse;

    fn query(&self, _: Dialect) -> Query {
        let (from, to) = micros(self.from, self.to);
        Query::new(
            "SELECT ifNull(app_id, '') AS app, ifNull(server_name, server_ip) AS server,
                server_port, user, ifNull(mcp_method, '') AS method,
                ifNull(mcp_methods, '') AS all_methods, ifNull(mcp_tools, '') AS all_tools,
                sum(part = 0), sum(ifNull(mcp_calls, 0))
             FROM flows WHERE ",
        )
        .range("ts_us", from, to)
        .then(&format!(" AND app_id IN {}", app_list(self.apps)))
        .filter(self.filter)
        .then(" GROUP BY app, server, server_port, user, method, all_methods, all_tools")
    }
}

/// The coverage of the hours in `[from, to)` (seconds) of the filter's sensors (the other
/// filters do not apply: coverage counts every flow, not a user's or an app's), one row per
/// hour and key (ClickHouse's rows of several writes summed).
pub struct CoverageOf<'a> {
    /// First hour, seconds.
    pub from: i64,
    /// End, seconds.
    pub to: i64,
    /// Which sensors.
    pub filter: &'a Filter,
}

impl Read for CoverageOf<'_> {
    type Row = CoverageRow;

    fn query(&self, d: Dialect) -> Query {
        let table = CoverageRow::TABLE;
        let of = |role: Role| table.columns.iter().filter(move |c| c.opts.role == role);
        let mut parts: Vec<String> = of(Role::Key).map(|c| c.name.to_string()).collect();
        parts.extend(of(Role::Sum).map(|c| format!("sum({0}) AS {0}", c.name)));
        parts.push(format!("{} AS batch_id", d.uint64(0)));
        let sensors = Filter {
            sensors: self.filter.sensors.clone(),
            ..Filter::default()
        };
        Query::new(&format!(
            "SELECT {} FROM coverage_hourly WHERE ",
            parts.join(", ")
        ))
        .range("hour", self.from, self.to)
        .filter(&sensors)
        .then(&format!(" GROUP BY {}", names(of(Role::Key))))
    }
}

crate::read_row! {
    /// One client's flows to one encrypted-DNS resolver.
    pub struct StoredEncryptedDns {
        pub sensor: String,
        pub user: String,
        /// The device, empty when not known.
        pub device: String,
        /// `doh`, `dot` or `doq`.
        pub kind: String,
        /// The resolver's name, else its address.
        pub resolver: String,
        pub server_port: u16,
        pub flows: u64,
        pub bytes_up: u64,
        pub first_us: i64,
        pub last_us: i64,
    }
}

/// Flows that carry encrypted DNS in `[from, to)` (seconds) that the filter lets through, per
/// sensor, client and resolver.
pub struct EncryptedDnsUse<'a> {
    /// Start, seconds.
    pub from: i64,
    /// End, seconds.
    pub to: i64,
    /// Which rows.
    pub filter: &'a Filter,
}

impl Read for EncryptedDnsUse<'_> {
    type Row = StoredEncryptedDns;

    fn query(&self, d: Dialect) -> Query {
        let (from, to) = micros(self.from, self.to);
        Query::new(&format!(
            "SELECT sensor, user, ifNull(device, '') AS dev, ifNull(encrypted_dns, '') AS kind,
                ifNull(server_name, server_ip) AS resolver, server_port, sum(part = 0),
                sum(bytes_up), min(ts_us), max(end_ts_us)
             FROM flows{} WHERE encrypted_dns IS NOT NULL AND ",
            d.indexed_by("flows_of_encrypted_dns")
        ))
        .range("ts_us", from, to)
        .filter(self.filter)
        .then(" GROUP BY sensor, user, dev, kind, resolver, server_port")
    }
}

/// Every sensor's state rows (ClickHouse may hold older rows of a sensor in parts not merged
/// yet; [`latest_health`] keeps each sensor's latest).
pub struct Health;

impl Read for Health {
    type Row = HealthRow;

    fn query(&self, _: Dialect) -> Query {
        Query::new(&format!(
            "SELECT {} FROM sensor_health",
            names(HealthRow::TABLE.columns.iter())
        ))
    }
}

/// Each sensor's latest state, sorted by sensor.
pub fn latest_health(mut rows: Vec<HealthRow>) -> Vec<HealthRow> {
    rows.sort_unstable_by(|a, b| (&a.sensor, b.ts_us).cmp(&(&b.sensor, a.ts_us)));
    rows.dedup_by(|later, first| later.sensor == first.sensor);
    rows
}

crate::read_row! {
    /// The rows of a notice key: one once raised (ClickHouse may hold more, from several
    /// sensors or writes, until it merges them).
    pub struct NoticeRows {
        pub rows: u64,
    }
}

/// The rows of one notice key: whether it was raised.
pub struct NoticeRaised<'a> {
    /// The key.
    pub key: &'a NoticeKey,
}

impl Read for NoticeRaised<'_> {
    type Row = NoticeRows;

    fn query(&self, _: Dialect) -> Query {
        let key = self.key;
        Query::new("SELECT count(*) FROM notices WHERE ")
            .eq("kind", Param::Text(key.kind.name().to_string()))
            .then(" AND ")
            .eq("day", Param::Int(key.day))
            .then(" AND ")
            .eq("user", Param::Text(key.user.clone()))
            .then(" AND ")
            .eq("subject", Param::Text(key.subject.clone()))
    }
}

crate::read_row! {
    /// A notice key the store holds.
    pub struct StoredNoticeKey {
        /// Its kind's name.
        pub kind: String,
        pub day: i64,
        pub user: String,
        pub subject: String,
    }
}

impl StoredNoticeKey {
    /// The key, if this lantern knows its kind (a newer one may have raised kinds it does
    /// not).
    pub fn key(self) -> Option<NoticeKey> {
        Some(NoticeKey {
            kind: NoticeKind::from_name(&self.kind)?,
            day: self.day,
            user: self.user,
            subject: self.subject,
        })
    }
}

/// The keys of every notice raised once ever (day [`EVER`]), each once.
pub struct NoticesEver;

impl Read for NoticesEver {
    type Row = StoredNoticeKey;

    fn query(&self, _: Dialect) -> Query {
        Query::new("SELECT DISTINCT kind, day, user, subject FROM notices WHERE ")
            .eq("day", Param::Int(EVER))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_follow_their_placeholders_in_order() {
        let filter = Filter::new(vec!["a".into()], None, Some("bob".into()), vec![]).unwrap();
        let q = CandidateFlowUse {
            from: 10,
            to: 20,
            filter: &filter,
        }
        .query(Dialect::Sqlite);
        assert_eq!(q.sql.matches('?').count(), q.params.len());
        let texts: Vec<&Param> = q.params.iter().collect();
        assert_eq!(
            texts,
            [
                &Param::Int(10_000_000),
                &Param::Int(20_000_000),
                &Param::Text("a".into()),
                &Param::Text("bob".into()),
            ]
        );
        // Coverage is of sensors only: a user filter does not reach it.
        let q = CoverageOf {
            from: 0,
            to: 3600,
            filter: &filter,
        }
        .query(Dialect::Sqlite);
        assert_eq!(q.params.len(), 3);
        assert!(q.sql.contains("sensor IN (?)") && !q.sql.contains("user IN"));
        let ch = Rollups {
            from: 0,
            to: 3600,
            filter: &filter,
        }
        .query(Dialect::ClickHouse);
        assert!(ch.sql.contains("minMerge(first_seen_us)") && ch.sql.contains("toUInt64(0)"));
        let sqlite = Rollups {
            from: 0,
            to: 3600,
            filter: &filter,
        }
        .query(Dialect::Sqlite);
        assert!(!sqlite.sql.contains("Merge(") && !sqlite.sql.contains("toUInt64"));
    }

    #[test]
    fn app_lists_keep_only_catalog_shaped_ids() {
        assert_eq!(app_list(&["a-b", "x'); DROP", "c.d"]), "('a-b', 'c.d')");
        assert_eq!(app_list(&[]), "('')");
    }

    #[test]
    fn notice_reads_bind_every_value_of_the_key() {
        let key = NoticeKey {
            kind: NoticeKind::Upload,
            day: 20_000,
            user: "bob' OR '1'='1".into(),
            subject: "openai-chatgpt".into(),
        };
        for dialect in [Dialect::Sqlite, Dialect::ClickHouse] {
            let q = NoticeRaised { key: &key }.query(dialect);
            assert_eq!(
                q.sql,
                "SELECT count(*) FROM notices WHERE kind = ? AND day = ? AND user = ? AND subject = ?"
            );
            assert_eq!(
                q.params,
                [
                    Param::Text("upload".into()),
                    Param::Int(20_000),
                    Param::Text("bob' OR '1'='1".into()),
                    Param::Text("openai-chatgpt".into()),
                ]
            );
            let ever = NoticesEver.query(dialect);
            assert_eq!(ever.sql.matches('?').count(), 1);
            assert_eq!(ever.params, [Param::Int(EVER)]);
        }
        let stored = |kind: &str| StoredNoticeKey {
            kind: kind.into(),
            day: EVER,
            user: String::new(),
            subject: "x".into(),
        };
        let known = stored("new_app").key().unwrap();
        assert_eq!((known.kind, known.day), (NoticeKind::NewApp, EVER));
        assert_eq!(stored("from_a_newer_lantern").key(), None);
    }
}

crate::read_row! {
    /// One user's (device's, sensor's) use of one app: the console's page of an app.
    pub struct StoredAppUser {
        pub app_id: String,
        pub user: String,
        pub user_kind: String,
        /// Empty when not known.
        pub device: String,
        pub sensor: String,
        /// Hours with any use.
        pub hours: u64,
        pub flows: u64,
        pub dns_lookups: u64,
        pub bytes_up: u64,
        pub bytes_down: u64,
        pub last_seen_us: i64,
    }
}

/// Each user's use of each app in `[from, to)` (seconds), per device and sensor, from the
/// hourly rollups the filter lets through.
pub struct AppUsers<'a> {
    /// Start, seconds.
    pub from: i64,
    /// End, seconds.
    pub to: i64,
    /// Which rows.
    pub filter: &'a Filter,
}

impl Read for AppUsers<'_> {
    type Row = StoredAppUser;

    fn query(&self, d: Dialect) -> Query {
        Query::new(&format!(
            "SELECT app_id, user, user_kind, device, sensor, count(DISTINCT hour),
                sum(flows), sum(dns_lookups), sum(bytes_up), sum(bytes_down), {}
             FROM rollups_hourly WHERE ",
            d.max_of("last_seen_us")
        ))
        .range("hour", self.from, self.to)
        .filter(self.filter)
        .then(" GROUP BY app_id, user, user_kind, device, sensor")
    }
}

crate::read_row! {
    /// One user's use of AI in a period: the console's list of users.
    pub struct StoredUser {
        pub user: String,
        pub user_kind: String,
        /// Empty when not known.
        pub user_group: String,
        pub apps: u64,
        /// Devices known by name.
        pub devices: u64,
        pub flows: u64,
        pub bytes_up: u64,
        pub bytes_down: u64,
        pub last_seen_us: i64,
    }
}

/// Every user with AI use in `[from, to)` (seconds), from the hourly rollups the filter lets
/// through.
pub struct Users<'a> {
    /// Start, seconds.
    pub from: i64,
    /// End, seconds.
    pub to: i64,
    /// Which rows.
    pub filter: &'a Filter,
}

impl Read for Users<'_> {
    type Row = StoredUser;

    fn query(&self, d: Dialect) -> Query {
        Query::new(&format!(
            "SELECT user, user_kind, user_group, count(DISTINCT app_id), {},
                sum(flows), sum(bytes_up), sum(bytes_down), {}
             FROM rollups_hourly WHERE ",
            d.distinct_nonempty("device"),
            d.max_of("last_seen_us")
        ))
        .range("hour", self.from, self.to)
        .filter(self.filter)
        .then(" GROUP BY user, user_kind, user_group")
    }
}

crate::read_row! {
    /// One flow, as evidence: what named it and who made it, never a payload.
    pub struct StoredFlow {
        pub ts_us: i64,
        pub sensor: String,
        pub flow_id: u64,
        pub part: u32,
        pub app_id: String,
        pub user: String,
        pub user_kind: String,
        pub device: String,
        pub client_ip: String,
        pub server_name: String,
        pub name_source: String,
        pub server_ip: String,
        pub server_port: u16,
        pub protocol: String,
        pub client_software: String,
        pub client_kind: String,
        pub bytes_up: u64,
        pub bytes_down: u64,
    }
}

/// The latest `limit` flow records in `[from, to)` (seconds) that the filter lets through.
pub struct RecentFlows<'a> {
    /// Start, seconds.
    pub from: i64,
    /// End, seconds.
    pub to: i64,
    /// Which rows.
    pub filter: &'a Filter,
    /// Most rows.
    pub limit: u32,
}

impl Read for RecentFlows<'_> {
    type Row = StoredFlow;

    fn query(&self, _: Dialect) -> Query {
        let (from, to) = micros(self.from, self.to);
        Query::new(
            "SELECT ts_us, sensor, flow_id, part, ifNull(app_id, ''), user, user_kind,
                ifNull(device, ''), client_ip, ifNull(server_name, ''), name_source, server_ip,
                server_port, protocol, ifNull(client_software, ''), ifNull(client_kind, ''),
                bytes_up, bytes_down
             FROM flows WHERE ",
        )
        .range("ts_us", from, to)
        .filter(self.filter)
        .then(&format!(
            " ORDER BY ts_us DESC, sensor, flow_id, part LIMIT {}",
            self.limit
        ))
    }
}

crate::read_row! {
    /// Who used a name that looks like AI and is not catalogued.
    pub struct StoredCandidateClient {
        pub name: String,
        pub user: String,
        /// Empty when not known.
        pub device: String,
        pub uses: u64,
    }
}

/// The users of each uncatalogued AI-looking name in `[from, to)` (seconds): from the flows
/// (`lookups` false) or the DNS lookups (`lookups` true) that the filter lets through.
pub struct CandidateClients<'a> {
    /// Start, seconds.
    pub from: i64,
    /// End, seconds.
    pub to: i64,
    /// Which rows.
    pub filter: &'a Filter,
    /// DNS lookups rather than flows.
    pub lookups: bool,
}

impl Read for CandidateClients<'_> {
    type Row = StoredCandidateClient;

    fn query(&self, _: Dialect) -> Query {
        let (from, to) = micros(self.from, self.to);
        let (table, name, counted) = match self.lookups {
            false => ("flows", "ifNull(server_name, '')", "sum(part = 0)"),
            true => ("dns", "query", "count(*)"),
        };
        Query::new(&format!(
            "SELECT {name} AS name, user, ifNull(device, '') AS dev, {counted} FROM {table}
             WHERE candidate = 1 AND "
        ))
        .range("ts_us", from, to)
        .filter(self.filter)
        .then(" GROUP BY name, user, dev")
    }
}

crate::read_row! {
    /// Hours with any use.
    pub struct ActiveHours {
        pub hours: u64,
    }
}

/// The hours in `[from, to)` (seconds) with any use that the filter lets through.
pub struct Hours<'a> {
    /// Start, seconds.
    pub from: i64,
    /// End, seconds.
    pub to: i64,
    /// Which rows.
    pub filter: &'a Filter,
}

impl Read for Hours<'_> {
    type Row = ActiveHours;

    fn query(&self, _: Dialect) -> Query {
        Query::new("SELECT count(DISTINCT hour) FROM rollups_hourly WHERE ")
            .range("hour", self.from, self.to)
            .filter(self.filter)
    }
}
