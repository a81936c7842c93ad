//! The reader's side: decoded packets into one batch per worker, by a symmetric hash of their
//! flow key, and the batches and ticks sent on, waiting for a full queue or (live capture)
//! dropping and counting what a stuck worker cannot take.

use super::batch::PacketBatch;
use super::messages::ToWorker;
use super::ticks::Ticks;
use crate::capture::Timestamp;
use crate::decode::Packet;
use crate::flow::{Stamp, worker_of};
use crossbeam_channel::{Receiver, SendTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;

/// Hands decoded packets to workers by a symmetric hash of their flow key.
pub(in crate::pipeline) struct Dispatch {
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

#[cfg(test)]
mod tests {
    use super::super::messages::tick_numbers;
    use super::*;
    use crate::capture::CaptureReader;
    use crate::decode::Decoder;
    use crate::pipeline::Counters;
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
}
