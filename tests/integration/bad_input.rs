//! Bad input: one clear line naming the file (and the packet and offset where it applies), a
//! non-zero exit, and everything read before the problem kept.

use crate::common::{Replay, Run, own};
use std::path::Path;

/// `lantern replay --no-store --quiet FILES`, whatever its exit.
fn replay(files: &[&Path]) -> Run {
    Replay::of(files).no_events().run()
}

/// The only stderr line of a failed run.
fn error_line(run: &Run) -> String {
    assert_eq!(run.status, 1, "stderr: {}", run.stderr);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected: {}", run.stderr);
    lines[0].to_string()
}

#[test]
fn not_a_capture() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "incident notes, not packets\n").unwrap();
    assert_eq!(
        error_line(&replay(&[&notes])),
        format!(
            "lantern: {}: not a pcap or pcapng file (it starts with 696e6369)",
            notes.display()
        )
    );
    let empty = dir.path().join("empty.pcap");
    std::fs::write(&empty, "").unwrap();
    assert_eq!(
        error_line(&replay(&[&empty])),
        format!(
            "lantern: {}: the file is empty, not a capture",
            empty.display()
        )
    );
}

#[test]
fn unreadable_paths() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pcap");
    let line = error_line(&replay(&[&missing]));
    assert!(
        line.starts_with(&format!("lantern: {}: No such file", missing.display())),
        "{line}"
    );
    let line = error_line(&replay(&[dir.path()]));
    assert!(
        line.starts_with(&format!("lantern: {}: ", dir.path().display())),
        "{line}"
    );
    assert!(line.contains("directory"), "{line}");
}

#[test]
fn a_cut_file_header() {
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("header.pcap");
    let bytes = std::fs::read(own("curl-chatgpt.pcap")).unwrap();
    std::fs::write(&cut, &bytes[..10]).unwrap();
    assert_eq!(
        error_line(&replay(&[&cut])),
        format!(
            "lantern: {}: cut short: packet 0 at offset 0 needs 24 bytes but the file ends 10 bytes later",
            cut.display()
        )
    );
}

#[test]
fn an_unknown_link_type() {
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("user0.pcap");
    let mut bytes = std::fs::read(own("curl-chatgpt.pcap")).unwrap();
    bytes[20..24].copy_from_slice(&147u32.to_le_bytes());
    std::fs::write(&odd, &bytes).unwrap();
    assert_eq!(
        error_line(&replay(&[&odd])),
        format!(
            "lantern: {}: unsupported link type 147 (unknown)",
            odd.display()
        )
    );
}

#[test]
fn a_bad_file_does_not_stop_the_good_ones() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "not packets").unwrap();
    let good = own("node-openai.pcap");
    let run = Replay::of(&[&notes, &good]).loud().run();
    assert_eq!(run.status, 1);
    assert!(
        run.flows()
            .iter()
            .any(|f| f["server_name"] == "api.openai.com")
    );
    assert!(
        run.stderr.starts_with("lantern: 1 file(s), "),
        "{}",
        run.stderr
    );
    assert!(run.stderr.ends_with(&format!(
        "lantern: {}: not a pcap or pcapng file (it starts with 6e6f7420)\n",
        notes.display()
    )));
}

#[test]
fn flags_are_checked_before_any_work() {
    // Not --quiet: any work done before the check would add the summary to its one line.
    let with = |flags: &[&str]| {
        Replay::of(&[own("node-openai.pcap")])
            .loud()
            .no_events()
            .args(flags)
            .run()
    };
    let run = with(&["--threads", "0"]);
    assert_eq!(
        error_line(&run),
        "lantern: --threads must be between 1 and 64"
    );
    let run = with(&["--reassembly-limit", "10"]);
    assert_eq!(
        error_line(&run),
        "lantern: --reassembly-limit must be between 512 bytes and 16 MiB"
    );
}

#[test]
fn truncated_and_corrupted_copies_never_panic() {
    // Truncations and corruptions of a real capture: never a panic, always a clear exit.
    let bytes = std::fs::read(own("chromium-claude.pcap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.pcap");
    for cut in (24..bytes.len()).step_by(997) {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let run = replay(&[&path]);
        assert!(
            run.status == 0 || run.status == 1,
            "cut at {cut}: {}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("panicked"),
            "cut at {cut}: {}",
            run.stderr
        );
    }
    for at in (24..bytes.len()).step_by(1_013) {
        let mut bad = bytes.clone();
        bad[at] ^= 0xff;
        bad[at / 2] = bad[at / 2].wrapping_add(0x5a);
        std::fs::write(&path, &bad).unwrap();
        let run = replay(&[&path]);
        assert!(
            run.status == 0 || run.status == 1,
            "flip at {at}: {}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("panicked"),
            "flip at {at}: {}",
            run.stderr
        );
    }
}
