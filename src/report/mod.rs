//! Report: what a period's AI use was, read only from a store, so that the same traffic gives
//! the same report from SQLite and from ClickHouse.
//!
//! [`Period`] is the time range (an ISO week or dates, UTC). [`build`] reads the period's hourly
//! rollups (and those of the seven weeks before it, for the trend), each app's first activity
//! ever, the uncatalogued AI-looking names and the use of local model servers, judges each
//! row by the [`Policy`], and makes a [`Report`]. The store does the sums; the report counts
//! distinct users and devices itself, so both stores need only return rows. A [`Filter`]
//! (sensors, a group, a user, apps) limits every read in the store's own query, so every table
//! is of the same rows; with a user, the report adds their [`DayUse`] timeline. [`render`]
//! turns a report into HTML, Markdown, CSV or JSON.

mod candidates;
mod period;
pub mod render;
pub mod visibility;

pub use crate::store::Filter;
pub use candidates::Candidate;
pub use period::{Period, PeriodError, iso_week};
pub use visibility::Visibility;

use crate::capture::Rfc3339;
use crate::capture::Timestamp;
use crate::catalog::{App, Catalog, Category, confidence};
use crate::identity::UserKind;
use crate::policy::{Policy, Status};
use crate::store::read::{self, StoredMcpUse, StoredProgramUse, StoredServerUse};
use crate::store::{RollupRow, Store, StoreError};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Weeks the trend shows, the period's own included.
pub const TREND_WEEKS: i64 = 8;
/// Rows of the top-users table.
pub const TOP_USERS: usize = 20;

/// One period's report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The period, as dates.
    pub period: Period,
    /// Whether a policy was given (without one every app is unreviewed).
    pub policy: bool,
    /// Whether the store holds any AI use at all, in any period (whatever the filter).
    pub store_has_data: bool,
    /// The rows the report is of: every table is of these only.
    pub filter: Filter,
    /// The numbers at the top.
    pub headline: Headline,
    /// Every app used in the period, most data sent first.
    pub apps: Vec<AppUse>,
    /// Apps first seen in this period, with who used them first.
    pub new_apps: Vec<NewApp>,
    /// Users and services by bytes sent to unsanctioned and unreviewed apps.
    pub top_users: Vec<RiskyUse>,
    /// Use of model APIs by each kind of user: people, services, agents and unknown.
    pub api_use: Vec<KindUse>,
    /// Use by category.
    pub categories: Vec<CategoryUse>,
    /// Users and bytes up per app and week, for the period's week and the weeks before it.
    pub trend: Vec<TrendPoint>,
    /// Names that look like AI and are not in the catalog (names catalogued since they were
    /// seen are left out).
    pub candidates: Vec<Candidate>,
    /// Apps used in the period that the catalog knows from one source only: identifications
    /// to check before acting on them.
    pub one_source_apps: Vec<OneSourceApp>,
    /// Model servers on the local network and who uses them.
    pub local_servers: Vec<LocalServer>,
    /// AI used by programs and agents: per host, user and client software, most data sent
    /// first.
    pub programs: Vec<ProgramUse>,
    /// MCP servers in use: remote ones by their catalogued host, local ones by their
    /// plaintext MCP requests.
    pub mcp_servers: Vec<McpServerUse>,
    /// With a user filter, their use day by day and app by app, in time order (else empty).
    pub timeline: Vec<DayUse>,
    /// What the sensors could not see: per sensor, the share of traffic named and what kept
    /// the rest from being, and the clients of encrypted DNS.
    pub visibility: Visibility,
}

/// One user's use of one app on one day (UTC).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DayUse {
    /// `2026-11-16`.
    pub day: String,
    pub app_id: String,
    pub name: String,
    pub flows: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    /// The day's first and last activity.
    pub first_seen: String,
    pub last_seen: String,
}

/// One MCP server and who used it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct McpServerUse {
    /// Its name (and port, for a local one), else its address.
    pub server: String,
    /// The catalog's name for it.
    pub name: String,
    /// A remote server (a vendor's, by its host), or one on the local network.
    pub remote: bool,
    /// Its users, sorted.
    pub clients: Vec<String>,
    /// The MCP methods its clients called, sorted (none over TLS).
    pub methods: Vec<String>,
    /// The tools they called, sorted (never the arguments).
    pub tools: Vec<String>,
    pub flows: u64,
    /// JSON-RPC calls seen (plaintext only; each call of a batch counts).
    pub calls: u64,
}

/// The numbers at the top of the report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Headline {
    /// AI apps seen.
    pub apps: u64,
    /// Distinct users that are not known to be services, by rows other than agents' (people,
    /// and addresses nobody named).
    pub people: u64,
    /// Distinct users known to be services.
    pub services: u64,
    /// Distinct users whose programs used model APIs, gateways or MCP servers (agents); they
    /// may be people too.
    pub agents: u64,
    /// Apps whose status is unsanctioned.
    pub unsanctioned_apps: u64,
    /// Bytes sent to apps unsanctioned for the user who sent them.
    pub bytes_up_unsanctioned: u64,
    /// Bytes sent to apps nobody has reviewed.
    pub bytes_up_unreviewed: u64,
    /// Bytes sent to names that look like AI and are not in the catalog.
    pub bytes_up_uncatalogued: u64,
    /// Apps first seen in this period.
    pub new_apps: u64,
    /// Flows to AI apps.
    pub flows: u64,
    /// DNS lookups of their names.
    pub dns_lookups: u64,
    /// Bytes sent to AI apps.
    pub bytes_up: u64,
    /// Bytes received from them.
    pub bytes_down: u64,
}

/// One app's use in the period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AppUse {
    pub app_id: String,
    pub name: String,
    pub vendor: String,
    pub category: String,
    /// Its status under the policy (groups with an exception may differ).
    pub status: String,
    /// Risk tier, where the catalog has assessed it.
    pub risk_tier: String,
    /// How solid the catalog's entry is (`high`, `medium`, `low`: one source), from its
    /// sources; empty for an id the catalog no longer has.
    pub confidence: String,
    /// Distinct users.
    pub users: u64,
    /// Distinct devices known by name.
    pub devices: u64,
    /// Distinct users known to be services.
    pub services: u64,
    pub flows: u64,
    pub dns_lookups: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    /// Its first activity in the whole store.
    pub first_seen_ever: String,
    /// Its last activity in the period.
    pub last_seen: String,
    /// First seen in this period.
    pub new: bool,
}

/// An app first seen in the period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NewApp {
    pub app_id: String,
    pub name: String,
    pub status: String,
    pub first_seen: String,
    /// Who used it first.
    pub first_user: String,
    pub users: u64,
}

/// One user's use of one app that is unsanctioned or unreviewed for them, or of a name that
/// looks like AI and is not in the catalog.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RiskyUse {
    pub user: String,
    /// One of the user kinds (`UserKind::ALL`).
    pub user_kind: String,
    /// The app's id (empty for an uncatalogued name).
    pub app_id: String,
    /// The app's name, or the uncatalogued server name.
    pub name: String,
    pub status: String,
    /// Not in the catalog: a name that looks like AI (nobody reviewed it either).
    pub uncatalogued: bool,
    pub flows: u64,
    pub bytes_up: u64,
}

/// Use of AI APIs by one kind of user.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KindUse {
    /// One of the user kinds (`UserKind::ALL`).
    pub user_kind: String,
    pub users: u64,
    pub flows: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
}

/// Use of one category.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CategoryUse {
    pub category: String,
    pub apps: u64,
    pub users: u64,
    pub flows: u64,
    pub bytes_up: u64,
}

/// One app in one week.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TrendPoint {
    /// ISO week, `2026-W47`.
    pub week: String,
    pub app_id: String,
    pub users: u64,
    pub bytes_up: u64,
}

/// An app in use that the catalog knows from one source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OneSourceApp {
    pub app_id: String,
    pub name: String,
    pub category: String,
    /// The catalog's sources of the app.
    pub sources: Vec<String>,
    pub users: u64,
    pub bytes_up: u64,
}

/// A model server on the local network.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LocalServer {
    pub app_id: String,
    pub name: String,
    /// `address:port`.
    pub server: String,
    /// Its users, sorted.
    pub users: Vec<String>,
    pub flows: u64,
    /// Requests read (plaintext HTTP).
    pub requests: u64,
    /// The distinct `METHOD /path` asked of it, sorted.
    pub paths: Vec<String>,
    pub bytes_up: u64,
}

/// AI used by programs on one host, by one user, with one client software.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProgramUse {
    /// The device, else the client address.
    pub host: String,
    pub user: String,
    /// The client software's family (empty when the kind was known from elsewhere).
    pub software: String,
    /// The apps' names, sorted.
    pub apps: Vec<String>,
    pub flows: u64,
    pub bytes_up: u64,
}

fn time(us: i64) -> String {
    Rfc3339(Timestamp(us.saturating_mul(1000))).to_string()
}

/// What the report needs to know of an app: the catalog's entry, or a stand-in for an id the
/// catalog no longer has.
struct AppInfo<'a> {
    name: &'a str,
    vendor: &'a str,
    category: Category,
    risk: &'static str,
    confidence: &'static str,
    sources: &'a [String],
}

fn info<'a>(catalog: &'a Catalog, id: &'a str) -> AppInfo<'a> {
    match catalog.app(id) {
        Some(App {
            name,
            vendor,
            category,
            risk,
            confidence,
            sources,
            ..
        }) => AppInfo {
            name,
            vendor,
            category: *category,
            risk: risk.as_ref().map_or("", |r| r.tier.name()),
            confidence: confidence.level.name(),
            sources,
        },
        None => AppInfo {
            name: id,
            vendor: "",
            category: Category::Other,
            risk: "",
            confidence: "",
            sources: &[],
        },
    }
}

/// Reads the period (and the trend's weeks) from the rows of the store that `filter` lets
/// through and makes its report.
pub fn build(
    store: &Store,
    catalog: &Catalog,
    policy: Option<&Policy>,
    period: &Period,
    filter: &Filter,
) -> Result<Report, StoreError> {
    let read = Stored::read(store, catalog, period, filter)?;
    let none = Policy::none();
    let input = Input {
        period,
        catalog,
        policy: policy.unwrap_or(&none),
        first_seen: &read.first_seen,
    };
    let (from, _) = period.bounds();
    let trend_from = period.trend_start(TREND_WEEKS);
    let in_period: Vec<&RollupRow> = read.rollups.iter().filter(|r| r.hour >= from).collect();
    let trend_rows: Vec<&RollupRow> = (read.rollups.iter())
        .filter(|r| r.hour >= trend_from)
        .collect();
    let uncatalogued =
        candidates::Uncatalogued::of(catalog, &read.candidates.0, &read.candidates.1);
    let mut report = input.assemble(&in_period, &trend_rows, &uncatalogued, &read.servers);
    report.programs = input.programs(&read.programs);
    report.mcp_servers = input.mcp_servers(&read.mcp);
    report.visibility =
        visibility::assemble(&read.coverage, &read.encrypted_dns, &read.health, catalog);
    report.policy = policy.is_some();
    report.store_has_data = read.store_has_data;
    if filter.user.is_some() {
        report.timeline = input.timeline(&in_period);
    }
    report.filter = filter.clone();
    Ok(report)
}

/// Everything a report reads of the store.
struct Stored {
    rollups: Vec<RollupRow>,
    first_seen: BTreeMap<String, i64>,
    store_has_data: bool,
    candidates: (Vec<read::CandidateFlows>, Vec<read::CandidateLookups>),
    servers: Vec<StoredServerUse>,
    programs: Vec<StoredProgramUse>,
    mcp: Vec<StoredMcpUse>,
    coverage: Vec<crate::store::CoverageRow>,
    encrypted_dns: Vec<read::StoredEncryptedDns>,
    health: Vec<crate::store::HealthRow>,
}

impl Stored {
    /// The rows of the period (the rollups from the trend's first week) that `filter` lets
    /// through.
    fn read(
        store: &Store,
        catalog: &Catalog,
        period: &Period,
        filter: &Filter,
    ) -> Result<Stored, StoreError> {
        let (from, to) = period.bounds();
        let trend_from = period.trend_start(TREND_WEEKS).min(from);
        let first_seen: BTreeMap<String, i64> = (store.read(&read::AppsFirstSeen { filter })?)
            .into_iter()
            .map(|f| (f.app_id, f.first_seen_us))
            .collect();
        let store_has_data = match filter.is_empty() {
            true => !first_seen.is_empty(),
            false => !(store.read(&read::AppsFirstSeen {
                filter: &Filter::default(),
            })?)
            .is_empty(),
        };
        let of = |category: Category| -> Vec<&str> {
            (catalog.apps().iter())
                .filter(|a| a.category == category)
                .map(|a| a.id.as_str())
                .collect()
        };
        let (local, mcp) = (of(Category::LocalModelServer), of(Category::McpServer));
        Ok(Stored {
            rollups: store.read(&read::Rollups {
                from: trend_from,
                to,
                filter,
            })?,
            first_seen,
            store_has_data,
            candidates: (
                store.read(&read::CandidateFlowUse { from, to, filter })?,
                store.read(&read::CandidateLookupUse { from, to, filter })?,
            ),
            servers: store.read(&read::ServerUse {
                from,
                to,
                apps: &local,
                filter,
            })?,
            programs: store.read(&read::ProgramUse { from, to, filter })?,
            mcp: store.read(&read::McpUse {
                from,
                to,
                apps: &mcp,
                filter,
            })?,
            coverage: store.read(&read::CoverageOf { from, to, filter })?,
            encrypted_dns: store.read(&read::EncryptedDnsUse { from, to, filter })?,
            health: read::latest_health(store.read(&read::Health)?),
        })
    }
}

/// What every part of the report is made from.
struct Input<'a> {
    period: &'a Period,
    catalog: &'a Catalog,
    policy: &'a Policy,
    first_seen: &'a BTreeMap<String, i64>,
}

/// A rollup row with its status for its user.
struct Judged<'a> {
    row: &'a RollupRow,
    status: Status,
    category: Category,
    kind: UserKind,
}

impl Input<'_> {
    fn judge<'r>(&self, rows: &[&'r RollupRow]) -> Vec<Judged<'r>> {
        rows.iter()
            .map(|row| {
                let category = info(self.catalog, &row.app_id).category;
                let group = Some(row.user_group.as_str()).filter(|g| !g.is_empty());
                Judged {
                    row,
                    status: self.policy.status(&row.app_id, category, group),
                    category,
                    kind: user_kind(&row.user_kind),
                }
            })
            .collect()
    }

    fn app_status(&self, id: &str) -> Status {
        self.policy
            .status(id, info(self.catalog, id).category, None)
    }

    fn assemble(
        &self,
        rows: &[&RollupRow],
        trend_rows: &[&RollupRow],
        uncatalogued: &candidates::Uncatalogued<'_>,
        servers: &[StoredServerUse],
    ) -> Report {
        let judged = self.judge(rows);
        let apps = self.apps(&judged);
        let new_apps = self.new_apps(&judged, &apps);
        let one_source_apps = self.one_source_apps(&apps);
        let users = |keep: &dyn Fn(&Judged<'_>) -> bool| -> u64 {
            let set: BTreeSet<&str> = (judged.iter())
                .filter(|j| keep(j))
                .map(|j| j.row.user.as_str())
                .collect();
            set.len() as u64
        };
        let bytes = |status: Status| -> u64 {
            (judged.iter())
                .filter(|j| j.status == status)
                .map(|j| j.row.bytes_up)
                .sum()
        };
        let headline = Headline {
            apps: apps.len() as u64,
            people: users(&|j| !matches!(j.kind, UserKind::Service | UserKind::Agent)),
            services: users(&|j| j.kind == UserKind::Service),
            agents: users(&|j| j.kind == UserKind::Agent),
            unsanctioned_apps: (apps.iter())
                .filter(|a| a.status == Status::Unsanctioned.name())
                .count() as u64,
            bytes_up_unsanctioned: bytes(Status::Unsanctioned),
            bytes_up_unreviewed: bytes(Status::Unreviewed),
            bytes_up_uncatalogued: uncatalogued.bytes_up(),
            flows: rows.iter().map(|r| r.flows).sum(),
            dns_lookups: rows.iter().map(|r| r.dns_lookups).sum(),
            bytes_up: rows.iter().map(|r| r.bytes_up).sum(),
            bytes_down: rows.iter().map(|r| r.bytes_down).sum(),
            new_apps: new_apps.len() as u64,
        };
        Report {
            period: self.period.clone(),
            policy: false,
            store_has_data: !self.first_seen.is_empty(),
            headline,
            apps,
            new_apps,
            top_users: self.top_users(&judged, uncatalogued),
            api_use: api_use(&judged),
            categories: categories(&judged),
            trend: trend(trend_rows),
            candidates: uncatalogued.rows(),
            one_source_apps,
            local_servers: self.local_servers(servers),
            programs: Vec::new(),
            mcp_servers: Vec::new(),
            filter: Filter::default(),
            timeline: Vec::new(),
            visibility: Visibility::default(),
        }
    }

    /// The rows' use per day and app, in time order.
    fn timeline(&self, rows: &[&RollupRow]) -> Vec<DayUse> {
        #[derive(Default)]
        struct Sums {
            flows: u64,
            bytes_up: u64,
            bytes_down: u64,
            first_us: Option<i64>,
            last_us: i64,
        }
        let mut by_day: BTreeMap<(i64, &str), Sums> = BTreeMap::new();
        for r in rows {
            let s = by_day
                .entry((r.hour.div_euclid(86_400), &r.app_id))
                .or_default();
            s.flows += r.flows;
            s.bytes_up += r.bytes_up;
            s.bytes_down += r.bytes_down;
            s.first_us = Some(
                s.first_us
                    .map_or(r.first_seen_us, |f| f.min(r.first_seen_us)),
            );
            s.last_us = s.last_us.max(r.last_seen_us);
        }
        by_day
            .into_iter()
            .map(|((day, app), s)| DayUse {
                day: time(day * 86_400_000_000)[..10].to_string(),
                app_id: app.to_string(),
                name: info(self.catalog, app).name.to_string(),
                flows: s.flows,
                bytes_up: s.bytes_up,
                bytes_down: s.bytes_down,
                first_seen: time(s.first_us.unwrap_or(s.last_us)),
                last_seen: time(s.last_us),
            })
            .collect()
    }

    fn mcp_servers(&self, rows: &[StoredMcpUse]) -> Vec<McpServerUse> {
        let mut by_server: BTreeMap<(String, &str), McpServerUse> = BTreeMap::new();
        for r in rows {
            let app = self.catalog.apps().iter().find(|a| a.id == r.app_id);
            let remote = app.is_some_and(|a| !a.domains.is_empty());
            let server = match remote {
                true => r.server.clone(),
                false => format!("{}:{}", r.server, r.server_port),
            };
            let s =
                (by_server.entry((server.clone(), &r.app_id))).or_insert_with(|| McpServerUse {
                    server,
                    name: info(self.catalog, &r.app_id).name.to_string(),
                    remote,
                    ..McpServerUse::default()
                });
            add_once(&mut s.clients, &r.user);
            // Rows written before the requests were read have the first method only.
            add_once(&mut s.methods, &r.method);
            listed(&r.methods).for_each(|m| add_once(&mut s.methods, &m));
            listed(&r.tools).for_each(|t| add_once(&mut s.tools, &t));
            s.flows += r.flows;
            s.calls += r.calls;
        }
        let mut out: Vec<McpServerUse> = by_server.into_values().collect();
        for s in &mut out {
            s.clients.sort();
            s.methods.sort();
            s.tools.sort();
        }
        out
    }

    fn programs(&self, rows: &[StoredProgramUse]) -> Vec<ProgramUse> {
        let mut by_program: BTreeMap<(&str, &str, &str), ProgramUse> = BTreeMap::new();
        for r in rows {
            let p =
                (by_program.entry((&r.host, &r.user, &r.software))).or_insert_with(|| ProgramUse {
                    host: r.host.clone(),
                    user: r.user.clone(),
                    software: r.software.clone(),
                    apps: Vec::new(),
                    flows: 0,
                    bytes_up: 0,
                });
            let name = info(self.catalog, &r.app_id).name.to_string();
            if !p.apps.contains(&name) {
                p.apps.push(name);
            }
            p.flows += r.flows;
            p.bytes_up += r.bytes_up;
        }
        let mut out: Vec<ProgramUse> = by_program.into_values().collect();
        for p in &mut out {
            p.apps.sort();
        }
        out.sort_by_key(|p| std::cmp::Reverse(p.bytes_up));
        out
    }

    fn apps(&self, judged: &[Judged<'_>]) -> Vec<AppUse> {
        #[derive(Default)]
        struct Sums<'a> {
            users: BTreeSet<&'a str>,
            devices: BTreeSet<&'a str>,
            services: BTreeSet<&'a str>,
            flows: u64,
            dns_lookups: u64,
            bytes_up: u64,
            bytes_down: u64,
            last_seen_us: i64,
        }
        let mut by_app: BTreeMap<&str, Sums<'_>> = BTreeMap::new();
        for j in judged {
            let r = j.row;
            let s = by_app.entry(&r.app_id).or_default();
            s.users.insert(&r.user);
            if !r.device.is_empty() {
                s.devices.insert(&r.device);
            }
            if j.kind == UserKind::Service {
                s.services.insert(&r.user);
            }
            s.flows += r.flows;
            s.dns_lookups += r.dns_lookups;
            s.bytes_up += r.bytes_up;
            s.bytes_down += r.bytes_down;
            s.last_seen_us = s.last_seen_us.max(r.last_seen_us);
        }
        let (from, _) = self.period.bounds();
        let mut out: Vec<AppUse> = by_app
            .into_iter()
            .map(|(id, s)| {
                let app = info(self.catalog, id);
                let first = self.first_seen.get(id).copied().unwrap_or(s.last_seen_us);
                AppUse {
                    app_id: id.to_string(),
                    name: app.name.to_string(),
                    vendor: app.vendor.to_string(),
                    category: app.category.name().to_string(),
                    status: self.app_status(id).name().to_string(),
                    risk_tier: app.risk.to_string(),
                    confidence: app.confidence.to_string(),
                    users: s.users.len() as u64,
                    devices: s.devices.len() as u64,
                    services: s.services.len() as u64,
                    flows: s.flows,
                    dns_lookups: s.dns_lookups,
                    bytes_up: s.bytes_up,
                    bytes_down: s.bytes_down,
                    first_seen_ever: time(first),
                    last_seen: time(s.last_seen_us),
                    new: first >= from * 1_000_000,
                }
            })
            .collect();
        out.sort_by(|a, b| (b.bytes_up, &a.app_id).cmp(&(a.bytes_up, &b.app_id)));
        out
    }

    fn new_apps(&self, judged: &[Judged<'_>], apps: &[AppUse]) -> Vec<NewApp> {
        let mut out: Vec<NewApp> = (apps.iter())
            .filter(|a| a.new)
            .map(|a| {
                let first = (judged.iter())
                    .filter(|j| j.row.app_id == a.app_id)
                    .min_by_key(|j| (j.row.first_seen_us, &j.row.user))
                    .map(|j| j.row);
                NewApp {
                    app_id: a.app_id.clone(),
                    name: a.name.clone(),
                    status: a.status.clone(),
                    first_seen: a.first_seen_ever.clone(),
                    first_user: first.map_or(String::new(), |r| r.user.clone()),
                    users: a.users,
                }
            })
            .collect();
        out.sort_by(|a, b| (&a.first_seen, &a.app_id).cmp(&(&b.first_seen, &b.app_id)));
        out
    }

    fn local_servers(&self, rows: &[StoredServerUse]) -> Vec<LocalServer> {
        let mut by_server: BTreeMap<(&str, String), LocalServer> = BTreeMap::new();
        for r in rows {
            let server = if r.server_ip.contains(':') {
                format!("[{}]:{}", r.server_ip, r.server_port)
            } else {
                format!("{}:{}", r.server_ip, r.server_port)
            };
            let s = (by_server.entry((&r.app_id, server.clone()))).or_insert_with(|| LocalServer {
                app_id: r.app_id.clone(),
                name: info(self.catalog, &r.app_id).name.to_string(),
                server,
                ..LocalServer::default()
            });
            add_once(&mut s.users, &r.user);
            listed(&r.paths).for_each(|p| add_once(&mut s.paths, &p));
            s.flows += r.flows;
            s.requests += r.requests;
            s.bytes_up += r.bytes_up;
        }
        let mut out: Vec<LocalServer> = by_server.into_values().collect();
        for s in &mut out {
            s.users.sort();
            s.paths.sort();
        }
        out
    }
}

/// Adds `item` to `list` unless it is empty or there already.
fn add_once(list: &mut Vec<String>, item: &str) {
    if !item.is_empty() && !list.iter().any(|i| i == item) {
        list.push(item.to_string());
    }
}

/// The items of a stored list (comma-separated, a comma inside an item written `%2C`).
fn listed(column: &str) -> impl Iterator<Item = String> + '_ {
    (column.split(','))
        .filter(|i| !i.is_empty())
        .map(|i| i.replace("%2C", ","))
}

/// A stored user kind; one this lantern does not know (a newer one's) counts as unknown.
fn user_kind(name: &str) -> UserKind {
    UserKind::from_name(name).unwrap_or(UserKind::Unknown)
}

/// One row per user kind, every kind included, in the vocabulary's order.
fn api_use(judged: &[Judged<'_>]) -> Vec<KindUse> {
    UserKind::ALL
        .iter()
        .map(|&kind| {
            let rows: Vec<&RollupRow> = (judged.iter())
                .filter(|j| j.category == Category::LlmApi && j.kind == kind)
                .map(|j| j.row)
                .collect();
            let users: BTreeSet<&str> = rows.iter().map(|r| r.user.as_str()).collect();
            KindUse {
                user_kind: kind.name().to_string(),
                users: users.len() as u64,
                flows: rows.iter().map(|r| r.flows).sum(),
                bytes_up: rows.iter().map(|r| r.bytes_up).sum(),
                bytes_down: rows.iter().map(|r| r.bytes_down).sum(),
            }
        })
        .collect()
}

/// A category's apps, users, flows and bytes up.
type CategorySums<'a> = (BTreeSet<&'a str>, BTreeSet<&'a str>, u64, u64);

fn categories(judged: &[Judged<'_>]) -> Vec<CategoryUse> {
    let mut by_category: BTreeMap<&str, CategorySums<'_>> = BTreeMap::new();
    for j in judged {
        let c = by_category.entry(j.category.name()).or_default();
        c.0.insert(&j.row.app_id);
        c.1.insert(&j.row.user);
        c.2 += j.row.flows;
        c.3 += j.row.bytes_up;
    }
    let mut out: Vec<CategoryUse> = by_category
        .into_iter()
        .map(|(category, (apps, users, flows, bytes_up))| CategoryUse {
            category: category.to_string(),
            apps: apps.len() as u64,
            users: users.len() as u64,
            flows,
            bytes_up,
        })
        .collect();
    out.sort_by(|a, b| (b.bytes_up, &a.category).cmp(&(a.bytes_up, &b.category)));
    out
}

fn trend(rows: &[&RollupRow]) -> Vec<TrendPoint> {
    let mut by_week: BTreeMap<(String, &str), (BTreeSet<&str>, u64)> = BTreeMap::new();
    for r in rows {
        let w = by_week.entry((iso_week(r.hour), &r.app_id)).or_default();
        w.0.insert(&r.user);
        w.1 += r.bytes_up;
    }
    by_week
        .into_iter()
        .map(|((week, app), (users, bytes_up))| TrendPoint {
            week,
            app_id: app.to_string(),
            users: users.len() as u64,
            bytes_up,
        })
        .collect()
}

impl Input<'_> {
    /// Who sent the most to apps unsanctioned or unreviewed for them, and to uncatalogued
    /// names, most first.
    fn top_users(
        &self,
        judged: &[Judged<'_>],
        uncatalogued: &candidates::Uncatalogued<'_>,
    ) -> Vec<RiskyUse> {
        let mut by_use: BTreeMap<(&str, &str, Status), RiskyUse> = BTreeMap::new();
        for j in judged {
            if !matches!(j.status, Status::Unsanctioned | Status::Unreviewed) {
                continue;
            }
            let r = j.row;
            let u = (by_use.entry((&r.user, &r.app_id, j.status))).or_insert_with(|| RiskyUse {
                user: r.user.clone(),
                user_kind: r.user_kind.clone(),
                app_id: r.app_id.clone(),
                name: info(self.catalog, &r.app_id).name.to_string(),
                status: j.status.name().to_string(),
                ..RiskyUse::default()
            });
            // A person for one hour's rows and unknown for another: a person.
            if j.kind == UserKind::Person {
                u.user_kind = j.kind.name().to_string();
            }
            u.flows += r.flows;
            u.bytes_up += r.bytes_up;
        }
        let mut out: Vec<RiskyUse> = by_use.into_values().collect();
        out.extend(uncatalogued.uploads());
        out.sort_by(|a, b| {
            (b.bytes_up, &a.user, &a.app_id, &a.name)
                .cmp(&(a.bytes_up, &b.user, &b.app_id, &b.name))
        });
        out.truncate(TOP_USERS);
        out
    }

    fn one_source_apps(&self, apps: &[AppUse]) -> Vec<OneSourceApp> {
        (apps.iter())
            .filter(|a| a.confidence == confidence::Level::Low.name())
            .map(|a| OneSourceApp {
                app_id: a.app_id.clone(),
                name: a.name.clone(),
                category: a.category.clone(),
                sources: info(self.catalog, &a.app_id).sources.to_vec(),
                users: a.users,
                bytes_up: a.bytes_up,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollup(user: &str, app: &str, kind: &str, group: &str, up: u64, first: i64) -> RollupRow {
        RollupRow {
            sensor: "s".into(),
            hour: first / 1_000_000 / 3600 * 3600,
            user: user.into(),
            app_id: app.into(),
            user_source: "ip".into(),
            user_kind: kind.into(),
            device: String::new(),
            user_group: group.into(),
            flows: 1,
            dns_lookups: 2,
            bytes_up: up,
            bytes_down: 10,
            first_seen_us: first,
            last_seen_us: first + 5,
            batch_id: 0,
        }
    }

    #[test]
    fn statuses_come_from_the_policy_for_each_users_group() {
        let catalog = Catalog::load(&[]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(
            &path,
            "[apps]\ndeepseek-chat = \"unsanctioned\"\nopenai-chatgpt = \"sanctioned\"\n\
             [[exception]]\ngroup = \"labs\"\napps = [\"deepseek-chat\"]\nstatus = \"tolerated\"\n",
        )
        .unwrap();
        let policy = Policy::load(&path, &catalog).unwrap();
        let period = Period::dates("2026-11-16", "2026-11-22").unwrap();
        let (from, _) = period.bounds();
        let t = from * 1_000_000 + 7_200_000_000;
        let rows = [
            rollup("alice", "openai-chatgpt", "person", "", 100, t),
            rollup("alice", "deepseek-chat", "person", "", 500, t),
            rollup("bob", "deepseek-chat", "unknown", "labs", 700, t + 1),
            rollup("10.0.0.9", "openai-api", "service", "", 40, t),
        ];
        let first_seen = BTreeMap::from([
            ("openai-chatgpt".to_string(), t - 86_400_000_000 * 30),
            ("deepseek-chat".to_string(), t),
            ("openai-api".to_string(), t - 1),
        ]);
        let input = Input {
            period: &period,
            catalog: &catalog,
            policy: &policy,
            first_seen: &first_seen,
        };
        let refs: Vec<&RollupRow> = rows.iter().collect();
        let none = candidates::Uncatalogued::of(&catalog, &[], &[]);
        let report = input.assemble(&refs, &refs, &none, &[]);
        let h = &report.headline;
        assert_eq!((h.apps, h.people, h.services), (3, 2, 1));
        assert_eq!((h.unsanctioned_apps, h.bytes_up_unsanctioned), (1, 500));
        assert_eq!((h.bytes_up_unreviewed, h.new_apps), (40, 2));
        let deepseek = report
            .apps
            .iter()
            .find(|a| a.app_id == "deepseek-chat")
            .unwrap();
        assert_eq!(
            (deepseek.status.as_str(), deepseek.users),
            ("unsanctioned", 2)
        );
        let firsts: Vec<_> = (report.new_apps.iter())
            .map(|a| (a.app_id.as_str(), a.first_user.as_str()))
            .collect();
        assert_eq!(
            firsts,
            [("openai-api", "10.0.0.9"), ("deepseek-chat", "alice")]
        );
        let top: Vec<_> = (report.top_users.iter())
            .map(|u| (u.user.as_str(), u.app_id.as_str(), u.status.as_str()))
            .collect();
        assert_eq!(
            top,
            [
                ("alice", "deepseek-chat", "unsanctioned"),
                ("10.0.0.9", "openai-api", "unreviewed")
            ]
        );
        let service = report
            .api_use
            .iter()
            .find(|k| k.user_kind == "service")
            .unwrap();
        assert_eq!((service.users, service.bytes_up), (1, 40));
        assert_eq!(report.trend.len(), 3);
        assert_eq!(report.trend[0].week, "2026-W47");
    }

    /// Every user kind, one user each calling a model API: each kind has its own row in the
    /// API table with its bytes, its own row among the top users, and is counted in the
    /// headline as what it is (agents and services apart from people). A kind added to
    /// `UserKind` is in every table by construction, or this fails.
    #[test]
    fn every_user_kind_reaches_every_table_that_shows_kinds() {
        let catalog = Catalog::load(&[]).unwrap();
        let period = Period::dates("2026-11-16", "2026-11-22").unwrap();
        let t = period.bounds().0 * 1_000_000 + 3_600_000_000;
        let rows: Vec<RollupRow> = (UserKind::ALL.iter().enumerate())
            .map(|(i, kind)| {
                let user = format!("user-{}", kind.name());
                rollup(&user, "openai-api", kind.name(), "", 1000 + i as u64, t)
            })
            .collect();
        let first_seen = BTreeMap::from([("openai-api".to_string(), t)]);
        let input = Input {
            period: &period,
            catalog: &catalog,
            policy: &Policy::none(),
            first_seen: &first_seen,
        };
        let refs: Vec<&RollupRow> = rows.iter().collect();
        let none = candidates::Uncatalogued::of(&catalog, &[], &[]);
        let report = input.assemble(&refs, &refs, &none, &[]);
        let kinds: Vec<&str> = report
            .api_use
            .iter()
            .map(|k| k.user_kind.as_str())
            .collect();
        assert_eq!(kinds, UserKind::NAMES);
        for (i, kind) in UserKind::ALL.iter().enumerate() {
            let api = &report.api_use[i];
            assert_eq!((api.users, api.bytes_up), (1, 1000 + i as u64), "{kind}");
            let top = (report.top_users.iter())
                .find(|u| u.user == format!("user-{kind}"))
                .unwrap_or_else(|| panic!("{kind} missing from top users"));
            assert_eq!(top.user_kind, kind.name());
        }
        let h = &report.headline;
        assert_eq!(
            (h.people, h.services, h.agents),
            (2, 1, 1),
            "person and unknown are people"
        );
        assert_eq!(report.apps[0].services, 1);
        let csv = render::render(&report, render::Format::Csv).unwrap();
        let api_csv = &csv
            .iter()
            .find(|(name, _)| name == "api_use.csv")
            .unwrap()
            .1;
        for kind in UserKind::ALL {
            assert!(
                api_csv.contains(&format!("\n{kind},1,")),
                "{kind}: {api_csv}"
            );
        }
    }
}
