//! Output: what a classified record becomes: a JSON event, evidence rows for the store, hourly
//! rollups and the end-of-run summary.
//!
//! The stage receives [`FlowView`]s and [`DnsView`]s (a record plus what naming, the catalog and
//! identity said about it). Events go to the `--events` writer for every flow and lookup; the
//! summary counts every one; hourly [`rollup`]s are gathered for AI-related ones (an app
//! matched, or a candidate) and [`coverage`] for every flow, by how it was named. The store
//! side makes its rows of these (`store::Pending`): output knows nothing of the store.

pub mod coverage;
pub mod event;
pub mod rollup;
pub mod summary;

pub use coverage::{Coverage, CoverageKey, CoverageSums};
pub use event::EventWriter;
pub use rollup::{Rollup, RollupKey, Rollups};
pub use summary::{Summary, new_table};

use crate::catalog::Identified;
use crate::identity::{Identity, Pseudonymizer, UserKind};
use crate::naming::{EncryptedDns, MAX_ALTERNATIVES};
use crate::policy::Status;
use crate::proto::mcp::Mcp;
use crate::proto::{DhcpRecord, DnsRecord, FlowRecord, KerberosRecord};
use crate::proto::{EchKind, NameSource};
use crate::software::Software;
use std::io;

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

    /// Outputs one flow.
    pub fn flow(&mut self, view: &FlowView<'_>) -> io::Result<()> {
        if let Some(events) = self.events.as_mut().filter(|_| !self.muted) {
            events.flow(view)?;
        }
        self.summary.flow(view);
        self.coverage.flow(view);
        if view.app.is_some() || view.candidate {
            self.rollups.flow(view);
        }
        Ok(())
    }

    /// Outputs one DNS lookup.
    pub fn dns(&mut self, view: &DnsView<'_>) -> io::Result<()> {
        if let Some(events) = self.events.as_mut().filter(|_| !self.muted) {
            events.dns(view)?;
        }
        self.summary.dns(view);
        if view.app.is_some() || view.candidate {
            self.rollups.dns(view);
        }
        Ok(())
    }

    /// Outputs a DHCP message (an event; identity keeps what it says).
    pub fn dhcp(
        &mut self,
        record: &DhcpRecord,
        pseudonyms: Option<&mut Pseudonymizer>,
    ) -> io::Result<()> {
        self.summary.identity_messages += 1;
        match self.events.as_mut().filter(|_| !self.muted) {
            Some(events) => events.dhcp(record, pseudonyms),
            None => Ok(()),
        }
    }

    /// Outputs a Kerberos exchange (an event; identity keeps what it says).
    pub fn kerberos(
        &mut self,
        record: &KerberosRecord,
        pseudonyms: Option<&mut Pseudonymizer>,
    ) -> io::Result<()> {
        self.summary.identity_messages += 1;
        match self.events.as_mut().filter(|_| !self.muted) {
            Some(events) => events.kerberos(record, pseudonyms),
            None => Ok(()),
        }
    }

    /// The hourly coverage gathered since the last call, sorted by key.
    pub fn take_coverage(&mut self) -> Vec<(CoverageKey, Coverage)> {
        self.coverage.drain()
    }

    /// The hourly rollups gathered since the last call, sorted by key.
    pub fn take_rollups(&mut self) -> Vec<(RollupKey, Rollup)> {
        self.rollups.drain()
    }

    /// Whether events are being written.
    pub fn has_events(&self) -> bool {
        self.events.is_some()
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
