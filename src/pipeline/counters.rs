//! A run's counters: each stage's own (`decode::Counters`, `flow::Counters`,
//! `proto::Counters`, `logs::Counters`) with what the pipeline itself counts (packets read, what capture
//! dropped) and the sequencer's stages' evictions, listed together under the names every
//! output uses: the replay summary, the daemon's metrics (`lantern_<name>_total`) and status.

use crate::{decode, flow, logs, proto};

crate::counters! {
    /// What the pipeline counts as it reads: packets, bytes, and what capture dropped.
    pub struct Capture {
        packets: "packets read",
        bytes: "bytes on the wire (original packet lengths)",
        capture_kernel_drops: "packets the kernel dropped because lantern's capture buffer was full",
        capture_interface_drops: "packets the interface or its driver dropped (where it reports them)",
        capture_queue_drops: "packets dropped inside lantern because a worker's queue stayed full",
        epoch_ticks_missed: "ticks a worker missed because its queue was full; its records went with its next tick",
    }
}

crate::counters! {
    /// What the stages in the sequencer evicted: naming's DNS history and identity's tables.
    pub struct Sequenced {
        dns_cache_evictions: "(client, address) pairs evicted from the DNS history because it was full (by count, or by the bytes of its names)",
        dns_history_names_evicted: "names dropped from a (client, address) pair that already held 8, and ECH public names dropped because their map was full",
        identity_evictions: "identity bindings or devices dropped because an identity table was full",
        notices_raised: "notices raised",
        notices_repeated: "notices not raised because their key was raised before (here, or by the store's word)",
        notice_store_failures: "times the store could not say whether a notice was raised before (it was raised)",
        notices_untracked: "uploads or uncatalogued names not tracked for notices because their tables were full",
    }
}

/// Every counter of a run (or of one worker), by the stage that counts it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Reading.
    pub capture: Capture,
    /// Decoding.
    pub decode: decode::Counters,
    /// The flow table.
    pub flow: flow::Counters,
    /// The protocol stage.
    pub proto: proto::Counters,
    /// Reading logs (`lantern ingest`).
    pub logs: logs::Counters,
    /// Naming and identity.
    pub sequenced: Sequenced,
    /// Syslog delivery of events.
    pub syslog: crate::writing::syslog::Counters,
}

impl Counters {
    /// Adds every counter of `other` to `self`.
    pub fn merge(&mut self, other: &Counters) {
        self.capture.merge(&other.capture);
        self.decode.merge(&other.decode);
        self.flow.merge(&other.flow);
        self.proto.merge(&other.proto);
        self.logs.merge(&other.logs);
        self.sequenced.merge(&other.sequenced);
        self.syslog.merge(&other.syslog);
    }

    /// Every counter as `(name, value, help)`: reading, decoding, flows, protocols, then the
    /// sequencer's.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64, &'static str)> + '_ {
        (self.capture.iter())
            .chain(self.decode.iter())
            .chain(self.flow.iter())
            .chain(self.proto.iter())
            .chain(self.logs.iter())
            .chain(self.sequenced.iter())
            .chain(self.syslog.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_and_iter_names_every_counter_once() {
        let mut a = Counters::default();
        a.capture.packets = 2;
        a.proto.dns_messages = 1;
        let mut b = Counters::default();
        b.capture.packets = 3;
        b.flow.flows_evicted = 4;
        a.merge(&b);
        let nonzero: Vec<_> = a.iter().filter(|c| c.1 > 0).map(|c| (c.0, c.1)).collect();
        assert_eq!(
            nonzero,
            [("packets", 5), ("flows_evicted", 4), ("dns_messages", 1)]
        );
        let names: Vec<&str> = a.iter().map(|c| c.0).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "one name, one counter");
    }

    /// The stream dissectors' counters come from their registration, named like the others.
    #[test]
    fn stream_dissectors_counters_are_declared_from_their_registration() {
        let names: Vec<_> = Counters::default().iter().map(|c| c.0).collect();
        for name in [
            "tls_client_hellos",
            "tls_malformed",
            "http_requests",
            "http_malformed",
        ] {
            assert!(names.contains(&name), "{name}");
        }
    }
}
