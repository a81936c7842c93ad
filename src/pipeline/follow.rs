//! Following a live NSM's logs through the pipeline (`lantern capture --logs DIR`): the
//! [`Follower`] reads the lines Zeek and Suricata write, the streams are merged by write time
//! through the [`Joiner`] into the [`Sequencer`] as in `ingest`, and the daemon's duties are
//! the packet daemon's: a store write every `flush_every` with the sensor's state, pruning,
//! reloads and snapshots for the status line and the metrics.
//!
//! **Merging lines as they come.** A piece is handed on only once the newest line read is
//! [`HOLD`] of log time past it, or once nothing new was read for [`IDLE`]: a line written to
//! one log just before a line of another is not overtaken by it, so the order is the one
//! `ingest` of the same files takes.
//!
//! **Where it stopped.** After each store write (and its sync), the state file gets, per
//! stream, its files and the end of the last line whose piece was handed to the joiner: every
//! record made before that point is in the store, none made after. A flow's pieces still
//! waiting in the joiner, and EVE DNS requests waiting for their answer, are not: on a restart
//! (after SIGTERM or a crash alike) the files kept in the state are read again from their
//! start with the sequencer replaying (no event, no store row) until each stream is back at
//! its saved position, which rebuilds the joiner, the DNS history and identity's bindings as
//! they were; from there on, records go to the store. So a restart neither loses nor repeats
//! a line. The rebuild reads each stream's live file and the one before it (see
//! [`crate::logs::follow::KEPT_FILES`]); what was learnt from older files is not rebuilt.

use super::live::{LiveSettings, LiveSnapshot, Pruning, Supervisor};
use super::{Counters, Sequencer, SequencerError, TICK_PACKETS};
use crate::capture::{KernelStats, Timestamp};
use crate::logs::follow::{FollowState, Follower, Found, Position};
use crate::logs::zeek;
use crate::logs::{self, Format, JoinConfig, Joiner, LineProblem, LogReader, Piece};
use crate::proto::Record;
use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How often the directory is looked at when there was nothing new.
const POLL: Duration = Duration::from_millis(200);
/// Log time a piece waits for lines of other logs written before it.
pub const HOLD: Duration = Duration::from_secs(5);
/// Wall time without a new line after which every piece read is handed on.
pub const IDLE: Duration = Duration::from_secs(1);
/// Messages about bad lines per stream; the rest are counted.
const MESSAGES_PER_STREAM: usize = 5;

/// What to follow and where to keep the place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowSettings {
    /// The directory Zeek (its `current/`) or Suricata writes to.
    pub dir: PathBuf,
    /// The state file.
    pub state: PathBuf,
    /// How the pieces of a flow are joined.
    pub join: JoinConfig,
}

/// How following went.
#[derive(Debug, Default)]
pub struct FollowReport {
    /// The final counters.
    pub counters: Counters,
    /// Problems met (files that could not be read, bad lines, the state not saved).
    pub errors: Vec<String>,
    /// Set when the sequencer stopped the run.
    pub failed: Option<SequencerError>,
}

/// The live names followed: `LOG.log` of Zeek's logs that lantern reads, and `NAME.json`
/// (EVE); never a rotated name (`eve.json.1`, `conn.2026-12-01-10-00-00.log`).
fn wanted(name: &str) -> bool {
    match name.split('.').collect::<Vec<_>>()[..] {
        [stem, "log"] => zeek::reads(stem),
        [stem, "json"] => !stem.is_empty(),
        _ => false,
    }
}

/// A piece read and the end of its line.
struct Queued {
    piece: Piece,
    at: Position,
}

/// One followed stream's reading side.
struct Stream {
    /// Its live name.
    name: String,
    reader: Option<Box<dyn LogReader + Send>>,
    queue: VecDeque<Queued>,
    /// The end of the last line whose piece was handed to the joiner.
    handed: Option<Position>,
    /// Where it was saved, while reading again up to it after a restart.
    target: Option<Position>,
    messages: usize,
}

/// The state of a run.
struct Follow<'a> {
    follower: Follower,
    streams: Vec<Stream>,
    joiner: Joiner,
    sequencer: &'a mut Sequencer,
    ready: Vec<Record>,
    /// The log clock: the latest write time handed on.
    clock: Option<Timestamp>,
    /// The latest write time read.
    newest: Option<Timestamp>,
    counters: logs::Counters,
    eve_streams: u8,
    /// Reading again what the store holds, after a restart.
    replaying: bool,
    saved: FollowState,
    /// The sequencer's store writes when the state was last saved.
    saved_writes: u64,
    state_path: PathBuf,
    label: String,
    started: Instant,
    started_wall: Timestamp,
    pruning: Option<Pruning>,
    failed: Option<SequencerError>,
    errors: Vec<String>,
}

/// Follows `settings.dir` until the supervisor says stop, then writes to the store and saves
/// where it stopped. Fails only when the state file cannot be read.
pub fn follow(
    settings: &FollowSettings,
    live: &LiveSettings,
    sequencer: &mut Sequencer,
    supervisor: &mut dyn Supervisor,
) -> io::Result<FollowReport> {
    let saved = FollowState::load(&settings.state)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", settings.state.display())))?;
    let (follower, missing) = Follower::resume(&settings.dir, wanted, &saved);
    let mut run = Follow::new(follower, saved, sequencer, settings, live);
    if missing > 0 {
        let line = format!(
            "{}: {missing} file(s) read before are gone; what they held was not rebuilt",
            settings.state.display()
        );
        eprintln!("lantern: {line}");
        run.errors.push(line);
    }
    run.start()?;
    run.run(live, supervisor);
    Ok(run.finish(supervisor))
}

impl<'a> Follow<'a> {
    fn new(
        follower: Follower,
        saved: FollowState,
        sequencer: &'a mut Sequencer,
        settings: &FollowSettings,
        live: &LiveSettings,
    ) -> Follow<'a> {
        if let (Some(retention), Some(store)) = (live.retention, sequencer.store_mut()) {
            store.set_retention(retention);
        }
        Follow {
            follower,
            streams: Vec::new(),
            joiner: Joiner::new(settings.join),
            sequencer,
            ready: Vec::new(),
            clock: None,
            newest: None,
            counters: logs::Counters::default(),
            eve_streams: 0,
            replaying: false,
            saved,
            saved_writes: 0,
            state_path: settings.state.clone(),
            label: format!("logs:{}", settings.dir.display()),
            started: Instant::now(),
            started_wall: Timestamp::now(),
            pruning: live.retention.map(Pruning::new),
            failed: None,
            errors: Vec::new(),
        }
    }

    /// Sets each resumed stream's target; with any, the sequencer replays until they are met.
    fn start(&mut self) -> io::Result<()> {
        self.sync_streams();
        self.replaying = self.streams.iter().any(|s| s.target.is_some());
        if self.replaying {
            self.sequencer
                .set_replaying(true)
                .map_err(|e| io::Error::other(e.to_string()))?;
        }
        Ok(())
    }

    /// Adds a stream for each the follower found since.
    fn sync_streams(&mut self) {
        let names = self.follower.names();
        for name in names.into_iter().skip(self.streams.len()) {
            let target = (self.saved.streams.get(name))
                .and_then(|s| s.position)
                .filter(|p| self.follower.has(name, p.seq));
            self.streams.push(Stream {
                name: name.to_string(),
                reader: None,
                queue: VecDeque::new(),
                handed: None,
                target,
                messages: 0,
            });
        }
    }

    /// Polls, reloads, merges, writes and snapshots until stopped.
    fn run(&mut self, live: &LiveSettings, supervisor: &mut dyn Supervisor) {
        let mut flushed = Instant::now();
        let mut snapshot = Instant::now();
        let mut last_read = Instant::now();
        while !supervisor.stop_requested() && self.failed.is_none() {
            let read = self.read();
            if read > 0 {
                last_read = Instant::now();
            }
            let limit = match last_read.elapsed() >= IDLE {
                true => None,
                false => self.newest.map(|t| Timestamp(t.0 - HOLD.as_nanos() as i64)),
            };
            self.merge(limit);
            if supervisor.reload_requested() {
                supervisor.reload(self.sequencer);
            }
            if !self.replaying && flushed.elapsed() >= live.flush_every {
                flushed = Instant::now();
                self.flush();
            }
            if let Some(pruning) = &mut self.pruning {
                pruning.step(self.sequencer);
            }
            if snapshot.elapsed() >= live.snapshot_every {
                snapshot = Instant::now();
                supervisor.snapshot(&self.snapshot());
            }
            if read == 0 {
                std::thread::sleep(POLL);
            }
        }
    }

    /// Reads what the follower has, into each stream's queue of pieces.
    fn read(&mut self) -> u64 {
        self.follower.scan();
        self.sync_streams();
        let Follow {
            follower,
            streams,
            counters,
            eve_streams,
            newest,
            errors,
            ..
        } = self;
        let read = follower.poll(&mut |i, found| {
            counters.log_lines += 1;
            match found {
                Found::TooLong => counters.log_lines_too_long += 1,
                Found::Line(line, at) => {
                    let stream = &mut streams[i];
                    let before = stream.queue.len();
                    stream.line(line, at, counters, eve_streams, errors);
                    for q in stream.queue.range(before..) {
                        *newest =
                            Some(newest.map_or(q.piece.written(), |n| n.max(q.piece.written())));
                    }
                }
            }
        });
        self.errors.append(&mut self.follower.errors);
        read
    }

    /// Hands pieces on in write order, up to `limit` (every piece read without one).
    fn merge(&mut self, limit: Option<Timestamp>) {
        while self.failed.is_none() {
            let mut next: Option<(Timestamp, usize)> = None;
            for (i, stream) in self.streams.iter().enumerate() {
                if let Some(t) = stream.queue.front().map(|q| q.piece.written())
                    && next.is_none_or(|(best, _)| t < best)
                {
                    next = Some((t, i));
                }
            }
            let Some((t, i)) = next else { break };
            if limit.is_some_and(|l| t > l) {
                break;
            }
            let queued = self.streams[i].queue.pop_front().expect("a head");
            self.streams[i].handed = Some(queued.at);
            let now = self.clock.map_or(t, |c| c.max(t));
            if self.clock.is_some_and(|c| c.secs() != now.secs()) {
                self.joiner.advance(now, &mut self.ready);
                self.process();
            }
            self.clock = Some(now);
            self.joiner.piece(queued.piece, &mut self.ready);
            if self.ready.len() >= TICK_PACKETS as usize {
                self.process();
            }
            // Only here, between two pieces, is the store's content that of the pieces
            // handed on: the point a restart reads again up to.
            if self.replaying {
                if self.caught_up() {
                    self.end_replay();
                }
            } else if self.sequencer.write_stats().writes != self.saved_writes {
                self.save();
            }
        }
    }

    /// Hands the records ready to the sequencer (which writes to the store by itself when it
    /// has gathered enough rows: [`merge`](Self::merge) then saves where the streams are).
    fn process(&mut self) {
        let ready = std::mem::take(&mut self.ready);
        if let Err(e) = self.sequencer.process(vec![ready]) {
            self.failed = Some(e);
        }
    }

    /// Whether every stream read again is back where it was saved.
    fn caught_up(&self) -> bool {
        self.streams
            .iter()
            .all(|s| s.target.is_none_or(|t| s.handed.is_some_and(|h| h >= t)))
    }

    /// From here on, records are new to the store.
    fn end_replay(&mut self) {
        self.replaying = false;
        if let Err(e) = self.sequencer.set_replaying(false) {
            self.failed = Some(e);
        }
    }

    /// Writes to the store with the sensor's state, then saves where each stream is.
    fn flush(&mut self) {
        if self.failed.is_some() || self.replaying {
            return;
        }
        let health = self.snapshot().health(self.started_wall, Timestamp::now());
        match self.sequencer.flush_with_health(health) {
            Ok(()) => self.save(),
            Err(e) => self.failed = Some(e),
        }
    }

    /// Waits until the store holds every write so far, then saves where each stream is: the
    /// store holds the records of every piece handed on, and none of the pieces after.
    fn save(&mut self) {
        self.saved_writes = self.sequencer.write_stats().writes;
        if let Err(e) = self.sequencer.sync_store() {
            self.failed = Some(e);
            return;
        }
        let positions: Vec<Option<Position>> = self.streams.iter().map(Self::position).collect();
        let state = self.follower.state(&positions);
        if let Err(e) = state.save(&self.state_path) {
            let line = format!("{}: {e}", self.state_path.display());
            eprintln!("lantern: cannot save where the logs were read to: {line}");
            self.errors.push(line);
        }
    }

    /// A stream's position to save: where it was handed to, or, when it handed nothing on
    /// since a restart, where it was saved.
    fn position(stream: &Stream) -> Option<Position> {
        stream.handed.max(stream.target)
    }

    /// Every counter now.
    fn snapshot(&self) -> LiveSnapshot {
        let mut counters = Counters::default();
        counters.logs.merge(&self.counters);
        for reader in self.streams.iter().filter_map(|s| s.reader.as_ref()) {
            reader.add_counters(&mut counters.logs);
        }
        self.joiner.add_counters(&mut counters.logs);
        let interfaces = vec![(self.label.clone(), KernelStats::default())];
        let open = self.joiner.waiting();
        LiveSnapshot::of(
            self.sequencer,
            self.started.elapsed(),
            counters,
            interfaces,
            open,
        )
    }

    /// Writes what the sequencer made and saves where it stopped; pieces waiting in the
    /// joiner stay unsaved, to be read again on the next start.
    fn finish(mut self, supervisor: &mut dyn Supervisor) -> FollowReport {
        self.flush();
        let snapshot = self.snapshot();
        supervisor.snapshot(&snapshot);
        FollowReport {
            counters: snapshot.counters,
            errors: self.errors,
            failed: self.failed,
        }
    }
}

impl Stream {
    /// Reads one line into the queue; the stream's format is told by its first log line.
    fn line(
        &mut self,
        line: &[u8],
        at: Position,
        counters: &mut logs::Counters,
        eve_streams: &mut u8,
        errors: &mut Vec<String>,
    ) {
        if self.reader.is_none() {
            let Some(format) = Format::of_first_line(line) else {
                counters.log_lines_skipped += 1;
                return;
            };
            let number = *eve_streams;
            if format == Format::Eve {
                *eve_streams = eve_streams.wrapping_add(1);
            }
            self.reader = Some(logs::reader(format, &self.name, number));
        }
        let reader = self.reader.as_mut().expect("a reader");
        let mut pieces = Vec::new();
        match reader.line(line, &mut pieces) {
            Ok(()) => (self.queue).extend(pieces.into_iter().map(|piece| Queued { piece, at })),
            Err(LineProblem::Skipped) => counters.log_lines_skipped += 1,
            Err(LineProblem::Malformed(why)) => {
                counters.log_lines_malformed += 1;
                if self.messages < MESSAGES_PER_STREAM {
                    self.messages += 1;
                    errors.push(format!("{}: {why}", self.name));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_names_followed() {
        for (name, followed) in [
            ("conn.log", true),
            ("ssl.log", true),
            ("eve.json", true),
            ("weird.log", false),
            ("conn.10:00:00-11:00:00.log.gz", false),
            ("eve.json.1", false),
            ("ssl.2026-12-01-10-00-00.log", false),
        ] {
            assert_eq!(wanted(name), followed, "{name}");
        }
    }
}
