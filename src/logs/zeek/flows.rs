//! The Zeek logs that describe a flow: `conn` (its totals) and the messages seen on it, `ssl`
//! and `quic` (a ClientHello) and `http` (a request), each line one [`Piece`].

use super::flow_line;
use super::value::{Interval, Syntax, Text};
use crate::decode::Transport;
use crate::flow::EndReason;
use crate::logs::{LineProblem, Message, Piece, Said, Totals, Tuple};
use crate::proto::{Protocol, http, tls};
use crate::text::name_from_bytes;

flow_line! {
    /// A `conn` line.
    ConnLine<'a> {
        /// `proto`: `tcp`, `udp`, `icmp` or `unknown_transport`.
        #[serde(borrow)]
        proto: Option<Text<'a>>,
        /// `service`: the analyzers that recognised the flow, comma-separated.
        #[serde(borrow)]
        service: Option<Text<'a>>,
        /// `duration`.
        duration: Option<Interval>,
        /// `orig_bytes`: payload bytes from the client.
        orig_bytes: Option<u64>,
        /// `resp_bytes`.
        resp_bytes: Option<u64>,
        /// `orig_pkts`.
        orig_pkts: Option<u64>,
        /// `resp_pkts`.
        resp_pkts: Option<u64>,
        /// `conn_state`.
        #[serde(borrow)]
        conn_state: Option<Text<'a>>,
    }
}

/// A `conn` line: the flow's totals. Only TCP and UDP flows: an ICMP one is skipped. Counts
/// the log leaves unset are 0, and so is a flow's duration.
pub fn conn(line: ConnLine<'_>) -> Result<Piece, LineProblem> {
    let id = line.id()?;
    let transport = match line.proto.as_ref().map(Text::raw) {
        Some(b"tcp") => Transport::Tcp,
        Some(b"udp") => Transport::Udp,
        Some(_) => return Err(LineProblem::Skipped),
        None => return Err(LineProblem::Malformed("no proto")),
    };
    let last = id
        .ts
        .0
        .saturating_add(line.duration.map_or(0, |d| d.0.max(0)));
    Ok(Piece::Totals(Totals {
        key: id.key,
        tuple: Tuple {
            client: id.client,
            server: id.server,
            transport,
        },
        first: id.ts,
        last: crate::capture::Timestamp(last),
        packets: [line.orig_pkts.unwrap_or(0), line.resp_pkts.unwrap_or(0)],
        bytes: [line.orig_bytes.unwrap_or(0), line.resp_bytes.unwrap_or(0)],
        protocol: line
            .service
            .as_ref()
            .map_or(Protocol::Unknown, |s| protocol(s.raw())),
        end: end_reason(line.conn_state.as_ref().map(Text::raw)),
    }))
}

/// The first service of Zeek's list that lantern names (`ssl,quic` is TLS; a failed one, `-ftp`,
/// names nothing).
fn protocol(service: &[u8]) -> Protocol {
    (service.split(|&b| b == b','))
        .find_map(|name| {
            Some(match name {
                b"ssl" => Protocol::Tls,
                b"http" => Protocol::Http,
                b"dns" => Protocol::Dns,
                b"quic" => Protocol::Quic,
                b"krb" | b"krb_tcp" => Protocol::Kerberos,
                b"dhcp" => Protocol::Dhcp,
                _ => return None,
            })
        })
        .unwrap_or(Protocol::Unknown)
}

/// Why a flow ended, from Zeek's `conn_state`: closed when Zeek saw a FIN or RST from either
/// side (`SF`, `S2`, `S3`, `RSTO`, `RSTR`, `RSTOS0`, `RSTRH`, `SH`, `SHR`) or the connection
/// refused (`REJ`); an idle timeout otherwise, which is how Zeek ended the rest: `S1`
/// (established, never closed), `S0` (a SYN never answered), `OTH` (no handshake seen: every
/// UDP flow) or no state logged.
fn end_reason(state: Option<&[u8]>) -> EndReason {
    match state {
        Some(
            b"SF" | b"S2" | b"S3" | b"RSTO" | b"RSTR" | b"RSTOS0" | b"RSTRH" | b"SH" | b"SHR"
            | b"REJ",
        ) => EndReason::Closed,
        _ => EndReason::IdleTimeout,
    }
}

flow_line! {
    /// An `ssl` line.
    SslLine<'a> {
        /// `version`: the version Zeek saw negotiated (`TLSv12`, `DTLSv10`).
        #[serde(borrow)]
        version: Option<Text<'a>>,
        /// `server_name`: the SNI.
        #[serde(borrow)]
        server_name: Option<Text<'a>>,
        /// `ja4`, from FoxIO's JA4 package.
        #[serde(borrow)]
        ja4: Option<Text<'a>>,
    }
}

/// An `ssl` line: a TLS ClientHello on TCP (DTLS on UDP). Zeek logs no ALPN list the client
/// offered, no ECH, and as `version` the version negotiated rather than the highest one the
/// client offered (an `ssl` line of a QUIC connection also says TCP: the log does not tell).
pub fn ssl(line: SslLine<'_>, syntax: Syntax) -> Result<Piece, LineProblem> {
    let id = line.id()?;
    let version = line.version.as_ref().map(|v| v.bytes(syntax));
    let transport = match version.as_deref().is_some_and(|v| v.starts_with(b"DTLS")) {
        true => Transport::Udp,
        false => Transport::Tcp,
    };
    let hello = tls::ClientHello {
        sni: name(line.server_name.as_ref(), syntax),
        alpn: Vec::new(),
        version: version.as_deref().map_or_else(String::new, version_name),
        ech: false,
        ja4: line.ja4.as_ref().map(|j| lossy(&j.bytes(syntax), 64)),
    };
    Ok(message(id, transport, Said::Tls(hello)))
}

/// Zeek's version names as the packet path names versions (`TLSv13` is `1.3`), others as
/// Zeek writes them.
fn version_name(version: &[u8]) -> String {
    match version {
        b"TLSv13" => "1.3".into(),
        b"TLSv12" => "1.2".into(),
        b"TLSv11" => "1.1".into(),
        b"TLSv10" => "1.0".into(),
        b"SSLv3" => "ssl3".into(),
        other => lossy(other, 32),
    }
}

flow_line! {
    /// A `quic` line.
    QuicLine<'a> {
        /// `version`: the QUIC version (`1`, `quicv2`, `draft-29`, `unknown-...`).
        #[serde(borrow)]
        version: Option<Text<'a>>,
        /// `server_name`: the SNI of the client's Initial.
        #[serde(borrow)]
        server_name: Option<Text<'a>>,
        /// `client_protocol`: the first ALPN protocol the client offered.
        #[serde(borrow)]
        client_protocol: Option<Text<'a>>,
        /// `ja4`, if a package logs it.
        #[serde(borrow)]
        ja4: Option<Text<'a>>,
    }
}

/// A `quic` line: the ClientHello of a QUIC Initial. Every QUIC version Zeek reads carries TLS
/// 1.3 (RFC 9001), so the version is `1.3` unless Zeek could not read the version (`unknown-`);
/// the ALPN list is the one protocol Zeek logs.
pub fn quic(line: QuicLine<'_>, syntax: Syntax) -> Result<Piece, LineProblem> {
    let id = line.id()?;
    let version = line.version.as_ref().map(Text::raw);
    let known = version.is_some_and(|v| !v.is_empty() && !v.starts_with(b"unknown"));
    let hello = tls::ClientHello {
        sni: name(line.server_name.as_ref(), syntax),
        alpn: (line.client_protocol.iter())
            .map(|p| lossy(&p.bytes(syntax), 32))
            .filter(|p| !p.is_empty())
            .collect(),
        version: if known { "1.3".into() } else { String::new() },
        ech: false,
        ja4: line.ja4.as_ref().map(|j| lossy(&j.bytes(syntax), 64)),
    };
    Ok(message(id, Transport::Udp, Said::Quic(hello)))
}

flow_line! {
    /// An `http` line.
    HttpLine<'a> {
        /// `method`.
        #[serde(borrow)]
        method: Option<Text<'a>>,
        /// `host`: the Host header.
        #[serde(borrow)]
        host: Option<Text<'a>>,
        /// `uri`: the request target.
        #[serde(borrow)]
        uri: Option<Text<'a>>,
        /// `user_agent`.
        #[serde(borrow)]
        user_agent: Option<Text<'a>>,
    }
}

/// An `http` line: one request, kept as the packet path keeps a request head
/// ([`http::request_of`]). A line without a method (a response Zeek saw no request for) is
/// skipped.
pub fn http(line: HttpLine<'_>, syntax: Syntax) -> Result<Piece, LineProblem> {
    let id = line.id()?;
    let Some(method) = line.method.as_ref().map(|m| m.bytes(syntax)) else {
        return Err(LineProblem::Skipped);
    };
    let uri = line.uri.as_ref().map(|u| u.bytes(syntax));
    let host = line.host.as_ref().map(|h| h.bytes(syntax));
    let agent = line.user_agent.as_ref().map(|a| a.bytes(syntax));
    let request = http::request_of(
        &String::from_utf8_lossy(&method),
        &String::from_utf8_lossy(uri.as_deref().unwrap_or_default()),
        host.as_deref(),
        agent.as_deref(),
    );
    Ok(message(id, Transport::Tcp, Said::Http(request)))
}

/// A message piece.
fn message(id: super::Id, transport: Transport, said: Said) -> Piece {
    Piece::Message(Message {
        key: id.key,
        tuple: Tuple {
            client: id.client,
            server: id.server,
            transport,
        },
        ts: id.ts,
        said,
    })
}

/// A host name field as the packet path writes names: lower-cased, escaped where not printable,
/// without a trailing dot; none when unset or empty.
fn name(field: Option<&Text<'_>>, syntax: Syntax) -> Option<String> {
    let bytes = field?.bytes(syntax);
    (!bytes.is_empty()).then(|| name_from_bytes(&bytes))
}

/// Bytes as text, at most `max` bytes of them.
fn lossy(bytes: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(max)]).into_owned()
}
