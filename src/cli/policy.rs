//! `lantern policy check`: a policy file read and checked against the catalog, as the sensor
//! and the report will read it.

use super::Failure;
use clap::{Args, Subcommand};
use lantern::catalog::Catalog;
use lantern::policy::{Policy, Status};
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `lantern policy`.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    command: PolicyCommand,
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Check FILE: every app id and category must be in the catalog; prints the status of each
    /// app it changes from unreviewed.
    Check {
        /// The policy file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Extra catalog file or directory (repeatable), as given to the sensor.
        #[arg(long, value_name = "PATH")]
        catalog: Vec<PathBuf>,
    },
}

/// Runs `lantern policy`.
pub fn run(args: PolicyArgs) -> Result<ExitCode, Failure> {
    let PolicyCommand::Check { file, catalog } = args.command;
    let catalog = Catalog::load(&catalog)?;
    let policy = Policy::load(&file, &catalog)?;
    let (apps, categories, exceptions) = policy.counts();
    let mut counts = [0usize; 4];
    for app in catalog.apps() {
        let status = policy.status(&app.id, app.category, None);
        counts[Status::ALL.iter().position(|s| *s == status).unwrap_or(3)] += 1;
    }
    let by_status: Vec<String> = (Status::ALL.iter().zip(counts))
        .map(|(s, n)| format!("{n} {}", s.name()))
        .collect();
    println!(
        "{}: ok: {apps} apps, {categories} categories, {exceptions} group exceptions; of the catalog's {} apps: {}",
        file.display(),
        catalog.apps().len(),
        by_status.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
