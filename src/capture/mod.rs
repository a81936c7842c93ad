//! Capture: where packets come from.
//!
//! This stage owns reading capture files (classic pcap in both byte orders with micro- or
//! nanosecond timestamps, and pcapng with any number of interfaces, each with its own link
//! type) and hands on [`RawPacket`]s: a capture timestamp, the link type of the packet's
//! interface, the captured bytes (borrowed from the reader's buffer) and the original length.
//!
//! Files are read with `pcap-parser` rather than libpcap: libpcap refuses pcapng files whose
//! interfaces have different link types ("an interface has a type 1 different from the type of
//! the first interface") and reports no file offsets, and both are required here. Live capture
//! stays on libpcap.

mod file;
pub mod hash;
mod live;
mod time;

pub use file::{CaptureReader, Format, PacketSpan, ReadError, ReadErrorKind};
pub use hash::FileHash;
pub use live::{
    DEFAULT_BUFFER_BYTES, DEFAULT_SNAPLEN, KernelStats, LiveConfig, LiveError, LiveSource, Received,
};
pub use time::{Rfc3339, Timestamp};

/// A link-layer header type, as numbered by the tcpdump.org LINKTYPE_ registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback: a 4-byte address family in the capturing host's byte order.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet II / 802.3.
    pub const ETHERNET: LinkType = LinkType(1);
    /// PPP, optionally with HDLC-like framing.
    pub const PPP: LinkType = LinkType(9);
    /// DLT_RAW as written by some older BSD-based tools.
    pub const RAW_BSD: LinkType = LinkType(12);
    /// DLT_RAW as written by OpenBSD.
    pub const RAW_OPENBSD: LinkType = LinkType(14);
    /// PPP in HDLC-like framing.
    pub const PPP_HDLC: LinkType = LinkType(50);
    /// Cisco HDLC: address, control and an EtherType.
    pub const C_HDLC: LinkType = LinkType(104);
    /// Raw IPv4 or IPv6, version taken from the first nibble.
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback: like NULL, but the family is in network byte order.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux "cooked" capture, version 1 (16-byte header).
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux netfilter NFLOG.
    pub const NFLOG: LinkType = LinkType(239);
    /// Linux "cooked" capture, version 2 (20-byte header).
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// The registry name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::NULL => "NULL",
            Self::ETHERNET => "ETHERNET",
            Self::PPP => "PPP",
            Self::RAW_BSD | Self::RAW_OPENBSD | Self::RAW => "RAW",
            Self::PPP_HDLC => "PPP_HDLC",
            Self::C_HDLC => "C_HDLC",
            Self::LOOP => "LOOP",
            Self::LINUX_SLL => "LINUX_SLL",
            Self::IPV4 => "IPV4",
            Self::IPV6 => "IPV6",
            Self::NFLOG => "NFLOG",
            Self::LINUX_SLL2 => "LINUX_SLL2",
            _ => "unknown",
        }
    }
}

impl std::fmt::Display for LinkType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.0, self.name())
    }
}

/// One packet as read from a capture: borrowed bytes plus the record's metadata.
#[derive(Clone, Copy, Debug)]
pub struct RawPacket<'a> {
    /// Capture time from the record (never the wall clock).
    pub ts: Timestamp,
    /// Link type of the interface the packet was captured on.
    pub link: LinkType,
    /// The captured bytes; shorter than `wire_len` when the snaplen cut the packet.
    pub data: &'a [u8],
    /// The packet's length on the wire.
    pub wire_len: u32,
}
