//! Measures what reading packets costs, by the readers the daemon's design considered on one
//! interface: lantern's libpcap reader (`LiveSource`, libpcap's TPACKET_V3 ring underneath), a
//! hand-written AF_PACKET TPACKET_V3 ring reader, and N of those in a PACKET_FANOUT group (the
//! kernel spreading packets over threads by flow hash). All touch the first bytes of every
//! packet and count; none decodes. `benches/live.sh` runs each while tcpreplay fills the link,
//! and compares CPU time and drops.
//!
//!     capture_readers pcap|ring|fanout2 INTERFACE
//!
//! Reads until the link has been quiet for 2 s after the first packet, then prints
//! `READER packets P bytes B drops D cpu_s C ns_per_packet N`.

use lantern::capture::{LiveConfig, LiveSource, Received};
use std::time::{Duration, Instant};

/// Per-packet work both readers do, so that neither loop is optimised away.
fn touch(data: &[u8], acc: &mut u64) {
    for b in data.iter().take(16) {
        *acc = acc.wrapping_mul(31).wrapping_add(u64::from(*b));
    }
}

#[derive(Default)]
struct Counts {
    packets: u64,
    bytes: u64,
    drops: u64,
    acc: u64,
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Whether to stop: 2 s without a packet once packets have come.
struct Quiet {
    last: Option<Instant>,
}

impl Quiet {
    fn seen(&mut self) {
        self.last = Some(Instant::now());
    }
    fn over(&self) -> bool {
        self.last
            .is_some_and(|l| l.elapsed() > Duration::from_secs(2))
    }
}

fn with_pcap(interface: &str) -> Counts {
    let config = LiveConfig {
        buffer_bytes: 256 << 20,
        ..LiveConfig::default()
    };
    let mut source = LiveSource::open(interface, &config).expect("open");
    let mut counts = Counts::default();
    let mut quiet = Quiet { last: None };
    let mut reads = 0u64;
    loop {
        match source.read().expect("read") {
            Received::Packet(raw) => {
                counts.packets += 1;
                counts.bytes += u64::from(raw.wire_len);
                touch(raw.data, &mut counts.acc);
                reads += 1;
                if reads.is_multiple_of(4096) {
                    quiet.seen();
                }
            }
            Received::Idle => {
                if counts.packets > 0 && quiet.last.is_none() {
                    quiet.seen();
                }
                if quiet.over() {
                    break;
                }
            }
        }
    }
    counts.drops = source.stats().dropped;
    counts
}

const BLOCK_SIZE: u32 = 1 << 22;
const BLOCKS: u32 = 64;

/// Fanout group id for this process.
fn fanout_group() -> u32 {
    std::process::id() & 0xffff
}

/// `threads` ring readers in one fanout group, their counts summed.
fn with_fanout(interface: &str, threads: usize) -> Counts {
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let interface = interface.to_string();
            std::thread::spawn(move || with_ring(&interface, true))
        })
        .collect();
    let mut total = Counts::default();
    for handle in handles {
        let counts = handle.join().expect("reader thread");
        total.packets += counts.packets;
        total.bytes += counts.bytes;
        total.drops += counts.drops;
        total.acc ^= counts.acc;
    }
    total
}

fn with_ring(interface: &str, fanout: bool) -> Counts {
    // SAFETY: plain system calls on a socket this function owns; the ring is read only within
    // the mapping the kernel set up, at offsets the kernel wrote, and handed back block by block.
    unsafe {
        let protocol = (libc::ETH_P_ALL as u16).to_be();
        let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(protocol));
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let version = libc::tpacket_versions::TPACKET_V3 as libc::c_int;
        let set = |option, value: *const libc::c_void, len: usize| {
            let r = libc::setsockopt(fd, libc::SOL_PACKET, option, value, len as libc::socklen_t);
            assert!(
                r == 0,
                "setsockopt {option}: {}",
                std::io::Error::last_os_error()
            );
        };
        set(
            libc::PACKET_VERSION,
            (&raw const version).cast(),
            size_of::<libc::c_int>(),
        );
        let req = libc::tpacket_req3 {
            tp_block_size: BLOCK_SIZE,
            tp_block_nr: BLOCKS,
            tp_frame_size: 4096,
            tp_frame_nr: BLOCK_SIZE / 4096 * BLOCKS,
            tp_retire_blk_tov: 100,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        set(
            libc::PACKET_RX_RING,
            (&raw const req).cast(),
            size_of::<libc::tpacket_req3>(),
        );
        let len = (BLOCK_SIZE * BLOCKS) as usize;
        let ring = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        );
        assert!(
            ring != libc::MAP_FAILED,
            "mmap: {}",
            std::io::Error::last_os_error()
        );
        let name = std::ffi::CString::new(interface).unwrap();
        let mut addr: libc::sockaddr_ll = std::mem::zeroed();
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = protocol;
        addr.sll_ifindex = libc::if_nametoindex(name.as_ptr()) as i32;
        assert!(addr.sll_ifindex > 0, "no interface {interface}");
        let r = libc::bind(
            fd,
            (&raw const addr).cast(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        );
        assert!(r == 0, "bind: {}", std::io::Error::last_os_error());
        if fanout {
            let group: libc::c_int =
                (fanout_group() | (libc::PACKET_FANOUT_HASH << 16)) as libc::c_int;
            set(
                libc::PACKET_FANOUT,
                (&raw const group).cast(),
                size_of::<libc::c_int>(),
            );
        }

        let mut counts = Counts::default();
        let mut quiet = Quiet { last: None };
        let mut block = 0u32;
        loop {
            let desc = ring
                .cast::<u8>()
                .add((block * BLOCK_SIZE) as usize)
                .cast::<libc::tpacket_block_desc>();
            let header = &raw mut (*desc).hdr.bh1;
            let status = std::ptr::read_volatile(&raw const (*header).block_status);
            if status & libc::TP_STATUS_USER == 0 {
                let mut pfd = libc::pollfd {
                    fd,
                    events: libc::POLLIN | libc::POLLERR,
                    revents: 0,
                };
                libc::poll(&mut pfd, 1, 100);
                if counts.packets > 0 && quiet.last.is_none() {
                    quiet.seen();
                }
                if quiet.over() {
                    break;
                }
                continue;
            }
            std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
            let mut packet = desc
                .cast::<u8>()
                .add((*header).offset_to_first_pkt as usize);
            for _ in 0..(*header).num_pkts {
                let hdr = packet.cast::<libc::tpacket3_hdr>();
                let data = std::slice::from_raw_parts(
                    packet.add((*hdr).tp_mac as usize),
                    (*hdr).tp_snaplen as usize,
                );
                counts.packets += 1;
                counts.bytes += u64::from((*hdr).tp_len);
                touch(data, &mut counts.acc);
                packet = packet.add((*hdr).tp_next_offset as usize);
            }
            quiet.seen();
            std::sync::atomic::fence(std::sync::atomic::Ordering::Release);
            std::ptr::write_volatile(&raw mut (*header).block_status, libc::TP_STATUS_KERNEL);
            block = (block + 1) % BLOCKS;
        }
        let mut stats: libc::tpacket_stats_v3 = std::mem::zeroed();
        let mut stats_len = size_of::<libc::tpacket_stats_v3>() as libc::socklen_t;
        libc::getsockopt(
            fd,
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            (&raw mut stats).cast(),
            &mut stats_len,
        );
        counts.drops = u64::from(stats.tp_drops);
        libc::munmap(ring, len);
        libc::close(fd);
        counts
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(reader), Some(interface)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: capture_readers pcap|ring|fanout2 INTERFACE");
        std::process::exit(2);
    };
    let before = cpu_seconds();
    let counts = match reader.as_str() {
        "pcap" => with_pcap(interface),
        "ring" => with_ring(interface, false),
        "fanout2" => with_fanout(interface, 2),
        other => {
            eprintln!("capture_readers: unknown reader {other}");
            std::process::exit(2);
        }
    };
    let cpu = cpu_seconds() - before;
    println!(
        "{reader} packets {} bytes {} drops {} cpu_s {cpu:.3} ns_per_packet {:.0} (check {})",
        counts.packets,
        counts.bytes,
        counts.drops,
        cpu * 1e9 / counts.packets.max(1) as f64,
        counts.acc % 10
    );
}
