//! The HTML page: `report.html`, a `minijinja` template with HTML autoescaping, given the report,
//! byte counts for people, and the charts as inline SVG. No scripts, fonts or styles are fetched.

use super::super::Report;
use super::{RenderError, charts, empty_note, filter_line, human_bytes};
use minijinja::{Environment, Value, context};

const TEMPLATE: &str = include_str!("report.html");

fn fail(e: minijinja::Error) -> RenderError {
    RenderError(e.to_string())
}

/// Renders the page.
pub fn page(r: &Report) -> Result<String, RenderError> {
    let mut env = Environment::new();
    // The name ends in .html: minijinja escapes every value for HTML.
    env.add_template("report.html", TEMPLATE).map_err(fail)?;
    let apps: Vec<Value> = (r.apps.iter())
        .map(|a| {
            Value::from_serialize(context! {
                ..Value::from_serialize(a),
                ..context! { up => human_bytes(a.bytes_up), down => human_bytes(a.bytes_down) }
            })
        })
        .collect();
    let top_users: Vec<Value> = (r.top_users.iter())
        .map(|u| context! { ..Value::from_serialize(u), ..context! { up => human_bytes(u.bytes_up) } })
        .collect();
    let api_use: Vec<Value> = (r.api_use.iter())
        .map(|k| {
            context! {
                ..Value::from_serialize(k),
                ..context! { up => human_bytes(k.bytes_up), down => human_bytes(k.bytes_down) }
            }
        })
        .collect();
    let candidates: Vec<Value> = (r.candidates.iter())
        .map(|c| {
            context! {
                ..Value::from_serialize(c),
                ..context! { up => human_bytes(c.bytes_up), down => human_bytes(c.bytes_down) }
            }
        })
        .collect();
    let programs: Vec<Value> = (r.programs.iter())
        .map(|p| context! { ..Value::from_serialize(p), ..context! { up => human_bytes(p.bytes_up) } })
        .collect();
    let timeline: Vec<Value> = (r.timeline.iter())
        .map(|d| {
            context! {
                ..Value::from_serialize(d),
                ..context! { up => human_bytes(d.bytes_up), down => human_bytes(d.bytes_down) }
            }
        })
        .collect();
    let top: Vec<(String, u64)> = (r.apps.iter())
        .take(10)
        .map(|a| (a.name.clone(), a.bytes_up))
        .collect();
    let categories: Vec<(String, u64)> = (r.categories.iter())
        .map(|c| (c.category.clone(), c.bytes_up))
        .collect();
    let svg = |chart: Result<String, RenderError>| chart.map(Value::from_safe_string);
    let top_apps_chart = if top.is_empty() {
        None
    } else {
        Some(svg(charts::bars("Data sent, by app", &top))?)
    };
    let category_chart = if categories.is_empty() {
        None
    } else {
        Some(svg(charts::bars("Data sent, by category", &categories))?)
    };
    let trend_chart = if r.trend.is_empty() {
        None
    } else {
        Some(svg(charts::trend(r))?)
    };
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
                candidates,
                apps,
                top_users,
                api_use,
                programs,
                timeline,
                top_apps_chart,
                category_chart,
                trend_chart,
            })
        })
        .map_err(fail)
}
