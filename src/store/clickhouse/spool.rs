//! The on-disk spool: every batch bound for ClickHouse is written here first (one file per
//! batch, named by a sequence number, written to a temporary name, synced and renamed), and
//! removed only once ClickHouse has taken all of it. So batches are sent in order, nothing is
//! lost while the server is down, and a restarted lantern sends what an earlier run left.
//!
//! The spool is bounded in bytes: past the bound the oldest batches are dropped (never the one
//! being sent), counted and logged. A lock file keeps two lanterns from sending one spool.
//! Each file says the schema version of its rows, so batches an older lantern left are read
//! (and sent) after an upgrade, and a newer lantern's are set aside rather than misread.

use crate::store::schema::{SCHEMA_VERSION, Table};
use crate::store::{
    CoverageRow, DnsRow, FileRow, FlowRow, HealthRow, NoticeRow, PseudonymRow, RollupRow,
};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// One batch: everything one store write adds, as the rows to insert.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub flows: Vec<FlowRow>,
    pub dns: Vec<DnsRow>,
    pub rollups: Vec<RollupRow>,
    pub pseudonyms: Vec<PseudonymRow>,
    pub files: Vec<FileRow>,
    /// Written from schema version 6 on.
    pub health: Vec<HealthRow>,
    /// Written from schema version 9 on.
    pub coverage: Vec<CoverageRow>,
    /// Written from schema version 10 on.
    pub notices: Vec<NoticeRow>,
}

impl Entry {
    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
            && self.dns.is_empty()
            && self.rollups.is_empty()
            && self.pseudonyms.is_empty()
            && self.files.is_empty()
            && self.health.is_empty()
            && self.coverage.is_empty()
            && self.notices.is_empty()
    }

    /// The batches' rows, in order, as one.
    pub fn merge(entries: impl IntoIterator<Item = Entry>) -> Entry {
        let mut all = Entry::default();
        for mut e in entries {
            all.flows.append(&mut e.flows);
            all.dns.append(&mut e.dns);
            all.rollups.append(&mut e.rollups);
            all.pseudonyms.append(&mut e.pseudonyms);
            all.files.append(&mut e.files);
            all.health.append(&mut e.health);
            all.coverage.append(&mut e.coverage);
            all.notices.append(&mut e.notices);
        }
        all
    }

    /// Rows of every table.
    pub fn rows(&self) -> u64 {
        (self.flows.len()
            + self.dns.len()
            + self.rollups.len()
            + self.pseudonyms.len()
            + self.files.len()
            + self.health.len()
            + self.coverage.len()
            + self.notices.len()) as u64
    }
}

/// How full the spool is and what it dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpoolStats {
    /// Batches waiting.
    pub batches: u64,
    /// Their size on disk.
    pub bytes: u64,
    /// Batches dropped because the spool was full (or unreadable).
    pub dropped_batches: u64,
    /// Their size.
    pub dropped_bytes: u64,
}

#[derive(Debug, Default)]
struct State {
    /// (sequence number, bytes), oldest first.
    queue: VecDeque<(u64, u64)>,
    next: u64,
    /// Batches numbered below this were found at open: an earlier run may have sent them.
    found_below: u64,
    /// The batches being sent: not dropped while they are.
    sending: Vec<u64>,
    stats: SpoolStats,
}

/// A directory of batches waiting for ClickHouse.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    state: Mutex<State>,
    changed: Condvar,
    _lock: File,
}

const SUFFIX: &str = ".batch";

/// What a spool file starts with: the format, then the schema version of its rows as two
/// digits (`LNTSPL05`). `LNTSPL01` is the first format, whose rows are schema version 4.
const MAGIC: &[u8; 6] = b"LNTSPL";

/// A batch as its file holds it: [`MAGIC`] and the version, then the rows in `postcard`
/// (compact, and parsed several times faster than JSON, which took two thirds of the sender's
/// time): each table a count and its rows, each row its columns in declaration order.
fn encode(entry: &Entry) -> io::Result<Vec<u8>> {
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(format!("{SCHEMA_VERSION:02}").as_bytes());
    postcard::to_io(entry, &mut bytes).map_err(io::Error::other)?;
    Ok(bytes)
}

/// The schema version of a batch's rows, from its first 8 bytes.
fn version(bytes: &[u8]) -> io::Result<u32> {
    let invalid = || io::Error::new(io::ErrorKind::InvalidData, "not a lantern spool batch");
    let digits = bytes.strip_prefix(MAGIC.as_slice()).ok_or_else(invalid)?;
    let digits =
        std::str::from_utf8(digits.get(..2).ok_or_else(invalid)?).map_err(|_| invalid())?;
    match digits.parse::<u32>().map_err(|_| invalid())? {
        1 => Ok(4),
        v if v > SCHEMA_VERSION => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("written by a newer lantern (schema version {v})"),
        )),
        v => Ok(v),
    }
}

/// A batch written by this lantern or an earlier one: rows of an earlier version get the
/// columns added since as their defaults, as the store's migration gives older rows.
fn decode(bytes: &[u8]) -> io::Result<Entry> {
    let v = version(bytes)?;
    let invalid = |e: postcard::Error| io::Error::new(io::ErrorKind::InvalidData, e);
    let rest = &bytes[MAGIC.len() + 2..];
    let (flows, rest) = take_rows(rest, v, FlowRow::take_postcard).map_err(invalid)?;
    let (dns, rest) = take_rows(rest, v, DnsRow::take_postcard).map_err(invalid)?;
    let (rollups, rest) = take_rows(rest, v, RollupRow::take_postcard).map_err(invalid)?;
    let (pseudonyms, rest) = take_rows(rest, v, PseudonymRow::take_postcard).map_err(invalid)?;
    let (files, rest) = take_rows(rest, v, FileRow::take_postcard).map_err(invalid)?;
    let (health, rest) = take_since(rest, v, HealthRow::TABLE, HealthRow::take_postcard)?;
    let (coverage, rest) = take_since(rest, v, CoverageRow::TABLE, CoverageRow::take_postcard)?;
    let (notices, rest) = take_since(rest, v, NoticeRow::TABLE, NoticeRow::take_postcard)?;
    if !rest.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "bytes after the last table",
        ));
    }
    Ok(Entry {
        flows,
        dns,
        rollups,
        pseudonyms,
        files,
        health,
        coverage,
        notices,
    })
}

/// The rows of a table added by a later schema version: none in a batch of an earlier one.
fn take_since<R>(
    bytes: &[u8],
    version: u32,
    table: Table,
    take: TakeRow<R>,
) -> io::Result<(Vec<R>, &[u8])> {
    if version < table.since() {
        return Ok((Vec::new(), bytes));
    }
    take_rows(bytes, version, take).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// A declared row's `take_postcard`: one row of a schema version, and the bytes after it.
type TakeRow<R> = fn(&[u8], u32) -> postcard::Result<(R, &[u8])>;

/// One table's rows: their count, then each row. Memory grows with the rows read, never with
/// the count a damaged file claims.
fn take_rows<R>(bytes: &[u8], version: u32, take: TakeRow<R>) -> postcard::Result<(Vec<R>, &[u8])> {
    let (count, mut rest) = postcard::take_from_bytes::<usize>(bytes)?;
    let mut rows = Vec::new();
    for _ in 0..count {
        let (row, after) = take(rest, version)?;
        rows.push(row);
        rest = after;
    }
    Ok((rows, rest))
}

fn file_name(seq: u64) -> String {
    format!("{seq:020}{SUFFIX}")
}

fn seq_of(name: &str) -> Option<u64> {
    name.strip_suffix(SUFFIX)?.parse().ok()
}

impl Spool {
    /// Opens (creating) the spool in `dir`, finding the batches an earlier run left.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<Spool> {
        fs::create_dir_all(dir)?;
        let lock = File::create(dir.join("lock"))?;
        if lock.try_lock().is_err() {
            return Err(io::Error::other(format!(
                "spool {} is in use by another lantern",
                dir.display()
            )));
        }
        let mut found = Vec::new();
        for item in fs::read_dir(dir)? {
            let item = item?;
            let name = item.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".tmp") {
                // A batch whose write never finished: its run failed before the write returned.
                fs::remove_file(item.path())?;
            } else if let Some(seq) = seq_of(&name) {
                found.push((seq, item.metadata()?.len()));
            }
        }
        found.sort_unstable();
        let next = found.last().map_or(0, |(seq, _)| seq + 1);
        let mut state = State {
            next,
            found_below: next,
            ..State::default()
        };
        for (seq, bytes) in found {
            state.queue.push_back((seq, bytes));
            state.stats.batches += 1;
            state.stats.bytes += bytes;
        }
        Ok(Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            state: Mutex::new(state),
            changed: Condvar::new(),
            _lock: lock,
        })
    }

    /// Batches numbered below this were left by an earlier run, which may have sent them
    /// before it stopped.
    pub fn found_below(&self) -> u64 {
        self.lock().found_below
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes a batch after the others; drops the oldest past the bound. Returns the batches
    /// dropped now.
    pub fn push(&self, entry: &Entry) -> io::Result<u64> {
        let bytes = encode(entry)?;
        let seq = {
            let mut state = self.lock();
            state.next += 1;
            state.next - 1
        };
        let path = self.dir.join(file_name(seq));
        let tmp = path.with_extension("tmp");
        let mut file = File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_data()?;
        fs::rename(&tmp, &path)?;
        let mut state = self.lock();
        let at = state.queue.partition_point(|(s, _)| *s < seq);
        state.queue.insert(at, (seq, bytes.len() as u64));
        state.stats.batches += 1;
        state.stats.bytes += bytes.len() as u64;
        let dropped = self.enforce_bound(&mut state);
        drop(state);
        self.changed.notify_all();
        Ok(dropped)
    }

    /// Drops the oldest batches (but those being sent and the newest) while over the bound.
    fn enforce_bound(&self, state: &mut State) -> u64 {
        let mut dropped = 0;
        while state.stats.bytes > self.max_bytes && state.queue.len() > 1 {
            let newest = state.queue.back().map(|b| b.0);
            let victim = (state.queue.iter())
                .find(|(seq, _)| !state.sending.contains(seq))
                .copied();
            let Some((seq, bytes)) = victim else { break };
            if Some(seq) == newest {
                break;
            }
            self.forget(state, seq, bytes);
            state.stats.dropped_batches += 1;
            state.stats.dropped_bytes += bytes;
            dropped += 1;
        }
        dropped
    }

    fn forget(&self, state: &mut State, seq: u64, bytes: u64) {
        // Already gone is fine: the point is that it is not sent.
        let _ = fs::remove_file(self.dir.join(file_name(seq)));
        state.queue.retain(|(s, _)| *s != seq);
        state.stats.batches -= 1;
        state.stats.bytes -= bytes;
    }

    /// The oldest batches, as many as fit in `max_bytes` on disk (at least one), marked as
    /// being sent; waits up to `wait` for one to arrive. An unreadable batch is dropped,
    /// counted, and reported as an error naming its file.
    pub fn take(&self, wait: Duration, max_bytes: u64) -> (Vec<(u64, Entry)>, Vec<io::Error>) {
        let mut state = self.lock();
        if state.queue.is_empty() && !wait.is_zero() {
            state = self
                .changed
                .wait_timeout(state, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let mut total = 0;
        let chosen: Vec<(u64, u64)> = (state.queue.iter())
            .take_while(|(_, bytes)| {
                total += bytes;
                total <= max_bytes || total == *bytes
            })
            .copied()
            .collect();
        state.sending = chosen.iter().map(|(seq, _)| *seq).collect();
        drop(state);
        let (mut entries, mut errors) = (Vec::new(), Vec::new());
        for (seq, bytes) in chosen {
            let path = self.dir.join(file_name(seq));
            let read = fs::read(&path).and_then(|b| decode(&b));
            match read {
                Ok(entry) => entries.push((seq, entry)),
                Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                    // Not ours to read, nor to throw away: set aside for that lantern.
                    let aside = path.with_extension("batch.newer");
                    let kept = fs::rename(&path, &aside);
                    let mut state = self.lock();
                    state.sending.retain(|s| *s != seq);
                    self.forget(&mut state, seq, bytes);
                    let what = match kept {
                        Ok(()) => format!("kept as {}", aside.display()),
                        Err(r) => format!("left in place ({r})"),
                    };
                    errors.push(io::Error::new(
                        e.kind(),
                        format!("{}: {e}; {what}", path.display()),
                    ));
                }
                Err(e) => {
                    let mut state = self.lock();
                    state.sending.retain(|s| *s != seq);
                    self.forget(&mut state, seq, bytes);
                    state.stats.dropped_batches += 1;
                    state.stats.dropped_bytes += bytes;
                    errors.push(io::Error::new(
                        e.kind(),
                        format!("{}: {e}; dropped", path.display()),
                    ));
                }
            }
        }
        (entries, errors)
    }

    /// The batches `seqs` were sent: removes them.
    pub fn sent(&self, seqs: &[u64]) {
        let mut state = self.lock();
        state.sending.clear();
        for &seq in seqs {
            if let Some(&(_, bytes)) = state.queue.iter().find(|(s, _)| *s == seq) {
                self.forget(&mut state, seq, bytes);
            }
        }
    }

    /// Sending failed: the batches stay first in line.
    pub fn failed(&self) {
        self.lock().sending.clear();
    }

    /// Wakes a sender waiting in [`take`](Self::take).
    pub fn wake(&self) {
        self.changed.notify_all();
    }

    /// How full it is.
    pub fn stats(&self) -> SpoolStats {
        self.lock().stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The oldest batch alone.
    fn one(spool: &Spool) -> (u64, Entry) {
        let (mut taken, errors) = spool.take(Duration::ZERO, 1);
        assert!(errors.is_empty() && taken.len() == 1);
        taken.remove(0)
    }

    fn entry(n: usize) -> Entry {
        Entry {
            pseudonyms: (0..n)
                .map(|i| PseudonymRow {
                    token: format!("t{i}"),
                    sealed: vec![1, 2, 3].into(),
                })
                .collect(),
            ..Entry::default()
        }
    }

    #[test]
    fn batches_come_back_in_order_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let spool = Spool::open(dir.path(), 1 << 20).unwrap();
            assert!(Spool::open(dir.path(), 1 << 20).is_err(), "locked");
            for n in 1..=3 {
                spool.push(&entry(n)).unwrap();
            }
            let (seq, first) = one(&spool);
            assert_eq!(first, entry(1));
            spool.sent(&[seq]);
        }
        std::fs::write(dir.path().join("00000000000000000009.tmp"), b"{").unwrap();
        let spool = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(spool.stats().batches, 2);
        assert_eq!(spool.found_below(), 3);
        let (seq, second) = one(&spool);
        assert_eq!(second, entry(2));
        spool.failed();
        assert_eq!(one(&spool).0, seq);
        spool.sent(&[seq]);
        spool.push(&entry(4)).unwrap();
        // Several at once, in order, as many as fit in the size asked for.
        let (two, errors) = spool.take(Duration::ZERO, u64::MAX);
        assert!(errors.is_empty());
        let got: Vec<Entry> = two.iter().map(|(_, e)| e.clone()).collect();
        assert_eq!(got, [entry(3), entry(4)]);
        spool.sent(&two.iter().map(|(s, _)| *s).collect::<Vec<_>>());
        assert!(spool.take(Duration::ZERO, u64::MAX).0.is_empty());
        assert!(!dir.path().join("00000000000000000009.tmp").exists());
    }

    #[test]
    fn past_the_bound_the_oldest_go_but_not_the_one_being_sent() {
        let dir = tempfile::tempdir().unwrap();
        let size = encode(&entry(10)).unwrap().len() as u64;
        let spool = Spool::open(dir.path(), size * 3).unwrap();
        for _ in 0..3 {
            assert_eq!(spool.push(&entry(10)).unwrap(), 0);
        }
        let (sending, _) = one(&spool);
        assert_eq!(spool.push(&entry(10)).unwrap(), 1);
        let stats = spool.stats();
        assert_eq!((stats.batches, stats.bytes), (3, size * 3));
        assert_eq!((stats.dropped_batches, stats.dropped_bytes), (1, size));
        spool.sent(&[sending]);
        let (next, _) = one(&spool);
        assert_eq!(next, sending + 2, "the one after it was dropped");
        let files = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(files, 3, "two batches and the lock");
    }

    #[test]
    fn an_unreadable_batch_is_dropped_with_its_name_and_the_next_one_follows() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), 1 << 20).unwrap();
        spool.push(&entry(1)).unwrap();
        spool.push(&entry(2)).unwrap();
        std::fs::write(dir.path().join(file_name(0)), b"LNTSPL05\x05").unwrap();
        let (entries, errors) = spool.take(Duration::ZERO, u64::MAX);
        let e = errors[0].to_string();
        assert!(
            e.contains("00000000000000000000.batch: ") && e.ends_with("; dropped"),
            "{e}"
        );
        assert_eq!(spool.stats().dropped_batches, 1);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].1, entry(2));
    }

    #[test]
    fn batches_the_previous_release_spooled_are_read_with_the_columns_added_since_empty() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema-v4/spool");
        let mut flows = Vec::new();
        let mut rows = 0;
        for file in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(file.unwrap().path()).unwrap();
            assert!(bytes.starts_with(b"LNTSPL01"));
            let entry = decode(&bytes).unwrap();
            rows += entry.rows();
            // What this release writes of it reads back the same.
            assert_eq!(decode(&encode(&entry).unwrap()).unwrap(), entry);
            flows.extend(entry.flows);
        }
        assert!(rows > 0 && !flows.is_empty());
        for flow in &flows {
            assert_eq!(flow.sensor, "s1");
            assert!(
                flow.batch_id != 0 && flow.ts_us > 1_700_000_000_000_000,
                "{flow:?}"
            );
            assert_eq!((&flow.ech_kind, &flow.name_alternatives), (&None, &None));
        }
        assert!(flows.iter().any(|f| f.ja4.is_some() && f.app_id.is_some()));
    }

    #[test]
    fn a_batch_of_schema_version_9_is_read_without_notices_and_this_one_with_them() {
        let notice = NoticeRow {
            kind: "new_app".into(),
            day: -1,
            subject: "openai-chatgpt".into(),
            threshold: Some(u64::MAX),
            flows: "1,2".into(),
            ..NoticeRow::default()
        };
        let with = Entry {
            notices: vec![notice],
            ..entry(2)
        };
        assert_eq!(decode(&encode(&with).unwrap()).unwrap(), with);
        // Version 9 wrote the same tables but the last, notices (this one writes an empty
        // one as a count of 0, a single byte).
        let mut v9 = encode(&entry(2)).unwrap();
        assert_eq!(v9.pop(), Some(0));
        v9[6..8].copy_from_slice(b"09");
        assert_eq!(decode(&v9).unwrap(), entry(2));
    }

    #[test]
    fn a_batch_of_a_newer_lantern_is_set_aside_not_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), 1 << 20).unwrap();
        spool.push(&entry(1)).unwrap();
        spool.push(&entry(2)).unwrap();
        let mut newer = encode(&entry(1)).unwrap();
        newer[6..8].copy_from_slice(b"99");
        std::fs::write(dir.path().join(file_name(0)), newer).unwrap();
        let (entries, errors) = spool.take(Duration::ZERO, u64::MAX);
        let e = errors[0].to_string();
        assert!(
            e.contains("written by a newer lantern (schema version 99); kept as "),
            "{e}"
        );
        assert_eq!(spool.stats().dropped_batches, 0);
        assert!(dir.path().join("00000000000000000000.batch.newer").exists());
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].1, entry(2));
    }
}
