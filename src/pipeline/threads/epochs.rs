//! Pairing the workers' parts of each epoch by tick number, and releasing an epoch once it is
//! complete, with each worker's latest counters.

use super::messages::{FromWorker, WorkerStats};
use crate::pipeline::Counters;
use crate::proto::Record;
use std::collections::BTreeMap;

/// Most tick numbers one released epoch spans while workers keep missing different ticks, so
/// that no number every worker got comes up: past it, the epoch ends at the latest number
/// every worker has reached, and the records of a part that spans that end come in a later
/// epoch. (Holding epochs until such a number came would hold them without bound.)
const MOST_MERGED: u64 = 16;

/// Gathers the workers' parts of each epoch and releases an epoch once it is complete.
///
/// A part numbered n holds a worker's records since the previous tick it got. When every worker
/// got every tick, epoch n is the parts numbered n. A worker that missed ticks hands in one part
/// for all of them; the next epoch then ends at the first number every worker has a part for,
/// so that no part spans two epochs, and the sequencer sorts the records of those ticks
/// together (a DNS answer on one worker still comes before the flow it names on another). A
/// worker that is done counts as having a part at every later number: its last part is
/// numbered `u64::MAX`.
pub(in crate::pipeline) struct Epochs {
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
    use crate::capture::Timestamp;

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
}
