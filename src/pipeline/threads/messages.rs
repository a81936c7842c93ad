//! What goes between the threads: batches and numbered ticks to a worker, a worker's epochs
//! back to the sequencer with its counters, and the channels that bring emptied batches and
//! the reader's buffers back for reuse.

use super::batch::PacketBatch;
use crate::capture::Timestamp;
use crate::pipeline::Counters;
use crate::proto::Record;
use crossbeam_channel::Sender;

/// What a worker is told.
pub(in crate::pipeline) enum ToWorker {
    Batch(PacketBatch),
    /// Tick number `.0`: end the flows idle at this time and hand on the epoch's records.
    Tick(u64, Timestamp),
}

/// What a worker tells the sequencer.
pub(in crate::pipeline) enum FromWorker {
    /// Worker `.0`'s records since its previous tick, which ended at tick number `.1`, with its
    /// counters and open flows at that tick.
    Epoch(usize, u64, Vec<Record>, Box<WorkerStats>),
    /// The last records and the final counters.
    Done(usize, Vec<Record>, Box<Counters>),
}

/// A worker's counters as of its latest epoch.
#[derive(Clone, Debug, Default)]
pub(in crate::pipeline) struct WorkerStats {
    pub counters: Counters,
    pub open_flows: usize,
}

/// Where workers give back what the reader can reuse.
#[derive(Clone)]
pub(in crate::pipeline) struct Returns {
    /// Emptied batches.
    pub batches: Sender<PacketBatch>,
    /// The reader's buffers, once no batch holds them (threaded replay).
    pub buffers: Option<Sender<Vec<u8>>>,
}

/// The tick numbers in what `rx` holds now, or until every sender is gone when `wait`.
#[cfg(test)]
pub(super) fn tick_numbers(rx: &crossbeam_channel::Receiver<ToWorker>, wait: bool) -> Vec<u64> {
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
