//! lantern's integration tests, in one binary: each module below was a test crate of its own,
//! and all of them share the helpers of [`common`]. One binary links rusqlite, tokio and the
//! rest once instead of once per file.
//!
//! Run one module with `cargo test --release --test integration own_captures::`, one test by
//! its full name. CONTRIBUTING.md ("Tests") has the rest.

mod common;

mod active_timeout;
mod bad_input;
mod catalog;
mod clickhouse;
mod events_reference;
mod hostile_memory;
mod identity;
mod live_capture;
mod naming;
mod own_captures;
mod reader_vs_libpcap;
mod report;
mod retention;
mod shared_captures;
mod store;
mod upgrade;
