//! Decode: from link-layer bytes to a [`Packet`] view of the IP and TCP/UDP headers.
//!
//! This stage owns the link types (see [`link`]), VLAN and QinQ tags, IPv4 and IPv6 (with
//! extension headers) and TCP/UDP, sliced with `etherparse` in its lax mode so that packets cut
//! short by the snaplen still count. It hands on a [`Packet`] that borrows the captured bytes;
//! nothing is copied or allocated. Traffic that is not TCP or UDP over IP is counted in
//! [`Counters`] and dropped here, never treated as an error.

mod link;

pub use link::is_supported;

use crate::capture::LinkType;
use crate::metrics::Counters;
use etherparse::{LaxNetSlice, LaxSlicedPacket, TransportSlice};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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
    /// Outer and inner VLAN ids (0 where absent).
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

/// Decodes one captured packet of link type `link`; `None` (and a counter) for anything that is
/// not TCP or UDP over IP.
pub fn decode<'a>(link: LinkType, data: &'a [u8], counters: &mut Counters) -> Option<Packet<'a>> {
    let sliced = link::slice(link, data, counters)?;
    from_sliced(&sliced, counters)
}

fn from_sliced<'a>(sliced: &LaxSlicedPacket<'a>, counters: &mut Counters) -> Option<Packet<'a>> {
    let Some(net) = &sliced.net else {
        if sliced.stop_err.is_some() {
            counters.ip_malformed += 1;
        } else {
            counters.non_ip += 1;
        }
        return None;
    };
    let (src, dst, ip_payload, wire_payload_len) = match net {
        LaxNetSlice::Ipv4(ip) => {
            let header = ip.header();
            let payload = ip.payload();
            let wire = usize::from(header.total_len())
                .saturating_sub(usize::from(header.ihl()) * 4)
                .saturating_sub(ip.extensions().auth.map_or(0, |a| a.slice().len()));
            (
                Addr::v4(header.source()),
                Addr::v4(header.destination()),
                payload,
                wire,
            )
        }
        LaxNetSlice::Ipv6(ip) => {
            let header = ip.header();
            let wire =
                usize::from(header.payload_length()).saturating_sub(ip.extensions().slice().len());
            (
                Addr(header.source()),
                Addr(header.destination()),
                ip.payload(),
                wire,
            )
        }
        LaxNetSlice::Arp(_) => {
            counters.non_ip += 1;
            return None;
        }
    };
    if ip_payload.fragmented {
        counters.ip_fragments += 1;
        return None;
    }
    // A length field of zero (TSO, or a jumbogram) means "as long as the slice".
    let wire_payload_len = if ip_payload.incomplete {
        counters.ip_truncated += 1;
        wire_payload_len.max(ip_payload.payload.len())
    } else {
        ip_payload.payload.len()
    };
    let (transport, src_port, dst_port, tcp, payload, header_len) = match &sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => {
            let meta = TcpMeta {
                seq: tcp.sequence_number(),
                ack_number: tcp.acknowledgment_number(),
                syn: tcp.syn(),
                ack: tcp.ack(),
                fin: tcp.fin(),
                rst: tcp.rst(),
            };
            let header_len = usize::from(tcp.data_offset()) * 4;
            (
                Transport::Tcp,
                tcp.source_port(),
                tcp.destination_port(),
                meta,
                tcp.payload(),
                header_len,
            )
        }
        Some(TransportSlice::Udp(udp)) => (
            Transport::Udp,
            udp.source_port(),
            udp.destination_port(),
            TcpMeta::default(),
            udp.payload(),
            8,
        ),
        Some(_) => {
            counters.other_ip_protocol += 1;
            return None;
        }
        None => {
            let number = ip_payload.ip_number.0;
            if number == 6 || number == 17 {
                counters.l4_malformed += 1;
            } else {
                counters.other_ip_protocol += 1;
            }
            return None;
        }
    };
    let vlan_ids = sliced.vlan_ids();
    let mut vlan = [0u16; 2];
    for (slot, id) in vlan.iter_mut().zip(vlan_ids.iter()) {
        *slot = id.value();
    }
    let payload_len = wire_payload_len
        .saturating_sub(header_len)
        .max(payload.len());
    Some(Packet {
        vlan,
        src,
        dst,
        transport,
        src_port,
        dst_port,
        tcp,
        payload,
        payload_len: u32::try_from(payload_len).unwrap_or(u32::MAX),
    })
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

    #[test]
    fn vlan_udp_is_decoded_with_wire_length() {
        let frame = udp_frame(&[7; 100]);
        let mut c = Counters::default();
        let p = decode(LinkType::ETHERNET, &frame, &mut c).unwrap();
        assert_eq!(p.vlan, [42, 0]);
        assert_eq!(p.src.to_string(), "10.0.0.1");
        assert_eq!(p.dst.to_string(), "10.0.0.53");
        assert_eq!(
            (p.transport, p.src_port, p.dst_port),
            (Transport::Udp, 40000, 53)
        );
        assert_eq!((p.payload.len(), p.payload_len), (100, 100));
    }

    #[test]
    fn snaplen_cut_packet_keeps_its_wire_length() {
        let frame = udp_frame(&[7; 100]);
        let mut c = Counters::default();
        let p = decode(LinkType::ETHERNET, &frame[..60], &mut c).unwrap();
        assert_eq!(p.payload_len, 100);
        assert_eq!(p.payload.len(), 60 - 14 - 4 - 20 - 8);
        assert_eq!(c.ip_truncated, 1);
    }

    #[test]
    fn arp_and_garbage_are_counted_not_errors() {
        let mut c = Counters::default();
        let mut arp = vec![0xff; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0; 28]);
        assert!(decode(LinkType::ETHERNET, &arp, &mut c).is_none());
        assert!(decode(LinkType::ETHERNET, &[1, 2, 3], &mut c).is_none());
        assert!(decode(LinkType(147), &[0; 64], &mut c).is_none());
        assert_eq!((c.non_ip, c.link_malformed, c.link_unsupported), (1, 1, 1));
    }
}
