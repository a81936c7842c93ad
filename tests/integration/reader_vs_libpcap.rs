//! lantern reads capture files with its own reader (pcap-parser underneath) because libpcap
//! refuses pcapng files whose interfaces have different link types and reports no offsets.
//! This test holds that reader to libpcap: on every capture libpcap can read, both must give
//! the same packets, timestamps to the nanosecond, lengths and bytes.

use crate::common;

use lantern::capture::CaptureReader;
use std::path::{Path, PathBuf};

fn captures() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in [common::root().join("captures"), common::shared_captures()] {
        let mut stack = vec![dir];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path
                    .extension()
                    .is_some_and(|e| e == "pcap" || e == "pcapng")
                {
                    files.push(path);
                }
            }
        }
    }
    files.sort();
    files
}

/// `(seconds, nanoseconds, captured length, wire length, bytes)` of each packet.
type Packets = Vec<(i64, u32, usize, u32, Vec<u8>)>;

fn with_libpcap(path: &Path) -> Result<Packets, String> {
    let mut capture = pcap::Capture::from_file_with_precision(path, pcap::Precision::Nano)
        .map_err(|e| e.to_string())?;
    let mut packets = Vec::new();
    loop {
        match capture.next_packet() {
            Ok(p) => packets.push((
                p.header.ts.tv_sec,
                p.header.ts.tv_usec as u32,
                p.header.caplen as usize,
                p.header.len,
                p.data.to_vec(),
            )),
            Err(pcap::Error::NoMorePackets) => return Ok(packets),
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn with_lantern(path: &Path) -> Result<Packets, String> {
    let mut reader = CaptureReader::open(path).map_err(|e| e.to_string())?;
    let mut packets = Vec::new();
    loop {
        match reader.next_packet() {
            Ok(Some(p)) => packets.push((
                p.ts.secs(),
                p.ts.subsec_nanos(),
                p.data.len(),
                p.wire_len,
                p.data.to_vec(),
            )),
            Ok(None) => return Ok(packets),
            Err(e) => return Err(e.to_string()),
        }
    }
}

#[test]
fn same_packets_as_libpcap() {
    let files = captures();
    assert!(files.len() > 90, "{} captures", files.len());
    let mut compared = 0;
    for file in &files {
        let ours = with_lantern(file);
        match with_libpcap(file) {
            Ok(theirs) => {
                let ours = ours.unwrap_or_else(|e| {
                    panic!("libpcap reads {} but lantern fails: {e}", file.display())
                });
                assert_eq!(ours.len(), theirs.len(), "{}: packet count", file.display());
                for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
                    assert!(a == b, "{}: packet {} differs", file.display(), i + 1);
                }
                compared += 1;
            }
            Err(e) if e.contains("different from the type of the first interface") => {
                // libpcap cannot read this one at all; lantern must.
                let ours = ours.unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                assert!(!ours.is_empty(), "{}", file.display());
            }
            Err(e) if e.contains("truncated") => {
                // Both stop at the cut; lantern names the packet and offset.
                let err = ours.expect_err("lantern must report the cut");
                assert!(err.contains("cut short: packet"), "{err}");
            }
            Err(e) => panic!("{}: libpcap: {e}", file.display()),
        }
    }
    assert!(compared > 90, "{compared} files compared");
}
