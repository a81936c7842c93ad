//! The sequencer: the stages after proto, run in one thread on records in a fixed order.

use super::Counters;
use crate::capture::Timestamp;
use crate::catalog::{Catalog, Identified};
use crate::decode::Addr;
use crate::identity::{Identity, Resolver};
use crate::naming::{self, EncryptedDns, MAX_ALTERNATIVES, Namer, Naming, NamingConfig};
use crate::output::notice::rules::{MemoryError, NoticeConfig, Remembered, Rules};
use crate::output::notice::{Notice, NoticeKey};
use crate::output::{DnsView, EventWriter, FlowView, Output, Position, Summary};
use crate::policy::{Policy, Status};
use crate::proto::{EchKind, FlowRecord, NameSource, Record};
use crate::software;
use crate::store::{ClickHouseStats, HealthRow, Pending, Store, StoreError};
use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a live sensor reads the store's once-ever notice keys again.
const RELOAD_NOTICES: Duration = Duration::from_secs(300);

/// Evidence rows (or sealed pseudonyms) gathered before they are written to the store in one
/// batch (a SQLite transaction, a ClickHouse spool file).
const FLUSH_ROWS: usize = 4096;

/// Why the sequencer stopped.
#[derive(Debug, thiserror::Error)]
pub enum SequencerError {
    /// Writing events failed.
    #[error("writing events: {0}")]
    Events(#[source] io::Error),
    /// The store refused a write.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Rows written to the store by this run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreTotals {
    /// Flow evidence rows.
    pub flows: u64,
    /// DNS evidence rows.
    pub lookups: u64,
    /// Rollup rows added or updated.
    pub rollups: u64,
    /// Coverage rows added or updated.
    pub coverage: u64,
}

impl StoreTotals {
    /// Adds another write's rows.
    fn add(&mut self, other: &StoreTotals) {
        self.flows += other.flows;
        self.lookups += other.lookups;
        self.rollups += other.rollups;
        self.coverage += other.coverage;
    }
}

/// How the store writes went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Transactions written.
    pub writes: u64,
    /// Time spent in them.
    pub total: Duration,
    /// Time the latest one took (handing the batch to SQLite's writing thread, or to the
    /// ClickHouse spool).
    pub last: Duration,
    /// Writes that waited because SQLite's writing thread was behind.
    pub waits: u64,
}

/// Naming, catalog, identity, output and store, in record order.
pub struct Sequencer {
    catalog: Arc<Catalog>,
    policy: Arc<Policy>,
    namer: Namer,
    resolver: Resolver,
    output: Output,
    /// The store's rows of the next write.
    pending: Pending,
    store: Option<Store>,
    totals: StoreTotals,
    writes: WriteStats,
    /// Reused for sorting each epoch: every record's order key and position.
    order: Vec<((Timestamp, u64, u8), u32, u32)>,
    /// Flows open past the active timeout: what their first record was given, by flow id.
    settled: HashMap<u64, Settled>,
    /// Records are read a second time to rebuild state: nothing is written (see
    /// [`set_replaying`](Self::set_replaying)).
    replaying: bool,
    /// The rules that raise notices.
    rules: Rules,
    /// Notices raised since the last store write.
    raised: Vec<Notice>,
    /// When the notice rules last read the store's once-ever keys afresh.
    notices_read: Instant,
}

impl Sequencer {
    /// A sequencer writing to `output` and, if given, `store`.
    pub fn new(
        catalog: Arc<Catalog>,
        naming: &NamingConfig,
        resolver: Resolver,
        output: Output,
        store: Option<Store>,
    ) -> Sequencer {
        Sequencer {
            catalog,
            policy: Arc::new(Policy::none()),
            namer: Namer::new(naming),
            resolver,
            output,
            pending: Pending::default(),
            store,
            totals: StoreTotals::default(),
            writes: WriteStats::default(),
            order: Vec::new(),
            settled: HashMap::new(),
            replaying: false,
            rules: Rules::new(NoticeConfig::default()),
            raised: Vec::new(),
            notices_read: Instant::now(),
        }
    }

    /// Classifies the records processed from now on with `catalog`.
    pub fn set_catalog(&mut self, catalog: Arc<Catalog>) {
        self.catalog = catalog;
    }

    /// Writes events to `events` from now on (see [`Output::replace_events`]).
    pub fn set_events(&mut self, events: EventWriter) -> io::Result<()> {
        self.output.replace_events(events)
    }

    /// Raises notices by `config` from now on.
    pub fn set_notices(&mut self, config: NoticeConfig) {
        self.rules = Rules::new(config);
    }

    /// Judges the records processed from now on by `policy`.
    pub fn set_policy(&mut self, policy: Arc<Policy>) {
        self.policy = policy;
    }

    fn status(&self, app: Option<Identified<'_>>, who: &Identity) -> Status {
        status(&self.policy, app, who)
    }

    /// The identity stage, to reload its map.
    pub fn resolver_mut(&mut self) -> &mut Resolver {
        &mut self.resolver
    }

    /// The store, if any.
    pub fn store_mut(&mut self) -> Option<&mut Store> {
        self.store.as_mut()
    }

    /// How sending to ClickHouse goes, when that is the store.
    pub fn clickhouse_stats(&self) -> Option<ClickHouseStats> {
        self.store.as_ref().and_then(Store::clickhouse_stats)
    }

    /// Sorts one epoch's records and runs them through the stages. The epoch comes as the parts
    /// the workers handed in, never copied into one list: in a flood each part is a tick's worth
    /// of records.
    pub fn process(&mut self, parts: Vec<Vec<Record>>) -> Result<(), SequencerError> {
        // Records with equal keys come from one packet, so from one worker, in the order it
        // emitted them: the position breaks ties. Sorting keys and positions rather than the
        // records themselves (a few hundred bytes each) saves moving them. A part holds at most
        // TICK_PACKETS-many records per packet kind, far below u32::MAX.
        let mut order = std::mem::take(&mut self.order);
        order.clear();
        for (p, records) in parts.iter().enumerate() {
            order.extend(
                records
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (r.order_key(), p as u32, i as u32)),
            );
        }
        order.sort_unstable();
        for &(_, p, i) in &order {
            let record = &parts[p as usize][i as usize];
            let at = Position { part: p, index: i };
            match record {
                Record::Dns(lookup) => {
                    self.namer.learn(lookup);
                    let (app, candidate) = self.catalog.classify(Some(&lookup.query), None, 0);
                    let identity = identity(
                        needed(&self.output, app, candidate),
                        &mut self.resolver,
                        lookup.client.addr,
                        lookup.ts,
                    );
                    let view = DnsView {
                        record: lookup,
                        identity: &identity,
                        app,
                        status: self.status(app, &identity),
                        candidate,
                    };
                    self.pending.dns(&view);
                    self.output.dns(&view, at, &self.catalog);
                }
                Record::Flow(flow) => self.flow(flow, at),
                Record::Dhcp(dhcp) => {
                    self.resolver.dhcp(dhcp);
                    (self.output).dhcp(dhcp, self.resolver.pseudonymizer(), at);
                }
                Record::Kerberos(krb) => {
                    self.resolver.kerberos(krb);
                    (self.output).kerberos(krb, self.resolver.pseudonymizer(), at);
                }
            }
        }
        self.order = order;
        let handed = self.output.end_epoch(parts, &self.catalog);
        self.events_result(handed)?;
        let sealed = self.resolver.pseudonymizer().map_or(0, |p| p.pending());
        if self.pending.len() >= FLUSH_ROWS || sealed >= FLUSH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// Names, classifies, attributes and outputs one flow record. The records of a flow open
    /// past the active timeout all get what its first got: the DNS history and the bindings
    /// may have moved on since the flow's start, and one flow is one name and one user.
    fn flow(&mut self, flow: &FlowRecord, at: Position) {
        let interim = !flow.end.is_final();
        if flow.part > 0 {
            let removed = (!interim).then(|| self.settled.remove(&flow.id)).flatten();
            if let Some(s) = removed.as_ref().or_else(|| self.settled.get(&flow.id)) {
                let naming = s.naming();
                let class = classify(&self.catalog, &naming, flow);
                let mut memory = StoreMemory(self.store.as_ref());
                let stage = Emit {
                    policy: &self.policy,
                    catalog: &self.catalog,
                    output: &mut self.output,
                    pending: &mut self.pending,
                    notices: (!self.replaying).then_some(Notices {
                        rules: &mut self.rules,
                        memory: &mut memory,
                        raised: &mut self.raised,
                    }),
                };
                return stage.flow(flow, at, &naming, &s.identity, class);
            }
        }
        let naming = self.namer.name(flow, &self.catalog);
        let class = classify(&self.catalog, &naming, flow);
        let needed =
            needed(&self.output, class.app, class.candidate) || class.encrypted_dns.is_some();
        let identity = identity(needed, &mut self.resolver, flow.client.addr, flow.started);
        if interim && self.settled.len() < MAX_SETTLED {
            self.settled
                .insert(flow.id, Settled::of(&naming, identity.clone()));
        }
        let mut memory = StoreMemory(self.store.as_ref());
        let stage = Emit {
            policy: &self.policy,
            catalog: &self.catalog,
            output: &mut self.output,
            pending: &mut self.pending,
            notices: (!self.replaying).then_some(Notices {
                rules: &mut self.rules,
                memory: &mut memory,
                raised: &mut self.raised,
            }),
        };
        stage.flow(flow, at, &naming, &identity, class)
    }

    /// A reader that went away (`lantern replay ... --events - | head`) stops the events, not
    /// the run: the store and the summary still get everything.
    fn events_result(&mut self, result: io::Result<()>) -> Result<(), SequencerError> {
        match result {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.output.close_events();
                Ok(())
            }
            other => other.map_err(SequencerError::Events),
        }
    }

    /// Writes gathered evidence and rollups to the store and flushes events.
    pub fn flush(&mut self) -> Result<(), SequencerError> {
        self.write(Vec::new())
    }

    /// As [`flush`](Self::flush), with the sensor's state (a live capture's periodic write).
    /// Every [`RELOAD_NOTICES`] the notice rules forget what they read from the store, so that
    /// a sensor learns the once-ever notices other sensors on the same store raised since.
    pub fn flush_with_health(&mut self, health: HealthRow) -> Result<(), SequencerError> {
        if self.notices_read.elapsed() >= RELOAD_NOTICES {
            self.rules.reload();
            self.notices_read = Instant::now();
        }
        self.write(vec![health])
    }

    /// While `replaying`, records go through every stage, so naming, identity and the flows
    /// of the sequencer are rebuilt, but no event is written and the store gets nothing: they
    /// are records the store already holds (`lantern capture --logs` reading its files again
    /// from their start after a restart). Ending it drops everything gathered for the store.
    pub fn set_replaying(&mut self, replaying: bool) -> Result<(), SequencerError> {
        if self.replaying && !replaying {
            self.write(Vec::new())?;
        }
        self.replaying = replaying;
        self.output.set_muted(replaying);
        Ok(())
    }

    fn write(&mut self, health: Vec<HealthRow>) -> Result<(), SequencerError> {
        let rollups = self.output.take_rollups();
        let coverage = self.output.take_coverage();
        let pseudonyms = (self.resolver.pseudonymizer())
            .map(|p| p.take_sealed())
            .unwrap_or_default();
        let notices = std::mem::take(&mut self.raised);
        let batch = (self.pending).batch(&rollups, &coverage, &notices, pseudonyms, health);
        if self.replaying {
            return Ok(());
        }
        if let Some(store) = &mut self.store {
            let started = Instant::now();
            let totals = StoreTotals {
                flows: batch.flows.len() as u64,
                lookups: batch.dns.len() as u64,
                rollups: batch.rollups.len() as u64,
                coverage: batch.coverage.len() as u64,
            };
            store.write(batch)?;
            let took = started.elapsed();
            self.writes.writes += 1;
            self.writes.total += took;
            self.writes.last = took;
            self.writes.waits = store.write_waits();
            self.totals.add(&totals);
        }
        let flushed = self.output.flush();
        self.events_result(flushed)
    }

    /// Waits until the store holds every write so far (SQLite writes in a thread of its own),
    /// or says why it does not.
    pub fn sync_store(&mut self) -> Result<(), SequencerError> {
        match &mut self.store {
            Some(store) => Ok(store.sync()?),
            None => Ok(()),
        }
    }

    /// What the run output.
    pub fn summary(&self) -> &Summary {
        self.output.summary()
    }

    /// Rows written to the store so far.
    pub fn store_totals(&self) -> StoreTotals {
        self.totals
    }

    /// How long store writes took.
    pub fn write_stats(&self) -> WriteStats {
        self.writes
    }

    /// Evidence rows waiting for the next store write.
    pub fn backlog(&self) -> usize {
        self.pending.len()
    }

    /// Adds the sequencer's own counters to `counters`.
    pub fn add_counters(&self, counters: &mut Counters) {
        let sequenced = &mut counters.sequenced;
        sequenced.dns_cache_evictions += self.namer.cache_evictions();
        sequenced.dns_history_names_evicted += self.namer.names_evicted();
        sequenced.identity_evictions += self.resolver.evictions();
        let rules = self.rules.counts();
        sequenced.notices_raised += rules.raised;
        sequenced.notices_repeated += rules.repeated;
        sequenced.notice_store_failures += rules.memory_failures;
        sequenced.notices_untracked += rules.untracked;
        if let Some(syslog) = self.output.syslog_counters() {
            counters.syslog.merge(&syslog);
        }
    }
}

/// Whether anything will look at a record's identity: events show every record's, the summary
/// and the store only those of AI apps and candidates. Pseudonymizing resolves every record,
/// as it always has, so that the same users get sealed.
fn needed(output: &Output, app: Option<Identified<'_>>, candidate: bool) -> bool {
    app.is_some() || candidate || output.writes_records()
}

/// Who `client` is at `at`, when `needed` (see [`needed`]); skipping the others takes a tenth
/// off a replay without events.
/// What the catalog says of a flow.
#[derive(Clone, Copy, Debug)]
struct Class<'c> {
    /// The app its name (or, for a local model server, a request) identifies.
    app: Option<Identified<'c>>,
    /// Its name looks like AI and is not catalogued.
    candidate: bool,
    /// It carries encrypted DNS.
    encrypted_dns: Option<EncryptedDns>,
}

/// The app a flow's name (or, for a local model server, its requests) identifies, whether it
/// is a candidate, and whether it carries encrypted DNS.
fn classify<'c>(catalog: &'c Catalog, naming: &Naming<'_>, flow: &FlowRecord) -> Class<'c> {
    let (app, candidate) = identify(catalog, naming, flow);
    Class {
        app,
        candidate,
        encrypted_dns: naming::encrypted_dns(flow, naming.server_name, catalog),
    }
}

/// The app and candidacy of [`classify`].
fn identify<'c>(
    catalog: &'c Catalog,
    naming: &Naming<'_>,
    flow: &FlowRecord,
) -> (Option<Identified<'c>>, bool) {
    let request = flow.http().map(|h| (h.method.as_str(), h.path.as_str()));
    let (mut app, mut candidate) = catalog.classify(naming.server_name, request, flow.server.port);
    let log = flow.requests.as_deref();
    // A model server known by a later request of the connection than its first.
    if app.is_none() {
        let later = log.into_iter().flat_map(|l| &l.paths);
        let requests = later.filter_map(|p| p.split_once(' '));
        app = requests
            .filter_map(|r| {
                catalog
                    .classify(naming.server_name, Some(r), flow.server.port)
                    .0
            })
            .next();
        candidate = candidate && app.is_none();
    }
    // Plaintext MCP to a server the catalog does not name is an MCP server's.
    let mcp = flow.mcp().is_some() || log.is_some_and(|l| l.mcp_calls > 0);
    if app.is_none() && mcp {
        app = catalog.identify_protocol("mcp");
        candidate = candidate && app.is_none();
    }
    (app, candidate)
}

/// What `policy` says of `app` for `who` (an app nobody reviewed is unreviewed).
fn status(policy: &Policy, app: Option<Identified<'_>>, who: &Identity) -> Status {
    app.map_or(Status::Unreviewed, |hit| {
        policy.status(&hit.app.id, hit.app.category, who.group.as_deref())
    })
}

/// The stages after classification, borrowed apart from the namer whose answer they get.
struct Emit<'s> {
    policy: &'s Policy,
    catalog: &'s Catalog,
    output: &'s mut Output,
    pending: &'s mut Pending,
    /// The notice rules, unless records are read again to rebuild state.
    notices: Option<Notices<'s>>,
}

/// The notice rules, what they ask, and where the notices raised go for the store.
struct Notices<'s> {
    rules: &'s mut Rules,
    memory: &'s mut dyn Remembered,
    raised: &'s mut Vec<Notice>,
}

impl Emit<'_> {
    fn flow(
        self,
        flow: &FlowRecord,
        at: Position,
        naming: &Naming<'_>,
        identity: &Identity,
        class: Class<'_>,
    ) {
        let Class {
            app,
            candidate,
            encrypted_dns,
        } = class;
        let ja4 = flow.tls().and_then(|t| t.ja4.as_deref());
        let agent = flow.http().and_then(|h| h.user_agent.as_deref());
        let status = status(self.policy, app, identity);
        let view = FlowView {
            software: software::classify(ja4, agent),
            mcp: flow.mcp(),
            record: flow,
            server_name: naming.server_name,
            name_source: naming.source,
            name_alternatives: naming.alternatives,
            ech: naming.ech,
            identity,
            app,
            status,
            candidate,
            encrypted_dns,
        };
        self.pending.flow(&view);
        self.output.flow(&view, at, self.catalog);
        if let Some(n) = self.notices {
            let before = n.raised.len();
            n.rules.flow(&view, n.memory, n.raised);
            for notice in &n.raised[before..] {
                self.output.notice(notice.clone());
            }
        }
    }
}

/// What the first record of a flow open past the active timeout was given.
#[derive(Clone, Debug)]
struct Settled {
    server_name: Option<Box<str>>,
    source: NameSource,
    ech: EchKind,
    alternatives: Vec<Box<str>>,
    identity: Identity,
}

impl Settled {
    fn of(naming: &Naming<'_>, identity: Identity) -> Settled {
        Settled {
            server_name: naming.server_name.map(Box::from),
            source: naming.source,
            ech: naming.ech,
            alternatives: naming.alternatives().map(Box::from).collect(),
            identity,
        }
    }

    fn naming(&self) -> Naming<'_> {
        let mut alternatives = [None; MAX_ALTERNATIVES];
        for (slot, name) in alternatives.iter_mut().zip(&self.alternatives) {
            *slot = Some(&**name);
        }
        Naming {
            server_name: self.server_name.as_deref(),
            source: self.source,
            ech: self.ech,
            alternatives,
        }
    }
}

/// Most flows whose first record's naming is kept for their later records (a few MiB); past
/// it, a later record is named again at the flow's start.
const MAX_SETTLED: usize = 65_536;

fn identity(needed: bool, resolver: &mut Resolver, client: Addr, at: Timestamp) -> Identity {
    if needed || resolver.pseudonymizer().is_some() {
        resolver.resolve(client, at)
    } else {
        Identity::unknown()
    }
}

/// What the store remembers of notices, for the rules, which ask it only for a key they do
/// not hold (the once-ever keys in one read at the start): a SQLite read waits for the writes
/// before it, a ClickHouse read is a round trip.
struct StoreMemory<'s>(Option<&'s Store>);

impl Remembered for StoreMemory<'_> {
    fn raised(&mut self, key: &NoticeKey) -> Result<bool, MemoryError> {
        match self.0 {
            Some(store) => Ok(store.raised(key)?),
            None => Ok(false),
        }
    }

    fn raised_ever(&mut self) -> Result<Vec<NoticeKey>, MemoryError> {
        match self.0 {
            Some(store) => Ok(store.raised_ever()?),
            None => Ok(Vec::new()),
        }
    }
}
