//! The end-of-run summary: AI apps by client, local model servers, candidates, and how flows
//! were named.

use super::coverage::{self, Visible, share};
use super::{DnsView, FlowView};
use crate::capture::Rfc3339;
use crate::capture::Timestamp;
use crate::catalog::{App, Category};
use crate::proto::NameSource;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets};
use std::collections::{BTreeMap, BTreeSet};

/// Most rows printed in each table; the rest are counted.
const MAX_ROWS: usize = 40;
/// Most (user, app) pairs and candidate names tracked; past these the totals still count but
/// the tables stop growing (hostile traffic must not grow the summary without bound).
const MAX_TRACKED: usize = 100_000;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Usage {
    /// Person, service or unknown (as of the latest record).
    kind: &'static str,
    flows: u64,
    lookups: u64,
    bytes_up: u64,
    bytes_down: u64,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
}

impl Usage {
    fn seen(&mut self, first: Timestamp, last: Timestamp) {
        self.first = Some(self.first.map_or(first, |f| f.min(first)));
        self.last = Some(self.last.map_or(last, |l| l.max(last)));
    }
}

/// Totals and per-(user, app) usage of a run.
#[derive(Debug, Default)]
pub struct Summary {
    /// Flows output.
    pub flows: u64,
    /// DNS lookups output.
    pub lookups: u64,
    /// Flows whose name matched a catalogued app.
    pub ai_flows: u64,
    /// Lookups of catalogued apps' names.
    pub ai_lookups: u64,
    /// DHCP messages and Kerberos exchanges seen.
    pub identity_messages: u64,
    names: BTreeMap<NameSource, u64>,
    /// AI flows by app id (as many keys as the catalog has apps).
    ai_by_app: BTreeMap<String, u64>,
    usage: BTreeMap<(String, String), Usage>,
    apps: BTreeMap<String, (String, String)>,
    candidates: BTreeMap<String, (u64, BTreeSet<String>)>,
    /// Local model servers by (server address, app name): usage and clients.
    servers: BTreeMap<(String, String), (Usage, BTreeSet<String>)>,
    visible: Visible,
    encrypted_dns: BTreeSet<(String, &'static str, String)>,
    /// Where usage past [`MAX_TRACKED`] pairs goes (counted, not shown).
    spill: Usage,
    /// Records not shown in the tables because they were full.
    untracked: u64,
}

impl Summary {
    /// Counts a flow.
    /// Counts a flow record: a flow counts once, in its first record; bytes in every record.
    pub fn flow(&mut self, view: &FlowView<'_>) {
        let r = view.record;
        let first = u64::from(r.part == 0);
        self.flows += first;
        *self.names.entry(view.name_source).or_default() += first;
        let (key, counts) = coverage::of(view);
        self.visible.add_key(&key, &counts);
        if let Some(kind) = view.encrypted_dns
            && self.encrypted_dns.len() < MAX_ROWS
        {
            let server = r.server.to_string();
            let resolver = view.server_name.map_or(server, str::to_string);
            (self.encrypted_dns).insert((view.identity.user.clone(), kind.name(), resolver));
        }
        if let Some(hit) = view.app {
            self.ai_flows += first;
            match self.ai_by_app.get_mut(hit.app.id.as_str()) {
                Some(count) => *count += first,
                None => {
                    self.ai_by_app.insert(hit.app.id.to_string(), first);
                }
            }
            if hit.app.category == Category::LocalModelServer {
                self.server(view, hit.app);
            }
            let usage = self.usage_of(&view.identity.user, hit.app);
            usage.kind = view.user_kind().name();
            usage.flows += first;
            usage.bytes_up += r.bytes[0];
            usage.bytes_down += r.bytes[1];
            usage.seen(r.first, r.last);
        } else if view.candidate
            && first == 1
            && let Some(name) = view.server_name
        {
            self.candidate(name, &view.identity.user);
        }
    }

    /// Counts a DNS lookup.
    pub fn dns(&mut self, view: &DnsView<'_>) {
        self.lookups += 1;
        let r = view.record;
        if let Some(hit) = view.app {
            self.ai_lookups += 1;
            let usage = self.usage_of(&view.identity.user, hit.app);
            usage.kind = view.user_kind().name();
            usage.lookups += 1;
            usage.seen(r.ts, r.completed());
        } else if view.candidate {
            self.candidate(&r.query, &view.identity.user);
        }
    }

    fn usage_of(&mut self, user: &str, app: &App) -> &mut Usage {
        self.apps
            .entry(app.id.clone())
            .or_insert_with(|| (app.name.clone(), app.category.name().to_string()));
        let key = (user.to_string(), app.id.clone());
        if self.usage.len() >= MAX_TRACKED && !self.usage.contains_key(&key) {
            self.untracked += 1;
            return &mut self.spill;
        }
        self.usage.entry(key).or_default()
    }

    fn server(&mut self, view: &FlowView<'_>, app: &App) {
        let r = view.record;
        let addr = r.server.addr.to_string();
        let mut server = r.server.to_string();
        if let Some(name) = view.server_name.filter(|n| *n != addr) {
            server = format!("{name} ({server})");
        }
        let key = (server, app.name.clone());
        if self.servers.len() >= MAX_TRACKED && !self.servers.contains_key(&key) {
            self.untracked += 1;
            return;
        }
        let (usage, clients) = self.servers.entry(key).or_default();
        usage.flows += u64::from(r.part == 0);
        usage.bytes_up += r.bytes[0];
        usage.bytes_down += r.bytes[1];
        usage.seen(r.first, r.last);
        if clients.len() < 1000 {
            clients.insert(view.identity.user.clone());
        }
    }

    fn candidate(&mut self, name: &str, user: &str) {
        if self.candidates.len() >= MAX_TRACKED && !self.candidates.contains_key(name) {
            self.untracked += 1;
            return;
        }
        let entry = self.candidates.entry(name.to_string()).or_default();
        entry.0 += 1;
        if entry.1.len() < 1000 {
            entry.1.insert(user.to_string());
        }
    }

    /// AI flows by app id.
    pub fn ai_flows_by_app(&self) -> impl Iterator<Item = (&str, u64)> {
        self.ai_by_app.iter().map(|(id, n)| (id.as_str(), *n))
    }

    /// Flows named by `source`.
    pub fn named_by(&self, source: NameSource) -> u64 {
        self.names.get(&source).copied().unwrap_or(0)
    }

    /// Distinct (user, app) pairs seen.
    /// The run's coverage, as a report's visibility of one sensor says it.
    pub fn visible(&self) -> &Visible {
        &self.visible
    }

    /// What the run could not see, in one line: the share of flows and bytes named, what kept
    /// the rest from being, and the clients that resolved names over encrypted DNS (at most 40).
    pub fn visibility_line(&self) -> String {
        let v = &self.visible;
        let mut line = format!(
            "visibility: {} of {} flows named ({}), {} of bytes up; DNS only {}, real ECH unnamed {}, one-way {}, evicted {}",
            v.named_flows,
            v.flows,
            share(v.named_flows, v.flows),
            share(v.named_bytes_up, v.bytes_up),
            v.dns_only_flows,
            v.real_ech_unnamed,
            v.one_way_flows,
            v.evicted_flows
        );
        if !self.encrypted_dns.is_empty() {
            let clients: Vec<String> = (self.encrypted_dns.iter())
                .map(|(user, kind, resolver)| format!("{user} {kind} {resolver}"))
                .collect();
            line += &format!("; encrypted DNS: {}", clients.join(", "));
        }
        line
    }

    pub fn user_app_pairs(&self) -> usize {
        self.usage.len()
    }

    /// Flows and lookups left out of the tables because they were full.
    pub fn untracked(&self) -> u64 {
        self.untracked
    }

    /// The AI-apps-by-user table, or `None` when no AI app was seen.
    pub fn apps_table(&self) -> Option<String> {
        if self.usage.is_empty() {
            return None;
        }
        let mut table = new_table(&[
            "user",
            "kind",
            "app",
            "category",
            "flows",
            "lookups",
            "bytes up",
            "bytes down",
            "first seen",
            "last seen",
        ]);
        let mut rows: Vec<_> = self.usage.iter().collect();
        rows.sort_by(|a, b| {
            a.0.0
                .cmp(&b.0.0)
                .then(b.1.bytes_up.cmp(&a.1.bytes_up))
                .then(a.0.1.cmp(&b.0.1))
        });
        for ((user, app_id), u) in rows.iter().take(MAX_ROWS) {
            let (name, category) = self.apps.get(app_id).cloned().unwrap_or_default();
            let time = |t: Option<Timestamp>| {
                t.map(|t| Rfc3339(t).to_string()[..19].to_string())
                    .unwrap_or_default()
            };
            table.add_row(vec![
                Cell::new(user),
                Cell::new(u.kind),
                Cell::new(name),
                Cell::new(category),
                Cell::new(u.flows).set_alignment(CellAlignment::Right),
                Cell::new(u.lookups).set_alignment(CellAlignment::Right),
                Cell::new(u.bytes_up).set_alignment(CellAlignment::Right),
                Cell::new(u.bytes_down).set_alignment(CellAlignment::Right),
                Cell::new(time(u.first)),
                Cell::new(time(u.last)),
            ]);
        }
        Some(render(&table, rows.len(), "(user, app) pairs"))
    }

    /// The local-model-servers table, or `None` when none was seen.
    pub fn servers_table(&self) -> Option<String> {
        if self.servers.is_empty() {
            return None;
        }
        let mut table = new_table(&[
            "local model server",
            "recognised as",
            "clients",
            "flows",
            "bytes up",
            "bytes down",
        ]);
        let mut rows: Vec<_> = self.servers.iter().collect();
        rows.sort_by(|a, b| b.1.0.bytes_up.cmp(&a.1.0.bytes_up).then(a.0.cmp(b.0)));
        for ((server, app), (u, clients)) in rows.iter().take(MAX_ROWS) {
            table.add_row(vec![
                Cell::new(server),
                Cell::new(app),
                Cell::new(clients.len()).set_alignment(CellAlignment::Right),
                Cell::new(u.flows).set_alignment(CellAlignment::Right),
                Cell::new(u.bytes_up).set_alignment(CellAlignment::Right),
                Cell::new(u.bytes_down).set_alignment(CellAlignment::Right),
            ]);
        }
        Some(render(&table, rows.len(), "servers"))
    }

    /// The candidates table, or `None` when there were none.
    pub fn candidates_table(&self) -> Option<String> {
        if self.candidates.is_empty() {
            return None;
        }
        let mut table = new_table(&["candidate name (not in the catalog)", "seen", "clients"]);
        let mut rows: Vec<_> = self.candidates.iter().collect();
        rows.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
        for (name, (seen, users)) in rows.iter().take(MAX_ROWS) {
            table.add_row(vec![
                Cell::new(name),
                Cell::new(seen).set_alignment(CellAlignment::Right),
                Cell::new(users.len()).set_alignment(CellAlignment::Right),
            ]);
        }
        Some(render(&table, rows.len(), "candidates"))
    }
}

/// A table in the style of every table lantern prints.
pub fn new_table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
    table
}

/// The table, and how many rows did not fit.
fn render(table: &Table, rows: usize, what: &str) -> String {
    let mut out = table.to_string();
    if rows > MAX_ROWS {
        out.push_str(&format!("\n... and {} more {what}", rows - MAX_ROWS));
    }
    out
}
