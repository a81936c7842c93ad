//! `lantern report`: a period's AI use, read from a store.

use super::Failure;
use super::store::StoreArgs;
use clap::{Args, ValueEnum};
use lantern::catalog::Catalog;
use lantern::report::{self, Period};
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
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
    /// Write the report to PATH instead of standard output.
    #[arg(long, short, value_name = "PATH")]
    output: Option<PathBuf>,
    /// Extra catalog file or directory (repeatable), as given to the sensor.
    #[arg(long, value_name = "PATH")]
    catalog: Vec<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// The report's tables as one JSON document.
    Json,
}

/// Runs `lantern report`.
pub fn run(args: ReportArgs) -> Result<Vec<String>, Failure> {
    let period = match (&args.from, &args.to, &args.week) {
        (Some(from), Some(to), _) => Period::dates(from, to)?,
        (_, _, week) => Period::week(week.as_deref().unwrap_or("last"), Period::today())?,
    };
    let catalog = Catalog::load(&args.catalog)?;
    let store = args.store.open_for_reading()?;
    let report = report::build(&store, &catalog, &period)?;
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&report)? + "\n",
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| Failure(format!("{}: {e}", path.display())))?
        }
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(Vec::new())
}
