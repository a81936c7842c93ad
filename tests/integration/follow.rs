//! `lantern capture --logs DIR` following logs as they are written: a writer (this test)
//! appends Zeek TSV (`ssl.log`, `dns.log` of the WRCCDC logs) and Suricata's EVE (the EVE of
//! several of the shared captures) to a directory, rotating them as Zeek (renamed with the
//! hour, a new file with its header) and logrotate (`eve.json` to `eve.json.1`, renamed while
//! being read) do, while the daemon follows; the daemon is killed (SIGKILL) and later stopped
//! (SIGTERM) in the middle, lines being written and rotated while it is down, and restarted
//! each time. Its store must then equal `lantern ingest` of the same files: every flow, DNS
//! row, rollup and coverage row, so no line was lost or counted twice.

use crate::common::{arg, lantern_in, root, sqlite_rows, work_dir};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The shared EVE files used, in the order of their first line's time.
const EVE: [&str; 9] = [
    "chromium-claude",
    "identity",
    "chromium-shared-cdn",
    "chromium-quic-shared-cdn",
    "chromium-real-ech",
    "mcp-node-client",
    "clients-same-api",
    "clients-same-api-http",
    "mcp-remote-tls",
];

/// Data lines taken of each Zeek log.
const ZEEK_LINES: usize = 1500;

fn eve_lines(name: &str) -> Vec<String> {
    let path = root().join(format!(
        "../shared/nsm-logs/eve/captures/{name}.pcap.eve.json"
    ));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    text.lines().map(str::to_string).collect()
}

/// A Zeek log's header lines and its first data lines.
fn zeek(log: &str) -> (Vec<String>, Vec<String>) {
    let path = root().join(format!("../shared/nsm-logs/zeek-wrccdc/tsv/{log}.log.gz"));
    let file = File::open(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let lines = BufReader::new(flate2::read::MultiGzDecoder::new(file)).lines();
    let (mut header, mut data) = (Vec::new(), Vec::new());
    for line in lines.map(Result::unwrap) {
        if line.starts_with('#') {
            if data.is_empty() {
                header.push(line);
            }
        } else if data.len() < ZEEK_LINES {
            data.push(line);
        } else {
            break;
        }
    }
    (header, data)
}

fn ts(line: &str) -> f64 {
    line.split('\t').next().unwrap().parse().unwrap()
}

fn append(dir: &Path, name: &str, lines: &[String]) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(name))
        .unwrap();
    for line in lines {
        writeln!(file, "{line}").unwrap();
    }
}

/// The daemon, following `dir/logs`.
fn start(dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args(["capture", "--logs", "logs", "--store", "follow.db"])
        .args(["--logs-state", "logs.state", "--flush-interval", "1"])
        .args(["--status-interval", "0", "--quiet"])
        // The logs are of 2018 and 2026: kept, as `ingest` keeps them.
        .args(["--retention-days", "0", "--rollup-retention-days", "0"])
        .env_remove("LANTERN_STORE")
        .current_dir(dir)
        .stdin(Stdio::null())
        .spawn()
        .expect("start lantern capture --logs")
}

fn stop(mut child: Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.wait().unwrap();
}

/// Writes Zeek's `ssl` and `dns` lines in time order, a slice at a time, rotating `ssl.log`
/// half-way as Zeek does; `between` runs before each slice.
fn write_zeek(logs: &Path, mut between: impl FnMut(usize)) -> f64 {
    let (ssl_header, ssl) = zeek("ssl");
    let (dns_header, dns) = zeek("dns");
    append(logs, "ssl.log", &ssl_header);
    append(logs, "dns.log", &dns_header);
    let mut lines: Vec<(f64, bool, &String)> = ssl.iter().map(|l| (ts(l), true, l)).collect();
    lines.extend(dns.iter().map(|l| (ts(l), false, l)));
    lines.sort_by(|a, b| a.0.total_cmp(&b.0));
    let last = lines.last().unwrap().0;
    for (i, slice) in lines.chunks(100).enumerate() {
        between(i);
        if i == lines.len() / 200 {
            // Zeek's rotation: the file is closed, renamed, and a new one begun.
            append(
                logs,
                "ssl.log",
                &["#close\t2018-03-24-17-00-00".to_string()],
            );
            let archive = logs.join("ssl.2018-03-24-17-00-00.log");
            std::fs::rename(logs.join("ssl.log"), archive).unwrap();
            append(logs, "ssl.log", &ssl_header);
        }
        let pick = |ssl_line: bool| -> Vec<String> {
            (slice.iter().filter(|l| l.1 == ssl_line))
                .map(|l| l.2.clone())
                .collect()
        };
        append(logs, "ssl.log", &pick(true));
        append(logs, "dns.log", &pick(false));
        std::thread::sleep(Duration::from_millis(30));
    }
    last
}

/// The position the state file gives `stream`, with the path of its newest file.
fn saved_offset(state: &Path, stream: &str) -> Option<(PathBuf, u64)> {
    let text = std::fs::read_to_string(state).ok()?;
    let state: serde_json::Value = serde_json::from_str(&text).ok()?;
    let s = &state["streams"][stream];
    let offset = s["position"]["offset"].as_u64()?;
    let file = s["files"].as_array()?.last()?;
    Some((PathBuf::from(file["path"].as_str()?), offset))
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every row of the store's evidence and rollups, in one order.
fn tables(db: &Path) -> Vec<(String, Vec<String>)> {
    let flows = "SELECT * FROM flows ORDER BY ts_us, flow_id, client_ip, client_port, part";
    let dns = "SELECT * FROM dns ORDER BY ts_us, client_ip, query";
    let strip = |rows: Vec<String>| -> Vec<String> {
        // The row id, last, depends on the order rows were written in.
        rows.into_iter()
            .map(|r| r.rsplit_once('\t').map(|(a, _)| a.to_string()).unwrap_or(r))
            .collect()
    };
    vec![
        ("flows".into(), strip(sqlite_rows(db, flows))),
        ("dns".into(), strip(sqlite_rows(db, dns))),
        (
            "rollups".into(),
            sqlite_rows(db, "SELECT * FROM rollups_hourly ORDER BY 1, 2, 3, 4, 5, 6"),
        ),
        (
            "coverage".into(),
            sqlite_rows(db, "SELECT * FROM coverage_hourly ORDER BY 1, 2, 3, 4, 5"),
        ),
    ]
}

#[test]
fn following_logs_through_rotations_and_restarts_equals_ingesting_them() {
    let dir = work_dir().join("follow-logs");
    let _ = std::fs::remove_dir_all(&dir);
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let mut daemon = Some(start(&dir));
    // Mid-way through Zeek's lines: SIGKILL, lines written while it is down, a restart.
    let last = write_zeek(&logs, |i| match i {
        12 => {
            std::thread::sleep(Duration::from_millis(1500));
            stop(daemon.take().unwrap(), "-KILL");
        }
        18 => daemon = Some(start(&dir)),
        _ => {}
    });
    let eve: Vec<Vec<String>> = EVE.iter().map(|n| eve_lines(n)).collect();
    for (i, lines) in eve.iter().enumerate() {
        if i == 4 {
            // SIGTERM while eve.json is half read; logrotate renames it while the daemon is
            // down, Suricata writes its last lines to it, then to a new eve.json.
            std::thread::sleep(Duration::from_millis(1500));
            stop(daemon.take().unwrap(), "-TERM");
            std::fs::rename(logs.join("eve.json"), logs.join("eve.json.1")).unwrap();
            append(&logs, "eve.json.1", &lines[..lines.len() / 2]);
            append(&logs, "eve.json", &lines[lines.len() / 2..]);
            daemon = Some(start(&dir));
            continue;
        }
        for part in lines.chunks(40) {
            append(&logs, "eve.json", part);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // A last DNS line two days on moves the log clock past every join window, as a live
    // sensor's next lines would.
    let (_, dns) = zeek("dns");
    let tick = dns[0].replacen(&dns[0][..dns[0].find('\t').unwrap()], "1800000000.0", 1);
    append(&logs, "dns.log", &[tick]);
    assert!(last < 1800000000.0);
    let size = std::fs::metadata(logs.join("dns.log")).unwrap().len();
    let state = dir.join("logs.state");
    wait_until(
        "the daemon to read every line",
        Duration::from_secs(60),
        || saved_offset(&state, "dns.log").is_some_and(|(_, offset)| offset == size),
    );
    stop(daemon.take().unwrap(), "-TERM");
    // Both rotations were followed: each stream kept its renamed file and the new one.
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    for stream in ["ssl.log", "eve.json"] {
        let files = saved["streams"][stream]["files"].as_array().unwrap();
        assert_eq!(files.len(), 2, "{stream}: {files:?}");
    }

    let ingest = lantern_in(
        Some(&dir),
        &[],
        &["ingest", &arg(&logs), "--store", "ingest.db", "--quiet"],
    );
    assert_eq!(ingest.status, 0, "{}", ingest.stderr);
    let followed = tables(&dir.join("follow.db"));
    let ingested = tables(&dir.join("ingest.db"));
    assert!(ingested[0].1.len() > 20, "{} flows", ingested[0].1.len());
    for ((name, a), (_, b)) in followed.iter().zip(&ingested) {
        let only_followed: Vec<_> = a.iter().filter(|r| !b.contains(r)).collect();
        let only_ingested: Vec<_> = b.iter().filter(|r| !a.contains(r)).collect();
        assert!(
            a == b,
            "{name}: {} rows followed, {} ingested; only followed: {only_followed:#?}; only ingested: {only_ingested:#?}",
            a.len(),
            b.len()
        );
    }
}
