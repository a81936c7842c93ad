//! Retention: how long the store keeps what, and what one pruning removed.
//!
//! Rows are judged by their own times, never by when they were written: evidence (`flows`,
//! `dns`, and ClickHouse's `rollups_in`) by `ts_us` (`hour` for `rollups_in`), hourly rollups
//! by `hour`, sensor health by `ts_us` with the rollups. A period of N days keeps every row of
//! the N whole UTC days before today and of today: the cutoff is the start of the UTC day N
//! days ago, so it moves once a day and ClickHouse's deletes run at most once a day. A
//! pseudonym seal goes once its token is in no evidence and no rollup row. `0` keeps forever.
//!
//! The stores do the pruning ([`SqliteStore::prune_step`](super::SqliteStore::prune_step),
//! ClickHouse's `prune`); this module owns the periods, the cutoffs and the tally.

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
    /// Hourly rollups and sensor health.
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

/// Where pseudonym tokens appear, as (table, column): a seal goes when no row that stays
/// names its token in any of these. Both stores prune by this one list.
pub(crate) const TOKEN_COLUMNS: [(&str, &str); 8] = [
    ("flows", "user"),
    ("flows", "client_ip"),
    ("flows", "device"),
    ("dns", "user"),
    ("dns", "client_ip"),
    ("dns", "device"),
    ("rollups_hourly", "user"),
    ("rollups_hourly", "device"),
];

/// Rows older than these (seconds since the epoch, a UTC midnight) go; `None` keeps all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cutoffs {
    /// Evidence.
    pub evidence_secs: Option<i64>,
    /// Rollups and sensor health.
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
