//! Ingesting logs through the pipeline: Zeek and EVE files in, the same records the packet path
//! makes handed to the [`Sequencer`], so naming, identity, policy, output and the store treat
//! them as theirs.
//!
//! The files given (directories are walked) are grouped into streams, one per log (Zeek's
//! `conn`, `ssl`, `dns`... and EVE), each stream's files in the order of their first line's
//! time, so a Zeek archive of hourly files is read as Zeek wrote it. The streams are merged
//! by the time each line was written ([`Piece::written`]); that time, never running backwards,
//! is the log clock. Pieces go to the [`Joiner`], and what it hands on goes to the sequencer at
//! each new second of the log clock (and every [`TICK_PACKETS`] records), as ticks do in the
//! packet path.

use super::files::{self, Registered, Verb};
use super::{Counters, Sequencer, SequencerError, TICK_PACKETS};
use crate::capture::Timestamp;
use crate::capture::hash::sha256_file;
use crate::logs::lines::Next;
use crate::logs::zeek;
use crate::logs::{self, Format, JoinConfig, Joiner, LineProblem, Lines, LogReader, Piece};
use crate::proto::Record;
use crossbeam_channel::{Receiver, bounded};
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

/// Most lines read to find a file's format and first time.
const PROBE_LINES: usize = 64;

/// Most messages about bad lines kept per file; the rest are counted.
const MESSAGES_PER_FILE: usize = 5;

/// How to read logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestSettings {
    /// The format, when not told from each file's content.
    pub format: Option<Format>,
    /// How the pieces of a flow are joined.
    pub join: JoinConfig,
}

/// How reading one log file went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogFileReport {
    /// The file.
    pub path: PathBuf,
    /// Its format, once known.
    pub format: Option<Format>,
    /// Lines read.
    pub lines: u64,
    /// Times of its first and last lines read.
    pub span: Option<(Timestamp, Timestamp)>,
    /// Why it was not read to the end, or not at all.
    pub error: Option<String>,
}

/// How an ingest went.
#[derive(Debug, Default)]
pub struct IngestReport {
    /// Every file given, the refused and unreadable ones first.
    pub files: Vec<LogFileReport>,
    /// Files read (to the end or to an error).
    pub files_read: usize,
    /// One line per problem, each naming its file.
    pub errors: Vec<String>,
    /// The counters of reading and of the sequencer.
    pub counters: Counters,
    /// Set when the sequencer stopped the run.
    pub failed: Option<SequencerError>,
}

/// A file to read.
struct LogFile {
    path: PathBuf,
    format: Format,
    /// The log it holds (`conn`, `ssl`... or `eve`), from its name or its header.
    log: String,
    first: Option<Timestamp>,
    store_id: Option<i64>,
    hash: Option<JoinHandle<std::io::Result<(u64, String)>>>,
    report: LogFileReport,
}

/// Reads `paths` (files and directories of logs) into `sequencer`. Files already in the store
/// are refused unless `force`.
pub fn ingest(
    paths: &[PathBuf],
    settings: &IngestSettings,
    sequencer: &mut Sequencer,
    force: bool,
) -> IngestReport {
    let mut report = IngestReport::default();
    let mut files = open_files(&expand(paths, &mut report), settings, &mut report);
    if let Err(e) = register(&mut files, sequencer, force, &mut report) {
        report.failed = Some(e);
        return report;
    }
    // Without a log of flow totals, messages have nothing to wait for.
    let totals = files
        .iter()
        .any(|f| f.format == Format::Eve || f.log == "conn");
    let mut join = settings.join;
    if !totals {
        join.orphan_secs = join.window_secs;
    }
    let mut streams = streams(files);
    let mut joiner = Joiner::new(join);
    if let Err(e) = run(&mut streams, &mut joiner, sequencer) {
        report.failed = Some(e);
    }
    if report.failed.is_none()
        && let Err(e) = sequencer.flush().and_then(|()| sequencer.sync_store())
    {
        report.failed = Some(e);
    }
    joiner.add_counters(&mut report.counters.logs);
    sequencer.add_counters(&mut report.counters);
    finish_files(streams, sequencer, &mut report);
    report
}

/// The files of `paths`, directories walked (in name order), hidden files left out; each with
/// whether it was named on the command line (a file found in a directory that is not a log is
/// passed over, one named is an error).
fn expand(paths: &[PathBuf], report: &mut IngestReport) -> Vec<(PathBuf, bool)> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found, report);
            out.extend(found.into_iter().map(|p| (p, false)));
        } else {
            out.push((path.clone(), true));
        }
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, report: &mut IngestReport) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return report.errors.push(format!("{}: {e}", dir.display())),
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            walk(&path, out, report);
        } else {
            out.push(path);
        }
    }
}

/// The log a Zeek file holds by its name: `ssl.log`, `ssl.json.gz`, `conn.10:00:00-11:00:00.log.gz`.
fn log_of_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    name.split('.').next().unwrap_or_default().to_string()
}

/// Opens each file to learn its format and first time; reports the ones that are not logs.
fn open_files(
    paths: &[(PathBuf, bool)],
    settings: &IngestSettings,
    report: &mut IngestReport,
) -> Vec<LogFile> {
    let mut files = Vec::new();
    for (path, named) in paths {
        let unread = |error: String| LogFileReport {
            path: path.clone(),
            format: None,
            lines: 0,
            span: None,
            error: Some(error),
        };
        let (format, log, first) = match probe(path, settings.format) {
            Ok(found) => found,
            Err(error) if *named => {
                report.errors.push(error.clone());
                report.files.push(unread(error));
                continue;
            }
            Err(_) => continue,
        };
        if format == Format::Zeek && !zeek::reads(&log) {
            continue;
        }
        files.push(LogFile {
            path: path.clone(),
            format,
            log,
            first,
            store_id: None,
            hash: None,
            report: LogFileReport {
                path: path.clone(),
                format: Some(format),
                lines: 0,
                span: None,
                error: None,
            },
        });
    }
    files
}

/// A file's format, the log it holds and the time of its first piece.
fn probe(
    path: &Path,
    forced: Option<Format>,
) -> Result<(Format, String, Option<Timestamp>), String> {
    let mut lines = Lines::open(path).map_err(|e| e.to_string())?;
    let mut format = forced;
    let mut log = log_of_name(path);
    let mut reader: Option<Box<dyn LogReader + Send>> = None;
    let mut pieces = Vec::new();
    for _ in 0..PROBE_LINES {
        match lines.next_line().map_err(|e| e.to_string())? {
            Next::End => break,
            Next::TooLong => continue,
            Next::Line => {}
        }
        let line = lines.line();
        if let Some(path_name) = line.strip_prefix(b"#path\t") {
            log = String::from_utf8_lossy(path_name).into_owned();
        }
        let format = match format {
            Some(f) => f,
            None => match Format::of_first_line(line) {
                Some(f) => *format.insert(f),
                // Blank lines, and comments before a header (`### BTest baseline ...`).
                None if line.trim_ascii().is_empty() || line.starts_with(b"#") => continue,
                None => {
                    return Err(format!(
                        "{}: not a Zeek or EVE log (line {}); give --format to read it as one",
                        path.display(),
                        lines.number()
                    ));
                }
            },
        };
        let reader = reader.get_or_insert_with(|| logs::reader(format, &log, 0));
        if reader.line(line, &mut pieces).is_ok() && !pieces.is_empty() {
            break;
        }
    }
    let format = format.ok_or_else(|| format!("{}: empty", path.display()))?;
    if format == Format::Eve {
        log = eve_stream_of(path);
    }
    Ok((format, log, pieces.first().map(Piece::written)))
}

/// Refuses the files the store holds; records the others, hashing the new ones alongside.
fn register(
    files: &mut Vec<LogFile>,
    sequencer: &mut Sequencer,
    force: bool,
    report: &mut IngestReport,
) -> Result<(), SequencerError> {
    let Some(store) = sequencer.store_mut() else {
        return Ok(());
    };
    let mut kept = Vec::new();
    for mut file in files.drain(..) {
        match files::register(store, &file.path, force, Verb::Ingest)? {
            Registered::New {
                store_id,
                hash_as_read,
            } => {
                file.store_id = Some(store_id);
                if hash_as_read {
                    let path = file.path.clone();
                    file.hash = Some(std::thread::spawn(move || sha256_file(&path)));
                }
                kept.push(file);
            }
            Registered::Refused(error) => {
                report.errors.push(error);
                file.report.format = None;
                report.files.push(file.report);
            }
            Registered::Unreadable(error) => report.errors.push(error),
        }
    }
    *files = kept;
    Ok(())
}

/// Pieces a stream's thread hands over at a time.
const BATCH: usize = 1024;

/// Batches a stream's thread may read ahead of the merge.
const BATCHES_AHEAD: usize = 4;

/// One log's files, read one after another by one reader, in a thread of its own.
struct StreamReader {
    files: VecDeque<LogFile>,
    done: Vec<LogFile>,
    reader: Box<dyn LogReader + Send>,
    lines: Option<Lines>,
    messages: usize,
    ended: bool,
    counters: logs::Counters,
    errors: Vec<String>,
}

/// The merge's side of a stream: the pieces its thread read, in order.
struct Stream {
    batches: Receiver<Vec<Piece>>,
    queue: VecDeque<Piece>,
    thread: Option<JoinHandle<StreamReader>>,
}

/// Groups files into streams, each stream's files by first time, then name: a Zeek log's files
/// (`conn.log`, or an archive's `conn.*.log.gz` of every day) are one stream, and an EVE file
/// with its rotations (`eve.json`, `eve.json.1`, `eve.json-20261201.gz`) another.
fn streams(files: Vec<LogFile>) -> Vec<Stream> {
    let mut groups: BTreeMap<(Format, String), Vec<LogFile>> = BTreeMap::new();
    for file in files {
        groups
            .entry((file.format, file.log.clone()))
            .or_default()
            .push(file);
    }
    let mut eve_streams = 0u8;
    groups
        .into_iter()
        .map(|((format, log), mut files)| {
            files.sort_by(|a, b| (a.first, &a.path).cmp(&(b.first, &b.path)));
            let number = eve_streams;
            if format == Format::Eve {
                eve_streams = eve_streams.wrapping_add(1);
            }
            let reader = StreamReader {
                files: files.into(),
                done: Vec::new(),
                reader: logs::reader(format, &log, number),
                lines: None,
                messages: 0,
                ended: false,
                counters: logs::Counters::default(),
                errors: Vec::new(),
            };
            Stream::spawn(reader)
        })
        .collect()
}

/// The stream an EVE file belongs to: its name up to `.json`, without a directory.
fn eve_stream_of(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    match name.find(".json") {
        Some(at) => name[..at + ".json".len()].to_string(),
        None => name.split('.').next().unwrap_or_default().to_string(),
    }
}

impl Stream {
    /// Starts `reader`'s thread: it reads lines into batches of pieces, a few ahead.
    fn spawn(mut reader: StreamReader) -> Stream {
        let (tx, batches) = bounded(BATCHES_AHEAD);
        let thread = std::thread::spawn(move || {
            while !reader.ended {
                let mut batch = Vec::with_capacity(BATCH);
                while batch.len() < BATCH && !reader.ended {
                    reader.read_one(&mut batch);
                }
                if !batch.is_empty() && tx.send(batch).is_err() {
                    break;
                }
            }
            reader
        });
        Stream {
            batches,
            queue: VecDeque::new(),
            thread: Some(thread),
        }
    }

    /// The next piece's write time, once its thread has read it.
    fn head(&mut self) -> Option<Timestamp> {
        while self.queue.is_empty() {
            match self.batches.recv() {
                Ok(batch) => self.queue.extend(batch),
                Err(_) => break,
            }
        }
        self.queue.front().map(Piece::written)
    }

    /// Waits for the thread to end and gives back its reader.
    fn finish(mut self) -> Option<StreamReader> {
        drop(self.batches);
        self.thread.take().and_then(|t| t.join().ok())
    }
}

impl StreamReader {
    /// Reads one line (opening the next file as needed) into `pieces`.
    fn read_one(&mut self, pieces: &mut Vec<Piece>) {
        if self.lines.is_none() && !self.open_next() {
            self.reader.finish(pieces);
            self.reader.add_counters(&mut self.counters);
            self.ended = true;
            return;
        }
        let Some(lines) = self.lines.as_mut() else {
            return;
        };
        let file = self.files.front_mut().expect("a file is open");
        let counters = &mut self.counters;
        match lines.next_line() {
            Ok(Next::Line) => {
                counters.log_lines += 1;
                file.report.lines += 1;
                let start = pieces.len();
                match self.reader.line(lines.line(), pieces) {
                    Ok(()) => note_span(&mut file.report, &pieces[start..]),
                    Err(LineProblem::Skipped) => counters.log_lines_skipped += 1,
                    Err(LineProblem::Malformed(why)) => {
                        counters.log_lines_malformed += 1;
                        if self.messages < MESSAGES_PER_FILE {
                            self.messages += 1;
                            self.errors.push(format!(
                                "{}: line {}: {why}",
                                file.path.display(),
                                lines.number()
                            ));
                        }
                    }
                }
            }
            Ok(Next::TooLong) => {
                counters.log_lines += 1;
                counters.log_lines_too_long += 1;
                file.report.lines += 1;
            }
            Ok(Next::End) => self.close_file(None),
            Err(e) => {
                self.errors.push(e.to_string());
                self.close_file(Some(e.to_string()));
            }
        }
    }

    fn open_next(&mut self) -> bool {
        while let Some(file) = self.files.front_mut() {
            match Lines::open(&file.path) {
                Ok(lines) => {
                    self.lines = Some(lines);
                    self.messages = 0;
                    return true;
                }
                Err(e) => {
                    self.errors.push(e.to_string());
                    file.report.error = Some(e.to_string());
                    let file = self.files.pop_front().expect("a file");
                    self.done.push(file);
                }
            }
        }
        false
    }

    fn close_file(&mut self, error: Option<String>) {
        self.lines = None;
        if let Some(mut file) = self.files.pop_front() {
            file.report.error = error;
            self.done.push(file);
        }
    }
}

/// Widens a file's span by the times of the pieces its line gave.
fn note_span(report: &mut LogFileReport, pieces: &[Piece]) {
    for t in pieces.iter().map(Piece::written) {
        report.span = Some(match report.span {
            Some((a, b)) => (a.min(t), b.max(t)),
            None => (t, t),
        });
    }
}

/// Merges the streams by write time through the joiner into the sequencer.
fn run(
    streams: &mut [Stream],
    joiner: &mut Joiner,
    sequencer: &mut Sequencer,
) -> Result<(), SequencerError> {
    let mut ready: Vec<Record> = Vec::new();
    let mut clock: Option<Timestamp> = None;
    loop {
        let mut next: Option<(Timestamp, usize)> = None;
        for (i, stream) in streams.iter_mut().enumerate() {
            if let Some(t) = stream.head()
                && next.is_none_or(|(best, _)| t < best)
            {
                next = Some((t, i));
            }
        }
        let Some((t, i)) = next else { break };
        let piece = streams[i].queue.pop_front().expect("a head");
        let now = clock.map_or(t, |c| c.max(t));
        if clock.is_some_and(|c| c.secs() != now.secs()) {
            joiner.advance(now, &mut ready);
            sequencer.process(vec![std::mem::take(&mut ready)])?;
        }
        clock = Some(now);
        joiner.piece(piece, &mut ready);
        if ready.len() >= TICK_PACKETS as usize {
            sequencer.process(vec![std::mem::take(&mut ready)])?;
        }
    }
    joiner.finish(&mut ready);
    sequencer.process(vec![ready])
}

/// Ends the streams' threads, takes their counters and messages, and records each file's end
/// in the store, with its hash when it was hashed alongside.
fn finish_files(streams: Vec<Stream>, sequencer: &mut Sequencer, report: &mut IngestReport) {
    let mut files = Vec::new();
    for reader in streams.into_iter().filter_map(Stream::finish) {
        report.counters.logs.merge(&reader.counters);
        report.errors.extend(reader.errors);
        files.extend(reader.done.into_iter().chain(reader.files));
    }
    for mut file in files {
        report.files_read += 1;
        let sha256 = match file.hash.take().map(|h| h.join()) {
            Some(Ok(Ok((_, sha256)))) => Some(sha256),
            Some(Ok(Err(e))) => {
                report.errors.push(format!("{}: {e}", file.path.display()));
                None
            }
            Some(Err(_)) | None => None,
        };
        if let (Some(id), Some(store)) = (file.store_id, sequencer.store_mut())
            && let Err(e) = store.finish_file(
                id,
                file.report.lines,
                file.report.span,
                file.report.error.as_deref(),
                sha256.as_deref(),
            )
        {
            report.errors.push(e.to_string());
        }
        report.files.push(file.report);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::key_of_uid;

    #[test]
    fn zeek_file_names_say_their_log() {
        for (name, log) in [
            ("ssl.log", "ssl"),
            ("/a/2026-12-01/conn.10:00:00-11:00:00.log.gz", "conn"),
            ("dns.json.gz", "dns"),
        ] {
            assert_eq!(log_of_name(Path::new(name)), log);
        }
        assert_ne!(
            key_of_uid("CmC9kY1X0u9nP78KZc"),
            key_of_uid("CRjZDp2IQrTOJVYkj8")
        );
    }
}
