//! `lantern capture`: the sensor daemon. Opens the interfaces and binds the metrics port, drops
//! privileges while it is the only thread, then starts every thread (metrics, the live
//! pipeline) and runs until SIGTERM or SIGINT, logging a status line, serving metrics and
//! reopening the events file and reloading the catalog, policy and identity map on SIGHUP on
//! the way. With `--logs DIR` it follows the logs Zeek or Suricata write there instead of
//! capturing (`pipeline::follow`).

use super::metrics::{Metrics, MetricsPort, StatusLog};
use super::{Failure, PipelineArgs, pipeline, privileges};
use clap::Args;
use lantern::capture::{LiveConfig, LiveSource};
use lantern::catalog::Catalog;
use lantern::decode::is_supported;
use lantern::logs::JoinConfig;
use lantern::naming::NamingConfig;
use lantern::pipeline::{
    FollowSettings, LiveSettings, LiveSnapshot, Sequencer, Supervisor, capture, follow,
};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Flags of `lantern capture`. Every one of them can also be set in the `--config` file, under
/// its long name; the command line wins.
#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// Network interface to capture from (repeatable).
    #[arg(long, short = 'i', value_name = "IF")]
    interface: Vec<String>,
    /// Follow the logs Zeek (its `current/` directory) or Suricata (`eve.json`) write in DIR,
    /// through their rotations, instead of capturing packets.
    #[arg(long, value_name = "DIR")]
    logs: Option<PathBuf>,
    /// With --logs: the file that keeps how far the logs were read, so a restart neither loses
    /// nor repeats a line.
    #[arg(long, value_name = "FILE", default_value = "lantern-logs.state")]
    logs_state: PathBuf,
    /// With --logs: seconds of log time a flow's totals wait for its other lines.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    join_window: u64,
    /// BPF capture filter, in tcpdump's syntax.
    #[arg(long, value_name = "EXPR")]
    filter: Option<String>,
    /// Bytes kept of each packet (enough for handshakes; the rest is counted, not captured).
    #[arg(long, default_value_t = lantern::capture::DEFAULT_SNAPLEN, value_name = "BYTES")]
    snaplen: u32,
    /// Leave the interface out of promiscuous mode.
    #[arg(long)]
    no_promisc: bool,
    /// Kernel ring buffer per interface, in MiB.
    #[arg(long, default_value_t = lantern::capture::DEFAULT_BUFFER_BYTES >> 20, value_name = "MIB")]
    buffer_mib: u32,
    /// Seconds between two writes of evidence and rollups to the store.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    flush_interval: u64,
    /// Seconds between two status lines on stderr (0: none).
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    status_interval: u64,
    /// Serve Prometheus metrics over HTTP at ADDR (for example 127.0.0.1:9810).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
    /// After opening the interfaces, run as this user (and drop every capability).
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// Group to run as with --user (default: the user's primary group).
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
    #[command(flatten)]
    retention: super::store::RetentionArgs,
    /// TOML file with any of these options under their long names.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

impl CaptureArgs {
    /// The config file named on the command line, if any.
    pub fn config_file(&self) -> Option<&PathBuf> {
        self.config.as_ref()
    }
}

/// Runs `lantern capture`; returns the error lines of a run that went through.
pub fn run(args: CaptureArgs) -> Result<Vec<String>, Failure> {
    if let Some(dir) = &args.logs {
        return run_logs(&args, dir);
    }
    let settings = pipeline::settings(&args.pipeline)?;
    let live = live_config(&args)?;
    let retention = args.retention.retention()?;
    let sources = open_interfaces(&args.interface, &live)?;
    let (mut sequencer, metrics) = unprivileged_sequencer(&args, &settings.naming)?;
    let signals = Signals::register()?;
    let names: Vec<&str> = sources.iter().map(LiveSource::interface).collect();
    let mut supervisor = Daemon {
        args: &args,
        signals,
        status: StatusLog::new(
            Duration::from_secs(args.status_interval),
            args.pipeline.results.quiet,
        ),
        metrics,
    };
    if !args.pipeline.results.quiet {
        eprintln!(
            "lantern: capturing on {} with {} worker(s); flush every {} s",
            names.join(", "),
            settings.threads,
            args.flush_interval
        );
    }
    let live_settings = LiveSettings {
        flush_every: Duration::from_secs(args.flush_interval),
        retention: Some(retention).filter(|r| !r.keeps_all()),
        ..LiveSettings::default()
    };
    let report = capture(
        sources,
        &settings,
        &live_settings,
        &mut sequencer,
        &mut supervisor,
    );
    let sent = sequencer.store_mut().and_then(|s| s.close());
    if let Some(failure) = report.failed {
        return Err(Failure(failure.to_string()));
    }
    if !args.pipeline.results.quiet {
        supervisor
            .status
            .final_line(&report.counters, sequencer.store_totals());
    }
    if let Some(stats) = &sent
        && (stats.spool.batches > 0 || !args.pipeline.results.quiet)
    {
        eprintln!("lantern: {}", super::store::spool_line(stats));
    }
    Ok(report.errors)
}

/// The daemon's stages after the reading side, and its metrics server, once privileges are
/// gone. The metrics port is bound before they go, so any port can be given; it is served
/// after, by threads that never had them. Everything after the drop runs without root or
/// capabilities: files it creates belong to the service user. No thread may start before it
/// (the drop refuses to run if one did).
fn unprivileged_sequencer(
    args: &CaptureArgs,
    naming: &NamingConfig,
) -> Result<(Sequencer, Option<Metrics>), Failure> {
    let catalog = Arc::new(Catalog::load(&args.pipeline.results.catalog)?);
    let resolver = pipeline::resolver(&args.pipeline.results)?;
    let metrics_port = args.metrics.map(MetricsPort::bind).transpose()?;
    privileges::drop(args.user.as_deref(), args.group.as_deref())?;
    let metrics = metrics_port.map(MetricsPort::serve).transpose()?;
    let sequencer = pipeline::sequencer(
        &args.pipeline.results,
        naming,
        catalog,
        resolver,
        pipeline::EventsFile::Append,
    )?;
    Ok((sequencer, metrics))
}

/// Opens every interface, refusing one whose link type lantern does not decode.
fn open_interfaces(interfaces: &[String], live: &LiveConfig) -> Result<Vec<LiveSource>, Failure> {
    let mut sources = Vec::with_capacity(interfaces.len());
    for interface in interfaces {
        let source = LiveSource::open(interface, live)?;
        if !is_supported(source.link()) {
            return Err(Failure(format!(
                "interface {interface}: unsupported link type {}",
                source.link()
            )));
        }
        sources.push(source);
    }
    Ok(sources)
}

/// Runs `lantern capture --logs DIR`: the same daemon, following logs instead of interfaces.
fn run_logs(args: &CaptureArgs, dir: &Path) -> Result<Vec<String>, Failure> {
    if !args.interface.is_empty() || args.filter.is_some() {
        return Err(Failure(
            "--logs follows logs instead of capturing: give it without --interface or --filter"
                .into(),
        ));
    }
    let settings = pipeline::settings(&args.pipeline)?;
    if args.flush_interval == 0 || args.join_window == 0 {
        return Err(Failure(
            "--flush-interval and --join-window must be at least 1 second".into(),
        ));
    }
    if !dir.is_dir() {
        return Err(Failure(format!(
            "--logs {}: not a directory",
            dir.display()
        )));
    }
    let retention = args.retention.retention()?;
    let (mut sequencer, metrics) = unprivileged_sequencer(args, &settings.naming)?;
    let mut supervisor = Daemon {
        args,
        signals: Signals::register()?,
        status: StatusLog::new(
            Duration::from_secs(args.status_interval),
            args.pipeline.results.quiet,
        ),
        metrics,
    };
    if !args.pipeline.results.quiet {
        eprintln!(
            "lantern: following the logs in {}; flush every {} s",
            dir.display(),
            args.flush_interval
        );
    }
    let follow_settings = FollowSettings {
        dir: dir.to_path_buf(),
        state: args.logs_state.clone(),
        join: JoinConfig {
            window_secs: args.join_window,
            ..JoinConfig::default()
        },
    };
    let live_settings = LiveSettings {
        flush_every: Duration::from_secs(args.flush_interval),
        retention: Some(retention).filter(|r| !r.keeps_all()),
        ..LiveSettings::default()
    };
    let report = follow(
        &follow_settings,
        &live_settings,
        &mut sequencer,
        &mut supervisor,
    )
    .map_err(|e| Failure(e.to_string()))?;
    sequencer.store_mut().and_then(|s| s.close());
    if let Some(failure) = report.failed {
        return Err(Failure(failure.to_string()));
    }
    if !args.pipeline.results.quiet {
        supervisor
            .status
            .final_line(&report.counters, sequencer.store_totals());
    }
    Ok(report.errors)
}

/// The libpcap settings, validated.
fn live_config(args: &CaptureArgs) -> Result<LiveConfig, Failure> {
    if args.interface.is_empty() {
        return Err(Failure(
            "capture needs at least one --interface (or `interface` in the config file)".into(),
        ));
    }
    if !(64..=262_144).contains(&args.snaplen) {
        return Err(Failure("--snaplen must be between 64 and 262144".into()));
    }
    if !(1..=2047).contains(&args.buffer_mib) {
        return Err(Failure("--buffer-mib must be between 1 and 2047".into()));
    }
    if args.flush_interval == 0 {
        return Err(Failure("--flush-interval must be at least 1 second".into()));
    }
    if args.group.is_some() && args.user.is_none() {
        return Err(Failure("--group needs --user".into()));
    }
    Ok(LiveConfig {
        snaplen: args.snaplen,
        promiscuous: !args.no_promisc,
        buffer_bytes: args.buffer_mib << 20,
        filter: args.filter.clone(),
        ..LiveConfig::default()
    })
}

/// Flags set by signal handlers.
struct Signals {
    stop: Arc<AtomicBool>,
    reload: Arc<AtomicBool>,
}

impl Signals {
    fn register() -> Result<Signals, Failure> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let stop = Arc::new(AtomicBool::new(false));
        let reload = Arc::new(AtomicBool::new(false));
        for signal in [SIGTERM, SIGINT] {
            signal_hook::flag::register(signal, Arc::clone(&stop))
                .map_err(|e| Failure(format!("cannot handle signal {signal}: {e}")))?;
        }
        signal_hook::flag::register(SIGHUP, Arc::clone(&reload))
            .map_err(|e| Failure(format!("cannot handle SIGHUP: {e}")))?;
        Ok(Signals { stop, reload })
    }
}

/// The daemon's side of the live run.
struct Daemon<'a> {
    args: &'a CaptureArgs,
    signals: Signals,
    status: StatusLog,
    metrics: Option<Metrics>,
}

impl Supervisor for Daemon<'_> {
    fn stop_requested(&mut self) -> bool {
        self.signals.stop.load(Ordering::Relaxed)
    }

    fn reload_requested(&mut self) -> bool {
        self.signals.reload.swap(false, Ordering::Relaxed)
    }

    fn reload(&mut self, sequencer: &mut Sequencer) {
        let mut done = Vec::new();
        // First, so the events of this very moment already go to the new file.
        match pipeline::reopen_events(&self.args.pipeline.results) {
            Ok(Some((path, events))) => match sequencer.set_events(events) {
                Ok(()) => done.push(format!("events file {}", path.display())),
                Err(e) => eprintln!(
                    "lantern: reload: {}: {e}; keeping the events file in use",
                    path.display()
                ),
            },
            Ok(None) => {}
            Err(Failure(e)) => eprintln!("lantern: reload: {e}; keeping the events file in use"),
        }
        match Catalog::load(&self.args.pipeline.results.catalog) {
            Ok(catalog) => {
                // The policy is checked against the catalog it will be used with.
                match pipeline::policy(&self.args.pipeline.results, &catalog) {
                    Ok(policy) if self.args.pipeline.results.policy.is_some() => {
                        done.push("policy".to_string());
                        sequencer.set_policy(Arc::new(policy));
                    }
                    Ok(_) => {}
                    Err(Failure(e)) => {
                        eprintln!("lantern: reload: {e}; keeping the policy in use")
                    }
                }
                done.push(format!("catalog ({} apps)", catalog.apps().len()));
                sequencer.set_catalog(Arc::new(catalog));
            }
            Err(e) => eprintln!("lantern: reload: {e}; keeping the catalog in use"),
        }
        if let Some(path) = &self.args.pipeline.results.identity {
            match sequencer.resolver_mut().reload_static_map(path) {
                Ok(entries) => done.push(format!("identity map ({entries} entries)")),
                Err(e) => eprintln!("lantern: reload: {e}; keeping the identity map in use"),
            }
        }
        if !done.is_empty() {
            eprintln!("lantern: reloaded {}", done.join(" and "));
        }
    }

    fn snapshot(&mut self, snapshot: &LiveSnapshot) {
        if let Some(metrics) = &self.metrics {
            metrics.update(snapshot);
        }
        self.status.maybe_log(snapshot);
    }
}
