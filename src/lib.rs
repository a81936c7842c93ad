//! lantern: a passive network sensor that finds shadow AI.
//!
//! Packets flow through the stages below in one direction; Zeek's and Suricata's logs enter at
//! [`logs`], which turns their lines into the records proto makes from packets:
//!
//! ```text
//! capture -> decode -> flow -> proto -> logs -> naming -> identity -> policy -> output
//!     -> store -> report -> console
//! ```
//!
//! **The dependency rule.** A stage imports only the stages to its left and the leaf
//! libraries: [`catalog`] (the AI catalog and its matchers), [`metrics`] (the `counters!`
//! macro), [`software`] (a browser or a program, from a TLS fingerprint or `User-Agent`),
//! [`text`] (wire bytes as text), [`vocabulary`] (the closed sets of words events, the store
//! and reports share) and [`writing`] (the thread that writes behind the sequencer, and syslog
//! delivery). A leaf
//! imports only leaves. [`pipeline`] is the wiring `replay` and `capture` share (a reader, N
//! workers running decode, flow and proto, and one sequencer running naming onwards in a
//! deterministic order), and may import any of them; [`testdata`] is test support, after
//! decode. No file imports another that imports it back. `layering::the_rule_holds` (below)
//! reads every `crate::` path in `src/` and fails on an import the rule does not allow, or on
//! a circle between the files of one stage: `cargo test --lib layering`.
//!
//! [`report`] reads only the store; [`policy`] judges each app for each user; [`console`]
//! serves reports as web pages.

pub mod capture;
pub mod catalog;
pub mod console;
pub mod decode;
pub mod flow;
pub mod identity;
pub mod logs;
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

#[cfg(test)]
mod layering;
