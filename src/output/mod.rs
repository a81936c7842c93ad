//! Output: what a classified record becomes: a JSON event, evidence rows for the store, hourly
//! rollups and the end-of-run summary.
//!
//! The stage receives [`FlowView`]s and [`DnsView`]s (a record plus what naming, the catalog and
//! identity said about it). Events go to the `--events` writer for every flow and lookup;
//! evidence rows and rollups only for AI-related ones (an app matched, or a candidate), since
//! the store keeps names, counters and evidence of AI use and nothing else.

pub mod event;
pub mod rollup;
pub mod summary;

pub use event::{EventWriter, Rfc3339};
pub use rollup::{Rollup, RollupKey, Rollups};
pub use summary::{Summary, new_table};

use crate::capture::Timestamp;
use crate::catalog::Identified;
use crate::identity::{Identity, Pseudonymizer};
use crate::naming::{EchKind, MAX_ALTERNATIVES, NameSource};
use crate::policy::Status;
use crate::proto::{DhcpRecord, DnsRecord, FlowRecord, KerberosRecord, dns};
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

/// The store's row for an AI-related flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowEvidence {
    /// First packet.
    pub ts: Timestamp,
    /// Last packet.
    pub end_ts: Timestamp,
    /// Flow id within the run.
    pub flow_id: u64,
    /// Client address.
    pub client_ip: String,
    /// Client port.
    pub client_port: u16,
    /// Server address.
    pub server_ip: String,
    /// Server port.
    pub server_port: u16,
    /// "tcp" or "udp".
    pub transport: &'static str,
    /// "tls", "http", ...
    pub protocol: &'static str,
    /// Server name.
    pub server_name: Option<String>,
    /// How the name was known.
    pub name_source: &'static str,
    /// Attributed user.
    pub user: String,
    /// How the user was known.
    pub user_source: &'static str,
    /// Person, service or unknown.
    pub user_kind: &'static str,
    /// The device, where known.
    pub device: Option<String>,
    /// The group, from the static map.
    pub group: Option<String>,
    /// App id, when catalogued.
    pub app_id: Option<String>,
    /// The catalog pattern or request rule that identified the app.
    pub app_pattern: Option<String>,
    /// Not catalogued but looks like AI.
    pub candidate: bool,
    /// Payload bytes client to server.
    pub bytes_up: u64,
    /// Payload bytes server to client.
    pub bytes_down: u64,
    /// Packets client to server.
    pub packets_up: u64,
    /// Packets server to client.
    pub packets_down: u64,
    /// TLS version offered.
    pub tls_version: Option<String>,
    /// ALPN protocols, comma-separated.
    pub tls_alpn: Option<String>,
    /// JA4 fingerprint.
    pub ja4: Option<String>,
    /// ECH offered.
    pub ech: Option<bool>,
}

/// The store's row for an AI-related DNS lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsEvidence {
    /// Query time.
    pub ts: Timestamp,
    /// Flow id within the run.
    pub flow_id: u64,
    /// Client address.
    pub client_ip: String,
    /// Client port.
    pub client_port: u16,
    /// Resolver address.
    pub server_ip: String,
    /// Resolver port.
    pub server_port: u16,
    /// "udp" or "tcp".
    pub transport: &'static str,
    /// The name looked up.
    pub query: String,
    /// Query type mnemonic.
    pub qtype: String,
    /// Response code mnemonic, if answered.
    pub rcode: Option<String>,
    /// Answers, comma-separated.
    pub answers: String,
    /// Attributed user.
    pub user: String,
    /// How the user was known.
    pub user_source: &'static str,
    /// Person, service or unknown.
    pub user_kind: &'static str,
    /// The device, where known.
    pub device: Option<String>,
    /// The group, from the static map.
    pub group: Option<String>,
    /// App id, when catalogued.
    pub app_id: Option<String>,
    /// The catalog pattern or request rule that identified the app.
    pub app_pattern: Option<String>,
    /// Not catalogued but looks like AI.
    pub candidate: bool,
}

/// The output stage: events, evidence, rollups and the summary.
#[derive(Debug)]
pub struct Output {
    events: Option<EventWriter>,
    summary: Summary,
    rollups: Rollups,
    flows: Vec<FlowEvidence>,
    lookups: Vec<DnsEvidence>,
}

impl Output {
    /// An output stage writing events to `events`, if given.
    pub fn new(events: Option<EventWriter>) -> Output {
        Output {
            events,
            summary: Summary::default(),
            rollups: Rollups::default(),
            flows: Vec::new(),
            lookups: Vec::new(),
        }
    }

    /// Outputs one flow.
    pub fn flow(&mut self, view: &FlowView<'_>) -> io::Result<()> {
        if let Some(events) = &mut self.events {
            events.flow(view)?;
        }
        self.summary.flow(view);
        if view.app.is_some() || view.candidate {
            self.rollups.flow(view);
            self.flows.push(flow_evidence(view));
        }
        Ok(())
    }

    /// Outputs one DNS lookup.
    pub fn dns(&mut self, view: &DnsView<'_>) -> io::Result<()> {
        if let Some(events) = &mut self.events {
            events.dns(view)?;
        }
        self.summary.dns(view);
        if view.app.is_some() || view.candidate {
            self.rollups.dns(view);
            self.lookups.push(dns_evidence(view));
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
        match &mut self.events {
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
        match &mut self.events {
            Some(events) => events.kerberos(record, pseudonyms),
            None => Ok(()),
        }
    }

    /// Evidence rows gathered since the last call.
    pub fn take_evidence(&mut self) -> (Vec<FlowEvidence>, Vec<DnsEvidence>) {
        (
            std::mem::take(&mut self.flows),
            std::mem::take(&mut self.lookups),
        )
    }

    /// Pending evidence rows.
    pub fn pending_evidence(&self) -> usize {
        self.flows.len() + self.lookups.len()
    }

    /// The hourly rollups gathered since the last call.
    pub fn take_rollups(&mut self) -> Vec<(RollupKey, Rollup)> {
        self.rollups.drain()
    }

    /// Whether events are being written.
    pub fn has_events(&self) -> bool {
        self.events.is_some()
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

/// The client address as the store keeps it: its token when pseudonymizing.
fn client_ip(addr: crate::decode::Addr, identity: &Identity) -> String {
    identity.client.clone().unwrap_or_else(|| addr.to_string())
}

fn flow_evidence(view: &FlowView<'_>) -> FlowEvidence {
    let r = view.record;
    let tls = r.tls.as_deref();
    FlowEvidence {
        ts: r.first,
        end_ts: r.last,
        flow_id: r.id,
        client_ip: client_ip(r.client.addr, view.identity),
        client_port: r.client.port,
        server_ip: r.server.addr.to_string(),
        server_port: r.server.port,
        transport: r.transport.name(),
        protocol: r.protocol.name(),
        server_name: view.server_name.map(str::to_string),
        name_source: view.name_source.name(),
        user: view.identity.user.clone(),
        user_source: view.identity.source.name(),
        user_kind: view.identity.kind(view.app.map(|a| a.app.category)).name(),
        device: view.identity.device.clone(),
        group: view.identity.group.clone(),
        app_id: view.app.map(|a| a.app.id.clone()),
        app_pattern: view.app.map(|a| a.pattern.to_string()),
        candidate: view.candidate,
        bytes_up: r.bytes[0],
        bytes_down: r.bytes[1],
        packets_up: r.packets[0],
        packets_down: r.packets[1],
        tls_version: tls.map(|t| t.version.clone()),
        tls_alpn: tls.map(|t| t.alpn.join(",")),
        ja4: tls.and_then(|t| t.ja4.clone()),
        ech: tls.map(|t| t.ech),
    }
}

fn dns_evidence(view: &DnsView<'_>) -> DnsEvidence {
    let r = view.record;
    DnsEvidence {
        ts: r.ts,
        flow_id: r.flow_id,
        client_ip: client_ip(r.client.addr, view.identity),
        client_port: r.client.port,
        server_ip: r.server.addr.to_string(),
        server_port: r.server.port,
        transport: r.transport.name(),
        query: r.query.clone(),
        qtype: dns::type_name(r.qtype),
        rcode: r.rcode.map(dns::rcode_name),
        answers: r
            .answers
            .iter()
            .map(|a| a.data.to_string())
            .collect::<Vec<_>>()
            .join(","),
        user: view.identity.user.clone(),
        user_source: view.identity.source.name(),
        user_kind: view.identity.kind(view.app.map(|a| a.app.category)).name(),
        device: view.identity.device.clone(),
        group: view.identity.group.clone(),
        app_id: view.app.map(|a| a.app.id.clone()),
        app_pattern: view.app.map(|a| a.pattern.to_string()),
        candidate: view.candidate,
    }
}
