//! Any bytes as a DHCPv4 (first byte even) or DHCPv6 (odd) message, then through identity:
//! the message teaches a resolver, which then resolves the address it named.
#![no_main]

use lantern::capture::Timestamp;
use lantern::decode::{Addr, Transport};
use lantern::flow::Endpoint;
use lantern::identity::Resolver;
use lantern::proto::dhcp::{parse_v4, parse_v6};
use lantern::proto::{DhcpRecord, Origin};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let parsed = if pick % 2 == 0 { parse_v4(bytes) } else { parse_v6(bytes) };
    let Ok(message) = parsed else { return };
    for name in [&message.hostname, &message.fqdn].into_iter().flatten() {
        // 255 bytes on the wire; escaping makes at most four times as many.
        assert!(name.len() <= 4 * 255);
    }
    assert!(message.duid.as_ref().is_none_or(|d| d.len() <= 130));
    let endpoint = Endpoint { addr: Addr::v4([10, 0, 0, 1]), port: 67 };
    let record = DhcpRecord {
        origin: Origin {
            flow_id: 1,
            packet: 1,
            ts: Timestamp::from_secs(1_700_000_000),
            client: endpoint,
            server: endpoint,
            transport: Transport::Udp,
            vlan: [0; 2],
        },
        message,
    };
    let mut resolver = Resolver::default();
    resolver.dhcp(&record);
    resolver.dhcp(&record);
    if let Some(addr) = record.message.address {
        let _ = resolver.resolve(addr, Timestamp::from_secs(1_700_000_001));
    }
});
