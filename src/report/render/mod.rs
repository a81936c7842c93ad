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
            .map(|t| Ok((format!("{}.csv", t.name), csv(t)?)))
            .collect::<Result<_, RenderError>>()?,
    })
}

/// One table of the report.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Table {
    /// File name and stable id: `apps`, `top_users`...
    pub name: &'static str,
    /// The heading.
    pub title: &'static str,
    /// Column names, stable.
    pub columns: Vec<&'static str>,
    /// Cells, as text.
    pub rows: Vec<Vec<String>>,
}

fn table<T>(
    name: &'static str,
    title: &'static str,
    columns: &[&'static str],
    items: &[T],
    cells: impl Fn(&T) -> Vec<String>,
) -> Table {
    Table {
        name,
        title,
        columns: columns.to_vec(),
        rows: items.iter().map(cells).collect(),
    }
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
pub fn tables(r: &Report) -> Vec<Table> {
    let mut all = Vec::new();
    let filters = filter_rows(r);
    if !filters.is_empty() {
        all.push(table(
            "filters",
            "Filters",
            &["filter", "value"],
            &filters,
            |(k, v)| vec![k.to_string(), v.to_string()],
        ));
    }
    all.extend(use_tables(r));
    if r.filter.user.is_some() {
        all.push(table(
            "timeline",
            "Timeline of the user",
            &[
                "day",
                "app_id",
                "name",
                "flows",
                "bytes_up",
                "bytes_down",
                "first_seen",
                "last_seen",
            ],
            &r.timeline,
            |d| {
                vec![
                    d.day.clone(),
                    d.app_id.clone(),
                    d.name.clone(),
                    d.flows.to_string(),
                    d.bytes_up.to_string(),
                    d.bytes_down.to_string(),
                    d.first_seen.clone(),
                    d.last_seen.clone(),
                ]
            },
        ));
    }
    all
}

/// The tables every report has.
fn use_tables(r: &Report) -> Vec<Table> {
    let h = &r.headline;
    let headline = [
        ("apps", h.apps),
        ("people", h.people),
        ("services", h.services),
        ("agents", h.agents),
        ("unsanctioned_apps", h.unsanctioned_apps),
        ("bytes_up_unsanctioned", h.bytes_up_unsanctioned),
        ("bytes_up_unreviewed", h.bytes_up_unreviewed),
        ("new_apps", h.new_apps),
        ("flows", h.flows),
        ("dns_lookups", h.dns_lookups),
        ("bytes_up", h.bytes_up),
        ("bytes_down", h.bytes_down),
    ];
    vec![
        table(
            "headline",
            "Headline",
            &["metric", "value"],
            &headline,
            |(k, v)| vec![k.to_string(), v.to_string()],
        ),
        table(
            "apps",
            "AI apps in use",
            &[
                "app_id",
                "name",
                "vendor",
                "category",
                "status",
                "risk_tier",
                "confidence",
                "users",
                "devices",
                "services",
                "flows",
                "dns_lookups",
                "bytes_up",
                "bytes_down",
                "first_seen_ever",
                "last_seen",
            ],
            &r.apps,
            |a| {
                vec![
                    a.app_id.clone(),
                    a.name.clone(),
                    a.vendor.clone(),
                    a.category.clone(),
                    a.status.clone(),
                    a.risk_tier.clone(),
                    a.confidence.clone(),
                    a.users.to_string(),
                    a.devices.to_string(),
                    a.services.to_string(),
                    a.flows.to_string(),
                    a.dns_lookups.to_string(),
                    a.bytes_up.to_string(),
                    a.bytes_down.to_string(),
                    a.first_seen_ever.clone(),
                    a.last_seen.clone(),
                ]
            },
        ),
        table(
            "new_apps",
            "New this period",
            &[
                "app_id",
                "name",
                "status",
                "first_seen",
                "first_user",
                "users",
            ],
            &r.new_apps,
            |a| {
                vec![
                    a.app_id.clone(),
                    a.name.clone(),
                    a.status.clone(),
                    a.first_seen.clone(),
                    a.first_user.clone(),
                    a.users.to_string(),
                ]
            },
        ),
        table(
            "top_users",
            "Most data sent to unsanctioned and unreviewed apps",
            &["user", "user_kind", "app_id", "status", "flows", "bytes_up"],
            &r.top_users,
            |u| {
                vec![
                    u.user.clone(),
                    u.user_kind.clone(),
                    u.app_id.clone(),
                    u.status.clone(),
                    u.flows.to_string(),
                    u.bytes_up.to_string(),
                ]
            },
        ),
        table(
            "api_use",
            "AI APIs: people, services and agents",
            &["user_kind", "users", "flows", "bytes_up", "bytes_down"],
            &r.api_use,
            |k| {
                vec![
                    k.user_kind.clone(),
                    k.users.to_string(),
                    k.flows.to_string(),
                    k.bytes_up.to_string(),
                    k.bytes_down.to_string(),
                ]
            },
        ),
        table(
            "categories",
            "By category",
            &["category", "apps", "users", "flows", "bytes_up"],
            &r.categories,
            |c| {
                vec![
                    c.category.clone(),
                    c.apps.to_string(),
                    c.users.to_string(),
                    c.flows.to_string(),
                    c.bytes_up.to_string(),
                ]
            },
        ),
        table(
            "trend",
            "Week by week",
            &["week", "app_id", "users", "bytes_up"],
            &r.trend,
            |t| {
                vec![
                    t.week.clone(),
                    t.app_id.clone(),
                    t.users.to_string(),
                    t.bytes_up.to_string(),
                ]
            },
        ),
        table(
            "candidates",
            "Names that look like AI and are not in the catalog",
            &["name", "flows", "lookups", "users"],
            &r.candidates,
            |c| {
                vec![
                    c.name.clone(),
                    c.flows.to_string(),
                    c.lookups.to_string(),
                    c.users.to_string(),
                ]
            },
        ),
        table(
            "one_source_apps",
            "Apps the catalog knows from one source",
            &["app_id", "name", "category", "sources", "users", "bytes_up"],
            &r.one_source_apps,
            |a| {
                vec![
                    a.app_id.clone(),
                    a.name.clone(),
                    a.category.clone(),
                    a.sources.join("; "),
                    a.users.to_string(),
                    a.bytes_up.to_string(),
                ]
            },
        ),
        table(
            "local_servers",
            "Model servers on the local network",
            &["app_id", "name", "server", "users", "flows", "bytes_up"],
            &r.local_servers,
            |s| {
                vec![
                    s.app_id.clone(),
                    s.name.clone(),
                    s.server.clone(),
                    s.users.join("; "),
                    s.flows.to_string(),
                    s.bytes_up.to_string(),
                ]
            },
        ),
        table(
            "mcp_servers",
            "MCP servers in use",
            &["server", "name", "remote", "clients", "methods", "flows"],
            &r.mcp_servers,
            |s| {
                vec![
                    s.server.clone(),
                    s.name.clone(),
                    s.remote.to_string(),
                    s.clients.join("; "),
                    s.methods.join("; "),
                    s.flows.to_string(),
                ]
            },
        ),
        table(
            "programs",
            "AI used by programs and agents",
            &["host", "user", "software", "apps", "flows", "bytes_up"],
            &r.programs,
            |p| {
                vec![
                    p.host.clone(),
                    p.user.clone(),
                    p.software.clone(),
                    p.apps.join("; "),
                    p.flows.to_string(),
                    p.bytes_up.to_string(),
                ]
            },
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

fn csv(table: &Table) -> Result<String, RenderError> {
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
