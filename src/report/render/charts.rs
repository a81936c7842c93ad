//! The report's charts, drawn with `plotters` into SVG text that the HTML page holds inline:
//! horizontal bars (top apps, categories) and the weekly trend of users per app. Text in them
//! is escaped by plotters' SVG backend.

use super::super::{Report, TrendPoint};
use super::{RenderError, human_bytes};
use plotters::prelude::*;
use std::collections::BTreeMap;

const WIDTH: u32 = 680;
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn fail<E: std::fmt::Debug>(e: E) -> RenderError {
    RenderError(format!("{e:?}"))
}

/// Horizontal bars of `(label, value)`, largest first, values shown as bytes.
pub fn bars(title: &str, items: &[(String, u64)]) -> Result<String, RenderError> {
    let mut svg = String::new();
    let rows = items.len().max(1) as u32;
    let height = 60 + rows * 26;
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(fail)?;
        let max = items.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(24)
            .y_label_area_size(200)
            .build_cartesian_2d(0u64..max + max / 8, (0..rows - 1).into_segmented())
            .map_err(fail)?;
        let labels: Vec<String> = items.iter().map(|(l, _)| l.clone()).collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(WHITE)
            .x_labels(5)
            .x_label_formatter(&|v| human_bytes(*v))
            .y_labels(rows as usize)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels.get(*i as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .draw()
            .map_err(fail)?;
        chart
            .draw_series(items.iter().enumerate().map(|(i, (_, v))| {
                let i = i as u32;
                let mut bar = Rectangle::new(
                    [
                        (0, SegmentValue::Exact(i)),
                        (*v, SegmentValue::Exact(i + 1)),
                    ],
                    PALETTE[0].filled(),
                );
                bar.set_margin(3, 3, 0, 0);
                bar
            }))
            .map_err(fail)?;
        root.present().map_err(fail)?;
    }
    Ok(svg)
}

/// Users per week of the apps most used in the period (at most six lines).
pub fn trend(report: &Report) -> Result<String, RenderError> {
    let apps: Vec<&str> = report
        .apps
        .iter()
        .take(PALETTE.len())
        .map(|a| a.app_id.as_str())
        .collect();
    let weeks: Vec<&str> = {
        let mut w: Vec<&str> = report.trend.iter().map(|t| t.week.as_str()).collect();
        w.sort_unstable();
        w.dedup();
        w
    };
    let points: BTreeMap<(&str, &str), &TrendPoint> = report
        .trend
        .iter()
        .map(|t| ((t.app_id.as_str(), t.week.as_str()), t))
        .collect();
    let max = report
        .trend
        .iter()
        .map(|t| t.users)
        .max()
        .unwrap_or(0)
        .max(1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 280)).into_drawing_area();
        root.fill(&WHITE).map_err(fail)?;
        let last = weeks.len().saturating_sub(1).max(1) as u32;
        let mut chart = ChartBuilder::on(&root)
            .caption("Users per week, most used apps", ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(40)
            .build_cartesian_2d(0u32..last, 0u64..max + 1)
            .map_err(fail)?;
        chart
            .configure_mesh()
            .x_labels(weeks.len().max(2))
            .x_label_formatter(&|i| {
                weeks
                    .get(*i as usize)
                    .map(|w| w.to_string())
                    .unwrap_or_default()
            })
            .y_labels(5)
            .draw()
            .map_err(fail)?;
        for (n, app) in apps.iter().enumerate() {
            let color = PALETTE[n % PALETTE.len()];
            let line: Vec<(u32, u64)> = weeks
                .iter()
                .enumerate()
                .map(|(i, w)| (i as u32, points.get(&(*app, *w)).map_or(0, |t| t.users)))
                .collect();
            chart
                .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))
                .map_err(fail)?
                .label(*app)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart
                .draw_series(line.iter().map(|p| Circle::new(*p, 3, color.filled())))
                .map_err(fail)?;
        }
        chart
            .configure_series_labels()
            .border_style(BLACK.mix(0.3))
            .background_style(WHITE.mix(0.9))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(fail)?;
        root.present().map_err(fail)?;
    }
    Ok(svg)
}
