//! The channels between readers, workers and the sequencer, shared by threaded replay and live
//! capture: batches of decoded packets to the worker that owns their flow; ticks, numbered by
//! one [`Ticks`] per run so that every worker's queue sees them in increasing order; and each
//! worker's records of an epoch back, tagged with the tick that ended it, which [`Epochs`]
//! pairs by that number so that an epoch is complete before the sequencer sorts it. A worker
//! that missed ticks (live capture: its queue was full) counts them and hands in everything
//! since its last tick with the next one it gets, and the epochs that part spans are released
//! as one, so it is caught up at once instead of shifted against the others. Emptied batches
//! and the reader's buffers go back for reuse.

use super::Counters;
use super::{Settings, Worker};
use crate::capture::Timestamp;
use crate::decode::Packet;
use crate::flow::{Stamp, worker_of};
use crate::proto::Record;
use crossbeam_channel::{Receiver, SendTimeoutError, Sender};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, TryLockError};
use std::time::Duration;

/// Packets per batch handed to a worker.
const BATCH_PACKETS: usize = 512;
/// Bytes per batch handed to a worker.
const BATCH_BYTES: usize = 512 * 1024;
/// Batches queued per worker.
const WORKER_QUEUE: usize = 8;
/// Most tick numbers one released epoch spans while workers keep missing different ticks, so
/// that no number every worker got comes up: past it, the epoch ends at the latest number
/// every worker has reached, and the records of a part that spans that end come in a later
/// epoch. (Holding epochs until such a number came would hold them without bound.)
const MOST_MERGED: u64 = 16;

/// Decoded packets for one worker. In threaded replay their payloads stay in the reader's
/// buffer, which the batch holds; otherwise (live capture, reassembled fragments) they are
/// copied into the batch.
#[derive(Default)]
pub(super) struct PacketBatch {
    /// The reader's buffer that the `shared` payloads lie in.
    buffer: Option<Arc<Vec<u8>>>,
    /// Payloads copied out.
    data: Vec<u8>,
    packets: Vec<Meta>,
}

/// A decoded packet whose payload is `len` bytes at `start` in the batch's buffer (`shared`)
/// or in its data.
struct Meta {
    packet: Packet<'static>,
    stamp: Stamp,
    start: usize,
    len: usize,
    shared: bool,
}

impl PacketBatch {
    fn push(&mut self, packet: &Packet<'_>, stamp: Stamp) {
        let len = packet.payload.len();
        let (start, shared) = match self.offset_in_buffer(packet.payload) {
            Some(start) => (start, true),
            None => {
                self.data.extend_from_slice(packet.payload);
                (self.data.len() - len, false)
            }
        };
        self.packets.push(Meta {
            packet: Packet {
                payload: &[],
                ..*packet
            },
            stamp,
            start,
            len,
            shared,
        });
    }

    /// Where `payload` starts in the batch's buffer, if it lies there.
    fn offset_in_buffer(&self, payload: &[u8]) -> Option<usize> {
        let buffer = self.buffer.as_deref()?;
        let start = (payload.as_ptr() as usize).checked_sub(buffer.as_ptr() as usize)?;
        (start + payload.len() <= buffer.len()).then_some(start)
    }

    /// Whether the batch's payloads lie in `buffer`.
    fn holds(&self, buffer: &Arc<Vec<u8>>) -> bool {
        self.buffer.as_ref().is_some_and(|b| Arc::ptr_eq(b, buffer))
    }

    fn payload(&self, meta: &Meta) -> &[u8] {
        let bytes = match (&self.buffer, meta.shared) {
            (Some(buffer), true) => buffer.as_slice(),
            _ => self.data.as_slice(),
        };
        &bytes[meta.start..meta.start + meta.len]
    }

    fn is_full(&self) -> bool {
        self.packets.len() >= BATCH_PACKETS || self.data.len() >= BATCH_BYTES
    }

    /// Empties the batch; the reader's buffer goes back to `buffers` when this was its last
    /// holder.
    fn clear(&mut self, buffers: Option<&Sender<Vec<u8>>>) {
        if let (Some(buffer), Some(buffers)) = (self.buffer.take(), buffers)
            && let Ok(buffer) = Arc::try_unwrap(buffer)
        {
            let _ = buffers.try_send(buffer);
        }
        self.data.clear();
        self.packets.clear();
    }
}

/// What a worker is told.
pub(super) enum ToWorker {
    Batch(PacketBatch),
    /// Tick number `.0`: end the flows idle at this time and hand on the epoch's records.
    Tick(u64, Timestamp),
}

/// What a worker tells the sequencer.
pub(super) enum FromWorker {
    /// Worker `.0`'s records since its previous tick, which ended at tick number `.1`, with its
    /// counters and open flows at that tick.
    Epoch(usize, u64, Vec<Record>, Box<WorkerStats>),
    /// The last records and the final counters.
    Done(usize, Vec<Record>, Box<Counters>),
}

/// A worker's counters as of its latest epoch.
#[derive(Clone, Debug, Default)]
pub(super) struct WorkerStats {
    pub counters: Counters,
    pub open_flows: usize,
}

/// The one source of tick numbers in a run, shared by everything that ticks (each reader, and in
/// live capture the sequencer thread). A tick is numbered and sent to every worker while the
/// lock is held, so that every worker's queue sees tick numbers in increasing order: a tick is
/// never late, only missed.
#[derive(Debug, Default)]
pub(super) struct Ticks {
    /// The number of the latest tick.
    last: Mutex<u64>,
}

impl Ticks {
    /// Numbers a tick and sends it to every worker, waiting for room in a full queue as long as
    /// `patience` says (`None`: as long as it takes); a worker whose queue stays full misses
    /// it. Returns its number.
    pub fn send(
        &self,
        to_workers: &[Sender<ToWorker>],
        now: Timestamp,
        patience: Option<Duration>,
    ) -> u64 {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        *last += 1;
        for tx in to_workers {
            let tick = ToWorker::Tick(*last, now);
            let _ = match patience {
                None => tx.send(tick).is_ok(),
                Some(patience) => tx.send_timeout(tick, patience).is_ok(),
            };
        }
        *last
    }

    /// Numbers a tick and sends it to every worker without ever waiting: `None` when another
    /// thread is ticking right now (that tick does the job), and a worker whose queue is full
    /// misses this one. Returns its number.
    pub fn try_send(&self, to_workers: &[Sender<ToWorker>], now: Timestamp) -> Option<u64> {
        let mut last = match self.last.try_lock() {
            Ok(last) => last,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        *last += 1;
        for tx in to_workers {
            let _ = tx.try_send(ToWorker::Tick(*last, now));
        }
        Some(*last)
    }
}

/// Hands decoded packets to workers by a symmetric hash of their flow key.
pub(super) struct Dispatch {
    to_workers: Vec<Sender<ToWorker>>,
    batches: Vec<PacketBatch>,
    recycled: Receiver<PacketBatch>,
    /// The run's tick numbers.
    ticks: Arc<Ticks>,
    /// Live capture: how long to wait for a full worker queue before the batch is dropped
    /// (and counted); `None` waits as long as it takes (replay loses nothing).
    patience: Option<Duration>,
    /// Packets dropped because a worker's queue stayed full.
    pub dropped: u64,
}

impl Dispatch {
    pub fn new(
        to_workers: Vec<Sender<ToWorker>>,
        recycled: Receiver<PacketBatch>,
        patience: Option<Duration>,
        ticks: Arc<Ticks>,
    ) -> Dispatch {
        Dispatch {
            batches: (0..to_workers.len())
                .map(|_| PacketBatch::default())
                .collect(),
            to_workers,
            recycled,
            ticks,
            patience,
            dropped: 0,
        }
    }

    /// Queues one decoded packet for the worker owning its flow. `buffer` is the reader's
    /// buffer the packet lies in, when the batch may hold on to it instead of copying.
    pub fn packet(&mut self, packet: &Packet<'_>, stamp: Stamp, buffer: Option<&Arc<Vec<u8>>>) {
        let worker = worker_of(packet, self.to_workers.len());
        if let Some(buffer) = buffer
            && !self.batches[worker].holds(buffer)
        {
            // A batch holds one buffer.
            self.send(worker);
            self.batches[worker].buffer = Some(buffer.clone());
        }
        self.batches[worker].push(packet, stamp);
        if self.batches[worker].is_full() {
            self.send(worker);
        }
    }

    fn send(&mut self, worker: usize) {
        if self.batches[worker].packets.is_empty() {
            return;
        }
        let fresh = self.recycled.try_recv().unwrap_or_default();
        let full = std::mem::replace(&mut self.batches[worker], fresh);
        let message = ToWorker::Batch(full);
        let Some(patience) = self.patience else {
            let _ = self.to_workers[worker].send(message);
            return;
        };
        if let Err(SendTimeoutError::Timeout(ToWorker::Batch(mut lost))) =
            self.to_workers[worker].send_timeout(message, patience)
        {
            self.dropped += lost.packets.len() as u64;
            lost.clear(None);
            self.batches[worker] = lost;
        }
    }

    /// Sends every partly filled batch.
    pub fn flush(&mut self) {
        for worker in 0..self.to_workers.len() {
            self.send(worker);
        }
    }

    /// Sends every partly filled batch, then a numbered tick, to every worker. (Live capture
    /// gives up on a worker that stays full: it misses this tick and catches up at its next.)
    pub fn tick(&mut self, now: Timestamp) {
        self.flush();
        self.ticks.send(&self.to_workers, now, self.patience);
    }
}

/// Where workers give back what the reader can reuse.
#[derive(Clone)]
pub(super) struct Returns {
    /// Emptied batches.
    pub batches: Sender<PacketBatch>,
    /// The reader's buffers, once no batch holds them (threaded replay).
    pub buffers: Option<Sender<Vec<u8>>>,
}

/// Starts `settings.threads` workers in `scope`, each sending its epochs to `to_sequencer`;
/// returns the senders that feed them.
pub(super) fn spawn_workers<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    settings: &'scope Settings,
    to_sequencer: Sender<FromWorker>,
    returns: &Returns,
) -> Vec<Sender<ToWorker>> {
    (0..settings.threads.max(1))
        .map(|index| {
            let (tx, rx) = crossbeam_channel::bounded::<ToWorker>(WORKER_QUEUE);
            let (output, returns) = (to_sequencer.clone(), returns.clone());
            std::thread::Builder::new()
                .name(format!("lantern-worker{index}"))
                .spawn_scoped(scope, move || {
                    worker_loop(index, settings, rx, output, returns);
                })
                .expect("failed to start a worker thread");
            tx
        })
        .collect()
}

/// A worker thread: runs its share of the flows until every sender is gone, then ends them.
/// Each tick hands in the records since the previous tick it got, under the new tick's number;
/// the ticks it missed in between are counted.
fn worker_loop(
    index: usize,
    settings: &Settings,
    input: Receiver<ToWorker>,
    output: Sender<FromWorker>,
    returns: Returns,
) {
    let mut worker = Worker::new(settings);
    let mut last = 0;
    for message in input {
        match message {
            ToWorker::Batch(mut batch) => {
                for m in &batch.packets {
                    let packet = Packet {
                        payload: batch.payload(m),
                        ..m.packet
                    };
                    worker.packet(&packet, m.stamp);
                }
                batch.clear(returns.buffers.as_ref());
                let _ = returns.batches.send(batch);
            }
            ToWorker::Tick(number, now) => {
                worker.missed_ticks(number.saturating_sub(last + 1));
                last = number;
                let records = worker.tick(now);
                let stats = Box::new(WorkerStats {
                    counters: worker.counters().clone(),
                    open_flows: worker.open_flows(),
                });
                if output
                    .send(FromWorker::Epoch(index, number, records, stats))
                    .is_err()
                {
                    return;
                }
            }
        }
    }
    let records = worker.finish();
    let counters = Box::new(worker.counters().clone());
    let _ = output.send(FromWorker::Done(index, records, counters));
}

/// Gathers the workers' parts of each epoch and releases an epoch once it is complete.
///
/// A part numbered n holds a worker's records since the previous tick it got. When every worker
/// got every tick, epoch n is the parts numbered n. A worker that missed ticks hands in one part
/// for all of them; the next epoch then ends at the first number every worker has a part for,
/// so that no part spans two epochs, and the sequencer sorts the records of those ticks
/// together (a DNS answer on one worker still comes before the flow it names on another). A
/// worker that is done counts as having a part at every later number: its last part is
/// numbered `u64::MAX`.
pub(super) struct Epochs {
    /// Parts handed in and not yet released, by number.
    parts: BTreeMap<u64, Vec<Vec<Record>>>,
    /// The number of each worker's latest part.
    reached: Vec<u64>,
    /// Each worker's latest counters and open flows.
    pub stats: Vec<WorkerStats>,
    /// Final counters of the workers that are done.
    pub done: Counters,
}

impl Epochs {
    pub fn new(workers: usize) -> Epochs {
        Epochs {
            parts: BTreeMap::new(),
            reached: vec![0; workers],
            stats: vec![WorkerStats::default(); workers],
            done: Counters::default(),
        }
    }

    /// Takes in one message from a worker.
    pub fn take(&mut self, message: FromWorker) {
        match message {
            FromWorker::Epoch(index, number, records, stats) => {
                self.hand_in(index, number, records);
                self.stats[index] = *stats;
            }
            FromWorker::Done(index, records, counters) => {
                self.hand_in(index, u64::MAX, records);
                self.done.merge(&counters);
                self.stats[index] = WorkerStats {
                    counters: *counters,
                    open_flows: 0,
                };
            }
        }
    }

    fn hand_in(&mut self, worker: usize, number: u64, records: Vec<Record>) {
        debug_assert!(number > self.reached[worker], "tick numbers go up");
        self.reached[worker] = number;
        self.parts.entry(number).or_default().push(records);
    }

    /// The next complete epoch, if there is one: every part up to where it ends.
    pub fn next(&mut self) -> Option<Vec<Vec<Record>>> {
        let end = self.end()?;
        let later = match end.checked_add(1) {
            Some(after) => self.parts.split_off(&after),
            None => BTreeMap::new(),
        };
        let parts = std::mem::replace(&mut self.parts, later);
        Some(parts.into_values().flatten().collect())
    }

    /// Where the next complete epoch ends: at the first number every worker has a part for, or,
    /// when the parts every worker has gone past span [`MOST_MERGED`] numbers without one, at
    /// the latest number every worker has reached.
    fn end(&self) -> Option<u64> {
        let reached = *self.reached.iter().min()?;
        let first = *self.parts.keys().next()?;
        if first > reached {
            return None;
        }
        let workers = self.reached.len();
        self.parts
            .range(..=reached)
            .find(|(_, parts)| parts.len() == workers)
            .map(|(&number, _)| number)
            .or_else(|| (reached - first >= MOST_MERGED).then_some(reached))
    }

    /// The workers' latest counters, merged.
    pub fn counters(&self) -> Counters {
        let mut all = Counters::default();
        for stats in &self.stats {
            all.merge(&stats.counters);
        }
        all
    }

    /// Flows open in every worker at their latest epoch.
    pub fn open_flows(&self) -> usize {
        self.stats.iter().map(|s| s.open_flows).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::CaptureReader;
    use crate::decode::Decoder;
    use crossbeam_channel::{bounded, unbounded};

    /// Every decoded packet of `captures/curl-chatgpt.pcap`, pushed into `dispatch`.
    fn push_capture(dispatch: &mut Dispatch) -> u64 {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/curl-chatgpt.pcap");
        push_file(&mut CaptureReader::open(&path).unwrap(), dispatch, false)
    }

    /// Every decoded packet `reader` reads, pushed into `dispatch`, from the reader's buffer
    /// when `share`.
    fn push_file(reader: &mut CaptureReader, dispatch: &mut Dispatch, share: bool) -> u64 {
        let (mut decoder, mut counters) = (Decoder::default(), Counters::default());
        let mut pushed = 0;
        // Some captures are cut short on purpose: the packets before the cut count.
        while let Ok(Some(slot)) = reader.advance() {
            let raw = reader.packet(&slot);
            if let Some(packet) = decoder.decode(raw.link, raw.data, raw.ts, &mut counters.decode) {
                pushed += 1;
                let stamp = Stamp {
                    number: pushed,
                    ts: raw.ts,
                    clock: raw.ts,
                };
                dispatch.packet(&packet, stamp, share.then(|| reader.buffer()));
            }
        }
        pushed
    }

    /// Each packet's number and payload, from every batch `workers` were sent.
    fn payloads(workers: &[Receiver<ToWorker>]) -> (Vec<(u64, Vec<u8>)>, Vec<PacketBatch>) {
        let (mut seen, mut batches) = (Vec::new(), Vec::new());
        for rx in workers {
            for message in rx.try_iter() {
                if let ToWorker::Batch(batch) = message {
                    for m in &batch.packets {
                        seen.push((m.stamp.number, batch.payload(m).to_vec()));
                    }
                    batches.push(batch);
                }
            }
        }
        seen.sort();
        (seen, batches)
    }

    #[test]
    fn batches_that_hold_the_readers_buffer_carry_the_same_payloads_as_copies() {
        // Every own capture (tunnels, IPv6, reassembled fragments), read through a 4 KiB
        // buffer so that the reader moves on to new buffers many times.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
        let (mut files, mut buffers) = (0, 0);
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let Some(bytes) = std::fs::read(&path).ok().filter(|_| {
                path.extension()
                    .is_some_and(|e| e == "pcap" || e == "pcapng")
            }) else {
                continue;
            };
            files += 1;
            let open = || {
                let source = Box::new(std::io::Cursor::new(bytes.clone()));
                CaptureReader::from_reader(&path, source, Some(4096)).unwrap()
            };
            let run = |share: bool| {
                let (txs, rxs): (Vec<_>, Vec<_>) = (0..2).map(|_| unbounded()).unzip();
                let (_recycle, recycled) = unbounded();
                let mut dispatch = Dispatch::new(txs, recycled, None, Arc::default());
                let mut reader = open();
                push_file(&mut reader, &mut dispatch, share);
                dispatch.flush();
                payloads(&rxs)
            };
            let (copied, _) = run(false);
            let (shared, mut batches) = run(true);
            assert_eq!(shared, copied, "{}", path.display());
            // The buffers come back once the last batch holding each is cleared.
            let (give_back, back) = unbounded();
            let held: std::collections::HashSet<*const Vec<u8>> = batches
                .iter()
                .filter_map(|b| b.buffer.as_ref().map(Arc::as_ptr))
                .collect();
            for batch in &mut batches {
                batch.clear(Some(&give_back));
            }
            assert_eq!(back.try_iter().count(), held.len(), "{}", path.display());
            buffers += held.len();
        }
        assert!(files > 20, "{files} captures");
        assert!(
            buffers > 4 * files,
            "{buffers} buffers held for {files} captures"
        );
    }

    #[test]
    fn a_live_reader_drops_and_counts_a_batch_a_stuck_worker_cannot_take() {
        let (tx, rx) = bounded(1);
        let (_recycle, recycled) = bounded(1);
        let mut dispatch = Dispatch::new(
            vec![tx],
            recycled,
            Some(Duration::from_millis(1)),
            Arc::default(),
        );
        let first = push_capture(&mut dispatch);
        dispatch.flush();
        assert_eq!(dispatch.dropped, 0, "the queue had room for one batch");
        let second = push_capture(&mut dispatch);
        dispatch.flush();
        assert!(second > 0);
        assert_eq!(
            dispatch.dropped, second,
            "the second batch is counted, not lost silently"
        );
        match rx.try_recv() {
            Ok(ToWorker::Batch(batch)) => assert_eq!(batch.packets.len() as u64, first),
            _ => panic!("the first batch should be queued"),
        }
        // A replay waits instead: nothing is dropped once the worker takes its batch.
        let (tx, rx) = bounded(1);
        let (_recycle, recycled) = bounded(1);
        let mut replay = Dispatch::new(vec![tx], recycled, None, Arc::default());
        let taker = std::thread::spawn(move || rx.iter().count());
        push_capture(&mut replay);
        replay.flush();
        push_capture(&mut replay);
        replay.flush();
        drop(replay);
        assert_eq!(taker.join().unwrap(), 2, "two batches");
    }

    /// A flow record with id `id`, standing for one of a worker's records.
    fn record(id: u64) -> Record {
        use crate::decode::{Addr, Transport};
        use crate::flow::{EndReason, Endpoint};
        let at = |port| Endpoint {
            addr: Addr::v4([10, 0, 0, 1]),
            port,
        };
        Record::Flow(crate::proto::FlowRecord {
            id,
            first: Timestamp::from_secs(id as i64),
            last: Timestamp::from_secs(id as i64),
            started: Timestamp::from_secs(id as i64),
            part: 0,
            client: at(1),
            server: at(2),
            transport: Transport::Tcp,
            vlan: [0; 2],
            packets: [1, 0],
            bytes: [0, 0],
            end: EndReason::Closed,
            protocol: crate::proto::Protocol::Unknown,
            message: None,
            requests: None,
        })
    }

    /// The ids of an epoch's records, sorted.
    fn ids(epoch: &[Vec<Record>]) -> Vec<u64> {
        let mut ids: Vec<u64> = epoch
            .iter()
            .flatten()
            .map(|r| match r {
                Record::Flow(f) => f.id,
                _ => unreachable!("only flows here"),
            })
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Worker `worker`'s part numbered `number`, holding `records`.
    fn part(worker: usize, number: u64, records: &[u64]) -> FromWorker {
        let records = records.iter().copied().map(record).collect();
        FromWorker::Epoch(worker, number, records, Box::default())
    }

    /// Every epoch `epochs` can release now.
    fn released(epochs: &mut Epochs) -> Vec<Vec<u64>> {
        std::iter::from_fn(|| epochs.next())
            .map(|e| ids(&e))
            .collect()
    }

    #[test]
    fn epochs_are_paired_by_tick_number_and_a_worker_that_missed_a_tick_is_caught_up() {
        // Record ids: 10 * worker + the epoch each record belongs to. Worker 1 misses tick 2, so
        // its records of epochs 2 and 3 come in its part numbered 3.
        let mut epochs = Epochs::new(2);
        epochs.take(part(0, 1, &[1]));
        assert!(
            released(&mut epochs).is_empty(),
            "worker 1 has not handed in 1"
        );
        epochs.take(part(1, 1, &[11]));
        assert_eq!(released(&mut epochs), [vec![1, 11]]);
        epochs.take(part(0, 2, &[2]));
        epochs.take(part(0, 3, &[3]));
        assert!(
            released(&mut epochs).is_empty(),
            "epoch 2 waits for worker 1"
        );
        epochs.take(part(1, 3, &[12, 13]));
        // One epoch for ticks 2 and 3: worker 1's part spans both, and the sequencer sorts
        // every record of that time together.
        assert_eq!(released(&mut epochs), [vec![2, 3, 12, 13]]);
        // From then on the parts are paired right again.
        epochs.take(part(1, 4, &[14]));
        epochs.take(part(0, 4, &[4]));
        epochs.take(part(0, 5, &[5]));
        assert_eq!(released(&mut epochs), [vec![4, 14]]);
        epochs.take(part(1, 5, &[15]));
        assert_eq!(released(&mut epochs), [vec![5, 15]]);
        // A worker that is done holds nothing up; the last parts come out together.
        epochs.take(FromWorker::Done(1, vec![record(16)], Box::default()));
        epochs.take(part(0, 6, &[6]));
        epochs.take(FromWorker::Done(0, vec![record(7)], Box::default()));
        assert_eq!(released(&mut epochs), [vec![6, 7, 16]]);
        assert!(
            epochs.parts.is_empty(),
            "only parts not yet released are held"
        );
    }

    #[test]
    fn workers_that_keep_missing_different_ticks_still_get_their_epochs_released() {
        // Worker 0 gets only odd ticks and worker 1 only even ones: no number has both parts,
        // so epochs end every MOST_MERGED numbers instead, and every record comes out once.
        let mut epochs = Epochs::new(2);
        let mut out = Vec::new();
        let last = 10 * MOST_MERGED;
        for number in 1..=last {
            let worker = (number % 2) as usize;
            epochs.take(part(1 - worker, number, &[number]));
            for epoch in released(&mut epochs) {
                assert!(
                    epoch.len() as u64 <= MOST_MERGED + 1,
                    "an epoch of {} parts",
                    epoch.len()
                );
                out.extend(epoch);
            }
            assert!(
                epochs.parts.len() as u64 <= MOST_MERGED + 2,
                "{} parts held",
                epochs.parts.len()
            );
        }
        assert!(
            out.len() as u64 > last / 2,
            "released {} of {last}",
            out.len()
        );
        epochs.take(FromWorker::Done(0, vec![], Box::default()));
        epochs.take(FromWorker::Done(1, vec![], Box::default()));
        out.extend(released(&mut epochs).into_iter().flatten());
        out.sort_unstable();
        assert_eq!(out, (1..=last).collect::<Vec<_>>());
    }

    #[test]
    fn a_worker_counts_the_ticks_it_missed_and_hands_in_under_the_tick_it_got() {
        let (tx, rx) = unbounded();
        let (output, from_worker) = unbounded();
        let (batches, _recycled) = unbounded();
        let returns = Returns {
            batches,
            buffers: None,
        };
        let t = Timestamp::from_secs(100);
        for number in [1, 4, 5, 9] {
            tx.send(ToWorker::Tick(number, t)).unwrap();
        }
        drop(tx);
        worker_loop(3, &Settings::default(), rx, output, returns);
        let seen: Vec<(u64, u64)> = from_worker
            .try_iter()
            .map(|message| match message {
                FromWorker::Epoch(3, number, _, stats) => {
                    (number, stats.counters.capture.epoch_ticks_missed)
                }
                FromWorker::Done(3, _, counters) => (u64::MAX, counters.capture.epoch_ticks_missed),
                _ => panic!("a message from another worker"),
            })
            .collect();
        assert_eq!(seen, [(1, 0), (4, 2), (5, 2), (9, 5), (u64::MAX, 5)]);
    }

    /// The tick numbers in what `rx` holds now, or until every sender is gone when `wait`.
    fn tick_numbers(rx: &Receiver<ToWorker>, wait: bool) -> Vec<u64> {
        let messages: Box<dyn Iterator<Item = ToWorker>> = match wait {
            true => Box::new(rx.iter()),
            false => Box::new(rx.try_iter()),
        };
        messages
            .filter_map(|m| match m {
                ToWorker::Tick(number, _) => Some(number),
                ToWorker::Batch(_) => None,
            })
            .collect()
    }

    #[test]
    fn ticks_from_every_reader_reach_every_worker_numbered_in_increasing_order() {
        // A reader's batches go before its tick.
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..2).map(|_| unbounded()).unzip();
        let (_recycle, recycled) = unbounded();
        let ticks = Arc::new(Ticks::default());
        let mut reader = Dispatch::new(txs.clone(), recycled.clone(), None, ticks.clone());
        push_capture(&mut reader);
        reader.tick(Timestamp::from_secs(1));
        for rx in &rxs {
            let messages: Vec<ToWorker> = rx.try_iter().collect();
            assert!(matches!(messages[0], ToWorker::Batch(_)), "batch first");
            assert!(matches!(messages.last(), Some(ToWorker::Tick(1, _))));
        }
        // Readers on two interfaces and the sequencer thread, ticking at once into queues of
        // one, so that they wait on each other often: every worker sees every reader's tick,
        // and all ticks in the order they were numbered.
        let per_reader = 2000;
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..2).map(|_| bounded(1)).unzip();
        let seen: Vec<Vec<u64>> = std::thread::scope(|scope| {
            let workers: Vec<_> = rxs
                .into_iter()
                .map(|rx: Receiver<ToWorker>| scope.spawn(move || tick_numbers(&rx, true)))
                .collect();
            let readers: Vec<_> = (0..2)
                .map(|_| {
                    let mut dispatch =
                        Dispatch::new(txs.clone(), recycled.clone(), None, ticks.clone());
                    scope.spawn(move || {
                        for _ in 0..per_reader {
                            dispatch.tick(Timestamp::from_secs(2));
                        }
                    })
                })
                .collect();
            while !readers.iter().all(|r| r.is_finished()) {
                let _ = ticks.try_send(&txs, Timestamp::from_secs(2));
            }
            drop(txs);
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        for numbers in seen {
            assert!(numbers.is_sorted_by(|a, b| a < b), "out of order");
            assert!(numbers.len() >= 2 * per_reader, "{} ticks", numbers.len());
        }
    }

    /// What `f` returns, run on another thread, which must not wait for anything: if it has not
    /// returned within 10 s, `hostage` (the receiver it would wait on) is dropped so that it
    /// can end, and the test fails.
    fn promptly<T: Send>(
        f: impl FnOnce() -> T + Send,
        hostage: Receiver<ToWorker>,
    ) -> (T, Receiver<ToWorker>) {
        let (tx, rx) = bounded(1);
        std::thread::scope(|scope| {
            scope.spawn(move || tx.send(f()));
            match rx.recv_timeout(Duration::from_secs(10)) {
                Ok(value) => (value, hostage),
                Err(_) => {
                    drop(hostage);
                    panic!("it waited for 10 s");
                }
            }
        })
    }

    #[test]
    fn the_sequencers_tick_never_waits_for_a_full_queue_or_a_reader_ticking() {
        let t = Timestamp::from_secs(7);
        let ticks = Ticks::default();
        // Worker 0's queue is full: it misses the tick, worker 1 gets it.
        let (full, stuck) = bounded(1);
        let (room, other) = bounded(8);
        full.send(ToWorker::Batch(PacketBatch::default())).unwrap();
        let to_workers = [full, room];
        let (number, stuck) = promptly(|| ticks.try_send(&to_workers, t), stuck);
        assert_eq!(number, Some(1));
        assert_eq!(tick_numbers(&other, false), [1]);
        assert_eq!(stuck.len(), 1, "only the batch");
        // When worker 0 gets the next tick it counts the one it missed.
        let (output, from_worker) = unbounded();
        let (batches, _recycled) = unbounded();
        let returns = Returns {
            batches,
            buffers: None,
        };
        let settings = Settings::default();
        std::thread::scope(|scope| {
            scope.spawn(|| worker_loop(0, &settings, stuck, output, returns));
            assert_eq!(ticks.send(&to_workers, t, None), 2);
            match from_worker.recv().unwrap() {
                FromWorker::Epoch(0, 2, _, stats) => {
                    assert_eq!(stats.counters.capture.epoch_ticks_missed, 1);
                }
                _ => panic!("worker 0 should hand in epoch 2"),
            }
            drop(to_workers);
        });
        assert_eq!(tick_numbers(&other, false), [2]);

        // A reader is inside its tick, waiting for room in worker 1's full queue: the
        // sequencer's tick is skipped at once.
        let (first, first_rx) = bounded(8);
        let (second, second_rx) = bounded(1);
        second
            .send(ToWorker::Batch(PacketBatch::default()))
            .unwrap();
        let to_workers = [first, second];
        std::thread::scope(|scope| {
            let reader = scope.spawn(|| ticks.send(&to_workers, t, None));
            // Worker 0 got the reader's tick, so the reader holds the lock.
            assert!(matches!(first_rx.recv(), Ok(ToWorker::Tick(3, _))));
            let (skipped, second_rx) = promptly(|| ticks.try_send(&to_workers, t), second_rx);
            assert!(matches!(second_rx.recv(), Ok(ToWorker::Batch(_))));
            assert!(matches!(second_rx.recv(), Ok(ToWorker::Tick(3, _))));
            assert_eq!(reader.join().unwrap(), 3);
            assert_eq!(skipped, None, "a reader was ticking");
            assert_eq!(tick_numbers(&first_rx, false), [] as [u64; 0]);
        });
        assert_eq!(ticks.try_send(&to_workers, t), Some(4));
    }
}
