//! Assembling a report from the period's hourly rollups: each row judged by the policy for its
//! user's group, then the inventory of apps, the apps new in the period, who sent the most to
//! unsanctioned, unreviewed and uncatalogued apps, the API table by user kind, the categories,
//! the weeks of the trend, the apps known from one source and a user's timeline.

use super::candidates::Uncatalogued;
use super::{
    AppUse, CategoryUse, DayUse, Filter, Headline, KindUse, NewApp, OneSourceApp, Period, Report,
    RiskyUse, TOP_USERS, TrendPoint, Visibility, info, iso_week, time,
};
use crate::catalog::{Catalog, Category, confidence};
use crate::identity::UserKind;
use crate::policy::{Policy, Status};
use crate::store::RollupRow;
use std::collections::{BTreeMap, BTreeSet};

/// What every part of the report is made from.
pub(super) struct Input<'a> {
    pub(super) period: &'a Period,
    pub(super) catalog: &'a Catalog,
    pub(super) policy: &'a Policy,
    pub(super) first_seen: &'a BTreeMap<String, i64>,
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

    pub(super) fn assemble(
        &self,
        rows: &[&RollupRow],
        trend_rows: &[&RollupRow],
        uncatalogued: &Uncatalogued<'_>,
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
            local_servers: Vec::new(),
            programs: Vec::new(),
            mcp_servers: Vec::new(),
            filter: Filter::default(),
            timeline: Vec::new(),
            visibility: Visibility::default(),
        }
    }

    /// The rows' use per day and app, in time order.
    pub(super) fn timeline(&self, rows: &[&RollupRow]) -> Vec<DayUse> {
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
    fn top_users(&self, judged: &[Judged<'_>], uncatalogued: &Uncatalogued<'_>) -> Vec<RiskyUse> {
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
        let none = Uncatalogued::of(&catalog, &[], &[]);
        let report = input.assemble(&refs, &refs, &none);
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
        let none = Uncatalogued::of(&catalog, &[], &[]);
        let report = input.assemble(&refs, &refs, &none);
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
        let csv =
            crate::report::render::render(&report, crate::report::render::Format::Csv).unwrap();
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
