//! Encapsulations: one step from a layer to the layer it carries.
//!
//! Each function reads one header with bounds checks and says what follows it. The decoder
//! loops over these steps (a bounded number of times) until it reaches TCP or UDP that is not
//! a tunnel. Mirrors deliver packets in VXLAN (AWS traffic mirroring), GENEVE (GCP packet
//! mirroring) or GRE/ERSPAN (switch and vTAP mirrors); access networks add PPPoE, MPLS, GTP-U
//! and IP-in-IP.

use super::Counters;

/// A layer still to be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Layer<'a> {
    /// An Ethernet II frame.
    Ether(&'a [u8]),
    /// A payload of the given EtherType (also used for GRE and GENEVE protocol types).
    EtherType(u16, &'a [u8]),
    /// An IPv4 or IPv6 packet.
    Ip(&'a [u8]),
    /// A PPP frame, starting at its protocol field.
    Ppp(&'a [u8]),
}

/// UDP ports of the UDP tunnels.
pub(super) const VXLAN_PORTS: [u16; 2] = [4789, 8472];
pub(super) const GENEVE_PORT: u16 = 6081;
pub(super) const GTP_U_PORT: u16 = 2152;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// An Ethernet II frame: destination, source, EtherType.
pub(super) fn ether(frame: &[u8]) -> Option<Layer<'_>> {
    Some(Layer::EtherType(be16(frame, 12)?, frame.get(14..)?))
}

/// One 802.1Q / 802.1ad tag: its VLAN id and what follows.
pub(super) fn vlan(tag: &[u8]) -> Option<(u16, Layer<'_>)> {
    let id = be16(tag, 0)? & 0x0fff;
    Some((id, Layer::EtherType(be16(tag, 2)?, tag.get(4..)?)))
}

/// An MPLS label stack, then IP (by its version nibble) or an Ethernet pseudowire (with or
/// without the 4-byte control word).
pub(super) fn mpls<'a>(stack: &'a [u8], counters: &mut Counters) -> Option<Layer<'a>> {
    const MAX_LABELS: usize = 8;
    for i in 0..MAX_LABELS {
        let entry = stack.get(i * 4..i * 4 + 4)?;
        if entry[2] & 0x01 == 1 {
            counters.decap_mpls += 1;
            let rest = &stack[i * 4 + 4..];
            return match rest.first()? >> 4 {
                4 | 6 => Some(Layer::Ip(rest)),
                0 => Some(Layer::Ether(rest.get(4..)?)),
                _ => Some(Layer::Ether(rest)),
            };
        }
    }
    None
}

/// A PPPoE session header (discovery packets carry no IP).
pub(super) fn pppoe<'a>(session: &'a [u8], counters: &mut Counters) -> Option<Layer<'a>> {
    if *session.first()? != 0x11 || *session.get(1)? != 0x00 {
        return None;
    }
    counters.decap_pppoe += 1;
    Some(Layer::Ppp(session.get(6..)?))
}

/// A PPP frame from its protocol field (1 or 2 bytes): IPv4 and IPv6 go on, the rest is not IP.
pub(super) fn ppp(frame: &[u8]) -> Option<Layer<'_>> {
    let first = *frame.first()?;
    let (protocol, rest) = if first & 1 == 1 {
        (u16::from(first), &frame[1..])
    } else {
        (be16(frame, 0)?, frame.get(2..)?)
    };
    Some(match protocol {
        0x0021 | 0x0057 => Layer::Ip(rest),
        _ => Layer::EtherType(0, rest),
    })
}

/// GRE (RFC 2784/2890, with checksum, key and sequence number), including ERSPAN types I, II
/// and III and PPTP's enhanced GRE carrying PPP.
pub(super) fn gre<'a>(packet: &'a [u8], counters: &mut Counters) -> Option<Layer<'a>> {
    const CHECKSUM: u16 = 0x8000;
    const ROUTING: u16 = 0x4000;
    const KEY: u16 = 0x2000;
    const SEQUENCE: u16 = 0x1000;
    const ACK: u16 = 0x0080;
    let flags = be16(packet, 0)?;
    let protocol = be16(packet, 2)?;
    let present = |bit: u16| if flags & bit != 0 { 4 } else { 0 };
    match flags & 0x7 {
        0 if flags & ROUTING == 0 => {}
        1 => {
            // Enhanced GRE (PPTP): the key is always there; PPP follows.
            let len = 8 + present(SEQUENCE) + present(ACK);
            counters.decap_gre += 1;
            return (protocol == 0x880B).then_some(Layer::Ppp(packet.get(len..)?));
        }
        _ => return None,
    }
    let rest = packet.get(4 + present(CHECKSUM) + present(KEY) + present(SEQUENCE)..)?;
    match protocol {
        // ERSPAN type II has a sequence number and an 8-byte header; type I has neither.
        0x88BE => {
            counters.decap_erspan += 1;
            let header = if flags & SEQUENCE != 0 { 8 } else { 0 };
            Some(Layer::Ether(rest.get(header..)?))
        }
        // ERSPAN type III: a 12-byte header, and an 8-byte platform sub-header when O is set.
        0x22EB => {
            counters.decap_erspan += 1;
            let header = if rest.get(11)? & 0x01 != 0 { 20 } else { 12 };
            Some(Layer::Ether(rest.get(header..)?))
        }
        _ => {
            counters.decap_gre += 1;
            Some(Layer::EtherType(protocol, rest))
        }
    }
}

/// A VXLAN header (RFC 7348) with the I flag set; `None` when it is not VXLAN after all.
pub(super) fn vxlan<'a>(payload: &'a [u8], counters: &mut Counters) -> Option<Layer<'a>> {
    if payload.len() < 8 || payload[0] & 0x08 == 0 {
        return None;
    }
    counters.decap_vxlan += 1;
    Some(Layer::Ether(&payload[8..]))
}

/// A GENEVE header (RFC 8926) with its options; `None` when it is not GENEVE after all.
pub(super) fn geneve<'a>(payload: &'a [u8], counters: &mut Counters) -> Option<Layer<'a>> {
    let first = *payload.first()?;
    if first >> 6 != 0 {
        return None;
    }
    let len = 8 + usize::from(first & 0x3f) * 4;
    let protocol = be16(payload, 2)?;
    let rest = payload.get(len..)?;
    counters.decap_geneve += 1;
    Some(Layer::EtherType(protocol, rest))
}

/// A GTP-U G-PDU (3GPP TS 29.281) and its extension headers; `None` for other GTP messages.
pub(super) fn gtp_u<'a>(payload: &'a [u8], counters: &mut Counters) -> Option<Layer<'a>> {
    const MAX_EXTENSIONS: usize = 8;
    let flags = *payload.first()?;
    if flags >> 5 != 1 || flags & 0x10 == 0 || *payload.get(1)? != 0xFF {
        return None;
    }
    let mut at = 8;
    if flags & 0x07 != 0 {
        let mut next = *payload.get(11)?;
        at = 12;
        for _ in 0..MAX_EXTENSIONS {
            if next == 0 {
                break;
            }
            let len = usize::from(*payload.get(at)?) * 4;
            if len == 0 {
                return None;
            }
            next = *payload.get(at + len - 1)?;
            at += len;
        }
        if next != 0 {
            return None;
        }
    }
    counters.decap_gtp += 1;
    Some(Layer::Ip(payload.get(at..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gre_header_lengths() {
        let mut c = Counters::default();
        let mut p = vec![0x30, 0x00, 0x08, 0x00]; // key and sequence, IPv4
        p.extend_from_slice(&[0; 8]);
        p.push(0x45);
        assert_eq!(gre(&p, &mut c), Some(Layer::EtherType(0x0800, &[0x45][..])));
        // ERSPAN II: sequence bit and an 8-byte header before the frame.
        let mut e = vec![0x10, 0x00, 0x88, 0xBE, 0, 0, 0, 1];
        e.extend_from_slice(&[0x10, 0, 0, 1, 0, 0, 0, 0]);
        e.push(0xAA);
        assert_eq!(gre(&e, &mut c), Some(Layer::Ether(&[0xAA][..])));
        assert_eq!(
            gre(&[0x40, 0, 8, 0, 0, 0, 0, 0], &mut c),
            None,
            "source routing"
        );
        assert_eq!((c.decap_gre, c.decap_erspan), (1, 1));
    }

    #[test]
    fn gtp_with_an_extension_header() {
        let mut c = Counters::default();
        let mut g = vec![0x34, 0xFF, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0x85];
        g.extend_from_slice(&[1, 0x10, 0, 0]); // one 4-byte extension, next type 0
        g.push(0x45);
        assert_eq!(gtp_u(&g, &mut c), Some(Layer::Ip(&[0x45][..])));
        assert_eq!(
            gtp_u(&[0x32, 0x01, 0, 0, 0, 0, 0, 0], &mut c),
            None,
            "echo request"
        );
    }

    #[test]
    fn mpls_stack_then_ip_or_ethernet() {
        let mut c = Counters::default();
        let ip = [0, 0x10, 0x00, 64, 0, 0x20, 0x01, 64, 0x45];
        assert_eq!(mpls(&ip, &mut c), Some(Layer::Ip(&[0x45][..])));
        assert_eq!(
            mpls(&[0, 0, 0, 64].repeat(9), &mut c),
            None,
            "no bottom of stack"
        );
    }
}
