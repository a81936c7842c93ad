//! The inspection framework: what the protocol stage does with each packet of a flow, and
//! the records it hands on.
//!
//! A flow is inspected by the dissector its start calls for: a port dissector's by its port
//! (each UDP datagram a message; each TCP direction reassembled and framed), a TCP flow by the
//! stream dissectors probing the start of the client's stream (TLS, MCP, HTTP; plaintext HTTP
//! goes on to [`requests`](super::requests) for every request), other UDP as possible QUIC.
//! Every stream reassembles in one pool per worker ([`Streams`]), within one limit per stream
//! (`--reassembly-limit`) and one budget for all (`--reassembly-memory`); giving up on a stream
//! is final for that flow's dissector. Once a flow is done, its packets cost one branch here.
//! A flow's end hands on its [`FlowRecord`] and what its dissector still held.

use super::dissector::Context;
use super::requests::{LogBudget, Next, RequestLog, RequestReader};
use super::stream::{self, Insert, StreamId, Streams};
use super::{
    Counters, FlowRecord, Message, Opening, Origin, PortFlow, PortWorkers, ProtoConfig, Protocol,
    Record, first_message, quic,
};
use crate::capture::Timestamp;
use crate::decode::{Packet, Transport};
use crate::flow::{Direction, EndReason, Flow};

/// What the protocol stage keeps per flow. Small: large parts are boxed and only exist while
/// needed.
#[derive(Debug, Default)]
pub struct FlowState {
    mode: Mode,
    protocol: Protocol,
    /// Reassembly of the client's stream (and of the server's, for DNS and Kerberos over TCP),
    /// in the worker's pool.
    streams: [Option<StreamId>; 2],
    /// The first message, once a stream dissector (or QUIC) parsed it.
    message: Option<Message>,
    /// What this kind of flow keeps while it is inspected.
    extra: Extra,
}

/// What one kind of flow keeps while it is inspected, boxed: most flows keep nothing, and a
/// flow is of one kind only.
#[derive(Debug, Default)]
enum Extra {
    /// Nothing.
    #[default]
    None,
    /// QUIC: the Initial packets' CRYPTO reassembly.
    Quic(Box<quic::QuicState>),
    /// A port dissector's flow state (pending queries, a request awaiting its reply).
    Port(PortFlow),
    /// Plaintext HTTP: the reader of its requests and their log.
    Requests(Box<RequestReader>),
}

/// Where a flow is in its inspection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Mode {
    /// No packet inspected yet.
    #[default]
    Undecided,
    /// Waiting for the client's first message (TLS or HTTP).
    ClientStream,
    /// Plaintext HTTP/1.x: every request of the client's stream is read.
    Requests,
    /// UDP that may be QUIC: the client's Initial packets are looked at.
    Quic,
    /// A port dissector's flow over UDP: every datagram is a message.
    PortUdp,
    /// A port dissector's flow over TCP: length-prefixed messages both ways.
    PortTcp,
    /// Nothing more to learn from this flow.
    Done,
}

/// The protocol stage of one worker: inspects packets and collects records.
#[derive(Debug)]
pub struct Inspector {
    config: ProtoConfig,
    records: Vec<Record>,
    /// Every stream being reassembled.
    streams: Streams,
    /// What each port dissector keeps for all this worker's flows.
    ports: PortWorkers,
    /// Reused for decrypting QUIC Initial packets.
    scratch: Vec<u8>,
    /// What the request logs of open flows hold.
    logs: LogBudget,
}

/// The packet being inspected, with its place in the capture.
#[derive(Clone, Copy)]
pub struct Seen<'p, 'a> {
    /// The decoded packet.
    pub packet: &'p Packet<'a>,
    /// Its direction in the flow.
    pub direction: Direction,
    /// Its number in the run.
    pub number: u64,
    /// Its capture time.
    pub ts: Timestamp,
}

impl Default for Inspector {
    fn default() -> Inspector {
        Inspector::new(ProtoConfig::default())
    }
}

impl Inspector {
    /// An inspector with these limits.
    pub fn new(config: ProtoConfig) -> Inspector {
        Inspector {
            streams: Streams::new(config.reassembly_memory),
            config,
            records: Vec::new(),
            ports: PortWorkers::default(),
            scratch: Vec::new(),
            logs: LogBudget::default(),
        }
    }

    /// Takes the records collected so far.
    /// The next epoch starts with room for as many as this one had, so that its vector does
    /// not grow from nothing again.
    pub fn take_records(&mut self) -> Vec<Record> {
        let room = self.records.len();
        std::mem::replace(&mut self.records, Vec::with_capacity(room))
    }

    /// Inspects one packet of `flow`.
    pub fn packet(
        &mut self,
        flow: &mut Flow<FlowState>,
        seen: Seen<'_, '_>,
        counters: &mut Counters,
    ) {
        if flow.state.mode == Mode::Undecided {
            flow.state.mode = initial_mode(flow);
        }
        match flow.state.mode {
            Mode::Done | Mode::Undecided => {}
            Mode::ClientStream => {
                if seen.direction == Direction::Up && !seen.packet.payload.is_empty() {
                    self.client_stream(flow, seen.packet, counters);
                }
            }
            Mode::Quic => {
                if seen.direction == Direction::Up && !seen.packet.payload.is_empty() {
                    self.quic(&mut flow.state, seen.packet.payload, counters);
                }
            }
            Mode::Requests => {
                if seen.direction == Direction::Up && !seen.packet.payload.is_empty() {
                    self.requests(&mut flow.state, seen.packet, counters);
                }
            }
            Mode::PortUdp => {
                let at = Origin::of(flow, seen.number, seen.ts);
                self.port_message(
                    &mut flow.state,
                    seen.packet.payload,
                    at,
                    seen.direction,
                    counters,
                );
            }
            Mode::PortTcp => {
                if !seen.packet.payload.is_empty() {
                    self.port_stream(flow, seen, counters);
                }
            }
        }
    }

    /// One message of a port dissector's flow: to its dissector, which hands on what it
    /// completes; the first that is one of its messages sets the flow's protocol.
    fn port_message(
        &mut self,
        state: &mut FlowState,
        bytes: &[u8],
        at: Origin,
        direction: Direction,
        counters: &mut Counters,
    ) {
        let Extra::Port(port) = &mut state.extra else {
            return;
        };
        let cx = Context {
            at,
            direction,
            config: &self.config,
            records: &mut self.records,
            counters,
        };
        if port.message(bytes, &mut self.ports, cx) {
            state.protocol = port.protocol();
        }
    }

    /// A segment of a port dissector's flow over TCP: reassembled in its direction, and every
    /// complete message it now holds handed to the dissector. A malformed prefix (counted as
    /// the dissector's malformed message), a message longer than `--reassembly-limit`, too many
    /// holes or a freed stream end the flow's inspection for good (the last three counted).
    fn port_stream(
        &mut self,
        flow: &mut Flow<FlowState>,
        seen: Seen<'_, '_>,
        counters: &mut Counters,
    ) {
        let Some(id) = self.message_stream(flow, seen, counters) else {
            return;
        };
        let at = Origin::of(flow, seen.number, seen.ts);
        let limit = self.config.reassembly_bytes;
        let give_up = loop {
            let Extra::Port(port) = &mut flow.state.extra else {
                break true;
            };
            let Some(bytes) = self.streams.get(id).map(stream::Reassembler::contiguous) else {
                break false;
            };
            let cx = Context {
                at,
                direction: seen.direction,
                config: &self.config,
                records: &mut self.records,
                counters: &mut *counters,
            };
            let (head, len) = match port.frame(bytes) {
                None => break false,
                Some(Ok(lengths)) => lengths,
                Some(Err(())) => {
                    port.malformed_frame(cx);
                    break true;
                }
            };
            if head + len > limit {
                cx.counters.tcp_reassembly_gave_up += 1;
                break true;
            }
            let Some(message) = bytes.get(head..head + len) else {
                break false;
            };
            if port.message(message, &mut self.ports, cx) {
                flow.state.protocol = port.protocol();
            }
            self.streams.consume(id, head + len);
        };
        if give_up {
            self.give_up(&mut flow.state);
        }
    }

    /// A client datagram of a flow that may be QUIC.
    fn quic(&mut self, state: &mut FlowState, payload: &[u8], counters: &mut Counters) {
        let (limit, streams) = (self.config.reassembly_bytes, &mut self.streams);
        if !matches!(state.extra, Extra::Quic(_)) {
            state.extra = Extra::Quic(Box::new(quic::QuicState::new(streams, limit)));
        }
        let Extra::Quic(quic) = &mut state.extra else {
            return;
        };
        let outcome = quic.datagram(payload, &mut self.scratch, streams);
        counters.reassembly_evicted += streams.take_evicted();
        if quic.seen_quic {
            state.protocol = Protocol::Quic;
        }
        let done = match outcome {
            quic::Outcome::Wait => quic.datagrams >= quic::MAX_DATAGRAMS,
            quic::Outcome::NotQuic => true,
            quic::Outcome::Hello(hello) => {
                counters.quic_client_hellos += 1;
                state.message = Some(Message::Tls(hello));
                true
            }
            quic::Outcome::GiveUp => true,
        };
        if done {
            if state.protocol == Protocol::Quic && state.message.is_none() {
                counters.quic_gave_up += 1;
            }
            if let Extra::Quic(quic) = std::mem::take(&mut state.extra) {
                quic.close(streams);
            }
            state.mode = Mode::Done;
        }
    }

    /// Hands on an ended flow (and its unanswered DNS queries) as records.
    pub fn end(&mut self, flow: Flow<FlowState>, reason: EndReason, counters: &mut Counters) {
        let Flow {
            id,
            client,
            server,
            transport,
            vlan,
            first,
            last,
            packets,
            bytes,
            started,
            part,
            state,
            ..
        } = flow;
        if state.mode == Mode::ClientStream && state.streams[0].is_some() {
            counters.tcp_incomplete_at_end += 1;
        }
        for id in state.streams.into_iter().flatten() {
            self.streams.close(id);
        }
        let mut requests = None;
        match state.extra {
            Extra::Quic(quic) => {
                if quic.seen_quic {
                    counters.quic_incomplete_at_end += 1;
                }
                quic.close(&mut self.streams);
            }
            Extra::Requests(mut reader) => requests = Some(self.log_of(&mut reader)),
            Extra::Port(port) => {
                let cx = Context {
                    at: Origin {
                        flow_id: id,
                        packet: 0,
                        ts: last,
                        client,
                        server,
                        transport,
                        vlan,
                    },
                    direction: Direction::Up,
                    config: &self.config,
                    records: &mut self.records,
                    counters,
                };
                port.end(&mut self.ports, cx);
            }
            Extra::None => {}
        }
        // After interim records the final one carries only the rest: nothing, when the last
        // packet came with the last interim record.
        let first = if first > last { last } else { first };
        self.records.push(Record::Flow(FlowRecord {
            id,
            first,
            last,
            started,
            part,
            client,
            server,
            transport,
            vlan,
            packets,
            bytes,
            end: reason,
            protocol: state.protocol,
            message: state.message,
            requests,
        }));
    }

    /// A request log handed on: what the reader read since the flow's last record (and the
    /// worker's budget given back).
    fn log_of(&mut self, reader: &mut RequestReader) -> Box<RequestLog> {
        Box::new(reader.take_log(&mut self.logs))
    }

    /// An interim record of a flow still open: what it sent since its last record, under the
    /// name and first message known so far. The caller then marks it reported.
    pub fn interim(&mut self, flow: &mut Flow<FlowState>) {
        let requests = match &mut flow.state.extra {
            Extra::Requests(reader) => Some(self.log_of(reader)),
            _ => None,
        };
        self.records.push(Record::Flow(FlowRecord {
            id: flow.id,
            first: flow.first,
            last: flow.last,
            started: flow.started,
            part: flow.part,
            client: flow.client,
            server: flow.server,
            transport: flow.transport,
            vlan: flow.vlan,
            packets: flow.packets,
            bytes: flow.bytes,
            end: EndReason::ActiveTimeout,
            protocol: flow.state.protocol,
            message: flow.state.message.clone(),
            requests,
        }));
    }

    /// The client's stream of a TCP flow: its first message is a ClientHello or an HTTP request.
    fn client_stream(
        &mut self,
        flow: &mut Flow<FlowState>,
        packet: &Packet<'_>,
        counters: &mut Counters,
    ) {
        let base = flow.tcp.client_isn.map(|isn| isn.wrapping_add(1));
        let seq = packet.tcp.seq;
        let state = &mut flow.state;
        let fresh = state.streams[0].is_none();
        if fresh && base.is_none_or(|b| b == seq) {
            match first_message(packet.payload, counters) {
                Opening::Wait => {}
                // Its requests are read from the stream: the segment goes there first.
                Opening::Parsed(message) if message.reads_requests() => {}
                opening => return self.finish_stream(state, opening),
            }
        }
        let limit = self.config.reassembly_bytes;
        let streams = &mut self.streams;
        let id = *state.streams[0]
            .get_or_insert_with(|| streams.open(base.unwrap_or(seq), limit, base.is_none()));
        let inserted = self.insert(id, seq, packet.payload, counters);
        let Some(stream) = self.streams.get(id).filter(|_| inserted) else {
            return self.finish_stream(state, Opening::GiveUp);
        };
        // A first segment that held the whole message was counted by the probe above.
        let mut uncounted = Counters::default();
        let probe = match fresh && base.is_none_or(|b| b == seq) {
            true => &mut uncounted,
            false => &mut *counters,
        };
        match first_message(stream.contiguous(), probe) {
            Opening::Wait if stream.is_full() => {
                counters.tcp_reassembly_gave_up += 1;
                self.finish_stream(state, Opening::GiveUp)
            }
            Opening::Wait => {}
            Opening::Parsed(message) if message.reads_requests() => {
                state.protocol = message.protocol();
                state.message = Some(message);
                state.mode = Mode::Requests;
                state.extra = Extra::Requests(Box::default());
                self.read_requests(state, counters);
            }
            opening => self.finish_stream(state, opening),
        }
    }

    /// A client segment of a plaintext HTTP connection: into its stream, then every request
    /// it completes.
    fn requests(&mut self, state: &mut FlowState, packet: &Packet<'_>, counters: &mut Counters) {
        let Some(id) = state.streams[0] else {
            return self.give_up(state);
        };
        if !self.insert(id, packet.tcp.seq, packet.payload, counters) {
            return self.give_up(state);
        }
        self.read_requests(state, counters);
    }

    /// Reads the requests the client's stream now holds; a connection no longer read gives its
    /// stream back and keeps its log until the flow's record.
    fn read_requests(&mut self, state: &mut FlowState, counters: &mut Counters) {
        let (Some(id), Extra::Requests(reader)) = (state.streams[0], &mut state.extra) else {
            return self.give_up(state);
        };
        if reader.read(&mut self.streams, id, &mut self.logs, counters) == Next::Stop {
            self.give_up(state);
        }
    }

    /// Places a segment in stream `id`; false (counted) when the stream cannot go on: too
    /// many holes, or freed to make room for others.
    fn insert(&mut self, id: StreamId, seq: u32, data: &[u8], counters: &mut Counters) -> bool {
        let outcome = self.streams.insert(id, seq, data);
        counters.reassembly_evicted += self.streams.take_evicted();
        match outcome {
            Insert::TooManyHoles => counters.tcp_reassembly_holes += 1,
            Insert::Evicted => {}
            Insert::Stored | Insert::Old | Insert::BeyondLimit => return true,
        }
        false
    }

    /// Records what the client's first message said and stops inspecting the flow.
    fn finish_stream(&mut self, state: &mut FlowState, opening: Opening) {
        match opening {
            Opening::Wait => return,
            Opening::Parsed(message) => {
                state.protocol = message.protocol();
                state.message = Some(message);
            }
            Opening::Malformed(protocol) => state.protocol = protocol,
            Opening::Unknown | Opening::GiveUp => {}
        }
        self.give_up(state);
    }

    /// Stops inspecting a flow for good and gives back its streams.
    fn give_up(&mut self, state: &mut FlowState) {
        for id in state.streams.iter_mut().filter_map(Option::take) {
            self.streams.close(id);
        }
        state.mode = Mode::Done;
    }

    /// The reassembly of `seen`'s direction of a TCP flow that carries length-prefixed
    /// messages both ways (DNS, Kerberos), with `seen`'s segment added; `None` when the flow's
    /// dissector gave up, now (too many holes, or freed: counted) or before.
    fn message_stream(
        &mut self,
        flow: &mut Flow<FlowState>,
        seen: Seen<'_, '_>,
        counters: &mut Counters,
    ) -> Option<StreamId> {
        let isn = match seen.direction {
            Direction::Up => flow.tcp.client_isn,
            Direction::Down => flow.tcp.server_isn,
        };
        let seq = seen.packet.tcp.seq;
        let base = isn.map_or(seq, |isn| isn.wrapping_add(1));
        let (limit, streams) = (self.config.reassembly_bytes, &mut self.streams);
        let id = *flow.state.streams[seen.direction.index()]
            .get_or_insert_with(|| streams.open(base, limit, isn.is_none()));
        if self.insert(id, seq, seen.packet.payload, counters) {
            return Some(id);
        }
        self.give_up(&mut flow.state);
        None
    }
}

/// How a flow's inspection starts: a port dissector's by its port, TCP by content, other UDP
/// as possible QUIC.
fn initial_mode(flow: &mut Flow<FlowState>) -> Mode {
    let ports = [flow.client.port, flow.server.port];
    if let Some(port) = PortFlow::recognise(flow.transport, ports) {
        flow.state.extra = Extra::Port(port);
        return match flow.transport {
            Transport::Udp => Mode::PortUdp,
            Transport::Tcp => Mode::PortTcp,
        };
    }
    match flow.transport {
        Transport::Udp => Mode::Quic,
        Transport::Tcp => Mode::ClientStream,
    }
}

#[cfg(test)]
mod tests;
