//! The SQLite store. Times are integers: microseconds since the epoch (`*_us`), rollup hours in
//! seconds. Writes are batched: each call to [`SqliteStore::write`] is one transaction.

use super::read::app_list;
use super::{FirstSeen, StoreError, StoreFault, StoredCandidate, StoredRollup, StoredServerUse};
use crate::capture::Timestamp;
use crate::output::{DnsEvidence, FlowEvidence, Rfc3339, Rollup, RollupKey};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};

/// The schema version this code writes. Version 2 added `app_pattern` to `flows` and `dns`;
/// version 3 added who a row is attributed to (`user_kind`, `device`, `user_group`) to `flows`
/// and `dns`, keyed rollups by user source, kind and device too, and added `pseudonyms`;
/// version 4 keyed rollups by the user's group too (a policy's exceptions are by group).
pub(super) const SCHEMA_VERSION: i64 = 4;

/// What turns a version-1 store into a version-2 one.
const MIGRATE_1_TO_2: &str = "
ALTER TABLE flows ADD COLUMN app_pattern TEXT;
ALTER TABLE dns ADD COLUMN app_pattern TEXT;
UPDATE meta SET value = '2' WHERE key = 'schema_version';
";

/// What turns a version-2 store into a version-3 one. Rows written before attribution existed
/// were attributed to the client address.
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
UPDATE meta SET value = '3' WHERE key = 'schema_version';
";

/// What turns a version-3 store into a version-4 one: rollups keyed by group too (earlier rows
/// have none).
const MIGRATE_3_TO_4: &str = "
ALTER TABLE rollups_hourly RENAME TO rollups_hourly_v3;
CREATE TABLE rollups_hourly (ROLLUP_COLUMNS;
INSERT INTO rollups_hourly (sensor, hour, user, app_id, user_source, user_kind, device,
    user_group, flows, dns_lookups, bytes_up, bytes_down, first_seen_us, last_seen_us)
    SELECT sensor, hour, user, app_id, user_source, user_kind, device, '', flows, dns_lookups,
    bytes_up, bytes_down, first_seen_us, last_seen_us FROM rollups_hourly_v3;
DROP TABLE rollups_hourly_v3;
UPDATE meta SET value = '4' WHERE key = 'schema_version';
";

/// The hourly rollups' columns and key.
const ROLLUP_COLUMNS: &str = "
    sensor TEXT NOT NULL,
    hour INTEGER NOT NULL,
    user TEXT NOT NULL,
    app_id TEXT NOT NULL,
    user_source TEXT NOT NULL,
    user_kind TEXT NOT NULL,
    device TEXT NOT NULL,
    user_group TEXT NOT NULL,
    flows INTEGER NOT NULL,
    dns_lookups INTEGER NOT NULL,
    bytes_up INTEGER NOT NULL,
    bytes_down INTEGER NOT NULL,
    first_seen_us INTEGER NOT NULL,
    last_seen_us INTEGER NOT NULL,
    PRIMARY KEY (sensor, hour, user, app_id, user_source, user_kind, device, user_group)
) WITHOUT ROWID";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    sensor TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    packets INTEGER NOT NULL DEFAULT 0,
    first_ts_us INTEGER,
    last_ts_us INTEGER,
    complete INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    ingested_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS files_by_sha256 ON files (sha256);
CREATE TABLE IF NOT EXISTS flows (
    id INTEGER PRIMARY KEY,
    sensor TEXT NOT NULL,
    ts_us INTEGER NOT NULL,
    end_ts_us INTEGER NOT NULL,
    flow_id INTEGER NOT NULL,
    client_ip TEXT NOT NULL,
    client_port INTEGER NOT NULL,
    server_ip TEXT NOT NULL,
    server_port INTEGER NOT NULL,
    transport TEXT NOT NULL,
    protocol TEXT NOT NULL,
    server_name TEXT,
    name_source TEXT NOT NULL,
    user TEXT NOT NULL,
    user_source TEXT NOT NULL,
    user_kind TEXT NOT NULL DEFAULT 'unknown',
    device TEXT,
    user_group TEXT,
    app_id TEXT,
    app_pattern TEXT,
    candidate INTEGER NOT NULL,
    bytes_up INTEGER NOT NULL,
    bytes_down INTEGER NOT NULL,
    packets_up INTEGER NOT NULL,
    packets_down INTEGER NOT NULL,
    tls_version TEXT,
    tls_alpn TEXT,
    ja4 TEXT,
    ech INTEGER
);
CREATE INDEX IF NOT EXISTS flows_by_app_time ON flows (app_id, ts_us);
CREATE INDEX IF NOT EXISTS flows_by_user_time ON flows (user, ts_us);
CREATE TABLE IF NOT EXISTS dns (
    id INTEGER PRIMARY KEY,
    sensor TEXT NOT NULL,
    ts_us INTEGER NOT NULL,
    flow_id INTEGER NOT NULL,
    client_ip TEXT NOT NULL,
    client_port INTEGER NOT NULL,
    server_ip TEXT NOT NULL,
    server_port INTEGER NOT NULL,
    transport TEXT NOT NULL,
    query TEXT NOT NULL,
    qtype TEXT NOT NULL,
    rcode TEXT,
    answers TEXT NOT NULL,
    user TEXT NOT NULL,
    user_source TEXT NOT NULL,
    user_kind TEXT NOT NULL DEFAULT 'unknown',
    device TEXT,
    user_group TEXT,
    app_id TEXT,
    app_pattern TEXT,
    candidate INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS dns_by_app_time ON dns (app_id, ts_us);
CREATE TABLE IF NOT EXISTS rollups_hourly (ROLLUP_COLUMNS;
CREATE TABLE IF NOT EXISTS pseudonyms (
    token TEXT PRIMARY KEY,
    sealed BLOB NOT NULL
) WITHOUT ROWID;
";

/// A file that an earlier run ingested.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestedFile {
    /// Row id.
    pub id: i64,
    /// The sensor that ingested it.
    pub sensor: String,
    /// Its path then.
    pub path: String,
    /// When (wall clock, RFC 3339).
    pub ingested_at: String,
    /// Whether that run read it to the end.
    pub complete: bool,
}

/// A file about to be ingested.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewFile {
    /// Path as given.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the whole file, hex.
    pub sha256: String,
}

/// What one write adds to the store.
#[derive(Clone, Copy, Debug, Default)]
pub struct Batch<'a> {
    /// Flow evidence rows.
    pub flows: &'a [FlowEvidence],
    /// DNS evidence rows.
    pub lookups: &'a [DnsEvidence],
    /// Rollups to add.
    pub rollups: &'a [(RollupKey, Rollup)],
    /// (token, sealed name) pairs.
    pub pseudonyms: &'a [(String, Vec<u8>)],
}

/// Evidence and rollups in a SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    sensor: String,
}

fn us(t: Timestamp) -> i64 {
    t.0.div_euclid(1000)
}

/// A count read back: stored from a `u64` by [`int`], so never negative.
fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The tables to create: all of them in a new file; in an older one, those its migration does
/// not make (an old `rollups_hourly` is rebuilt by the migration, so it is not created here).
fn schema(conn: &Connection) -> rusqlite::Result<String> {
    let has_meta: bool = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
        [],
        |r| r.get(0),
    )?;
    let schema = SCHEMA.replace("ROLLUP_COLUMNS", ROLLUP_COLUMNS);
    if !has_meta {
        return Ok(schema);
    }
    // An existing store: leave rollups_hourly to the migration.
    Ok(schema.replace(
        &format!("CREATE TABLE IF NOT EXISTS rollups_hourly ({ROLLUP_COLUMNS};"),
        "",
    ))
}

/// Brings the schema of an open store to [`SCHEMA_VERSION`]: a new file gets the tables
/// as they are now (`SCHEMA` creates only what is missing), an older one is migrated, a newer one
/// is refused.
fn migrate(conn: &Connection) -> Result<(), StoreFault> {
    let found: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    let version = found.and_then(|v| v.parse::<i64>().ok());
    match version {
        None => {
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)",
                [SCHEMA_VERSION.to_string()],
            )?;
        }
        Some(old @ 1..=3) => {
            let to_4 = MIGRATE_3_TO_4.replace("ROLLUP_COLUMNS", ROLLUP_COLUMNS);
            let steps = [MIGRATE_1_TO_2, MIGRATE_2_TO_3, &to_4];
            let from = usize::try_from(old - 1).unwrap_or(0);
            conn.execute_batch(&format!("BEGIN;{}COMMIT;", steps[from..].concat()))?;
        }
        Some(SCHEMA_VERSION) => {}
        Some(newer) => return Err(StoreFault::Newer(newer)),
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path`, writing as `sensor`.
    pub fn open(path: &Path, sensor: &str) -> Result<SqliteStore, StoreError> {
        let wrap = |source: rusqlite::Error| StoreError {
            place: path.display().to_string(),
            source: source.into(),
        };
        let conn = Connection::open(path).map_err(wrap)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(wrap)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(wrap)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(wrap)?;
        conn.execute_batch(&schema(&conn).map_err(wrap)?)
            .map_err(wrap)?;
        migrate(&conn).map_err(|source| StoreError {
            place: path.display().to_string(),
            source,
        })?;
        Ok(SqliteStore {
            conn,
            path: path.to_path_buf(),
            sensor: sensor.to_string(),
        })
    }

    /// The store's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn wrap(&self, source: rusqlite::Error) -> StoreError {
        StoreError {
            place: self.path.display().to_string(),
            source: source.into(),
        }
    }

    /// The earliest ingestion of a file with this SHA-256, if any.
    pub fn find_file(&self, sha256: &str) -> Result<Option<IngestedFile>, StoreError> {
        self.conn
            .query_row(
                "SELECT id, sensor, path, ingested_at, complete FROM files WHERE sha256 = ?1 ORDER BY id LIMIT 1",
                [sha256],
                |row| {
                    Ok(IngestedFile {
                        id: row.get(0)?,
                        sensor: row.get(1)?,
                        path: row.get(2)?,
                        ingested_at: row.get(3)?,
                        complete: row.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.wrap(e))
    }

    /// Records that a file is being ingested (incomplete until [`finish_file`](Self::finish_file)).
    pub fn start_file(&mut self, file: &NewFile, now: Timestamp) -> Result<i64, StoreError> {
        self.conn
            .execute(
                "INSERT INTO files (sensor, path, size, sha256, ingested_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![self.sensor, file.path, int(file.size), file.sha256, Rfc3339(now).to_string()],
            )
            .map_err(|e| self.wrap(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records how the ingestion of a file ended.
    pub fn finish_file(
        &mut self,
        id: i64,
        packets: u64,
        span: Option<(Timestamp, Timestamp)>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE files SET packets = ?2, first_ts_us = ?3, last_ts_us = ?4, complete = ?5, error = ?6 WHERE id = ?1",
                params![
                    id,
                    int(packets),
                    span.map(|s| us(s.0)),
                    span.map(|s| us(s.1)),
                    error.is_none(),
                    error
                ],
            )
            .map_err(|e| self.wrap(e))?;
        Ok(())
    }

    /// Writes evidence rows, adds rollups and keeps sealed pseudonyms, in one transaction.
    pub fn write(&mut self, batch: &Batch<'_>) -> Result<(), StoreError> {
        self.write_tx(batch).map_err(|e| self.wrap(e))
    }

    fn write_tx(&mut self, batch: &Batch<'_>) -> rusqlite::Result<()> {
        let Batch {
            flows,
            lookups,
            rollups,
            pseudonyms,
        } = *batch;
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO flows (sensor, ts_us, end_ts_us, flow_id, client_ip, client_port, server_ip,
                    server_port, transport, protocol, server_name, name_source, user, user_source, app_id,
                    app_pattern, candidate, bytes_up, bytes_down, packets_up, packets_down, tls_version, tls_alpn,
                    ja4, ech, user_kind, device, user_group)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
                    ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28)",
            )?;
            for f in flows {
                insert.execute(params![
                    self.sensor,
                    us(f.ts),
                    us(f.end_ts),
                    int(f.flow_id),
                    f.client_ip,
                    f.client_port,
                    f.server_ip,
                    f.server_port,
                    f.transport,
                    f.protocol,
                    f.server_name,
                    f.name_source,
                    f.user,
                    f.user_source,
                    f.app_id,
                    f.app_pattern,
                    f.candidate,
                    int(f.bytes_up),
                    int(f.bytes_down),
                    int(f.packets_up),
                    int(f.packets_down),
                    f.tls_version,
                    f.tls_alpn,
                    f.ja4,
                    f.ech,
                    f.user_kind,
                    f.device,
                    f.group
                ])?;
            }
            let mut insert = tx.prepare_cached(
                "INSERT INTO dns (sensor, ts_us, flow_id, client_ip, client_port, server_ip, server_port,
                    transport, query, qtype, rcode, answers, user, user_source, app_id, app_pattern, candidate,
                    user_kind, device, user_group)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
                    ?19, ?20)",
            )?;
            for d in lookups {
                insert.execute(params![
                    self.sensor,
                    us(d.ts),
                    int(d.flow_id),
                    d.client_ip,
                    d.client_port,
                    d.server_ip,
                    d.server_port,
                    d.transport,
                    d.query,
                    d.qtype,
                    d.rcode,
                    d.answers,
                    d.user,
                    d.user_source,
                    d.app_id,
                    d.app_pattern,
                    d.candidate,
                    d.user_kind,
                    d.device,
                    d.group
                ])?;
            }
            let mut upsert = tx.prepare_cached(
                "INSERT INTO rollups_hourly (sensor, hour, user, app_id, flows, dns_lookups, bytes_up,
                    bytes_down, first_seen_us, last_seen_us, user_source, user_kind, device, user_group)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                 ON CONFLICT (sensor, hour, user, app_id, user_source, user_kind, device, user_group)
                 DO UPDATE SET
                    flows = flows + excluded.flows,
                    dns_lookups = dns_lookups + excluded.dns_lookups,
                    bytes_up = bytes_up + excluded.bytes_up,
                    bytes_down = bytes_down + excluded.bytes_down,
                    first_seen_us = min(first_seen_us, excluded.first_seen_us),
                    last_seen_us = max(last_seen_us, excluded.last_seen_us)",
            )?;
            for (key, r) in rollups {
                upsert.execute(params![
                    self.sensor,
                    key.hour.secs(),
                    key.user,
                    key.app_id,
                    int(r.flows),
                    int(r.dns_lookups),
                    int(r.bytes_up),
                    int(r.bytes_down),
                    us(r.first_seen),
                    us(r.last_seen),
                    key.user_source,
                    key.user_kind,
                    key.device,
                    key.group
                ])?;
            }
            let mut seal = tx.prepare_cached(
                "INSERT OR IGNORE INTO pseudonyms (token, sealed) VALUES (?1, ?2)",
            )?;
            for (token, sealed) in pseudonyms {
                seal.execute(params![token, sealed])?;
            }
        }
        tx.commit()
    }

    /// The sealed name of a pseudonym token, if this store holds it.
    pub fn sealed(&self, token: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn
            .query_row(
                "SELECT sealed FROM pseudonyms WHERE token = ?1",
                [token],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.wrap(e))
    }

    /// Rollups of the hours in `[from, to)` (seconds).
    pub fn rollups(&self, from: i64, to: i64) -> Result<Vec<StoredRollup>, StoreError> {
        let rows = || -> rusqlite::Result<Vec<StoredRollup>> {
            let mut query = self.conn.prepare_cached(
                "SELECT sensor, hour, user, app_id, user_source, user_kind, device, user_group,
                    flows, dns_lookups, bytes_up, bytes_down, first_seen_us, last_seen_us
                 FROM rollups_hourly WHERE hour >= ?1 AND hour < ?2",
            )?;
            let rows = query.query_map([from, to], |r| {
                Ok(StoredRollup {
                    sensor: r.get(0)?,
                    hour: r.get(1)?,
                    user: r.get(2)?,
                    app_id: r.get(3)?,
                    user_source: r.get(4)?,
                    user_kind: r.get(5)?,
                    device: r.get(6)?,
                    user_group: r.get(7)?,
                    flows: count(r.get(8)?),
                    dns_lookups: count(r.get(9)?),
                    bytes_up: count(r.get(10)?),
                    bytes_down: count(r.get(11)?),
                    first_seen_us: r.get(12)?,
                    last_seen_us: r.get(13)?,
                })
            })?;
            rows.collect()
        };
        rows().map_err(|e| self.wrap(e))
    }

    /// Each app's earliest activity.
    pub fn first_seen(&self) -> Result<Vec<FirstSeen>, StoreError> {
        let rows = || -> rusqlite::Result<Vec<FirstSeen>> {
            let mut query = self.conn.prepare_cached(
                "SELECT app_id, min(first_seen_us) FROM rollups_hourly GROUP BY app_id",
            )?;
            let rows = query.query_map([], |r| {
                Ok(FirstSeen {
                    app_id: r.get(0)?,
                    first_seen_us: r.get(1)?,
                })
            })?;
            rows.collect()
        };
        rows().map_err(|e| self.wrap(e))
    }

    /// Uncatalogued names that look like AI, per user, in `[from_us, to_us)`.
    pub fn candidates(&self, from_us: i64, to_us: i64) -> Result<Vec<StoredCandidate>, StoreError> {
        let rows = || -> rusqlite::Result<Vec<StoredCandidate>> {
            let mut query = self.conn.prepare_cached(
                "SELECT name, user, sum(f), sum(l) FROM (
                    SELECT server_name AS name, user, 1 AS f, 0 AS l FROM flows
                        WHERE candidate = 1 AND server_name IS NOT NULL
                        AND ts_us >= ?1 AND ts_us < ?2
                    UNION ALL
                    SELECT query, user, 0, 1 FROM dns
                        WHERE candidate = 1 AND ts_us >= ?1 AND ts_us < ?2)
                 GROUP BY name, user",
            )?;
            let rows = query.query_map([from_us, to_us], |r| {
                Ok(StoredCandidate {
                    name: r.get(0)?,
                    user: r.get(1)?,
                    flows: count(r.get(2)?),
                    lookups: count(r.get(3)?),
                })
            })?;
            rows.collect()
        };
        rows().map_err(|e| self.wrap(e))
    }

    /// Flows to the servers of `apps` in `[from_us, to_us)`, per app, server and user.
    pub fn server_use(
        &self,
        from_us: i64,
        to_us: i64,
        apps: &[&str],
    ) -> Result<Vec<StoredServerUse>, StoreError> {
        let rows = || -> rusqlite::Result<Vec<StoredServerUse>> {
            let mut query = self.conn.prepare(&format!(
                "SELECT app_id, server_ip, server_port, user, count(*), sum(bytes_up) FROM flows
                 WHERE ts_us >= ?1 AND ts_us < ?2 AND app_id IN {}
                 GROUP BY app_id, server_ip, server_port, user",
                app_list(apps)
            ))?;
            let rows = query.query_map([from_us, to_us], |r| {
                Ok(StoredServerUse {
                    app_id: r.get(0)?,
                    server_ip: r.get(1)?,
                    server_port: r.get(2)?,
                    user: r.get(3)?,
                    flows: count(r.get(4)?),
                    bytes_up: count(r.get(5)?),
                })
            })?;
            rows.collect()
        };
        rows().map_err(|e| self.wrap(e))
    }

    /// Direct access for reports and tests.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollup(flows: u64, up: u64, first: i64, last: i64) -> Rollup {
        Rollup {
            flows,
            dns_lookups: 1,
            bytes_up: up,
            bytes_down: 0,
            first_seen: Timestamp::from_secs(first),
            last_seen: Timestamp::from_secs(last),
        }
    }

    #[test]
    fn rollups_add_up_across_writes_and_files_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let key = RollupKey {
            hour: Timestamp::from_secs(3600),
            user: "10.0.0.2".into(),
            app_id: "openai-chatgpt".into(),
            user_source: "ip",
            user_kind: "unknown",
            device: String::new(),
            group: String::new(),
        };
        {
            let mut store = SqliteStore::open(&path, "s1").unwrap();
            store
                .write(&Batch {
                    rollups: &[(key.clone(), rollup(2, 100, 3700, 3800))],
                    ..Batch::default()
                })
                .unwrap();
            let id = store
                .start_file(
                    &NewFile {
                        path: "a.pcap".into(),
                        size: 10,
                        sha256: "ab".into(),
                    },
                    Timestamp::from_secs(0),
                )
                .unwrap();
            store.finish_file(id, 5, None, None).unwrap();
        }
        let mut store = SqliteStore::open(&path, "s1").unwrap();
        store
            .write(&Batch {
                rollups: &[(key, rollup(1, 50, 3650, 3790))],
                ..Batch::default()
            })
            .unwrap();
        let row: (i64, i64, i64, i64, i64) = store
            .connection()
            .query_row(
                "SELECT flows, dns_lookups, bytes_up, first_seen_us, last_seen_us FROM rollups_hourly",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .unwrap();
        assert_eq!(row, (3, 2, 150, 3_650_000_000, 3_800_000_000));
        let found = store.find_file("ab").unwrap().unwrap();
        assert_eq!((found.path.as_str(), found.complete), ("a.pcap", true));
        assert!(store.find_file("cd").unwrap().is_none());
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
                 SELECT token, sealed FROM pseudonyms;",
            )
            .unwrap();
        store
            .connection()
            .execute(
                "UPDATE meta SET value = '9' WHERE key = 'schema_version'",
                [],
            )
            .unwrap();
        drop(store);
        let e = SqliteStore::open(&path, "s1").unwrap_err().to_string();
        assert!(
            e.contains("old.db: store schema version 9 is newer than this lantern's (4)"),
            "{e}"
        );
    }
}
