//! How reading a capture file fails: the typed error, its kinds, and the position (packet
//! number and byte offset) that names where.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// An error reading a capture file; displays as `PATH: what went wrong`.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct ReadError {
    /// The file being read.
    pub path: PathBuf,
    /// What went wrong.
    pub kind: ReadErrorKind,
}

/// Where in a file something went wrong: the packet being read and its byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// The 1-based number of the packet being read (the packets before it were read).
    pub packet: u64,
    /// Byte offset of the record in the file.
    pub offset: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "packet {} at offset {}", self.packet, self.offset)
    }
}

/// The ways reading a capture file fails.
#[derive(Debug, thiserror::Error)]
pub enum ReadErrorKind {
    /// The operating system refused (no such file, permission denied, a directory...).
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The file is empty.
    #[error("the file is empty, not a capture")]
    Empty,
    /// The file does not start with a pcap or pcapng magic number.
    #[error("not a pcap or pcapng file (it starts with {0})")]
    NotCapture(String),
    /// The file ends in the middle of a header or record.
    #[error("cut short: {at} needs {needed} bytes but the file ends {available} bytes later")]
    Truncated {
        /// Where the incomplete record starts.
        at: Position,
        /// Bytes the record needs.
        needed: usize,
        /// Bytes the file still had.
        available: usize,
    },
    /// A header or record is invalid.
    #[error("{at}: {reason}")]
    Malformed {
        /// Where the bad record starts.
        at: Position,
        /// What is wrong with it.
        reason: String,
    },
}
