//! A log file's lines, one at a time into a buffer that never grows past [`MAX_LINE`]: plain or
//! gzip-compressed (told by its first bytes, as Zeek's archive keeps logs), with each line's
//! number for messages. A longer line is skipped whole and said so; a last line without its
//! newline is a line (a file still being written is followed by `lantern capture --logs`, which
//! reads only whole lines).

use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

/// Longest line read, in bytes: an EVE `http` event with every header logged is a few KiB;
/// anything past this is not a log line lantern needs.
pub const MAX_LINE: usize = 256 * 1024;

/// Bytes read from a file at a time (and from its gzip stream): a run may hold one file of each
/// stream open.
const READ_BUFFER: usize = 128 * 1024;

/// Reading a log file failed.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// It could not be opened.
    #[error("{path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Reading it failed (a gzip stream that is cut short or damaged, a disk error).
    #[error("{path}: line {line}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The line being read.
        line: u64,
        /// Why.
        source: io::Error,
    },
}

/// What [`Lines::next_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// A line is in [`Lines::line`].
    Line,
    /// A line longer than [`MAX_LINE`] was skipped.
    TooLong,
    /// The end of the file.
    End,
}

/// The lines of one file.
pub struct Lines {
    path: PathBuf,
    input: Box<dyn BufRead + Send>,
    line: Vec<u8>,
    number: u64,
    compressed: bool,
}

impl Lines {
    /// Opens `path`, gzip or not.
    pub fn open(path: &Path) -> Result<Lines, LineError> {
        let open = |source| LineError::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut file = BufReader::with_capacity(READ_BUFFER, File::open(path).map_err(open)?);
        let compressed = file.fill_buf().map_err(open)?.starts_with(&[0x1f, 0x8b]);
        let input: Box<dyn BufRead + Send> = match compressed {
            true => Box::new(BufReader::with_capacity(
                READ_BUFFER,
                MultiGzDecoder::new(file),
            )),
            false => Box::new(file),
        };
        Ok(Lines::from_reader(path, input, compressed))
    }

    /// Lines from `input`, named `path` in messages.
    pub fn from_reader(path: &Path, input: Box<dyn BufRead + Send>, compressed: bool) -> Lines {
        Lines {
            path: path.to_path_buf(),
            input,
            line: Vec::with_capacity(4096),
            number: 0,
            compressed,
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether it is gzip-compressed.
    pub fn compressed(&self) -> bool {
        self.compressed
    }

    /// The number of the line last read (1 for the first).
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The line last read, without its line end (`\n` or `\r\n`).
    pub fn line(&self) -> &[u8] {
        let line = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
        line.strip_suffix(b"\r").unwrap_or(line)
    }

    /// Reads the next line.
    pub fn next_line(&mut self) -> Result<Next, LineError> {
        self.line.clear();
        let mut too_long = false;
        loop {
            let buf = match self.input.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(LineError::Read {
                        path: self.path.clone(),
                        line: self.number + 1,
                        source,
                    });
                }
            };
            if buf.is_empty() {
                if self.line.is_empty() && !too_long {
                    return Ok(Next::End);
                }
                break;
            }
            let (take, ends) = match memchr(buf) {
                Some(at) => (at + 1, true),
                None => (buf.len(), false),
            };
            if !too_long {
                if self.line.len() + take > MAX_LINE + 2 {
                    too_long = true;
                    self.line.clear();
                } else {
                    self.line.extend_from_slice(&buf[..take]);
                }
            }
            self.input.consume(take);
            if ends {
                break;
            }
        }
        self.number += 1;
        Ok(if too_long { Next::TooLong } else { Next::Line })
    }
}

/// The first newline in `buf`.
fn memchr(buf: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn lines(bytes: &[u8]) -> Vec<Result<Vec<u8>, ()>> {
        let input = Box::new(Cursor::new(bytes.to_vec()));
        let mut lines = Lines::from_reader(Path::new("t"), input, false);
        let mut out = Vec::new();
        loop {
            match lines.next_line().unwrap() {
                Next::Line => out.push(Ok(lines.line().to_vec())),
                Next::TooLong => out.push(Err(())),
                Next::End => return out,
            }
        }
    }

    #[test]
    fn lines_end_at_newlines_and_the_last_one_may_lack_it() {
        assert_eq!(
            lines(b"a\r\nbb\n\nc"),
            [
                Ok(b"a".to_vec()),
                Ok(b"bb".to_vec()),
                Ok(vec![]),
                Ok(b"c".to_vec())
            ]
        );
        assert!(lines(b"").is_empty());
    }

    #[test]
    fn a_line_past_the_limit_is_skipped_whole_and_the_next_is_read() {
        let mut input = vec![b'x'; MAX_LINE * 3];
        input.extend_from_slice(b"\nok\n");
        assert_eq!(lines(&input), [Err(()), Ok(b"ok".to_vec())]);
        let exactly = vec![b'y'; MAX_LINE];
        assert_eq!(lines(&exactly), [Ok(exactly.clone())]);
    }
}
