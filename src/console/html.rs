//! The console's HTML: its templates (`templates/`, `minijinja` with HTML autoescaping, so
//! every name from the wire lands as text) and the model each page is rendered from. A table's
//! cells keep the report's text as `data-value` (what a test or the sorting script reads) and
//! show bytes for people; links go to the pages of what a cell names, keeping the period and
//! the sensor and group filters.

use super::access::Role;
use super::pages::{Content, PageKind};
use super::view::{View, encode};
use crate::report::render::{ReportTable, chart_svgs, empty_note, filter_line, human_bytes};
use minijinja::{Environment, Value, context};
use serde::Serialize;

/// Who is asking: the user (none without `--auth`) and their role.
#[derive(Clone, Debug)]
pub struct Who {
    /// Their name, when authenticated.
    pub user: Option<String>,
    /// What they may see.
    pub role: Role,
    /// Whether they came in with a session cookie (and may log out).
    pub session: bool,
}

/// The templates, parsed once.
pub struct Templates {
    env: Environment<'static>,
}

/// A rendering that failed: a bug, not bad input.
#[derive(Debug, thiserror::Error)]
#[error("rendering a page: {0}")]
pub struct HtmlError(String);

impl From<minijinja::Error> for HtmlError {
    fn from(e: minijinja::Error) -> HtmlError {
        HtmlError(e.to_string())
    }
}

impl From<crate::report::render::RenderError> for HtmlError {
    fn from(e: crate::report::render::RenderError) -> HtmlError {
        HtmlError(e.to_string())
    }
}

impl Templates {
    /// Parses the templates (their names end in `.html`: every value is escaped for HTML).
    pub fn new() -> Result<Templates, HtmlError> {
        let mut env = Environment::new();
        for (name, text) in [
            ("layout.html", include_str!("templates/layout.html")),
            ("page.html", include_str!("templates/page.html")),
            ("login.html", include_str!("templates/login.html")),
            ("reveal.html", include_str!("templates/reveal.html")),
            ("message.html", include_str!("templates/message.html")),
        ] {
            env.add_template(name, text)?;
        }
        Ok(Templates { env })
    }

    /// Renders `name` with the layout's values and `extra`. Control characters from names on
    /// the wire are shown as escapes (`\u{1b}`): the escaping for HTML leaves them be.
    pub fn render(
        &self,
        name: &str,
        layout: &Layout<'_>,
        extra: Value,
    ) -> Result<String, HtmlError> {
        let ctx = context! { ..Value::from_serialize(layout), ..extra };
        Ok(visible(self.env.get_template(name)?.render(ctx)?))
    }
}

/// `html` with every control character but the line feed written as its escape.
fn visible(html: String) -> String {
    if !html.chars().any(|c| c.is_control() && c != '\n') {
        return html;
    }
    let mut out = String::with_capacity(html.len() + 16);
    for c in html.chars() {
        match c {
            '\n' => out.push(c),
            c if c.is_control() => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out
}

/// What the layout shows around every page.
#[derive(Serialize)]
pub struct Layout<'a> {
    title: String,
    keep: String,
    nav: Vec<NavItem>,
    who: WhoView<'a>,
}

#[derive(Serialize)]
struct NavItem {
    title: &'static str,
    href: String,
    current: bool,
}

#[derive(Serialize)]
struct WhoView<'a> {
    user: Option<&'a str>,
    role: &'static str,
    session: bool,
}

impl<'a> Layout<'a> {
    /// The layout of a page titled `title`, on `current`'s tab, its links keeping `keep`.
    pub fn new(title: String, current: Option<PageKind>, keep: String, who: &'a Who) -> Layout<'a> {
        let tabs = [
            PageKind::Overview,
            PageKind::Apps,
            PageKind::Users,
            PageKind::Mcp,
            PageKind::Servers,
            PageKind::Programs,
            PageKind::Candidates,
            PageKind::Sensors,
        ];
        let mut nav: Vec<NavItem> = (tabs.into_iter())
            .filter(|k| who.role.sees_people() || !k.names_people())
            .map(|k| NavItem {
                title: k.title(),
                href: format!("{}{keep}", k.path()),
                current: current.is_some_and(|c| c.path() == k.path()),
            })
            .collect();
        if who.role.may_reveal() {
            nav.push(NavItem {
                title: "Reveal",
                href: "/reveal".into(),
                current: false,
            });
        }
        Layout {
            title,
            keep,
            nav,
            who: WhoView {
                user: who.user.as_deref(),
                role: who.role.name(),
                session: who.session,
            },
        }
    }
}

impl Layout<'_> {
    /// No tabs: the login page shows nothing of the console.
    pub fn no_nav(&mut self) {
        self.nav.clear();
    }
}

/// One number at the top of a page.
#[derive(Serialize)]
struct Metric {
    name: String,
    label: String,
    value: String,
    text: String,
}

/// One cell of a table.
#[derive(Serialize)]
struct Cell {
    col: String,
    value: String,
    text: String,
    href: Option<String>,
    num: bool,
}

/// One table of a page.
#[derive(Serialize)]
struct Section {
    name: &'static str,
    title: &'static str,
    columns: Vec<String>,
    rows: Vec<Vec<Cell>>,
    csv: String,
}

/// The form's current values.
#[derive(Default, Serialize)]
struct Form {
    week: String,
    month: String,
    from: String,
    to: String,
    sensor: String,
    group: String,
    user: String,
    app: String,
}

/// Renders a page of `kind` (about `subject`) from its content.
pub fn page(
    t: &Templates,
    kind: PageKind,
    subject: Option<&str>,
    view: &View,
    who: &Who,
    content: &Content,
) -> Result<String, HtmlError> {
    let role = who.role;
    let keep = view.keep();
    let title = kind.title().to_string();
    // An app's page is titled by its name.
    let named = match (kind, content.report.apps.first()) {
        (PageKind::App, Some(app)) => Some(app.name.as_str()),
        _ => subject,
    };
    let layout = Layout::new(
        match named {
            Some(s) => format!("{title}: {s}"),
            None => title.clone(),
        },
        Some(kind),
        keep.clone(),
        who,
    );
    let r = &content.report;
    let query = view.query_with(&r.filter);
    let all = content.tables(role);
    let sections: Vec<Section> = (kind.tables(role).iter())
        .filter_map(|name| all.iter().find(|t| t.name == *name))
        .map(|t| section(t, &query, view, role))
        .collect();
    let charts = match kind {
        PageKind::Overview => chart_svgs(r)?
            .into_iter()
            .map(Value::from_safe_string)
            .collect(),
        _ => Vec::new(),
    };
    let extra = context! {
        kind => kind.name(),
        heading => kind.title(),
        subject,
        named,
        path => match subject {
            Some(s) => format!("{}/{}", kind.path(), encode(s)),
            None => kind.path().to_string(),
        },
        people => role.sees_people(),
        form => form(view),
        period => Value::from_serialize(&r.period),
        only => filter_line(r),
        notes => notes(content, role),
        query,
        metrics => metrics(kind, content),
        charts,
        sections,
    };
    t.render("page.html", &layout, extra)
}

fn form(view: &View) -> Form {
    use super::view::Span;
    let mut f = Form::default();
    match &view.span {
        Span::LastWeek => {}
        Span::Week(w) => f.week = w.clone(),
        Span::Month(m) => f.month = m.clone(),
        Span::Dates(from, to) => (f.from, f.to) = (from.clone(), to.clone()),
    }
    let first = |v: &[String]| v.first().cloned().unwrap_or_default();
    f.sensor = first(&view.filter.sensors);
    f.group = view.filter.group.clone().unwrap_or_default();
    f.user = view.filter.user.clone().unwrap_or_default();
    f.app = first(&view.filter.apps);
    f
}

fn notes(content: &Content, role: Role) -> Vec<String> {
    let r = &content.report;
    let mut notes: Vec<String> = empty_note(r).into_iter().collect();
    if !r.policy {
        notes.push("No policy was given: every app is unreviewed.".into());
    }
    if content.pseudonymized && role.sees_people() {
        notes.push(
            "This store is pseudonymized: users, devices and client addresses are tokens \
             (anon-...); an auditor can reveal one, with a reason."
                .into(),
        );
    }
    if !role.sees_people() {
        notes.push("Your role (viewer) shows no person: users and devices are counts only.".into());
    }
    notes
}

/// The numbers at the top: the report's headline on the overview and a user's page, the app's
/// row on an app's page.
fn metrics(kind: PageKind, content: &Content) -> Vec<Metric> {
    let r = &content.report;
    let fields = match kind {
        PageKind::Overview | PageKind::User => serde_json::to_value(&r.headline),
        PageKind::App => match r.apps.first() {
            Some(app) => serde_json::to_value(app),
            None => return Vec::new(),
        },
        _ => return Vec::new(),
    };
    let Ok(serde_json::Value::Object(fields)) = fields else {
        return Vec::new();
    };
    let mut out: Vec<Metric> = (fields.into_iter())
        .filter(|(name, _)| !matches!(name.as_str(), "app_id" | "name" | "vendor" | "new"))
        .map(|(name, value)| {
            let value = match value {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            let text = shown(&name, &value);
            Metric {
                label: name.replace('_', " "),
                name,
                value,
                text,
            }
        })
        .collect();
    if let Some(hours) = content.hours {
        out.push(Metric {
            name: "hours".into(),
            label: "hours of use".into(),
            value: hours.to_string(),
            text: hours.to_string(),
        });
    }
    out
}

/// A cell's text for people: bytes as `1.5 MB`.
fn shown(column: &str, value: &str) -> String {
    match value.parse::<u64>() {
        Ok(n) if column.contains("bytes") => human_bytes(n),
        _ => value.to_string(),
    }
}

fn section(t: &ReportTable, query: &str, view: &View, role: Role) -> Section {
    let csv = match query.is_empty() {
        true => format!("?table={}", t.name),
        false => format!("{query}&table={}", t.name),
    };
    let app_at = t.columns.iter().position(|c| c == "app_id");
    let rows = (t.rows.iter())
        .map(|row| {
            let app = app_at.map(|i| row[i].as_str()).filter(|a| !a.is_empty());
            (t.columns.iter().zip(row))
                .map(|(col, value)| Cell {
                    col: col.clone(),
                    value: value.clone(),
                    text: shown(col, value),
                    href: link(col, value, app, view, role),
                    num: !value.is_empty() && value.parse::<i64>().is_ok(),
                })
                .collect()
        })
        .collect();
    Section {
        name: t.name,
        title: t.title,
        columns: t.columns.clone(),
        rows,
        csv,
    }
}

/// Where a cell links: an app's name or id to its page, a user to theirs, a sensor to the
/// overview of what it saw.
fn link(col: &str, value: &str, app: Option<&str>, view: &View, role: Role) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    let keep = view.keep();
    match col {
        "app_id" | "name" => app.map(|a| format!("/apps/{}{keep}", encode(a))),
        "user" | "first_user" if role.sees_people() => {
            Some(format!("/users/{}{keep}", encode(value)))
        }
        "sensor" => Some(format!(
            "/{}",
            view.query_with(&crate::report::Filter {
                sensors: vec![value.to_string()],
                ..Default::default()
            })
        )),
        _ => None,
    }
}
