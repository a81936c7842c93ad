//! What a console request asks to see: its [`View`], read from the query string. The period is
//! `week=2026-W47` (or `last`, the default, as for `lantern report`), `month=2026-11`, or
//! `from=` and `to=` dates; the filters are the report's (`sensor=` and `app=` repeatable,
//! `group=`, `user=`), checked by [`Filter::new`]. Anything else is refused with one line,
//! and so is a custom period of more than [`MAX_DAYS`]. Every value reaches the store only as
//! a bound parameter.

use crate::report::{Filter, Period};

/// Longest custom period, in days.
pub const MAX_DAYS: i64 = 400;
/// Most parameters a query string may have.
pub const MAX_PARAMS: usize = 160;

/// How the period was asked for: what links from the page keep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Span {
    /// `week=` (or none: last week).
    #[default]
    LastWeek,
    /// `week=2026-W47`.
    Week(String),
    /// `month=2026-11`.
    Month(String),
    /// `from=` and `to=`.
    Dates(String, String),
}

/// A request's period and filters, and the table a CSV download asks for.
#[derive(Clone, Debug)]
pub struct View {
    /// The period.
    pub period: Period,
    /// How it was asked for.
    pub span: Span,
    /// The rows it is of.
    pub filter: Filter,
    /// `table=`: the table of a CSV download.
    pub table: Option<String>,
}

impl View {
    /// Reads a query string's parameters (decoded, in order).
    pub fn parse(params: &[(String, String)]) -> Result<View, String> {
        if params.len() > MAX_PARAMS {
            return Err(format!("at most {MAX_PARAMS} parameters"));
        }
        let (mut week, mut month, mut from, mut to, mut table) = (None, None, None, None, None);
        let (mut sensors, mut group, mut user, mut apps) = (vec![], None, None, vec![]);
        for (key, value) in params {
            let once = |slot: &mut Option<String>| match slot.replace(value.clone()) {
                None => Ok(()),
                Some(_) => Err(format!("{key} is given twice")),
            };
            match key.as_str() {
                // An empty field of the page's form means "not this filter".
                _ if value.is_empty() => {}
                "week" => once(&mut week)?,
                "month" => once(&mut month)?,
                "from" => once(&mut from)?,
                "to" => once(&mut to)?,
                "table" => once(&mut table)?,
                "group" => once(&mut group)?,
                "user" => once(&mut user)?,
                "sensor" => sensors.push(value.clone()),
                "app" => apps.push(value.clone()),
                other => {
                    return Err(format!(
                        "{:?} is not a parameter of the console",
                        clip(other)
                    ));
                }
            }
        }
        let (period, span) = period(week, month, from, to)?;
        let filter = Filter::new(sensors, group, user, apps).map_err(|e| {
            // The filter's messages name command-line flags.
            e.to_string().trim_start_matches("--").to_string()
        })?;
        Ok(View {
            period,
            span,
            filter,
            table,
        })
    }

    /// The query string of this view with another filter (the period kept), `?`-prefixed when
    /// not empty.
    pub fn query_with(&self, filter: &Filter) -> String {
        let mut pairs: Vec<(&str, &str)> = match &self.span {
            Span::LastWeek => vec![],
            Span::Week(w) => vec![("week", w)],
            Span::Month(m) => vec![("month", m)],
            Span::Dates(f, t) => vec![("from", f), ("to", t)],
        };
        pairs.extend(filter.sensors.iter().map(|s| ("sensor", s.as_str())));
        pairs.extend(filter.group.iter().map(|g| ("group", g.as_str())));
        pairs.extend(filter.user.iter().map(|u| ("user", u.as_str())));
        pairs.extend(filter.apps.iter().map(|a| ("app", a.as_str())));
        query(&pairs)
    }

    /// This view's query string with only the period and the sensor and group filters: what a
    /// link to another page keeps.
    pub fn keep(&self) -> String {
        self.query_with(&Filter {
            sensors: self.filter.sensors.clone(),
            group: self.filter.group.clone(),
            ..Filter::default()
        })
    }
}

/// A query string of these pairs, `?`-prefixed, each part percent-encoded.
pub fn query(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = (pairs.iter())
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    format!("?{}", parts.join("&"))
}

/// What a path segment or query value keeps as it is: RFC 3986's unreserved characters.
const RESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `value` percent-encoded for a path segment or a query value.
pub fn encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, RESERVED).to_string()
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

fn period(
    week: Option<String>,
    month: Option<String>,
    from: Option<String>,
    to: Option<String>,
) -> Result<(Period, Span), String> {
    let asked = [
        week.is_some(),
        month.is_some(),
        from.is_some() || to.is_some(),
    ];
    if asked.iter().filter(|a| **a).count() > 1 {
        return Err("give one of week, month, or from and to".into());
    }
    let e = |e: crate::report::PeriodError| e.to_string();
    match (week, month, from, to) {
        (Some(w), ..) => Ok((Period::week(&w, Period::today()).map_err(e)?, Span::Week(w))),
        (_, Some(m), ..) => Ok((Period::month(&m).map_err(e)?, Span::Month(m))),
        (_, _, Some(f), Some(t)) => {
            let p = Period::dates(&f, &t).map_err(e)?;
            if p.days() > MAX_DAYS {
                return Err(format!("a period of at most {MAX_DAYS} days"));
            }
            Ok((p, Span::Dates(f, t)))
        }
        (_, _, Some(_), None) | (_, _, None, Some(_)) => {
            Err("from needs to, and to needs from".into())
        }
        _ => Ok((
            Period::week("last", Period::today()).map_err(e)?,
            Span::LastWeek,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<View, String> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect();
        View::parse(&pairs)
    }

    #[test]
    fn a_query_gives_the_period_and_filters_and_links_keep_them() {
        let v = parse("week=2026-W47&sensor=a&sensor=b%27&app=openai-chatgpt&user=").unwrap();
        assert_eq!(v.period.from, "2026-11-16");
        assert_eq!(v.filter.sensors, ["a", "b'"]);
        assert_eq!(v.filter.user, None);
        assert_eq!(v.keep(), "?week=2026-W47&sensor=a&sensor=b%27");
        let m = parse("month=2026-02&group=eng").unwrap();
        assert_eq!(
            (m.period.from.as_str(), m.period.to.as_str()),
            ("2026-02-01", "2026-02-28")
        );
        assert_eq!(m.keep(), "?month=2026-02&group=eng");
    }

    #[test]
    fn odd_queries_are_refused_with_one_line() {
        for (q, says) in [
            ("week=2026-W47&month=2026-11", "one of week"),
            ("from=2026-01-01", "from needs to"),
            ("from=2020-01-01&to=2026-01-01", "at most 400 days"),
            ("week=1' OR 1=1", "not a week"),
            ("user=a&user=b", "given twice"),
            ("evil=1", "not a parameter"),
        ] {
            let e = parse(q).unwrap_err();
            assert!(e.contains(says), "{q}: {e}");
        }
        let long = format!("app={}", "x".repeat(300));
        assert!(parse(&long).unwrap_err().contains("longer than"));
    }
}
