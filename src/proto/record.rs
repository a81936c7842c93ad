//! What the protocol stage hands on of a flow ([`FlowRecord`]), and where a message was seen
//! ([`Origin`]), which the port dissectors' records carry. The records of the port dissectors
//! are their own (`dns::DnsRecord`, `dhcp::DhcpRecord`, `kerberos::KerberosRecord`); the
//! [`Record`](super::Record) enum of them all is made from the registration table.

use super::requests::RequestLog;
use super::{Message, Protocol, http, mcp, tls};
use crate::capture::Timestamp;
use crate::decode::Transport;
use crate::flow::{EndReason, Endpoint, Flow};

/// An ended flow with what was learned about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowRecord {
    /// Flow id (number of its first packet).
    pub id: u64,
    /// First packet time of what this record reports: the flow's first packet, or after an
    /// interim record the first packet since.
    pub first: Timestamp,
    /// Last packet time.
    pub last: Timestamp,
    /// The flow's first packet, in every record of it: what naming and identity go by.
    pub started: Timestamp,
    /// The record's number within its flow: 0 for the first (the one that counts the flow),
    /// then one more for each record after an interim one.
    pub part: u32,
    /// Client endpoint.
    pub client: Endpoint,
    /// Server endpoint.
    pub server: Endpoint,
    /// TCP or UDP.
    pub transport: Transport,
    /// VLAN ids (outer, inner).
    pub vlan: [u16; 2],
    /// Packets up, down.
    pub packets: [u64; 2],
    /// Payload bytes up, down.
    pub bytes: [u64; 2],
    /// Why the flow ended.
    pub end: EndReason,
    /// The recognised protocol.
    pub protocol: Protocol,
    /// The first message its stream dissector (or QUIC) parsed.
    pub message: Option<Message>,
    /// For plaintext HTTP/1.x, what its requests were since the flow's last record.
    pub requests: Option<Box<RequestLog>>,
}

impl FlowRecord {
    /// The ClientHello (TLS over TCP, or QUIC's), if one was parsed.
    pub fn tls(&self) -> Option<&tls::ClientHello> {
        match &self.message {
            Some(Message::Tls(hello)) => Some(hello),
            _ => None,
        }
    }

    /// The first HTTP request head, if one was parsed (an MCP request's too).
    pub fn http(&self) -> Option<&http::Request> {
        match &self.message {
            Some(Message::Http(request)) => Some(request),
            Some(Message::Mcp(request)) => Some(&request.http),
            _ => None,
        }
    }

    /// What the first request said of MCP, for MCP over plaintext HTTP.
    pub fn mcp(&self) -> Option<&mcp::Mcp> {
        match &self.message {
            Some(Message::Mcp(request)) => Some(&request.mcp),
            _ => None,
        }
    }
}

/// Where a message was seen: its flow, packet, time and endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The flow that carried it.
    pub flow_id: u64,
    /// Packet number.
    pub packet: u64,
    /// Capture time.
    pub ts: Timestamp,
    /// The flow's client.
    pub client: Endpoint,
    /// The flow's server.
    pub server: Endpoint,
    /// UDP or TCP.
    pub transport: Transport,
    /// VLAN ids (outer, inner).
    pub vlan: [u16; 2],
}

impl Origin {
    /// Where a message of `flow` was seen: packet `packet`, at `ts`.
    pub fn of<S>(flow: &Flow<S>, packet: u64, ts: Timestamp) -> Origin {
        Origin {
            flow_id: flow.id,
            packet,
            ts,
            client: flow.client,
            server: flow.server,
            transport: flow.transport,
            vlan: flow.vlan,
        }
    }
}
