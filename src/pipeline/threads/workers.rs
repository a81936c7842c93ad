//! The worker threads: starting them, and the loop each runs around its [`Worker`], which
//! turns batches into flows and hands in its records at each tick.

use super::messages::{FromWorker, Returns, ToWorker, WorkerStats};
use crate::decode::Packet;
use crate::pipeline::{Settings, Worker};
use crossbeam_channel::{Receiver, Sender};

/// Batches queued per worker.
const WORKER_QUEUE: usize = 8;

/// Starts `settings.threads` workers in `scope`, each sending its epochs to `to_sequencer`;
/// returns the senders that feed them.
pub(in crate::pipeline) fn spawn_workers<'scope>(
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
pub(super) fn worker_loop(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Timestamp;
    use crossbeam_channel::unbounded;

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
}
