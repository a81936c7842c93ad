//! Joining the pieces of one flow (its totals and the messages seen on it) into the
//! [`FlowRecord`] the packet path would have made, in a bounded window of log time.
//!
//! Logs of one flow are written at different times and in different files: EVE writes a
//! `tls` event at the handshake and the `flow` event when the flow ends; Zeek writes `ssl` and
//! `http` lines as it sees them and the `conn` line when the connection ends. A flow's pieces
//! wait here by their key (Zeek's `uid`, EVE's `flow_id`):
//! - once its totals have come, until the log time passes their end by `window` (a message
//!   written a little after the totals still joins), then it is handed on;
//! - without totals, until the log time passes its latest message by `orphan` (a day: EVE
//!   writes a long flow's `flow` event when it ends, hours after its `tls`, and Suricata reading
//!   a capture writes every flow event at the end), then it is handed on as a flow with no bytes
//!   and counted (`log_messages_unjoined`): a set of logs without `conn`, as many archives keep,
//!   still says who used what. Such a run (no `conn` or EVE file in it) waits only `window`.
//!
//! At most `max_flows` wait; past it the one due first is handed on early (`log_joins_evicted`).
//! Records are handed on in a deterministic order: by due time, then arrival.

use super::{Counters, Key, Message, Piece, Said, Totals, Tuple};
use crate::capture::Timestamp;
use crate::flow::EndReason;
use crate::proto::requests::{LogBudget, RequestLog};
use crate::proto::{self, FlowRecord, Protocol, Record};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// How long pieces wait for each other, and how many may.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JoinConfig {
    /// Seconds of log time a flow waits past its end for messages written after its totals.
    pub window_secs: u64,
    /// Seconds of log time messages wait past the latest of them for their flow's totals.
    pub orphan_secs: u64,
    /// Most flows waiting.
    pub max_flows: usize,
}

impl Default for JoinConfig {
    fn default() -> JoinConfig {
        JoinConfig {
            window_secs: 60,
            orphan_secs: 86_400,
            max_flows: 262_144,
        }
    }
}

/// One flow's pieces so far.
struct Partial {
    totals: Option<Totals>,
    tuple: Tuple,
    /// The earliest and latest message times.
    seen: (Timestamp, Timestamp),
    message: Option<proto::Message>,
    /// A QUIC flow (its messages were QUIC Initials).
    quic: bool,
    requests: Option<Box<RequestLog>>,
    due: Timestamp,
    order: u64,
}

/// The pieces of flows not yet handed on.
pub struct Joiner {
    config: JoinConfig,
    flows: HashMap<Key, Partial>,
    /// Every partial's due time, arrival and key; entries whose partial was handed on or
    /// became due later are skipped when they come up.
    due: BinaryHeap<Reverse<(Timestamp, u64, Key)>>,
    arrivals: u64,
    budget: LogBudget,
    counters: Counters,
}

impl Joiner {
    /// An empty joiner.
    pub fn new(config: JoinConfig) -> Joiner {
        Joiner {
            config,
            flows: HashMap::new(),
            due: BinaryHeap::new(),
            arrivals: 0,
            budget: LogBudget::default(),
            counters: Counters::default(),
        }
    }

    /// Takes one piece; records ready go to `out`.
    pub fn piece(&mut self, piece: Piece, out: &mut Vec<Record>) {
        match piece {
            Piece::Record(record) => out.push(record),
            Piece::Totals(totals) => self.totals(totals, out),
            Piece::Message(message) => self.message(message, out),
        }
    }

    /// Log time has reached `now`: hands on every flow due by then.
    pub fn advance(&mut self, now: Timestamp, out: &mut Vec<Record>) {
        while let Some(Reverse((due, order, key))) = self.due.peek().copied() {
            if due > now {
                break;
            }
            self.due.pop();
            self.hand_on_if_current(key, order, due, out);
        }
    }

    /// The logs ended: hands on everything still waiting, in due order.
    pub fn finish(&mut self, out: &mut Vec<Record>) {
        self.advance(Timestamp(i64::MAX), out);
    }

    /// Flows waiting.
    pub fn waiting(&self) -> usize {
        self.flows.len()
    }

    /// What joining counted, added to `counters`.
    pub fn add_counters(&self, counters: &mut Counters) {
        counters.merge(&self.counters);
    }

    fn totals(&mut self, totals: Totals, out: &mut Vec<Record>) {
        self.counters.log_flows += 1;
        let key = totals.key;
        if self.flows.get(&key).is_some_and(|p| p.totals.is_some()) {
            // A second flow under the same key (a reused id): the first is complete.
            self.hand_on(key, out);
        }
        let due = totals.last.plus_secs(self.config.window_secs);
        match self.flows.get_mut(&key) {
            Some(partial) => {
                partial.tuple = totals.tuple;
                partial.totals = Some(totals);
                partial.due = due;
                let order = partial.order;
                self.due.push(Reverse((due, order, key)));
            }
            None => {
                let tuple = totals.tuple;
                let seen = (totals.first, totals.first);
                self.insert(key, tuple, seen, Some(totals), due, out);
            }
        }
    }

    fn message(&mut self, message: Message, out: &mut Vec<Record>) {
        let key = message.key;
        if !self.flows.contains_key(&key) {
            let due = message.ts.plus_secs(self.config.orphan_secs);
            let seen = (message.ts, message.ts);
            self.insert(key, message.tuple, seen, None, due, out);
        }
        let orphan = self.config.orphan_secs;
        let Some(partial) = self.flows.get_mut(&key) else {
            return;
        };
        partial.seen = (
            partial.seen.0.min(message.ts),
            partial.seen.1.max(message.ts),
        );
        if partial.totals.is_none() {
            let due = partial.seen.1.plus_secs(orphan);
            if due > partial.due {
                partial.due = due;
                self.due.push(Reverse((due, partial.order, key)));
            }
        }
        let quic = matches!(message.said, Said::Quic(_));
        match message.said {
            Said::Tls(hello) | Said::Quic(hello) => {
                partial.quic |= quic;
                // The first ClientHello with a name; Suricata logs a QUIC flow's Initials
                // one by one, the first often without one.
                let named = |m: &Option<proto::Message>| match m {
                    Some(proto::Message::Tls(h)) => h.sni.is_some(),
                    _ => false,
                };
                if partial.message.is_none() || (!named(&partial.message) && hello.sni.is_some()) {
                    partial.message = Some(proto::Message::Tls(Box::new(hello)));
                }
            }
            Said::Http(request) => {
                let log = partial.requests.get_or_insert_with(Box::default);
                log.add_request(&request.method, &request.path, &mut self.budget);
                if partial.message.is_none() {
                    partial.message = Some(proto::Message::Http(Box::new(request)));
                }
            }
        }
    }

    fn insert(
        &mut self,
        key: Key,
        tuple: Tuple,
        seen: (Timestamp, Timestamp),
        totals: Option<Totals>,
        due: Timestamp,
        out: &mut Vec<Record>,
    ) {
        while self.flows.len() >= self.config.max_flows.max(1) {
            let Some(Reverse((due, order, key))) = self.due.pop() else {
                break;
            };
            if self.hand_on_if_current(key, order, due, out) {
                self.counters.log_joins_evicted += 1;
            }
        }
        self.arrivals += 1;
        let order = self.arrivals;
        self.flows.insert(
            key,
            Partial {
                totals,
                tuple,
                seen,
                message: None,
                quic: false,
                requests: None,
                due,
                order,
            },
        );
        self.due.push(Reverse((due, order, key)));
    }

    /// Hands on the flow under `key` if this heap entry is still its due time.
    fn hand_on_if_current(
        &mut self,
        key: Key,
        order: u64,
        due: Timestamp,
        out: &mut Vec<Record>,
    ) -> bool {
        let current = self
            .flows
            .get(&key)
            .is_some_and(|p| p.order == order && p.due == due);
        if current {
            self.hand_on(key, out);
        }
        current
    }

    fn hand_on(&mut self, key: Key, out: &mut Vec<Record>) {
        let Some(partial) = self.flows.remove(&key) else {
            return;
        };
        if let Some(log) = &partial.requests {
            self.budget.release(log);
        }
        let has_message = partial.message.is_some();
        match (&partial.totals, has_message) {
            (Some(_), true) => self.counters.log_messages_joined += 1,
            (None, _) => self.counters.log_messages_unjoined += 1,
            _ => {}
        }
        out.push(Record::Flow(record(key, partial)));
    }
}

/// The flow record of a flow's pieces.
fn record(key: Key, partial: Partial) -> FlowRecord {
    let protocol = match &partial.message {
        Some(proto::Message::Tls(_)) if partial.quic => Protocol::Quic,
        Some(m) => m.protocol(),
        None => partial
            .totals
            .as_ref()
            .map_or(Protocol::Unknown, |t| t.protocol),
    };
    let (first, last, packets, bytes, end) = match &partial.totals {
        Some(t) => (t.first, t.last, t.packets, t.bytes, t.end),
        None => (
            partial.seen.0,
            partial.seen.1,
            [0, 0],
            [0, 0],
            EndReason::IdleTimeout,
        ),
    };
    FlowRecord {
        id: key,
        first,
        last,
        started: first,
        part: 0,
        client: partial.tuple.client,
        server: partial.tuple.server,
        transport: partial.tuple.transport,
        vlan: [0, 0],
        packets,
        bytes,
        end,
        protocol,
        message: partial.message,
        requests: partial.requests,
    }
}
