//! Named counters: every limit that triggers and every input that is dropped moves one of these.
//!
//! Each worker owns a [`Counters`] (plain integers, no atomics on the per-packet path); the
//! pipeline merges them when a run ends. The names are stable: they are printed at the end of a
//! replay, and the daemon exports them on its metrics port (`lantern_<name>_total`, see
//! `cli/status.rs`) and logs the main ones in its status line.

macro_rules! counters {
    ($($name:ident: $help:literal,)*) => {
        /// Counters of one worker, or the merged counters of a run.
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct Counters {
            $(#[doc = $help] pub $name: u64,)*
        }

        impl Counters {
            /// Adds every counter of `other` to `self`.
            pub fn merge(&mut self, other: &Counters) {
                $(self.$name += other.$name;)*
            }

            /// Every counter as `(name, value, help)`, in declaration order.
            pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64, &'static str)> {
                [$((stringify!($name), self.$name, $help),)*].into_iter()
            }
        }
    };
}

/// Declares [`Counters`]: lantern's own counters, with each stream dissector's two (parsed,
/// malformed) spliced in from its line in `proto::stream_dissectors!`.
macro_rules! declare_counters {
    ($($variant:ident: $dissector:ty, $parsed:ident: $parsed_help:literal,
        $malformed:ident: $malformed_help:literal;)*) => {
counters! {
    packets: "packets read",
    bytes: "bytes on the wire (original packet lengths)",
    capture_kernel_drops: "packets the kernel dropped because lantern's capture buffer was full",
    capture_interface_drops: "packets the interface or its driver dropped (where it reports them)",
    capture_queue_drops: "packets dropped inside lantern because a worker's queue stayed full",
    epoch_ticks_missed: "ticks a worker missed because its queue was full; its records went with its next tick",
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
    flows_created: "flows created",
    flows_closed: "flows ended by a FIN exchange or a RST",
    flows_timed_out: "flows ended by the idle timeout",
    flows_evicted: "flows evicted because the flow table was full",
    flows_at_end: "flows still open when the input ended",
    flows_interim: "interim records of flows open longer than --active-timeout",
    tcp_reassembly_gave_up: "TCP streams given up because a message did not fit in --reassembly-limit",
    tcp_reassembly_holes: "TCP streams given up because they had too many holes",
    reassembly_evicted: "TCP and QUIC CRYPTO streams freed, oldest first, to stay within --reassembly-memory",
    tcp_incomplete_at_end: "TCP streams whose first message was still incomplete when the flow ended",
    $($parsed: $parsed_help, $malformed: $malformed_help,)*
    http_more_requests: "HTTP/1.x requests read after the first of their connection (keep-alive, pipelining)",
    http_log_dropped: "request paths, MCP methods and tools not kept: their flow's list held 8, or the worker's request logs 16 MiB",
    quic_client_hellos: "ClientHellos decrypted from QUIC Initial packets (and Google QUIC CHLOs)",
    quic_gave_up: "QUIC flows whose ClientHello could not be recovered",
    quic_incomplete_at_end: "QUIC flows whose ClientHello was still incomplete when the flow ended",
    dns_messages: "DNS messages parsed",
    dns_malformed: "DNS messages that were malformed",
    dns_truncated: "DNS responses whose answers were cut short; the answers before the cut are kept",
    dns_unanswered: "DNS queries that got no response",
    dns_unmatched_responses: "DNS responses without a query seen in the same flow",
    dns_pending_dropped: "DNS queries not held for their response: a flow's oldest, or one past the worker's limit",
    dns_cache_evictions: "(client, address) pairs evicted from the DNS history because it was full (by count, or by the bytes of its names)",
    dns_history_names_evicted: "names dropped from a (client, address) pair that already held 8, and ECH public names dropped because their map was full",
    dhcp_messages: "DHCPv4 and DHCPv6 messages parsed",
    dhcp_malformed: "DHCP datagrams that were not valid DHCP messages",
    dhcp_bad_options: "DHCP options skipped because they were malformed (the rest of the message counts)",
    kerberos_messages: "Kerberos KDC messages parsed",
    kerberos_malformed: "Kerberos messages whose ASN.1 or TCP record marker was malformed (one longer than --reassembly-limit counts as tcp_reassembly_gave_up)",
    kerberos_refused: "Kerberos requests the KDC answered with an error",
    kerberos_unanswered: "Kerberos requests that got no reply in their flow",
    identity_evictions: "identity bindings or devices dropped because an identity table was full",
}
    };
}

crate::proto::stream_dissectors!(declare_counters);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_and_iter_names_every_counter() {
        let mut a = Counters {
            packets: 2,
            dns_messages: 1,
            ..Default::default()
        };
        let b = Counters {
            packets: 3,
            flows_evicted: 4,
            ..Default::default()
        };
        a.merge(&b);
        let nonzero: Vec<_> = a.iter().filter(|c| c.1 > 0).map(|c| (c.0, c.1)).collect();
        assert_eq!(
            nonzero,
            [("packets", 5), ("flows_evicted", 4), ("dns_messages", 1)]
        );
    }

    /// The stream dissectors' counters come from their registration, named like the others.
    #[test]
    fn stream_dissectors_counters_are_declared_from_their_registration() {
        let names: Vec<_> = Counters::default().iter().map(|c| c.0).collect();
        for name in [
            "tls_client_hellos",
            "tls_malformed",
            "http_requests",
            "http_malformed",
        ] {
            assert!(names.contains(&name), "{name}");
        }
    }
}
