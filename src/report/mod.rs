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

mod assemble;
mod candidates;
mod period;
pub mod render;
mod servers;
pub mod visibility;

pub use crate::store::Filter;
pub use candidates::Candidate;
pub use period::{Period, PeriodError, iso_week};
pub use visibility::Visibility;

use crate::capture::Rfc3339;
use crate::capture::Timestamp;
use crate::catalog::{App, Catalog, Category};
use crate::policy::Policy;
use crate::store::read::{self, StoredMcpUse, StoredProgramUse, StoredServerUse};
use crate::store::{RollupRow, Store, StoreError};
use serde::Serialize;
use std::collections::BTreeMap;

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
    let input = assemble::Input {
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
    let mut report = input.assemble(&in_period, &trend_rows, &uncatalogued);
    report.local_servers = servers::local_servers(catalog, &read.servers);
    report.programs = servers::programs(catalog, &read.programs);
    report.mcp_servers = servers::mcp_servers(catalog, &read.mcp);
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
