//! The numbering of ticks: one [`Ticks`] per run, which every reader (and in live capture the
//! sequencer thread) ticks through, so that every worker sees tick numbers in increasing order.

use super::messages::ToWorker;
use crate::capture::Timestamp;
use crossbeam_channel::Sender;
use std::sync::{Mutex, PoisonError, TryLockError};
use std::time::Duration;

/// The one source of tick numbers in a run, shared by everything that ticks (each reader, and in
/// live capture the sequencer thread). A tick is numbered and sent to every worker while the
/// lock is held, so that every worker's queue sees tick numbers in increasing order: a tick is
/// never late, only missed.
#[derive(Debug, Default)]
pub(in crate::pipeline) struct Ticks {
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

#[cfg(test)]
mod tests {
    use super::super::batch::PacketBatch;
    use super::super::messages::{FromWorker, Returns, tick_numbers};
    use super::super::workers::worker_loop;
    use super::*;
    use crate::pipeline::Settings;
    use crossbeam_channel::{Receiver, bounded, unbounded};

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
