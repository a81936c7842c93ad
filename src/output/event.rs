//! Events as JSON lines, in the schema of DESIGN.md ("Event schema"). Field names are stable;
//! new fields are added, never renamed. Every record starts with the same join keys: event
//! type, time, flow id, endpoints.

use super::{DEFAULT_STATUS, DnsView, FlowView};
use crate::capture::Timestamp;
use crate::catalog::Identified;
use crate::decode::Addr;
use crate::flow::Endpoint;
use crate::proto::dns;
use serde::Serialize;
use std::fmt;
use std::io::{self, Write};

/// A timestamp shown as RFC 3339 UTC with microseconds: `2026-11-20T09:14:03.123456Z`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rfc3339(pub Timestamp);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.secs();
        let micros = self.0.subsec_nanos() / 1000;
        let days = secs.div_euclid(86_400);
        let day_secs = secs.rem_euclid(86_400);
        let date =
            time::Date::from_julian_day(i32::try_from(days + 2_440_588).map_err(|_| fmt::Error)?)
                .map_err(|_| fmt::Error)?;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            date.year(),
            u8::from(date.month()),
            date.day(),
            day_secs / 3600,
            day_secs / 60 % 60,
            day_secs % 60
        )
    }
}

impl Serialize for Rfc3339 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An endpoint as `{"ip": ..., "port": ...}`.
#[derive(Serialize)]
struct EndpointJson {
    #[serde(serialize_with = "display")]
    ip: Addr,
    port: u16,
}

impl From<Endpoint> for EndpointJson {
    fn from(e: Endpoint) -> Self {
        EndpointJson {
            ip: e.addr,
            port: e.port,
        }
    }
}

fn display<T: fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

#[derive(Serialize)]
struct AppJson<'a> {
    id: &'a str,
    name: &'a str,
    vendor: &'a str,
    category: &'a str,
    status: &'a str,
    /// The catalog pattern or request rule that identified it.
    pattern: &'a str,
}

impl<'a> From<Identified<'a>> for AppJson<'a> {
    fn from(hit: Identified<'a>) -> Self {
        AppJson {
            id: &hit.app.id,
            name: &hit.app.name,
            vendor: &hit.app.vendor,
            category: hit.app.category.name(),
            status: DEFAULT_STATUS,
            pattern: hit.pattern,
        }
    }
}

#[derive(Serialize)]
struct TlsJson<'a> {
    sni: Option<&'a str>,
    /// With Encrypted Client Hello, the SNI on the wire is the outer (provider's) name.
    #[serde(skip_serializing_if = "Option::is_none")]
    outer_sni: Option<&'a str>,
    version: &'a str,
    alpn: &'a [String],
    ja4: Option<&'a str>,
    ech: bool,
}

#[derive(Serialize)]
struct HttpJson<'a> {
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
}

#[derive(Serialize)]
struct FlowJson<'a> {
    event_type: &'static str,
    ts: Rfc3339,
    end_ts: Rfc3339,
    flow_id: u64,
    client: EndpointJson,
    server: EndpointJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    vlan: Option<Vec<u16>>,
    transport: &'static str,
    protocol: &'static str,
    server_name: Option<&'a str>,
    name_source: &'static str,
    user: &'a str,
    user_source: &'static str,
    app: Option<AppJson<'a>>,
    candidate: bool,
    bytes_up: u64,
    bytes_down: u64,
    packets_up: u64,
    packets_down: u64,
    end_reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<TlsJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http: Option<HttpJson<'a>>,
}

#[derive(Serialize)]
struct DnsJson<'a> {
    event_type: &'static str,
    ts: Rfc3339,
    flow_id: u64,
    client: EndpointJson,
    server: EndpointJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    vlan: Option<Vec<u16>>,
    transport: &'static str,
    query: &'a str,
    qtype: String,
    rcode: Option<String>,
    answers: Vec<String>,
    ttls: Vec<u32>,
    user: &'a str,
    user_source: &'static str,
    app: Option<AppJson<'a>>,
    candidate: bool,
}

fn vlan(ids: [u16; 2]) -> Option<Vec<u16>> {
    match ids {
        [0, 0] => None,
        [outer, 0] => Some(vec![outer]),
        [outer, inner] => Some(vec![outer, inner]),
    }
}

/// Writes events as JSON lines.
pub struct EventWriter {
    out: Box<dyn Write + Send>,
}

impl fmt::Debug for EventWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventWriter")
    }
}

impl EventWriter {
    /// A writer to `out` (buffer it: one `write` per event otherwise).
    pub fn new(out: Box<dyn Write + Send>) -> EventWriter {
        EventWriter { out }
    }

    /// Writes a flow event.
    pub fn flow(&mut self, view: &FlowView<'_>) -> io::Result<()> {
        let r = view.record;
        let event = FlowJson {
            event_type: "flow",
            ts: Rfc3339(r.first),
            end_ts: Rfc3339(r.last),
            flow_id: r.id,
            client: r.client.into(),
            server: r.server.into(),
            vlan: vlan(r.vlan),
            transport: r.transport.name(),
            protocol: r.protocol.name(),
            server_name: view.server_name,
            name_source: view.name_source.name(),
            user: &view.identity.user,
            user_source: view.identity.source.name(),
            app: view.app.map(AppJson::from),
            candidate: view.candidate,
            bytes_up: r.bytes[0],
            bytes_down: r.bytes[1],
            packets_up: r.packets[0],
            packets_down: r.packets[1],
            end_reason: r.end.name(),
            tls: r.tls.as_deref().map(|t| TlsJson {
                sni: t.sni.as_deref(),
                outer_sni: t.sni.as_deref().filter(|_| t.ech),
                version: &t.version,
                alpn: &t.alpn,
                ja4: t.ja4.as_deref(),
                ech: t.ech,
            }),
            http: r.http.as_deref().map(|h| HttpJson {
                method: &h.method,
                host: h.host.as_deref(),
            }),
        };
        self.line(&event)
    }

    /// Writes a DNS event.
    pub fn dns(&mut self, view: &DnsView<'_>) -> io::Result<()> {
        let r = view.record;
        let event = DnsJson {
            event_type: "dns",
            ts: Rfc3339(r.ts),
            flow_id: r.flow_id,
            client: r.client.into(),
            server: r.server.into(),
            vlan: vlan(r.vlan),
            transport: r.transport.name(),
            query: &r.query,
            qtype: dns::type_name(r.qtype),
            rcode: r.rcode.map(dns::rcode_name),
            answers: r.answers.iter().map(|a| a.data.to_string()).collect(),
            ttls: r.answers.iter().map(|a| a.ttl).collect(),
            user: &view.identity.user,
            user_source: view.identity.source.name(),
            app: view.app.map(AppJson::from),
            candidate: view.candidate,
        };
        self.line(&event)
    }

    fn line<T: Serialize>(&mut self, event: &T) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, event)?;
        self.out.write_all(b"\n")
    }

    /// Flushes buffered events.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_microseconds() {
        let t = Timestamp::from_parts(1_763_630_043, 123_456_789);
        assert_eq!(Rfc3339(t).to_string(), "2025-11-20T09:14:03.123456Z");
        assert_eq!(
            Rfc3339(Timestamp(0)).to_string(),
            "1970-01-01T00:00:00.000000Z"
        );
        assert_eq!(
            Rfc3339(Timestamp::from_parts(951_782_400, 0)).to_string(),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(
            Rfc3339(Timestamp(-1_000)).to_string(),
            "1969-12-31T23:59:59.999999Z"
        );
    }
}
