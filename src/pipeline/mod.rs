//! Pipeline: the wiring that `replay` and the live `capture` daemon share.
//!
//! A reader decodes packets and hands each to one of N [`Worker`]s (flow and proto), each flow
//! always to the same worker (a symmetric hash of its addresses and ports). At fixed points of
//! the packet stream (the first packet of each new [`TICK_SECS`] of capture time, and every
//! [`TICK_PACKETS`] packets so that a capture whose clock stands still cannot pile up records)
//! every worker gets a tick: it expires idle flows and hands its records of that epoch to the
//! [`Sequencer`], which sorts them and runs naming, the catalog, identity, policy, output and
//! the store's pending rows in that order. Because ticks sit at the same packets whatever N is
//! and each epoch is sorted by a key that does not depend on threads, the events are
//! byte-identical for any `--threads`.
//!
//! Replay hands workers the packets' places in the reader's buffer, not copies (see
//! `replay.rs`). Live capture ([`capture`]) uses the same workers and sequencer with one reader
//! thread per interface, copying packets out of libpcap's ring; there ticks also come from the
//! wall clock, once a second, so that a quiet link still ends its idle flows, and a worker whose
//! queue is full can miss a tick: ticks are numbered and epochs paired by number, so it hands in
//! its records with the next tick it gets and is caught up (`threads/`).
//!
//! The DNS history, identity's bindings and the rollups live in the one sequencer thread, not
//! in structures the workers share: a shared cache would name a flow or not depending on which
//! worker got there first, and determinism is a requirement. [`Counters`] composes every
//! stage's counters.

mod counters;
mod files;
mod follow;
mod ingest;
mod live;
mod replay;
mod sequencer;
mod threads;
mod worker;

pub use counters::{Capture, Counters, Sequenced};
pub use follow::{FollowReport, FollowSettings, follow};
pub use ingest::{IngestReport, IngestSettings, LogFileReport, ingest};
pub use live::{LiveReport, LiveSettings, LiveSnapshot, QUEUE_PATIENCE, Supervisor, capture};
pub use replay::{FileReport, ReplayReport, replay};
pub use sequencer::{Sequencer, SequencerError, StoreTotals, WriteStats};
pub use worker::Worker;

use crate::flow::FlowConfig;
use crate::naming::NamingConfig;
use crate::proto::ProtoConfig;

/// Seconds of capture time between two ticks (idle-timeout sweeps and epoch boundaries).
pub const TICK_SECS: i64 = 1;

/// Most packets between two ticks.
pub const TICK_PACKETS: u64 = 16_384;

/// Every setting of the packet path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// Flow table limits and timeouts.
    pub flow: FlowConfig,
    /// Protocol stage limits.
    pub proto: ProtoConfig,
    /// Naming stage settings.
    pub naming: NamingConfig,
    /// Worker threads (1 runs everything in the calling thread).
    pub threads: usize,
}
