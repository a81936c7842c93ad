//! Link layers: where the first header of each supported link type says the packet goes next.

use super::Counters;
use super::walk::Layer;
use crate::capture::LinkType;

/// Whether packets of this link type are decoded.
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

/// The first layer inside the link header; `None` (and a counter) when there is none to decode.
pub(super) fn start<'a>(
    link: LinkType,
    data: &'a [u8],
    counters: &mut Counters,
) -> Option<Layer<'a>> {
    let layer = match link {
        LinkType::ETHERNET => Some(Layer::Ether(data)),
        LinkType::RAW
        | LinkType::RAW_BSD
        | LinkType::RAW_OPENBSD
        | LinkType::IPV4
        | LinkType::IPV6 => Some(Layer::Ip(data)),
        LinkType::NULL | LinkType::LOOP => null_loopback(data),
        LinkType::LINUX_SLL => ethertype_at(data, 14, 16),
        LinkType::LINUX_SLL2 => ethertype_at(data, 0, 20),
        LinkType::C_HDLC => ethertype_at(data, 2, 4),
        LinkType::PPP | LinkType::PPP_HDLC => {
            Some(Layer::Ppp(data.strip_prefix(&[0xFF, 0x03]).unwrap_or(data)))
        }
        LinkType::NFLOG => nflog(data),
        _ => {
            counters.link_unsupported += 1;
            return None;
        }
    };
    if layer.is_none() {
        counters.link_malformed += 1;
    }
    layer
}

/// BSD NULL and OpenBSD LOOP: a 4-byte address family, in either byte order. Anything but IP
/// is handed on as an unknown EtherType, to be counted as non-IP.
fn null_loopback(data: &[u8]) -> Option<Layer<'_>> {
    let (family, rest) = data.split_first_chunk::<4>()?;
    // NULL uses the capturing host's byte order, so try both; AF_INET is 2 everywhere, AF_INET6
    // is 10 (Linux), 24 (NetBSD, OpenBSD), 28 (FreeBSD) or 30 (macOS).
    let le = u32::from_le_bytes(*family);
    let be = u32::from_be_bytes(*family);
    if [le, be].iter().any(|&f| matches!(f, 2 | 10 | 24 | 28 | 30)) {
        Some(Layer::Ip(rest))
    } else {
        Some(Layer::EtherType(0, rest))
    }
}

/// Link headers that carry a big-endian EtherType at `at` and are `len` bytes long (SLL, SLL2,
/// Cisco HDLC).
fn ethertype_at(data: &[u8], at: usize, len: usize) -> Option<Layer<'_>> {
    let ether_type = u16::from_be_bytes([*data.get(at)?, *data.get(at + 1)?]);
    Some(Layer::EtherType(ether_type, data.get(len..)?))
}

/// Linux NFLOG: a 4-byte header, then TLVs; the packet is the NFULA_PAYLOAD TLV.
fn nflog(data: &[u8]) -> Option<Layer<'_>> {
    const NFULA_PAYLOAD: u16 = 9;
    let mut rest = data.get(4..)?;
    while rest.len() >= 4 {
        // TLV lengths and types are in the capturing host's byte order: little-endian in practice.
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        let tlv_type = u16::from_le_bytes([rest[2], rest[3]]) & 0x7fff;
        if len < 4 || len > rest.len() {
            return None;
        }
        if tlv_type == NFULA_PAYLOAD {
            return Some(Layer::Ip(&rest[4..len]));
        }
        rest = &rest[len.next_multiple_of(4).min(rest.len())..];
    }
    Some(Layer::EtherType(0, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start_of(link: LinkType, data: &[u8]) -> Option<Layer<'_>> {
        start(link, data, &mut Counters::default())
    }

    #[test]
    fn null_families_in_both_orders() {
        assert!(matches!(
            start_of(LinkType::NULL, &[2, 0, 0, 0, 0x45]),
            Some(Layer::Ip(_))
        ));
        assert!(matches!(
            start_of(LinkType::NULL, &[0, 0, 0, 30, 0x60]),
            Some(Layer::Ip(_))
        ));
        assert!(matches!(
            start_of(LinkType::NULL, &[7, 0, 0, 0]),
            Some(Layer::EtherType(0, _))
        ));
        assert!(start_of(LinkType::NULL, &[2, 0]).is_none());
    }

    #[test]
    fn nflog_finds_the_payload_and_survives_bad_lengths() {
        let mut pkt = vec![2, 0, 0, 0];
        pkt.extend_from_slice(&[8, 0, 1, 0, 0, 0, 0, 0]); // packet header TLV
        pkt.extend_from_slice(&[6, 0, 9, 0, 0x45, 0x00]); // payload TLV
        assert!(matches!(
            start_of(LinkType::NFLOG, &pkt),
            Some(Layer::Ip([0x45, 0x00]))
        ));
        assert!(start_of(LinkType::NFLOG, &[2, 0, 0, 0, 0xff, 0xff, 9, 0]).is_none());
        assert!(start_of(LinkType::NFLOG, &[2, 0, 0, 0, 0, 0, 9, 0]).is_none());
    }

    #[test]
    fn short_headers_are_counted() {
        let mut c = Counters::default();
        assert!(start(LinkType::LINUX_SLL2, &[0; 10], &mut c).is_none());
        assert!(start(LinkType(147), &[0; 64], &mut c).is_none());
        assert_eq!((c.link_malformed, c.link_unsupported), (1, 1));
    }
}
