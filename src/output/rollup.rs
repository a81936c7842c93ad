//! Hourly rollups per (hour, user, app) with how the user was known, whether a person or a
//! service, the device and the group: flows, DNS lookups, bytes each way, first and last seen. A flow
//! counts in the hour it started. The store adds the sensor name and adds rollups of a run to
//! what it already holds.

use super::{DnsView, FlowView};
use crate::capture::Timestamp;
use crate::catalog::Identified;
use crate::identity::{Identity, UserKind};
use std::collections::HashMap;

/// What a rollup is keyed by (the store adds the sensor).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RollupKey {
    /// Start of the hour.
    pub hour: Timestamp,
    /// Attributed user.
    pub user: String,
    /// App id.
    pub app_id: String,
    /// How the user was known.
    pub user_source: &'static str,
    /// Person, service or unknown.
    pub user_kind: &'static str,
    /// The device, empty when not known.
    pub device: String,
    /// The group from the static map, empty when not known (a policy's exceptions are by group).
    pub group: String,
}

/// The counters of one (hour, user, app).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rollup {
    /// Flows started in the hour.
    pub flows: u64,
    /// DNS lookups of the app's names in the hour.
    pub dns_lookups: u64,
    /// Payload bytes client to server.
    pub bytes_up: u64,
    /// Payload bytes server to client.
    pub bytes_down: u64,
    /// Earliest activity.
    pub first_seen: Timestamp,
    /// Latest activity.
    pub last_seen: Timestamp,
}

impl Rollup {
    fn new(at: Timestamp) -> Rollup {
        Rollup {
            flows: 0,
            dns_lookups: 0,
            bytes_up: 0,
            bytes_down: 0,
            first_seen: at,
            last_seen: at,
        }
    }

    fn seen(&mut self, first: Timestamp, last: Timestamp) {
        self.first_seen = self.first_seen.min(first);
        self.last_seen = self.last_seen.max(last);
    }
}

/// Rollups gathered in memory until the store takes them.
#[derive(Debug, Default)]
pub struct Rollups {
    map: HashMap<RollupKey, Rollup>,
}

impl Rollups {
    /// Counts a flow of a catalogued app.
    pub fn flow(&mut self, view: &FlowView<'_>) {
        let Some(app) = view.app else { return };
        let r = view.record;
        // Each record's bytes go to the hour it started; the flow counts once, in its first.
        let rollup = self.entry(r.first, view.identity, app, view.user_kind());
        rollup.flows += u64::from(r.part == 0);
        rollup.bytes_up += r.bytes[0];
        rollup.bytes_down += r.bytes[1];
        rollup.seen(r.first, r.last);
    }

    /// Counts a DNS lookup of a catalogued app's name.
    pub fn dns(&mut self, view: &DnsView<'_>) {
        let Some(app) = view.app else { return };
        let at = view.record.ts;
        let rollup = self.entry(at, view.identity, app, view.user_kind());
        rollup.dns_lookups += 1;
        rollup.seen(at, view.record.completed());
    }

    fn entry(
        &mut self,
        at: Timestamp,
        who: &Identity,
        app: Identified<'_>,
        kind: UserKind,
    ) -> &mut Rollup {
        let key = RollupKey {
            hour: at.hour_floor(),
            user: who.user.clone(),
            app_id: app.app.id.clone(),
            user_source: who.source.name(),
            user_kind: kind.name(),
            device: who.device.clone().unwrap_or_default(),
            group: who.group.clone().unwrap_or_default(),
        };
        self.map.entry(key).or_insert_with(|| Rollup::new(at))
    }

    /// Takes every rollup, sorted by key.
    pub fn drain(&mut self) -> Vec<(RollupKey, Rollup)> {
        let mut all: Vec<_> = self.map.drain().collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}
