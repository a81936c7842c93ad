//! Replaying capture files through the pipeline: in the calling thread for `--threads 1`, or
//! with a reader thread, N worker threads and the sequencer in the calling thread.
//!
//! The reader decodes each packet once and hands the worker that owns its flow the packet's
//! place in the reader's buffer, not a copy: a batch holds the buffer (reference-counted), the
//! reader goes on in another, and the last worker done with a buffer gives it back. Copying
//! every payload made two threads slower than one (`benches/replay.sh`: 1.31 s against
//! 1.24 s), and having every worker read and decode every file itself spent a core's worth of
//! time on packets each worker then skipped.
//!
//! Into a store, each file is first looked up by its quick key (see [`register_files`]);
//! a new one is hashed as it is read, by a thread fed the reader's buffers.
//!
//! Ticks fall at the same packets whatever the number of threads (see [`Clock`]) and the reader
//! waits for room to send each one, so no worker ever misses a tick here and every epoch is
//! every worker's part of one tick number.

use super::Counters;
use super::files::{self, Registered, Verb};
use super::threads::{Dispatch, Epochs, FromWorker, PacketBatch, Returns, Ticks, spawn_workers};
use super::{Sequencer, SequencerError, Settings, TICK_PACKETS, TICK_SECS, Worker};
use crate::capture::{CaptureReader, FileHash, Format, LinkType, PacketSpan, ReadError, Timestamp};
use crate::decode::{Decoder, Packet, is_supported};
use crate::flow::Stamp;
use crate::proto::Record;
use crossbeam_channel::{Receiver, bounded, unbounded};
use indicatif::ProgressBar;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Packets between two progress updates.
const PROGRESS_EVERY: u64 = 8192;

/// Packets between two looks for buffers the workers gave back (a 1 MiB buffer holds about
/// 3,000 packets of the benchmark capture).
const SPARE_EVERY: u64 = 1024;

/// How reading one file went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// Its format, once opened.
    pub format: Option<String>,
    /// Packets read from it.
    pub packets: u64,
    /// Times of its first and last packets.
    pub span: Option<(Timestamp, Timestamp)>,
    /// Why it was not read to the end, or not read at all.
    pub error: Option<String>,
    /// Its SHA-256, when it was hashed as it was read and read to its end.
    pub sha256: Option<String>,
}

impl FileReport {
    /// A file not read (yet), with why not.
    fn unread(path: &Path, error: Option<String>) -> FileReport {
        FileReport {
            path: path.to_path_buf(),
            format: None,
            packets: 0,
            span: None,
            error,
            sha256: None,
        }
    }
}

/// How a replay went.
#[derive(Debug, Default)]
pub struct ReplayReport {
    /// Every file given: the refused and unreadable ones first, then the others in the order
    /// they were read.
    pub files: Vec<FileReport>,
    /// Files opened and read (to the end or to an error).
    pub files_read: usize,
    /// One line per problem, each naming its file.
    pub errors: Vec<String>,
    /// Merged counters of every worker and the sequencer.
    pub counters: Counters,
    /// Set when the sequencer stopped the run (a store or event-writing failure).
    pub failed: Option<SequencerError>,
}

/// A file to read, in time order.
struct Input {
    path: PathBuf,
    first_ts: Option<Timestamp>,
    store_id: Option<i64>,
    /// Hash it as it is read (its row in the store gets the hash at the end).
    hash_as_read: bool,
}

impl Input {
    /// A reader of the file, and its hash being computed when it is hashed as it is read.
    fn open(&self) -> Result<(CaptureReader, Option<FileHash>), ReadError> {
        match self.hash_as_read {
            true => CaptureReader::open_hashing(&self.path).map(|(r, h)| (r, Some(h))),
            false => CaptureReader::open(&self.path).map(|r| (r, None)),
        }
    }
}

/// Replays `paths` through the pipeline into `sequencer`. Files whose SHA-256 is already in the
/// store are refused unless `force`.
pub fn replay(
    paths: &[PathBuf],
    settings: &Settings,
    sequencer: &mut Sequencer,
    force: bool,
    progress: Option<&ProgressBar>,
) -> ReplayReport {
    let mut report = ReplayReport::default();
    let mut inputs = open_inputs(paths, &mut report);
    if let Err(e) = register_files(&mut inputs, sequencer, force, &mut report) {
        report.failed = Some(e);
        return report;
    }
    let results = if settings.threads <= 1 {
        run_inline(&inputs, settings, sequencer, progress, &mut report)
    } else {
        run_threaded(&inputs, settings, sequencer, progress, &mut report)
    };
    if report.failed.is_none()
        && let Err(e) = sequencer.flush().and_then(|()| sequencer.sync_store())
    {
        report.failed = Some(e);
    }
    sequencer.add_counters(&mut report.counters);
    report.files_read = results.iter().filter(|r| r.format.is_some()).count();
    for (input, result) in inputs.iter().zip(results) {
        if let (Some(id), Some(store)) = (input.store_id, sequencer.store_mut())
            && let Err(e) = store.finish_file(
                id,
                result.packets,
                result.span,
                result.error.as_deref(),
                result.sha256.as_deref(),
            )
        {
            report.errors.push(e.to_string());
        }
        if let Some(error) = &result.error {
            report.errors.push(error.clone());
        }
        report.files.push(result);
    }
    report
}

/// Opens every file (reporting the ones that cannot be read) and sorts them by first packet.
fn open_inputs(paths: &[PathBuf], report: &mut ReplayReport) -> Vec<Input> {
    let mut inputs = Vec::new();
    for path in paths {
        let mut reader = match CaptureReader::open(path) {
            Ok(reader) => reader,
            Err(e) => {
                report.errors.push(e.to_string());
                report
                    .files
                    .push(FileReport::unread(path, Some(e.to_string())));
                continue;
            }
        };
        if let Format::Pcap { link, .. } = reader.format()
            && !is_supported(link)
        {
            let error = format!("{}: unsupported link type {link}", path.display());
            report.errors.push(error.clone());
            report.files.push(FileReport::unread(path, Some(error)));
            continue;
        }
        let first_ts = reader.next_packet().ok().flatten().map(|p| p.ts);
        inputs.push(Input {
            path: path.clone(),
            first_ts,
            store_id: None,
            hash_as_read: false,
        });
    }
    inputs.sort_by_key(|i| i.first_ts);
    inputs
}

/// Refuses the files the store already holds and records the rest, before anything of them is
/// written (see [`files::register`]).
fn register_files(
    inputs: &mut Vec<Input>,
    sequencer: &mut Sequencer,
    force: bool,
    report: &mut ReplayReport,
) -> Result<(), SequencerError> {
    let Some(store) = sequencer.store_mut() else {
        return Ok(());
    };
    let mut kept = Vec::new();
    for mut input in inputs.drain(..) {
        match files::register(store, &input.path, force, Verb::Replay)? {
            Registered::New {
                store_id,
                hash_as_read,
            } => {
                input.store_id = Some(store_id);
                input.hash_as_read = hash_as_read;
                kept.push(input);
            }
            Registered::Refused(error) => {
                report.errors.push(error);
                report.files.push(FileReport::unread(&input.path, None));
            }
            Registered::Unreadable(error) => report.errors.push(error),
        }
    }
    *inputs = kept;
    Ok(())
}

/// Where decoded packets go.
trait Sink {
    /// One decoded packet, from `buffer` (the reader's) unless it was reassembled.
    fn packet(&mut self, packet: &Packet<'_>, stamp: Stamp, buffer: &Arc<Vec<u8>>);
    /// Capture time reached a tick; `false` stops the run.
    fn tick(&mut self, now: Timestamp) -> bool;
    /// A buffer the reader may reuse, if one came back.
    fn spare_buffer(&mut self) -> Option<Vec<u8>> {
        None
    }
}

/// Decides when ticks fall: at the first packet of each new [`TICK_SECS`] of capture time
/// (capture time never runs backwards here: it is the latest time seen), and after
/// [`TICK_PACKETS`] packets without one. Both depend on the packets only, never on threads.
#[derive(Default)]
struct Clock {
    now: Option<Timestamp>,
    epoch: i64,
    packets: u64,
}

impl Clock {
    /// The latest capture time seen.
    fn now(&self) -> Timestamp {
        self.now.unwrap_or_default()
    }

    fn advance(&mut self, ts: Timestamp) -> Option<Timestamp> {
        let now = self.now.map_or(ts, |n| n.max(ts));
        let epoch = now.secs().div_euclid(TICK_SECS);
        let first = self.now.is_none();
        self.now = Some(now);
        self.packets += 1;
        if first {
            self.epoch = epoch;
            None
        } else if epoch > self.epoch || self.packets >= TICK_PACKETS {
            self.epoch = epoch;
            self.packets = 0;
            Some(now)
        } else {
            None
        }
    }
}

/// Reads and decodes every input in order into `sink`; one [`FileReport`] per input, and the
/// counters of reading and decoding.
fn read_all(
    inputs: &[Input],
    sink: &mut dyn Sink,
    progress: Option<&ProgressBar>,
    abort: &AtomicBool,
) -> (Vec<FileReport>, Counters) {
    let mut reading = Reading {
        sink,
        progress,
        abort,
        decoder: Decoder::default(),
        counters: Counters::default(),
        clock: Clock::default(),
        number: 0,
        done_bytes: 0,
    };
    let results = inputs.iter().map(|input| reading.file(input)).collect();
    if let Some(bar) = progress {
        bar.set_position(reading.done_bytes);
    }
    (results, reading.counters)
}

/// What reading carries from one input to the next.
struct Reading<'a> {
    sink: &'a mut dyn Sink,
    progress: Option<&'a ProgressBar>,
    /// Set to stop reading (and by a sink that stops the run).
    abort: &'a AtomicBool,
    decoder: Decoder,
    counters: Counters,
    clock: Clock,
    /// The latest packet's number, counted over every input.
    number: u64,
    /// Bytes read of the inputs done.
    done_bytes: u64,
}

impl Reading<'_> {
    /// Reads one input to its end, an error, or an abort.
    fn file(&mut self, input: &Input) -> FileReport {
        let mut result = FileReport::unread(&input.path, None);
        let (mut reader, hash) = match input.open() {
            Ok(opened) => opened,
            Err(e) => {
                result.error = Some(e.to_string());
                return result;
            }
        };
        result.format = Some(reader.format().to_string());
        self.packets(&mut reader, &input.path, &mut result);
        result.packets = reader.packets();
        self.done_bytes += reader.offset();
        if let Some(hash) = hash {
            // A run stopped half way leaves its file unhashed: it did not finish.
            let ended = !self.abort.load(Ordering::Relaxed) && reader.end_hash().is_ok();
            drop(reader);
            let (_, sha256) = hash.finish();
            result.sha256 = ended.then_some(sha256);
        }
        result
    }

    /// Every packet `reader` reads from `path` into the sink, until its end, an error (said in
    /// `result`) or an abort; buffers the workers gave back go back to the reader.
    fn packets(&mut self, reader: &mut CaptureReader, path: &Path, result: &mut FileReport) {
        let mut reported: Vec<LinkType> = Vec::new();
        loop {
            if self.abort.load(Ordering::Relaxed) {
                break;
            }
            let slot = match reader.advance() {
                Ok(Some(slot)) => slot,
                Ok(None) => break,
                Err(e) => {
                    result.error = Some(e.to_string());
                    break;
                }
            };
            self.packet(reader, &slot, path, result, &mut reported);
            if self.number.is_multiple_of(SPARE_EVERY) {
                while let Some(buffer) = self.sink.spare_buffer() {
                    reader.recycle(buffer);
                }
            }
            if self.number.is_multiple_of(PROGRESS_EVERY)
                && let Some(bar) = self.progress
            {
                bar.set_position(self.done_bytes + reader.offset());
            }
        }
    }

    /// One packet: numbered, in the file's span, its link type said once when unsupported, a
    /// tick to the sink when one falls before it, then decoded into the sink.
    #[inline]
    fn packet(
        &mut self,
        reader: &CaptureReader,
        slot: &PacketSpan,
        path: &Path,
        result: &mut FileReport,
        reported: &mut Vec<LinkType>,
    ) {
        let raw = reader.packet(slot);
        self.number += 1;
        result.span = Some(
            result
                .span
                .map_or((raw.ts, raw.ts), |(a, b)| (a.min(raw.ts), b.max(raw.ts))),
        );
        if !is_supported(raw.link) && !reported.contains(&raw.link) {
            reported.push(raw.link);
            result.error.get_or_insert_with(|| {
                format!(
                    "{}: packets with unsupported link type {} were counted and skipped",
                    path.display(),
                    raw.link
                )
            });
        }
        if let Some(now) = self.clock.advance(raw.ts)
            && !self.sink.tick(now)
        {
            self.abort.store(true, Ordering::Relaxed);
        }
        self.counters.capture.packets += 1;
        self.counters.capture.bytes += u64::from(raw.wire_len);
        let (clock, decode) = (self.clock.now(), &mut self.counters.decode);
        let decoded = self.decoder.decode(raw.link, raw.data, clock, decode);
        if let Some(packet) = decoded {
            let stamp = Stamp {
                number: self.number,
                ts: raw.ts,
                clock,
            };
            self.sink.packet(&packet, stamp, reader.buffer());
        }
    }
}

/// `--threads 1`: every stage in the calling thread.
fn run_inline(
    inputs: &[Input],
    settings: &Settings,
    sequencer: &mut Sequencer,
    progress: Option<&ProgressBar>,
    report: &mut ReplayReport,
) -> Vec<FileReport> {
    struct Inline<'s> {
        worker: Worker,
        sequencer: &'s mut Sequencer,
        failed: Option<SequencerError>,
    }
    impl Sink for Inline<'_> {
        fn packet(&mut self, packet: &Packet<'_>, stamp: Stamp, _: &Arc<Vec<u8>>) {
            self.worker.packet(packet, stamp);
        }
        fn tick(&mut self, now: Timestamp) -> bool {
            let records = self.worker.tick(now);
            self.deliver(records)
        }
    }
    impl Inline<'_> {
        fn deliver(&mut self, records: Vec<Record>) -> bool {
            if self.failed.is_none()
                && let Err(e) = self.sequencer.process(vec![records])
            {
                self.failed = Some(e);
            }
            self.failed.is_none()
        }
    }
    let abort = AtomicBool::new(false);
    let mut sink = Inline {
        worker: Worker::new(settings),
        sequencer,
        failed: None,
    };
    let (results, read_counters) = read_all(inputs, &mut sink, progress, &abort);
    let records = sink.worker.finish();
    sink.deliver(records);
    report.counters.merge(&read_counters);
    report.counters.merge(sink.worker.counters());
    report.failed = sink.failed;
    results
}

/// The reader's end of threaded replay: batches to the workers, buffers back.
struct Reader {
    dispatch: Dispatch,
    buffers: Receiver<Vec<u8>>,
}

impl Sink for Reader {
    fn packet(&mut self, packet: &Packet<'_>, stamp: Stamp, buffer: &Arc<Vec<u8>>) {
        self.dispatch.packet(packet, stamp, Some(buffer));
    }

    fn tick(&mut self, now: Timestamp) -> bool {
        self.dispatch.tick(now);
        true
    }

    fn spare_buffer(&mut self) -> Option<Vec<u8>> {
        self.buffers.try_recv().ok()
    }
}

/// `--threads N`: a reader thread, N worker threads, the sequencer in the calling thread.
fn run_threaded(
    inputs: &[Input],
    settings: &Settings,
    sequencer: &mut Sequencer,
    progress: Option<&ProgressBar>,
    report: &mut ReplayReport,
) -> Vec<FileReport> {
    let n = settings.threads;
    let abort = AtomicBool::new(false);
    let (to_sequencer, from_workers) = bounded::<FromWorker>(n * 16);
    let (recycle, recycled) = unbounded::<PacketBatch>();
    // Bounded: a buffer that finds it full is freed.
    let (give_back, buffers) = bounded::<Vec<u8>>(8);
    std::thread::scope(|scope| {
        let returns = Returns {
            batches: recycle,
            buffers: Some(give_back),
        };
        let to_workers = spawn_workers(scope, settings, to_sequencer, &returns);
        drop(returns);
        let abort = &abort;
        let reader = std::thread::Builder::new()
            .name("lantern-reader0".to_string())
            .spawn_scoped(scope, move || {
                let ticks = Arc::new(Ticks::default());
                let mut sink = Reader {
                    dispatch: Dispatch::new(to_workers, recycled, None, ticks),
                    buffers,
                };
                let results = read_all(inputs, &mut sink, progress, abort);
                sink.dispatch.flush();
                results
            })
            .expect("failed to start the reader thread");
        let mut epochs = Epochs::new(n);
        for message in from_workers {
            epochs.take(message);
            while let Some(epoch) = epochs.next() {
                if report.failed.is_none()
                    && let Err(e) = sequencer.process(epoch)
                {
                    report.failed = Some(e);
                    abort.store(true, Ordering::Relaxed);
                }
            }
        }
        report.counters.merge(&epochs.done);
        let (results, read_counters) = reader.join().expect("reader thread panicked");
        report.counters.merge(&read_counters);
        results
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_fall_on_new_seconds_of_the_latest_time() {
        let mut clock = Clock::default();
        let t = |s: i64, ms: i64| Timestamp::from_parts(s, ms * 1_000_000);
        assert_eq!(clock.advance(t(100, 500)), None);
        assert_eq!(clock.advance(t(100, 900)), None);
        assert_eq!(clock.advance(t(101, 0)), Some(t(101, 0)));
        // A packet from the past does not move time back or tick.
        assert_eq!(clock.advance(t(99, 0)), None);
        assert_eq!(clock.advance(t(101, 200)), None);
        assert_eq!(clock.advance(t(105, 0)), Some(t(105, 0)));
        // A clock that stands still still ticks, every TICK_PACKETS packets.
        let ticks = (0..3 * TICK_PACKETS)
            .filter(|_| clock.advance(t(105, 0)).is_some())
            .count();
        assert_eq!(ticks, 3);
    }
}
