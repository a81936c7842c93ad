//! Reading whole files from bytes: foreign and empty files refused, pcap records read and a
//! record cut short, an absurd length, and a pcapng packet on an undescribed interface.

use super::pcapng::{PCAPNG_BOM, PCAPNG_SHB};
use super::*;
use std::io::Cursor;

fn reader(bytes: Vec<u8>) -> Result<CaptureReader, ReadError> {
    let size = bytes.len() as u64;
    CaptureReader::from_reader(
        Path::new("test.pcap"),
        Box::new(Cursor::new(bytes)),
        Some(size),
    )
}

/// A little-endian microsecond pcap header for `link`.
fn pcap_header(link: u32) -> Vec<u8> {
    let mut h = vec![0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4, 0];
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&65535u32.to_le_bytes());
    h.extend_from_slice(&link.to_le_bytes());
    h
}

fn pcap_record(sec: u32, usec: u32, data: &[u8], wire: u32) -> Vec<u8> {
    let mut r = Vec::new();
    for v in [sec, usec, data.len() as u32, wire] {
        r.extend_from_slice(&v.to_le_bytes());
    }
    r.extend_from_slice(data);
    r
}

#[test]
fn empty_and_foreign_files_are_refused() {
    assert!(matches!(
        reader(vec![]).unwrap_err().kind,
        ReadErrorKind::Empty
    ));
    let err = reader(b"#!/bin/sh\necho hi\n".to_vec()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "test.pcap: not a pcap or pcapng file (it starts with 23212f62)"
    );
}

#[test]
fn pcap_records_and_a_record_cut_short() {
    let mut file = pcap_header(1);
    file.extend(pcap_record(1_700_000_000, 500_000, &[1, 2, 3], 60));
    file.extend(pcap_record(1_700_000_001, 0, &[4; 10], 10));
    file.truncate(file.len() - 4);
    let mut r = reader(file).unwrap();
    let p = r.next_packet().unwrap().unwrap();
    assert_eq!(p.ts, Timestamp::from_parts(1_700_000_000, 500_000_000));
    assert_eq!(
        (p.data, p.wire_len, p.link),
        (&[1u8, 2, 3][..], 60, LinkType::ETHERNET)
    );
    let err = r.next_packet().unwrap_err();
    assert_eq!(
        err.to_string(),
        "test.pcap: cut short: packet 2 at offset 43 needs 26 bytes but the file ends 22 bytes later"
    );
}

#[test]
fn an_absurd_record_length_is_malformed_not_an_allocation() {
    let mut file = pcap_header(1);
    let mut rec = pcap_record(1, 0, &[], 0);
    rec[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    file.extend(rec);
    let err = reader(file).unwrap().next_packet().unwrap_err();
    assert!(
        err.to_string()
            .contains("packet 1 at offset 24: record claims 4294967295 captured bytes"),
        "{err}"
    );
}

#[test]
fn pcapng_packet_before_any_interface_is_malformed() {
    // SHB (28 bytes), then an EPB that names interface 0 which was never described.
    let mut file = Vec::new();
    file.extend_from_slice(&PCAPNG_SHB.to_le_bytes());
    file.extend_from_slice(&28u32.to_le_bytes());
    file.extend_from_slice(&PCAPNG_BOM.to_le_bytes());
    file.extend_from_slice(&[1, 0, 0, 0]);
    file.extend_from_slice(&(-1i64).to_le_bytes());
    file.extend_from_slice(&28u32.to_le_bytes());
    let mut epb = Vec::new();
    for v in [6u32, 32, 0, 0, 0, 0, 0, 32] {
        epb.extend_from_slice(&v.to_le_bytes());
    }
    file.extend(epb);
    let err = reader(file).unwrap().next_packet().unwrap_err();
    assert!(
        err.to_string()
            .contains("packet on interface 0, but the section describes 0"),
        "{err}"
    );
}
