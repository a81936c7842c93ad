//! The channels between readers, workers and the sequencer of live capture: batches of decoded
//! packets to the worker that owns their flow, ticks, and each worker's records of an epoch
//! back, merged in lockstep so that an epoch is complete before the sequencer sorts it.
//! (Threaded replay has no reader thread: each of its workers reads the files itself, see
//! `replay.rs`; it shares the epochs.)

use super::{Settings, Worker};
use crate::capture::Timestamp;
use crate::decode::Packet;
use crate::flow::{Stamp, worker_of};
use crate::metrics::Counters;
use crate::proto::Record;
use crossbeam_channel::{Receiver, SendTimeoutError, Sender};
use std::collections::VecDeque;
use std::time::Duration;

/// Packets per batch handed to a worker.
const BATCH_PACKETS: usize = 512;
/// Bytes per batch handed to a worker.
const BATCH_BYTES: usize = 512 * 1024;
/// Batches queued per worker.
const WORKER_QUEUE: usize = 8;

/// Decoded packets for one worker, their payloads copied out of the reader's buffer.
#[derive(Default)]
pub(super) struct Batch {
    data: Vec<u8>,
    packets: Vec<Meta>,
}

/// A decoded packet whose payload is `len` bytes at `start` in the batch's data.
struct Meta {
    packet: Packet<'static>,
    stamp: Stamp,
    start: usize,
    len: usize,
}

impl Batch {
    fn push(&mut self, packet: &Packet<'_>, stamp: Stamp) {
        self.packets.push(Meta {
            packet: Packet {
                payload: &[],
                ..*packet
            },
            stamp,
            start: self.data.len(),
            len: packet.payload.len(),
        });
        self.data.extend_from_slice(packet.payload);
    }

    fn is_full(&self) -> bool {
        self.packets.len() >= BATCH_PACKETS || self.data.len() >= BATCH_BYTES
    }

    fn clear(&mut self) {
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
    /// How long to wait for a full worker queue before the batch is dropped (and counted).
    patience: Duration,
    /// Packets dropped because a worker's queue stayed full.
    pub dropped: u64,
}

impl Dispatch {
    pub fn new(
        to_workers: Vec<Sender<ToWorker>>,
        recycled: Receiver<Batch>,
        patience: Duration,
    ) -> Dispatch {
        Dispatch {
            batches: (0..to_workers.len()).map(|_| Batch::default()).collect(),
            to_workers,
            recycled,
            patience,
            dropped: 0,
        }
    }

    /// Queues one decoded packet for the worker owning its flow.
    pub fn packet(&mut self, packet: &Packet<'_>, stamp: Stamp) {
        let worker = worker_of(packet, self.to_workers.len());
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
        if let Err(SendTimeoutError::Timeout(ToWorker::Batch(mut lost))) =
            self.to_workers[worker].send_timeout(message, self.patience)
        {
            self.dropped += lost.packets.len() as u64;
            lost.clear();
            self.batches[worker] = lost;
        }
    }

    /// Sends every partly filled batch.
    pub fn flush(&mut self) {
        for worker in 0..self.to_workers.len() {
            self.send(worker);
        }
    }

    /// Sends every partly filled batch, then a tick, to every worker. (It gives up on a worker
    /// that stays full; its next tick comes soon.)
    pub fn tick(&mut self, now: Timestamp) {
        for worker in 0..self.to_workers.len() {
            self.send(worker);
            let _ = self.to_workers[worker].send_timeout(ToWorker::Tick(now), self.patience);
        }
    }
}

/// Starts `settings.threads` workers in `scope`, each sending its epochs to `to_sequencer`;
/// returns the senders that feed them.
pub(super) fn spawn_workers<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    settings: &'scope Settings,
    to_sequencer: Sender<FromWorker>,
    recycle: &Sender<Batch>,
) -> Vec<Sender<ToWorker>> {
    (0..settings.threads.max(1))
        .map(|index| {
            let (tx, rx) = crossbeam_channel::bounded::<ToWorker>(WORKER_QUEUE);
            let (output, recycle) = (to_sequencer.clone(), recycle.clone());
            scope.spawn(move || worker_loop(index, settings, rx, output, recycle));
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
    recycle: Sender<Batch>,
) {
    let mut worker = Worker::new(settings);
    for message in input {
        match message {
            ToWorker::Batch(mut batch) => {
                for m in &batch.packets {
                    let packet = Packet {
                        payload: &batch.data[m.start..m.start + m.len],
                        ..m.packet
                    };
                    worker.packet(&packet, m.stamp);
                }
                batch.clear();
                let _ = recycle.send(batch);
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
    use crossbeam_channel::bounded;

    /// Every decoded packet of `captures/curl-chatgpt.pcap`, pushed into `dispatch`.
    fn push_capture(dispatch: &mut Dispatch) -> u64 {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/curl-chatgpt.pcap");
        let mut reader = CaptureReader::open(&path).unwrap();
        let (mut decoder, mut counters) = (Decoder::default(), Counters::default());
        let mut pushed = 0;
        while let Some(raw) = reader.next_packet().unwrap() {
            if let Some(packet) = decoder.decode(raw.link, raw.data, raw.ts, &mut counters) {
                pushed += 1;
                let stamp = Stamp {
                    number: pushed,
                    ts: raw.ts,
                    clock: raw.ts,
                };
                dispatch.packet(&packet, stamp);
            }
        }
        pushed
    }

    #[test]
    fn a_live_reader_drops_and_counts_a_batch_a_stuck_worker_cannot_take() {
        let (tx, rx) = bounded(1);
        let (_recycle, recycled) = bounded(1);
        let mut dispatch = Dispatch::new(vec![tx], recycled, Duration::from_millis(1));
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
    }
}
