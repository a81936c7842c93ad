//! The command layer: command-line flags, turned into validated settings before any work
//! starts, and the wiring of the stages for each command. Errors come back as one line each;
//! `main` prints them.

mod capture;
mod catalog;
mod config;
mod ingest;
mod metrics;
mod pipeline;
mod policy;
mod privileges;
mod pseudonym;
mod replay;
mod report;
mod serve;
mod status;
mod store;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use lantern::output::Format as EventsFormat;
use lantern::output::notice::NoticeKind;
use lantern::writing::syslog::{Facility, SyslogTarget};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

/// lantern: find shadow AI in network traffic.
#[derive(Debug, Parser)]
#[command(name = "lantern", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replay capture files (pcap, pcapng) into events, a summary and the store.
    Replay(ReplayArgs),
    /// Read Zeek and Suricata EVE logs (files or directories, gzip too) into events, a
    /// summary and the store, as replay does with packets.
    Ingest(IngestArgs),
    /// Capture from network interfaces as a sensor daemon, until SIGTERM or SIGINT.
    Capture(Box<capture::CaptureArgs>),
    /// Validate, look up, list and count the AI application catalog.
    Catalog(catalog::CatalogArgs),
    /// Compute pseudonym tokens, or map tokens back to names (needs the key file).
    Pseudonym(pseudonym::PseudonymArgs),
    /// Check a policy file against the catalog.
    Policy(policy::PolicyArgs),
    /// Report a period's AI use from the store.
    Report(report::ReportArgs),
    /// Create the store's tables, or send what waits in the ClickHouse spool.
    Store(store::StoreCommandArgs),
    /// Each sensor's health from the store: last write, drops, spool; exits 1 if one is silent.
    Status(status::StatusArgs),
    /// Serve the web console over the store: who uses which AI, page by page (read-only).
    Serve(serve::ServeArgs),
}

/// How a listing command prints: a table for people, JSON for programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// Flags of `lantern replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Capture files, read in the order of their first packet.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Replay files even if the store already holds them.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

/// Flags of `lantern ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Log files, or directories of them: Zeek (TSV or JSON lines) and Suricata EVE JSON,
    /// plain or gzip-compressed.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Read every file as this format instead of telling it from the file's first line.
    #[arg(long, value_enum)]
    format: Option<lantern::logs::Format>,
    /// Seconds of log time a flow's totals wait for its other lines (ssl, http...) written
    /// after them.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    join_window: u64,
    /// Ingest files even if the store already holds them.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    results: ResultsArgs,
}

/// Flags of every command that reads traffic or logs: where results go, the catalog, identity
/// and policy.
#[derive(Debug, Args)]
pub struct ResultsArgs {
    /// Write one JSON line per flow and per DNS lookup to PATH ("-" for standard output).
    #[arg(long, value_name = "PATH|-")]
    events: Option<PathBuf>,
    /// The events' shape: lantern's own JSON lines, or OCSF 1.8.0 (docs/events.md).
    #[arg(long, default_value = "lantern", value_name = "FORMAT",
          value_parser = PossibleValuesParser::new(EventsFormat::NAMES)
              .map(|name| EventsFormat::from_name(&name).unwrap_or(EventsFormat::Lantern)))]
    events_format: EventsFormat,
    /// Send events to a syslog collector, one RFC 5424 message each: udp://HOST:PORT,
    /// tcp://HOST:PORT (octet-counted) or unix:/PATH (a datagram socket).
    #[arg(long, value_name = "URL")]
    syslog: Option<SyslogTarget>,
    /// Which events go to syslog: notices only, or all events.
    #[arg(long, value_enum, default_value_t = SyslogEvents::Notices, value_name = "WHICH")]
    syslog_events: SyslogEvents,
    /// The syslog facility: a name (local0 ... local7, daemon, ...) or a number.
    #[arg(long, default_value = "local0", value_name = "FACILITY")]
    syslog_facility: Facility,
    /// The longest syslog message sent, header included; a longer event is dropped and counted,
    /// never cut (the collector must accept as much: rsyslog's default is 8192).
    #[arg(long, default_value_t = 8192, value_name = "BYTES")]
    syslog_max_bytes: usize,
    /// The notices raised, comma-separated, or `none` (default: every kind; README
    /// "Notices").
    #[arg(long, value_name = "KIND,...", value_delimiter = ',', default_values = NoticeKind::NAMES,
          value_parser = PossibleValuesParser::new(NoticeKind::NAMES.iter().copied().chain(["none"])))]
    notices: Vec<String>,
    /// Bytes up to an unsanctioned or unreviewed app, in MiB, in one flow or in one hour of a
    /// user's use, past which an upload notice is raised.
    #[arg(long, default_value_t = 10.0, value_name = "MIB", value_parser = parse_mib)]
    notice_upload_mib: f64,
    /// Distinct clients using an uncatalogued AI-looking name before it is a notice.
    #[arg(long, default_value_t = 3, value_name = "N")]
    notice_candidate_clients: u32,
    #[command(flatten)]
    store: store::StoreArgs,
    /// Do not write to any store.
    #[arg(long)]
    no_store: bool,
    /// Extra catalog file or directory of .toml files (repeatable); overrides apps by id.
    #[arg(long, value_name = "PATH")]
    catalog: Vec<PathBuf>,
    /// Sensor name stored with every row (default: the host name).
    #[arg(long, value_name = "NAME")]
    sensor: Option<String>,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
    /// Most (client, server address) pairs in the DNS history that names flows, each with up to
    /// 8 names, and 256 bytes of names a pair on average.
    #[arg(long, default_value_t = 262_144, value_name = "N")]
    dns_cache_size: usize,
    /// Static identity map: CSV of address or CIDR, user, device, group, kind (user|server).
    #[arg(long, value_name = "FILE", env = "LANTERN_IDENTITY")]
    identity: Option<PathBuf>,
    /// Policy file: which apps are sanctioned, tolerated or unsanctioned; events carry the status.
    #[arg(long, value_name = "FILE", env = "LANTERN_POLICY")]
    policy: Option<PathBuf>,
    /// Replace users, devices and client addresses by keyed tokens (HMAC-SHA-256 with KEYFILE).
    #[arg(long, value_name = "KEYFILE", env = "LANTERN_PSEUDONYMIZE")]
    pseudonymize: Option<PathBuf>,
    /// Longest a Kerberos login binds its user to an address, whatever the ticket asks.
    #[arg(long, default_value_t = 36_000, value_name = "SECS")]
    kerberos_lifetime: u64,
    /// How long a DHCP binding lasts when no lease time was seen (a REQUEST without its ACK).
    #[arg(long, default_value_t = 3600, value_name = "SECS")]
    dhcp_default_lease: u64,
}

/// Which events go to syslog.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SyslogEvents {
    /// Notices only.
    Notices,
    /// Every event.
    All,
}

/// A size in MiB, fractions allowed: a finite number, not negative.
fn parse_mib(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(mib) if mib.is_finite() && mib >= 0.0 => Ok(mib),
        _ => Err("a number of MiB, 0 or more (fractions allowed: 0.5)".into()),
    }
}

/// Flags that `replay` and `capture` share: the results' flags and the packet path's settings.
#[derive(Debug, Args)]
pub struct PipelineArgs {
    #[command(flatten)]
    results: ResultsArgs,
    /// Worker threads.
    #[arg(long, default_value_t = 1, value_name = "N")]
    threads: usize,
    /// Seconds without a packet after which a TCP flow ends.
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    tcp_timeout: u64,
    /// Seconds without a packet after which a UDP flow ends.
    #[arg(long, default_value_t = 120, value_name = "SECS")]
    udp_timeout: u64,
    /// Seconds after which a flow still open gets an interim record with what it sent since
    /// its last one, so that its bytes land in the hours they moved (0: only when it ends).
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    active_timeout: u64,
    /// Most flows held at once; past it the least recently seen flows are evicted.
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    max_flows: usize,
    /// Most bytes one stream buffers to reassemble a message: a ClientHello, an HTTP request
    /// head, a DNS or Kerberos message over TCP, a QUIC ClientHello.
    #[arg(long, default_value_t = lantern::proto::DEFAULT_REASSEMBLY_BYTES, value_name = "BYTES")]
    reassembly_limit: usize,
    /// Most mebibytes all reassembly buffers hold together (split evenly between the threads);
    /// past it the streams waiting longest are freed first.
    #[arg(long, default_value_t = 64, value_name = "MIB")]
    reassembly_memory: usize,
}

/// A problem worth one line to the user.
#[derive(Debug)]
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure(e.to_string())
    }
}

/// Parses the command line; for `capture --config FILE`, the file's settings join the flags
/// given. Exits with clap's message on bad flags, or one line for a bad config file.
pub fn parse() -> Cli {
    let mut argv: Vec<OsString> = std::env::args_os().collect();
    let matches = Cli::command().get_matches_from(&argv);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let Command::Capture(args) = &cli.command else {
        return cli;
    };
    let Some(file) = args.config_file() else {
        return cli;
    };
    let Some((_, given)) = matches.subcommand() else {
        return cli;
    };
    let command = Cli::command();
    let capture = command
        .find_subcommand("capture")
        .expect("capture is a subcommand");
    match config::arguments(file, capture, given) {
        Ok(extra) => {
            argv.extend(extra);
            Cli::parse_from(argv)
        }
        Err(message) => {
            eprintln!("lantern: {message}");
            std::process::exit(2);
        }
    }
}

/// Runs the parsed command line; errors are printed as `lantern: ...` lines.
pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Replay(args) => replay::run(args),
        Command::Ingest(args) => ingest::run(args),
        Command::Capture(args) => capture::run(*args),
        Command::Report(args) => report::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Catalog(args) => {
            return catalog::run(args).unwrap_or_else(|Failure(message)| {
                eprintln!("lantern: {message}");
                ExitCode::FAILURE
            });
        }
        Command::Pseudonym(args) => {
            return pseudonym::run(args).unwrap_or_else(|Failure(message)| {
                eprintln!("lantern: {message}");
                ExitCode::FAILURE
            });
        }
        Command::Policy(args) => {
            return policy::run(args).unwrap_or_else(|Failure(message)| {
                eprintln!("lantern: {message}");
                ExitCode::FAILURE
            });
        }
        Command::Store(args) => {
            return store::run(args).unwrap_or_else(|Failure(message)| {
                eprintln!("lantern: {message}");
                ExitCode::FAILURE
            });
        }
        Command::Status(args) => {
            return status::run(args).unwrap_or_else(|Failure(message)| {
                eprintln!("lantern: {message}");
                ExitCode::FAILURE
            });
        }
    };
    match result {
        Ok(errors) if errors.is_empty() => ExitCode::SUCCESS,
        Ok(errors) => {
            for error in errors {
                eprintln!("lantern: {error}");
            }
            ExitCode::FAILURE
        }
        Err(Failure(message)) => {
            eprintln!("lantern: {message}");
            ExitCode::FAILURE
        }
    }
}
