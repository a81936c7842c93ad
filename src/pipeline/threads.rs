//! The channels between readers, workers and the sequencer, shared by threaded replay and live
//! capture: batches of decoded packets to the worker that owns their flow, ticks, and each
//! worker's records of an epoch back, merged in lockstep so that an epoch is complete before the
//! sequencer sorts it; emptied batches and the reader's buffers go back for reuse.

use super::{Settings, Worker};
use crate::capture::Timestamp;
use crate::decode::Packet;
use crate::flow::{Stamp, worker_of};
use crate::metrics::Counters;
use crate::proto::Record;
use crossbeam_channel::{Receiver, SendTimeoutError, Sender};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// Packets per batch handed to a worker.
const BATCH_PACKETS: usize = 512;
/// Bytes per batch handed to a worker.
const BATCH_BYTES: usize = 512 * 1024;
/// Batches queued per worker.
const WORKER_QUEUE: usize = 8;

/// Decoded packets for one worker. In threaded replay their payloads stay in the reader's
/// buffer, which the batch holds; otherwise (live capture, reassembled fragments) they are
/// copied into the batch.
#[derive(Default)]
pub(super) struct Batch {
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

impl Batch {
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
    Batch(Batch),
    /// End the flows idle at this time and hand on the epoch's records.
    Tick(Timestamp),
}

/// What a worker tells the sequencer.
pub(super) enum FromWorker {
    /// One epoch's records, with the worker's counters and open flows at its end.
    Epoch(usize, Vec<Record>, Box<WorkerStats>),
    /// The last records and the final counters.
    Done(usize, Vec<Record>, Box<Counters>),
}

/// A worker's counters as of its latest epoch.
#[derive(Clone, Debug, Default)]
pub(super) struct WorkerStats {
    pub counters: Counters,
    pub open_flows: usize,
}

/// Hands decoded packets to workers by a symmetric hash of their flow key.
pub(super) struct Dispatch {
    to_workers: Vec<Sender<ToWorker>>,
    batches: Vec<Batch>,
    recycled: Receiver<Batch>,
    /// Live capture: how long to wait for a full worker queue before the batch is dropped
    /// (and counted); `None` waits as long as it takes (replay loses nothing).
    patience: Option<Duration>,
    /// Packets dropped because a worker's queue stayed full.
    pub dropped: u64,
}

impl Dispatch {
    pub fn new(
        to_workers: Vec<Sender<ToWorker>>,
        recycled: Receiver<Batch>,
        patience: Option<Duration>,
    ) -> Dispatch {
        Dispatch {
            batches: (0..to_workers.len()).map(|_| Batch::default()).collect(),
            to_workers,
            recycled,
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

    /// Sends every partly filled batch, then a tick, to every worker. (Live capture gives up
    /// on a worker that stays full; its next tick comes soon.)
    pub fn tick(&mut self, now: Timestamp) {
        for worker in 0..self.to_workers.len() {
            self.send(worker);
            let tick = ToWorker::Tick(now);
            let _ = match self.patience {
                None => self.to_workers[worker].send(tick).is_ok(),
                Some(patience) => self.to_workers[worker].send_timeout(tick, patience).is_ok(),
            };
        }
    }
}

/// Where workers give back what the reader can reuse.
#[derive(Clone)]
pub(super) struct Returns {
    /// Emptied batches.
    pub batches: Sender<Batch>,
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
            scope.spawn(move || worker_loop(index, settings, rx, output, returns));
            tx
        })
        .collect()
}

/// A worker thread: runs its share of the flows until every sender is gone, then ends them.
fn worker_loop(
    index: usize,
    settings: &Settings,
    input: Receiver<ToWorker>,
    output: Sender<FromWorker>,
    returns: Returns,
) {
    let mut worker = Worker::new(settings);
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
            ToWorker::Tick(now) => {
                let records = worker.tick(now);
                let stats = Box::new(WorkerStats {
                    counters: worker.counters().clone(),
                    open_flows: worker.open_flows(),
                });
                if output
                    .send(FromWorker::Epoch(index, records, stats))
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

/// Gathers the workers' epochs and releases one when every worker has handed in its part.
pub(super) struct Epochs {
    queues: Vec<VecDeque<Vec<Record>>>,
    /// Each worker's latest counters and open flows.
    pub stats: Vec<WorkerStats>,
    /// Final counters of the workers that are done.
    pub done: Counters,
}

impl Epochs {
    pub fn new(workers: usize) -> Epochs {
        Epochs {
            queues: (0..workers).map(|_| VecDeque::new()).collect(),
            stats: vec![WorkerStats::default(); workers],
            done: Counters::default(),
        }
    }

    /// Takes in one message from a worker.
    pub fn take(&mut self, message: FromWorker) {
        match message {
            FromWorker::Epoch(index, records, stats) => {
                self.queues[index].push_back(records);
                self.stats[index] = *stats;
            }
            FromWorker::Done(index, records, counters) => {
                self.queues[index].push_back(records);
                self.done.merge(&counters);
                self.stats[index] = WorkerStats {
                    counters: *counters,
                    open_flows: 0,
                };
            }
        }
    }

    /// The next complete epoch, if every worker has handed in its part of it.
    pub fn next(&mut self) -> Option<Vec<Record>> {
        if self.queues.iter().any(VecDeque::is_empty) {
            return None;
        }
        let mut epoch = Vec::new();
        for queue in &mut self.queues {
            epoch.extend(queue.pop_front().into_iter().flatten());
        }
        Some(epoch)
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
            if let Some(packet) = decoder.decode(raw.link, raw.data, raw.ts, &mut counters) {
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
    fn payloads(workers: &[Receiver<ToWorker>]) -> (Vec<(u64, Vec<u8>)>, Vec<Batch>) {
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
                let mut dispatch = Dispatch::new(txs, recycled, None);
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
        let mut dispatch = Dispatch::new(vec![tx], recycled, Some(Duration::from_millis(1)));
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
        let mut replay = Dispatch::new(vec![tx], recycled, None);
        let taker = std::thread::spawn(move || rx.iter().count());
        push_capture(&mut replay);
        replay.flush();
        push_capture(&mut replay);
        replay.flush();
        drop(replay);
        assert_eq!(taker.join().unwrap(), 2, "two batches");
    }
}
