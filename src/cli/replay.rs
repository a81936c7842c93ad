//! `lantern replay`: capture files in, events, a summary, and evidence in the store out.

use super::{Failure, ReplayArgs, pipeline, store};
use indicatif::{ProgressBar, ProgressStyle};
use lantern::catalog::Catalog;
use lantern::pipeline::Counters;
use lantern::pipeline::{ReplayReport, Sequencer, StoreTotals, replay};
use lantern::proto::NameSource;
use std::io::{IsTerminal, Write};
use std::sync::Arc;

/// Files smaller than this replay too fast for a progress bar to help.
const PROGRESS_MIN_BYTES: u64 = 8 * 1024 * 1024;

/// Counters already shown in the headline of the summary.
const HEADLINE: [&str; 4] = ["packets", "bytes", "flows_created", "log_lines"];

/// Runs `lantern replay`; returns the error lines of a run that went through.
pub fn run(args: ReplayArgs) -> Result<Vec<String>, Failure> {
    let settings = pipeline::settings(&args.pipeline)?;
    let catalog = Arc::new(Catalog::load(&args.pipeline.results.catalog)?);
    let resolver = pipeline::resolver(&args.pipeline.results)?;
    let mut sequencer = pipeline::sequencer(
        &args.pipeline.results,
        &settings.naming,
        catalog,
        resolver,
        pipeline::EventsFile::Truncate,
    )?;
    let store_name = sequencer.store_mut().map(|s| s.display());
    let progress = progress_bar(&args);
    let report = replay(
        &args.files,
        &settings,
        &mut sequencer,
        args.force,
        progress.as_ref(),
    );
    if let Some(bar) = &progress {
        bar.finish_and_clear();
    }
    // ClickHouse: send what the spool holds now; what cannot be sent waits for the next run.
    let sent = sequencer.store_mut().and_then(|s| s.close());
    if let Some(failure) = report.failed {
        return Err(Failure(failure.to_string()));
    }
    if !args.pipeline.results.quiet && report.files_read > 0 {
        let text = summary(
            &report,
            &sequencer,
            store_name.as_deref(),
            sequencer.store_totals(),
        );
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(text.as_bytes());
    }
    if let (Some(stats), Some(name)) = (&sent, &store_name)
        && (stats.spool.batches > 0 || !args.pipeline.results.quiet)
    {
        eprintln!("lantern: {name}: {}", store::spool_line(stats));
    }
    Ok(report.errors)
}

fn progress_bar(args: &ReplayArgs) -> Option<ProgressBar> {
    if args.pipeline.results.quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let total: u64 = args
        .files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    if total < PROGRESS_MIN_BYTES {
        return None;
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    Some(bar)
}

/// The end-of-run summary for stderr.
fn summary(
    report: &ReplayReport,
    sequencer: &Sequencer,
    store: Option<&str>,
    totals: StoreTotals,
) -> String {
    let s = sequencer.summary();
    let c: &Counters = &report.counters;
    let read = report.files_read;
    let head = format!(
        "lantern: {read} file(s), {} packets, {} bytes, {} flows, {} DNS lookups\n",
        c.capture.packets, c.capture.bytes, s.flows, s.lookups
    );
    summary_body(head, sequencer, c, store, totals)
}

/// A run's summary after its headline `head`: names, visibility, the tables, the counters
/// not zero, and what the store got. `ingest` prints it too.
pub(super) fn summary_body(
    head: String,
    sequencer: &Sequencer,
    c: &Counters,
    store: Option<&str>,
    totals: StoreTotals,
) -> String {
    let s = sequencer.summary();
    let mut out = head;
    let names: Vec<String> = NameSource::ALL
        .iter()
        .map(|source| format!("{} {}", source.name(), s.named_by(*source)))
        .collect();
    out.push_str(&format!("  names: {}\n", names.join(", ")));
    out.push_str(&format!("  {}\n", s.visibility_line()));
    out.push_str(&format!(
        "  AI: {} flows and {} DNS lookups by {} (user, app) pairs\n",
        s.ai_flows,
        s.ai_lookups,
        s.user_app_pairs()
    ));
    if s.identity_messages > 0 {
        out.push_str(&format!(
            "  identity: {} DHCP messages and Kerberos exchanges\n",
            s.identity_messages
        ));
    }
    if let Some(table) = s.apps_table() {
        out.push_str(&table);
        out.push('\n');
    }
    if let Some(table) = s.servers_table() {
        out.push_str(&table);
        out.push('\n');
    }
    if let Some(table) = s.candidates_table() {
        out.push_str(&table);
        out.push('\n');
    }
    if s.untracked() > 0 {
        out.push_str(&format!(
            "  ({} flows and lookups are counted above but left out of the tables, which were full)\n",
            s.untracked()
        ));
    }
    let counters: Vec<String> = c
        .iter()
        .filter(|(name, value, _)| *value > 0 && !HEADLINE.contains(name))
        .map(|(name, value, _)| format!("{name} {value}"))
        .collect();
    if !counters.is_empty() {
        out.push_str(&format!("  counters: {}\n", counters.join(", ")));
    }
    if let Some(name) = store {
        out.push_str(&format!(
            "  store: {name}: +{} flow rows, +{} DNS rows, {} hourly rollups and {} coverage rows added to\n",
            totals.flows, totals.lookups, totals.rollups, totals.coverage
        ));
    }
    out
}
