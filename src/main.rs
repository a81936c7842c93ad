//! The `lantern` binary: parses the command line and runs the command; every error is one line
//! on stderr and a non-zero exit.

mod cli;

use std::process::ExitCode;

/// mimalloc: the events thread frees the records the sequencer's workers allocated, and
/// glibc's malloc serialises such cross-thread frees on the allocating arena's lock.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    cli::run(cli::parse())
}
