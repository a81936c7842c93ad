//! The direction-normalised flow key, and the symmetric hash that spreads flows over workers.

use crate::decode::{Addr, Packet};
use std::hash::{BuildHasher, Hash, Hasher};

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

    /// A hash that is the same for both directions and for every run (fixed seed), used to pick
    /// the worker of a packet. The flow table itself uses a randomly seeded hash.
    pub fn worker_hash(&self) -> u64 {
        foldhash::fast::FixedState::with_seed(0x6c61_6e74_6572_6e21).hash_one(self)
    }
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
        assert_eq!(k1.worker_hash(), k2.worker_hash());
        let (k3, _) = FlowKey::of(&packet([10, 0, 0, 2], 50001, [10, 0, 0, 1], 443));
        assert_ne!(k1, k3);
    }
}
