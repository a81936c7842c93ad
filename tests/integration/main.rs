//! lantern's integration tests, in one binary: each module below was a test crate of its own,
//! and all of them share the helpers of [`common`]. One binary links rusqlite, tokio and the
//! rest once instead of once per file.
//!
//! Two tiers. Without features, the quick tier: replays of captures, reports and stores on
//! SQLite, the catalog; no root, no servers. With the feature `system-tests`, the system tests
//! too: live capture in network namespaces (root), real ClickHouse servers and ZooKeeper, a
//! real rsyslog, headless Chromium. They are marked `#[cfg(feature = "system-tests")]`, whole
//! modules here or single tests in theirs. A system test on a machine without what it needs says so and passes,
//! except under CI (`CI` set), where it fails (`common::system::can_run`).
//!
//! Run one module with `cargo test --release --test integration own_captures::`, one test by
//! its full name. CONTRIBUTING.md ("Tests") has the rest.

mod common;

mod active_timeout;
mod bad_input;
#[cfg(feature = "system-tests")]
mod browser;
mod catalog;
#[cfg(feature = "system-tests")]
mod clickhouse;
mod console;
mod events_reference;
mod follow;
mod hostile_memory;
mod identity;
mod ingest;
#[cfg(feature = "system-tests")]
mod live_capture;
mod naming;
mod notices;
#[cfg(feature = "system-tests")]
mod ocsf;
mod own_captures;
mod reader_vs_libpcap;
mod report;
mod retention;
mod shared_captures;
mod store;
#[cfg(feature = "system-tests")]
mod syslog;
mod upgrade;
