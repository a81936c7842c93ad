//! The HTML page: `report.html`, a `minijinja` template with HTML autoescaping, given the report,
//! byte counts for people, and the charts as inline SVG. No scripts, fonts or styles are fetched.

use super::super::Report;
use super::{RenderError, charts, empty_note, filter_line, human_bytes};
use minijinja::{Environment, Value, context};

const TEMPLATE: &str = include_str!("report.html");

fn fail(e: minijinja::Error) -> RenderError {
    RenderError(e.to_string())
}

/// Rows as the template takes them: each row's fields, with `up` and `down` its bytes each way
/// for people (`1.5 MB`).
fn with_bytes<T: serde::Serialize>(rows: &[T], bytes: impl Fn(&T) -> (u64, u64)) -> Vec<Value> {
    (rows.iter())
        .map(|row| {
            let (up, down) = bytes(row);
            Value::from_serialize(context! {
                ..Value::from_serialize(row),
                ..context! { up => human_bytes(up), down => human_bytes(down) }
            })
        })
        .collect()
}

/// The page's charts: data sent by app (the ten that sent most) and by category, and the trend.
pub(super) fn charts(r: &Report) -> Result<[Option<Value>; 3], RenderError> {
    let top: Vec<(String, u64)> = (r.apps.iter())
        .take(10)
        .map(|a| (a.name.clone(), a.bytes_up))
        .collect();
    let categories: Vec<(String, u64)> = (r.categories.iter())
        .map(|c| (c.category.clone(), c.bytes_up))
        .collect();
    let svg = |chart: Result<String, RenderError>| chart.map(Value::from_safe_string);
    let top_apps = match top.is_empty() {
        true => None,
        false => Some(svg(charts::bars("Data sent, by app", &top))?),
    };
    let by_category = match categories.is_empty() {
        true => None,
        false => Some(svg(charts::bars("Data sent, by category", &categories))?),
    };
    let trend = match r.trend.is_empty() {
        true => None,
        false => Some(svg(charts::trend(r))?),
    };
    Ok([top_apps, by_category, trend])
}

/// Renders the page.
pub fn page(r: &Report) -> Result<String, RenderError> {
    let mut env = Environment::new();
    // The name ends in .html: minijinja escapes every value for HTML.
    env.add_template("report.html", TEMPLATE).map_err(fail)?;
    let [top_apps_chart, category_chart, trend_chart] = charts(r)?;
    env.get_template("report.html")
        .and_then(|t| {
            t.render(context! {
                r => Value::from_serialize(r),
                h => Value::from_serialize(&r.headline),
                note => empty_note(r),
                only => filter_line(r),
                unsanctioned_bytes => human_bytes(r.headline.bytes_up_unsanctioned),
                unreviewed_bytes => human_bytes(r.headline.bytes_up_unreviewed),
                uncatalogued_bytes => human_bytes(r.headline.bytes_up_uncatalogued),
                apps => with_bytes(&r.apps, |a| (a.bytes_up, a.bytes_down)),
                top_users => with_bytes(&r.top_users, |u| (u.bytes_up, 0)),
                api_use => with_bytes(&r.api_use, |k| (k.bytes_up, k.bytes_down)),
                candidates => with_bytes(&r.candidates, |c| (c.bytes_up, c.bytes_down)),
                programs => with_bytes(&r.programs, |p| (p.bytes_up, 0)),
                timeline => with_bytes(&r.timeline, |d| (d.bytes_up, d.bytes_down)),
                top_apps_chart,
                category_chart,
                trend_chart,
            })
        })
        .map_err(fail)
}
