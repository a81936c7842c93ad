//! Rendering a [`Report`]: one self-contained HTML page (inline CSS and SVG charts, no fetches),
//! Markdown for tickets, CSV (one file per table) and JSON for dashboards.
//!
//! The tables are defined once ([`tables`]) and written by CSV, Markdown and HTML alike, so the
//! formats carry the same columns. Every string that came from the wire (names, users,
//! hostnames) is escaped for where it lands: HTML by the template engine, Markdown by
//! [`markdown_cell`], and CSV cells that a spreadsheet would run as a formula (starting with
//! `=`, `+`, `-`, `@`, a tab or a carriage return) get a leading `'` ([`csv_cell`]).

mod charts;
mod html;

use super::Report;
use serde::Serialize;

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One self-contained page.
    Html,
    /// Markdown, for tickets.
    Markdown,
    /// One CSV file per table.
    Csv,
    /// The whole report as one JSON document.
    Json,
}

/// A rendering that failed (a bug, not bad input: every input renders).
#[derive(Debug, thiserror::Error)]
#[error("rendering the report: {0}")]
pub struct RenderError(String);

/// The files a rendering makes: (name, contents). HTML, Markdown and JSON make one.
pub type Files = Vec<(String, String)>;

/// The report's charts as inline SVG (no scripts, no fetches): data sent by app (the ten that
/// sent most) and by category, and the trend; none where there is nothing to draw.
pub fn chart_svgs(report: &Report) -> Result<Vec<String>, RenderError> {
    let charts = html::charts(report)?;
    Ok(charts
        .into_iter()
        .flatten()
        .map(|v| v.to_string())
        .collect())
}

/// Renders `report` as `format`.
pub fn render(report: &Report, format: Format) -> Result<Files, RenderError> {
    Ok(match format {
        Format::Html => vec![("report.html".into(), html::page(report)?)],
        Format::Markdown => vec![("report.md".into(), markdown(report))],
        Format::Json => vec![(
            "report.json".into(),
            serde_json::to_string_pretty(report).map_err(|e| RenderError(e.to_string()))? + "\n",
        )],
        Format::Csv => tables(report)
            .iter()
            .map(|t| Ok((format!("{}.csv", t.name), csv_table(t)?)))
            .collect::<Result<_, RenderError>>()?,
    })
}

/// One table of the report.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReportTable {
    /// File name and stable id: `apps`, `top_users`...
    pub name: &'static str,
    /// The heading.
    pub title: &'static str,
    /// Column names, stable: the row type's field names.
    pub columns: Vec<String>,
    /// Cells, as text.
    pub rows: Vec<Vec<String>>,
}

/// A table of `rows`, its columns the fields of `T` (as the JSON report names them) and its
/// cells their values as text: numbers and booleans as written, a list's items joined by `; `.
pub fn table<T: Serialize + Default>(
    name: &'static str,
    title: &'static str,
    rows: &[T],
) -> ReportTable {
    let fields = |row: &T| match serde_json::to_value(row) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    ReportTable {
        name,
        title,
        columns: fields(&T::default()).keys().cloned().collect(),
        rows: (rows.iter())
            .map(|r| fields(r).values().map(cell).collect())
            .collect(),
    }
}

/// A value of a row as a cell.
fn cell(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(cell).collect();
            items.join("; ")
        }
        other => other.to_string(),
    }
}

/// One filter's value.
#[derive(Default, Serialize)]
struct FilterRow<'a> {
    filter: &'static str,
    value: &'a str,
}

/// One number of the headline.
#[derive(Default, Serialize)]
struct Metric {
    metric: String,
    value: u64,
}

/// The filters applied, one row per value (`sensor`, `group`, `user`, `app`).
fn filter_rows(r: &Report) -> Vec<(&'static str, &str)> {
    let f = &r.filter;
    let mut rows: Vec<(&'static str, &str)> = Vec::new();
    rows.extend(f.sensors.iter().map(|s| ("sensor", s.as_str())));
    rows.extend(f.group.iter().map(|g| ("group", g.as_str())));
    rows.extend(f.user.iter().map(|u| ("user", u.as_str())));
    rows.extend(f.apps.iter().map(|a| ("app", a.as_str())));
    rows
}

/// The filters as a sentence, `sensor a or b; user alice`, if any.
pub fn filter_line(r: &Report) -> Option<String> {
    let mut parts: Vec<(&str, Vec<&str>)> = Vec::new();
    for (name, value) in filter_rows(r) {
        match parts.last_mut() {
            Some((last, values)) if *last == name => values.push(value),
            _ => parts.push((name, vec![value])),
        }
    }
    let parts: Vec<String> = (parts.iter())
        .map(|(name, values)| format!("{name} {}", values.join(" or ")))
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Every table of the report, in reading order: the filters (when any), the headline, ... and,
/// with a user filter, the user's timeline. Columns are named as the JSON report's fields (the
/// headline's metrics as its keys).
pub fn tables(r: &Report) -> Vec<ReportTable> {
    let mut all = Vec::new();
    let filters: Vec<FilterRow<'_>> = (filter_rows(r).into_iter())
        .map(|(filter, value)| FilterRow { filter, value })
        .collect();
    if !filters.is_empty() {
        all.push(table("filters", "Filters", &filters));
    }
    all.extend(use_tables(r));
    if r.filter.user.is_some() {
        all.push(table("timeline", "Timeline of the user", &r.timeline));
    }
    all
}

/// The headline's numbers as rows, in the order of its fields.
fn headline(r: &Report) -> Vec<Metric> {
    let fields = match serde_json::to_value(&r.headline) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    (fields.into_iter())
        .map(|(metric, value)| Metric {
            metric,
            value: value.as_u64().unwrap_or_default(),
        })
        .collect()
}

/// The tables every report has.
fn use_tables(r: &Report) -> Vec<ReportTable> {
    vec![
        table("headline", "Headline", &headline(r)),
        table("apps", "AI apps in use", &r.apps),
        table("new_apps", "New this period", &r.new_apps),
        table(
            "top_users",
            "Most data sent to unsanctioned and unreviewed apps",
            &r.top_users,
        ),
        table(
            "api_use",
            "AI APIs: people, services and agents",
            &r.api_use,
        ),
        table("categories", "By category", &r.categories),
        table("trend", "Week by week", &r.trend),
        table(
            "candidates",
            "Names that look like AI and are not in the catalog",
            &r.candidates,
        ),
        table(
            "one_source_apps",
            "Apps the catalog knows from one source",
            &r.one_source_apps,
        ),
        table(
            "local_servers",
            "Model servers on the local network",
            &r.local_servers,
        ),
        table("mcp_servers", "MCP servers in use", &r.mcp_servers),
        table("programs", "AI used by programs and agents", &r.programs),
        table(
            "visibility",
            "What the sensors could not see",
            &r.visibility.sensors,
        ),
        table(
            "visibility_by_source",
            "Flows by how they were named",
            &r.visibility.by_source,
        ),
        table(
            "encrypted_dns",
            "Clients whose DNS the sensors could not read",
            &r.visibility.encrypted_dns,
        ),
    ]
}

/// A CSV cell a spreadsheet will not run: a leading `=`, `+`, `-`, `@`, tab or carriage return
/// gets a `'` before it.
pub fn csv_cell(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

/// One table as CSV, its cells neutralised for spreadsheets ([`csv_cell`]).
pub fn csv_table(table: &ReportTable) -> Result<String, RenderError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| RenderError(e.to_string());
    w.write_record(&table.columns).map_err(fail)?;
    for row in &table.rows {
        w.write_record(row.iter().map(|c| csv_cell(c)))
            .map_err(fail)?;
    }
    let bytes = w.into_inner().map_err(|e| RenderError(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| RenderError(e.to_string()))
}

/// A Markdown table cell that stays one cell and renders as the text it is: Markdown's
/// punctuation is backslash-escaped, `<`, `>` and `&` become entities (no HTML gets through),
/// line breaks become spaces.
pub fn markdown_cell(cell: &str) -> String {
    let mut out = String::with_capacity(cell.len());
    for c in cell.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' | '\t' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '!' | '~' | '(' | ')' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// What a report says when there is nothing to show.
pub fn empty_note(r: &Report) -> Option<String> {
    if !r.store_has_data {
        Some("The store holds no AI use yet: nothing has been replayed or captured into it.".into())
    } else if r.apps.is_empty() && r.candidates.is_empty() {
        let only = filter_line(r).map_or(String::new(), |f| format!(" ({f})"));
        Some(format!(
            "No AI use{only} was seen from {} to {}.",
            r.period.from, r.period.to
        ))
    } else {
        None
    }
}

fn markdown(r: &Report) -> String {
    let mut out = format!(
        "# Shadow AI report, {} to {}\n\n",
        r.period.from, r.period.to
    );
    if let Some(only) = filter_line(r) {
        out += &format!("Only {}.\n\n", markdown_cell(&only));
    }
    if let Some(note) = empty_note(r) {
        out += &format!("{}\n\n", markdown_cell(&note));
    }
    if !r.policy {
        out += "No policy was given: every app is unreviewed.\n\n";
    }
    for t in tables(r) {
        out += &format!("## {}\n\n", t.title);
        if t.rows.is_empty() {
            out += "None.\n\n";
            continue;
        }
        out += &format!("| {} |\n", t.columns.join(" | "));
        out += &format!("|{}\n", "---|".repeat(t.columns.len()));
        for row in &t.rows {
            let cells: Vec<String> = row.iter().map(|c| markdown_cell(c)).collect();
            out += &format!("| {} |\n", cells.join(" | "));
        }
        out += "\n";
    }
    out
}

/// Bytes for people: `1.5 MB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_neutralised_for_spreadsheets_and_escaped_for_markdown() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_cell("-2+3"), "'-2+3");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("alice"), "alice");
        assert_eq!(
            markdown_cell("a|b <img src=x> [l](http://e) *x*\nnext"),
            "a\\|b &lt;img src=x&gt; \\[l\\]\\(http://e\\) \\*x\\* next"
        );
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500_000), "1.5 MB");
    }
}
