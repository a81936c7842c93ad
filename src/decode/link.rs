//! Link layers: strip the link header of each supported link type and slice what follows.
//!
//! Ethernet (with VLAN/QinQ) goes to `etherparse` whole; the other link types carry an
//! EtherType, an address family or nothing (raw IP) in a small header of their own, read here
//! with bounds checks, and the rest is sliced by `etherparse` from that EtherType or IP header.

use crate::capture::LinkType;
use crate::metrics::Counters;
use etherparse::{EtherType, LaxSlicedPacket};

/// Whether [`slice`] decodes packets of this link type.
pub fn is_supported(link: LinkType) -> bool {
    matches!(
        link,
        LinkType::NULL
            | LinkType::ETHERNET
            | LinkType::PPP
            | LinkType::RAW_BSD
            | LinkType::RAW_OPENBSD
            | LinkType::PPP_HDLC
            | LinkType::C_HDLC
            | LinkType::RAW
            | LinkType::LOOP
            | LinkType::LINUX_SLL
            | LinkType::IPV4
            | LinkType::IPV6
            | LinkType::NFLOG
            | LinkType::LINUX_SLL2
    )
}

/// Slices `data` according to its link type; `None` (and a counter) when that is impossible.
pub(super) fn slice<'a>(
    link: LinkType,
    data: &'a [u8],
    counters: &mut Counters,
) -> Option<LaxSlicedPacket<'a>> {
    let inner = match link {
        LinkType::ETHERNET => {
            return LaxSlicedPacket::from_ethernet(data)
                .map_err(|_| counters.link_malformed += 1)
                .ok();
        }
        LinkType::RAW
        | LinkType::RAW_BSD
        | LinkType::RAW_OPENBSD
        | LinkType::IPV4
        | LinkType::IPV6 => Inner::Ip(data),
        LinkType::NULL | LinkType::LOOP => null_loopback(data),
        LinkType::LINUX_SLL => ethertype_at(data, 14, 16),
        LinkType::LINUX_SLL2 => ethertype_at(data, 0, 20),
        LinkType::C_HDLC => ethertype_at(data, 2, 4),
        LinkType::PPP | LinkType::PPP_HDLC => ppp(data),
        LinkType::NFLOG => nflog(data),
        _ => {
            counters.link_unsupported += 1;
            return None;
        }
    };
    match inner {
        Inner::Ip(ip) => match LaxSlicedPacket::from_ip(ip) {
            Ok(sliced) => Some(sliced),
            Err(_) => {
                counters.ip_malformed += 1;
                None
            }
        },
        Inner::Ether(ether_type, payload) => {
            Some(LaxSlicedPacket::from_ether_type(ether_type, payload))
        }
        Inner::NotIp => {
            counters.non_ip += 1;
            None
        }
        Inner::Short => {
            counters.link_malformed += 1;
            None
        }
    }
}

/// What a link header says follows it.
enum Inner<'a> {
    /// An IP packet (version from its first nibble).
    Ip(&'a [u8]),
    /// A payload of the given EtherType.
    Ether(EtherType, &'a [u8]),
    /// Something that is not IP.
    NotIp,
    /// The packet is shorter than its link header.
    Short,
}

/// BSD NULL and OpenBSD LOOP: a 4-byte address family, in either byte order.
fn null_loopback(data: &[u8]) -> Inner<'_> {
    let Some((family, rest)) = data.split_first_chunk::<4>() else {
        return Inner::Short;
    };
    // NULL uses the capturing host's byte order, so try both; AF_INET is 2 everywhere, AF_INET6
    // is 10 (Linux), 24 (NetBSD, OpenBSD), 28 (FreeBSD) or 30 (macOS).
    let le = u32::from_le_bytes(*family);
    let be = u32::from_be_bytes(*family);
    if [le, be].iter().any(|&f| matches!(f, 2 | 10 | 24 | 28 | 30)) {
        Inner::Ip(rest)
    } else {
        Inner::NotIp
    }
}

/// Link headers that carry a big-endian EtherType at `at` and are `len` bytes long (SLL, SLL2,
/// Cisco HDLC).
fn ethertype_at(data: &[u8], at: usize, len: usize) -> Inner<'_> {
    if data.len() < len {
        return Inner::Short;
    }
    let ether_type = u16::from_be_bytes([data[at], data[at + 1]]);
    Inner::Ether(EtherType(ether_type), &data[len..])
}

/// PPP, with or without the HDLC address/control bytes, with 1- or 2-byte protocol fields.
fn ppp(data: &[u8]) -> Inner<'_> {
    let data = data.strip_prefix(&[0xFF, 0x03]).unwrap_or(data);
    let Some(&first) = data.first() else {
        return Inner::Short;
    };
    let (protocol, rest) = if first & 1 == 1 {
        (u16::from(first), &data[1..])
    } else if data.len() >= 2 {
        (u16::from_be_bytes([data[0], data[1]]), &data[2..])
    } else {
        return Inner::Short;
    };
    match protocol {
        0x0021 | 0x0057 => Inner::Ip(rest),
        _ => Inner::NotIp,
    }
}

/// Linux NFLOG: a 4-byte header, then TLVs; the packet is the NFULA_PAYLOAD TLV.
fn nflog(data: &[u8]) -> Inner<'_> {
    const NFULA_PAYLOAD: u16 = 9;
    if data.len() < 4 {
        return Inner::Short;
    }
    let mut rest = &data[4..];
    while rest.len() >= 4 {
        // TLV lengths and types are in the capturing host's byte order: little-endian in practice.
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        let tlv_type = u16::from_le_bytes([rest[2], rest[3]]) & 0x7fff;
        if len < 4 || len > rest.len() {
            return Inner::Short;
        }
        if tlv_type == NFULA_PAYLOAD {
            return Inner::Ip(&rest[4..len]);
        }
        rest = &rest[len.next_multiple_of(4).min(rest.len())..];
    }
    Inner::NotIp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppp_forms() {
        assert!(matches!(
            ppp(&[0xFF, 0x03, 0x00, 0x21, 0x45]),
            Inner::Ip([0x45])
        ));
        assert!(matches!(ppp(&[0x21, 0x45]), Inner::Ip([0x45])));
        assert!(matches!(ppp(&[0xC0, 0x21, 1]), Inner::NotIp));
        assert!(matches!(ppp(&[]), Inner::Short));
    }

    #[test]
    fn null_families_in_both_orders() {
        assert!(matches!(null_loopback(&[2, 0, 0, 0, 0x45]), Inner::Ip(_)));
        assert!(matches!(null_loopback(&[0, 0, 0, 30, 0x60]), Inner::Ip(_)));
        assert!(matches!(null_loopback(&[7, 0, 0, 0]), Inner::NotIp));
        assert!(matches!(null_loopback(&[2, 0]), Inner::Short));
    }

    #[test]
    fn nflog_finds_the_payload_and_survives_bad_lengths() {
        let mut pkt = vec![2, 0, 0, 0];
        pkt.extend_from_slice(&[8, 0, 1, 0, 0, 0, 0, 0]); // packet header TLV
        pkt.extend_from_slice(&[6, 0, 9, 0, 0x45, 0x00]); // payload TLV
        assert!(matches!(nflog(&pkt), Inner::Ip([0x45, 0x00])));
        assert!(matches!(
            nflog(&[2, 0, 0, 0, 0xff, 0xff, 9, 0]),
            Inner::Short
        ));
        assert!(matches!(nflog(&[2, 0, 0, 0, 0, 0, 9, 0]), Inner::Short));
    }
}
