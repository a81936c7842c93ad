//! Store: where evidence and rollups are kept between runs.
//!
//! The embedded default is a SQLite file ([`SqliteStore`], through `rusqlite` with SQLite
//! bundled, so nothing is installed). It holds flow and DNS evidence of AI use, hourly rollups
//! per (sensor, hour, user, app) that later runs add to, and the files that were ingested, so
//! that the same file is not counted twice.

mod sqlite;

pub use sqlite::{Batch, IngestedFile, NewFile, SqliteStore, StoreError, StoreFault};
