//! Decode: from link-layer bytes to a [`Packet`] view of the innermost TCP or UDP packet.
//!
//! This stage owns the link types (`link.rs`), VLAN and QinQ tags, the encapsulations of
//! `walk.rs` (MPLS, PPPoE, GRE, ERSPAN I/II/III, VXLAN, GENEVE, GTP-U, IP-in-IP and IPv6-in-IPv4,
//! with VLAN tags inside any of them), IPv4 and IPv6 (with extension headers, sliced with
//! `etherparse` in its lax mode so that packets cut by the snaplen still count) and IP fragment
//! reassembly ([`frag`]). The commonest headers (IPv4 without options or fragmenting, and TCP)
//! are read directly, because etherparse's slicing was a tenth of a replay: decoding went from
//! 28 M to 38 M frames/s (`cargo bench --bench stages -- decode`). Tests hold the direct
//! reading to etherparse's on every header of the own captures, as captured and altered. The flow is the innermost one: outer addresses and outer VLAN tags are
//! the mirror's, not the user's. It hands on a [`Packet`] that borrows the captured bytes (or the
//! reassembled datagram); nothing else is copied or allocated. Traffic that is not TCP or UDP
//! over IP is counted in [`Counters`] and dropped here, never treated as an error.

pub mod frag;
mod link;
mod walk;

pub use frag::FragConfig;
pub use link::is_supported;

use crate::capture::{LinkType, Timestamp};
use etherparse::{Ipv6ExtensionSlice, LaxIpSlice, TcpSlice, UdpSlice};
use frag::{Defrag, FragKey, Fragment};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use walk::Layer;

crate::counters! {
    /// What decoding counts: link types, tunnels, IP and its fragments, transport headers.
    pub struct Counters {
        link_unsupported: "packets whose link type lantern does not decode",
        link_malformed: "packets too short for their link-layer header",
        non_ip: "packets that carry no IP (ARP, LLDP, STP and other EtherTypes)",
        decap_malformed: "packets whose Ethernet, tag or tunnel headers are invalid or cut short",
        decap_too_deep: "packets nested in more layers than lantern unwraps",
        decap_vxlan: "packets unwrapped from VXLAN",
        decap_geneve: "packets unwrapped from GENEVE",
        decap_gre: "packets unwrapped from GRE",
        decap_erspan: "packets unwrapped from ERSPAN",
        decap_mpls: "packets unwrapped from MPLS",
        decap_pppoe: "packets unwrapped from PPPoE sessions",
        decap_gtp: "packets unwrapped from GTP-U",
        decap_ip_in_ip: "packets unwrapped from IP-in-IP or IPv6-in-IPv4",
        ip_malformed: "packets whose IP header is invalid or cut short",
        ip_fragments: "IP fragments seen",
        ip_reassembled: "IP datagrams reassembled from fragments",
        ip_fragment_overlaps: "datagrams dropped because a fragment overlapped another with other bytes",
        ip_fragments_dropped: "datagrams dropped by the reassembly limits (size, pieces, memory, snaplen)",
        ip_fragments_expired: "datagrams dropped because their fragments did not all arrive in time",
        ip_truncated: "packets captured shorter than their IP length (snaplen); still counted",
        other_ip_protocol: "IP packets that are neither TCP nor UDP (ICMP, ESP, GRE...)",
        l4_malformed: "TCP or UDP headers that are invalid or cut short",
    }
}

/// Most layers (link headers, tags, tunnels) unwrapped to reach one packet.
const MAX_LAYERS: usize = 16;

/// An IP address in 16 bytes: IPv4 addresses are stored IPv4-mapped (`::ffff:a.b.c.d`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Addr(pub [u8; 16]);

impl Addr {
    /// An IPv4 address.
    pub fn v4(octets: [u8; 4]) -> Addr {
        Addr(Ipv4Addr::from(octets).to_ipv6_mapped().octets())
    }

    /// The standard library form (IPv4 for mapped addresses).
    pub fn ip(self) -> IpAddr {
        Ipv6Addr::from(self.0).to_canonical()
    }
}

impl From<IpAddr> for Addr {
    fn from(ip: IpAddr) -> Addr {
        match ip {
            IpAddr::V4(v4) => Addr::v4(v4.octets()),
            IpAddr::V6(v6) => Addr(v6.octets()),
        }
    }
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.ip().fmt(f)
    }
}

/// The transport protocol of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Transport {
    /// The IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            Transport::Tcp => 6,
            Transport::Udp => 17,
        }
    }

    /// Lower-case name, as in events.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

/// TCP header fields the flow and stream stages need.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpMeta {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack_number: u32,
    /// SYN flag.
    pub syn: bool,
    /// ACK flag.
    pub ack: bool,
    /// FIN flag.
    pub fin: bool,
    /// RST flag.
    pub rst: bool,
}

/// A decoded TCP or UDP packet: addresses, ports, flags and the payload, borrowed.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// Outer and inner VLAN ids of the innermost Ethernet frame (0 where absent).
    pub vlan: [u16; 2],
    /// Source address.
    pub src: Addr,
    /// Destination address.
    pub dst: Addr,
    /// TCP or UDP.
    pub transport: Transport,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// TCP fields (all zero for UDP).
    pub tcp: TcpMeta,
    /// The captured transport payload (shorter than `payload_len` when cut by the snaplen).
    pub payload: &'a [u8],
    /// The transport payload length on the wire, from the IP and UDP length fields.
    pub payload_len: u32,
}

/// Decodes packets, keeping the IP fragments that wait for the rest of their datagram.
#[derive(Debug)]
pub struct Decoder {
    defrag: Defrag,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(FragConfig::default())
    }
}

/// What unwrapping an IP layer gave: another layer, or the innermost packet.
enum Unwrapped<'a> {
    /// Another layer inside (a tunnel).
    Inner(Layer<'a>),
    /// The innermost packet.
    Packet(Packet<'a>),
}

/// The VLAN tags seen since the last Ethernet header.
#[derive(Clone, Copy, Default)]
struct Tags {
    ids: [u16; 2],
    count: usize,
}

impl Tags {
    fn push(&mut self, id: u16) {
        if let Some(slot) = self.ids.get_mut(self.count) {
            *slot = id;
        }
        self.count += 1;
    }
}

impl Decoder {
    /// A decoder with these fragment limits.
    pub fn new(config: FragConfig) -> Decoder {
        Decoder {
            defrag: Defrag::new(config),
        }
    }

    /// Decodes one captured packet of link type `link`, read when the run's clock was `now`
    /// (fragments time out on it); `None`, and a counter, for anything that is not TCP or UDP
    /// over IP, and for a fragment whose datagram is not complete yet.
    pub fn decode<'a>(
        &'a mut self,
        link: LinkType,
        data: &'a [u8],
        now: Timestamp,
        counters: &mut Counters,
    ) -> Option<Packet<'a>> {
        let mut layer = link::start(link, data, counters)?;
        let mut tags = Tags::default();
        // One reassembly per packet: its result is what the rest of the walk borrows.
        let mut defrag = Some(&mut self.defrag);
        for _ in 0..MAX_LAYERS {
            let next = match layer {
                Layer::Ether(frame) => {
                    tags = Tags::default();
                    walk::ether(frame)
                }
                Layer::EtherType(ether_type, payload) => match ether_type {
                    0x0800 | 0x86DD => Some(Layer::Ip(payload)),
                    0x8100 | 0x88A8 | 0x9100 => walk::vlan(payload).map(|(id, next)| {
                        tags.push(id);
                        next
                    }),
                    0x8847 | 0x8848 => walk::mpls(payload, counters),
                    0x8864 => walk::pppoe(payload, counters),
                    0x6558 => Some(Layer::Ether(payload)),
                    _ => {
                        counters.non_ip += 1;
                        return None;
                    }
                },
                Layer::Ppp(frame) => walk::ppp(frame),
                Layer::Ip(bytes) => match ip(bytes, tags.ids, &mut defrag, now, counters)? {
                    Unwrapped::Inner(next) => Some(next),
                    Unwrapped::Packet(packet) => return Some(packet),
                },
            };
            match next {
                Some(next) => layer = next,
                None => {
                    counters.decap_malformed += 1;
                    return None;
                }
            }
        }
        counters.decap_too_deep += 1;
        None
    }
}

/// Addresses, fragment fields and payload of an IP packet.
#[derive(Debug, PartialEq)]
struct IpHeader<'a> {
    src: Addr,
    dst: Addr,
    protocol: u8,
    /// The payload as captured.
    payload: &'a [u8],
    /// The payload length the header claims.
    wire_len: usize,
    /// `(identification, byte offset, more fragments)` when this is a fragment.
    fragment: Option<(u32, u32, bool)>,
}

fn ip_header(bytes: &[u8]) -> Option<IpHeader<'_>> {
    plain_ipv4(bytes).or_else(|| lax_ip_header(bytes))
}

/// The most common IP header, read directly: IPv4 without options, not a fragment, not
/// carrying AH, its total length within the captured bytes. Anything else (`None`) goes to
/// etherparse. This runs for nearly every packet and costs a third of etherparse's slicing;
/// a test holds it to etherparse's reading of real and altered headers.
fn plain_ipv4(bytes: &[u8]) -> Option<IpHeader<'_>> {
    let header: &[u8; 20] = bytes.first_chunk()?;
    let total_len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let fragment = header[6] & 0x3F != 0 || header[7] != 0;
    let plain = header[0] == 0x45 && !fragment && header[9] != 51;
    if !plain || total_len < 20 || total_len > bytes.len() {
        return None;
    }
    let [src, dst] = [12, 16].map(|at| {
        let octets: [u8; 4] = header[at..at + 4].try_into().expect("4 bytes");
        Addr::v4(octets)
    });
    Some(IpHeader {
        src,
        dst,
        protocol: header[9],
        payload: &bytes[20..total_len],
        wire_len: total_len - 20,
        fragment: None,
    })
}

/// Any IP header, sliced by etherparse in its lax mode.
fn lax_ip_header(bytes: &[u8]) -> Option<IpHeader<'_>> {
    let (sliced, _) = LaxIpSlice::from_slice(bytes).ok()?;
    Some(match sliced {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            let auth = v4.extensions().auth.map_or(0, |a| a.slice().len());
            let payload = v4.payload();
            let fragment = payload.fragmented.then(|| {
                (
                    u32::from(h.identification()),
                    u32::from(h.fragments_offset().byte_offset()),
                    h.more_fragments(),
                )
            });
            IpHeader {
                src: Addr::v4(h.source()),
                dst: Addr::v4(h.destination()),
                protocol: payload.ip_number.0,
                payload: payload.payload,
                wire_len: usize::from(h.total_len())
                    .saturating_sub(usize::from(h.ihl()) * 4 + auth),
                fragment,
            }
        }
        LaxIpSlice::Ipv6(v6) => {
            let h = v6.header();
            let exts = v6.extensions();
            let payload = v6.payload();
            let fragment = payload.fragmented.then(|| {
                exts.clone().into_iter().find_map(|ext| match ext {
                    Ipv6ExtensionSlice::Fragment(f) => Some((
                        f.identification(),
                        u32::from(f.fragment_offset().byte_offset()),
                        f.more_fragments(),
                    )),
                    _ => None,
                })
            });
            IpHeader {
                src: Addr(h.source()),
                dst: Addr(h.destination()),
                protocol: payload.ip_number.0,
                payload: payload.payload,
                wire_len: usize::from(h.payload_length()).saturating_sub(exts.slice().len()),
                fragment: fragment.flatten(),
            }
        }
    })
}

/// An IP layer: the packet inside it, or the tunnel it carries.
fn ip<'a>(
    bytes: &'a [u8],
    vlan: [u16; 2],
    defrag: &mut Option<&'a mut Defrag>,
    now: Timestamp,
    counters: &mut Counters,
) -> Option<Unwrapped<'a>> {
    let Some(header) = ip_header(bytes) else {
        counters.ip_malformed += 1;
        return None;
    };
    let captured = header.payload.len();
    let (l4, wire_len) = match header.fragment {
        None => {
            // A length field of zero (TSO, jumbograms) means "as long as the slice".
            if header.wire_len > captured {
                counters.ip_truncated += 1;
            }
            (header.payload, header.wire_len.max(captured))
        }
        Some((id, offset, more)) => {
            let Some(defrag) = defrag.take() else {
                counters.ip_fragments_dropped += 1;
                return None;
            };
            let key = FragKey {
                src: header.src,
                dst: header.dst,
                id,
                protocol: header.protocol,
                vlan,
            };
            let fragment = Fragment {
                offset,
                more,
                data: header.payload,
                cut: header.wire_len > captured,
            };
            let whole = Defrag::add(defrag, key, fragment, now, counters)?;
            (whole, whole.len())
        }
    };
    match header.protocol {
        4 | 41 => {
            counters.decap_ip_in_ip += 1;
            Some(Unwrapped::Inner(Layer::Ip(l4)))
        }
        47 => walk::gre(l4, counters).map(Unwrapped::Inner).or_else(|| {
            counters.decap_malformed += 1;
            None
        }),
        6 => tcp(&header, l4, wire_len, vlan, counters),
        17 => udp(&header, l4, wire_len, vlan, counters),
        _ => {
            counters.other_ip_protocol += 1;
            None
        }
    }
}

fn tcp<'a>(
    header: &IpHeader<'_>,
    l4: &'a [u8],
    wire_len: usize,
    vlan: [u16; 2],
    counters: &mut Counters,
) -> Option<Unwrapped<'a>> {
    let Some(fields) = tcp_fields(l4) else {
        counters.l4_malformed += 1;
        return None;
    };
    Some(Unwrapped::Packet(Packet {
        vlan,
        src: header.src,
        dst: header.dst,
        transport: Transport::Tcp,
        src_port: fields.src_port,
        dst_port: fields.dst_port,
        tcp: fields.meta,
        payload: fields.payload,
        payload_len: wire_payload(wire_len, fields.header_len, fields.payload.len()),
    }))
}

/// The TCP header fields lantern uses, and the payload.
#[derive(Debug, PartialEq)]
struct TcpFields<'a> {
    src_port: u16,
    dst_port: u16,
    meta: TcpMeta,
    header_len: usize,
    payload: &'a [u8],
}

/// Reads a TCP header directly when its data offset is valid and the whole header was
/// captured (as etherparse requires), else asks etherparse (which then refuses it too). A test
/// holds the two to the same reading.
fn tcp_fields(l4: &[u8]) -> Option<TcpFields<'_>> {
    plain_tcp(l4).or_else(|| etherparse_tcp(l4))
}

fn plain_tcp(l4: &[u8]) -> Option<TcpFields<'_>> {
    let h: &[u8; 20] = l4.first_chunk()?;
    let header_len = usize::from(h[12] >> 4) * 4;
    if header_len < 20 || header_len > l4.len() {
        return None;
    }
    let word = |at: usize| u32::from_be_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
    let flags = h[13];
    Some(TcpFields {
        src_port: u16::from_be_bytes([h[0], h[1]]),
        dst_port: u16::from_be_bytes([h[2], h[3]]),
        meta: TcpMeta {
            seq: word(4),
            ack_number: word(8),
            syn: flags & 0x02 != 0,
            ack: flags & 0x10 != 0,
            fin: flags & 0x01 != 0,
            rst: flags & 0x04 != 0,
        },
        header_len,
        payload: &l4[header_len..],
    })
}

fn etherparse_tcp(l4: &[u8]) -> Option<TcpFields<'_>> {
    let tcp = TcpSlice::from_slice(l4).ok()?;
    Some(TcpFields {
        src_port: tcp.source_port(),
        dst_port: tcp.destination_port(),
        meta: TcpMeta {
            seq: tcp.sequence_number(),
            ack_number: tcp.acknowledgment_number(),
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
        },
        header_len: usize::from(tcp.data_offset()) * 4,
        payload: tcp.payload(),
    })
}

fn udp<'a>(
    header: &IpHeader<'_>,
    l4: &'a [u8],
    wire_len: usize,
    vlan: [u16; 2],
    counters: &mut Counters,
) -> Option<Unwrapped<'a>> {
    let Ok(udp) = UdpSlice::from_slice_lax(l4) else {
        counters.l4_malformed += 1;
        return None;
    };
    let (src_port, dst_port) = (udp.source_port(), udp.destination_port());
    let payload = udp.payload();
    let tunnel = if walk::VXLAN_PORTS.contains(&dst_port) {
        walk::vxlan(payload, counters)
    } else if dst_port == walk::GENEVE_PORT {
        walk::geneve(payload, counters)
    } else if dst_port == walk::GTP_U_PORT || src_port == walk::GTP_U_PORT {
        walk::gtp_u(payload, counters)
    } else {
        None
    };
    if let Some(inner) = tunnel {
        return Some(Unwrapped::Inner(inner));
    }
    let claimed = usize::from(udp.length()).max(8);
    Some(Unwrapped::Packet(Packet {
        vlan,
        src: header.src,
        dst: header.dst,
        transport: Transport::Udp,
        src_port,
        dst_port,
        tcp: TcpMeta::default(),
        payload,
        payload_len: wire_payload(claimed.min(wire_len.max(8)), 8, payload.len()),
    }))
}

/// The transport payload length on the wire: the IP payload length less the transport header,
/// never less than what was captured.
fn wire_payload(wire_len: usize, header_len: usize, captured: usize) -> u32 {
    let len = wire_len.saturating_sub(header_len).max(captured);
    u32::try_from(len).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn udp_frame(payload: &[u8]) -> Vec<u8> {
        let builder = PacketBuilder::ethernet2([1; 6], [2; 6])
            .single_vlan(42.try_into().unwrap())
            .ipv4([10, 0, 0, 1], [10, 0, 0, 53], 64)
            .udp(40000, 53);
        let mut frame = Vec::new();
        builder.write(&mut frame, payload).unwrap();
        frame
    }

    fn decode_once(
        link: LinkType,
        data: &[u8],
        c: &mut Counters,
    ) -> Option<(Addr, u16, usize, u32, [u16; 2])> {
        let mut d = Decoder::default();
        d.decode(link, data, Timestamp(0), c)
            .map(|p| (p.src, p.dst_port, p.payload.len(), p.payload_len, p.vlan))
    }

    #[test]
    fn vlan_udp_is_decoded_with_wire_length() {
        let frame = udp_frame(&[7; 100]);
        let mut c = Counters::default();
        let p = decode_once(LinkType::ETHERNET, &frame, &mut c).unwrap();
        assert_eq!(p, (Addr::v4([10, 0, 0, 1]), 53, 100, 100, [42, 0]));
    }

    #[test]
    fn snaplen_cut_packet_keeps_its_wire_length() {
        let frame = udp_frame(&[7; 100]);
        let mut c = Counters::default();
        let p = decode_once(LinkType::ETHERNET, &frame[..60], &mut c).unwrap();
        assert_eq!((p.2, p.3), (60 - 14 - 4 - 20 - 8, 100));
        assert_eq!(c.ip_truncated, 1);
    }

    #[test]
    fn arp_and_garbage_are_counted_not_errors() {
        let mut c = Counters::default();
        let mut arp = vec![0xff; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0; 28]);
        assert!(decode_once(LinkType::ETHERNET, &arp, &mut c).is_none());
        assert!(decode_once(LinkType::ETHERNET, &[1, 2, 3], &mut c).is_none());
        assert!(decode_once(LinkType(147), &[0; 64], &mut c).is_none());
        assert_eq!((c.non_ip, c.decap_malformed, c.link_unsupported), (1, 1, 1));
    }

    #[test]
    fn the_plain_ipv4_path_reads_headers_as_etherparse_does() {
        // Every IPv4 header behind Ethernet in the own captures, as captured and altered in
        // each field the fast path looks at.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
        let (mut plain, mut refused) = (0, 0);
        let mut check = |ip: &[u8]| match plain_ipv4(ip) {
            Some(fast) => {
                let lax = lax_ip_header(ip).expect("etherparse reads it too");
                assert_eq!(fast, lax, "{ip:02x?}");
                assert!(std::ptr::eq(fast.payload, lax.payload));
                plain += 1;
            }
            None => refused += 1,
        };
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let Ok(mut reader) = crate::capture::CaptureReader::open(&path) else {
                continue;
            };
            while let Ok(Some(raw)) = reader.next_packet() {
                if raw.link != LinkType::ETHERNET || raw.data.get(12..14) != Some(&[8, 0]) {
                    continue;
                }
                let ip = &raw.data[14..];
                check(ip);
                let mut altered = ip.to_vec();
                let len = altered.len();
                for (at, values) in [
                    (0, vec![0x44, 0x46, 0x55, 0x4f]),
                    (6, vec![0x20, 0x40, 0x01, 0x60]),
                    (7, vec![1, 0xff]),
                    (9, vec![51, 4, 47, 255]),
                ] {
                    for v in values {
                        let keep = altered.get(at).copied();
                        if let Some(byte) = altered.get_mut(at) {
                            *byte = v;
                        }
                        check(&altered);
                        if let Some(k) = keep {
                            altered[at] = k;
                        }
                    }
                }
                for total in [0, 19, 20, len.saturating_sub(1), len, len + 1, 65535] {
                    if len >= 4 {
                        altered[2..4].copy_from_slice(&(total as u16).to_be_bytes());
                        check(&altered);
                    }
                }
                for cut in [0, 1, 19, 20, 21] {
                    check(&ip[..cut.min(len)]);
                }
            }
        }
        assert!(
            plain > 1000 && refused > 1000,
            "{plain} read, {refused} refused"
        );
    }

    #[test]
    fn the_plain_tcp_path_reads_headers_as_etherparse_does() {
        // Every TCP header in the own captures (behind Ethernet and a plain IPv4 header), as
        // captured, with every flag byte, every data offset, and cut short.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
        let mut checked = 0;
        let check = |l4: &[u8]| {
            let (fast, slow) = (plain_tcp(l4), etherparse_tcp(l4));
            if let Some(fast) = &fast {
                let slow = slow.as_ref().expect("etherparse reads it too");
                assert_eq!(fast, slow, "{l4:02x?}");
                assert!(std::ptr::eq(fast.payload, slow.payload));
            } else {
                assert!(slow.is_none(), "{l4:02x?}");
            }
        };
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let Ok(mut reader) = crate::capture::CaptureReader::open(&path) else {
                continue;
            };
            while let Ok(Some(raw)) = reader.next_packet() {
                let ip = raw
                    .data
                    .get(14..)
                    .filter(|_| raw.link == LinkType::ETHERNET);
                let Some(header) = ip.and_then(plain_ipv4).filter(|h| h.protocol == 6) else {
                    continue;
                };
                let l4 = header.payload;
                check(l4);
                let mut altered = l4.to_vec();
                for at in [12, 13] {
                    for v in 0..=255u8 {
                        if let Some(byte) = altered.get_mut(at) {
                            *byte = v;
                        }
                        check(&altered);
                    }
                    altered = l4.to_vec();
                }
                for cut in [0, 1, 19, 20, 21, 39, 40] {
                    check(&l4[..cut.min(l4.len())]);
                }
                checked += 1;
            }
        }
        assert!(checked > 500, "{checked} TCP headers");
    }

    #[test]
    fn vxlan_carries_the_inner_flow_and_its_vlan() {
        let inner = udp_frame(&[9; 20]);
        let mut vxlan = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
        vxlan.extend_from_slice(&inner);
        let outer = PacketBuilder::ethernet2([3; 6], [4; 6])
            .ipv4([192, 168, 0, 1], [192, 168, 0, 2], 64)
            .udp(50000, 4789);
        let mut frame = Vec::new();
        outer.write(&mut frame, &vxlan).unwrap();
        let mut c = Counters::default();
        let p = decode_once(LinkType::ETHERNET, &frame, &mut c).unwrap();
        assert_eq!(p, (Addr::v4([10, 0, 0, 1]), 53, 20, 20, [42, 0]));
        assert_eq!(c.decap_vxlan, 1);
    }
}
