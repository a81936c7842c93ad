//! pcapng: sections (each with its byte order), interfaces (each with its link type and
//! timestamp units), and the packets of enhanced and simple packet blocks; other blocks are
//! skipped.

use super::super::{LinkType, Timestamp};
use super::{CaptureReader, MAX_RECORD, PacketSlot, ReadErrorKind, State, prefetch};
use pcap_parser::pcapng::Block;

/// Block type of a pcapng Section Header Block (the same in both byte orders).
pub(super) const PCAPNG_SHB: u32 = 0x0A0D_0D0A;
/// pcapng byte-order magic as written by a little-endian writer, read little-endian.
pub(super) const PCAPNG_BOM: u32 = 0x1A2B_3C4D;

/// One pcapng interface: its link type and how to read its timestamps.
#[derive(Clone, Copy, Debug)]
pub(super) struct Interface {
    link: LinkType,
    /// Timestamp units per second.
    units_per_sec: u64,
    /// Seconds added to every timestamp.
    offset_secs: i64,
}

impl CaptureReader {
    /// The next packet of a pcapng file, skipping blocks that carry none.
    pub(super) fn next_pcapng_packet(&mut self) -> Result<Option<PacketSlot>, ReadErrorKind> {
        loop {
            if !self.fill(8)? {
                if self.end == self.pos {
                    return Ok(None);
                }
                return Err(ReadErrorKind::Truncated {
                    at: self.position(),
                    needed: 8,
                    available: self.end - self.pos,
                });
            }
            let block_len = self.pcapng_block_len()?;
            self.require(block_len)?;
            if let Some(packet) = self.pcapng_block(block_len)? {
                return Ok(Some(packet));
            }
        }
    }

    /// Reads the length of the block at `pos`, switching byte order at a section header.
    fn pcapng_block_len(&mut self) -> Result<usize, ReadErrorKind> {
        let at = self.pos;
        let le = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes"));
        let block_type = le(&self.buf[at..at + 4]);
        if block_type == PCAPNG_SHB {
            self.require(12)?;
            let bom = le(&self.buf[at + 8..at + 12]);
            let big_endian = match bom {
                PCAPNG_BOM => false,
                0x4D3C_2B1A => true,
                _ => {
                    return Err(self.malformed(format!(
                        "section header with bad byte-order magic {bom:#010x}"
                    )));
                }
            };
            if let State::PcapNg {
                big_endian: order, ..
            } = &mut self.state
            {
                *order = big_endian;
            }
        }
        let State::PcapNg { big_endian, .. } = self.state else {
            unreachable!("pcapng state")
        };
        let raw: [u8; 4] = self.buf[at + 4..at + 8].try_into().expect("4 bytes");
        let len = if big_endian {
            u32::from_be_bytes(raw)
        } else {
            u32::from_le_bytes(raw)
        } as usize;
        if len < 12 || !len.is_multiple_of(4) {
            return Err(self.malformed(format!(
                "block length {len} is invalid (at least 12, a multiple of 4)"
            )));
        }
        if len > MAX_RECORD {
            return Err(self.malformed(format!(
                "block of {len} bytes is larger than the {MAX_RECORD}-byte limit"
            )));
        }
        Ok(len)
    }

    /// Interprets the complete block at `pos`; returns the packet it carries, if any.
    fn pcapng_block(&mut self, len: usize) -> Result<Option<PacketSlot>, ReadErrorKind> {
        let State::PcapNg { big_endian, .. } = self.state else {
            unreachable!("pcapng state")
        };
        let block = &self.buf[self.pos..self.pos + len];
        let parsed = if big_endian {
            pcap_parser::pcapng::parse_block_be(block)
        } else {
            pcap_parser::pcapng::parse_block_le(block)
        };
        let block = match parsed {
            Ok((_, block)) => block,
            Err(e) => return Err(self.malformed(format!("bad pcapng block: {e:?}"))),
        };
        let start = self.pos;
        let packet = match block {
            Block::SectionHeader(_) => {
                if let State::PcapNg { interfaces, .. } = &mut self.state {
                    interfaces.clear();
                }
                None
            }
            Block::InterfaceDescription(idb) => {
                let units_per_sec = idb.ts_resolution().filter(|&u| u > 0).ok_or_else(|| {
                    self.malformed(format!(
                        "interface with invalid timestamp resolution {:#04x}",
                        idb.if_tsresol
                    ))
                })?;
                let iface = Interface {
                    link: LinkType(idb.linktype.0 as u32),
                    units_per_sec,
                    offset_secs: idb.ts_offset(),
                };
                if let State::PcapNg { interfaces, .. } = &mut self.state {
                    if interfaces.len() >= 65_536 {
                        return Err(self.malformed("more than 65536 interfaces"));
                    }
                    interfaces.push(iface);
                }
                None
            }
            Block::EnhancedPacket(epb) => {
                let (caplen, wire_len) = (epb.caplen as usize, epb.origlen.max(epb.caplen));
                let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let iface = self.interface(epb.if_id)?;
                let ts = iface_time(&iface, units);
                if let State::PcapNg { last_ts, .. } = &mut self.state {
                    *last_ts = ts;
                }
                // EPB layout: type, length, interface, ts high, ts low, caplen, origlen, data.
                Some((ts, iface.link, start + 28, caplen, wire_len))
            }
            Block::SimplePacket(spb) => {
                let iface = self.interface(0)?;
                let caplen = (spb.origlen as usize).min(len - 16);
                let State::PcapNg { last_ts, .. } = self.state else {
                    unreachable!("pcapng state")
                };
                // SPB layout: type, length, original length, data. It has no timestamp.
                Some((last_ts, iface.link, start + 12, caplen, spb.origlen))
            }
            _ => None,
        };
        self.pos += len;
        prefetch(self.buf.get(self.pos..));
        Ok(packet)
    }

    pub(super) fn interface(&self, id: u32) -> Result<Interface, ReadErrorKind> {
        let State::PcapNg { interfaces, .. } = &self.state else {
            unreachable!("pcapng state")
        };
        interfaces.get(id as usize).copied().ok_or_else(|| {
            self.malformed(format!(
                "packet on interface {id}, but the section describes {}",
                interfaces.len()
            ))
        })
    }
}

/// Converts a pcapng timestamp in interface units to a [`Timestamp`], saturating.
fn iface_time(iface: &Interface, units: u64) -> Timestamp {
    let per_sec = u128::from(iface.units_per_sec);
    let secs = u128::from(units) / per_sec;
    let nanos = (u128::from(units) % per_sec) * 1_000_000_000 / per_sec;
    let secs = i64::try_from(secs).unwrap_or(i64::MAX);
    Timestamp::from_parts(secs.saturating_add(iface.offset_secs), nanos as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcapng_timestamps_honour_resolution_and_offset() {
        let iface = Interface {
            link: LinkType::ETHERNET,
            units_per_sec: 1_000_000,
            offset_secs: 10,
        };
        assert_eq!(
            iface_time(&iface, 1_500_000),
            Timestamp::from_parts(11, 500_000_000)
        );
        let binary = Interface {
            units_per_sec: 1 << 10,
            offset_secs: 0,
            ..iface
        };
        assert_eq!(
            iface_time(&binary, 1024 + 512),
            Timestamp::from_parts(1, 500_000_000)
        );
        let huge = Interface {
            units_per_sec: 1,
            offset_secs: i64::MAX,
            ..iface
        };
        assert_eq!(iface_time(&huge, u64::MAX), Timestamp(i64::MAX));
    }
}
