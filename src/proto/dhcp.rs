//! DHCP: which device holds which address, from DHCPv4 (RFC 2131/2132) and DHCPv6 (RFC 8415)
//! messages on the wire.
//!
//! Only what identity needs is read: the message type, the client's MAC address (DHCPv4
//! `chaddr`, or the link-layer address inside a DHCPv6 DUID), the DUID, host name (option 12),
//! client FQDN (option 81, DHCPv6 option 39), the address the message is about and its lease
//! time. The parser is written here rather than taken from `dhcproto`: that crate's borrowed
//! view slices `chaddr` by the untrusted `hlen` (a panic on a 240-byte message with
//! `hlen` 255), asserts in debug builds on an FQDN option shorter than three bytes, rejects a whole
//! message over one non-UTF-8 host name, and pulls in hickory-proto. Here every read is
//! bounds-checked, a malformed option is skipped and counted, and the rest of the message
//! still counts.
//!
//! [`Dhcp`] is the port dissector: UDP ports 67 and 68 (v4) or 546 and 547 (v6) on either
//! side; each datagram is a message, handed on as a [`DhcpRecord`].

use super::dissector::{Context, Frame, PortDissector};
use super::{Origin, Record};
use crate::capture::Timestamp;
use crate::decode::Addr;

/// DHCPv4's magic cookie, after the 236-byte BOOTP header.
const MAGIC: [u8; 4] = [99, 130, 83, 99];

/// Longest host name or FQDN kept, in presentation bytes.
const MAX_NAME: usize = 255;

/// Longest DUID kept (RFC 8415: at most 128 bytes plus its 2-byte type).
const MAX_DUID: usize = 130;

/// Most nested DHCPv6 relay messages followed (RFC 8415 allows 8 hops).
const MAX_RELAY_DEPTH: usize = 8;

/// The kind of a DHCP message, both versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DhcpKind {
    /// v4 DISCOVER, v6 SOLICIT.
    Discover,
    /// v4 OFFER, v6 ADVERTISE.
    Offer,
    /// v4 REQUEST; v6 REQUEST, RENEW, REBIND, CONFIRM.
    Request,
    /// v4 DECLINE, v6 DECLINE.
    Decline,
    /// v4 ACK, v6 REPLY.
    Ack,
    /// v4 NAK.
    Nak,
    /// v4 RELEASE, v6 RELEASE.
    Release,
    /// v4 INFORM, v6 INFORMATION-REQUEST.
    Inform,
    /// Anything else (BOOTP without a type, v6 RECONFIGURE, ...).
    Other,
}

impl DhcpKind {
    /// Name in events.
    pub fn name(self) -> &'static str {
        match self {
            DhcpKind::Discover => "discover",
            DhcpKind::Offer => "offer",
            DhcpKind::Request => "request",
            DhcpKind::Decline => "decline",
            DhcpKind::Ack => "ack",
            DhcpKind::Nak => "nak",
            DhcpKind::Release => "release",
            DhcpKind::Inform => "inform",
            DhcpKind::Other => "other",
        }
    }

    fn from_v4(t: u8) -> DhcpKind {
        match t {
            1 => DhcpKind::Discover,
            2 => DhcpKind::Offer,
            3 => DhcpKind::Request,
            4 => DhcpKind::Decline,
            5 => DhcpKind::Ack,
            6 => DhcpKind::Nak,
            7 => DhcpKind::Release,
            8 => DhcpKind::Inform,
            _ => DhcpKind::Other,
        }
    }

    fn from_v6(t: u8) -> DhcpKind {
        match t {
            1 => DhcpKind::Discover,
            2 => DhcpKind::Offer,
            // REQUEST, CONFIRM, RENEW, REBIND.
            3..=6 => DhcpKind::Request,
            7 => DhcpKind::Ack,
            8 => DhcpKind::Release,
            9 => DhcpKind::Decline,
            11 => DhcpKind::Inform,
            _ => DhcpKind::Other,
        }
    }
}

/// What one DHCP message says about a client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DhcpMessage {
    /// 4 or 6.
    pub version: u8,
    /// The message type.
    pub kind: Option<DhcpKind>,
    /// Transaction id (24 bits for DHCPv6).
    pub xid: u32,
    /// The client's Ethernet address.
    pub mac: Option<[u8; 6]>,
    /// The client's DUID (DHCPv6), raw.
    pub duid: Option<Vec<u8>>,
    /// Host name (option 12), in presentation form.
    pub hostname: Option<String>,
    /// Client FQDN (DHCPv4 option 81, DHCPv6 option 39), lower case, no trailing dot.
    pub fqdn: Option<String>,
    /// The address the message is about: leased (ACK/REPLY), requested, released or declined.
    pub address: Option<Addr>,
    /// Lease time in seconds (DHCPv4 option 51, DHCPv6 IAADDR valid lifetime).
    pub lease_secs: Option<u32>,
    /// Options skipped because they were malformed.
    pub bad_options: u32,
}

/// Why a datagram is not a DHCP message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DhcpError {
    /// Shorter than the fixed header.
    #[error("shorter than a DHCP header")]
    Short,
    /// DHCPv4 without the magic cookie (plain BOOTP, or not DHCP).
    #[error("no DHCP magic cookie")]
    NoCookie,
    /// BOOTP op neither request nor reply.
    #[error("BOOTP op is neither request nor reply")]
    BadOp,
    /// Relay messages nested deeper than RFC 8415 allows.
    #[error("DHCPv6 relay messages nested too deep")]
    TooDeep,
}

/// Parses a DHCPv4 message (UDP ports 67 and 68).
pub fn parse_v4(bytes: &[u8]) -> Result<DhcpMessage, DhcpError> {
    let header = bytes.get(..240).ok_or(DhcpError::Short)?;
    if header[236..240] != MAGIC {
        return Err(DhcpError::NoCookie);
    }
    if !matches!(header[0], 1 | 2) {
        return Err(DhcpError::BadOp);
    }
    let ipv4 = |at: usize| {
        let o: [u8; 4] = header[at..at + 4].try_into().unwrap_or_default();
        (o != [0; 4]).then(|| Addr::v4(o))
    };
    let (ciaddr, yiaddr) = (ipv4(12), ipv4(16));
    let mut m = DhcpMessage {
        version: 4,
        xid: u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
        // htype 1 (Ethernet) with a 6-byte address.
        mac: (header[1] == 1 && header[2] == 6).then(|| {
            let mut mac = [0; 6];
            mac.copy_from_slice(&header[28..34]);
            mac
        }),
        ..DhcpMessage::default()
    };
    let mut requested = None;
    for (code, data) in Tlv8(&bytes[240..]) {
        let Some(data) = data else {
            m.bad_options += 1;
            break;
        };
        let ok = match code {
            53 => data.first().map(|&t| m.kind = Some(DhcpKind::from_v4(t))),
            12 => host_name(data).map(|h| m.hostname = Some(h)),
            81 => fqdn_v4(data).map(|f| m.fqdn = Some(f)),
            51 => u32_of(data).map(|s| m.lease_secs = Some(s)),
            50 => <[u8; 4]>::try_from(data)
                .ok()
                .map(|o| requested = Some(Addr::v4(o))),
            _ => Some(()),
        };
        if ok.is_none() {
            m.bad_options += 1;
        }
    }
    m.address = match m.kind {
        Some(DhcpKind::Ack) => yiaddr.or(ciaddr),
        Some(DhcpKind::Offer) => yiaddr,
        Some(DhcpKind::Request | DhcpKind::Discover) => requested.or(ciaddr),
        Some(DhcpKind::Decline) => requested.or(ciaddr),
        Some(DhcpKind::Release | DhcpKind::Inform) => ciaddr,
        _ => None,
    };
    Ok(m)
}

/// Parses a DHCPv6 message (UDP ports 546 and 547), following relay messages to the client's.
pub fn parse_v6(bytes: &[u8]) -> Result<DhcpMessage, DhcpError> {
    parse_v6_at(bytes, 0)
}

fn parse_v6_at(bytes: &[u8], depth: usize) -> Result<DhcpMessage, DhcpError> {
    let (&msg_type, rest) = bytes.split_first().ok_or(DhcpError::Short)?;
    if matches!(msg_type, 12 | 13) {
        // RELAY-FORW / RELAY-REPL: hop count, link and peer addresses, then options; the
        // client's message is in option 9.
        if depth >= MAX_RELAY_DEPTH {
            return Err(DhcpError::TooDeep);
        }
        let options = rest.get(33..).ok_or(DhcpError::Short)?;
        for (code, data) in Tlv16(options) {
            if let (9, Some(inner)) = (code, data) {
                return parse_v6_at(inner, depth + 1);
            }
        }
        return Err(DhcpError::Short);
    }
    let xid = rest.get(..3).ok_or(DhcpError::Short)?;
    let mut m = DhcpMessage {
        version: 6,
        kind: Some(DhcpKind::from_v6(msg_type)),
        xid: u32::from_be_bytes([0, xid[0], xid[1], xid[2]]),
        ..DhcpMessage::default()
    };
    for (code, data) in Tlv16(&rest[3..]) {
        let Some(data) = data else {
            m.bad_options += 1;
            break;
        };
        let ok = match code {
            1 => duid(data).map(|(duid, mac)| {
                m.duid = Some(duid);
                m.mac = mac;
            }),
            39 => data
                .split_first()
                .and_then(|(_flags, name)| wire_name(name))
                .map(|f| m.fqdn = Some(f)),
            3 => ia_na(data, &mut m),
            _ => Some(()),
        };
        if ok.is_none() {
            m.bad_options += 1;
        }
    }
    Ok(m)
}

/// An IA_NA option: IAID, T1, T2, then sub-options; the first IAADDR gives the address.
fn ia_na(data: &[u8], m: &mut DhcpMessage) -> Option<()> {
    let subs = data.get(12..)?;
    for (code, sub) in Tlv16(subs) {
        let sub = sub?;
        if code == 5 && m.address.is_none() {
            let addr: [u8; 16] = sub.get(..16)?.try_into().ok()?;
            m.address = Some(Addr(addr));
            m.lease_secs = Some(u32_of(sub.get(20..24)?)?);
        }
    }
    Some(())
}

/// A DUID and the MAC address inside it (DUID-LLT and DUID-LL of hardware type Ethernet).
fn duid(data: &[u8]) -> Option<(Vec<u8>, Option<[u8; 6]>)> {
    if data.len() < 2 || data.len() > MAX_DUID {
        return None;
    }
    let kind = u16::from_be_bytes([data[0], data[1]]);
    let lladdr = match kind {
        1 => data.get(8..),
        3 => data.get(4..),
        _ => None,
    };
    let ethernet = data.get(2..4) == Some(&[0, 1]);
    let mac = lladdr
        .filter(|_| ethernet)
        .and_then(|a| <[u8; 6]>::try_from(a).ok());
    Some((data.to_vec(), mac))
}

/// Option 12: a host name, as sent (escaped where not printable), without a trailing dot.
/// A host name option (12) as kept: presentation form, bounded; none when empty or too long.
pub fn host_name(data: &[u8]) -> Option<String> {
    let data = data.strip_suffix(&[0]).unwrap_or(data);
    if data.is_empty() {
        return None;
    }
    let name = crate::text::name_from_bytes(data);
    (name.len() <= MAX_NAME).then_some(name)
}

/// Option 81: flags, two obsolete RCODE bytes, then the name, in DNS wire format when the E flag
/// is set and ASCII otherwise (RFC 4702).
fn fqdn_v4(data: &[u8]) -> Option<String> {
    let (&flags, rest) = data.split_first()?;
    let name = rest.get(2..)?;
    if flags & 0x04 != 0 {
        wire_name(name)
    } else {
        host_name(name)
    }
}

/// A name in uncompressed DNS wire format (a partial name may end without the root label).
fn wire_name(bytes: &[u8]) -> Option<String> {
    let mut out = String::new();
    let mut rest = bytes;
    while let Some((&len, tail)) = rest.split_first() {
        if len == 0 {
            break;
        }
        let label = tail.get(..usize::from(len)).filter(|_| len <= 63)?;
        if !out.is_empty() {
            out.push('.');
        }
        crate::text::escape_label(&mut out, label, true);
        rest = &tail[label.len()..];
    }
    (!out.is_empty() && out.len() <= MAX_NAME).then_some(out)
}

fn u32_of(data: &[u8]) -> Option<u32> {
    <[u8; 4]>::try_from(data).ok().map(u32::from_be_bytes)
}

/// DHCPv4 options: code, length, value; pad (0) skipped, end (255) stops. `None` data marks an
/// option running past the end, after which nothing more is read.
struct Tlv8<'a>(&'a [u8]);

impl<'a> Iterator for Tlv8<'a> {
    type Item = (u8, Option<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (&code, rest) = self.0.split_first()?;
            match code {
                0 => self.0 = rest,
                255 => return None,
                _ => {
                    let Some((&len, rest)) = rest.split_first() else {
                        self.0 = &[];
                        return Some((code, None));
                    };
                    let Some(data) = rest.get(..usize::from(len)) else {
                        self.0 = &[];
                        return Some((code, None));
                    };
                    self.0 = &rest[data.len()..];
                    return Some((code, Some(data)));
                }
            }
        }
    }
}

/// DHCPv6 options: 16-bit code and length.
struct Tlv16<'a>(&'a [u8]);

impl<'a> Iterator for Tlv16<'a> {
    type Item = (u16, Option<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let Some(&[c0, c1, l0, l1]) = self.0.first_chunk::<4>() else {
            self.0 = &[];
            return Some((0, None));
        };
        let code = u16::from_be_bytes([c0, c1]);
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let Some(data) = self.0.get(4..4 + len) else {
            self.0 = &[];
            return Some((code, None));
        };
        self.0 = &self.0[4 + len..];
        Some((code, Some(data)))
    }
}

/// A MAC address as `02:88:00:00:00:01`.
pub fn mac_string(mac: &[u8; 6]) -> String {
    let [a, b, c, d, e, f] = *mac;
    format!("{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}")
}

/// Bytes as lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 * bytes.len());
    crate::text::push_hex(&mut out, bytes);
    out
}

/// One DHCP message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DhcpRecord {
    /// Where it was seen.
    pub origin: Origin,
    /// What it says.
    pub message: DhcpMessage,
}

/// DHCPv4's ports, server and client.
const V4_PORTS: [u16; 2] = [67, 68];

/// The DHCP port dissector, both versions.
#[derive(Clone, Copy, Debug)]
pub struct Dhcp;

impl PortDissector for Dhcp {
    const NAME: &'static str = "dhcp";
    const UDP_PORTS: &'static [u16] = &[67, 68, 546, 547];
    const TCP_PORTS: &'static [u16] = &[];
    type Flow = ();
    type Worker = ();
    type Record = Box<DhcpRecord>;

    fn frame(_: &[u8]) -> Frame {
        Some(Err(()))
    }

    fn message(bytes: &[u8], _: &mut (), _: &mut (), cx: Context<'_>) -> bool {
        let at = cx.at;
        let v4 = [at.client.port, at.server.port]
            .iter()
            .any(|p| V4_PORTS.contains(p));
        let parsed = if v4 { parse_v4(bytes) } else { parse_v6(bytes) };
        let counters = &mut *cx.counters;
        let Ok(message) = parsed else {
            counters.dhcp_malformed += 1;
            return false;
        };
        counters.dhcp_messages += 1;
        counters.dhcp_bad_options += u64::from(message.bad_options);
        let origin = at;
        cx.records
            .push(Record::Dhcp(Box::new(DhcpRecord { origin, message })));
        true
    }

    fn malformed_frame(_: Context<'_>) {}

    fn order(record: &Box<DhcpRecord>) -> (Timestamp, u64) {
        (record.origin.ts, record.origin.packet)
    }

    fn end(_: (), _: &mut (), _: Context<'_>) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DHCPv4 message: BOOTP header with `op`, the client's MAC, `yiaddr`, then options.
    fn v4(op: u8, yiaddr: [u8; 4], options: &[u8]) -> Vec<u8> {
        let mut m = vec![0u8; 240];
        m[0] = op;
        m[1] = 1;
        m[2] = 6;
        m[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        m[16..20].copy_from_slice(&yiaddr);
        m[28..34].copy_from_slice(&[2, 0x88, 0, 0, 0, 1]);
        m[236..240].copy_from_slice(&MAGIC);
        m.extend_from_slice(options);
        m
    }

    #[test]
    fn ack_gives_address_mac_hostname_fqdn_and_lease() {
        let opts = [
            &[53, 1, 5][..],
            &[51, 4, 0, 0, 0x0e, 0x10],
            &[12, 5],
            b"Alice",
            &[81, 13, 0x04, 0, 0, 5],
            b"alice",
            &[3],
            b"lan",
            &[0, 255],
        ]
        .concat();
        let m = parse_v4(&v4(2, [10, 0, 0, 5], &opts)).unwrap();
        assert_eq!(m.kind, Some(DhcpKind::Ack));
        assert_eq!(m.mac, Some([2, 0x88, 0, 0, 0, 1]));
        assert_eq!(m.address, Some(Addr::v4([10, 0, 0, 5])));
        assert_eq!(m.lease_secs, Some(3600));
        assert_eq!(m.hostname.as_deref(), Some("alice"));
        assert_eq!(m.fqdn.as_deref(), Some("alice.lan"));
        assert_eq!(m.xid, 0x1234_5678);
        assert_eq!(m.bad_options, 0);
    }

    #[test]
    fn malformed_options_are_skipped_and_counted() {
        // FQDN shorter than its three fixed bytes, a lease time of 3 bytes, a label running
        // past its option, then a good host name, then an option cut short by the datagram.
        let opts = [
            &[53, 1, 3][..],
            &[81, 1, 4],
            &[51, 3, 0, 0, 1],
            &[81, 6, 4, 0, 0, 9, b'a', b'b'],
            &[12, 2, b'p', b'c'],
            &[12, 40, b'x'],
        ]
        .concat();
        let m = parse_v4(&v4(1, [0; 4], &opts)).unwrap();
        assert_eq!(m.kind, Some(DhcpKind::Request));
        assert_eq!(m.hostname.as_deref(), Some("pc"));
        assert_eq!(m.fqdn, None);
        assert_eq!(m.bad_options, 4);
    }

    #[test]
    fn hostile_headers_do_not_panic() {
        let mut m = v4(1, [0; 4], &[53, 1, 1, 255]);
        m[2] = 255; // hlen far past chaddr
        assert_eq!(parse_v4(&m).unwrap().mac, None);
        assert_eq!(parse_v4(&m[..239]), Err(DhcpError::Short));
        m[236] = 0;
        assert_eq!(parse_v4(&m), Err(DhcpError::NoCookie));
        let mut bad_op = v4(9, [0; 4], &[]);
        bad_op[0] = 9;
        assert_eq!(parse_v4(&bad_op), Err(DhcpError::BadOp));
        // Host names are escaped, never trusted as text.
        let m = parse_v4(&v4(1, [0; 4], &[12, 4, b'<', 0xff, b'"', 0])).unwrap();
        assert_eq!(m.hostname.as_deref(), Some("<\\255\""));
    }

    #[test]
    fn v6_reply_with_duid_ia_address_and_fqdn() {
        let mut msg = vec![7, 0xab, 0xcd, 0xef];
        // Client id: DUID-LLT, Ethernet, time, MAC.
        msg.extend_from_slice(&[0, 1, 0, 14, 0, 1, 0, 1, 1, 2, 3, 4, 2, 0x88, 0, 0, 0, 1]);
        // IA_NA with one IAADDR fd88::50, lifetimes 1800/3600.
        let mut iaaddr = vec![0, 5, 0, 24];
        iaaddr.extend_from_slice(&[0xfd, 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x50]);
        iaaddr.extend_from_slice(&[0, 0, 7, 8, 0, 0, 0x0e, 0x10]);
        msg.extend_from_slice(&[0, 3, 0, (12 + iaaddr.len()) as u8]);
        msg.extend_from_slice(&[0; 12]);
        msg.extend_from_slice(&iaaddr);
        // Client FQDN: flags, pc1.corp.
        msg.extend_from_slice(&[
            0, 39, 0, 10, 0, 3, b'p', b'c', b'1', 4, b'c', b'o', b'r', b'p',
        ]);
        let m = parse_v6(&msg).unwrap();
        assert_eq!(m.kind, Some(DhcpKind::Ack));
        assert_eq!(m.xid, 0xabcdef);
        assert_eq!(m.mac, Some([2, 0x88, 0, 0, 0, 1]));
        assert_eq!(
            m.address.map(|a| a.to_string()).as_deref(),
            Some("fd88::50")
        );
        assert_eq!(m.lease_secs, Some(3600));
        assert_eq!(m.fqdn.as_deref(), Some("pc1.corp"));
        // The same message relayed twice.
        let mut relayed = msg.clone();
        for _ in 0..2 {
            let mut r = vec![12, 0];
            r.extend_from_slice(&[0; 32]);
            r.extend_from_slice(&[0, 9]);
            r.extend_from_slice(&(relayed.len() as u16).to_be_bytes());
            r.extend_from_slice(&relayed);
            relayed = r;
        }
        assert_eq!(parse_v6(&relayed).unwrap(), m);
    }

    #[test]
    fn v6_relays_nested_too_deep_are_refused() {
        let mut msg = vec![1, 0, 0, 1];
        for _ in 0..=MAX_RELAY_DEPTH {
            let mut r = vec![12, 0];
            r.extend_from_slice(&[0; 32]);
            r.extend_from_slice(&[0, 9]);
            r.extend_from_slice(&(msg.len() as u16).to_be_bytes());
            r.extend_from_slice(&msg);
            msg = r;
        }
        assert_eq!(parse_v6(&msg), Err(DhcpError::TooDeep));
        assert_eq!(parse_v6(&[]), Err(DhcpError::Short));
        assert_eq!(parse_v6(&[1, 0]), Err(DhcpError::Short));
    }
}
