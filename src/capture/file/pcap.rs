//! Classic pcap: the file header (either byte order, micro- or nanosecond timestamps, and the
//! modified format with its longer record headers) and the records after it.

use super::super::{LinkType, Timestamp};
use super::{
    CaptureReader, Format, MAX_RECORD, PacketSlot, Position, ReadErrorKind, State, prefetch,
};

impl CaptureReader {
    pub(super) fn read_pcap_header(&mut self) -> Result<(), ReadErrorKind> {
        const HEADER: usize = 24;
        if !self.fill(HEADER)? {
            return Err(ReadErrorKind::Truncated {
                at: Position {
                    packet: 0,
                    offset: 0,
                },
                needed: HEADER,
                available: self.end,
            });
        }
        let (_, header) = pcap_parser::parse_pcap_header(&self.buf[..HEADER])
            .map_err(|e| self.malformed(format!("bad pcap file header: {e:?}")))?;
        let big_endian = header.is_bigendian();
        let nanos = header.is_nanosecond_precision();
        let modified = matches!(
            self.buf[..4],
            [0x34, 0xCD, 0xB2, 0xA1] | [0xA1, 0xB2, 0xCD, 0x34]
        );
        let link = LinkType(header.network.0 as u32);
        self.pos = HEADER;
        self.format = Format::Pcap {
            big_endian,
            nanos,
            link,
        };
        self.state = State::Pcap {
            big_endian,
            nanos,
            modified,
            link,
        };
        Ok(())
    }

    /// One pcap record: `(ts, link, data start in buf, captured length, wire length)`.
    pub(super) fn next_pcap_record(&mut self) -> Result<Option<PacketSlot>, ReadErrorKind> {
        let State::Pcap {
            big_endian,
            nanos,
            modified,
            link,
        } = self.state
        else {
            unreachable!("pcap state")
        };
        let header_len = if modified { 24 } else { 16 };
        if !self.fill(header_len)? {
            if self.end == self.pos {
                return Ok(None);
            }
            return Err(ReadErrorKind::Truncated {
                at: self.position(),
                needed: header_len,
                available: self.end - self.pos,
            });
        }
        let word = |i: usize| {
            let b: [u8; 4] = self.buf[self.pos + i..self.pos + i + 4]
                .try_into()
                .expect("4 bytes");
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let caplen = word(8) as usize;
        if caplen > MAX_RECORD {
            return Err(self.malformed(format!(
                "record claims {caplen} captured bytes, more than the {MAX_RECORD}-byte limit"
            )));
        }
        // The record header (the first 16 bytes of both layouts) is read here rather than by
        // pcap_parser: it is four words, the length is checked above, and this runs for every
        // packet.
        let frac = i64::from(word(4));
        let ts = Timestamp::from_parts(i64::from(word(0)), if nanos { frac } else { frac * 1000 });
        let wire_len = word(12).max(caplen as u32);
        self.require(header_len + caplen)?;
        let start = self.pos + header_len;
        self.pos += header_len + caplen;
        prefetch(self.buf.get(self.pos..));
        Ok(Some((ts, link, start, caplen, wire_len)))
    }
}
