//! Output: what a classified record becomes: an event (in lantern's format or OCSF, to a file,
//! a pipe or syslog), notices, evidence rows for the store, hourly rollups and the end-of-run
//! summary.
//!
//! The stage receives [`FlowView`]s and [`DnsView`]s (a record plus what naming, the catalog and
//! identity said about it). Every flow and lookup is kept for the [`events`] thread, which
//! encodes and writes them; the summary counts every one; hourly [`rollup`]s are gathered for
//! AI-related ones (an app matched, or a candidate) and [`coverage`] for every flow, by how it
//! was named; the [`notice`] rules raise notices from flows. The store side makes its rows of
//! these (`store::Pending`): output knows nothing of the store, and asks it what notices were
//! raised before through [`notice::rules::Remembered`].

pub mod coverage;
pub mod events;
pub mod notice;
pub mod rollup;
pub mod summary;

pub use coverage::{Coverage, CoverageKey, CoverageSums};
pub use events::{EventWriter, Format, Position};
pub use rollup::{Rollup, RollupKey, Rollups};
pub use summary::{Summary, new_table};

use crate::catalog::{Catalog, Identified};
use crate::identity::{Identity, Pseudonymizer, UserKind};
use crate::naming::{EncryptedDns, MAX_ALTERNATIVES};
use crate::policy::Status;
use crate::proto::mcp::Mcp;
use crate::proto::{DhcpRecord, DnsRecord, FlowRecord, KerberosRecord, Record};
use crate::proto::{EchKind, NameSource};
use crate::software::Software;
use events::{DhcpShown, KerberosShown};
use notice::Notice;
use std::io;
use std::sync::Arc;

/// A flow with everything the stages before output decided about it.
#[derive(Clone, Copy, Debug)]
pub struct FlowView<'a> {
    /// The flow.
    pub record: &'a FlowRecord,
    /// Its server name.
    pub server_name: Option<&'a str>,
    /// How the name was known.
    pub name_source: NameSource,
    /// For a name from DNS, the other names in force for the address at the flow's start.
    pub name_alternatives: [Option<&'a str>; MAX_ALTERNATIVES],
    /// What the ClientHello's ECH extension was taken for.
    pub ech: EchKind,
    /// Who the client is.
    pub identity: &'a Identity,
    /// The AI app, if the name (or, for a local model server, the request) is catalogued.
    pub app: Option<Identified<'a>>,
    /// The app's status under the policy, for this user.
    pub status: Status,
    /// The name looks like an AI service but is not catalogued.
    pub candidate: bool,
    /// The client software, from the ClientHello or the `User-Agent`.
    pub software: Software,
    /// What the first request said of MCP, for MCP over plaintext HTTP.
    pub mcp: Option<&'a Mcp>,
    /// The flow carries encrypted DNS (its client resolves names where the sensor cannot see).
    pub encrypted_dns: Option<EncryptedDns>,
}

impl FlowView<'_> {
    /// How the user used the app: person, service, agent (a program) or unknown.
    pub fn user_kind(&self) -> UserKind {
        let category = self.app.map(|a| a.app.category);
        self.identity.kind(category, self.software.kind)
    }
}

/// A DNS lookup with everything the stages before output decided about it.
#[derive(Clone, Copy, Debug)]
pub struct DnsView<'a> {
    /// The lookup.
    pub record: &'a DnsRecord,
    /// Who the client is.
    pub identity: &'a Identity,
    /// The AI app, if the query name is catalogued.
    pub app: Option<Identified<'a>>,
    /// The app's status under the policy, for this user.
    pub status: Status,
    /// The query name looks like an AI service but is not catalogued.
    pub candidate: bool,
}

impl DnsView<'_> {
    /// How the user used the app (a lookup says nothing of the software).
    pub fn user_kind(&self) -> UserKind {
        let category = self.app.map(|a| a.app.category);
        self.identity.kind(category, crate::software::Kind::Unknown)
    }
}

/// The output stage: events, evidence, rollups and the summary.
#[derive(Debug)]
pub struct Output {
    events: Option<EventWriter>,
    /// Events are not written (records read again to rebuild state, see `set_muted`).
    muted: bool,
    summary: Summary,
    rollups: Rollups,
    coverage: CoverageSums,
}

impl Output {
    /// An output stage writing events to `events`, if given.
    pub fn new(events: Option<EventWriter>) -> Output {
        Output {
            events,
            muted: false,
            summary: Summary::default(),
            rollups: Rollups::default(),
            coverage: CoverageSums::default(),
        }
    }

    /// Outputs one flow, its record at `at` in its epoch.
    pub fn flow(&mut self, view: &FlowView<'_>, at: Position, catalog: &Catalog) {
        if let Some(events) = self.record_events() {
            events.flow(view, at, catalog);
        }
        self.summary.flow(view);
        self.coverage.flow(view);
        if view.app.is_some() || view.candidate {
            self.rollups.flow(view);
        }
    }

    /// Outputs one DNS lookup, its record at `at` in its epoch.
    pub fn dns(&mut self, view: &DnsView<'_>, at: Position, catalog: &Catalog) {
        if let Some(events) = self.record_events() {
            events.dns(view, at, catalog);
        }
        self.summary.dns(view);
        if view.app.is_some() || view.candidate {
            self.rollups.dns(view);
        }
    }

    /// Outputs a DHCP message (an event; identity keeps what it says), its record at `at`.
    pub fn dhcp(
        &mut self,
        record: &DhcpRecord,
        pseudonyms: Option<&mut Pseudonymizer>,
        at: Position,
    ) {
        self.summary.identity_messages += 1;
        if let Some(events) = self.record_events() {
            events.dhcp(DhcpShown::of(record, pseudonyms), at);
        }
    }

    /// Outputs a Kerberos exchange (an event; identity keeps what it says), its record at `at`.
    pub fn kerberos(
        &mut self,
        record: &KerberosRecord,
        pseudonyms: Option<&mut Pseudonymizer>,
        at: Position,
    ) {
        self.summary.identity_messages += 1;
        if let Some(events) = self.record_events() {
            events.kerberos(KerberosShown::of(record, pseudonyms), at);
        }
    }

    /// Outputs a notice.
    pub fn notice(&mut self, notice: Notice) {
        if let Some(events) = self.events() {
            events.notice(notice);
        }
    }

    /// Ends an epoch: its events, with its records (`parts`) and the catalog they were
    /// classified with, go to the events thread.
    pub fn end_epoch(&mut self, parts: Vec<Vec<Record>>, catalog: &Arc<Catalog>) -> io::Result<()> {
        match self.events() {
            Some(events) => events.hand_over(parts, catalog),
            None => Ok(()),
        }
    }

    /// The events writer, unless there is none or it is muted.
    fn events(&mut self) -> Option<&mut EventWriter> {
        self.events.as_mut().filter(|_| !self.muted)
    }

    /// The events writer, if it writes every record's event (not only notices).
    fn record_events(&mut self) -> Option<&mut EventWriter> {
        self.events().filter(|e| e.writes_records())
    }

    /// The hourly coverage gathered since the last call, sorted by key.
    pub fn take_coverage(&mut self) -> Vec<(CoverageKey, Coverage)> {
        self.coverage.drain()
    }

    /// The hourly rollups gathered since the last call, sorted by key.
    pub fn take_rollups(&mut self) -> Vec<(RollupKey, Rollup)> {
        self.rollups.drain()
    }

    /// What syslog delivery counted, when events go to a collector.
    pub fn syslog_counters(&self) -> Option<crate::writing::syslog::Counters> {
        let events = self.events.as_ref()?;
        events.sends_syslog().then(|| events.syslog_counters())
    }

    /// Whether every record's event is written (to a file, a pipe, or syslog with
    /// `--syslog-events all`), not only notices.
    pub fn writes_records(&self) -> bool {
        self.events
            .as_ref()
            .is_some_and(EventWriter::writes_records)
    }

    /// Writes events to `events` from now on, after flushing the writer in use (the daemon's
    /// SIGHUP, when logrotate renamed the file). On a failed flush the old writer is kept and
    /// the error returned, so no event is lost without a word.
    pub fn replace_events(&mut self, events: EventWriter) -> io::Result<()> {
        self.flush()?;
        self.events = Some(events);
        Ok(())
    }

    /// Writes no events while `muted` (records read a second time, whose events were written
    /// the first).
    pub fn set_muted(&mut self, muted: bool) {
        self.muted = muted;
    }

    /// Stops writing events (their reader went away); everything else goes on.
    pub fn close_events(&mut self) {
        self.events = None;
    }

    /// Flushes the event writer.
    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.events {
            Some(events) => events.flush(),
            None => Ok(()),
        }
    }

    /// The summary so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }
}
