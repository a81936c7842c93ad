//! Flow: bidirectional flows keyed by a direction-normalised 5-tuple plus VLAN.
//!
//! This stage owns the flow table: which side is the client, packets and bytes each way,
//! first and last time, TCP close tracking, idle timeouts and eviction when the table is full.
//! It is generic over the per-flow state `S` that the protocol stage keeps, so the table knows
//! nothing about protocols. Ended flows are handed to a callback with their [`EndReason`].

mod key;
mod table;

pub use key::{FlowKey, Side, worker_of};
pub use table::{FlowConfig, FlowTable};

use crate::capture::Timestamp;
use crate::decode::{Addr, Transport};

crate::counters! {
    /// What the flow table counts: flows made and how they ended.
    pub struct Counters {
        flows_created: "flows created",
        flows_closed: "flows ended by a FIN exchange or a RST",
        flows_timed_out: "flows ended by the idle timeout",
        flows_evicted: "flows evicted because the flow table was full",
        flows_at_end: "flows still open when the input ended",
        flows_interim: "interim records of flows open longer than --active-timeout",
    }
}

/// Which way a packet travels relative to the flow's client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Client to server.
    Up,
    /// Server to client.
    Down,
}

impl Direction {
    /// 0 for up, 1 for down: an index into per-direction arrays.
    pub fn index(self) -> usize {
        match self {
            Direction::Up => 0,
            Direction::Down => 1,
        }
    }
}

/// Where a packet sits in the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// The packet's number in the run (1-based).
    pub number: u64,
    /// Its capture time.
    pub ts: Timestamp,
    /// The run's clock when it was read: the latest capture time of any packet so far. Idle
    /// timeouts are measured on this clock, which only moves forward, so a capture whose packets
    /// go back in time (merged files, reordering) still expires flows in the order they were
    /// last seen, whichever worker holds them.
    pub clock: Timestamp,
}

crate::vocabulary! {
    /// Why a flow ended.
    pub enum EndReason {
        /// Both sides sent FIN, or one sent RST (after a short linger for trailing packets).
        Closed = "closed",
        /// No packet for the idle timeout.
        IdleTimeout = "idle_timeout",
        /// Evicted because the table was full.
        Evicted = "evicted",
        /// The input ended with the flow still open.
        EndOfInput = "end_of_input",
        /// Not an end: the flow has been open for the active timeout since its last record, and
        /// this interim record carries what it sent since (IPFIX's "active timeout").
        ActiveTimeout = "active_timeout",
    }
}

impl EndReason {
    /// Whether the record ends the flow (else it is an interim record).
    pub fn is_final(self) -> bool {
        self != EndReason::ActiveTimeout
    }
}

/// One endpoint of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Address.
    pub addr: Addr,
    /// Port.
    pub port: u16,
}

/// `192.0.2.1:443`, `[2001:db8::1]:443`.
impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let addr = self.addr.to_string();
        match addr.contains(':') {
            true => write!(f, "[{addr}]:{}", self.port),
            false => write!(f, "{addr}:{}", self.port),
        }
    }
}

/// TCP connection state as far as ending the flow is concerned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpState {
    /// The client's initial sequence number: from its SYN, or from the acknowledgment number
    /// of the server's SYN+ACK when the SYN was missed.
    pub client_isn: Option<u32>,
    /// The server's initial sequence number, from its SYN+ACK.
    pub server_isn: Option<u32>,
    /// FIN seen from the client, from the server.
    pub fin: [bool; 2],
    /// RST seen.
    pub rst: bool,
}

impl TcpState {
    /// Whether the connection is over: FIN both ways, or a RST.
    pub fn is_closed(&self) -> bool {
        self.rst || (self.fin[0] && self.fin[1])
    }
}

/// A flow and its per-flow protocol state `S`.
#[derive(Debug)]
pub struct Flow<S> {
    /// Run-unique id: the number of the packet that created the flow.
    pub id: u64,
    /// The normalised key.
    pub key: FlowKey,
    /// The side that started the conversation.
    pub client: Endpoint,
    /// The other side.
    pub server: Endpoint,
    /// TCP or UDP.
    pub transport: Transport,
    /// VLAN ids (outer, inner), 0 where absent.
    pub vlan: [u16; 2],
    /// Time of the first packet since the last interim record (of the flow's first packet
    /// before any; `Timestamp::MAX` right after one, until the next packet).
    pub first: Timestamp,
    /// Time of the last packet.
    pub last: Timestamp,
    /// Time of the flow's first packet.
    pub started: Timestamp,
    /// Packets client to server, server to client, since the last interim record.
    pub packets: [u64; 2],
    /// Transport payload bytes (wire lengths) client to server, server to client, likewise.
    pub bytes: [u64; 2],
    /// Interim records so far: the number of the flow's next record.
    pub part: u32,
    /// TCP close tracking.
    pub tcp: TcpState,
    /// What the protocol stage keeps for this flow.
    pub state: S,
}

impl<S> Flow<S> {
    /// Whether an interim record is due at `clock`: `active_secs` (non-zero) have passed since
    /// the first packet after the flow's last record.
    pub fn interim_due(&self, clock: Timestamp, active_secs: u64) -> bool {
        active_secs > 0 && clock >= self.first.plus_secs(active_secs)
    }

    /// Starts a new interval after an interim record: its counters from zero, its first packet
    /// the next one.
    pub fn mark_reported(&mut self) {
        self.packets = [0; 2];
        self.bytes = [0; 2];
        self.first = Timestamp(i64::MAX);
        self.part += 1;
    }

    /// The direction of a packet sent by `src` in this flow.
    pub fn direction_of(&self, src: Addr, src_port: u16) -> Direction {
        if self.client.addr == src && self.client.port == src_port {
            Direction::Up
        } else {
            Direction::Down
        }
    }
}
