//! Schema: how a store table is declared once, and everything both stores make of it.
//!
//! A table is declared with [`table!`](crate::table) in [`tables`](super::tables): one line
//! per column with its Rust type, what it is made from, and options ([`Opts`]: the schema
//! version that added it, a default for older rows, which store keeps it, its part in a
//! rollup), and how long the table keeps its rows ([`Kept`], which both stores' pruning goes
//! by). The macro makes the row struct (one shape that output builds, the SQLite store
//! binds, the spool holds and ClickHouse inserts) and its [`Table`] of [`Column`]s, from which
//! this module makes the SQLite DDL, inserts and reads, the ClickHouse column lists, the
//! migrations that add columns, and the table of columns in `docs/store.md`. Column types come
//! from the Rust types ([`ColumnType`]), so the two stores cannot disagree with the struct.
//!
//! Why a `macro_rules!` table and not generated files or a derive: the declaration stays
//! ordinary Rust beside the types it reads from, the compiler checks every conversion, and the
//! column list is a `const` that tests, both stores and the check of `docs/store.md` read at no
//! cost.
//!
//! Migrations only add columns. A column that must change type or go away needs a migration
//! written by hand (as the SQLite store's versions 1 to 4 were).

use rusqlite::types::ToSqlOutput;

/// The schema version this lantern writes, in both stores and in spooled batches.
///
/// 1-4: SQLite only (see `sqlite/migrate.rs`); a ClickHouse store without a version is version 4.
/// 5: `flows.ech_kind` and `flows.name_alternatives`; ClickHouse keeps its version.
/// 6: the `sensor_health` table.
/// 7: `flows.part` and `flows.interim`: a flow open past the active timeout has several rows.
/// 8: `files.quick_key`, looked up before a replay, whose file is hashed as it is read.
/// 9: the requests of a plaintext HTTP connection and encrypted DNS on `flows`; the
///    `coverage_hourly` table.
/// 10: the `notices` table: each notice raised, once per key, so that a restart or another
///     sensor does not raise it again.
pub const SCHEMA_VERSION: u32 = 10;

/// The first version whose columns the declarations carry (earlier ones are SQLite's frozen
/// migrations).
pub const BASE_VERSION: u32 = 4;

/// Which stores keep a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stores {
    /// Both.
    Both,
    /// ClickHouse only (a batch id, a row version).
    ClickHouse,
}

/// A column's part in a rollup table: what a later write does with the stored value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Not a rollup column, or part of its key.
    Plain,
    /// Part of the key: rows with the same key are one row.
    Key,
    /// Added up.
    Sum,
    /// The least is kept.
    Min,
    /// The greatest is kept.
    Max,
}

/// The options of one column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opts {
    /// The schema version that added the column.
    pub since: u32,
    /// SQL for the value of rows written before the column existed (a literal), for a column
    /// that cannot be NULL.
    pub default: Option<&'static str>,
    /// Which stores keep it.
    pub stores: Stores,
    /// Its part in a rollup.
    pub role: Role,
    /// The SQLite type, where it is not the type's own (`INTEGER PRIMARY KEY`).
    pub sqlite: Option<&'static str>,
    /// SQLite assigns it (a row id): inserts leave it out.
    pub sqlite_assigns: bool,
}

impl Opts {
    /// A column of the base version, in both stores.
    pub const fn new() -> Opts {
        Opts {
            since: BASE_VERSION,
            default: None,
            stores: Stores::Both,
            role: Role::Plain,
            sqlite: None,
            sqlite_assigns: false,
        }
    }

    /// Added by schema version `v`.
    pub const fn since(self, v: u32) -> Opts {
        Opts { since: v, ..self }
    }

    /// Rows written before the column existed get `sql`.
    pub const fn default(self, sql: &'static str) -> Opts {
        Opts {
            default: Some(sql),
            ..self
        }
    }

    /// Kept by ClickHouse only.
    pub const fn clickhouse_only(self) -> Opts {
        Opts {
            stores: Stores::ClickHouse,
            ..self
        }
    }

    /// Its part in a rollup.
    pub const fn role(self, role: Role) -> Opts {
        Opts { role, ..self }
    }

    /// SQLite's row id: `INTEGER PRIMARY KEY`, assigned by SQLite on insert.
    pub const fn sqlite_row_id(self) -> Opts {
        Opts {
            sqlite: Some("INTEGER PRIMARY KEY"),
            sqlite_assigns: true,
            ..self
        }
    }
}

impl Default for Opts {
    fn default() -> Opts {
        Opts::new()
    }
}

/// The time a table's rows are judged by when pruning: a column, and its unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Time {
    /// Microseconds since the epoch (`ts_us`).
    Us(&'static str),
    /// Seconds since the epoch (`hour`).
    Secs(&'static str),
}

impl Time {
    /// The column.
    pub const fn column(self) -> &'static str {
        match self {
            Time::Us(c) | Time::Secs(c) => c,
        }
    }

    /// The time in microseconds, as SQL: `ts_us`, `hour * 1000000`.
    pub fn us_sql(self) -> String {
        match self {
            Time::Us(c) => c.to_string(),
            Time::Secs(c) => format!("{c} * 1000000"),
        }
    }
}

/// How long a table keeps its rows (the periods are [`retention`](super::retention)'s): part
/// of its declaration, and what both stores' pruning goes by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kept {
    /// For the evidence period: a row goes once its time is older than the evidence cutoff.
    AsEvidence(Time),
    /// For the rollup period.
    AsRollups(Time),
    /// While a row that stays names its token (the pseudonym seals).
    WhileNamed,
    /// Always (the files ingested: what keeps a file from being replayed twice).
    Always,
}

impl Kept {
    /// The time a row is judged by, for a table whose rows age out.
    pub const fn time(self) -> Option<Time> {
        match self {
            Kept::AsEvidence(t) | Kept::AsRollups(t) => Some(t),
            Kept::WhileNamed | Kept::Always => None,
        }
    }
}

/// One column of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// Its name in both stores.
    pub name: &'static str,
    /// What it holds (the field's doc comment).
    pub doc: &'static [&'static str],
    /// Its SQLite type, from the Rust type.
    pub sqlite_type: &'static str,
    /// Its ClickHouse type, from the Rust type.
    pub clickhouse_type: &'static str,
    /// Its options.
    pub opts: Opts,
}

impl Column {
    /// Whether SQLite keeps it.
    pub const fn in_sqlite(&self) -> bool {
        matches!(self.opts.stores, Stores::Both)
    }

    /// Whether SQLite's inserts set it.
    pub const fn sqlite_inserts(&self) -> bool {
        self.in_sqlite() && !self.opts.sqlite_assigns
    }

    /// Its SQLite type as declared in a `CREATE TABLE`.
    pub fn sqlite_decl(&self) -> String {
        let ty = self.opts.sqlite.unwrap_or(self.sqlite_type);
        match self.opts.default {
            Some(d) => format!("{} {ty} DEFAULT {d}", self.name),
            None => format!("{} {ty}", self.name),
        }
    }

    /// Its ClickHouse type as declared in a `CREATE TABLE` or `ADD COLUMN`.
    pub fn clickhouse_decl(&self) -> String {
        match self.opts.default {
            Some(d) => format!("{} {} DEFAULT {d}", self.name, self.clickhouse_type),
            None => format!("{} {}", self.name, self.clickhouse_type),
        }
    }

    /// Its text for the table in `docs/store.md`.
    pub fn doc_text(&self) -> String {
        let words: Vec<&str> = self.doc.iter().map(|d| d.trim()).collect();
        words.join(" ")
    }
}

/// A table: its name and columns, in the row struct's field order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Table {
    /// Its name in both stores.
    pub name: &'static str,
    /// What a row is.
    pub doc: &'static [&'static str],
    /// How long it keeps its rows.
    pub kept: Kept,
    /// Its columns.
    pub columns: &'static [Column],
}

impl Table {
    /// Columns SQLite keeps.
    pub fn sqlite_columns(&self) -> impl Iterator<Item = &'static Column> {
        self.columns.iter().filter(|c| c.in_sqlite())
    }

    /// Columns of a rollup key.
    pub fn keys(&self) -> impl Iterator<Item = &'static Column> {
        self.columns.iter().filter(|c| c.opts.role == Role::Key)
    }

    /// The names of the columns both stores keep, comma-separated: what a comparison of the
    /// two reads.
    pub fn shared_column_list(&self) -> String {
        names(self.sqlite_columns().filter(|c| !c.opts.sqlite_assigns))
    }

    /// The columns a SQLite `CREATE TABLE` declares, with `extra` (a key, a row id) after.
    pub fn sqlite_create(&self, extra: &[&str]) -> String {
        let mut parts: Vec<String> = self.sqlite_columns().map(Column::sqlite_decl).collect();
        parts.extend(extra.iter().map(|e| e.to_string()));
        format!(
            "CREATE TABLE IF NOT EXISTS {} (\n    {}\n)",
            self.name,
            parts.join(",\n    ")
        )
    }

    /// `INSERT [verb] INTO t (columns) VALUES (?1, ...)` for the columns SQLite's inserts set,
    /// in the order [`table!`](crate::table)'s `bind` binds them.
    pub fn sqlite_insert(&self, verb: &str) -> String {
        let columns: Vec<&Column> = self.columns.iter().filter(|c| c.sqlite_inserts()).collect();
        let values: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
        format!(
            "INSERT {verb} INTO {} ({}) VALUES ({})",
            self.name,
            names(columns.into_iter()),
            values.join(", ")
        )
    }

    /// `SELECT columns FROM t` for the columns SQLite keeps, in the order `from_sqlite` reads.
    pub fn sqlite_select(&self) -> String {
        format!("SELECT {} FROM {}", names(self.sqlite_columns()), self.name)
    }

    /// The ClickHouse columns of a `CREATE TABLE`.
    pub fn clickhouse_columns(&self) -> String {
        let parts: Vec<String> = self.columns.iter().map(Column::clickhouse_decl).collect();
        parts.join(", ")
    }

    /// The schema version that added the table: its oldest column's.
    pub fn since(&self) -> u32 {
        self.columns
            .iter()
            .map(|c| c.opts.since)
            .min()
            .unwrap_or(BASE_VERSION)
    }

    /// Columns added by schema version `v`.
    pub fn added_in(&self, v: u32) -> impl Iterator<Item = &'static Column> {
        self.columns.iter().filter(move |c| c.opts.since == v)
    }
}

/// The table in `docs/store.md` of every column of `tables`: name, SQLite and ClickHouse
/// types, the version that added it, and what it holds.
pub fn markdown(tables: &[Table]) -> String {
    let mut out = String::new();
    for table in tables {
        let doc: Vec<&str> = table.doc.iter().map(|d| d.trim()).collect();
        out += &format!("`{}`: {}\n\n", table.name, doc.join(" "));
        out += "| column | SQLite | ClickHouse | since | what |\n|---|---|---|---|---|\n";
        for c in table.columns {
            let sqlite = match (c.in_sqlite(), c.opts.sqlite) {
                (false, _) => "-",
                (true, Some(own)) => own,
                (true, None) => c.sqlite_type,
            };
            out += &format!(
                "| `{}` | {sqlite} | {} | {} | {} |\n",
                c.name,
                c.clickhouse_type,
                c.opts.since,
                c.doc_text()
            );
        }
        out += "\n";
    }
    out
}

/// Column names, comma-separated.
pub fn names<'c>(columns: impl Iterator<Item = &'c Column>) -> String {
    let names: Vec<&str> = columns.map(|c| c.name).collect();
    names.join(", ")
}

/// A Rust type a column can have: its type in each store, and how SQLite and the spool hold
/// it.
pub trait ColumnType: Sized + Default {
    /// Its SQLite type (`TEXT NOT NULL`).
    const SQLITE: &'static str;
    /// Its ClickHouse type (`String`).
    const CLICKHOUSE: &'static str;

    /// The value for a SQLite parameter. Unsigned counts above `i64::MAX` are stored as
    /// `i64::MAX`.
    fn to_sqlite(&self) -> ToSqlOutput<'_>;

    /// The value read back from SQLite.
    fn from_sqlite(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Self>;

    /// One value from a spooled batch (`postcard`), and the bytes after it.
    fn take_postcard(bytes: &[u8]) -> postcard::Result<(Self, &[u8])>;
}

macro_rules! column_type {
    ($ty:ty, $sqlite:literal, $clickhouse:literal, |$v:ident| $to:expr, $read:ty => |$r:ident| $from:expr) => {
        impl ColumnType for $ty {
            const SQLITE: &'static str = $sqlite;
            const CLICKHOUSE: &'static str = $clickhouse;

            fn to_sqlite(&self) -> ToSqlOutput<'_> {
                let $v = self;
                ToSqlOutput::from($to)
            }

            fn from_sqlite(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Self> {
                let $r: $read = row.get(at)?;
                Ok($from)
            }

            fn take_postcard(bytes: &[u8]) -> postcard::Result<(Self, &[u8])> {
                postcard::take_from_bytes(bytes)
            }
        }
    };
}

/// An optional value as SQLite keeps it: `NULL` for none.
fn opt<'a, T: Into<ToSqlOutput<'a>>>(v: Option<T>) -> ToSqlOutput<'a> {
    v.map_or(ToSqlOutput::from(rusqlite::types::Null), Into::into)
}

/// A count as SQLite keeps it.
pub(crate) fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A count read back (stored by [`int`], so never negative).
pub(crate) fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

column_type!(String, "TEXT NOT NULL", "String", |v| v.as_str(), String => |r| r);
column_type!(Option<String>, "TEXT", "Nullable(String)", |v| opt(v.as_deref()), Option<String> => |r| r);
column_type!(i64, "INTEGER NOT NULL", "Int64", |v| *v, i64 => |r| r);
column_type!(Option<i64>, "INTEGER", "Nullable(Int64)", |v| opt(*v), Option<i64> => |r| r);
column_type!(u64, "INTEGER NOT NULL", "UInt64", |v| int(*v), i64 => |r| count(r));
column_type!(Option<u64>, "INTEGER", "Nullable(UInt64)", |v| opt((*v).map(int)), Option<i64> => |r| r.map(count));
column_type!(u32, "INTEGER NOT NULL", "UInt32", |v| *v, u32 => |r| r);
column_type!(Option<u32>, "INTEGER", "Nullable(UInt32)", |v| opt(*v), Option<u32> => |r| r);
column_type!(u16, "INTEGER NOT NULL", "UInt16", |v| *v, u16 => |r| r);
column_type!(u8, "INTEGER NOT NULL", "UInt8", |v| *v, u8 => |r| r);
column_type!(Option<u8>, "INTEGER", "Nullable(UInt8)", |v| opt(*v), Option<u8> => |r| r);

/// Bytes (a sealed name): a SQLite `BLOB`, a ClickHouse `String`.
impl ColumnType for serde_bytes::ByteBuf {
    const SQLITE: &'static str = "BLOB NOT NULL";
    const CLICKHOUSE: &'static str = "String";

    fn to_sqlite(&self) -> ToSqlOutput<'_> {
        ToSqlOutput::from(self.as_slice())
    }

    fn from_sqlite(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Self> {
        Ok(serde_bytes::ByteBuf::from(row.get::<_, Vec<u8>>(at)?))
    }

    fn take_postcard(bytes: &[u8]) -> postcard::Result<(Self, &[u8])> {
        postcard::take_from_bytes(bytes)
    }
}

/// A row a read returns: read by ClickHouse through serde (by position, by type) and by SQLite
/// through [`ReadRow::from_sqlite`] (by position), from one declaration.
pub trait ReadRow:
    Sized + Ord + clickhouse::RowOwned + clickhouse::RowRead + Send + 'static
{
    /// The row from SQLite's result, its columns in the order of the fields.
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;
}

/// Declares a store table: its row struct and its [`Table`] of columns.
///
/// ```text
/// table! {
///     /// A row of `flows`: ...
///     pub struct FlowRow in "flows" kept (Kept::AsEvidence(Time::Us("ts_us")))
///         from (v: &FlowView<'_>) {
///         /// First packet, microseconds since the epoch.
///         ts_us: i64 = us(v.record.first),
///         /// ... added by version 5, NULL in older rows.
///         ech_kind: Option<String> = ... => Opts::new().since(5),
///     }
/// }
/// ```
///
/// `kept (...)` says how long the table keeps its rows ([`Kept`]). With `from (v: T)`, each
/// column says what it is made of and the row gets
/// `fn from_source(v: T) -> Self`. The row derives serde (the spool and ClickHouse) and
/// `clickhouse::Row`; it gets `TABLE`, `bind` (SQLite parameters in the order of
/// [`Table::sqlite_insert`]), `from_sqlite` (in the order of [`Table::sqlite_select`]) and
/// `take_postcard` (a spooled row of any earlier schema version).
#[macro_export]
macro_rules! table {
    (
        $(#[doc = $doc:literal])*
        $vis:vis struct $row:ident in $table:literal kept ($kept:expr)
            from ($src:ident : $src_ty:ty) {
            $(
                $(#[doc = $fdoc:literal])*
                $field:ident : $ty:ty = $value:expr $(=> $opts:expr)?,
            )*
        }
    ) => {
        $crate::table! {
            $(#[doc = $doc])*
            $vis struct $row in $table kept ($kept) {
                $( $(#[doc = $fdoc])* $field : $ty $(=> $opts)?, )*
            }
        }

        impl $row {
            /// The row for a record.
            pub fn from_source($src: $src_ty) -> $row {
                $row { $( $field: $value, )* }
            }
        }
    };
    (
        $(#[doc = $doc:literal])*
        $vis:vis struct $row:ident in $table:literal kept ($kept:expr) {
            $(
                $(#[doc = $fdoc:literal])*
                $field:ident : $ty:ty $(=> $opts:expr)?,
            )*
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(
            Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, clickhouse::Row,
        )]
        $vis struct $row {
            $( $(#[doc = $fdoc])* pub $field: $ty, )*
        }

        impl $row {
            /// The table's name and columns.
            pub const TABLE: $crate::store::schema::Table = $crate::store::schema::Table {
                name: $table,
                doc: &[$($doc),*],
                kept: $kept,
                columns: &[
                    $(
                        $crate::store::schema::Column {
                            name: stringify!($field),
                            doc: &[$($fdoc),*],
                            sqlite_type:
                                <$ty as $crate::store::schema::ColumnType>::SQLITE,
                            clickhouse_type:
                                <$ty as $crate::store::schema::ColumnType>::CLICKHOUSE,
                            opts: $crate::table!(@opts $($opts)?),
                        },
                    )*
                ],
            };

            /// Binds the columns SQLite's inserts set, from `?1` on.
            pub fn bind(
                &self,
                statement: &mut rusqlite::Statement<'_>,
            ) -> rusqlite::Result<()> {
                use $crate::store::schema::ColumnType;
                let mut columns = Self::TABLE.columns.iter();
                let mut at = 0;
                $(
                    if columns.next().is_some_and(|c| c.sqlite_inserts()) {
                        at += 1;
                        statement.raw_bind_parameter(at, self.$field.to_sqlite())?;
                    }
                )*
                Ok(())
            }

            /// A row read by [`Table::sqlite_select`]; columns SQLite does not keep are
            /// their defaults.
            ///
            /// [`Table::sqlite_select`]: $crate::store::schema::Table::sqlite_select
            pub fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<$row> {
                use $crate::store::schema::ColumnType;
                let mut columns = Self::TABLE.columns.iter();
                let mut at = 0;
                Ok($row {
                    $(
                        $field: if columns.next().is_some_and(|c| c.in_sqlite()) {
                            at += 1;
                            <$ty>::from_sqlite(row, at - 1)?
                        } else {
                            Default::default()
                        },
                    )*
                })
            }

        }

        impl $crate::store::schema::ReadRow for $row {
            fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<$row> {
                <$row>::from_sqlite(row)
            }
        }

        impl $row {
            /// A row as a batch of schema version `version` spooled it (the columns that
            /// version had, in order), and the bytes after it. Later columns are their
            /// defaults.
            pub fn take_postcard(
                mut bytes: &[u8],
                version: u32,
            ) -> postcard::Result<($row, &[u8])> {
                use $crate::store::schema::ColumnType;
                let mut columns = Self::TABLE.columns.iter();
                Ok(($row {
                    $(
                        $field: if columns.next().is_some_and(|c| c.opts.since <= version) {
                            let (value, rest) = <$ty>::take_postcard(bytes)?;
                            bytes = rest;
                            value
                        } else {
                            Default::default()
                        },
                    )*
                }, bytes))
            }
        }
    };
    (@opts) => { $crate::store::schema::Opts::new() };
    (@opts $opts:expr) => { $opts };
}
