//! The rules that raise notices from flows, and what they remember so that each is raised once
//! per [`NoticeKey`]: the keys raised by this process, and, through [`Remembered`], the ones
//! the store holds (raised before a restart, or by another sensor writing to the same store).
//!
//! Everything is bounded: at most [`MAX_KEYS`] keys are held (past it they are forgotten and
//! asked of the store again), [`MAX_TRACKED`] (user, app) hours of uploads and as many
//! uncatalogued names with the clients seen using them (past it a new one is not tracked, and
//! counted).

use super::{EVER, MAX_EVIDENCE, Notice, NoticeApp, NoticeKey, NoticeKind, NoticeSeverity};
use crate::capture::Timestamp;
use crate::catalog::Category;
use crate::decode::Addr;
use crate::output::FlowView;
use crate::policy::Status;
use std::collections::{HashMap, HashSet};

/// Most notice keys held in memory.
pub const MAX_KEYS: usize = 262_144;
/// Most (user, app) upload hours, and most uncatalogued names, tracked at once.
pub const MAX_TRACKED: usize = 65_536;

/// Which notices are raised, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeConfig {
    /// The kinds raised (none: no notice at all).
    pub kinds: Vec<NoticeKind>,
    /// Bytes up to an unsanctioned or unreviewed app, in one flow or in one hour of a user's
    /// use, past which an upload notice is raised.
    pub upload_bytes: u64,
    /// Distinct clients using an uncatalogued AI-looking name before it is a notice.
    pub candidate_clients: u32,
}

impl Default for NoticeConfig {
    fn default() -> Self {
        NoticeConfig {
            kinds: NoticeKind::ALL.to_vec(),
            upload_bytes: 10 << 20,
            candidate_clients: 3,
        }
    }
}

/// Why the store could not say whether a notice was raised.
pub type MemoryError = Box<dyn std::error::Error + Send + Sync>;

/// What the store remembers of the notices raised before.
pub trait Remembered {
    /// Whether the store holds a notice of `key`.
    fn raised(&mut self, key: &NoticeKey) -> Result<bool, MemoryError>;
    /// The keys of every notice raised once ever ([`EVER`]) that the store holds.
    fn raised_ever(&mut self) -> Result<Vec<NoticeKey>, MemoryError>;
}

/// How the rules went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuleCounts {
    /// Notices raised.
    pub raised: u64,
    /// Notices not raised because this key was raised before (here or by the store's word).
    pub repeated: u64,
    /// Times the store could not say whether a key was raised (the notice was raised).
    pub memory_failures: u64,
    /// Uploads or names not tracked because the tables were full.
    pub untracked: u64,
}

/// A user's uploads to one app in one hour.
#[derive(Debug)]
struct HourUse {
    hour: i64,
    first: Timestamp,
    bytes_up: u64,
    bytes_down: u64,
    flows: Vec<u64>,
}

/// The clients seen using an uncatalogued name.
#[derive(Debug, Default)]
struct NameUse {
    first: Option<Timestamp>,
    clients: Vec<Addr>,
    flows: Vec<u64>,
}

/// The rules and their state.
pub struct Rules {
    config: NoticeConfig,
    seen: HashSet<NoticeKey>,
    /// The store's once-ever keys were read into `seen`.
    loaded: bool,
    hours: HashMap<(String, String), HourUse>,
    names: HashMap<Box<str>, NameUse>,
    counts: RuleCounts,
}

impl std::fmt::Debug for Rules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rules")
            .field("config", &self.config)
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

impl Rules {
    /// Rules of `config`.
    pub fn new(config: NoticeConfig) -> Rules {
        Rules {
            config,
            seen: HashSet::new(),
            loaded: false,
            hours: HashMap::new(),
            names: HashMap::new(),
            counts: RuleCounts::default(),
        }
    }

    /// How the rules went so far.
    pub fn counts(&self) -> RuleCounts {
        self.counts
    }

    /// Reads the store's once-ever keys again at the next notice, adding them to those held
    /// (a live sensor does this now and then, to learn what other sensors raised; the keys it
    /// raised itself stay held, whether or not its store has them yet).
    pub fn reload(&mut self) {
        self.loaded = false;
    }

    /// Appends the notices `view` raises to `out`, asking `memory` whether they were raised
    /// before.
    pub fn flow(
        &mut self,
        view: &FlowView<'_>,
        memory: &mut dyn Remembered,
        out: &mut Vec<Notice>,
    ) {
        let mut raising = Raising {
            rules: self,
            memory,
            out,
        };
        raising.flow(view);
    }
}

/// The rules at work on one flow: where to ask whether a notice was raised, and where the
/// notices go.
struct Raising<'r> {
    rules: &'r mut Rules,
    memory: &'r mut dyn Remembered,
    out: &'r mut Vec<Notice>,
}

impl Raising<'_> {
    fn flow(&mut self, view: &FlowView<'_>) {
        if self.rules.config.kinds.is_empty() {
            return;
        }
        let first_record = view.record.part == 0;
        match view.app {
            Some(hit) => {
                if first_record {
                    self.first_use(view, hit.app.category, &hit.app.id);
                }
                if matches!(view.status, Status::Unsanctioned | Status::Unreviewed) {
                    self.upload(view, &hit.app.id);
                }
            }
            None if view.candidate && first_record => self.candidate(view),
            None => {}
        }
    }

    /// The first-use kinds of a flow to a catalogued app.
    fn first_use(&mut self, v: &FlowView<'_>, category: Category, app: &str) {
        let (kind, subject) = match category {
            Category::McpServer => (NoticeKind::NewMcpServer, server_subject(v)),
            Category::LocalModelServer => (NoticeKind::NewModelServer, server_subject(v)),
            Category::AiGateway => (NoticeKind::NewGateway, server_subject(v)),
            _ => (NoticeKind::NewApp, app.to_string()),
        };
        self.first(v, kind, subject);
        if v.status == Status::Unsanctioned {
            self.first(v, NoticeKind::FirstUnsanctioned, app.to_string());
        }
    }

    /// Raises a first-use notice of `kind` about `subject`, unless raised before.
    fn first(&mut self, v: &FlowView<'_>, kind: NoticeKind, subject: String) {
        if let Some(mut notice) = self.notice(v, kind, subject) {
            notice.message = first_message(&notice);
            self.push(notice);
        }
    }

    /// Bytes up past the threshold, in this record or in the user's hour of the app.
    fn upload(&mut self, v: &FlowView<'_>, app: &str) {
        let threshold = self.rules.config.upload_bytes;
        if v.record.bytes[0] >= threshold {
            let evidence = Evidence {
                first: v.record.first,
                bytes: v.record.bytes,
                flows: vec![v.record.id],
                scope: "one flow",
                clients: 0,
            };
            return self.raise_upload(v, app, evidence);
        }
        if let Some(evidence) = self.rules.hour_crossed(v, app) {
            self.raise_upload(v, app, evidence);
        }
    }

    fn raise_upload(&mut self, v: &FlowView<'_>, app: &str, e: Evidence) {
        let Some(mut notice) = self.notice(v, NoticeKind::Upload, app.to_string()) else {
            return;
        };
        let threshold = self.rules.config.upload_bytes;
        notice.first_seen = e.first;
        notice.bytes_up = e.bytes[0];
        notice.bytes_down = e.bytes[1];
        notice.flows = e.flows;
        notice.threshold = Some(threshold);
        notice.message = format!(
            "{} sent {} bytes in {} to {} ({}), past the threshold of {threshold} bytes",
            shown_user(&notice.user),
            notice.bytes_up,
            e.scope,
            app_name(&notice),
            v.status.name(),
        );
        self.push(notice);
    }

    /// An uncatalogued AI-looking name, once enough distinct clients used it.
    fn candidate(&mut self, v: &FlowView<'_>) {
        let Some(name) = v.server_name else { return };
        let Some(used) = self.rules.name_spread(v, name) else {
            return;
        };
        if let Some(mut notice) = self.notice(v, NoticeKind::Candidate, name.to_string()) {
            let clients = used.clients;
            notice.first_seen = used.first;
            notice.flows = used.flows;
            notice.clients = Some(clients);
            notice.message = format!(
                "{name} looks like an AI service and is not in the catalog; used from {clients} client{}",
                if clients == 1 { "" } else { "s" }
            );
            self.push(notice);
        }
    }

    fn push(&mut self, notice: Notice) {
        self.rules.counts.raised += 1;
        self.out.push(notice);
    }

    /// The notice of `kind` about `subject` from flow `v`, if enabled and not raised before for
    /// its key (which is then remembered).
    fn notice(&mut self, v: &FlowView<'_>, kind: NoticeKind, subject: String) -> Option<Notice> {
        if !self.rules.config.kinds.contains(&kind) {
            return None;
        }
        let notice = Notice::of(v, kind, subject);
        let key = notice.key();
        if self.raised_before(&key) {
            self.rules.counts.repeated += 1;
            return None;
        }
        if self.rules.seen.len() >= MAX_KEYS {
            // Forgotten, and asked of the store again.
            self.rules.seen.clear();
            self.rules.reload();
        }
        self.rules.seen.insert(key);
        Some(notice)
    }

    /// Whether `key` was raised here, or the store says it was.
    fn raised_before(&mut self, key: &NoticeKey) -> bool {
        self.load_ever();
        let rules = &mut *self.rules;
        if rules.seen.contains(key) {
            return true;
        }
        if key.day == EVER && rules.loaded {
            return false;
        }
        self.memory.raised(key).unwrap_or_else(|_| {
            rules.counts.memory_failures += 1;
            false
        })
    }

    /// Reads the store's once-ever keys, once (again after [`Rules::reload`]).
    fn load_ever(&mut self) {
        if self.rules.loaded {
            return;
        }
        match self.memory.raised_ever() {
            Ok(keys) => {
                self.rules.seen.extend(keys.into_iter().take(MAX_KEYS / 2));
                self.rules.loaded = true;
            }
            Err(_) => self.rules.counts.memory_failures += 1,
        }
    }
}

impl Rules {
    /// Adds the record to its user's hour of `app`; the hour's evidence when this record takes
    /// it past the threshold.
    fn hour_crossed(&mut self, v: &FlowView<'_>, app: &str) -> Option<Evidence> {
        let threshold = self.config.upload_bytes;
        let hour = v.record.first.secs().div_euclid(3600);
        let key = (v.identity.user.clone(), app.to_string());
        if !self.hours.contains_key(&key) && self.hours.len() >= MAX_TRACKED {
            self.hours.retain(|_, h| h.hour >= hour);
            if self.hours.len() >= MAX_TRACKED {
                self.counts.untracked += 1;
                return None;
            }
        }
        let fresh = || HourUse {
            hour,
            first: v.record.first,
            bytes_up: 0,
            bytes_down: 0,
            flows: Vec::new(),
        };
        let entry = self.hours.entry(key).or_insert_with(fresh);
        if entry.hour != hour {
            *entry = fresh();
        }
        let before = entry.bytes_up;
        entry.bytes_up += v.record.bytes[0];
        entry.bytes_down += v.record.bytes[1];
        if entry.flows.len() < MAX_EVIDENCE && !entry.flows.contains(&v.record.id) {
            entry.flows.push(v.record.id);
        }
        (before < threshold && entry.bytes_up >= threshold).then(|| Evidence {
            first: entry.first,
            bytes: [entry.bytes_up, entry.bytes_down],
            flows: entry.flows.clone(),
            scope: "one hour",
            clients: 0,
        })
    }

    /// Adds the record's client to those of the uncatalogued `name`; when this client is the
    /// one that makes them enough, their evidence.
    fn name_spread(&mut self, v: &FlowView<'_>, name: &str) -> Option<Evidence> {
        let want = self.config.candidate_clients.max(1) as usize;
        if !self.names.contains_key(name) && self.names.len() >= MAX_TRACKED {
            self.counts.untracked += 1;
            return None;
        }
        let entry = self.names.entry(name.into()).or_default();
        let client = v.record.client.addr;
        if entry.clients.len() >= want || entry.clients.contains(&client) {
            return None;
        }
        entry.first.get_or_insert(v.record.first);
        entry.clients.push(client);
        if entry.flows.len() < MAX_EVIDENCE {
            entry.flows.push(v.record.id);
        }
        (entry.clients.len() == want).then(|| Evidence {
            first: entry.first.unwrap_or(v.record.first),
            bytes: [0, 0],
            flows: entry.flows.clone(),
            scope: "clients",
            clients: entry.clients.len() as u32,
        })
    }
}

/// The bytes and flows an upload notice shows.
struct Evidence {
    first: Timestamp,
    bytes: [u64; 2],
    flows: Vec<u64>,
    scope: &'static str,
    /// Distinct clients, for a name's spread.
    clients: u32,
}

impl NoticeKind {
    /// How urgent it is.
    pub fn severity(self) -> NoticeSeverity {
        match self {
            NoticeKind::Upload => NoticeSeverity::High,
            NoticeKind::FirstUnsanctioned
            | NoticeKind::NewMcpServer
            | NoticeKind::NewModelServer
            | NoticeKind::NewGateway => NoticeSeverity::Medium,
            NoticeKind::NewApp | NoticeKind::Candidate => NoticeSeverity::Low,
        }
    }
}

impl Notice {
    /// A notice of `kind` about `subject`, raised by flow `v` (its message still to be said).
    fn of(v: &FlowView<'_>, kind: NoticeKind, subject: String) -> Notice {
        let r = v.record;
        Notice {
            kind,
            severity: kind.severity(),
            ts: r.first,
            first_seen: r.first,
            subject,
            user: v.identity.user.clone(),
            user_kind: v.user_kind().name(),
            device: v.identity.device.clone(),
            client: Some((v.identity.client.clone()).unwrap_or_else(|| r.client.addr.to_string())),
            server: Some(r.server),
            app: v.app.map(|hit| NoticeApp {
                id: hit.app.id.clone(),
                name: hit.app.name.clone(),
                vendor: hit.app.vendor.clone(),
                category: hit.app.category.name(),
                status: v.status.name(),
            }),
            server_name: v.server_name.map(str::to_string),
            bytes_up: r.bytes[0],
            bytes_down: r.bytes[1],
            threshold: None,
            clients: None,
            flows: vec![r.id],
            message: String::new(),
        }
    }
}

/// The subject of a server notice: its name, else its address and port.
fn server_subject(v: &FlowView<'_>) -> String {
    match v.server_name {
        Some(name) => name.to_string(),
        None => format!("{}:{}", v.record.server.addr, v.record.server.port),
    }
}

fn shown_user(user: &str) -> &str {
    if user.is_empty() {
        "an unknown user"
    } else {
        user
    }
}

fn app_name(n: &Notice) -> String {
    match &n.app {
        Some(app) => format!("{} ({})", app.name, app.vendor),
        None => n.subject.clone(),
    }
}

/// The sentence of a first-use notice.
fn first_message(n: &Notice) -> String {
    let who = shown_user(&n.user);
    let what = app_name(n);
    match n.kind {
        NoticeKind::NewApp => {
            format!("{what} seen for the first time on the network, used by {who}")
        }
        NoticeKind::FirstUnsanctioned => {
            format!("{who} used {what} for the first time; the policy makes it unsanctioned")
        }
        NoticeKind::NewMcpServer => server_message("an MCP server", n, who),
        NoticeKind::NewModelServer => server_message("a model server", n, who),
        NoticeKind::NewGateway => server_message("an LLM gateway", n, who),
        NoticeKind::Upload | NoticeKind::Candidate => what,
    }
}

/// No store: nothing was raised before this process.
#[derive(Clone, Copy, Debug, Default)]
pub struct Forgetful;

impl Remembered for Forgetful {
    fn raised(&mut self, _: &NoticeKey) -> Result<bool, MemoryError> {
        Ok(false)
    }

    fn raised_ever(&mut self) -> Result<Vec<NoticeKey>, MemoryError> {
        Ok(Vec::new())
    }
}

/// The sentence of a new server's notice.
fn server_message(what: &str, n: &Notice, who: &str) -> String {
    let app = n.app.as_ref().map_or("", |a| a.name.as_str());
    format!(
        "{what} new to the network, {} ({app}), used by {who}",
        n.subject
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::decode::{Addr, Transport};
    use crate::flow::{EndReason, Endpoint};
    use crate::identity::Identity;
    use crate::proto::{EchKind, FlowRecord, NameSource, Protocol};
    use crate::software::Software;

    /// A flow of `client` to `name`, with `up` bytes up, at `secs`.
    fn record(id: u64, client: u8, up: u64, secs: i64) -> FlowRecord {
        let at = |addr, port| Endpoint { addr, port };
        FlowRecord {
            id,
            first: Timestamp::from_secs(secs),
            last: Timestamp::from_secs(secs),
            started: Timestamp::from_secs(secs),
            part: 0,
            client: at(Addr::v4([10, 0, 0, client]), 40_000),
            server: at(Addr::v4([192, 0, 2, 1]), 443),
            transport: Transport::Tcp,
            vlan: [0; 2],
            packets: [1, 1],
            bytes: [up, 0],
            end: EndReason::Closed,
            protocol: Protocol::Tls,
            message: None,
            requests: None,
        }
    }

    fn user(name: &str) -> Identity {
        Identity {
            user: name.into(),
            ..Identity::unknown()
        }
    }

    /// The notices of flow `r` to `name` by `who`, with `status` for its app.
    fn raise(
        rules: &mut Rules,
        memory: &mut dyn Remembered,
        catalog: &Catalog,
        (r, name, who, status): (&FlowRecord, &str, &Identity, Status),
    ) -> Vec<Notice> {
        let (app, candidate) = catalog.classify(Some(name), None, 443);
        let view = FlowView {
            record: r,
            server_name: Some(name),
            name_source: NameSource::TlsSni,
            name_alternatives: Default::default(),
            ech: EchKind::None,
            identity: who,
            app,
            status,
            candidate,
            software: Software::default(),
            mcp: None,
            encrypted_dns: None,
        };
        let mut out = Vec::new();
        rules.flow(&view, memory, &mut out);
        out
    }

    fn kinds(notices: &[Notice]) -> Vec<&'static str> {
        notices.iter().map(|n| n.kind.name()).collect()
    }

    #[test]
    fn first_uses_are_raised_once_and_uploads_once_a_day() {
        let catalog = Catalog::load(&[]).unwrap();
        let mut rules = Rules::new(NoticeConfig {
            upload_bytes: 1000,
            ..NoticeConfig::default()
        });
        let (alice, bob) = (user("alice"), user("bob"));
        let mut raise = |r: &FlowRecord, who: &Identity, status| {
            kinds(&raise(
                &mut rules,
                &mut Forgetful,
                &catalog,
                (r, "chatgpt.com", who, status),
            ))
        };
        let unsanctioned = Status::Unsanctioned;
        assert_eq!(
            raise(&record(1, 1, 10, 0), &alice, unsanctioned),
            ["new_app", "first_unsanctioned_use"]
        );
        assert!(raise(&record(2, 1, 10, 60), &alice, unsanctioned).is_empty());
        // Bob's first use; the app is not new.
        assert_eq!(
            raise(&record(3, 2, 10, 60), &bob, unsanctioned),
            ["first_unsanctioned_use"]
        );
        // 600 + 600 bytes in Alice's hour cross 1000 once; a flow of 5000 the next day again.
        assert!(raise(&record(4, 1, 600, 120), &alice, unsanctioned).is_empty());
        assert_eq!(
            raise(&record(5, 1, 600, 180), &alice, unsanctioned),
            ["upload"]
        );
        assert!(raise(&record(6, 1, 5000, 240), &alice, unsanctioned).is_empty());
        assert_eq!(
            raise(&record(7, 1, 5000, 86_400), &alice, unsanctioned),
            ["upload"]
        );
        // A sanctioned app's uploads are no notice.
        assert!(raise(&record(8, 2, 5000, 86_400), &bob, Status::Sanctioned).is_empty());
    }

    #[test]
    fn an_upload_notice_shows_the_hour_and_its_flows() {
        let catalog = Catalog::load(&[]).unwrap();
        let mut rules = Rules::new(NoticeConfig {
            kinds: vec![NoticeKind::Upload],
            upload_bytes: 1000,
            ..NoticeConfig::default()
        });
        let alice = user("alice");
        let status = Status::Unreviewed;
        raise(
            &mut rules,
            &mut Forgetful,
            &catalog,
            (&record(1, 1, 600, 3600), "chatgpt.com", &alice, status),
        );
        let n = raise(
            &mut rules,
            &mut Forgetful,
            &catalog,
            (&record(2, 1, 600, 3700), "chatgpt.com", &alice, status),
        );
        assert_eq!(n.len(), 1);
        assert_eq!(
            (n[0].bytes_up, n[0].threshold, &n[0].flows[..]),
            (1200, Some(1000), &[1, 2][..])
        );
        assert_eq!(n[0].first_seen, Timestamp::from_secs(3600));
        assert_eq!(n[0].key().day, 0);
        assert_eq!(n[0].key().user, "alice");
    }

    #[test]
    fn an_uncatalogued_name_is_a_notice_once_enough_clients_used_it() {
        let catalog = Catalog::load(&[]).unwrap();
        let mut rules = Rules::new(NoticeConfig::default());
        let name = "promptforge-copilot.ai";
        let mut seen = Vec::new();
        for (id, client) in [(1, 1), (2, 1), (3, 2), (4, 3), (5, 4)] {
            let who = user(&format!("u{client}"));
            let r = record(id, client, 10, id as i64);
            seen.push(kinds(&raise(
                &mut rules,
                &mut Forgetful,
                &catalog,
                (&r, name, &who, Status::Unreviewed),
            )));
        }
        let none: Vec<&str> = Vec::new();
        assert_eq!(
            seen,
            [
                none.clone(),
                none.clone(),
                none.clone(),
                vec!["candidate_spread"],
                none
            ]
        );
    }

    /// A store that says every key was raised (another sensor raised them): ChatGPT's
    /// once-ever keys for the network and for alice, and any day's key it is asked for.
    struct Raised(u32);

    impl Remembered for Raised {
        fn raised(&mut self, _: &NoticeKey) -> Result<bool, MemoryError> {
            self.0 += 1;
            Ok(true)
        }

        fn raised_ever(&mut self) -> Result<Vec<NoticeKey>, MemoryError> {
            let key = |kind, user: &str| NoticeKey {
                kind,
                day: EVER,
                user: user.into(),
                subject: "openai-chatgpt".into(),
            };
            Ok(vec![
                key(NoticeKind::NewApp, ""),
                key(NoticeKind::FirstUnsanctioned, "alice"),
            ])
        }
    }

    #[test]
    fn what_the_store_remembers_is_not_raised_again() {
        let catalog = Catalog::load(&[]).unwrap();
        let mut rules = Rules::new(NoticeConfig {
            upload_bytes: 1000,
            ..NoticeConfig::default()
        });
        let mut store = Raised(0);
        let (alice, bob) = (user("alice"), user("bob"));
        let status = Status::Unsanctioned;
        let r = record(1, 1, 5000, 0);
        let n = raise(
            &mut rules,
            &mut store,
            &catalog,
            (&r, "chatgpt.com", &alice, status),
        );
        assert!(n.is_empty(), "{n:?}");
        // The once-ever keys were read in one go; only the day's upload key was asked for.
        assert_eq!((store.0, rules.counts().repeated), (1, 3));
        // Bob's first use is not in the store.
        let r = record(2, 2, 10, 0);
        let n = raise(
            &mut rules,
            &mut store,
            &catalog,
            (&r, "chatgpt.com", &bob, status),
        );
        assert_eq!(kinds(&n), ["first_unsanctioned_use"]);
    }
}
