//! The SHA-256 of a capture file, computed from the bytes the reader reads, in a thread of its
//! own, so that a replay into a store reads each file once and its hashing costs no time on the
//! reader's path (SHA-NI through `sha2` where the CPU has it, about 2 GB/s here).
//!
//! The reader hands the hashing thread each run of bytes it reads as a shared view of its
//! buffer (no copy); a buffer the hashing thread holds last comes back to the reader for reuse.
//! The queue is bounded: a reader that outruns the hash waits, it never drops bytes.
//!
//! [`quick_key`] is the quick key that decides before a replay whether a file may be one
//! the store already holds: the SHA-256 of its size and its first and last [`QUICK_BLOCK`]
//! bytes. Files with different keys differ; files with the same key are compared by the full
//! hash before anything is written.

use crossbeam_channel::{Receiver, Sender, bounded};
use sha2::{Digest, Sha256};
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

/// Bytes of each end of a file in its [`quick_key`].
pub const QUICK_BLOCK: u64 = 64 * 1024;

/// Runs of bytes the hashing thread may have queued (each at most a reader buffer, 1 MiB).
const QUEUE: usize = 16;

/// A run of bytes read: a view of the reader's buffer.
pub(super) type Run = (Arc<Vec<u8>>, Range<usize>);

/// What the reader keeps to feed the hashing thread.
pub(super) struct Tap {
    pub runs: Sender<Run>,
    /// Buffers the hashing thread was the last to hold.
    pub returned: Receiver<Vec<u8>>,
}

/// A file's hash being computed; [`finish`](FileHash::finish) once the reader is done.
#[derive(Debug)]
pub struct FileHash {
    thread: JoinHandle<(u64, [u8; 32])>,
}

impl FileHash {
    /// Starts the hashing thread; the reader gets the other end.
    pub(super) fn start() -> io::Result<(FileHash, Tap)> {
        let (runs, queued) = bounded::<Run>(QUEUE);
        let (give_back, returned) = bounded::<Vec<u8>>(4);
        let thread = std::thread::Builder::new()
            .name("lantern-sha256".into())
            .spawn(move || {
                let mut hasher = Sha256::new();
                let mut size = 0u64;
                for (buffer, range) in queued {
                    size += range.len() as u64;
                    hasher.update(&buffer[range]);
                    if let Ok(buffer) = Arc::try_unwrap(buffer) {
                        let _ = give_back.try_send(buffer);
                    }
                }
                (size, hasher.finalize().into())
            })?;
        Ok((FileHash { thread }, Tap { runs, returned }))
    }

    /// The size and hex SHA-256 of every byte the reader read (the reader and its tap must be
    /// gone, or this waits for them).
    pub fn finish(self) -> (u64, String) {
        let (size, digest) = self.thread.join().expect("the hashing thread panicked");
        (size, hex(&digest))
    }
}

fn hex(digest: &[u8]) -> String {
    let mut out = String::with_capacity(64);
    crate::text::push_hex(&mut out, digest);
    out
}

/// The size and hex SHA-256 of a whole file, read on its own (for a file whose quick key
/// matches one in the store, which must be decided before it is replayed).
pub fn sha256_file(path: &Path) -> io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((size, hex(&hasher.finalize())))
}

/// The size and quick key of a file: hex SHA-256 of its size (8 bytes, little-endian), its
/// first and its last [`QUICK_BLOCK`] bytes (overlapping in a small file). Reads at most 128 KiB.
pub fn quick_key(path: &Path) -> io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let mut hasher = Sha256::new();
    hasher.update(size.to_le_bytes());
    let mut block = vec![0u8; QUICK_BLOCK as usize];
    for start in [0, size.saturating_sub(QUICK_BLOCK)] {
        file.seek(SeekFrom::Start(start))?;
        let want = QUICK_BLOCK.min(size) as usize;
        file.read_exact(&mut block[..want])?;
        hasher.update(&block[..want]);
    }
    Ok((size, hex(&hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quick_key_sees_size_and_both_ends_but_not_the_middle() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        };
        let base: Vec<u8> = (0..400_000u32).map(|i| (i % 251) as u8).collect();
        let a = write("a", &base);
        let key = quick_key(&a).unwrap();
        assert_eq!(key.0, 400_000);
        let mut middle = base.clone();
        middle[200_000] ^= 1;
        assert_eq!(quick_key(&write("middle", &middle)).unwrap(), key);
        let mut end = base.clone();
        end[399_999] ^= 1;
        assert_ne!(quick_key(&write("end", &end)).unwrap(), key);
        let mut start = base.clone();
        start[0] ^= 1;
        assert_ne!(quick_key(&write("start", &start)).unwrap(), key);
        assert_ne!(
            quick_key(&write("longer", &[&base[..], b"x"].concat())).unwrap(),
            key
        );
        // A file smaller than a block is read whole, twice.
        let small = quick_key(&write("small", b"tiny")).unwrap();
        assert_eq!(small.0, 4);
        assert_eq!(sha256_file(&a).unwrap().0, 400_000);
    }
}
