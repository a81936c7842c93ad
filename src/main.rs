//! The `lantern` binary: parses the command line and runs the command; every error is one line
//! on stderr and a non-zero exit.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::run(cli::parse())
}
