//! Zeek's logs: `conn`, `ssl`, `quic`, `http`, `dns`, `kerberos` and `dhcp`, tab-separated with
//! the `#` header or JSON lines. This file owns the reader: which log a line belongs to, which
//! format it is in, and the fields every flow log has (`ts`, `uid`, `id.*`);
//! `tsv` reads the tab-separated header and lines, `value` the fields' values in either
//! format, `flows` the logs that describe a flow (`conn`, `ssl`, `quic`, `http`) and
//! `records` those that are records of their own (`dns`, `kerberos`, `dhcp`).
//!
//! Each log has one line struct, read by serde from a JSON line (serde_json) or from a TSV line
//! (the deserializer of `tsv`, which hands it each column under its `#fields` name), so both
//! formats give the same pieces: times are exact (TSV's decimals, JSON's ISO strings, and
//! JSON's numbers rounded to the microsecond the way Zeek's TSV writer rounds them), and a
//! field a TSV header does not name is what a JSON line that leaves it out is: unset.
//!
//! Which log: JSON's `_path`, TSV's `#path`, else the file's name (the part of its base name
//! before the first `.`: `dns.00:00:00-01:00:00.log.gz` is `dns`). A line of another log, a
//! header line and a comment are [`LineProblem::Skipped`], and so is a line of a log lantern
//! reads that says nothing it can use (an ICMP `conn` line, an `http` line without a request,
//! a `dns` line without a question, a `kerberos` line of an AP exchange).
//!
//! A line is [`LineProblem::Malformed`] when it is not valid: invalid JSON, a TSV line whose
//! number of columns is not the header's, a data line before any `#fields`, a field of the
//! wrong type, or a field lantern needs (`ts`; `uid` and `id.*` in every log but `dhcp`;
//! `proto` in `conn` and `dns`) unset or missing, which is also what every line of a file cut
//! to columns without them is (`zeek-cut` output). Besides Zeek's own header, the bare line of names `zeek-cut -m` prints
//! is taken as the header. Nothing is kept of a line once it is read: the reader's state is the
//! header, bounded by `tsv::MAX_FIELDS`.

mod flows;
mod records;
mod tsv;
mod value;

use super::{Key, LineProblem, LogReader, Piece, key_of_uid};
use crate::capture::Timestamp;
use crate::flow::Endpoint;
use serde::Deserialize;
use value::{Ip, Syntax, Text, Time};

/// A log lantern reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Log {
    Conn,
    Ssl,
    Quic,
    Http,
    Dns,
    Kerberos,
    Dhcp,
}

impl Log {
    /// The log a `_path`, `#path` or file name names.
    fn of_path(path: &[u8]) -> Option<Log> {
        Some(match path {
            b"conn" => Log::Conn,
            b"ssl" => Log::Ssl,
            b"quic" => Log::Quic,
            b"http" => Log::Http,
            b"dns" => Log::Dns,
            b"kerberos" => Log::Kerberos,
            b"dhcp" => Log::Dhcp,
            _ => return None,
        })
    }

    /// The log a file's name names.
    fn of_name(name: &str) -> Option<Log> {
        Log::of_path(log_name(name).as_bytes())
    }
}

/// The log a Zeek file's name says it holds: its base name up to the first `.` (`ssl.log`,
/// `ssl.json.gz`, `2026-12-01/conn.10:00:00-11:00:00.log.gz`).
pub fn log_name(file: &str) -> &str {
    let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
    base.split('.').next().unwrap_or(base)
}

/// Whether lantern reads the Zeek log named `log` (`conn`, `ssl`, `quic`, `http`, `dns`,
/// `kerberos`, `dhcp`).
pub fn reads(log: &str) -> bool {
    Log::of_path(log.as_bytes()).is_some()
}

/// A reader of one Zeek log stream.
pub struct ZeekReader {
    /// The log the file's name names.
    named: Option<Log>,
    /// The TSV header read so far.
    header: tsv::Header,
}

impl ZeekReader {
    /// A reader for a file named `name`.
    pub fn new(name: &str) -> ZeekReader {
        ZeekReader {
            named: Log::of_name(name),
            header: tsv::Header::default(),
        }
    }

    /// What a line of `log` in `syntax` gives.
    fn read(&self, log: Log, line: &[u8], syntax: Syntax) -> Result<Piece, LineProblem> {
        match log {
            Log::Conn => flows::conn(self.parse(line, syntax)?),
            Log::Ssl => flows::ssl(self.parse(line, syntax)?, syntax),
            Log::Quic => flows::quic(self.parse(line, syntax)?, syntax),
            Log::Http => flows::http(self.parse(line, syntax)?, syntax),
            Log::Dns => records::dns(self.parse(line, syntax)?, syntax),
            Log::Kerberos => records::kerberos(self.parse(line, syntax)?, syntax),
            Log::Dhcp => records::dhcp(self.parse(line, syntax)?, syntax),
        }
    }

    /// A line as its log's struct.
    fn parse<'a, T: Deserialize<'a>>(
        &self,
        line: &'a [u8],
        syntax: Syntax,
    ) -> Result<T, LineProblem> {
        match syntax {
            Syntax::Json => serde_json::from_slice(line).map_err(|e| {
                use serde_json::error::Category;
                LineProblem::Malformed(match e.classify() {
                    Category::Eof => "invalid JSON: cut short",
                    Category::Syntax | Category::Io => "invalid JSON",
                    Category::Data => "a field of the wrong type",
                })
            }),
            Syntax::Tsv => {
                let row = self.header.row(line).map_err(LineProblem::Malformed)?;
                T::deserialize(row).map_err(|e| LineProblem::Malformed(e.0))
            }
        }
    }
}

impl LogReader for ZeekReader {
    fn line(&mut self, line: &[u8], out: &mut Vec<Piece>) -> Result<(), LineProblem> {
        let (log, syntax) = match line.first() {
            None => return Err(LineProblem::Skipped),
            Some(b'#') => {
                self.header
                    .header_line(line)
                    .map_err(LineProblem::Malformed)?;
                return Err(LineProblem::Skipped);
            }
            Some(b'{') => {
                let log = match json_path(line) {
                    Some(path) => Log::of_path(path),
                    None => self.named,
                };
                (log, Syntax::Json)
            }
            Some(_) => {
                if self.header.fields.is_empty() && self.header.bare_fields(line) {
                    return Err(LineProblem::Skipped);
                }
                let log = match &self.header.path {
                    Some(path) => Log::of_path(path.as_bytes()),
                    None => self.named,
                };
                (log, Syntax::Tsv)
            }
        };
        let log = log.ok_or(LineProblem::Skipped)?;
        out.push(self.read(log, line, syntax)?);
        Ok(())
    }
}

/// The value of a JSON line's `"_path"` key, found without parsing the line (Zeek writes it
/// first; a `"` inside a string is escaped, so the key cannot be matched inside a value).
fn json_path(line: &[u8]) -> Option<&[u8]> {
    const KEY: &[u8] = b"\"_path\"";
    let at = line.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let rest = line[at..].trim_ascii_start().strip_prefix(b":")?;
    let rest = rest.trim_ascii_start().strip_prefix(b"\"")?;
    let end = rest.iter().position(|&b| b == b'"' || b == b'\\')?;
    Some(&rest[..end])
}

/// Defines the struct of a flow log's line: `ts`, `uid` and `id.*` (also under Zeek's
/// `scope_sep` "_": `id_orig_h`), then the log's own fields. Every field is optional, so that
/// one left out is told apart from one of the wrong type, and named in the message.
macro_rules! flow_line {
    ($(#[$meta:meta])* $name:ident<$a:lifetime> {
        $($(#[$fmeta:meta])* $field:ident: $ty:ty,)*
    }) => {
        $(#[$meta])*
        #[derive(serde::Deserialize)]
        pub struct $name<$a> {
            /// `ts`.
            pub ts: Option<$crate::logs::zeek::value::Time>,
            /// `uid`.
            #[serde(borrow)]
            pub uid: Option<$crate::logs::zeek::value::Text<$a>>,
            /// `id.orig_h`.
            #[serde(rename = "id.orig_h", alias = "id_orig_h")]
            pub orig_h: Option<$crate::logs::zeek::value::Ip>,
            /// `id.orig_p`.
            #[serde(rename = "id.orig_p", alias = "id_orig_p")]
            pub orig_p: Option<u16>,
            /// `id.resp_h`.
            #[serde(rename = "id.resp_h", alias = "id_resp_h")]
            pub resp_h: Option<$crate::logs::zeek::value::Ip>,
            /// `id.resp_p`.
            #[serde(rename = "id.resp_p", alias = "id_resp_p")]
            pub resp_p: Option<u16>,
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl $name<'_> {
            /// The fields every flow log has.
            pub fn id(&self) -> Result<$crate::logs::zeek::Id, $crate::logs::LineProblem> {
                $crate::logs::zeek::Id::of(
                    self.ts,
                    self.uid.as_ref(),
                    [(self.orig_h, self.orig_p), (self.resp_h, self.resp_p)],
                )
            }
        }
    };
}
use flow_line;

/// What every flow log's line says: its flow, its time and its endpoints.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Id {
    /// The flow: its `uid`, hashed.
    pub key: Key,
    /// `ts`.
    pub ts: Timestamp,
    /// `id.orig_h`, `id.orig_p`.
    pub client: Endpoint,
    /// `id.resp_h`, `id.resp_p`.
    pub server: Endpoint,
}

impl Id {
    fn of(
        ts: Option<Time>,
        uid: Option<&Text<'_>>,
        [orig, resp]: [(Option<Ip>, Option<u16>); 2],
    ) -> Result<Id, LineProblem> {
        let missing = LineProblem::Malformed;
        let ts = ts.ok_or(missing("no ts"))?.0;
        let uid = uid.ok_or(missing("no uid"))?;
        let uid = std::str::from_utf8(uid.raw()).map_err(|_| missing("a uid that is not text"))?;
        let endpoint =
            |(addr, port): (Option<Ip>, Option<u16>), a, p| -> Result<Endpoint, LineProblem> {
                Ok(Endpoint {
                    addr: addr.ok_or(missing(a))?.0.into(),
                    port: port.ok_or(missing(p))?,
                })
            };
        Ok(Id {
            key: key_of_uid(uid),
            ts,
            client: endpoint(orig, "no id.orig_h", "no id.orig_p")?,
            server: endpoint(resp, "no id.resp_h", "no id.resp_p")?,
        })
    }
}

#[cfg(test)]
mod damaged;
#[cfg(test)]
mod tests;
