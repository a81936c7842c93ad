//! Candidates: names that look like AI and are not in the catalog, with what was sent to them.
//! The long tail the catalog has not reached yet is where data goes unnoticed, so each name
//! carries its flows, lookups, users and devices, bytes each way and first and last seen, and
//! the uploads to them join the table of who sent the most (marked as uncatalogued).

use super::{RiskyUse, time};
use crate::catalog::Catalog;
use crate::policy::Status;
use crate::store::read::{CandidateFlows, CandidateLookups};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// An uncatalogued name that looks like AI.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub name: String,
    pub flows: u64,
    pub lookups: u64,
    /// Distinct users.
    pub users: u64,
    /// Distinct devices known by name.
    pub devices: u64,
    /// Bytes sent to it.
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub first_seen: String,
    pub last_seen: String,
}

/// The names still uncatalogued (a name the catalog knows since it was seen, as an app or as
/// shared or not AI, is left out) with their flows and lookups.
pub struct Uncatalogued<'a> {
    flows: Vec<&'a CandidateFlows>,
    lookups: Vec<&'a CandidateLookups>,
}

impl<'a> Uncatalogued<'a> {
    /// The rows of names today's catalog still does not know.
    pub fn of(
        catalog: &Catalog,
        flows: &'a [CandidateFlows],
        lookups: &'a [CandidateLookups],
    ) -> Uncatalogued<'a> {
        let still = |name: &str| catalog.classify(Some(name), None, 0) == (None, true);
        Uncatalogued {
            flows: flows.iter().filter(|r| still(&r.name)).collect(),
            lookups: lookups.iter().filter(|r| still(&r.name)).collect(),
        }
    }

    /// Bytes sent to them.
    pub fn bytes_up(&self) -> u64 {
        self.flows.iter().map(|r| r.bytes_up).sum()
    }

    /// One row per name, most seen first.
    pub fn rows(&self) -> Vec<Candidate> {
        #[derive(Default)]
        struct Sums<'r> {
            flows: u64,
            lookups: u64,
            users: BTreeSet<&'r str>,
            devices: BTreeSet<&'r str>,
            up: u64,
            down: u64,
            first: Option<i64>,
            last: i64,
        }
        let mut by_name: BTreeMap<&str, Sums<'_>> = BTreeMap::new();
        let seen = |s: &mut Sums<'_>, first: i64, last: i64| {
            s.first = Some(s.first.map_or(first, |f| f.min(first)));
            s.last = s.last.max(last);
        };
        for r in &self.flows {
            let s = by_name.entry(&r.name).or_default();
            (s.flows, s.up, s.down) = (s.flows + r.flows, s.up + r.bytes_up, s.down + r.bytes_down);
            s.users.insert(&r.user);
            s.devices
                .extend((!r.device.is_empty()).then_some(r.device.as_str()));
            seen(s, r.first_us, r.last_us);
        }
        for r in &self.lookups {
            let s = by_name.entry(&r.name).or_default();
            s.lookups += r.lookups;
            s.users.insert(&r.user);
            s.devices
                .extend((!r.device.is_empty()).then_some(r.device.as_str()));
            seen(s, r.first_us, r.last_us);
        }
        let mut out: Vec<Candidate> = (by_name.into_iter())
            .map(|(name, s)| Candidate {
                name: name.to_string(),
                flows: s.flows,
                lookups: s.lookups,
                users: s.users.len() as u64,
                devices: s.devices.len() as u64,
                bytes_up: s.up,
                bytes_down: s.down,
                first_seen: time(s.first.unwrap_or(s.last)),
                last_seen: time(s.last),
            })
            .collect();
        out.sort_by(|a, b| {
            let seen = |c: &Candidate| c.flows + c.lookups;
            (b.bytes_up, seen(b), &a.name).cmp(&(a.bytes_up, seen(a), &b.name))
        });
        out
    }

    /// What each user sent to each name, as rows of the table of who sent the most: nobody
    /// reviewed these names, and the row says they are not catalogued.
    pub fn uploads(&self) -> Vec<RiskyUse> {
        let mut by_use: BTreeMap<(&str, &str), RiskyUse> = BTreeMap::new();
        for r in &self.flows {
            let u = (by_use.entry((&r.user, &r.name))).or_insert_with(|| RiskyUse {
                user: r.user.clone(),
                user_kind: r.user_kind.clone(),
                name: r.name.clone(),
                status: Status::Unreviewed.name().to_string(),
                uncatalogued: true,
                ..RiskyUse::default()
            });
            u.flows += r.flows;
            u.bytes_up += r.bytes_up;
        }
        by_use.into_values().filter(|u| u.bytes_up > 0).collect()
    }
}
