//! Following a live log directory as Zeek and Suricata write it: each live name in the
//! directory (`conn.log`, `ssl.log`... Zeek's `current/`, and `eve.json`) is a stream, read by
//! polling, whole lines only (a last line without its newline waits for it).
//!
//! Each file is known by its device and inode, so a rename is seen for what it is: when the
//! name holds another file (Zeek's rotation into its archive, logrotate's `eve.json` to
//! `eve.json.1`), the old file, still open, is read to its end once the new one has data (a
//! writer may go on writing to the old one until it reopens), and only then is the new one
//! read. Archives (`*.gz`, Zeek's dated directories) are never read: their lines were read
//! from the live file.
//!
//! A stream keeps its last [`KEPT_FILES`] files (the live one and the one it was rotated
//! from) with a sequence number each; a [`Position`] is a line end in one of them. The
//! [`FollowState`] saved is those files and a position per stream; [`Follower::resume`]
//! finds the files again by inode, wherever they were renamed to in the directory, and reads
//! them from their start, so the caller can rebuild what it held (see
//! `pipeline::follow`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Files of a stream kept open and in the state: the live one and the one before it.
pub const KEPT_FILES: usize = 2;

/// Most bytes read from one stream in one poll, so every stream gets its turn.
const POLL_BYTES: usize = 4 << 20;

/// Where a stream was: the end of a line in its file numbered `seq`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Position {
    /// The file's sequence number within its stream.
    pub seq: u64,
    /// Bytes of it up to the end of the line.
    pub offset: u64,
}

/// A file as the state remembers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedFile {
    /// Its sequence number within its stream.
    pub seq: u64,
    /// Device and inode.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Where it was last seen.
    pub path: PathBuf,
}

/// A stream as the state remembers it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedStream {
    /// Its files, oldest first.
    pub files: Vec<SavedFile>,
    /// The end of the last line whose records the store holds.
    pub position: Option<Position>,
}

/// What is saved between runs: each stream (by its live name) and where it was.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowState {
    /// Streams by live name.
    pub streams: BTreeMap<String, SavedStream>,
}

impl FollowState {
    /// Reads a saved state; a missing file is an empty state.
    pub fn load(path: &Path) -> io::Result<FollowState> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(FollowState::default()),
            Err(e) => Err(e),
        }
    }

    /// Writes the state atomically: a temporary file beside it, synced, renamed over it.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let mut temp = path.as_os_str().to_owned();
        temp.push(".tmp");
        let temp = PathBuf::from(temp);
        let bytes = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        {
            let mut file = File::create(&temp)?;
            io::Write::write_all(&mut file, &bytes)?;
            file.sync_all()?;
        }
        std::fs::rename(&temp, path)
    }
}

/// One file of a stream, open, read up to `offset`.
struct Tail {
    seq: u64,
    dev: u64,
    ino: u64,
    path: PathBuf,
    file: File,
    /// Bytes read and handed on as whole lines (or skipped as too long).
    offset: u64,
    /// The start of a line whose end has not been written yet.
    partial: Vec<u8>,
    /// Inside a line longer than the limit, skipping to its end.
    skipping: bool,
}

/// A stream: a live name and its files, oldest first; the last is the one at the name.
struct Stream {
    name: String,
    files: Vec<Tail>,
    /// Index of the file being read.
    reading: usize,
    next_seq: u64,
}

/// What a poll found, line by line.
pub enum Found<'a> {
    /// A whole line of stream `stream`, ending at `end`.
    Line(&'a [u8], Position),
    /// A line longer than [`crate::logs::MAX_LINE`], skipped.
    TooLong,
}

/// A directory followed: one stream per live name.
pub struct Follower {
    dir: PathBuf,
    wanted: fn(&str) -> bool,
    streams: Vec<Stream>,
    /// Problems met (a file that could not be opened or read), taken by the caller.
    pub errors: Vec<String>,
}

impl Follower {
    /// Follows the live names in `dir` that `wanted` accepts, from the start of each file.
    pub fn new(dir: &Path, wanted: fn(&str) -> bool) -> Follower {
        Follower {
            dir: dir.to_path_buf(),
            wanted,
            streams: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Follows `dir` again from `state`: each saved file is found by its inode in `dir` (or a
    /// directory in it) and read from its start. Returns the saved files that were not found.
    pub fn resume(dir: &Path, wanted: fn(&str) -> bool, state: &FollowState) -> (Follower, usize) {
        let mut follower = Follower::new(dir, wanted);
        let inodes = inodes_in(dir);
        let mut missing = 0;
        for (name, saved) in &state.streams {
            let mut stream = Stream::new(name);
            for f in &saved.files {
                let found = inodes
                    .get(&(f.dev, f.ino))
                    .and_then(|p| Tail::open(p, 0).ok());
                match found {
                    Some(mut tail) => {
                        tail.seq = f.seq;
                        stream.files.push(tail);
                    }
                    None => missing += 1,
                }
                stream.next_seq = stream.next_seq.max(f.seq + 1);
            }
            follower.streams.push(stream);
        }
        (follower, missing)
    }

    /// The stream names, in the order of their numbers.
    pub fn names(&self) -> Vec<&str> {
        self.streams.iter().map(|s| s.name.as_str()).collect()
    }

    /// Looks for renamed files, then reads each stream's new whole lines,
    /// handing each to `found` with the stream's number. Returns the bytes read.
    pub fn poll(&mut self, found: &mut dyn FnMut(usize, Found<'_>)) -> u64 {
        let mut read = 0;
        for (i, stream) in self.streams.iter_mut().enumerate() {
            stream.rotate(&self.dir, &mut self.errors);
            match stream.read(&mut |f| found(i, f)) {
                Ok(n) => read += n,
                Err(e) => self.errors.push(format!("{}: {e}", stream.name)),
            }
        }
        read
    }

    /// Whether stream `name` has its file numbered `seq` open.
    pub fn has(&self, name: &str, seq: u64) -> bool {
        (self.streams.iter()).any(|s| s.name == name && s.files.iter().any(|t| t.seq == seq))
    }

    /// Adds a stream for each live name not yet followed.
    pub fn scan(&mut self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.') && (self.wanted)(n))
            .collect();
        names.sort();
        for name in names {
            if !self.streams.iter().any(|s| s.name == name) {
                self.streams.push(Stream::new(&name));
            }
        }
    }

    /// The state to save: each stream's files and the positions given (by stream number).
    pub fn state(&self, positions: &[Option<Position>]) -> FollowState {
        let streams = self.streams.iter().enumerate().map(|(i, s)| {
            let files = s.files.iter().map(|t| SavedFile {
                seq: t.seq,
                dev: t.dev,
                ino: t.ino,
                path: t.path.clone(),
            });
            let position = positions.get(i).copied().flatten();
            let saved = SavedStream {
                files: files.collect(),
                position,
            };
            (s.name.clone(), saved)
        });
        FollowState {
            streams: streams.collect(),
        }
    }
}

/// Every regular file in `dir` and the directories in it, by device and inode.
fn inodes_in(dir: &Path) -> BTreeMap<(u64, u64), PathBuf> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![(dir.to_path_buf(), 0)];
    while let Some((dir, depth)) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(|e| e.ok()) {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() && depth == 0 {
                dirs.push((entry.path(), 1));
            } else if meta.is_file() {
                out.entry((meta.dev(), meta.ino())).or_insert(entry.path());
            }
        }
    }
    out
}

impl Tail {
    fn open(path: &Path, seq: u64) -> io::Result<Tail> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        Ok(Tail {
            seq,
            dev: meta.dev(),
            ino: meta.ino(),
            path: path.to_path_buf(),
            file,
            offset: 0,
            partial: Vec::new(),
            skipping: false,
        })
    }

    /// Reads whole lines from `offset` up to `budget` bytes; returns the bytes read.
    fn read(&mut self, budget: usize, found: &mut dyn FnMut(Found<'_>, u64)) -> io::Result<u64> {
        let len = self.file.metadata()?.len();
        let consumed = self.offset + self.partial.len() as u64;
        if len < consumed {
            // Truncated in place (copytruncate): read it again from its start.
            self.offset = 0;
            self.partial.clear();
            self.skipping = false;
        }
        let start = self.offset + self.partial.len() as u64;
        let want = (len - start.min(len)).min(budget as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let mut chunk = vec![0; want];
        self.file.seek(SeekFrom::Start(start))?;
        let n = read_full(&mut self.file, &mut chunk)?;
        chunk.truncate(n);
        self.lines(&chunk, found);
        Ok(n as u64)
    }

    /// Splits `chunk`, following the partial line held, into whole lines.
    fn lines(&mut self, chunk: &[u8], found: &mut dyn FnMut(Found<'_>, u64)) {
        let mut rest = chunk;
        while let Some(at) = memchr::memchr(b'\n', rest) {
            let (line, after) = rest.split_at(at + 1);
            rest = after;
            let skipped = self.skipping || self.partial.len() + line.len() > super::MAX_LINE + 2;
            self.offset += (self.partial.len() + line.len()) as u64;
            if skipped {
                found(Found::TooLong, self.offset);
            } else if self.partial.is_empty() {
                found(
                    Found::Line(trim_end(line), Position::default()),
                    self.offset,
                );
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(line);
                found(
                    Found::Line(trim_end(&whole), Position::default()),
                    self.offset,
                );
            }
            self.partial.clear();
            self.skipping = false;
        }
        if self.skipping || self.partial.len() + rest.len() > super::MAX_LINE + 2 {
            // Skipped bytes count as read; the line's end will say it was too long.
            self.offset += (self.partial.len() + rest.len()) as u64;
            self.partial.clear();
            self.skipping = true;
        } else {
            self.partial.extend_from_slice(rest);
        }
    }
}

fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A line without its line end.
fn trim_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

impl Stream {
    fn new(name: &str) -> Stream {
        Stream {
            name: name.to_string(),
            files: Vec::new(),
            reading: 0,
            next_seq: 0,
        }
    }

    /// Starts following the file now at the live name if it is not the newest one followed.
    fn rotate(&mut self, dir: &Path, errors: &mut Vec<String>) {
        let path = dir.join(&self.name);
        let Ok(meta) = std::fs::metadata(&path) else {
            return;
        };
        let known = (self.files.last()).is_some_and(|t| (t.dev, t.ino) == (meta.dev(), meta.ino()));
        if known
            || self
                .files
                .iter()
                .any(|t| (t.dev, t.ino) == (meta.dev(), meta.ino()))
        {
            return;
        }
        match Tail::open(&path, self.next_seq) {
            Ok(tail) => {
                self.next_seq += 1;
                self.files.push(tail);
            }
            Err(e) => errors.push(format!("{}: {e}", path.display())),
        }
    }

    /// Reads the file being read; a file with a newer one after it is finished (read to its
    /// end) once the newer one has data, then the newer one is read.
    fn read(&mut self, found: &mut dyn FnMut(Found<'_>)) -> io::Result<u64> {
        let mut total = 0;
        loop {
            if self.reading >= self.files.len() {
                return Ok(total);
            }
            let newer_started = (self.files.get(self.reading + 1))
                .is_some_and(|n| n.file.metadata().is_ok_and(|m| m.len() > 0));
            let tail = &mut self.files[self.reading];
            let seq = tail.seq;
            let n = tail.read(POLL_BYTES, &mut |f, offset| match f {
                Found::Line(line, _) => found(Found::Line(line, Position { seq, offset })),
                Found::TooLong => found(Found::TooLong),
            })?;
            total += n;
            if !newer_started {
                return Ok(total);
            }
            if n > 0 {
                continue;
            }
            // Finished: its writer went on to the newer file.
            self.reading += 1;
            if self.files.len() > KEPT_FILES && self.reading > 0 {
                self.files.remove(0);
                self.reading -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lines(follower: &mut Follower) -> Vec<(usize, String, Position)> {
        let mut out = Vec::new();
        follower.scan();
        follower.poll(&mut |i, f| {
            if let Found::Line(line, at) = f {
                out.push((i, String::from_utf8_lossy(line).into_owned(), at));
            }
        });
        out
    }

    #[test]
    fn whole_lines_only_and_a_renamed_file_is_finished_before_the_new_one() {
        let dir = std::env::temp_dir().join(format!("lantern-follow-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let live = dir.join("eve.json");
        let mut old = File::create(&live).unwrap();
        old.write_all(b"a\nb").unwrap();
        let mut f = Follower::new(&dir, |n| n == "eve.json");
        let got = lines(&mut f);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].2, Position { seq: 0, offset: 2 });
        std::fs::rename(&live, dir.join("eve.json.1")).unwrap();
        old.write_all(b"b\nc\n").unwrap();
        let mut new = File::create(&live).unwrap();
        new.write_all(b"d\n").unwrap();
        old.write_all(b"e\n").unwrap();
        let got: Vec<String> = lines(&mut f).into_iter().map(|l| l.1).collect();
        assert_eq!(got, ["bb", "c", "e", "d"]);
        let state = f.state(&[Some(Position { seq: 1, offset: 2 })]);
        assert_eq!(state.streams["eve.json"].files.len(), 2);
        let (mut again, missing) = Follower::resume(&dir, |n| n == "eve.json", &state);
        assert_eq!(missing, 0);
        let got: Vec<String> = lines(&mut again).into_iter().map(|l| l.1).collect();
        assert_eq!(got, ["a", "bb", "c", "e", "d"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
