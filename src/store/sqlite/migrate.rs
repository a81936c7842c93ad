//! The SQLite store's schema: its physical design (which tables have a row id or a key, their
//! indexes: [`SHAPES`]; the columns are the declarations' in [`tables`](crate::store::tables)),
//! and the migrations that bring a file to [`SCHEMA_VERSION`]: a new file gets every table, an
//! older one is migrated (versions 1 to 4 by the frozen steps below, later ones by adding the
//! columns declared since), a newer one is refused.

use crate::store::StoreFault;
use crate::store::schema::{SCHEMA_VERSION, Table, names};
use crate::store::{
    CoverageRow, DnsRow, FileRow, FlowRow, HealthRow, NoticeRow, PseudonymRow, RollupRow,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

/// What turns a version-1 store into a version-2 one: `app_pattern` on evidence.
const MIGRATE_1_TO_2: &str = "
ALTER TABLE flows ADD COLUMN app_pattern TEXT;
ALTER TABLE dns ADD COLUMN app_pattern TEXT;
";

/// What turns a version-2 store into a version-3 one: who a row is attributed to, and rollups
/// keyed by how. Rows written before attribution existed were attributed to the client
/// address.
const MIGRATE_2_TO_3: &str = "
ALTER TABLE flows ADD COLUMN user_kind TEXT NOT NULL DEFAULT 'unknown';
ALTER TABLE flows ADD COLUMN device TEXT;
ALTER TABLE flows ADD COLUMN user_group TEXT;
ALTER TABLE dns ADD COLUMN user_kind TEXT NOT NULL DEFAULT 'unknown';
ALTER TABLE dns ADD COLUMN device TEXT;
ALTER TABLE dns ADD COLUMN user_group TEXT;
ALTER TABLE rollups_hourly RENAME TO rollups_hourly_v2;
CREATE TABLE rollups_hourly (
    sensor TEXT NOT NULL, hour INTEGER NOT NULL, user TEXT NOT NULL, app_id TEXT NOT NULL,
    user_source TEXT NOT NULL, user_kind TEXT NOT NULL, device TEXT NOT NULL,
    flows INTEGER NOT NULL, dns_lookups INTEGER NOT NULL, bytes_up INTEGER NOT NULL,
    bytes_down INTEGER NOT NULL, first_seen_us INTEGER NOT NULL, last_seen_us INTEGER NOT NULL,
    PRIMARY KEY (sensor, hour, user, app_id, user_source, user_kind, device)
) WITHOUT ROWID;
INSERT INTO rollups_hourly (sensor, hour, user, app_id, user_source, user_kind, device, flows,
    dns_lookups, bytes_up, bytes_down, first_seen_us, last_seen_us)
    SELECT sensor, hour, user, app_id, 'ip', 'unknown', '', flows, dns_lookups, bytes_up,
    bytes_down, first_seen_us, last_seen_us FROM rollups_hourly_v2;
DROP TABLE rollups_hourly_v2;
";

/// What turns a version-3 store into a version-4 one: rollups keyed by group too (earlier rows
/// have none).
const MIGRATE_3_TO_4: &str = "
ALTER TABLE rollups_hourly RENAME TO rollups_hourly_v3;
CREATE TABLE rollups_hourly (
    sensor TEXT NOT NULL, hour INTEGER NOT NULL, user TEXT NOT NULL, app_id TEXT NOT NULL,
    user_source TEXT NOT NULL, user_kind TEXT NOT NULL, device TEXT NOT NULL,
    user_group TEXT NOT NULL, flows INTEGER NOT NULL, dns_lookups INTEGER NOT NULL,
    bytes_up INTEGER NOT NULL, bytes_down INTEGER NOT NULL, first_seen_us INTEGER NOT NULL,
    last_seen_us INTEGER NOT NULL,
    PRIMARY KEY (sensor, hour, user, app_id, user_source, user_kind, device, user_group)
) WITHOUT ROWID;
INSERT INTO rollups_hourly (sensor, hour, user, app_id, user_source, user_kind, device,
    user_group, flows, dns_lookups, bytes_up, bytes_down, first_seen_us, last_seen_us)
    SELECT sensor, hour, user, app_id, user_source, user_kind, device, '', flows, dns_lookups,
    bytes_up, bytes_down, first_seen_us, last_seen_us FROM rollups_hourly_v3;
DROP TABLE rollups_hourly_v3;
";

/// The frozen steps from version `n + 1` to `n + 2`.
const FROZEN: [&str; 3] = [MIGRATE_1_TO_2, MIGRATE_2_TO_3, MIGRATE_3_TO_4];

/// The indexes pruning goes by: every store has them, made with its tables, or by
/// [`create_all`] when an older store is migrated.
const FLOWS_BY_TIME: &str = "CREATE INDEX IF NOT EXISTS flows_by_time ON flows (ts_us)";
const DNS_BY_TIME: &str = "CREATE INDEX IF NOT EXISTS dns_by_time ON dns (ts_us)";
const ROLLUPS_BY_HOUR: &str = "CREATE INDEX IF NOT EXISTS rollups_by_hour ON rollups_hourly (hour)";
const COVERAGE_BY_HOUR: &str =
    "CREATE INDEX IF NOT EXISTS coverage_by_hour ON coverage_hourly (hour)";
const NOTICES_BY_TIME: &str = "CREATE INDEX IF NOT EXISTS notices_by_time ON notices (ts_us)";

/// One row per notice key: a second row of a key (a restart's, another sensor's) is ignored
/// (`INSERT OR IGNORE`), and whether a key was raised is a lookup in this index.
const NOTICES_BY_KEY: &str =
    "CREATE UNIQUE INDEX IF NOT EXISTS notices_by_key ON notices (kind, day, user, subject)";

/// The indexes reports read by (see `store::read`), each for a read that would otherwise go
/// through every row of its period. Partial indexes hold the few flows and lookups a read is
/// about.
///
/// Candidates, agents' flows and encrypted DNS: `CandidateFlowUse`, `CandidateLookupUse`,
/// `ProgramUse` (every column it reads, so no row is looked up), `EncryptedDnsUse`, each read
/// through its own (`Dialect::indexed_by`). The filter's columns follow the time, so that only
/// the rows a filter lets through are looked up.
const FLOWS_OF_CANDIDATES: &str = "CREATE INDEX IF NOT EXISTS flows_of_candidates ON flows \
    (ts_us, user, app_id, user_group, sensor) WHERE candidate = 1";
const DNS_OF_CANDIDATES: &str = "CREATE INDEX IF NOT EXISTS dns_of_candidates ON dns \
    (ts_us, user, app_id, user_group, sensor) WHERE candidate = 1";
const FLOWS_OF_AGENTS: &str = "CREATE INDEX IF NOT EXISTS flows_of_agents ON flows (ts_us, user, \
    app_id, user_group, sensor, device, client_ip, client_software, part, bytes_up, user_kind) \
    WHERE user_kind = 'agent'";
const FLOWS_OF_ENCRYPTED_DNS: &str = "CREATE INDEX IF NOT EXISTS flows_of_encrypted_dns ON flows \
    (ts_us, user, app_id, user_group, sensor) WHERE encrypted_dns IS NOT NULL";
/// `CoverageOf`: a period's coverage, every column.
const COVERAGE_OF_HOURS: &str = "CREATE INDEX IF NOT EXISTS coverage_of_hours ON coverage_hourly \
    (hour, sensor, transport, protocol, name_source, ech_kind, one_way, encrypted_dns, flows, \
    bytes_up, bytes_down, evicted)";

/// SQLite's physical design of one table: what its declaration does not say.
struct Shape {
    table: Table,
    /// A row id column before the declared ones (evidence rows have one).
    row_id: bool,
    /// Keyed by its rollup key (or `key`), without a row id.
    key: Option<&'static str>,
    /// `CREATE INDEX` statements.
    indexes: &'static [&'static str],
}

const SHAPES: [Shape; 8] = [
    Shape {
        table: FileRow::TABLE,
        row_id: false,
        key: None,
        indexes: &["CREATE INDEX IF NOT EXISTS files_by_sha256 ON files (sha256)"],
    },
    Shape {
        table: FlowRow::TABLE,
        row_id: true,
        key: None,
        indexes: &[
            "CREATE INDEX IF NOT EXISTS flows_by_app_time ON flows (app_id, ts_us)",
            "CREATE INDEX IF NOT EXISTS flows_by_user_time ON flows (user, ts_us)",
            FLOWS_BY_TIME,
            FLOWS_OF_CANDIDATES,
            FLOWS_OF_AGENTS,
            FLOWS_OF_ENCRYPTED_DNS,
        ],
    },
    Shape {
        table: DnsRow::TABLE,
        row_id: true,
        key: None,
        indexes: &[
            "CREATE INDEX IF NOT EXISTS dns_by_app_time ON dns (app_id, ts_us)",
            DNS_BY_TIME,
            DNS_OF_CANDIDATES,
        ],
    },
    Shape {
        table: RollupRow::TABLE,
        row_id: false,
        key: Some(""),
        indexes: &[ROLLUPS_BY_HOUR],
    },
    Shape {
        table: CoverageRow::TABLE,
        row_id: false,
        key: Some(""),
        indexes: &[COVERAGE_BY_HOUR, COVERAGE_OF_HOURS],
    },
    Shape {
        table: NoticeRow::TABLE,
        row_id: true,
        key: None,
        indexes: &[NOTICES_BY_KEY, NOTICES_BY_TIME],
    },
    Shape {
        table: PseudonymRow::TABLE,
        row_id: false,
        key: Some("token"),
        indexes: &[],
    },
    Shape {
        table: HealthRow::TABLE,
        row_id: false,
        key: Some("sensor"),
        indexes: &[],
    },
];

impl Shape {
    /// Its key's columns, if it has one.
    fn key(&self) -> Option<String> {
        match self.key {
            Some("") => Some(names(self.table.keys())),
            Some(k) => Some(k.to_string()),
            None => None,
        }
    }

    /// `CREATE TABLE IF NOT EXISTS` and its indexes.
    fn create(&self) -> String {
        let mut extra = Vec::new();
        if self.row_id {
            extra.push("id INTEGER PRIMARY KEY".to_string());
        }
        let key = self.key();
        if let Some(k) = &key {
            extra.push(format!("PRIMARY KEY ({k})"));
        }
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let mut sql = self.table.sqlite_create(&extra);
        if key.is_some() {
            sql += " WITHOUT ROWID";
        }
        sql += ";\n";
        for index in self.indexes {
            sql += index;
            sql += ";\n";
        }
        sql
    }
}

/// What tells the rows of `table` apart, for a delete to choose them by: its row id, else its
/// key (`rowid` for a table without either).
pub(super) fn row_key(table: &str) -> String {
    let shape = SHAPES.iter().find(|s| s.table.name == table);
    match (shape.map(|s| s.row_id), shape.and_then(Shape::key)) {
        (Some(true), _) => "id".to_string(),
        (_, Some(key)) => key,
        _ => "rowid".to_string(),
    }
}

/// Every table and index, each created only if missing.
fn create_all() -> String {
    let mut sql = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
        .to_string();
    for shape in &SHAPES {
        sql += &shape.create();
    }
    sql
}

/// The columns declared since version `v` that a table of the store lacks, added. A table
/// that does not exist yet is left to [`create_all`].
fn add_columns(conn: &Connection, v: u32) -> rusqlite::Result<()> {
    for shape in &SHAPES {
        let table = shape.table;
        let present = columns(conn, table.name)?;
        if present.is_empty() {
            continue;
        }
        for column in table.added_in(v).filter(|c| c.in_sqlite()) {
            if !present.iter().any(|p| p == column.name) {
                conn.execute_batch(&format!(
                    "ALTER TABLE {} ADD COLUMN {}",
                    table.name,
                    column.sqlite_decl()
                ))?;
            }
        }
    }
    Ok(())
}

/// The columns a table has (none when it does not exist).
fn columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut query = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let names = query.query_map([table], |r| r.get(0))?;
    names.collect()
}

/// The name of the index a `CREATE INDEX IF NOT EXISTS NAME ON ...` statement makes.
fn index_name(statement: &str) -> &str {
    let after = statement
        .split_once(" EXISTS ")
        .map_or("", |(_, rest)| rest);
    after.split_whitespace().next().unwrap_or("")
}

/// Whether an index of [`SHAPES`] is not in the file (added by a later lantern than the one
/// that made it, at the same schema version: indexes are physical design, not schema).
fn indexes_missing(conn: &Connection) -> rusqlite::Result<bool> {
    let mut query = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'index'")?;
    let present: Vec<String> = query
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok((SHAPES.iter().flat_map(|s| s.indexes.iter()))
        .any(|i| !present.iter().any(|p| p == index_name(i))))
}

/// The store's schema version: `None` for a new file.
pub(super) fn version(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    if columns(conn, "meta")?.is_empty() {
        return Ok(None);
    }
    let found: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    Ok(found.and_then(|v| v.parse::<i64>().ok()))
}

/// Brings the schema of an open store to [`SCHEMA_VERSION`], in one transaction: a new file
/// gets every table as declared now, an older one is migrated, a newer one is refused.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreFault> {
    let current = i64::from(SCHEMA_VERSION);
    // A store already current, with every index, is only read: opening it never waits for the
    // write lock of another process writing it (a daemon, or a replay a second one is refused
    // by).
    if version(conn)? == Some(current) && !indexes_missing(conn)? {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    match version(&tx)? {
        // Current but for an index added since it was made: `create_all` makes it (once,
        // reading the table it indexes).
        Some(v) if v == current => {}
        Some(newer) if newer > current => return Err(StoreFault::Newer(newer)),
        Some(old) => {
            let from = usize::try_from(old.max(1) - 1).unwrap_or(0);
            for step in FROZEN.iter().skip(from) {
                tx.execute_batch(step)?;
            }
            let first = u32::try_from(old.max(4) + 1).unwrap_or(SCHEMA_VERSION);
            for v in first..=SCHEMA_VERSION {
                add_columns(&tx, v)?;
            }
        }
        None => {}
    }
    tx.execute_batch(&create_all())?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [current.to_string()],
    )?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    #[test]
    fn every_declared_table_has_a_shape_and_rows_told_apart() {
        let shaped: Vec<&str> = SHAPES.iter().map(|s| s.table.name).collect();
        let declared: Vec<&str> = crate::store::tables::ALL.iter().map(|t| t.name).collect();
        assert_eq!(shaped.len(), declared.len());
        assert!(declared.iter().all(|t| shaped.contains(t)), "{shaped:?}");
        assert_eq!(row_key("flows"), "id");
        assert_eq!(
            row_key("rollups_hourly"),
            "sensor, hour, user, app_id, user_source, user_kind, device, user_group"
        );
        assert_eq!(
            row_key("coverage_hourly"),
            "sensor, hour, transport, protocol, name_source, ech_kind, one_way, encrypted_dns"
        );
        assert_eq!(row_key("sensor_health"), "sensor");
    }

    #[test]
    fn every_index_is_named_once() {
        let mut names: Vec<&str> = (SHAPES.iter().flat_map(|s| s.indexes.iter()))
            .map(|i| index_name(i))
            .collect();
        assert!(names.iter().all(|n| !n.is_empty()), "{names:?}");
        let all = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all, "an index name twice");
    }

    #[test]
    fn a_current_store_gets_the_indexes_added_since_it_was_made() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let index = |conn: &Connection| -> bool {
            conn.query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'flows_of_candidates'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
                == 1
        };
        drop(SqliteStore::open(&path, "s1").unwrap());
        let conn = Connection::open(&path).unwrap();
        assert!(index(&conn) && !indexes_missing(&conn).unwrap());
        conn.execute_batch("DROP INDEX flows_of_candidates")
            .unwrap();
        assert!(indexes_missing(&conn).unwrap());
        drop(conn);
        let store = SqliteStore::open(&path, "s1").unwrap();
        assert!(index(store.connection()));
        assert!(!indexes_missing(store.connection()).unwrap());
    }

    /// The tables of a version-2 store, as lantern wrote them before attribution.
    const V2_SCHEMA: &str = "
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema_version', '2');
        CREATE TABLE flows (id INTEGER PRIMARY KEY, sensor TEXT NOT NULL, ts_us INTEGER NOT NULL,
            end_ts_us INTEGER NOT NULL, flow_id INTEGER NOT NULL, client_ip TEXT NOT NULL,
            client_port INTEGER NOT NULL, server_ip TEXT NOT NULL, server_port INTEGER NOT NULL,
            transport TEXT NOT NULL, protocol TEXT NOT NULL, server_name TEXT,
            name_source TEXT NOT NULL, user TEXT NOT NULL, user_source TEXT NOT NULL, app_id TEXT,
            app_pattern TEXT, candidate INTEGER NOT NULL, bytes_up INTEGER NOT NULL,
            bytes_down INTEGER NOT NULL, packets_up INTEGER NOT NULL,
            packets_down INTEGER NOT NULL, tls_version TEXT, tls_alpn TEXT, ja4 TEXT, ech INTEGER);
        CREATE TABLE dns (id INTEGER PRIMARY KEY, sensor TEXT NOT NULL, ts_us INTEGER NOT NULL,
            flow_id INTEGER NOT NULL, client_ip TEXT NOT NULL, client_port INTEGER NOT NULL,
            server_ip TEXT NOT NULL, server_port INTEGER NOT NULL, transport TEXT NOT NULL,
            query TEXT NOT NULL, qtype TEXT NOT NULL, rcode TEXT, answers TEXT NOT NULL,
            user TEXT NOT NULL, user_source TEXT NOT NULL, app_id TEXT, app_pattern TEXT,
            candidate INTEGER NOT NULL);
        CREATE TABLE rollups_hourly (sensor TEXT NOT NULL, hour INTEGER NOT NULL,
            user TEXT NOT NULL, app_id TEXT NOT NULL, flows INTEGER NOT NULL,
            dns_lookups INTEGER NOT NULL, bytes_up INTEGER NOT NULL, bytes_down INTEGER NOT NULL,
            first_seen_us INTEGER NOT NULL, last_seen_us INTEGER NOT NULL,
            PRIMARY KEY (sensor, hour, user, app_id)) WITHOUT ROWID;
        INSERT INTO rollups_hourly VALUES ('s1', 3600, '10.0.0.2', 'openai-chatgpt', 2, 1, 100, 0, 1, 2);
    ";

    #[test]
    fn older_stores_are_migrated_and_a_newer_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        for (version, downgrade) in [
            (2, ""),
            (
                1,
                "ALTER TABLE flows DROP COLUMN app_pattern;
                 ALTER TABLE dns DROP COLUMN app_pattern;
                 UPDATE meta SET value = '1' WHERE key = 'schema_version';",
            ),
        ] {
            let path = dir.path().join(format!("v{version}.db"));
            let old = Connection::open(&path).unwrap();
            old.execute_batch(V2_SCHEMA).unwrap();
            old.execute_batch(downgrade).unwrap();
            drop(old);
            let store = SqliteStore::open(&path, "s1").unwrap();
            let row: (String, String, String, String, i64) = store
                .connection()
                .query_row(
                    "SELECT user, user_source, user_kind, device || user_group, flows FROM rollups_hourly",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .unwrap();
            assert_eq!(
                row,
                (
                    "10.0.0.2".into(),
                    "ip".into(),
                    "unknown".into(),
                    String::new(),
                    2
                ),
                "from version {version}"
            );
        }
        let path = dir.path().join("old.db");
        std::fs::copy(dir.path().join("v1.db"), &path).unwrap();
        let store = SqliteStore::open(&path, "s1").unwrap();
        let version: String = store
            .connection()
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION.to_string());
        store
            .connection()
            .execute_batch(
                "SELECT app_pattern, user_kind, device, user_group FROM flows;
                 SELECT app_pattern, user_kind, device, user_group FROM dns;
                 SELECT user_source, user_kind, device, user_group FROM rollups_hourly;
                 SELECT token, sealed FROM pseudonyms;
                 SELECT sensor, ts_us, spool_batches FROM sensor_health;",
            )
            .unwrap();
        store
            .connection()
            .execute(
                "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
                [],
            )
            .unwrap();
        drop(store);
        let e = SqliteStore::open(&path, "s1").unwrap_err().to_string();
        assert!(
            e.contains(&format!(
                "old.db: store schema version 99 is newer than this lantern's ({SCHEMA_VERSION})"
            )),
            "{e}"
        );
    }
}
