//! `lantern report`: a period's AI use, read from a store, as HTML, Markdown, CSV or JSON.

use super::Failure;
use super::store::StoreArgs;
use clap::{Args, ValueEnum};
use lantern::catalog::Catalog;
use lantern::identity::pseudonym::TOKEN_PREFIX;
use lantern::policy::Policy;
use lantern::report::render::{self, Format};
use lantern::report::{self, Filter, Period};
use std::io::Write;
use std::path::PathBuf;

/// Flags of `lantern report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// ISO week (2026-W47), or "last": the week before this one. The default.
    #[arg(long, value_name = "WEEK", conflicts_with_all = ["from", "to"])]
    week: Option<String>,
    /// First day (YYYY-MM-DD, UTC); with --to.
    #[arg(long, value_name = "DATE", requires = "to")]
    from: Option<String>,
    /// Last day, included (YYYY-MM-DD, UTC); with --from.
    #[arg(long, value_name = "DATE", requires = "from")]
    to: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Html)]
    format: FormatArg,
    /// Write the report to PATH (for csv: a directory, one file per table) instead of standard
    /// output.
    #[arg(long, short, value_name = "PATH")]
    output: Option<PathBuf>,
    /// Policy file: which apps are sanctioned, tolerated or unsanctioned (else unreviewed).
    #[arg(long, value_name = "FILE", env = "LANTERN_POLICY")]
    policy: Option<PathBuf>,
    /// Extra catalog file or directory (repeatable), as given to the sensor.
    #[arg(long, value_name = "PATH")]
    catalog: Vec<PathBuf>,
    /// Only what this sensor saw (repeatable: any of them).
    #[arg(long, value_name = "NAME")]
    sensor: Vec<String>,
    /// Only the users of this group (from the identity map).
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
    /// Only this user, as the store names them (a pseudonymizing sensor's store: the token,
    /// from `lantern pseudonym token`); adds their timeline.
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// Only this app (repeatable: any of them).
    #[arg(long, value_name = "ID")]
    app: Vec<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormatArg {
    /// One self-contained page, to read or print.
    Html,
    /// Markdown, to paste into a ticket.
    Md,
    /// One CSV file per table (needs --output DIR).
    Csv,
    /// The whole report as one JSON document.
    Json,
}

/// Runs `lantern report`.
pub fn run(args: ReportArgs) -> Result<Vec<String>, Failure> {
    let period = match (&args.from, &args.to, &args.week) {
        (Some(from), Some(to), _) => Period::dates(from, to)?,
        (_, _, week) => Period::week(week.as_deref().unwrap_or("last"), Period::today())?,
    };
    let format = match args.format {
        FormatArg::Html => Format::Html,
        FormatArg::Md => Format::Markdown,
        FormatArg::Csv => Format::Csv,
        FormatArg::Json => Format::Json,
    };
    if matches!(format, Format::Csv) && args.output.is_none() {
        return Err(Failure(
            "csv writes one file per table: give --output DIR".into(),
        ));
    }
    let catalog = Catalog::load(&args.catalog)?;
    let policy = args
        .policy
        .as_deref()
        .map(|p| Policy::load(p, &catalog))
        .transpose()?;
    let filter = Filter::new(args.sensor, args.group, args.user, args.app)?;
    let store = args.store.open_for_reading()?;
    let report = report::build(&store, &catalog, policy.as_ref(), &period, &filter)?;
    if let Some(user) = &filter.user
        && report.headline.flows + report.headline.dns_lookups == 0
        && !user.starts_with(TOKEN_PREFIX)
    {
        eprintln!(
            "lantern: note: no AI use by {user} in the period; if the sensor pseudonymizes, \
             give the token (lantern pseudonym token --key KEYFILE '{user}')"
        );
    }
    let files = render::render(&report, format)?;
    match (&args.output, format) {
        (Some(dir), Format::Csv) => {
            std::fs::create_dir_all(dir).map_err(|e| Failure(format!("{}: {e}", dir.display())))?;
            for (name, text) in files {
                let path = dir.join(name);
                std::fs::write(&path, text)
                    .map_err(|e| Failure(format!("{}: {e}", path.display())))?;
            }
        }
        (Some(path), _) => {
            let text: String = files.into_iter().map(|(_, t)| t).collect();
            std::fs::write(path, text).map_err(|e| Failure(format!("{}: {e}", path.display())))?;
        }
        (None, _) => {
            let mut out = std::io::stdout().lock();
            for (_, text) in files {
                out.write_all(text.as_bytes())?;
            }
        }
    }
    Ok(Vec::new())
}
