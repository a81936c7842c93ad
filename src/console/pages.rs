//! The console's pages: what each [`PageKind`] reads and shows. A page is the report of its
//! period and filters (`report::build`, the reads and numbers of `lantern report`) with the
//! page's subject as one more filter (an app's page filters by the app, a user's by the user),
//! plus the few tables only the console has ([`Extra`]: an app's users, recent evidence, the
//! list of users, who used each uncatalogued name, the sensors' health). Every table is a
//! [`ReportTable`], so a page's table and its CSV download have the same columns and cells.
//!
//! A viewer's report is made [`without_people`] and every table loses its people columns
//! ([`PEOPLE_COLUMNS`]); the pages that are only about people refuse them.

use super::access::Role;
use super::redact::without_people;
use super::view::View;
use crate::capture::{Rfc3339, Timestamp};
use crate::catalog::Catalog;
use crate::policy::Policy;
use crate::report::render::{ReportTable, table, tables};
use crate::report::{self, Filter, Report};
use crate::store::HealthRow;
use crate::store::read;
use crate::store::{Store, StoreError};
use serde::Serialize;

crate::vocabulary! {
    /// The kinds of page.
    pub enum PageKind {
        /// The period at a glance: the report's headline, charts and main tables.
        Overview = "overview",
        /// Every app in use.
        Apps = "apps",
        /// One app: who uses it, where, when, and the latest flows.
        App = "app",
        /// Every user with AI use.
        Users = "users",
        /// One user: their apps, day by day, and the programs on their machines.
        User = "user",
        /// MCP servers in use.
        Mcp = "mcp",
        /// Model servers on the local network.
        Servers = "servers",
        /// AI used by programs and agents.
        Programs = "programs",
        /// Names that look like AI and are not in the catalog.
        Candidates = "candidates",
        /// The sensors: their health, silent ones first, and what they could see.
        Sensors = "sensors",
    }
}

impl PageKind {
    /// The page's heading.
    pub fn title(self) -> &'static str {
        match self {
            PageKind::Overview => "Overview",
            PageKind::Apps => "AI apps",
            PageKind::App => "App",
            PageKind::Users => "Users",
            PageKind::User => "User",
            PageKind::Mcp => "MCP servers",
            PageKind::Servers => "Local model servers",
            PageKind::Programs => "Programs and agents",
            PageKind::Candidates => "Uncatalogued candidates",
            PageKind::Sensors => "Sensors",
        }
    }

    /// Its path, without a subject.
    pub fn path(self) -> &'static str {
        match self {
            PageKind::Overview => "/",
            PageKind::Apps | PageKind::App => "/apps",
            PageKind::Users | PageKind::User => "/users",
            PageKind::Mcp => "/mcp",
            PageKind::Servers => "/servers",
            PageKind::Programs => "/programs",
            PageKind::Candidates => "/candidates",
            PageKind::Sensors => "/sensors",
        }
    }

    /// Whether the page is about people, and so not a viewer's.
    pub fn names_people(self) -> bool {
        matches!(self, PageKind::Users | PageKind::User)
    }

    /// The tables the page shows, by name, in order.
    pub fn tables(self, role: Role) -> &'static [&'static str] {
        let people = role.sees_people();
        match self {
            PageKind::Overview if people => &[
                "new_apps",
                "top_users",
                "api_use",
                "categories",
                "visibility",
            ],
            PageKind::Overview => &["new_apps", "api_use", "categories", "visibility"],
            PageKind::Apps => &["apps", "one_source_apps"],
            PageKind::App if people => &["app_users", "trend", "evidence"],
            PageKind::App => &["app_sensors", "trend", "evidence"],
            PageKind::Users => &["users"],
            PageKind::User => &["apps", "timeline", "programs", "app_users", "evidence"],
            PageKind::Mcp => &["mcp_servers"],
            PageKind::Servers => &["local_servers"],
            PageKind::Programs => &["programs"],
            PageKind::Candidates if people => &["candidates", "candidate_clients"],
            PageKind::Candidates => &["candidates"],
            PageKind::Sensors => &["health", "visibility", "visibility_by_source"],
        }
    }
}

/// Columns that name a person, a device or a client: a viewer's tables have none of them.
pub const PEOPLE_COLUMNS: [&str; 7] = [
    "user",
    "first_user",
    "device",
    "client",
    "client_ip",
    "host",
    "clients",
];

/// Most flows an evidence table shows.
pub const EVIDENCE_ROWS: u32 = 50;
/// A sensor whose latest health row is older than this is silent (as `lantern status` says by
/// default).
pub const SILENT_AFTER_SECS: i64 = 300;

/// What the console reads besides the report.
pub struct Sources<'a> {
    /// The store.
    pub store: &'a Store,
    /// The catalog.
    pub catalog: &'a Catalog,
    /// The policy, if given.
    pub policy: Option<&'a Policy>,
}

/// What a page (or a download of it) is made of: the report and the console's own tables.
pub struct Content {
    /// The report of the page's period and filters (a viewer's without people).
    pub report: Report,
    /// The console's tables.
    pub extra: Vec<ReportTable>,
    /// Hours with any use of the page's app (an app's page).
    pub hours: Option<u64>,
    /// Whether the store holds pseudonym tokens rather than names.
    pub pseudonymized: bool,
}

impl Content {
    /// Every table, the report's and the console's, a viewer's without people columns.
    pub fn tables(&self, role: Role) -> Vec<ReportTable> {
        let mut all = tables(&self.report);
        all.extend(self.extra.iter().cloned());
        if !role.sees_people() {
            all.iter_mut().for_each(drop_people);
        }
        all
    }
}

fn drop_people(t: &mut ReportTable) {
    let keep: Vec<bool> = (t.columns.iter())
        .map(|c| !PEOPLE_COLUMNS.contains(&c.as_str()))
        .collect();
    let kept = |cells: &mut Vec<String>| {
        let mut i = 0;
        cells.retain(|_| {
            i += 1;
            keep[i - 1]
        });
    };
    kept(&mut t.columns);
    t.rows.iter_mut().for_each(kept);
}

/// The filter of a page: the view's, with the page's subject added.
pub fn filter(kind: PageKind, subject: Option<&str>, view: &View) -> Filter {
    let mut filter = view.filter.clone();
    match (kind, subject) {
        (PageKind::App, Some(app)) => filter.apps = vec![app.to_string()],
        (PageKind::User, Some(user)) => filter.user = Some(user.to_string()),
        _ => {}
    }
    filter
}

/// The report of `filter` as `role` sees it, and whether it names users by tokens.
pub fn shown_report(
    filter: &Filter,
    view: &View,
    role: Role,
    s: &Sources<'_>,
) -> Result<(Report, bool), StoreError> {
    let report = report::build(s.store, s.catalog, s.policy, &view.period, filter)?;
    let pseudonymized = pseudonymized(&report);
    let report = match role.sees_people() {
        true => report,
        false => without_people(report),
    };
    Ok((report, pseudonymized))
}

/// The content of a report (from [`shown_report`]) with the console's `tables` of it read.
pub fn with_tables(
    (report, pseudonymized): (Report, bool),
    tables: &[&str],
    filter: &Filter,
    view: &View,
    s: &Sources<'_>,
) -> Result<Content, StoreError> {
    let (from, to) = view.period.bounds();
    let mut extra = Vec::new();
    let mut hours = None;
    let wants = |name: &str| tables.contains(&name);
    if wants("app_users") || wants("app_sensors") {
        let rows = s.store.read(&read::AppUsers { from, to, filter })?;
        extra.push(app_users(s.catalog, &rows));
        extra.push(app_sensors(&rows));
        let active = s.store.read(&read::Hours { from, to, filter })?;
        hours = Some(active.first().map_or(0, |h| h.hours));
    }
    if wants("evidence") {
        let limit = EVIDENCE_ROWS;
        let rows = s.store.read(&read::RecentFlows {
            from,
            to,
            filter,
            limit,
        })?;
        extra.push(evidence(s.catalog, &rows));
    }
    if wants("users") {
        extra.push(users(&s.store.read(&read::Users { from, to, filter })?));
    }
    if wants("candidate_clients") {
        let of = |lookups| {
            s.store.read(&read::CandidateClients {
                from,
                to,
                filter,
                lookups,
            })
        };
        extra.push(candidate_clients(&report, &of(false)?, &of(true)?));
    }
    if wants("health") {
        extra.push(health(&read::latest_health(s.store.read(&read::Health)?)));
    }
    Ok(Content {
        report,
        extra,
        hours,
        pseudonymized,
    })
}

/// Whether the report names its users by pseudonym tokens.
fn pseudonymized(r: &Report) -> bool {
    let token = |u: &str| u.starts_with(crate::identity::pseudonym::TOKEN_PREFIX);
    (r.top_users.iter().any(|u| token(&u.user)))
        || (r.new_apps.iter().any(|a| token(&a.first_user)))
        || (r.programs.iter().any(|p| token(&p.user)))
        || (r.filter.user.as_deref().is_some_and(token))
}

fn time(us: i64) -> String {
    Rfc3339(Timestamp(us.saturating_mul(1000))).to_string()
}

/// One user's use of one app, per device and sensor.
#[derive(Default, Serialize)]
struct AppUser {
    app_id: String,
    name: String,
    user: String,
    user_kind: String,
    device: String,
    sensor: String,
    hours: u64,
    flows: u64,
    dns_lookups: u64,
    bytes_up: u64,
    bytes_down: u64,
    last_seen: String,
}

fn app_users(catalog: &Catalog, rows: &[read::StoredAppUser]) -> ReportTable {
    let mut out: Vec<AppUser> = (rows.iter())
        .map(|r| AppUser {
            app_id: r.app_id.clone(),
            name: catalog
                .app(&r.app_id)
                .map_or(r.app_id.clone(), |a| a.name.clone()),
            user: r.user.clone(),
            user_kind: r.user_kind.clone(),
            device: r.device.clone(),
            sensor: r.sensor.clone(),
            hours: r.hours,
            flows: r.flows,
            dns_lookups: r.dns_lookups,
            bytes_up: r.bytes_up,
            bytes_down: r.bytes_down,
            last_seen: time(r.last_seen_us),
        })
        .collect();
    out.sort_by(|a, b| (b.bytes_up, &a.user).cmp(&(a.bytes_up, &b.user)));
    table("app_users", "Users, devices and services", &out)
}

/// One sensor's share of an app's use, with users and devices as counts.
#[derive(Default, Serialize)]
struct AppSensor {
    sensor: String,
    users: u64,
    devices: u64,
    flows: u64,
    dns_lookups: u64,
    bytes_up: u64,
    bytes_down: u64,
}

fn app_sensors(rows: &[read::StoredAppUser]) -> ReportTable {
    use std::collections::{BTreeMap, BTreeSet};
    type Seen<'a> = (BTreeSet<&'a str>, BTreeSet<&'a str>, [u64; 4]);
    let mut by: BTreeMap<&str, Seen<'_>> = BTreeMap::new();
    for r in rows {
        let s = by.entry(&r.sensor).or_default();
        s.0.insert(&r.user);
        if !r.device.is_empty() {
            s.1.insert(&r.device);
        }
        for (sum, add) in
            s.2.iter_mut()
                .zip([r.flows, r.dns_lookups, r.bytes_up, r.bytes_down])
        {
            *sum += add;
        }
    }
    let out: Vec<AppSensor> = (by.into_iter())
        .map(
            |(sensor, (users, devices, [flows, dns_lookups, bytes_up, bytes_down]))| AppSensor {
                sensor: sensor.to_string(),
                users: users.len() as u64,
                devices: devices.len() as u64,
                flows,
                dns_lookups,
                bytes_up,
                bytes_down,
            },
        )
        .collect();
    table("app_sensors", "Sensors", &out)
}

/// One flow record, as evidence.
#[derive(Default, Serialize)]
struct Evidence {
    time: String,
    sensor: String,
    app_id: String,
    name: String,
    user: String,
    user_kind: String,
    device: String,
    client_ip: String,
    server_name: String,
    name_source: String,
    server: String,
    protocol: String,
    client_software: String,
    client_kind: String,
    bytes_up: u64,
    bytes_down: u64,
}

fn evidence(catalog: &Catalog, rows: &[read::StoredFlow]) -> ReportTable {
    let out: Vec<Evidence> = (rows.iter().rev())
        .map(|r| Evidence {
            time: time(r.ts_us),
            sensor: r.sensor.clone(),
            app_id: r.app_id.clone(),
            name: catalog
                .app(&r.app_id)
                .map_or(String::new(), |a| a.name.clone()),
            user: r.user.clone(),
            user_kind: r.user_kind.clone(),
            device: r.device.clone(),
            client_ip: r.client_ip.clone(),
            server_name: r.server_name.clone(),
            name_source: r.name_source.clone(),
            server: format!("{}:{}", r.server_ip, r.server_port),
            protocol: r.protocol.clone(),
            client_software: r.client_software.clone(),
            client_kind: r.client_kind.clone(),
            bytes_up: r.bytes_up,
            bytes_down: r.bytes_down,
        })
        .collect();
    table("evidence", "Latest flows", &out)
}

/// One user's AI use in the period.
#[derive(Default, Serialize)]
struct UserUse {
    user: String,
    user_kind: String,
    user_group: String,
    apps: u64,
    devices: u64,
    flows: u64,
    bytes_up: u64,
    bytes_down: u64,
    last_seen: String,
}

fn users(rows: &[read::StoredUser]) -> ReportTable {
    let mut out: Vec<UserUse> = (rows.iter())
        .map(|r| UserUse {
            user: r.user.clone(),
            user_kind: r.user_kind.clone(),
            user_group: r.user_group.clone(),
            apps: r.apps,
            devices: r.devices,
            flows: r.flows,
            bytes_up: r.bytes_up,
            bytes_down: r.bytes_down,
            last_seen: time(r.last_seen_us),
        })
        .collect();
    out.sort_by(|a, b| (b.bytes_up, &a.user).cmp(&(a.bytes_up, &b.user)));
    table("users", "Users of AI", &out)
}

/// Who used an uncatalogued name.
#[derive(Default, Serialize)]
struct CandidateClient {
    name: String,
    user: String,
    device: String,
    flows: u64,
    lookups: u64,
}

fn candidate_clients(
    r: &Report,
    flows: &[read::StoredCandidateClient],
    lookups: &[read::StoredCandidateClient],
) -> ReportTable {
    use std::collections::BTreeMap;
    let listed: std::collections::BTreeSet<&str> =
        r.candidates.iter().map(|c| c.name.as_str()).collect();
    let mut by: BTreeMap<(&str, &str, &str), (u64, u64)> = BTreeMap::new();
    for (rows, lookup) in [(flows, false), (lookups, true)] {
        for c in rows.iter().filter(|c| listed.contains(c.name.as_str())) {
            let e = by.entry((&c.name, &c.user, &c.device)).or_default();
            match lookup {
                false => e.0 += c.uses,
                true => e.1 += c.uses,
            }
        }
    }
    let out: Vec<CandidateClient> = (by.into_iter())
        .map(|((name, user, device), (flows, lookups))| CandidateClient {
            name: name.to_string(),
            user: user.to_string(),
            device: device.to_string(),
            flows,
            lookups,
        })
        .collect();
    table("candidate_clients", "Who used them", &out)
}

/// A sensor's latest health.
#[derive(Default, Serialize)]
struct Health {
    sensor: String,
    /// `ok` or `silent`.
    state: String,
    last_write: String,
    seconds_since_write: i64,
    version: String,
    interfaces: String,
    packets: u64,
    drops_kernel: u64,
    drops_interface: u64,
    drops_queue: u64,
    flows_open: u64,
    backlog_rows: u64,
    spool_batches: u64,
}

fn health(rows: &[HealthRow]) -> ReportTable {
    let now_us = Timestamp::now().0.div_euclid(1000);
    let mut out: Vec<Health> = (rows.iter())
        .map(|h| {
            let since = (now_us - h.ts_us).div_euclid(1_000_000);
            Health {
                sensor: h.sensor.clone(),
                state: if since > SILENT_AFTER_SECS {
                    "silent"
                } else {
                    "ok"
                }
                .into(),
                last_write: time(h.ts_us),
                seconds_since_write: since,
                version: h.version.clone(),
                interfaces: h.interfaces.clone(),
                packets: h.packets,
                drops_kernel: h.drops_kernel,
                drops_interface: h.drops_interface,
                drops_queue: h.drops_queue,
                flows_open: h.flows_open,
                backlog_rows: h.backlog_rows,
                spool_batches: h.spool_batches,
            }
        })
        .collect();
    // Silent first, the longest silent at the top.
    out.sort_by(|a, b| (b.seconds_since_write, &a.sensor).cmp(&(a.seconds_since_write, &b.sensor)));
    table("health", "Sensors' health, silent ones first", &out)
}
