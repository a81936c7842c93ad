//! The flow table: a hash table of slot numbers into a slab of flows, plus three intrusive
//! least-recently-seen lists (open TCP, closing TCP, UDP) so that idle timeouts and eviction
//! walk only the flows that are due.
//!
//! The lists are ordered to the second: a flow moves to the tail of its list at its first
//! packet in a new second of the run's clock, not at every packet (moving it touched two other
//! flows' slots, two cache misses, for every packet). An idle sweep walks the flows queued
//! before the timeout and ends exactly those whose last packet is that old, so timeouts are as
//! exact as before; eviction takes the least recently seen flow to within a second.
//!
//! A packet of a known flow costs one hash lookup and a few index writes; nothing is allocated.
//! The hash table holds only 4-byte slot numbers (the key is compared in the slot, which the
//! packet needs next anyway, and each slot keeps its hash): for 400,000 flows it is under 2 MB
//! and stays in cache, where a map of whole keys was 20 MB and cost a cache miss per packet.
//! The slab grows up to `max_flows` and then stays; when it is full the least recently seen flow
//! is evicted (closing flows first) and handed to the caller.

use super::Counters;
use super::{Direction, EndReason, Endpoint, Flow, FlowKey, Stamp, TcpState};
use crate::capture::Timestamp;
use crate::decode::{Packet, Transport};
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// Limits and timeouts of a flow table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowConfig {
    /// Most flows held at once; past it the least recently seen flow is evicted.
    pub max_flows: usize,
    /// Seconds without a packet after which a TCP flow ends.
    pub tcp_timeout_secs: u64,
    /// Seconds without a packet after which a UDP flow ends.
    pub udp_timeout_secs: u64,
    /// Seconds a TCP flow stays after its FIN exchange or RST, to count trailing packets.
    pub tcp_close_linger_secs: u64,
    /// Seconds of the run's clock after which an open flow gets an interim record (0: never).
    pub active_timeout_secs: u64,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 1_000_000,
            tcp_timeout_secs: 600,
            udp_timeout_secs: 120,
            tcp_close_linger_secs: 2,
            active_timeout_secs: 300,
        }
    }
}

const NIL: u32 = u32::MAX;

/// The recency lists; each is ordered by the time of the last packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum List {
    TcpOpen = 0,
    TcpClosing = 1,
    Udp = 2,
}

const LISTS: [List; 3] = [List::TcpClosing, List::TcpOpen, List::Udp];

struct Entry<S> {
    flow: Flow<S>,
    /// The run's clock at the flow's last packet.
    seen: Timestamp,
    /// The run's clock when the flow last moved to the tail of its list; each list is ordered
    /// by it, and it is never more than a second older than `seen` (within the same second).
    queued: Timestamp,
    /// The hash of the flow's key in the table.
    hash: u64,
    list: List,
    prev: u32,
    next: u32,
}

#[derive(Clone, Copy)]
struct Ends {
    head: u32,
    tail: u32,
}

/// A bounded table of flows with per-flow state `S`.
pub struct FlowTable<S> {
    config: FlowConfig,
    /// Entry numbers, by the hash of their flow's key.
    map: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    slots: Vec<Option<Entry<S>>>,
    free: Vec<u32>,
    lists: [Ends; 3],
}

impl<S: Default> FlowTable<S> {
    /// An empty table.
    pub fn new(config: FlowConfig) -> FlowTable<S> {
        FlowTable {
            config,
            map: HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            slots: Vec::new(),
            free: Vec::new(),
            lists: [Ends {
                head: NIL,
                tail: NIL,
            }; 3],
        }
    }

    /// Flows held now.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the table holds no flow.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Accounts `packet` to its flow, creating the flow if needed, and returns the flow and the
    /// packet's direction. Flows that end on the way (evicted to make room, or a closed flow
    /// whose tuple is reused by a new SYN) go to `ended`.
    pub fn packet(
        &mut self,
        packet: &Packet<'_>,
        stamp: Stamp,
        counters: &mut Counters,
        ended: &mut impl FnMut(Flow<S>, EndReason),
    ) -> (&mut Flow<S>, Direction) {
        let ts = stamp.ts;
        let (key, _) = FlowKey::of(packet);
        let hash = self.hasher.hash_one(key);
        let slots = &self.slots;
        let existing = self
            .map
            .find(hash, |&i| live(slots, i).flow.key == key)
            .copied();
        let index = match existing {
            Some(index) if self.reopens(index, packet) => {
                let flow = self.remove(index);
                counters.flows_closed += 1;
                ended(flow, EndReason::Closed);
                self.insert(key, hash, packet, stamp, counters, ended)
            }
            Some(index) => {
                let slot = self.slots[index as usize].as_mut().expect("live slot");
                slot.seen = slot.seen.max(stamp.clock);
                if slot.seen.secs() > slot.queued.secs() {
                    self.touch(index);
                }
                index
            }
            None => self.insert(key, hash, packet, stamp, counters, ended),
        };
        let slot = self.slots[index as usize].as_mut().expect("live slot");
        let flow = &mut slot.flow;
        let direction = flow.direction_of(packet.src, packet.src_port);
        let d = direction.index();
        flow.packets[d] += 1;
        flow.bytes[d] += u64::from(packet.payload_len);
        flow.last = flow.last.max(ts);
        flow.first = flow.first.min(ts);
        flow.started = flow.started.min(ts);
        let closing =
            flow.transport == Transport::Tcp && track_tcp(&mut flow.tcp, packet, direction);
        if closing && slot.list == List::TcpOpen {
            self.unlink(index);
            self.link_tail(index, List::TcpClosing);
        }
        let flow = &mut self.slots[index as usize].as_mut().expect("live slot").flow;
        (flow, direction)
    }

    /// Ends every flow whose last packet is older than its timeout at `now`.
    pub fn expire(
        &mut self,
        now: Timestamp,
        counters: &mut Counters,
        ended: &mut impl FnMut(Flow<S>, EndReason),
    ) {
        for list in LISTS {
            let timeout = match list {
                List::TcpOpen => self.config.tcp_timeout_secs,
                List::TcpClosing => self.config.tcp_close_linger_secs,
                List::Udp => self.config.udp_timeout_secs,
            };
            // Flows queued after `now - timeout` have not been idle that long: stop there.
            let mut at = self.lists[list as usize].head;
            while at != NIL {
                let slot = self.slots[at as usize].as_ref().expect("live slot");
                if slot.queued.plus_secs(timeout) > now {
                    break;
                }
                let (next, idle) = (slot.next, slot.seen.plus_secs(timeout) <= now);
                if idle {
                    let flow = self.remove(at);
                    if list == List::TcpClosing {
                        counters.flows_closed += 1;
                        ended(flow, EndReason::Closed);
                    } else {
                        counters.flows_timed_out += 1;
                        ended(flow, EndReason::IdleTimeout);
                    }
                }
                at = next;
            }
        }
    }

    /// Ends every flow (the input is over), least recently seen first.
    pub fn drain(&mut self, counters: &mut Counters, ended: &mut impl FnMut(Flow<S>, EndReason)) {
        for list in LISTS {
            while self.lists[list as usize].head != NIL {
                let flow = self.remove(self.lists[list as usize].head);
                if list == List::TcpClosing {
                    counters.flows_closed += 1;
                    ended(flow, EndReason::Closed);
                } else {
                    counters.flows_at_end += 1;
                    ended(flow, EndReason::EndOfInput);
                }
            }
        }
    }

    /// A SYN on a flow that already closed starts a new connection on the same tuple.
    fn reopens(&self, index: u32, packet: &Packet<'_>) -> bool {
        let slot = self.slots[index as usize].as_ref().expect("live slot");
        slot.list == List::TcpClosing && packet.tcp.syn && !packet.tcp.ack
    }

    fn insert(
        &mut self,
        key: FlowKey,
        hash: u64,
        packet: &Packet<'_>,
        stamp: Stamp,
        counters: &mut Counters,
        ended: &mut impl FnMut(Flow<S>, EndReason),
    ) -> u32 {
        if self.map.len() >= self.config.max_flows.max(1) {
            let victim = self.eviction_victim();
            let flow = self.remove(victim);
            counters.flows_evicted += 1;
            ended(flow, EndReason::Evicted);
        }
        counters.flows_created += 1;
        let sender = Endpoint {
            addr: packet.src,
            port: packet.src_port,
        };
        let receiver = Endpoint {
            addr: packet.dst,
            port: packet.dst_port,
        };
        let (client, server) = if sender_is_client(packet) {
            (sender, receiver)
        } else {
            (receiver, sender)
        };
        let flow = Flow {
            id: stamp.number,
            key,
            client,
            server,
            transport: packet.transport,
            vlan: packet.vlan,
            first: stamp.ts,
            last: stamp.ts,
            packets: [0; 2],
            bytes: [0; 2],
            tcp: TcpState::default(),
            started: stamp.ts,
            part: 0,
            state: S::default(),
        };
        let list = match packet.transport {
            Transport::Tcp => List::TcpOpen,
            Transport::Udp => List::Udp,
        };
        let slot = Entry {
            flow,
            seen: stamp.clock,
            queued: stamp.clock,
            hash,
            list,
            prev: NIL,
            next: NIL,
        };
        let index = match self.free.pop() {
            Some(index) => {
                self.slots[index as usize] = Some(slot);
                index
            }
            None => {
                self.slots.push(Some(slot));
                (self.slots.len() - 1) as u32
            }
        };
        let slots = &self.slots;
        self.map
            .insert_unique(hash, index, |&i| live(slots, i).hash);
        self.link_tail(index, list);
        index
    }

    /// The flow to evict: the head of the closing list, else the older of the other heads.
    fn eviction_victim(&self) -> u32 {
        let closing = self.lists[List::TcpClosing as usize].head;
        if closing != NIL {
            return closing;
        }
        let seen = |index: u32| {
            (index != NIL).then(|| self.slots[index as usize].as_ref().expect("live slot").seen)
        };
        let tcp = self.lists[List::TcpOpen as usize].head;
        let udp = self.lists[List::Udp as usize].head;
        match (seen(tcp), seen(udp)) {
            (Some(t), Some(u)) if u < t => udp,
            (Some(_), _) => tcp,
            _ => udp,
        }
    }

    fn remove(&mut self, index: u32) -> Flow<S> {
        self.unlink(index);
        let slot = self.slots[index as usize].take().expect("live slot");
        if let Ok(entry) = self.map.find_entry(slot.hash, |&i| i == index) {
            entry.remove();
        }
        self.free.push(index);
        slot.flow
    }

    /// Moves a flow to the tail of its list (the tail itself only takes the new time).
    fn touch(&mut self, index: u32) {
        let slot = self.slots[index as usize].as_mut().expect("live slot");
        let list = slot.list;
        if self.lists[list as usize].tail == index {
            slot.queued = slot.seen;
        } else {
            self.unlink(index);
            self.link_tail(index, list);
        }
    }

    fn unlink(&mut self, index: u32) {
        let slot = self.slots[index as usize].as_ref().expect("live slot");
        let (prev, next, list) = (slot.prev, slot.next, slot.list);
        match prev {
            NIL => self.lists[list as usize].head = next,
            p => self.slots[p as usize].as_mut().expect("live slot").next = next,
        }
        match next {
            NIL => self.lists[list as usize].tail = prev,
            n => self.slots[n as usize].as_mut().expect("live slot").prev = prev,
        }
    }

    fn link_tail(&mut self, index: u32, list: List) {
        let tail = self.lists[list as usize].tail;
        {
            let slot = self.slots[index as usize].as_mut().expect("live slot");
            slot.list = list;
            slot.queued = slot.seen;
            slot.prev = tail;
            slot.next = NIL;
        }
        match tail {
            NIL => self.lists[list as usize].head = index,
            t => self.slots[t as usize].as_mut().expect("live slot").next = index,
        }
        self.lists[list as usize].tail = index;
    }
}

/// The live slot `index`.
fn live<S>(slots: &[Option<Entry<S>>], index: u32) -> &Entry<S> {
    slots[index as usize].as_ref().expect("live slot")
}

/// Records SYN, FIN and RST; returns whether the connection is now closed.
fn track_tcp(tcp: &mut TcpState, packet: &Packet<'_>, direction: Direction) -> bool {
    let flags = packet.tcp;
    match (flags.syn, flags.ack, direction) {
        (true, false, Direction::Up) if tcp.client_isn.is_none() => {
            tcp.client_isn = Some(flags.seq);
        }
        (true, true, Direction::Down) if tcp.server_isn.is_none() => {
            tcp.server_isn = Some(flags.seq);
            tcp.client_isn
                .get_or_insert(flags.ack_number.wrapping_sub(1));
        }
        _ => {}
    }
    if flags.fin {
        tcp.fin[direction.index()] = true;
    }
    if flags.rst {
        tcp.rst = true;
    }
    tcp.is_closed()
}

/// Ports on which servers listen: the side on such a port is the server when the other side's
/// port is not one. Below 1024 everything counts; above, the usual application and
/// model-server ports.
const SERVICE_PORTS: &[u16] = &[
    1080, 1194, 1234, 1433, 1521, 1883, 3128, 3306, 3389, 4433, 5000, 5060, 5222, 5228, 5432, 5672,
    5900, 6379, 6443, 7860, 8000, 8008, 8080, 8081, 8188, 8443, 8888, 9000, 9090, 9200, 9443,
    11434,
];

fn is_service_port(port: u16) -> bool {
    port < 1024 || SERVICE_PORTS.contains(&port)
}

/// Whether the sender of the first packet of a flow is its client: the sender of a SYN, the
/// receiver of a SYN+ACK; for DHCP the side on the client port (68, DHCPv6 546), since both
/// ports are privileged and a server's OFFER or ACK often opens the flow; else the side on an
/// ephemeral port facing a service port (after a sensor start or a timeout the first packet
/// seen is often the server's); else the sender.
fn sender_is_client(packet: &Packet<'_>) -> bool {
    if packet.transport == Transport::Tcp && packet.tcp.syn {
        return !packet.tcp.ack;
    }
    if packet.transport == Transport::Udp {
        match (packet.src_port, packet.dst_port) {
            (68, 67) | (546, 547) => return true,
            (67, 68) | (547, 546) => return false,
            _ => {}
        }
    }
    match (
        is_service_port(packet.src_port),
        is_service_port(packet.dst_port),
    ) {
        (false, true) => true,
        (true, false) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Addr, TcpMeta};

    fn tcp(src: u8, sport: u16, dst: u8, dport: u16, flags: &str, len: u32) -> Packet<'static> {
        Packet {
            vlan: [0; 2],
            src: Addr::v4([10, 0, 0, src]),
            dst: Addr::v4([10, 0, 0, dst]),
            transport: Transport::Tcp,
            src_port: sport,
            dst_port: dport,
            tcp: TcpMeta {
                seq: 1000,
                ack_number: 1,
                syn: flags.contains('S'),
                ack: flags.contains('A'),
                fin: flags.contains('F'),
                rst: flags.contains('R'),
            },
            payload: &[],
            payload_len: len,
        }
    }

    fn udp(src: u8, sport: u16, dst: u8, dport: u16) -> Packet<'static> {
        Packet {
            transport: Transport::Udp,
            ..tcp(src, sport, dst, dport, "", 10)
        }
    }

    type Ended = Vec<(u64, EndReason, [u64; 2])>;

    fn stamp(number: u64, ts: Timestamp) -> Stamp {
        Stamp {
            number,
            ts,
            clock: ts,
        }
    }

    fn run(
        table: &mut FlowTable<()>,
        packets: &[(Packet<'static>, i64)],
        counters: &mut Counters,
    ) -> Ended {
        let mut ended = Vec::new();
        let mut sink = |f: Flow<()>, r| ended.push((f.id, r, f.packets));
        for (n, (p, t)) in packets.iter().enumerate() {
            table.packet(
                p,
                stamp(n as u64 + 1, Timestamp::from_secs(*t)),
                counters,
                &mut sink,
            );
        }
        ended
    }

    #[test]
    fn handshake_counts_and_close_after_linger() {
        let mut table = FlowTable::new(FlowConfig::default());
        let mut c = Counters::default();
        let ended = run(
            &mut table,
            &[
                (tcp(2, 50000, 1, 443, "S", 0), 0),
                (tcp(1, 443, 2, 50000, "SA", 0), 0),
                (tcp(2, 50000, 1, 443, "A", 300), 0),
                (tcp(1, 443, 2, 50000, "A", 1200), 1),
                (tcp(2, 50000, 1, 443, "FA", 0), 1),
                (tcp(1, 443, 2, 50000, "FA", 0), 1),
                (tcp(2, 50000, 1, 443, "A", 0), 1),
            ],
            &mut c,
        );
        assert!(ended.is_empty());
        assert_eq!(table.len(), 1);
        let mut out = Vec::new();
        table.expire(Timestamp::from_secs(2), &mut c, &mut |f, r| {
            out.push((f.client.port, f.bytes, f.packets, r))
        });
        assert!(out.is_empty(), "linger not over yet");
        table.expire(Timestamp::from_secs(3), &mut c, &mut |f, r| {
            out.push((f.client.port, f.bytes, f.packets, r))
        });
        assert_eq!(out, [(50000, [300, 1200], [4, 3], EndReason::Closed)]);
        assert_eq!((c.flows_created, c.flows_closed), (1, 1));
    }

    #[test]
    fn client_is_the_syn_sender_or_the_ephemeral_side() {
        let mut table: FlowTable<()> = FlowTable::new(FlowConfig::default());
        let mut c = Counters::default();
        let mut sink = |_: Flow<()>, _| {};
        // Mid-stream pickup: the server speaks first, but port 443 gives it away.
        let (flow, dir) = table.packet(
            &tcp(1, 443, 2, 50000, "A", 100),
            stamp(1, Timestamp::from_secs(0)),
            &mut c,
            &mut sink,
        );
        assert_eq!((flow.client.port, dir), (50000, Direction::Down));
        // A SYN+ACK seen first: its receiver is the client, whatever the ports.
        let (flow, _) = table.packet(
            &tcp(3, 9999, 4, 40000, "SA", 0),
            stamp(2, Timestamp::from_secs(0)),
            &mut c,
            &mut sink,
        );
        assert_eq!(flow.client.addr, Addr::v4([10, 0, 0, 4]));
        // Two ephemeral ports: the first sender.
        let (flow, dir) = table.packet(
            &udp(5, 40001, 6, 40002),
            stamp(3, Timestamp::from_secs(0)),
            &mut c,
            &mut sink,
        );
        assert_eq!((flow.client.port, dir), (40001, Direction::Up));
    }

    #[test]
    fn idle_timeouts_per_transport() {
        let mut table = FlowTable::new(FlowConfig {
            tcp_timeout_secs: 100,
            udp_timeout_secs: 10,
            ..FlowConfig::default()
        });
        let mut c = Counters::default();
        run(
            &mut table,
            &[
                (tcp(2, 50000, 1, 443, "S", 0), 0),
                (udp(2, 40000, 1, 53), 0),
            ],
            &mut c,
        );
        let mut out = Vec::new();
        table.expire(Timestamp::from_secs(10), &mut c, &mut |f, r| {
            out.push((f.id, r))
        });
        assert_eq!(out, [(2, EndReason::IdleTimeout)]);
        table.expire(Timestamp::from_secs(99), &mut c, &mut |f, r| {
            out.push((f.id, r))
        });
        assert_eq!(out.len(), 1);
        table.expire(Timestamp::from_secs(100), &mut c, &mut |f, r| {
            out.push((f.id, r))
        });
        assert_eq!(
            out,
            [(2, EndReason::IdleTimeout), (1, EndReason::IdleTimeout)]
        );
        assert_eq!(c.flows_timed_out, 2);
        assert!(table.is_empty());
    }

    #[test]
    fn a_full_table_evicts_the_least_recently_seen() {
        let mut table = FlowTable::new(FlowConfig {
            max_flows: 2,
            ..FlowConfig::default()
        });
        let mut c = Counters::default();
        let ended = run(
            &mut table,
            &[
                (udp(2, 40000, 1, 53), 0),
                (udp(2, 40001, 1, 53), 1),
                (udp(2, 40000, 1, 53), 2),
                (udp(2, 40002, 1, 53), 3),
            ],
            &mut c,
        );
        assert_eq!(ended, [(2, EndReason::Evicted, [1, 0])]);
        assert_eq!((c.flows_evicted, table.len()), (1, 2));
        let mut rest = Vec::new();
        table.drain(&mut c, &mut |f, r| rest.push((f.id, r)));
        assert_eq!(
            rest,
            [(1, EndReason::EndOfInput), (4, EndReason::EndOfInput)]
        );
    }

    #[test]
    fn a_syn_on_a_closed_tuple_starts_a_new_flow() {
        let mut table = FlowTable::new(FlowConfig::default());
        let mut c = Counters::default();
        let ended = run(
            &mut table,
            &[
                (tcp(2, 50000, 1, 80, "S", 0), 0),
                (tcp(1, 80, 2, 50000, "RA", 0), 0),
                (tcp(2, 50000, 1, 80, "S", 0), 1),
            ],
            &mut c,
        );
        assert_eq!(ended, [(1, EndReason::Closed, [1, 1])]);
        assert_eq!(table.len(), 1);
    }
}

#[cfg(test)]
mod clock_tests {
    use super::*;
    use crate::decode::{Addr, TcpMeta};

    fn udp(port: u16) -> Packet<'static> {
        Packet {
            vlan: [0; 2],
            src: Addr::v4([10, 0, 0, 2]),
            dst: Addr::v4([10, 0, 0, 1]),
            transport: Transport::Udp,
            src_port: port,
            dst_port: 53,
            tcp: TcpMeta::default(),
            payload: &[],
            payload_len: 0,
        }
    }

    /// Packets that go back in time (a merged older file) are timed out on the run's clock, so
    /// the order of the idle lists, and with it which flows expire at a tick, never depends on
    /// how flows are spread over workers.
    #[test]
    fn flows_from_the_past_expire_on_the_run_clock() {
        let mut table: FlowTable<()> = FlowTable::new(FlowConfig {
            udp_timeout_secs: 10,
            ..FlowConfig::default()
        });
        let mut c = Counters::default();
        let t = Timestamp::from_secs;
        let mut sink = |_: Flow<()>, _| {};
        table.packet(
            &udp(1000),
            Stamp {
                number: 1,
                ts: t(100),
                clock: t(100),
            },
            &mut c,
            &mut sink,
        );
        table.packet(
            &udp(1001),
            Stamp {
                number: 2,
                ts: t(50),
                clock: t(100),
            },
            &mut c,
            &mut sink,
        );
        let mut out = Vec::new();
        table.expire(t(109), &mut c, &mut |f, _| out.push(f.id));
        assert!(
            out.is_empty(),
            "nothing is idle for 10 s of the run's clock yet"
        );
        table.expire(t(110), &mut c, &mut |f, _| out.push(f.id));
        assert_eq!(out, [1, 2]);
    }

    /// A flow's later packets in the same second leave it where it is in its list; the idle
    /// sweep still ends each flow exactly when its own last packet is `timeout` old.
    #[test]
    fn timeouts_are_exact_though_the_lists_are_ordered_by_the_second() {
        let mut table: FlowTable<()> = FlowTable::new(FlowConfig {
            udp_timeout_secs: 10,
            ..FlowConfig::default()
        });
        let mut c = Counters::default();
        let ms = |ms: i64| Timestamp::from_parts(ms / 1000, (ms % 1000) * 1_000_000);
        let mut sink = |_: Flow<()>, _| {};
        // Flow 1 at 100.0 s, flow 2 at 100.5 s, flow 1 again at 100.9 s: the same second, so
        // flow 1 stays ahead of flow 2 in the list.
        for (number, port, at) in [(1, 1000, 100_000), (2, 1001, 100_500), (3, 1000, 100_900)] {
            let stamp = Stamp {
                number,
                ts: ms(at),
                clock: ms(at),
            };
            table.packet(&udp(port), stamp, &mut c, &mut sink);
        }
        let mut out = Vec::new();
        table.expire(ms(110_499), &mut c, &mut |f, _| out.push(f.id));
        assert!(out.is_empty(), "{out:?}");
        table.expire(ms(110_600), &mut c, &mut |f, _| out.push(f.id));
        assert_eq!(
            out,
            [2],
            "flow 1, ahead of flow 2 in its list, was seen at 100.9 s"
        );
        table.expire(ms(110_899), &mut c, &mut |f, _| out.push(f.id));
        assert_eq!(out, [2]);
        table.expire(ms(110_900), &mut c, &mut |f, _| out.push(f.id));
        assert_eq!(out, [2, 1]);
        assert!(table.is_empty());
    }
}
