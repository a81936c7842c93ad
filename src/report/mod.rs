//! Report: what a period's AI use was, read only from a store, so that the same traffic gives
//! the same report from SQLite and from ClickHouse.
//!
//! [`Period`] is the time range (an ISO week or dates, UTC). [`build`] reads the period's hourly
//! rollups, each app's first activity ever and the uncatalogued AI-looking names, and makes a
//! [`Report`]: headline numbers, an inventory of apps, the users, and the candidates for the
//! catalog. The store does the sums; the report counts distinct users and devices itself, so
//! both stores need only return rows.

mod period;

pub use period::{Period, PeriodError};

use crate::capture::Timestamp;
use crate::catalog::Catalog;
use crate::output::Rfc3339;
use crate::store::{Store, StoreError, StoredCandidate, StoredRollup};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One period's report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The period, as dates.
    pub period: Period,
    /// The numbers at the top.
    pub headline: Headline,
    /// Every app used in the period, most data sent first.
    pub apps: Vec<AppUse>,
    /// Every user of an app in the period, most data sent first.
    pub users: Vec<UserUse>,
    /// Names that look like AI and are not in the catalog.
    pub candidates: Vec<Candidate>,
}

/// The numbers at the top of the report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Headline {
    /// AI apps seen.
    pub apps: u64,
    /// Distinct users of them (people, services and addresses).
    pub users: u64,
    /// Users known to be people.
    pub people: u64,
    /// Users known to be services.
    pub services: u64,
    /// Flows to them.
    pub flows: u64,
    /// DNS lookups of their names.
    pub dns_lookups: u64,
    /// Bytes sent to them.
    pub bytes_up: u64,
    /// Bytes received from them.
    pub bytes_down: u64,
    /// Apps first seen in this period.
    pub new_apps: u64,
}

/// One app's use in the period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppUse {
    pub app_id: String,
    pub name: String,
    pub vendor: String,
    pub category: String,
    /// Risk tier, where the catalog has assessed it.
    pub risk_tier: Option<String>,
    pub users: u64,
    /// Distinct devices known by name.
    pub devices: u64,
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

/// One user's AI use in the period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserUse {
    pub user: String,
    /// person, service or unknown.
    pub user_kind: String,
    /// The apps, by id.
    pub apps: Vec<String>,
    pub flows: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
}

/// An uncatalogued name that looks like AI.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub name: String,
    pub flows: u64,
    pub lookups: u64,
    pub users: u64,
}

fn time(us: i64) -> String {
    Rfc3339(Timestamp(us.saturating_mul(1000))).to_string()
}

/// Reads the period from the store and makes its report.
pub fn build(store: &Store, catalog: &Catalog, period: &Period) -> Result<Report, StoreError> {
    let (from, to) = period.bounds();
    let rollups = store.rollups(from, to)?;
    let first_seen: HashMap<String, i64> = store
        .first_seen()?
        .into_iter()
        .map(|f| (f.app_id, f.first_seen_us))
        .collect();
    let candidates = store.candidates(from * 1_000_000, to * 1_000_000)?;
    Ok(assemble(
        period,
        catalog,
        &rollups,
        &first_seen,
        &candidates,
    ))
}

/// The report of rows already read.
fn assemble(
    period: &Period,
    catalog: &Catalog,
    rollups: &[StoredRollup],
    first_seen: &HashMap<String, i64>,
    candidates: &[StoredCandidate],
) -> Report {
    let apps = apps(period, catalog, rollups, first_seen);
    let users = users(rollups);
    let kinds = |kind: &str| users.iter().filter(|u| u.user_kind == kind).count() as u64;
    let headline = Headline {
        apps: apps.len() as u64,
        users: users.len() as u64,
        people: kinds("person"),
        services: kinds("service"),
        flows: rollups.iter().map(|r| r.flows).sum(),
        dns_lookups: rollups.iter().map(|r| r.dns_lookups).sum(),
        bytes_up: rollups.iter().map(|r| r.bytes_up).sum(),
        bytes_down: rollups.iter().map(|r| r.bytes_down).sum(),
        new_apps: apps.iter().filter(|a| a.new).count() as u64,
    };
    Report {
        period: period.clone(),
        headline,
        apps,
        users,
        candidates: candidate_rows(candidates),
    }
}

#[derive(Default)]
struct Sums<'a> {
    users: BTreeSet<&'a str>,
    devices: BTreeSet<&'a str>,
    flows: u64,
    dns_lookups: u64,
    bytes_up: u64,
    bytes_down: u64,
    last_seen_us: i64,
}

fn apps(
    period: &Period,
    catalog: &Catalog,
    rollups: &[StoredRollup],
    first_seen: &HashMap<String, i64>,
) -> Vec<AppUse> {
    let mut by_app: BTreeMap<&str, Sums<'_>> = BTreeMap::new();
    for r in rollups {
        let s = by_app.entry(&r.app_id).or_default();
        s.users.insert(&r.user);
        if !r.device.is_empty() {
            s.devices.insert(&r.device);
        }
        s.flows += r.flows;
        s.dns_lookups += r.dns_lookups;
        s.bytes_up += r.bytes_up;
        s.bytes_down += r.bytes_down;
        s.last_seen_us = s.last_seen_us.max(r.last_seen_us);
    }
    let (from, _) = period.bounds();
    let mut out: Vec<AppUse> = by_app
        .into_iter()
        .map(|(id, s)| {
            let app = catalog.apps().iter().find(|a| a.id == id);
            let first = first_seen.get(id).copied().unwrap_or(s.last_seen_us);
            AppUse {
                app_id: id.to_string(),
                name: app.map_or(id, |a| &a.name).to_string(),
                vendor: app.map_or("", |a| &a.vendor).to_string(),
                category: app.map_or("unknown", |a| a.category.name()).to_string(),
                risk_tier: app
                    .and_then(|a| a.risk.as_ref())
                    .map(|r| r.tier.name().to_string()),
                users: s.users.len() as u64,
                devices: s.devices.len() as u64,
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

fn users(rollups: &[StoredRollup]) -> Vec<UserUse> {
    let mut by_user: BTreeMap<&str, UserUse> = BTreeMap::new();
    for r in rollups {
        let u = by_user.entry(&r.user).or_insert_with(|| UserUse {
            user: r.user.clone(),
            user_kind: r.user_kind.clone(),
            apps: Vec::new(),
            flows: 0,
            bytes_up: 0,
            bytes_down: 0,
        });
        if !u.apps.contains(&r.app_id) {
            u.apps.push(r.app_id.clone());
        }
        // One user can be a person for a chat app and a service for an API: a person wins.
        if r.user_kind == "person" || u.user_kind == "unknown" {
            u.user_kind = r.user_kind.clone();
        }
        u.flows += r.flows;
        u.bytes_up += r.bytes_up;
        u.bytes_down += r.bytes_down;
    }
    let mut out: Vec<UserUse> = by_user.into_values().collect();
    for u in &mut out {
        u.apps.sort();
    }
    out.sort_by(|a, b| (b.bytes_up, &a.user).cmp(&(a.bytes_up, &b.user)));
    out
}

fn candidate_rows(rows: &[StoredCandidate]) -> Vec<Candidate> {
    let mut by_name: BTreeMap<&str, Candidate> = BTreeMap::new();
    for r in rows {
        let c = by_name.entry(&r.name).or_insert_with(|| Candidate {
            name: r.name.clone(),
            flows: 0,
            lookups: 0,
            users: 0,
        });
        c.flows += r.flows;
        c.lookups += r.lookups;
        c.users += 1;
    }
    let mut out: Vec<Candidate> = by_name.into_values().collect();
    out.sort_by(|a, b| (b.flows + b.lookups, &a.name).cmp(&(a.flows + a.lookups, &b.name)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollup(user: &str, app: &str, kind: &str, up: u64, first: i64) -> StoredRollup {
        StoredRollup {
            sensor: "s".into(),
            hour: first / 3_600_000_000 * 3600,
            user: user.into(),
            app_id: app.into(),
            user_source: "ip".into(),
            user_kind: kind.into(),
            device: String::new(),
            flows: 1,
            dns_lookups: 2,
            bytes_up: up,
            bytes_down: 10,
            first_seen_us: first,
            last_seen_us: first + 5,
        }
    }

    #[test]
    fn users_and_apps_are_counted_once_and_new_apps_are_those_first_seen_in_the_period() {
        let catalog = Catalog::load(&[]).unwrap();
        let period = Period::dates("2026-11-16", "2026-11-22").unwrap();
        let (from, _) = period.bounds();
        let t = from * 1_000_000 + 7_200_000_000;
        let rollups = [
            rollup("alice", "openai-chatgpt", "person", 100, t),
            rollup("alice", "openai-chatgpt", "person", 50, t + 3_600_000_000),
            rollup("alice", "anthropic-claude", "unknown", 500, t),
            rollup("10.0.0.9", "openai-chatgpt", "service", 1, t),
        ];
        let first_seen = HashMap::from([
            ("openai-chatgpt".to_string(), t - 86_400_000_000 * 30),
            ("anthropic-claude".to_string(), t),
        ]);
        let report = assemble(&period, &catalog, &rollups, &first_seen, &[]);
        let h = &report.headline;
        assert_eq!((h.apps, h.users, h.people, h.services), (2, 2, 1, 1));
        assert_eq!(
            (h.flows, h.dns_lookups, h.bytes_up, h.new_apps),
            (4, 8, 651, 1)
        );
        let ids: Vec<_> = report.apps.iter().map(|a| a.app_id.as_str()).collect();
        assert_eq!(ids, ["anthropic-claude", "openai-chatgpt"]);
        let chatgpt = &report.apps[1];
        assert_eq!(
            (chatgpt.users, chatgpt.bytes_up, chatgpt.new),
            (2, 151, false)
        );
        assert_eq!(chatgpt.vendor, "OpenAI");
        assert_eq!(report.users[0].apps, ["anthropic-claude", "openai-chatgpt"]);
        assert_eq!(report.users[0].user_kind, "person");
    }
}
