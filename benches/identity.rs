//! How long attributing one record takes: `Resolver::resolve` for an address known only by
//! itself, by a DHCP lease, by a Kerberos login, and under a static map of 10,000 prefixes of
//! many lengths (longest prefix wins); and the same with pseudonyms (three HMACs). Identity runs
//! once per flow and DNS lookup, not per packet; these say what it costs there.
//!
//! `cargo bench --bench identity`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lantern::capture::Timestamp;
use lantern::decode::{Addr, Transport};
use lantern::flow::Endpoint;
use lantern::identity::{Pseudonymizer, Resolver, StaticMap};
use lantern::proto::dhcp::{DhcpKind, DhcpMessage};
use lantern::proto::kerberos::Exchange;
use lantern::proto::{DhcpRecord, KerberosRecord, KrbOutcome, Origin};
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

const CLIENTS: u32 = 10_000;

fn addr(i: u32) -> Addr {
    let [_, b, c, d] = (0x0a00_0000 | i).to_be_bytes();
    Addr::v4([10, b, c, d])
}

fn origin(i: u32, ts: i64) -> Origin {
    Origin {
        flow_id: u64::from(i),
        packet: u64::from(i),
        ts: Timestamp::from_secs(ts),
        client: Endpoint {
            addr: addr(i),
            port: 68,
        },
        server: Endpoint {
            addr: Addr::v4([10, 255, 255, 1]),
            port: 67,
        },
        transport: Transport::Udp,
        vlan: [0; 2],
    }
}

/// A resolver that has seen a DHCP lease for every client and a Kerberos login for half.
fn learned() -> Resolver {
    let mut r = Resolver::default();
    for i in 0..CLIENTS {
        let mac = i.to_be_bytes();
        r.dhcp(&DhcpRecord {
            origin: origin(i, 100),
            message: DhcpMessage {
                version: 4,
                kind: Some(DhcpKind::Ack),
                mac: Some([2, 0, mac[0], mac[1], mac[2], mac[3]]),
                hostname: Some(format!("pc-{i}")),
                address: Some(addr(i)),
                lease_secs: Some(86_400),
                ..DhcpMessage::default()
            },
        });
        if i % 2 == 0 {
            r.kerberos(&KerberosRecord {
                origin: origin(i, 200),
                exchange: Exchange::As,
                principal: Some(format!("user{i}@CORP.EXAMPLE")),
                till: None,
                on_behalf: false,
                outcome: KrbOutcome::Granted,
            });
        }
    }
    r
}

/// 10,000 prefixes: /8, /16, /24 and /32 rows, as an IPAM export has them.
fn static_map() -> StaticMap {
    let mut csv = String::from("address,user,device,group\n10.0.0.0/8,corp,,all\n");
    for i in 0..256 {
        csv += &format!("10.{i}.0.0/16,site-{i},,site\n");
    }
    for i in 0..3000 {
        csv += &format!("10.{}.{}.0/24,floor-{i},,floor\n", i / 256, i % 256);
    }
    for i in 0..(10_000 - 3257) {
        csv += &format!(
            "10.{}.{}.{}/32,desk-{i},pc-{i},desk\n",
            i / 65536,
            i / 256 % 256,
            i % 256
        );
    }
    StaticMap::read(csv.as_bytes(), Path::new("bench.csv")).unwrap()
}

fn resolve(c: &mut Criterion) {
    let at = Timestamp::from_secs(300);
    let mut group = c.benchmark_group("resolve");
    group.throughput(Throughput::Elements(u64::from(CLIENTS)));
    let mut bare = Resolver::default();
    group.bench_function("address only", |b| {
        b.iter(|| {
            (0..CLIENTS)
                .map(|i| bare.resolve(black_box(addr(i)), at).user.len())
                .sum::<usize>()
        })
    });
    let mut wire = learned();
    group.bench_function("dhcp and kerberos", |b| {
        b.iter(|| {
            (0..CLIENTS)
                .map(|i| wire.resolve(black_box(addr(i)), at).user.len())
                .sum::<usize>()
        })
    });
    let mut mapped = learned();
    mapped.set_static_map(Some(Arc::new(static_map())));
    group.bench_function("static map of 10,000 prefixes", |b| {
        b.iter(|| {
            (0..CLIENTS)
                .map(|i| mapped.resolve(black_box(addr(i)), at).user.len())
                .sum::<usize>()
        })
    });
    let mut hidden = learned();
    hidden.set_pseudonymizer(Some(Pseudonymizer::from_key(
        b"bench key, sixteen bytes at least",
    )));
    group.bench_function("dhcp and kerberos, pseudonymized", |b| {
        b.iter(|| {
            let n = (0..CLIENTS)
                .map(|i| hidden.resolve(black_box(addr(i)), at).user.len())
                .sum::<usize>();
            hidden.pseudonymizer().map(|p| p.take_sealed());
            n
        })
    });
    group.finish();
}

criterion_group!(benches, resolve);
criterion_main!(benches);
