//! The channels between readers, workers and the sequencer, shared by threaded replay and live
//! capture: batches of decoded packets to the worker that owns their flow; ticks, numbered by
//! one [`Ticks`] per run so that every worker's queue sees them in increasing order; and each
//! worker's records of an epoch back, tagged with the tick that ended it, which [`Epochs`]
//! pairs by that number so that an epoch is complete before the sequencer sorts it. A worker
//! that missed ticks (live capture: its queue was full) counts them and hands in everything
//! since its last tick with the next one it gets, and the epochs that part spans are released
//! as one, so it is caught up at once instead of shifted against the others. Emptied batches
//! and the reader's buffers go back for reuse.

//!
//! `messages.rs` is what goes between them, `batch.rs` a batch of packets, `dispatch.rs` the
//! reader's side, `ticks.rs` the numbering of ticks, `workers.rs` the worker threads and
//! `epochs.rs` the pairing of their epochs for the sequencer.

mod batch;
mod dispatch;
mod epochs;
mod messages;
mod ticks;
mod workers;

pub(super) use batch::PacketBatch;
pub(super) use dispatch::Dispatch;
pub(super) use epochs::Epochs;
pub(super) use messages::{FromWorker, Returns, ToWorker};
pub(super) use ticks::Ticks;
pub(super) use workers::spawn_workers;
