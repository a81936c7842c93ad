//! `lantern ingest`: Zeek and Suricata EVE logs in, the same events, summary and store rows
//! out as `replay` makes from packets.

use super::{Failure, IngestArgs, pipeline, replay, store};
use lantern::catalog::Catalog;
use lantern::logs::JoinConfig;
use lantern::pipeline::{IngestSettings, ingest};
use std::io::Write;
use std::sync::Arc;

/// Runs `lantern ingest`; returns the error lines of a run that went through.
pub fn run(args: IngestArgs) -> Result<Vec<String>, Failure> {
    let results = &args.results;
    let naming = pipeline::naming(results)?;
    let catalog = Arc::new(Catalog::load(&results.catalog)?);
    let resolver = pipeline::resolver(results)?;
    let mut sequencer = pipeline::sequencer(
        results,
        &naming,
        catalog,
        resolver,
        pipeline::EventsFile::Truncate,
    )?;
    if args.join_window == 0 {
        return Err(Failure("--join-window must be at least 1 second".into()));
    }
    let settings = IngestSettings {
        format: args.format,
        join: JoinConfig {
            window_secs: args.join_window,
            ..JoinConfig::default()
        },
    };
    let store_name = sequencer.store_mut().map(|s| s.display());
    let report = ingest(&args.paths, &settings, &mut sequencer, args.force);
    let sent = sequencer.store_mut().and_then(|s| s.close());
    if let Some(failure) = report.failed {
        return Err(Failure(failure.to_string()));
    }
    if !results.quiet && report.files_read > 0 {
        let s = sequencer.summary();
        let c = &report.counters;
        let head = format!(
            "lantern: {} log file(s), {} lines, {} flows, {} DNS lookups\n",
            report.files_read, c.logs.log_lines, s.flows, s.lookups
        );
        let totals = sequencer.store_totals();
        let text = replay::summary_body(head, &sequencer, c, store_name.as_deref(), totals);
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
    if let (Some(stats), Some(name)) = (&sent, &store_name)
        && (stats.spool.batches > 0 || !results.quiet)
    {
        eprintln!("lantern: {name}: {}", store::spool_line(stats));
    }
    Ok(report.errors)
}
