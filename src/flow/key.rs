//! The direction-normalised flow key, and the symmetric hash that spreads flows over workers.

use crate::decode::{Addr, Packet};
use std::hash::{Hash, Hasher};

/// A 5-tuple plus VLAN ids, with the two endpoints in a canonical order so that both directions
/// of a conversation have the same key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowKey {
    /// The endpoint that sorts first (address, then port).
    pub lo: (Addr, u16),
    /// The other endpoint.
    pub hi: (Addr, u16),
    /// IP protocol number.
    pub protocol: u8,
    /// VLAN ids (outer, inner).
    pub vlan: [u16; 2],
}

/// Which endpoint of a [`FlowKey`] sent a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The `lo` endpoint.
    Lo,
    /// The `hi` endpoint.
    Hi,
}

impl FlowKey {
    /// The key of a packet, and which side of it the packet's sender is.
    pub fn of(packet: &Packet<'_>) -> (FlowKey, Side) {
        let src = (packet.src, packet.src_port);
        let dst = (packet.dst, packet.dst_port);
        let (lo, hi, side) = if src <= dst {
            (src, dst, Side::Lo)
        } else {
            (dst, src, Side::Hi)
        };
        let key = FlowKey {
            lo,
            hi,
            protocol: packet.transport.number(),
            vlan: packet.vlan,
        };
        (key, side)
    }
}

/// The worker (of `workers`) that owns a packet's flow: the same for both directions and in
/// every run. The reader, the thread that paces a threaded run, asks this of every packet, so it
/// is a few multiplications (a commutative sum of one folded multiply per endpoint, then one
/// more over protocol and VLANs) rather than the flow table's keyed hash, and the worker is
/// picked by a multiply and shift rather than a division.
pub fn worker_of(packet: &Packet<'_>, workers: usize) -> usize {
    let endpoint = |addr: Addr, port: u16| {
        let a = u128::from_le_bytes(addr.0);
        fold(
            a as u64 ^ SEEDS[0],
            (a >> 64) as u64 ^ u64::from(port) ^ SEEDS[1],
        )
    };
    let both =
        endpoint(packet.src, packet.src_port).wrapping_add(endpoint(packet.dst, packet.dst_port));
    let rest = u64::from(packet.transport.number())
        | u64::from(packet.vlan[0]) << 8
        | u64::from(packet.vlan[1]) << 24;
    let hash = fold(both ^ SEEDS[2], rest ^ SEEDS[3]);
    ((u128::from(hash) * workers as u128) >> 64) as usize
}

/// Fixed seeds of [`worker_of`] (digits of pi).
const SEEDS: [u64; 4] = [
    0x243f_6a88_85a3_08d3,
    0x1319_8a2e_0370_7344,
    0xa409_3822_299f_31d0,
    0x082e_fa98_ec4e_6c89,
];

/// The high and low halves of a 128-bit product, xored.
fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ (product >> 64) as u64
}

/// Three wide writes instead of the derived nine small ones (with slice length prefixes): the
/// key is hashed for every packet.
impl Hash for FlowKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u128(u128::from_le_bytes(self.lo.0.0));
        state.write_u128(u128::from_le_bytes(self.hi.0.0));
        state.write_u64(
            u64::from(self.lo.1)
                | u64::from(self.hi.1) << 16
                | u64::from(self.vlan[0]) << 32
                | u64::from(self.vlan[1]) << 48,
        );
        state.write_u8(self.protocol);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{TcpMeta, Transport};

    fn packet(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> Packet<'static> {
        Packet {
            vlan: [0; 2],
            src: Addr::v4(src),
            dst: Addr::v4(dst),
            transport: Transport::Tcp,
            src_port: sport,
            dst_port: dport,
            tcp: TcpMeta::default(),
            payload: &[],
            payload_len: 0,
        }
    }

    #[test]
    fn both_directions_share_a_key_and_a_worker() {
        let (k1, s1) = FlowKey::of(&packet([10, 0, 0, 2], 50000, [10, 0, 0, 1], 443));
        let (k2, s2) = FlowKey::of(&packet([10, 0, 0, 1], 443, [10, 0, 0, 2], 50000));
        assert_eq!(k1, k2);
        assert_ne!(s1, s2);
        for workers in 1..=8 {
            let a = worker_of(&packet([10, 0, 0, 2], 50000, [10, 0, 0, 1], 443), workers);
            let b = worker_of(&packet([10, 0, 0, 1], 443, [10, 0, 0, 2], 50000), workers);
            assert_eq!(a, b);
            assert!(a < workers);
        }
        let (k3, _) = FlowKey::of(&packet([10, 0, 0, 2], 50001, [10, 0, 0, 1], 443));
        assert_ne!(k1, k3);
    }

    #[test]
    fn flows_spread_evenly_over_workers() {
        // 10,000 clients of one server, and one client's 10,000 ports: every worker of 2, 3 and
        // 8 gets its share within 10%.
        let clients = (0..10_000u32).map(|i| {
            let [_, _, c, d] = i.to_be_bytes();
            packet([10, 1, c, d], 50000, [10, 0, 0, 1], 443)
        });
        let ports = (0..10_000u16).map(|p| packet([10, 0, 0, 2], 20000 + p, [10, 0, 0, 1], 443));
        for flows in [clients.collect::<Vec<_>>(), ports.collect()] {
            for workers in [2, 3, 8] {
                let mut counts = vec![0usize; workers];
                for p in &flows {
                    counts[worker_of(p, workers)] += 1;
                }
                let fair = flows.len() / workers;
                assert!(
                    counts.iter().all(|&c| c.abs_diff(fair) * 10 < fair),
                    "{workers} workers: {counts:?}"
                );
            }
        }
    }
}
