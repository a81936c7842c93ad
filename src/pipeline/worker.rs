//! A worker: flow and proto for the decoded packets of its share of the flows.

use super::Counters;
use super::Settings;
use crate::capture::Timestamp;
use crate::decode::Packet;
use crate::flow::{EndReason, Flow, FlowTable, Stamp};
use crate::proto::{FlowState, Inspector, Record, Seen};

/// Runs the per-packet stages for one share of the flows.
pub struct Worker {
    table: FlowTable<FlowState>,
    inspector: Inspector,
    counters: Counters,
    /// Flows that ended during the current call; reused, so no allocation per packet.
    ended: Vec<(Flow<FlowState>, EndReason)>,
    /// Seconds after which an open flow gets an interim record (0: never).
    active_secs: u64,
}

impl Worker {
    /// A worker with an empty flow table.
    pub fn new(settings: &Settings) -> Worker {
        Worker {
            table: FlowTable::new(settings.flow.clone()),
            inspector: Inspector::new(settings.proto.clone()),
            counters: Counters::default(),
            ended: Vec::new(),
            active_secs: settings.flow.active_timeout_secs,
        }
    }

    /// Processes one decoded packet.
    pub fn packet(&mut self, packet: &Packet<'_>, stamp: Stamp) {
        let Worker {
            table,
            inspector,
            counters,
            ended,
            active_secs,
        } = self;
        let (flow, direction) = table.packet(packet, stamp, &mut counters.flow, &mut |f, r| {
            ended.push((f, r));
        });
        let seen = Seen {
            packet,
            direction,
            number: stamp.number,
            ts: stamp.ts,
        };
        inspector.packet(flow, seen, &mut counters.proto);
        // A flow open for the active timeout gets an interim record, this packet included: at a
        // packet, in packet time, so the same records for any number of threads.
        if flow.interim_due(stamp.clock, *active_secs) {
            inspector.interim(flow);
            flow.mark_reported();
            counters.flow.flows_interim += 1;
        }
        self.hand_on_ended();
    }

    /// Turns the flows that ended into records.
    fn hand_on_ended(&mut self) {
        for (flow, reason) in self.ended.drain(..) {
            self.inspector.end(flow, reason, &mut self.counters.proto);
        }
    }

    /// Ends the flows idle at `now` and hands on the records of the epoch.
    pub fn tick(&mut self, now: Timestamp) -> Vec<Record> {
        let ended = &mut self.ended;
        self.table
            .expire(now, &mut self.counters.flow, &mut |f, r| ended.push((f, r)));
        self.hand_on_ended();
        self.inspector.take_records()
    }

    /// Ends every flow (the input is over) and hands on the last records.
    pub fn finish(&mut self) -> Vec<Record> {
        let ended = &mut self.ended;
        self.table
            .drain(&mut self.counters.flow, &mut |f, r| ended.push((f, r)));
        self.hand_on_ended();
        self.inspector.take_records()
    }

    /// Counts ticks that never reached this worker (its queue was full); its records of those
    /// epochs go with the next tick it gets.
    pub(super) fn missed_ticks(&mut self, missed: u64) {
        self.counters.capture.epoch_ticks_missed += missed;
    }

    /// Flows open in this worker's table.
    pub fn open_flows(&self) -> usize {
        self.table.len()
    }

    /// This worker's counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }
}
