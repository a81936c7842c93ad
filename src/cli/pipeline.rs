//! What `replay` and `capture` share on the command line: the packet path's settings, the
//! identity stage, and where events and evidence go.

use super::{Failure, PipelineArgs, ResultsArgs, SyslogEvents};
use lantern::catalog::Catalog;
use lantern::flow::FlowConfig;
use lantern::identity::{IdentityConfig, Pseudonymizer, Resolver, StaticMap};
use lantern::naming::NamingConfig;
use lantern::output::events::{Sinks, SyslogSink};
use lantern::output::notice::NoticeKind;
use lantern::output::notice::rules::NoticeConfig;
use lantern::output::{EventWriter, Output};
use lantern::pipeline::{Sequencer, Settings};
use lantern::policy::Policy;
use lantern::proto::ProtoConfig;
use lantern::store::Store;
use lantern::writing::syslog::{Syslog, SyslogConfig};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

/// How `--events FILE` is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventsFile {
    /// From empty: a replay's events are the file's whole content.
    Truncate,
    /// At its end, creating it if missing: the daemon's, so a restart keeps what was written
    /// and a reopen after logrotate's rename starts the new file.
    Append,
}

/// The events writer `--events` and `--syslog` ask for, if any.
fn events(args: &ResultsArgs, open: EventsFile) -> Result<Option<EventWriter>, Failure> {
    let out: Option<Box<dyn Write + Send>> = match &args.events {
        None => None,
        Some(path) if path == Path::new("-") => Some(Box::new(BufWriter::with_capacity(
            1 << 16,
            std::io::stdout(),
        ))),
        Some(path) => Some(events_file(path, open)?),
    };
    let syslog = syslog(args)?;
    if out.is_none() && syslog.is_none() {
        return Ok(None);
    }
    Ok(Some(EventWriter::new(
        args.events_format,
        Sinks { out, syslog },
    )))
}

/// The events file at `path`, buffered.
fn events_file(path: &Path, open: EventsFile) -> Result<Box<dyn Write + Send>, Failure> {
    let mut options = std::fs::OpenOptions::new();
    match open {
        EventsFile::Truncate => options.write(true).create(true).truncate(true),
        EventsFile::Append => options.append(true).create(true),
    };
    let file = options
        .open(path)
        .map_err(|e| Failure(format!("{}: {e}", path.display())))?;
    Ok(Box::new(BufWriter::with_capacity(1 << 16, file)))
}

/// The syslog collector `--syslog` names, connected.
fn syslog(args: &ResultsArgs) -> Result<Option<SyslogSink>, Failure> {
    let Some(target) = &args.syslog else {
        return Ok(None);
    };
    let config = SyslogConfig {
        facility: args.syslog_facility,
        max_message: args.syslog_max_bytes,
        ..SyslogConfig::default()
    };
    let syslog =
        Syslog::connect(target.clone(), config).map_err(|e| Failure(format!("--syslog: {e}")))?;
    Ok(Some(SyslogSink {
        syslog,
        every_event: args.syslog_events == SyslogEvents::All,
    }))
}

/// The events writer made again (SIGHUP), if `--events` names a file: after a rename the
/// path is a new file, and the syslog collector is connected again. Standard output is never
/// reopened.
pub fn reopen_events(args: &ResultsArgs) -> Result<Option<(&Path, EventWriter)>, Failure> {
    match args.events.as_deref() {
        Some(path) if path != Path::new("-") => {
            let sinks = Sinks {
                out: Some(events_file(path, EventsFile::Append)?),
                syslog: syslog(args)?,
            };
            Ok(Some((path, EventWriter::new(args.events_format, sinks))))
        }
        _ => Ok(None),
    }
}

/// The stages after proto, writing where `args` say.
pub fn sequencer(
    args: &ResultsArgs,
    naming: &NamingConfig,
    catalog: Arc<Catalog>,
    resolver: Resolver,
    open: EventsFile,
) -> Result<Sequencer, Failure> {
    let events = events(args, open)?;
    let store = store(args)?;
    let policy = policy(args, &catalog)?;
    let mut sequencer = Sequencer::new(catalog, naming, resolver, Output::new(events), store);
    sequencer.set_policy(Arc::new(policy));
    sequencer.set_notices(notices(args));
    Ok(sequencer)
}

/// The policy `--policy` names, checked against `catalog`; without one, every app is
/// unreviewed.
pub fn policy(args: &ResultsArgs, catalog: &Catalog) -> Result<Policy, Failure> {
    Ok(match &args.policy {
        Some(path) => Policy::load(path, catalog)?,
        None => Policy::none(),
    })
}

/// The store `--store` names, unless `--no-store`.
fn store(args: &ResultsArgs) -> Result<Option<Store>, Failure> {
    if args.no_store {
        return Ok(None);
    }
    let sensor = args.sensor.clone().unwrap_or_else(host_name);
    Ok(Some(args.store.open(&sensor)?))
}

/// The identity stage: its settings, the static map and the pseudonym key.
pub fn resolver(args: &ResultsArgs) -> Result<Resolver, Failure> {
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
pub fn settings(args: &PipelineArgs) -> Result<Settings, Failure> {
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
    let reassembly_memory = args.reassembly_memory.saturating_mul(1 << 20) / args.threads;
    let least = (4 * args.reassembly_limit * args.threads).div_ceil(1 << 20);
    check(
        args.reassembly_memory >= least,
        &format!(
            "--reassembly-memory must be at least 4 x --reassembly-limit per thread: {least} MiB here"
        ),
    )?;
    let per_worker = args.max_flows.div_ceil(args.threads);
    Ok(Settings {
        flow: FlowConfig {
            max_flows: per_worker,
            tcp_timeout_secs: args.tcp_timeout,
            udp_timeout_secs: args.udp_timeout,
            active_timeout_secs: args.active_timeout,
            ..FlowConfig::default()
        },
        proto: ProtoConfig {
            reassembly_bytes: args.reassembly_limit,
            reassembly_memory,
            ..ProtoConfig::default()
        },
        naming: naming(&args.results)?,
        threads: args.threads,
    })
}

/// The naming stage's settings.
pub fn naming(args: &ResultsArgs) -> Result<NamingConfig, Failure> {
    if args.dns_cache_size == 0 {
        return Err(Failure("--dns-cache-size must be at least 1".into()));
    }
    Ok(NamingConfig {
        dns_cache_entries: args.dns_cache_size,
        ..NamingConfig::default()
    })
}

/// The sensor name when none is given.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "sensor".to_string())
}

/// The notice rules' settings `args` give.
fn notices(args: &ResultsArgs) -> NoticeConfig {
    NoticeConfig {
        kinds: (args.notices.iter())
            .filter_map(|name| NoticeKind::from_name(name))
            .collect(),
        upload_bytes: (args.notice_upload_mib * 1_048_576.0) as u64,
        candidate_clients: args.notice_candidate_clients,
    }
}
