//! lantern: a passive network sensor that finds shadow AI.
//!
//! Packets flow through the stages below in one direction; each stage is a module that imports
//! only the stages to its left (see `../shared/DESIGN.md`):
//!
//! ```text
//! capture -> decode -> flow -> proto -> naming -> catalog -> identity -> policy -> output
//!     -> store -> report
//! ```
//!
//! [`report`] reads only the store; [`policy`] judges each app for each user; [`software`]
//! tells a browser from a program by its TLS fingerprint or `User-Agent`.
//!
//! [`pipeline`] is the wiring that `replay` and `capture` share: a reader, N workers
//! running decode/flow/proto, and one sequencer running naming onwards in a deterministic order.
//! [`metrics`] holds the named counters every stage increments; [`writing`] is the thread that
//! writes events and SQLite batches behind the sequencer; [`vocabulary`] declares the closed sets
//! of words (user kinds, categories, statuses...) that events, the store and reports share.

pub mod capture;
pub mod catalog;
pub mod decode;
pub mod flow;
pub mod identity;
pub mod metrics;
pub mod naming;
pub mod output;
pub mod pipeline;
pub mod policy;
pub mod proto;
pub mod report;
pub mod software;
pub mod store;
pub mod text;
pub mod vocabulary;
pub mod writing;

#[doc(hidden)]
pub mod testdata;
