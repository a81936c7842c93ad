//! Events: one per flow, lookup, DHCP or Kerberos message and notice, as JSON lines in the
//! lantern format ([`lantern`], docs/events.md) or as OCSF, to a file or pipe and, each as one
//! RFC 5424 message, to a syslog collector ([`Sinks`]).
//!
//! The sequencer encodes nothing. For each record it keeps what the stages decided
//! ([`facts`]) and, at the end of its epoch, hands the epoch's records and those facts over as
//! one [`Batch`]; the events thread ([`WritingThread`]) turns each back into an [`Event`],
//! encodes it in the chosen [`Format`] and writes it. So the sequencer never waits on encoding,
//! nor on the file or the pipe, unless [`QUEUED`] batches are already waiting. A write error
//! is reported at the next hand-over or flush; a flush returns once every event before it is
//! written out.

pub mod facts;
pub mod lantern;
pub mod ocsf;

pub use facts::{DhcpShown, DnsFacts, FlowFacts, KerberosShown};

use super::notice::{Notice, NoticeSeverity};
use super::{DnsView, FlowView};
use crate::capture::Timestamp;
use crate::catalog::Catalog;
use crate::proto::{DhcpRecord, KerberosRecord, Record};
use crate::writing::syslog::{Counters as SyslogCounters, Message, Severity, Syslog};
use crate::writing::{Destination, WritingThread};
use crossbeam_channel::{Receiver, Sender, bounded};
use std::fmt;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};

crate::vocabulary! {
    /// The shape events are written in.
    pub enum Format {
        /// lantern's own JSON lines (docs/events.md).
        Lantern = "lantern",
        /// OCSF 1.8.0 JSON lines: Network, HTTP, DNS and DHCP Activity, Authentication,
        /// Detection Finding ([`ocsf`]).
        Ocsf = "ocsf",
    }
}

/// One event's data, as the encoders take it.
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    /// A flow record.
    Flow(FlowView<'a>),
    /// A DNS lookup.
    Dns(DnsView<'a>),
    /// A DHCP message and its names as shown.
    Dhcp(&'a DhcpRecord, &'a DhcpShown),
    /// A Kerberos exchange and its names as shown.
    Kerberos(&'a KerberosRecord, &'a KerberosShown),
    /// A notice.
    Notice(&'a Notice),
}

impl Event<'_> {
    /// Its `event_type` in the lantern format (the syslog MSGID too).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Flow(_) => "flow",
            Event::Dns(_) => "dns",
            Event::Dhcp(..) => "dhcp",
            Event::Kerberos(..) => "kerberos",
            Event::Notice(_) => "notice",
        }
    }

    /// When it happened (a flow's start).
    pub fn ts(&self) -> Timestamp {
        match self {
            Event::Flow(v) => v.record.first,
            Event::Dns(v) => v.record.ts,
            Event::Dhcp(r, _) => r.origin.ts,
            Event::Kerberos(r, _) => r.origin.ts,
            Event::Notice(n) => n.ts,
        }
    }
}

/// Where a record sits in its epoch: its part and its place there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// The part (a worker's hand-in).
    pub part: u32,
    /// The place within the part.
    pub index: u32,
}

/// One event of a batch: a record's facts, by its position, or a notice.
#[derive(Debug)]
enum Item {
    Flow(Position, FlowFacts),
    Dns(Position, DnsFacts),
    Dhcp(Position, Box<DhcpShown>),
    Kerberos(Position, Box<KerberosShown>),
    Notice(Box<Notice>),
}

/// An epoch's events: its records, the catalog they were classified with, and the facts of
/// each event in the order they are written.
struct Batch {
    parts: Vec<Vec<Record>>,
    catalog: Arc<Catalog>,
    items: Vec<Item>,
}

impl Batch {
    /// Encodes every event of the batch, in order, with `encode`.
    fn each(&self, mut encode: impl FnMut(&Event<'_>) -> io::Result<()>) -> io::Result<()> {
        let record = |at: &Position| self.parts.get(at.part as usize)?.get(at.index as usize);
        for item in &self.items {
            let event = match (item, item.position().and_then(|at| record(&at))) {
                (Item::Flow(_, f), Some(Record::Flow(r))) => Event::Flow(f.view(r, &self.catalog)),
                (Item::Dns(_, f), Some(Record::Dns(r))) => Event::Dns(f.view(r, &self.catalog)),
                (Item::Dhcp(_, s), Some(Record::Dhcp(r))) => Event::Dhcp(r, s),
                (Item::Kerberos(_, s), Some(Record::Kerberos(r))) => Event::Kerberos(r, s),
                (Item::Notice(n), _) => Event::Notice(n),
                _ => unreachable!("an event's position names a record of its kind"),
            };
            encode(&event)?;
        }
        Ok(())
    }
}

impl Item {
    fn position(&self) -> Option<Position> {
        match self {
            Item::Flow(at, _) | Item::Dns(at, _) | Item::Dhcp(at, _) | Item::Kerberos(at, _) => {
                Some(*at)
            }
            Item::Notice(_) => None,
        }
    }
}

/// Writes events: gathers each epoch's facts on the sequencer, and encodes and writes them on a
/// thread of its own.
pub struct EventWriter {
    items: Vec<Item>,
    thread: WritingThread<Encoding>,
    /// Batches the events thread has written, dropped on the sequencer's thread: glibc's
    /// malloc takes the allocating thread's arena lock for every free from another thread,
    /// and the records and facts were allocated here, so freeing them there slows both.
    done: Receiver<Batch>,
    syslog: bool,
    records: bool,
    syslog_counters: Arc<Mutex<SyslogCounters>>,
}

/// Epochs that may wait for the events thread.
pub const QUEUED: usize = 4;

/// Bytes of encoded events gathered before they are written.
const CHUNK: usize = 256 * 1024;

/// Where events go: a file or pipe (`--events`), a syslog collector (`--syslog`), or both.
pub struct Sinks {
    /// The file or pipe.
    pub out: Option<Box<dyn Write + Send>>,
    /// The collector.
    pub syslog: Option<SyslogSink>,
}

/// A syslog collector and which events it gets.
pub struct SyslogSink {
    /// The collector's connection.
    pub syslog: Syslog,
    /// Every event, or only notices.
    pub every_event: bool,
}

/// The events thread's end: the format, where events go, and the bytes not yet written.
struct Encoding {
    format: Format,
    sinks: Sinks,
    buf: Vec<u8>,
    /// Batches written, on their way back to the sequencer's thread.
    done: Sender<Batch>,
    /// What syslog delivery counted, as of the latest batch.
    syslog_counters: Arc<Mutex<SyslogCounters>>,
}

impl Encoding {
    /// Encodes one event at the end of `buf`, sends it to syslog if it goes there, and writes
    /// `buf` out once it is full (or drops it when there is no file).
    fn event(&mut self, event: &Event<'_>) -> io::Result<()> {
        let start = self.buf.len();
        match self.format {
            Format::Lantern => lantern::encode(event, &mut self.buf)?,
            Format::Ocsf => ocsf::encode(event, &mut self.buf)?,
        }
        if let Some(sink) = &mut self.sinks.syslog {
            sink.send(event, &self.buf[start..]);
        }
        match &mut self.sinks.out {
            Some(out) => {
                self.buf.push(b'\n');
                if self.buf.len() >= CHUNK {
                    out.write_all(&self.buf)?;
                    self.buf.clear();
                }
            }
            None => self.buf.clear(),
        }
        Ok(())
    }

    fn share_counters(&self) {
        if let (Some(sink), Ok(mut shared)) = (&self.sinks.syslog, self.syslog_counters.lock()) {
            *shared = sink.syslog.counters().clone();
        }
    }
}

impl SyslogSink {
    /// Sends `json`, the encoding of `event`, if this collector takes it. A message that could
    /// not be sent is counted by the sender; the events go on.
    fn send(&mut self, event: &Event<'_>, json: &[u8]) {
        let severity = match event {
            Event::Notice(n) => match n.severity {
                NoticeSeverity::Low => Severity::Notice,
                NoticeSeverity::Medium => Severity::Warning,
                NoticeSeverity::High => Severity::Error,
            },
            _ if self.every_event => Severity::Informational,
            _ => return,
        };
        let ts = event.ts();
        let _ = self.syslog.send(Message {
            severity,
            secs: ts.secs(),
            micros: ts.subsec_nanos() / 1000,
            msgid: event.kind(),
            msg: json,
        });
    }
}

impl Destination for Encoding {
    type Item = Batch;

    fn write(&mut self, batch: Batch) -> io::Result<()> {
        let written = batch.each(|event| self.event(event));
        self.share_counters();
        // Freed where allocated (see `EventWriter::done`); dropped here only if that queue is full.
        let _ = self.done.try_send(batch);
        written
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Some(out) = &mut self.sinks.out {
            out.write_all(&self.buf)?;
            out.flush()?;
        }
        self.buf.clear();
        self.share_counters();
        Ok(())
    }
}

impl fmt::Debug for EventWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventWriter")
    }
}

impl EventWriter {
    /// A writer of `format` to `sinks`, by a thread of its own (buffer a file or pipe: a write
    /// per 256 KiB of events otherwise).
    pub fn new(format: Format, sinks: Sinks) -> EventWriter {
        let syslog_counters = Arc::default();
        let syslog = sinks.syslog.is_some();
        let records = sinks.out.is_some() || sinks.syslog.as_ref().is_some_and(|s| s.every_event);
        let (give_back, done) = bounded(QUEUED + 1);
        let encoding = Encoding {
            format,
            sinks,
            done: give_back,
            buf: Vec::with_capacity(CHUNK + 64 * 1024),
            syslog_counters: Arc::clone(&syslog_counters),
        };
        let thread = WritingThread::start("lantern-events", QUEUED, encoding)
            .expect("failed to start the events thread");
        EventWriter {
            items: Vec::new(),
            thread,
            done,
            syslog,
            records,
            syslog_counters,
        }
    }

    /// Whether events go to a syslog collector.
    pub fn sends_syslog(&self) -> bool {
        self.syslog
    }

    /// Whether every record's event is wanted (a file or pipe, or syslog with every event),
    /// rather than notices only: then records' facts are not even kept.
    pub fn writes_records(&self) -> bool {
        self.records
    }

    /// What syslog delivery counted, as of the latest batch the events thread wrote.
    pub fn syslog_counters(&self) -> SyslogCounters {
        self.syslog_counters
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default()
    }

    /// Keeps a flow's event, its record at `at`.
    pub fn flow(&mut self, view: &FlowView<'_>, at: Position, catalog: &Catalog) {
        let facts = FlowFacts::of(view, catalog);
        self.items.push(Item::Flow(at, facts));
    }

    /// Keeps a DNS lookup's event, its record at `at`.
    pub fn dns(&mut self, view: &DnsView<'_>, at: Position, catalog: &Catalog) {
        let facts = DnsFacts::of(view, catalog);
        self.items.push(Item::Dns(at, facts));
    }

    /// Keeps a DHCP message's event, its record at `at`.
    pub fn dhcp(&mut self, shown: DhcpShown, at: Position) {
        self.items.push(Item::Dhcp(at, Box::new(shown)));
    }

    /// Keeps a Kerberos exchange's event, its record at `at`.
    pub fn kerberos(&mut self, shown: KerberosShown, at: Position) {
        self.items.push(Item::Kerberos(at, Box::new(shown)));
    }

    /// Keeps a notice's event.
    pub fn notice(&mut self, notice: Notice) {
        self.items.push(Item::Notice(Box::new(notice)));
    }

    /// Hands the epoch's events, with its records (`parts`, as positions name them) and the
    /// catalog they were classified with, to the events thread.
    pub fn hand_over(&mut self, parts: Vec<Vec<Record>>, catalog: &Arc<Catalog>) -> io::Result<()> {
        while let Ok(written) = self.done.try_recv() {
            drop(written);
        }
        if self.items.is_empty() {
            return Ok(());
        }
        let batch = Batch {
            parts,
            catalog: Arc::clone(catalog),
            items: std::mem::take(&mut self.items),
        };
        self.thread.send(batch)
    }

    /// Writes out every event handed over (returns once they are written and flushed).
    pub fn flush(&mut self) -> io::Result<()> {
        self.thread.sync()
    }
}
