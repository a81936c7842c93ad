//! The active timeout on a real flow kept open for hours: `captures/python-upload.pcap` (a
//! Python client's 200 kB POST to api.anthropic.com over TLS) with its packets from the first
//! TLS one on moved one minute apart, so the one connection lasts about three hours. Replayed
//! with `--active-timeout 0` it is one record; with 300 s it is an interim record every few
//! minutes and a final one. The records must add up to the single record, the store's rollups
//! must hold the bytes in the hours each record started, the flow must count once, the report
//! must be the same, and the events the same for any `--threads`. The live counterpart is
//! `live_capture::a_flow_open_across_active_timeouts_is_stored_while_open_as_a_replay_stores_it`.

use crate::common::synth::PcapWriter;
use crate::common::{Replay, arg, lantern_ok, own, sqlite_row, sqlite_typed};
use lantern::capture::CaptureReader;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Seconds between two packets of the spread flow.
const STEP_SECS: u64 = 60;

/// `python-upload.pcap` with every packet from the first to port 443 on `STEP_SECS` apart.
fn spread(dir: &Path) -> PathBuf {
    let from = own("python-upload.pcap");
    let to = dir.join("upload-spread.pcap");
    let mut reader = CaptureReader::open(&from).unwrap();
    let mut writer = PcapWriter::create(&to);
    let mut tls_from: Option<u64> = None;
    let mut n = 0u64;
    while let Some(packet) = reader.next_packet().unwrap() {
        let micros = u64::try_from(packet.ts.0 / 1000).unwrap();
        let data = packet.data.to_vec();
        // Ethernet, IPv4, TCP to or from port 443.
        let tls = data.len() > 38
            && data[12..14] == [0x08, 0x00]
            && data[23] == 6
            && (data[34..36] == [1, 187] || data[36..38] == [1, 187]);
        if tls && tls_from.is_none() {
            tls_from = Some(micros);
        }
        let at = match tls_from {
            Some(start) => start + n * STEP_SECS * 1_000_000,
            None => micros,
        };
        if tls_from.is_some() {
            n += 1;
        }
        writer.frame(at, &data);
    }
    assert!(n > 150, "{n} packets spread");
    to
}

/// Replays `pcap` into a fresh store in `dir` with `extra`; its events.
fn replay(pcap: &Path, dir: &Path, name: &str, extra: &[&str]) -> (PathBuf, Vec<Value>) {
    let db = dir.join(format!("{name}.db"));
    let run = Replay::of(&[pcap])
        .store(arg(&db))
        .sensor("s1")
        .args(extra)
        .dir(dir)
        .ok();
    (db, run.flows())
}

/// The upload's flow records, in order.
fn upload_records(flows: &[Value]) -> Vec<&Value> {
    let mut records: Vec<&Value> = flows
        .iter()
        .filter(|f| f["server_name"] == "api.anthropic.com")
        .collect();
    records.sort_by_key(|f| f["part"].as_u64().unwrap_or(0));
    records
}

fn sum(records: &[&Value], field: &str) -> u64 {
    records.iter().map(|r| r[field].as_u64().unwrap()).sum()
}

/// Flows and bytes up per hour of `app` in the rollups.
fn hourly(db: &Path, app: &str) -> BTreeMap<i64, (u64, u64)> {
    let sql = format!(
        "SELECT hour, flows, bytes_up FROM rollups_hourly WHERE app_id = '{app}' ORDER BY hour"
    );
    sqlite_typed::<(i64, i64, i64)>(db, &sql)
        .into_iter()
        .map(|(hour, flows, bytes)| (hour, (flows as u64, bytes as u64)))
        .collect()
}

fn report(db: &Path, dir: &Path) -> Value {
    let run = lantern_ok(
        dir,
        &[
            "report",
            "--store",
            db.to_str().unwrap(),
            "--format",
            "json",
            "--from",
            "2026-11-01",
            "--to",
            "2026-12-01",
        ],
    );
    serde_json::from_str(&run.stdout).unwrap()
}

#[test]
fn a_flow_open_for_hours_is_reported_in_parts_that_add_up_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = spread(dir.path());
    let (whole_db, whole) = replay(&pcap, dir.path(), "whole", &["--active-timeout", "0"]);
    let (split_db, split) = replay(&pcap, dir.path(), "split", &[]);
    let one = upload_records(&whole);
    assert_eq!(one.len(), 1, "{one:#?}");
    assert_eq!(one[0]["record"], "final");
    let parts = upload_records(&split);
    // About three hours at 300 s: one record per six packets a minute apart, then the final.
    assert!(parts.len() >= 20, "{} records", parts.len());
    let (last, interims) = parts.split_last().unwrap();
    assert_eq!(last["record"], "final");
    assert_eq!(last["end_reason"], one[0]["end_reason"]);
    for (i, r) in parts.iter().enumerate() {
        assert_eq!(r["part"].as_u64().unwrap_or(0), i as u64, "{r}");
        assert_eq!(r["flow_id"], one[0]["flow_id"]);
        // One name, one app, one user in every record.
        for field in ["server_name", "name_source", "user", "app"] {
            assert_eq!(r[field], one[0][field], "{field} of part {i}");
        }
    }
    for r in interims {
        assert_eq!(r["record"], "interim");
        assert_eq!(r["end_reason"], "active_timeout");
    }
    // The records tile the flow: each starts after the one before ended.
    for pair in parts.windows(2) {
        assert!(
            pair[1]["ts"].as_str() > pair[0]["end_ts"].as_str(),
            "{pair:#?}"
        );
    }
    assert_eq!(parts[0]["ts"], one[0]["ts"]);
    assert_eq!(last["end_ts"], one[0]["end_ts"]);
    for field in ["bytes_up", "bytes_down", "packets_up", "packets_down"] {
        assert_eq!(
            sum(&parts, field),
            one[0][field].as_u64().unwrap(),
            "{field}"
        );
    }

    // Unsplit, the rollups hold the whole flow in its first hour; split, in the hours each
    // record started, and the flow counts once.
    let app = one[0]["app"]["id"].as_str().unwrap();
    let (whole_hours, split_hours) = (hourly(&whole_db, app), hourly(&split_db, app));
    assert_eq!(whole_hours.len(), 1, "{whole_hours:?}");
    assert!(split_hours.len() >= 3, "{split_hours:?}");
    let mut expected: BTreeMap<i64, u64> = BTreeMap::new();
    for r in &parts {
        let ts = time::OffsetDateTime::parse(
            r["ts"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        let hour = ts.unix_timestamp().div_euclid(3600) * 3600;
        *expected.entry(hour).or_default() += r["bytes_up"].as_u64().unwrap();
    }
    let found: BTreeMap<i64, u64> = split_hours.iter().map(|(h, (_, b))| (*h, *b)).collect();
    assert_eq!(found, expected);
    let flows: u64 = split_hours.values().map(|(f, _)| f).sum();
    assert_eq!(flows, 1);
    let (rows, firsts, interim_rows): (i64, i64, i64) = sqlite_row(
        &split_db,
        &format!("SELECT count(*), sum(part = 0), sum(interim) FROM flows WHERE app_id = '{app}'"),
    );
    assert_eq!(
        (rows, firsts, interim_rows),
        (parts.len() as i64, 1, interims.len() as i64)
    );

    // The report reads the same either way.
    let (a, b) = (report(&whole_db, dir.path()), report(&split_db, dir.path()));
    assert_eq!(a["headline"]["flows"], 1, "{a}");
    assert!(a["headline"]["bytes_up"].as_u64().unwrap() > 200_000, "{a}");
    assert_eq!(a, b);

    // And the events are the same for any number of threads.
    let (_, two) = replay(&pcap, dir.path(), "two", &["--threads", "2"]);
    assert_eq!(two, split);
}
