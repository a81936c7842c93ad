//! The period a report covers: whole UTC days, from an ISO week (`2026-W47`, `last`) or from
//! two dates, both included.

use serde::Serialize;
use time::{Date, Duration, OffsetDateTime, Weekday};

/// Whole UTC days, `from` to `to`, both included.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Period {
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day, `YYYY-MM-DD`.
    pub to: String,
    #[serde(skip)]
    first: Date,
    #[serde(skip)]
    last: Date,
}

/// A period that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum PeriodError {
    /// Not `YYYY-MM-DD`.
    #[error("{0:?} is not a date like 2026-11-16")]
    Date(String),
    /// Not `YYYY-Www` or `last`.
    #[error("{0:?} is not a week like 2026-W47 or \"last\"")]
    Week(String),
    /// Not `YYYY-MM`.
    #[error("{0:?} is not a month like 2026-11")]
    Month(String),
    /// Ends before it starts.
    #[error("the period ends ({1}) before it starts ({0})")]
    Backwards(String, String),
}

fn date(s: &str) -> Result<Date, PeriodError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s, format).map_err(|_| PeriodError::Date(s.to_string()))
}

impl Period {
    fn new(first: Date, last: Date) -> Result<Period, PeriodError> {
        if last < first {
            return Err(PeriodError::Backwards(first.to_string(), last.to_string()));
        }
        Ok(Period {
            from: first.to_string(),
            to: last.to_string(),
            first,
            last,
        })
    }

    /// From `from` to `to` (`YYYY-MM-DD`), both included.
    pub fn dates(from: &str, to: &str) -> Result<Period, PeriodError> {
        Period::new(date(from)?, date(to)?)
    }

    /// An ISO week, `2026-W47`, or `last`: the week before the one containing `today`.
    pub fn week(week: &str, today: Date) -> Result<Period, PeriodError> {
        let monday = if week == "last" {
            today - Duration::days(i64::from(today.weekday().number_days_from_monday()) + 7)
        } else {
            let bad = || PeriodError::Week(week.to_string());
            let (year, number) = week.split_once("-W").ok_or_else(bad)?;
            let year: i32 = year.parse().map_err(|_| bad())?;
            let number: u8 = number.parse().map_err(|_| bad())?;
            Date::from_iso_week_date(year, number, Weekday::Monday).map_err(|_| bad())?
        };
        Period::new(monday, monday + Duration::days(6))
    }

    /// A calendar month, `2026-11`.
    pub fn month(month: &str) -> Result<Period, PeriodError> {
        let bad = || PeriodError::Month(month.to_string());
        let (year, number) = month.split_once('-').ok_or_else(bad)?;
        let year: i32 = year.parse().map_err(|_| bad())?;
        let number: u8 = number.parse().map_err(|_| bad())?;
        let month = time::Month::try_from(number).map_err(|_| bad())?;
        let first = Date::from_calendar_date(year, month, 1).map_err(|_| bad())?;
        let last = first + Duration::days(i64::from(month.length(year)) - 1);
        Period::new(first, last)
    }

    /// Days in the period.
    pub fn days(&self) -> i64 {
        (self.last - self.first).whole_days() + 1
    }

    /// Today's date, UTC.
    pub fn today() -> Date {
        OffsetDateTime::now_utc().date()
    }

    /// The start (seconds) of the week `weeks - 1` weeks before the one holding the last day:
    /// where a trend of `weeks` weeks ending with this period begins.
    pub fn trend_start(&self, weeks: i64) -> i64 {
        let monday =
            self.last - Duration::days(i64::from(self.last.weekday().number_days_from_monday()));
        let first = monday - Duration::weeks(weeks - 1);
        first.midnight().assume_utc().unix_timestamp()
    }

    /// Start and end, in seconds since the epoch: `[from, to)`.
    pub fn bounds(&self) -> (i64, i64) {
        let secs = |d: Date| d.midnight().assume_utc().unix_timestamp();
        (secs(self.first), secs(self.last + Duration::days(1)))
    }
}

/// The ISO week (`2026-W47`) of a time in seconds, UTC.
pub fn iso_week(secs: i64) -> String {
    let date = OffsetDateTime::from_unix_timestamp(secs)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .date();
    let (year, week, _) = date.to_iso_week_date();
    format!("{year}-W{week:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_is_its_calendar_days() {
        let feb = Period::month("2028-02").unwrap();
        assert_eq!(
            (feb.from.as_str(), feb.to.as_str(), feb.days()),
            ("2028-02-01", "2028-02-29", 29)
        );
        assert!(Period::month("2026-13").is_err() && Period::month("2026").is_err());
    }

    #[test]
    fn weeks_and_dates_are_whole_utc_days() {
        let today = date("2026-11-23").unwrap();
        let last = Period::week("last", today).unwrap();
        assert_eq!(
            (last.from.as_str(), last.to.as_str()),
            ("2026-11-16", "2026-11-22")
        );
        assert_eq!(Period::week("2026-W47", today).unwrap(), last);
        // A Sunday's "last" week is the one before its own.
        let sunday = Period::week("last", date("2026-11-22").unwrap()).unwrap();
        assert_eq!(sunday.from, "2026-11-09");
        let p = Period::dates("2026-11-16", "2026-11-16").unwrap();
        let (from, to) = p.bounds();
        assert_eq!((from, to - from), (1_794_787_200, 86_400));
        for (bad, e) in [("2026-W54", "is not a week"), ("47", "is not a week")] {
            assert!(
                Period::week(bad, today)
                    .unwrap_err()
                    .to_string()
                    .contains(e)
            );
        }
        let e = Period::dates("2026-11-20", "2026-11-19")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "the period ends (2026-11-19) before it starts (2026-11-20)"
        );
        assert!(Period::dates("2026-11-x", "2026-11-19").is_err());
        // The trend's eight weeks end with the period's week.
        assert_eq!(iso_week(last.trend_start(8)), "2026-W40");
        assert_eq!(iso_week(last.bounds().0), "2026-W47");
        assert_eq!(iso_week(1_767_225_600), "2026-W01"); // 2026-01-01 is in 2026's first week
    }
}
