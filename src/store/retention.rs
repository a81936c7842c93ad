//! Retention: how long the store keeps what, and what one pruning removed.
//!
//! Rows are judged by their own times, never by when they were written: evidence (`flows`,
//! `dns`) by `ts_us`; hourly rollups and coverage by `hour`, and sensor health and notices by
//! `ts_us`, kept as long as the rollups (and so is ClickHouse's `rollups_in`, the rollups as
//! sent). A notice raised once ever is raised again once its row is pruned. A
//! period of N days keeps every row of the N whole UTC days before today and of today: the
//! cutoff is the start of the UTC day N days ago, so it moves once a day and ClickHouse's
//! deletes run at most once a day. A pseudonym seal goes once its token is in no evidence and
//! no rollup row. `0` keeps forever.
//!
//! How long each table keeps its rows is part of its declaration ([`Kept`], in
//! [`tables`](super::tables)). The stores do the pruning
//! ([`SqliteStore::prune_step`](super::SqliteStore::prune_step), ClickHouse's `prune`), both
//! going through the one list of tables made from the declarations ([`aging`]); this module
//! owns that list, the periods, the cutoffs and the tally.

use super::schema::{Kept, Table, Time};
use super::tables::{ALL, DnsRow, FlowRow, NoticeRow, RollupRow};
use crate::capture::Timestamp;

/// Seconds in a day.
const DAY: i64 = 86_400;

/// Days evidence is kept by default: per-person rows, kept short (GDPR Art. 5(1)(e)).
pub const DEFAULT_EVIDENCE_DAYS: u32 = 90;

/// Days hourly rollups are kept by default: a year of weekly reports and its comparison.
pub const DEFAULT_ROLLUP_DAYS: u32 = 400;

/// How long the store keeps evidence and rollups, in days; `0` keeps forever.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Flow and DNS evidence.
    pub evidence_days: u32,
    /// Hourly rollups and coverage, sensor health and notices.
    pub rollup_days: u32,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention {
            evidence_days: DEFAULT_EVIDENCE_DAYS,
            rollup_days: DEFAULT_ROLLUP_DAYS,
        }
    }
}

impl Retention {
    /// Whether it keeps everything.
    pub fn keeps_all(&self) -> bool {
        self.evidence_days == 0 && self.rollup_days == 0
    }

    /// Where pruning cuts at `now`.
    pub fn cutoffs(&self, now: Timestamp) -> Cutoffs {
        let today = now.secs().div_euclid(DAY) * DAY;
        let cut = |days: u32| (days > 0).then(|| today - i64::from(days) * DAY);
        Cutoffs {
            evidence_secs: cut(self.evidence_days),
            rollup_secs: cut(self.rollup_days),
        }
    }
}

/// The declared tables whose rows age out (kept as evidence or as rollups), in the order
/// pruning goes through and tallies them: the one list both stores prune by, read from each
/// table's declaration. A table added to [`ALL`] is pruned by both stores as it declares.
pub fn aging() -> impl Iterator<Item = Table> {
    ALL.into_iter().filter(|t| t.kept.time().is_some())
}

/// Where pseudonym tokens appear, as (table, column): a seal goes when no row that stays (by
/// its table's [`Kept`]) names its token in any of these. Both stores prune by this one list.
pub(crate) const TOKEN_COLUMNS: [(Table, &str); 10] = [
    (FlowRow::TABLE, "user"),
    (FlowRow::TABLE, "client_ip"),
    (FlowRow::TABLE, "device"),
    (DnsRow::TABLE, "user"),
    (DnsRow::TABLE, "client_ip"),
    (DnsRow::TABLE, "device"),
    (RollupRow::TABLE, "user"),
    (RollupRow::TABLE, "device"),
    // A notice's key user is its `user_shown`, or empty.
    (NoticeRow::TABLE, "user_shown"),
    (NoticeRow::TABLE, "client"),
];

/// Rows older than these (seconds since the epoch, a UTC midnight) go; `None` keeps all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cutoffs {
    /// Evidence.
    pub evidence_secs: Option<i64>,
    /// Rollups, coverage, sensor health and notices.
    pub rollup_secs: Option<i64>,
}

impl Cutoffs {
    /// The evidence cutoff in microseconds.
    pub fn evidence_us(&self) -> Option<i64> {
        self.evidence_secs.map(|s| s.saturating_mul(1_000_000))
    }

    /// The rollup cutoff in microseconds.
    pub fn rollup_us(&self) -> Option<i64> {
        self.rollup_secs.map(|s| s.saturating_mul(1_000_000))
    }

    /// The cutoff of the period a table kept `kept` is kept for, in seconds.
    fn period_secs(&self, kept: Kept) -> Option<i64> {
        match kept {
            Kept::AsEvidence(_) => self.evidence_secs,
            Kept::AsRollups(_) => self.rollup_secs,
            Kept::WhileNamed | Kept::Always => None,
        }
    }

    /// The time the rows of a table kept `kept` are judged by, and where they are cut in the
    /// unit of its column: rows whose time is below it go. `None` keeps every row (its period
    /// is 0, or its rows do not age out).
    pub fn cut(&self, kept: Kept) -> Option<(Time, i64)> {
        let (time, secs) = (kept.time()?, self.period_secs(kept)?);
        Some(match time {
            Time::Us(_) => (time, secs.saturating_mul(1_000_000)),
            Time::Secs(_) => (time, secs),
        })
    }

    /// The same, cut in microseconds (to compare with [`Time::us_sql`]).
    pub fn cut_us(&self, kept: Kept) -> Option<(Time, i64)> {
        let (time, secs) = (kept.time()?, self.period_secs(kept)?);
        Some((time, secs.saturating_mul(1_000_000)))
    }
}

/// What pruning removed, per table, and whether it is finished.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Rows removed (or, with a dry run, that would be), per table, in a fixed order.
    pub tables: Vec<(&'static str, u64)>,
    /// SQLite pages given back to the file system.
    pub pages_freed: u64,
    /// Nothing older than the cutoffs is left (a bounded step may leave some for the next).
    pub done: bool,
}

impl Pruned {
    /// Adds `rows` removed from `table`.
    pub fn add(&mut self, table: &'static str, rows: u64) {
        match self.tables.iter_mut().find(|(t, _)| *t == table) {
            Some((_, n)) => *n += rows,
            None => self.tables.push((table, rows)),
        }
    }

    /// Adds another step's tally.
    pub fn merge(&mut self, other: &Pruned) {
        for &(table, rows) in &other.tables {
            self.add(table, rows);
        }
        self.pages_freed += other.pages_freed;
        self.done = other.done;
    }

    /// Rows removed from every table.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }

    /// `flows 6, dns 10`: the tables that lost rows.
    pub fn removed_tables(&self) -> String {
        let tables: Vec<String> = (self.tables.iter())
            .filter(|(_, n)| *n > 0)
            .map(|(t, n)| format!("{t} {n}"))
            .collect();
        tables.join(", ")
    }

    /// Rows removed from `table`.
    pub fn of(&self, table: &str) -> u64 {
        self.tables
            .iter()
            .find(|(t, _)| *t == table)
            .map_or(0, |(_, n)| *n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_stores_prune_the_tables_that_age_out_each_by_its_own_time() {
        let aging: Vec<&str> = aging().map(|t| t.name).collect();
        assert_eq!(
            aging,
            [
                "flows",
                "dns",
                "rollups_hourly",
                "coverage_hourly",
                "notices",
                "sensor_health"
            ]
        );
        let c = Retention {
            evidence_days: 1,
            rollup_days: 2,
        }
        .cutoffs(Timestamp::from_secs(10 * DAY));
        let hour = Kept::AsRollups(Time::Secs("hour"));
        assert_eq!(c.cut(hour), Some((Time::Secs("hour"), 8 * DAY)));
        assert_eq!(
            c.cut_us(hour),
            Some((Time::Secs("hour"), 8 * DAY * 1_000_000))
        );
        let ts = Kept::AsEvidence(Time::Us("ts_us"));
        assert_eq!(c.cut(ts), Some((Time::Us("ts_us"), 9 * DAY * 1_000_000)));
        assert_eq!(c.cut(Kept::WhileNamed), None);
        assert_eq!(Cutoffs::default().cut(ts), None);
    }

    #[test]
    fn cutoffs_are_utc_midnights_and_zero_keeps_forever() {
        // 2026-12-03T05:59:30Z.
        let now = Timestamp::from_secs(1_796_277_570);
        let c = Retention {
            evidence_days: 90,
            rollup_days: 0,
        }
        .cutoffs(now);
        // 2026-09-04T00:00:00Z: 90 days before the start of 2026-12-03.
        assert_eq!(c.evidence_secs, Some(1_788_480_000));
        assert_eq!(c.evidence_us(), Some(1_788_480_000_000_000));
        assert_eq!(c.rollup_secs, None);
        // The cutoff stays all day and moves at midnight.
        let later = Timestamp::from_secs(1_796_342_399);
        assert_eq!(
            Retention::default().cutoffs(later),
            Retention::default().cutoffs(now)
        );
        let next_day = Timestamp::from_secs(1_796_342_400);
        assert_eq!(
            Retention::default().cutoffs(next_day).evidence_secs,
            Some(1_788_480_000 + DAY)
        );
        assert!(
            Retention {
                evidence_days: 0,
                rollup_days: 0
            }
            .keeps_all()
        );
    }
}
