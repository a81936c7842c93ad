//! `lantern replay`: capture files in, events, a summary, and evidence in the store out.

use super::{Failure, ReplayArgs};
use indicatif::{ProgressBar, ProgressStyle};
use lantern::catalog::Catalog;
use lantern::flow::FlowConfig;
use lantern::identity::{IdentityConfig, Pseudonymizer, Resolver, StaticMap};
use lantern::metrics::Counters;
use lantern::naming::{NameSource, NamingConfig};
use lantern::output::{EventWriter, Output};
use lantern::pipeline::{ReplayReport, Sequencer, Settings, StoreTotals, replay};
use lantern::proto::ProtoConfig;
use lantern::store::SqliteStore;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

/// Files smaller than this replay too fast for a progress bar to help.
const PROGRESS_MIN_BYTES: u64 = 8 * 1024 * 1024;

/// Counters already shown in the headline of the summary.
const HEADLINE: [&str; 3] = ["packets", "bytes", "flows_created"];

/// Runs `lantern replay`; returns the error lines of a run that went through.
pub fn run(args: ReplayArgs) -> Result<Vec<String>, Failure> {
    let settings = settings(&args)?;
    let catalog = Catalog::load(&args.catalogs)?;
    let events = match &args.events {
        None => None,
        Some(path) if path == Path::new("-") => Some(EventWriter::new(Box::new(
            BufWriter::with_capacity(1 << 16, std::io::stdout()),
        ))),
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| Failure(format!("{}: {e}", path.display())))?;
            Some(EventWriter::new(Box::new(BufWriter::with_capacity(
                1 << 16,
                file,
            ))))
        }
    };
    let store = if args.no_store {
        None
    } else {
        let sensor = args.sensor.clone().unwrap_or_else(host_name);
        Some(SqliteStore::open(&args.store, &sensor)?)
    };
    let store_path = store.as_ref().map(|s| s.path().to_path_buf());
    let resolver = resolver(&args)?;
    let mut sequencer = Sequencer::new(
        &catalog,
        &settings.naming,
        resolver,
        Output::new(events),
        store,
    );
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
    if let Some(failure) = report.failed {
        return Err(Failure(failure.to_string()));
    }
    if !args.quiet && report.files_read > 0 {
        let text = summary(
            &report,
            &sequencer,
            store_path.as_deref(),
            sequencer.store_totals(),
        );
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(text.as_bytes());
    }
    Ok(report.errors)
}

/// The identity stage: its settings, the static map and the pseudonym key.
fn resolver(args: &ReplayArgs) -> Result<Resolver, Failure> {
    if args.kerberos_lifetime == 0 {
        return Err(Failure(
            "--kerberos-lifetime must be at least 1 second".into(),
        ));
    }
    if args.dhcp_default_lease == 0 {
        return Err(Failure(
            "--dhcp-default-lease must be at least 1 second".into(),
        ));
    }
    let mut resolver = Resolver::new(IdentityConfig {
        kerberos_lifetime: args.kerberos_lifetime,
        dhcp_default_lease: args.dhcp_default_lease,
        ..IdentityConfig::default()
    });
    if let Some(path) = &args.identity {
        resolver.set_static_map(Some(Arc::new(StaticMap::load(path)?)));
    }
    if let Some(path) = &args.pseudonymize {
        resolver.set_pseudonymizer(Some(Pseudonymizer::load(path)?));
    }
    Ok(resolver)
}

/// Turns flags into validated settings, refusing nonsense before any work starts.
fn settings(args: &ReplayArgs) -> Result<Settings, Failure> {
    let check = |ok: bool, message: &str| {
        if ok {
            Ok(())
        } else {
            Err(Failure(message.to_string()))
        }
    };
    check(
        (1..=64).contains(&args.threads),
        "--threads must be between 1 and 64",
    )?;
    check(args.max_flows >= 1, "--max-flows must be at least 1")?;
    check(
        args.tcp_timeout >= 1,
        "--tcp-timeout must be at least 1 second",
    )?;
    check(
        args.udp_timeout >= 1,
        "--udp-timeout must be at least 1 second",
    )?;
    check(
        (512..=16 * 1024 * 1024).contains(&args.reassembly_limit),
        "--reassembly-limit must be between 512 bytes and 16 MiB",
    )?;
    check(
        args.dns_cache_size >= 1,
        "--dns-cache-size must be at least 1",
    )?;
    let per_worker = args.max_flows.div_ceil(args.threads);
    Ok(Settings {
        flow: FlowConfig {
            max_flows: per_worker,
            tcp_timeout_secs: args.tcp_timeout,
            udp_timeout_secs: args.udp_timeout,
            ..FlowConfig::default()
        },
        proto: ProtoConfig {
            reassembly_bytes: args.reassembly_limit,
            ..ProtoConfig::default()
        },
        naming: NamingConfig {
            dns_cache_entries: args.dns_cache_size,
            ..NamingConfig::default()
        },
        threads: args.threads,
    })
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "sensor".to_string())
}

fn progress_bar(args: &ReplayArgs) -> Option<ProgressBar> {
    if args.quiet || !std::io::stderr().is_terminal() {
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
    sequencer: &Sequencer<'_>,
    store: Option<&Path>,
    totals: StoreTotals,
) -> String {
    let s = sequencer.summary();
    let c: &Counters = &report.counters;
    let read = report.files_read;
    let mut out = format!(
        "lantern: {read} file(s), {} packets, {} bytes, {} flows, {} DNS lookups\n",
        c.packets, c.bytes, s.flows, s.lookups
    );
    let names: Vec<String> = NameSource::ALL
        .iter()
        .map(|source| format!("{} {}", source.name(), s.named_by(*source)))
        .collect();
    out.push_str(&format!("  names: {}\n", names.join(", ")));
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
    if let Some(path) = store {
        out.push_str(&format!(
            "  store: {}: +{} flow rows, +{} DNS rows, {} hourly rollups added to\n",
            path.display(),
            totals.flows,
            totals.lookups,
            totals.rollups
        ));
    }
    out
}
