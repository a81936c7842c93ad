//! Live capture from a network interface through libpcap (the `pcap` crate).
//!
//! On Linux, libpcap 1.5 and later reads through an AF_PACKET TPACKET_V3 memory-mapped ring: the
//! kernel fills blocks of the ring, libpcap walks them without a copy or a system call per
//! packet. [`LiveSource`] adds what a sensor needs around that: the settings a SPAN port wants
//! (promiscuous, a snaplen that keeps handshakes, a large kernel buffer, a BPF filter), a read
//! timeout so the reader wakes up on a quiet link, and the kernel's drop counters turned into
//! running totals (libpcap's are 32-bit and wrap).

use super::{LinkType, RawPacket, Timestamp};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::fmt;
use std::os::fd::{AsRawFd, BorrowedFd};

/// How to open an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveConfig {
    /// Bytes kept of each packet; the rest is counted in its length but not captured.
    pub snaplen: u32,
    /// Put the interface in promiscuous mode (a SPAN port's traffic is not addressed to us).
    pub promiscuous: bool,
    /// Bytes of kernel ring buffer.
    pub buffer_bytes: u32,
    /// BPF filter in tcpdump syntax, if any.
    pub filter: Option<String>,
    /// Longest the reader waits for a packet before it looks at its flags again.
    pub read_timeout_ms: u32,
}

impl Default for LiveConfig {
    fn default() -> LiveConfig {
        LiveConfig {
            snaplen: DEFAULT_SNAPLEN,
            promiscuous: true,
            buffer_bytes: DEFAULT_BUFFER_BYTES,
            filter: None,
            read_timeout_ms: 100,
        }
    }
}

/// Default snaplen: a full 1500-byte frame inside VLAN tags and a tunnel header or two, so a
/// ClientHello segment, a QUIC Initial and a DNS answer arrive whole; on a port whose NIC
/// merges segments (GRO), the first 4 KiB of a merged segment still hold a ClientHello. Bulk
/// payload past that is counted by its length, never copied.
pub const DEFAULT_SNAPLEN: u32 = 4096;

/// Default kernel ring buffer: 64 MiB absorbs about a quarter of a second of a saturated
/// 1 Gbit/s link while a worker catches up.
pub const DEFAULT_BUFFER_BYTES: u32 = 64 << 20;

/// Why an interface could not be opened or read.
#[derive(Debug, thiserror::Error)]
#[error("interface {interface}: {what}: {source}")]
pub struct LiveError {
    interface: String,
    what: &'static str,
    #[source]
    source: pcap::Error,
}

/// Packets and drops counted by the kernel for one interface since it was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Packets that passed the filter.
    pub received: u64,
    /// Packets dropped because the ring buffer was full (the reader was too slow).
    pub dropped: u64,
    /// Packets dropped by the interface or its driver, where the driver reports it.
    pub if_dropped: u64,
}

/// One opened interface.
pub struct LiveSource {
    interface: String,
    capture: pcap::Capture<pcap::Active>,
    link: LinkType,
    timeout: PollTimeout,
    last: pcap::Stat,
    totals: KernelStats,
}

impl fmt::Debug for LiveSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveSource")
            .field("interface", &self.interface)
            .field("link", &self.link)
            .finish()
    }
}

/// What one read gave.
pub enum Received<'a> {
    /// A packet.
    Packet(RawPacket<'a>),
    /// Nothing arrived within the read timeout.
    Idle,
}

impl LiveSource {
    /// Opens `interface` with `config`. Needs CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous
    /// mode); the handle keeps working after the process drops them.
    pub fn open(interface: &str, config: &LiveConfig) -> Result<LiveSource, LiveError> {
        let fail = |what| {
            move |source| LiveError {
                interface: interface.to_string(),
                what,
                source,
            }
        };
        let inactive = pcap::Capture::from_device(interface).map_err(fail("not found"))?;
        let mut capture = inactive
            .snaplen(config.snaplen.min(i32::MAX as u32) as i32)
            .promisc(config.promiscuous)
            .buffer_size(config.buffer_bytes.min(i32::MAX as u32) as i32)
            .timeout(config.read_timeout_ms.min(i32::MAX as u32) as i32)
            .open()
            .map_err(fail("cannot capture"))?;
        if let Some(filter) = &config.filter {
            capture
                .filter(filter, true)
                .map_err(fail("bad capture filter"))?;
        }
        // Non-blocking, and the wait is ours (poll on the socket): with TPACKET_V3 libpcap's own
        // timeout only runs once a packet has arrived, so a reader on a silent link would never
        // look at its stop flag.
        let capture = capture.setnonblock().map_err(fail("cannot capture"))?;
        let link = LinkType(capture.get_datalink().0 as u32);
        Ok(LiveSource {
            interface: interface.to_string(),
            capture,
            link,
            timeout: PollTimeout::from(config.read_timeout_ms.min(60_000) as u16),
            last: pcap::Stat {
                received: 0,
                dropped: 0,
                if_dropped: 0,
            },
            totals: KernelStats::default(),
        })
    }

    /// The interface's name.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// The interface's link type.
    pub fn link(&self) -> LinkType {
        self.link
    }

    /// The next packet, or [`Received::Idle`] after waiting up to the read timeout for one.
    pub fn read(&mut self) -> Result<Received<'_>, LiveError> {
        let timeout = self.timeout;
        let fd = self.capture.as_raw_fd();
        match self.capture.next_packet() {
            Ok(packet) => {
                let ts =
                    Timestamp::from_parts(packet.header.ts.tv_sec, packet.header.ts.tv_usec * 1000);
                Ok(Received::Packet(RawPacket {
                    ts,
                    link: self.link,
                    data: packet.data,
                    wire_len: packet.header.len,
                }))
            }
            Err(pcap::Error::TimeoutExpired) => {
                // SAFETY: `fd` belongs to `self.capture`, which outlives this call.
                let fd = unsafe { BorrowedFd::borrow_raw(fd) };
                let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
                match poll(&mut fds, timeout) {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => Ok(Received::Idle),
                    Err(e) => Err(LiveError {
                        interface: self.interface.clone(),
                        what: "waiting for packets failed",
                        source: pcap::Error::IoError(std::io::Error::from(e).kind()),
                    }),
                }
            }
            Err(source) => Err(LiveError {
                interface: self.interface.clone(),
                what: "read failed",
                source,
            }),
        }
    }

    /// The kernel's counts since the interface was opened (libpcap's 32-bit counters widened,
    /// so a wrap is not a loss).
    pub fn stats(&mut self) -> KernelStats {
        if let Ok(now) = self.capture.stats() {
            let step = |now: u32, last: u32| u64::from(now.wrapping_sub(last));
            self.totals.received += step(now.received, self.last.received);
            self.totals.dropped += step(now.dropped, self.last.dropped);
            self.totals.if_dropped += step(now.if_dropped, self.last.if_dropped);
            self.last = now;
        }
        self.totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_interface_is_one_line_naming_it() {
        let error = LiveSource::open("lantern-nope0", &LiveConfig::default()).unwrap_err();
        let line = error.to_string();
        assert!(line.starts_with("interface lantern-nope0: "), "{line}");
        assert!(!line.contains('\n'), "{line}");
    }
}
