//! The files a run reads, as the store knows them: a file already read into the store is
//! refused (unless `--force`), and every other one is recorded before anything of it is
//! written, so that a second run started meanwhile refuses it too. `replay` and `ingest` share
//! this.

use super::SequencerError;
use crate::capture::Timestamp;
use crate::capture::hash::{quick_key, sha256_file};
use crate::store::{NewFile, Store};
use std::path::Path;

/// What the run does with its files, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// `lantern replay`.
    Replay,
    /// `lantern ingest`.
    Ingest,
}

impl Verb {
    fn past(self) -> &'static str {
        match self {
            Verb::Replay => "replayed",
            Verb::Ingest => "ingested",
        }
    }

    fn command(self) -> &'static str {
        match self {
            Verb::Replay => "replay",
            Verb::Ingest => "ingest",
        }
    }
}

/// What the store said of a file.
#[derive(Debug)]
pub enum Registered {
    /// New: recorded under `store_id`; hash it as it is read when `hash_as_read` (its row gets
    /// the hash at the end, from [`Store::finish_file`]).
    New {
        /// Its row.
        store_id: i64,
        /// Its hash is not known yet.
        hash_as_read: bool,
    },
    /// Already read into the store: the line that says so.
    Refused(String),
    /// It could not be read to be known: the line that says why.
    Unreadable(String),
}

/// Looks `path` up in `store` and records it when new.
///
/// A file whose size and quick key ([`quick_key`]: its first and last 64 KiB) match no file in
/// the store is new, and is hashed as it is read. One that matches is hashed now and refused
/// when a file with that hash was read, or when a run of one with that key never finished (it
/// may be running now); otherwise it is read with the hash known. The row written here, with
/// its quick key, is what makes a second run started meanwhile refuse the file.
pub fn register(
    store: &mut Store,
    path: &Path,
    force: bool,
    verb: Verb,
) -> Result<Registered, SequencerError> {
    let fail = |e: std::io::Error| Registered::Unreadable(format!("{}: {e}", path.display()));
    let (size, quick_key) = match quick_key(path) {
        Ok(key) => key,
        Err(e) => return Ok(fail(e)),
    };
    let matching = match force {
        true => Vec::new(),
        false => store.files_matching(size, &quick_key)?,
    };
    let hash_as_read = matching.is_empty() && store.hashes_as_read();
    let sha256 = match hash_as_read {
        true => String::new(),
        false => match sha256_file(path) {
            Ok((_, sha256)) => sha256,
            Err(e) => return Ok(fail(e)),
        },
    };
    let seen = matching
        .iter()
        .find(|m| m.sha256 == sha256 && !sha256.is_empty())
        .or_else(|| matching.iter().find(|m| m.sha256.is_empty()));
    if let Some(seen) = seen {
        let past = verb.past();
        let how = match (seen.file.complete, seen.sha256.is_empty()) {
            (true, _) => format!("already {past} into"),
            (false, false) => format!("partly {past} (that run did not finish) into"),
            (false, true) => {
                format!("partly {past} (that run did not finish, or is running now) into")
            }
        };
        return Ok(Registered::Refused(format!(
            "{}: {how} {} on {} by sensor {:?} (as {}, sha256 {}); {} it again with --force, or use --no-store",
            path.display(),
            store.display(),
            seen.file.ingested_at,
            seen.file.sensor,
            seen.file.path,
            if sha256.is_empty() {
                "-"
            } else {
                &sha256[..16]
            },
            verb.command(),
        )));
    }
    let new = NewFile {
        path: path.display().to_string(),
        size,
        sha256,
        quick_key,
    };
    let store_id = store.start_file(&new, Timestamp::now())?;
    Ok(Registered::New {
        store_id,
        hash_as_read,
    })
}
