//! `lantern pseudonym`: the investigator's side of `--pseudonymize`. `token` gives the tokens of
//! names (to find a person's records), `reveal` maps tokens back to names from the sealed
//! names a store keeps. Both need the key file; without it the store names no one.

use super::Failure;
use super::store::StoreArgs;
use clap::{Args, Subcommand};
use lantern::identity::Pseudonymizer;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `lantern pseudonym`.
#[derive(Debug, Args)]
pub struct PseudonymArgs {
    #[command(subcommand)]
    command: PseudonymCommand,
}

#[derive(Debug, Subcommand)]
enum PseudonymCommand {
    /// Print the token of each NAME (a user, device or address), one per line.
    Token {
        /// The key file the sensor was given with --pseudonymize.
        #[arg(long, value_name = "KEYFILE")]
        key: PathBuf,
        /// Names.
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Print the name behind each TOKEN, from the store's sealed names, as "TOKEN NAME".
    Reveal {
        /// The key file the sensor was given with --pseudonymize.
        #[arg(long, value_name = "KEYFILE")]
        key: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
        /// Tokens.
        #[arg(required = true, value_name = "TOKEN")]
        tokens: Vec<String>,
    },
}

/// Runs `lantern pseudonym`: exit 1 when a token cannot be revealed.
pub fn run(args: PseudonymArgs) -> Result<ExitCode, Failure> {
    let mut out = std::io::stdout().lock();
    match args.command {
        PseudonymCommand::Token { key, names } => {
            let p = Pseudonymizer::load(&key)?;
            for name in names {
                writeln!(out, "{}", p.token(&name))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        PseudonymCommand::Reveal { key, store, tokens } => {
            let p = Pseudonymizer::load(&key)?;
            let store = store.open_for_reading()?;
            let mut missing = false;
            for token in tokens {
                let name = store.sealed(&token)?.and_then(|s| p.open(&token, &s));
                match name {
                    Some(name) => writeln!(out, "{token} {name}")?,
                    None => {
                        missing = true;
                        eprintln!(
                            "lantern: {token}: not in {} under this key",
                            store.display()
                        );
                    }
                }
            }
            Ok(if missing {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
