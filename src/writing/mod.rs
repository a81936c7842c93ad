//! A thread that does one destination's writes in order, behind a bounded queue: the events
//! to their file or pipe, and batches to the SQLite file. The sequencer hands each item over
//! and goes on, unless the queue is full: then it waits, and the wait is counted. `sync`
//! returns once everything handed over is written and flushed. After the first failure the
//! thread writes nothing more, and every later call reports that failure (its kind kept, so a
//! closed pipe is still told as one).
//!
//! [`syslog`] sends events to a syslog collector, one RFC 5424 message each; whichever thread
//! writes the events calls it.

pub mod syslog;

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use std::io;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Where a writing thread writes.
pub trait Destination: Send + 'static {
    /// What is handed over.
    type Item: Send + 'static;
    /// Writes one item.
    fn write(&mut self, item: Self::Item) -> io::Result<()>;
    /// Makes every item written so far durable or visible (a flush).
    fn flush(&mut self) -> io::Result<()>;
}

enum Job<T> {
    Write(T),
    /// Flush, then answer.
    Sync(Sender<()>),
}

/// The first failure, as its kind and message.
type Failure = Arc<Mutex<Option<(io::ErrorKind, String)>>>;

/// The caller's end of a writing thread.
pub struct WritingThread<D: Destination> {
    jobs: Option<Sender<Job<D::Item>>>,
    thread: Option<JoinHandle<()>>,
    failed: Failure,
    /// Hand-overs that found the queue full and waited.
    waits: u64,
}

impl<D: Destination> std::fmt::Debug for WritingThread<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WritingThread")
            .field("waits", &self.waits)
            .finish_non_exhaustive()
    }
}

impl<D: Destination> WritingThread<D> {
    /// Starts a thread named `name` writing to `destination`, with at most `queued` items
    /// waiting for it.
    pub fn start(name: &str, queued: usize, destination: D) -> io::Result<WritingThread<D>> {
        let (jobs, queue) = bounded(queued);
        let failed = Failure::default();
        let seen = Arc::clone(&failed);
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || run(destination, queue, seen))?;
        Ok(WritingThread {
            jobs: Some(jobs),
            thread: Some(thread),
            failed,
            waits: 0,
        })
    }

    /// Hands `item` over, waiting (counted) while the queue is full; an earlier failure is
    /// told instead.
    pub fn send(&mut self, item: D::Item) -> io::Result<()> {
        self.failure()?;
        let Some(jobs) = &self.jobs else {
            return self.stopped();
        };
        let job = match jobs.try_send(Job::Write(item)) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full(job)) => job,
            Err(TrySendError::Disconnected(_)) => return self.stopped(),
        };
        self.waits += 1;
        match jobs.send(job) {
            Ok(()) => Ok(()),
            Err(_) => self.stopped(),
        }
    }

    /// Returns once every item handed over is written and flushed, or with the first failure.
    pub fn sync(&self) -> io::Result<()> {
        let (reply, done) = bounded(1);
        let asked = self.jobs.as_ref().map(|j| j.send(Job::Sync(reply)));
        match (asked, done.recv()) {
            (Some(Ok(())), Ok(())) => self.failure(),
            _ => self.stopped(),
        }
    }

    /// Hand-overs that waited because the thread was behind.
    pub fn waits(&self) -> u64 {
        self.waits
    }

    /// The first failure the thread met, if any.
    pub fn failure(&self) -> io::Result<()> {
        match &*self.failed.lock().unwrap_or_else(|e| e.into_inner()) {
            Some((kind, message)) => Err(io::Error::new(*kind, message.clone())),
            None => Ok(()),
        }
    }

    fn stopped(&self) -> io::Result<()> {
        self.failure()?;
        Err(io::Error::other("the writing thread stopped"))
    }
}

impl<D: Destination> Drop for WritingThread<D> {
    /// Waits for the thread to write and flush what it was handed.
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The thread: each item in order, a flush when asked and at the end; after a failure it
/// writes nothing more and keeps the failure for the caller.
fn run<D: Destination>(mut destination: D, queue: Receiver<Job<D::Item>>, failed: Failure) {
    let mut broken = false;
    let fail = |e: io::Error| {
        let mut slot = failed.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert((e.kind(), e.to_string()));
    };
    for job in queue {
        match job {
            Job::Write(item) if !broken => {
                if let Err(e) = destination.write(item) {
                    broken = true;
                    fail(e);
                }
            }
            Job::Write(_) => {}
            Job::Sync(reply) => {
                if !broken && let Err(e) = destination.flush() {
                    broken = true;
                    fail(e);
                }
                let _ = reply.send(());
            }
        }
    }
    if !broken {
        let _ = destination.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes numbers to a shared list; fails at `fail_at`.
    struct Numbers {
        seen: Arc<Mutex<Vec<u32>>>,
        fail_at: u32,
        slow: bool,
    }

    impl Destination for Numbers {
        type Item = u32;
        fn write(&mut self, n: u32) -> io::Result<()> {
            if self.slow {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            if n == self.fail_at {
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"));
            }
            self.seen.lock().unwrap().push(n);
            Ok(())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn items_arrive_in_order_waits_are_counted_and_a_failure_keeps_its_kind() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let numbers = Numbers {
            seen: Arc::clone(&seen),
            fail_at: 100,
            slow: true,
        };
        let mut thread = WritingThread::start("test-writer", 2, numbers).unwrap();
        for n in 0..50 {
            thread.send(n).unwrap();
        }
        thread.sync().unwrap();
        assert_eq!(*seen.lock().unwrap(), (0..50).collect::<Vec<_>>());
        assert!(
            thread.waits() > 0,
            "a slow destination never made a hand-over wait"
        );
        for n in 98..103 {
            let _ = thread.send(n);
        }
        let error = thread.sync().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
        assert_eq!(
            seen.lock().unwrap().last(),
            Some(&99),
            "nothing after the failure"
        );
        assert_eq!(
            thread.send(7).unwrap_err().kind(),
            io::ErrorKind::BrokenPipe
        );
    }
}
