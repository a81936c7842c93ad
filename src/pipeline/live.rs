//! Live capture through the pipeline: one reader thread per interface, N workers, and the
//! sequencer in the calling thread, as in a threaded replay. What differs is time and control:
//!
//! - Packets carry the kernel's capture time; ticks come from the wall clock (once a second),
//!   so flows on a quiet link still time out and their records still reach the store, and
//!   from each reader every [`TICK_PACKETS`] packets. All of them take their numbers from one
//!   [`Ticks`]. The sequencer thread's tick never waits: it is skipped while a reader is
//!   ticking, and a worker whose queue is full misses it. A worker that missed ticks counts
//!   them (`epoch_ticks_missed`) and hands in its records with the next tick it gets; epochs
//!   are paired by tick number, so it is caught up at once, never shifted against the others.
//! - A reader never waits long on a worker: past [`QUEUE_PATIENCE`] the batch is dropped and
//!   counted (`capture_queue_drops`), so a stalled store shows up as a counter, not as a
//!   sensor that silently stopped reading. Waiting that long first lets the kernel's ring
//!   buffer, which is far larger than the queues, absorb bursts.
//! - Evidence and rollups go to the store every `flush_every`, and on stop, each write with
//!   the sensor's state ([`HealthRow`]: when, counters, drops, spool) for `lantern status`.
//! - With a retention, a round of pruning starts at start-up and every [`PRUNE_EVERY`]: a
//!   SQLite store is pruned here, one bounded step per poll until nothing old is left; a
//!   ClickHouse store by its sender thread. Each round makes the pseudonymizer seal names
//!   again, so a seal pruning removed comes back with the name's next row.
//! - Threads are named (`lantern-reader0`, `lantern-worker0`, ...) for `top -H` and tests.
//! - A [`Supervisor`] (the command layer) is asked whether to stop or reload, and gets a
//!   [`LiveSnapshot`] of every counter once a second for the status line and the metrics
//!   endpoint.

use super::Counters;
use super::threads::{
    Dispatch, Epochs, FromWorker, PacketBatch, Returns, Ticks, ToWorker, spawn_workers,
};
use super::{Sequencer, SequencerError, Settings, StoreTotals, TICK_PACKETS, WriteStats};
use crate::capture::{KernelStats, LiveSource, Received, Timestamp};
use crate::decode::Decoder;
use crate::flow::Stamp;
use crate::store::tables::us;
use crate::store::{ClickHouseStats, HealthRow, Pruned, Retention};
use crossbeam_channel::{Receiver, Sender, bounded, select, tick, unbounded};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest a reader waits for room in a worker's queue before it drops the batch.
pub const QUEUE_PATIENCE: Duration = Duration::from_millis(50);
/// How often the sequencer thread looks at its flags and the clock.
const POLL: Duration = Duration::from_millis(100);
/// Longest a packet waits in a reader's partly filled batch.
const BATCH_AGE_NANOS: i64 = 100_000_000;
/// How often a reader publishes its counters.
const PUBLISH_EVERY: Duration = Duration::from_millis(250);
/// How often a round of pruning starts (the cutoffs move once a day; this catches up within an
/// hour of midnight, and after rows with old times were written).
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Rows a table one pruning step removes: one step per poll while a round lasts, a few
/// milliseconds each, so the sequencer never stalls for long.
const PRUNE_BUDGET: u64 = 2_000;

/// Settings of a live run beyond the packet path's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveSettings {
    /// How often evidence and rollups are written to the store.
    pub flush_every: Duration,
    /// How often the supervisor gets a snapshot.
    pub snapshot_every: Duration,
    /// How long the store keeps rows; `None` never prunes.
    pub retention: Option<Retention>,
}

impl Default for LiveSettings {
    fn default() -> LiveSettings {
        LiveSettings {
            flush_every: Duration::from_secs(60),
            snapshot_every: Duration::from_secs(1),
            retention: None,
        }
    }
}

/// The command layer's side of a live run.
pub trait Supervisor {
    /// Whether to stop now (SIGTERM, SIGINT).
    fn stop_requested(&mut self) -> bool;
    /// Whether to reload now (SIGHUP); asked once per poll, so it should clear its flag.
    fn reload_requested(&mut self) -> bool;
    /// Reloads what can change while running into `sequencer`; flows in flight are kept.
    fn reload(&mut self, sequencer: &mut Sequencer);
    /// Every counter, once per `snapshot_every` and once at the end.
    fn snapshot(&mut self, snapshot: &LiveSnapshot);
}

/// Everything the sensor counts, at one moment.
#[derive(Clone, Debug, Default)]
pub struct LiveSnapshot {
    /// Since the capture started.
    pub uptime: Duration,
    /// Readers', workers' and the sequencer's counters, merged.
    pub counters: Counters,
    /// Each interface's kernel counts.
    pub interfaces: Vec<(String, KernelStats)>,
    /// Flows open in the workers' tables.
    pub open_flows: usize,
    /// Flows output so far.
    pub flows: u64,
    /// DNS lookups output so far.
    pub lookups: u64,
    /// AI flows by app id.
    pub ai_flows_by_app: Vec<(String, u64)>,
    /// Rows written to the store.
    pub store: StoreTotals,
    /// How long store writes took.
    pub writes: WriteStats,
    /// Evidence rows waiting for the next store write.
    pub backlog: usize,
    /// The ClickHouse sender and spool, when the store is ClickHouse.
    pub clickhouse: Option<ClickHouseStats>,
}

impl LiveSnapshot {
    /// What `sequencer` has output and written so far, with the reading side's `counters`
    /// (the sequencer's own added), `interfaces` and `open_flows`.
    pub fn of(
        sequencer: &Sequencer,
        uptime: Duration,
        mut counters: Counters,
        interfaces: Vec<(String, KernelStats)>,
        open_flows: usize,
    ) -> LiveSnapshot {
        sequencer.add_counters(&mut counters);
        let summary = sequencer.summary();
        LiveSnapshot {
            uptime,
            counters,
            interfaces,
            open_flows,
            flows: summary.flows,
            lookups: summary.lookups,
            ai_flows_by_app: (summary.ai_flows_by_app())
                .map(|(app, n)| (app.to_string(), n))
                .collect(),
            store: sequencer.store_totals(),
            writes: sequencer.write_stats(),
            backlog: sequencer.backlog(),
            clickhouse: sequencer.clickhouse_stats(),
        }
    }

    /// The store's row of the sensor's state at `now` (its sensor name is the store's).
    pub fn health(&self, started: Timestamp, now: Timestamp) -> HealthRow {
        let c = &self.counters;
        let spool = self.clickhouse.map(|s| s.spool).unwrap_or_default();
        let names: Vec<&str> = self.interfaces.iter().map(|(n, _)| n.as_str()).collect();
        HealthRow {
            sensor: String::new(),
            ts_us: us(now),
            started_us: us(started),
            version: env!("CARGO_PKG_VERSION").to_string(),
            interfaces: names.join(","),
            packets: c.capture.packets,
            bytes: c.capture.bytes,
            drops_kernel: c.capture.capture_kernel_drops,
            drops_interface: c.capture.capture_interface_drops,
            drops_queue: c.capture.capture_queue_drops,
            flows_evicted: c.flow.flows_evicted,
            flows_open: self.open_flows as u64,
            backlog_rows: self.backlog as u64,
            last_write_us: u64::try_from(self.writes.last.as_micros()).unwrap_or(u64::MAX),
            spool_batches: spool.batches,
            spool_bytes: spool.bytes,
            spool_dropped_batches: spool.dropped_batches,
        }
    }
}

/// How a live run ended.
#[derive(Debug, Default)]
pub struct LiveReport {
    /// The final counters.
    pub counters: Counters,
    /// Interfaces that failed (each stops the run), one line each.
    pub errors: Vec<String>,
    /// Set when the sequencer stopped the run (a store or event-writing failure).
    pub failed: Option<SequencerError>,
}

/// What a reader last published.
#[derive(Clone, Debug, Default)]
struct Share {
    interface: String,
    counters: Counters,
    kernel: KernelStats,
}

/// Captures from `sources` until the supervisor says stop or an interface fails, then ends
/// every flow and writes everything to the store.
pub fn capture(
    sources: Vec<LiveSource>,
    settings: &Settings,
    live: &LiveSettings,
    sequencer: &mut Sequencer,
    supervisor: &mut dyn Supervisor,
) -> LiveReport {
    let n = settings.threads.max(1);
    let started = Instant::now();
    let readers = Readers::new(&sources);
    let ticks = Arc::new(Ticks::default());
    let (to_sequencer, from_workers) = bounded::<FromWorker>(n * 16);
    let (recycle, recycled) = unbounded::<PacketBatch>();
    let (counters, failed) = std::thread::scope(|scope| {
        let returns = Returns {
            batches: recycle,
            buffers: None,
        };
        let to_workers = spawn_workers(scope, settings, to_sequencer, &returns);
        readers.spawn(scope, sources, &to_workers, &recycled, &ticks);
        let mut run = Run::new(sequencer, n, &ticks, &readers.shares, started, live);
        run.sequence(&from_workers, &to_workers, &readers.stop, live, supervisor);
        // Stop: readers flush their batches and drop their senders, workers then end every
        // flow and hand in their last records, and the sequencer writes it all.
        readers.stop.store(true, Ordering::Relaxed);
        drop(to_workers);
        run.finish(from_workers, supervisor)
    });
    LiveReport {
        counters,
        errors: readers
            .errors
            .into_inner()
            .unwrap_or_else(|p| p.into_inner()),
        failed,
    }
}

/// What the reader threads share with each other and with the sequencer thread.
struct Readers {
    /// Set to stop every reader: by the sequencer thread, or by a reader that failed.
    stop: AtomicBool,
    /// The latest packet number, over every interface.
    numbers: AtomicU64,
    /// What each reader last published, in the order of the sources.
    shares: Vec<Mutex<Share>>,
    /// Why readers failed, one line each.
    errors: Mutex<Vec<String>>,
}

impl Readers {
    fn new(sources: &[LiveSource]) -> Readers {
        let shares = sources
            .iter()
            .map(|s| {
                Mutex::new(Share {
                    interface: s.interface().to_string(),
                    ..Share::default()
                })
            })
            .collect();
        Readers {
            stop: AtomicBool::new(false),
            numbers: AtomicU64::new(0),
            shares,
            errors: Mutex::new(Vec::new()),
        }
    }

    /// Starts a reader thread per source in `scope`, each handing its packets to the workers
    /// through a [`Dispatch`] of its own. A reader that fails says why and stops them all.
    fn spawn<'scope>(
        &'scope self,
        scope: &'scope std::thread::Scope<'scope, '_>,
        sources: Vec<LiveSource>,
        to_workers: &[Sender<ToWorker>],
        recycled: &Receiver<PacketBatch>,
        ticks: &Arc<Ticks>,
    ) {
        for (index, (source, share)) in sources.into_iter().zip(&self.shares).enumerate() {
            let dispatch = Dispatch::new(
                to_workers.to_vec(),
                recycled.clone(),
                Some(QUEUE_PATIENCE),
                ticks.clone(),
            );
            std::thread::Builder::new()
                .name(format!("lantern-reader{index}"))
                .spawn_scoped(scope, move || {
                    if let Err(e) = read(source, dispatch, &self.stop, &self.numbers, share) {
                        self.errors
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(e.to_string());
                        self.stop.store(true, Ordering::Relaxed);
                    }
                })
                .expect("failed to start a reader thread");
        }
    }
}

/// Says on stderr what a round of pruning removed, if anything.
fn report_round(store: &str, round: &Pruned) {
    if round.rows() == 0 {
        return;
    }
    eprintln!(
        "lantern: {store}: pruned {} rows older than the retention ({}), {} pages freed",
        round.rows(),
        round.removed_tables(),
        round.pages_freed
    );
}

/// When the sequencer thread last ticked, flushed and took a snapshot.
struct Clocks {
    second: i64,
    flushed: Instant,
    snapshot: Instant,
}

impl Clocks {
    fn new() -> Clocks {
        Clocks {
            second: Timestamp::now().secs(),
            flushed: Instant::now(),
            snapshot: Instant::now(),
        }
    }
}

/// The sequencer thread's state during a live run.
struct Run<'a> {
    sequencer: &'a mut Sequencer,
    epochs: Epochs,
    /// The run's tick numbers, shared with the readers.
    ticks: &'a Ticks,
    shares: &'a [Mutex<Share>],
    started: Instant,
    /// The same moment on the wall clock, for the store's health row.
    started_wall: Timestamp,
    failed: Option<SequencerError>,
    /// The retention and how far the current round of pruning is.
    pruning: Option<Pruning>,
}

/// Pruning by the daemon (see the module's doc).
pub(super) struct Pruning {
    retention: Retention,
    /// When the next round starts.
    next: Instant,
    /// A round is under way.
    busy: bool,
    /// What the current round removed so far.
    round: Pruned,
}

impl<'a> Run<'a> {
    /// The sequencer thread's state at the start, with the store told the retention.
    fn new(
        sequencer: &'a mut Sequencer,
        workers: usize,
        ticks: &'a Ticks,
        shares: &'a [Mutex<Share>],
        started: Instant,
        live: &LiveSettings,
    ) -> Run<'a> {
        let run = Run {
            sequencer,
            epochs: Epochs::new(workers),
            ticks,
            shares,
            started,
            started_wall: Timestamp::now(),
            failed: None,
            pruning: live.retention.map(Pruning::new),
        };
        if let (Some(retention), Some(store)) = (live.retention, run.sequencer.store_mut()) {
            store.set_retention(retention);
        }
        run
    }
}

impl Run<'_> {
    /// Takes the workers' epochs and polls, until the supervisor says stop, a reader stopped
    /// (`stop_readers`: it failed), or the sequencer failed.
    fn sequence(
        &mut self,
        from_workers: &Receiver<FromWorker>,
        to_workers: &[Sender<ToWorker>],
        stop_readers: &AtomicBool,
        live: &LiveSettings,
        supervisor: &mut dyn Supervisor,
    ) {
        let ticker = tick(POLL);
        let mut clocks = Clocks::new();
        loop {
            select! {
                recv(from_workers) -> message => match message {
                    Ok(message) => self.take(message),
                    Err(_) => break,
                },
                recv(ticker) -> _ => {
                    if supervisor.stop_requested()
                        || stop_readers.load(Ordering::Relaxed)
                        || self.failed.is_some()
                    {
                        break;
                    }
                    self.poll(&mut clocks, to_workers, live, supervisor);
                }
            }
        }
    }

    /// Once the readers are stopping: takes every message until the workers are done, writes
    /// to the store and syncs it, and gives the supervisor the last snapshot. Returns the
    /// final counters and the sequencer's failure, if any.
    fn finish(
        mut self,
        from_workers: Receiver<FromWorker>,
        supervisor: &mut dyn Supervisor,
    ) -> (Counters, Option<SequencerError>) {
        for message in from_workers {
            self.take(message);
        }
        self.flush();
        if self.failed.is_none()
            && let Err(e) = self.sequencer.sync_store()
        {
            self.failed = Some(e);
        }
        let snapshot = self.snapshot();
        supervisor.snapshot(&snapshot);
        (snapshot.counters, self.failed)
    }

    /// What is due at a poll: a tick to every worker at each new second of wall-clock time
    /// (without waiting: see [`Ticks::try_send`]), a reload if asked for, a store write every
    /// `flush_every`, and a snapshot.
    fn poll(
        &mut self,
        clocks: &mut Clocks,
        to_workers: &[Sender<ToWorker>],
        live: &LiveSettings,
        supervisor: &mut dyn Supervisor,
    ) {
        let now = Timestamp::now();
        if now.secs() != clocks.second {
            clocks.second = now.secs();
            let _ = self.ticks.try_send(to_workers, now);
        }
        if supervisor.reload_requested() {
            supervisor.reload(self.sequencer);
        }
        if clocks.flushed.elapsed() >= live.flush_every {
            clocks.flushed = Instant::now();
            self.flush();
        }
        self.prune();
        if clocks.snapshot.elapsed() >= live.snapshot_every {
            clocks.snapshot = Instant::now();
            supervisor.snapshot(&self.snapshot());
        }
    }

    /// Takes one worker message and processes every epoch it completes.
    fn take(&mut self, message: FromWorker) {
        self.epochs.take(message);
        while let Some(epoch) = self.epochs.next() {
            if self.failed.is_none()
                && let Err(e) = self.sequencer.process(epoch)
            {
                self.failed = Some(e);
            }
        }
    }

    /// One step of pruning, when a round is due or under way.
    fn prune(&mut self) {
        if let Some(pruning) = &mut self.pruning {
            pruning.step(self.sequencer);
        }
    }

    /// Writes to the store, with the sensor's state as it is now.
    fn flush(&mut self) {
        let health = self.snapshot().health(self.started_wall, Timestamp::now());
        if self.failed.is_none()
            && let Err(e) = self.sequencer.flush_with_health(health)
        {
            self.failed = Some(e);
        }
    }

    fn snapshot(&self) -> LiveSnapshot {
        let mut counters = self.epochs.counters();
        let mut interfaces = Vec::with_capacity(self.shares.len());
        for share in self.shares {
            let share = share.lock().unwrap_or_else(|p| p.into_inner());
            counters.merge(&share.counters);
            interfaces.push((share.interface.clone(), share.kernel));
        }
        let open = self.epochs.open_flows();
        LiveSnapshot::of(
            self.sequencer,
            self.started.elapsed(),
            counters,
            interfaces,
            open,
        )
    }
}

impl Pruning {
    /// Pruning to `retention`, a round due now.
    pub(super) fn new(retention: Retention) -> Pruning {
        Pruning {
            retention,
            next: Instant::now(),
            busy: false,
            round: Pruned::default(),
        }
    }

    /// One step of pruning, when a round is due or under way. A failed step ends the round
    /// with a line on stderr; the next round tries again.
    pub(super) fn step(&mut self, sequencer: &mut Sequencer) {
        if !self.busy {
            if Instant::now() < self.next {
                return;
            }
            self.busy = true;
            self.next = Instant::now() + PRUNE_EVERY;
            self.round = Pruned::default();
            if let Some(p) = sequencer.resolver_mut().pseudonymizer() {
                p.forget();
            }
        }
        let Some(store) = sequencer.store_mut() else {
            self.busy = false;
            return;
        };
        let cutoffs = self.retention.cutoffs(Timestamp::now());
        match store.prune_step(&cutoffs, PRUNE_BUDGET) {
            Ok(step) => {
                self.round.merge(&step);
                if step.done {
                    self.busy = false;
                    report_round(&store.display(), &self.round);
                }
            }
            Err(e) => {
                self.busy = false;
                eprintln!("lantern: pruning failed, tried again in an hour: {e}");
            }
        }
    }
}

/// A reader thread: packets from one interface, decoded and handed to the workers.
fn read(
    mut source: LiveSource,
    mut dispatch: Dispatch,
    stop: &AtomicBool,
    numbers: &AtomicU64,
    share: &Mutex<Share>,
) -> Result<(), crate::capture::LiveError> {
    let mut decoder = Decoder::default();
    let mut counters = Counters::default();
    let mut clock = Timestamp::default();
    let mut batch_started = Timestamp::default();
    let mut published = Instant::now();
    let mut reads = 0u32;
    let mut since_tick = 0u64;
    let result = loop {
        if stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        let idle = match source.read() {
            Err(e) => break Err(e),
            Ok(Received::Idle) => true,
            Ok(Received::Packet(raw)) => {
                let number = numbers.fetch_add(1, Ordering::Relaxed) + 1;
                counters.capture.packets += 1;
                counters.capture.bytes += u64::from(raw.wire_len);
                clock = clock.max(raw.ts);
                let decoded = decoder.decode(raw.link, raw.data, clock, &mut counters.decode);
                if let Some(packet) = decoded {
                    let stamp = Stamp {
                        number,
                        ts: raw.ts,
                        clock,
                    };
                    dispatch.packet(&packet, stamp, None);
                }
                since_tick += 1;
                if since_tick >= TICK_PACKETS {
                    // As in replay: records of flows that ended (evicted, in a flood) wait in
                    // the workers for a tick, so a tick every TICK_PACKETS packets bounds them.
                    since_tick = 0;
                    dispatch.tick(clock);
                    batch_started = clock;
                } else if clock.0 - batch_started.0 > BATCH_AGE_NANOS {
                    dispatch.flush();
                    batch_started = clock;
                }
                false
            }
        };
        if idle {
            dispatch.flush();
        }
        reads = reads.wrapping_add(1);
        if (idle || reads.is_multiple_of(1024)) && published.elapsed() >= PUBLISH_EVERY {
            published = Instant::now();
            publish(&mut source, &dispatch, &mut counters, share);
        }
    };
    dispatch.flush();
    publish(&mut source, &dispatch, &mut counters, share);
    result
}

/// Puts a reader's counters, with the kernel's drop counts, where the sequencer thread reads
/// them.
fn publish(
    source: &mut LiveSource,
    dispatch: &Dispatch,
    counters: &mut Counters,
    share: &Mutex<Share>,
) {
    let kernel = source.stats();
    counters.capture.capture_kernel_drops = kernel.dropped;
    counters.capture.capture_interface_drops = kernel.if_dropped;
    counters.capture.capture_queue_drops = dispatch.dropped;
    let mut share = share.lock().unwrap_or_else(|p| p.into_inner());
    share.counters.clone_from(counters);
    share.kernel = kernel;
}
