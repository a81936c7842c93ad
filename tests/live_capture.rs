//! `lantern capture` on a real interface: network namespaces joined by a veth pair, real
//! clients and servers, the daemon stopped with SIGTERM, and its store compared with a replay
//! of the same packets (recorded by tcpdump on the same interface at the same time).
//!
//! These tests need root and the tools in `tests/live/net.sh`; without them they say so and
//! pass, except under CI (`CI` set), where a missing tool fails them.

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOOLS: [&str; 9] = [
    "ip",
    "ethtool",
    "dnsmasq",
    "tcpdump",
    "tcpreplay",
    "curl",
    "python3",
    "openssl",
    "dig",
];

fn lantern() -> &'static str {
    env!("CARGO_BIN_EXE_lantern")
}

fn live_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/live")
}

/// Whether this machine can run the live tests; under CI it must.
fn can_run(test: &str) -> bool {
    let mut missing: Vec<&str> = TOOLS
        .iter()
        .copied()
        .filter(|t| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect();
    if !nix::unistd::geteuid().is_root() {
        missing.push("root");
    }
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: needs {} (CI must run it)",
        missing.join(", ")
    );
    eprintln!("{test}: skipped, needs {}", missing.join(", "));
    false
}

/// Two namespaces and their servers, removed on drop.
struct Net {
    tag: &'static str,
    n: u8,
    dir: tempfile::TempDir,
}

impl Net {
    fn up(tag: &'static str, n: u8) -> Net {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("bash")
            .arg(live_dir().join("net.sh"))
            .args(["up", tag, &n.to_string()])
            .arg(dir.path().join("net"))
            .status()
            .unwrap();
        assert!(status.success(), "net.sh up {tag} failed");
        Net { tag, n, dir }
    }

    fn server_ns(&self) -> String {
        format!("lt-{}-s", self.tag)
    }

    fn client_ns(&self) -> String {
        format!("lt-{}-c", self.tag)
    }

    fn server_if(&self) -> String {
        format!("{}s", self.tag)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `args` in the server namespace with stderr to `log`.
    fn spawn_in_server(&self, args: &[&str], log: &str) -> Child {
        let log = std::fs::File::create(self.path(log)).unwrap();
        Command::new("ip")
            .args(["netns", "exec", &self.server_ns()])
            .args(args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    fn traffic(&self) {
        let status = Command::new("bash")
            .arg(live_dir().join("traffic.sh"))
            .args([self.tag, &self.n.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "traffic.sh failed");
    }

    fn in_client(&self, args: &[&str]) {
        let status = Command::new("ip")
            .args(["netns", "exec", &self.client_ns()])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "{args:?} failed");
    }

    /// The metrics page, fetched inside the server namespace.
    fn metrics(&self, port: u16) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.server_ns(), "curl", "-sf"])
            .arg(format!("http://127.0.0.1:{port}/metrics"))
            .output()
            .unwrap();
        assert!(out.status.success(), "metrics endpoint did not answer");
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(live_dir().join("net.sh"))
            .args(["down", self.tag])
            .arg(self.dir.path().join("net"))
            .status();
    }
}

/// Waits until `log` contains `text`.
fn wait_for(log: &Path, text: &str, child: &mut Child) {
    let started = Instant::now();
    loop {
        let seen = std::fs::read_to_string(log).unwrap_or_default();
        if seen.contains(text) {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("exited with {status} before {text:?}: {seen}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no {text:?} in {}: {seen}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends SIGTERM and waits for the exit; returns the exit code and how long it took.
fn terminate(child: &mut Child) -> (Option<i32>, Duration) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let sent = Instant::now();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code(), sent.elapsed());
        }
        if sent.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("did not stop within 30 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Columns holding capture times, in microseconds.
const TIMES: [&str; 4] = ["ts_us", "end_ts_us", "first_seen_us", "last_seen_us"];

/// Every row of `table` (without its rowid) as text, and its capture times apart; sorted.
///
/// Times are kept apart because two capture sockets on one interface do not see the same
/// time: on a veth the kernel stamps each packet for each socket as it hands it over, so
/// tcpdump's copy and lantern's differ by a microsecond or so.
fn rows(db: &Path, table: &str) -> Vec<(String, Vec<i64>)> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn.prepare(&format!("SELECT * FROM {table}")).unwrap();
    let names: Vec<String> = stmt.column_names().map(str::to_string).collect();
    let mut out: Vec<(String, Vec<i64>)> = stmt
        .query_map([], |row| {
            let mut cells = Vec::new();
            let mut times = Vec::new();
            for (i, name) in names.iter().enumerate() {
                if name == "id" {
                    continue;
                }
                if TIMES.contains(&name.as_str()) {
                    times.push(row.get(i)?);
                    continue;
                }
                let value: rusqlite::types::Value = row.get(i)?;
                cells.push(format!("{name}={value:?}"));
            }
            Ok((cells.join(" "), times))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    out.sort();
    out
}

/// Asserts that two stores hold the same rows, with times at most 1 ms apart.
fn assert_same_rows(live: &Path, replayed: &Path) {
    for table in ["flows", "dns", "rollups_hourly"] {
        let a = rows(live, table);
        let b = rows(replayed, table);
        let text = |rows: &[(String, Vec<i64>)]| -> Vec<String> {
            rows.iter().map(|r| r.0.clone()).collect()
        };
        assert_eq!(
            text(&a),
            text(&b),
            "{table} differs between capture and replay"
        );
        for ((row, ta), (_, tb)) in a.iter().zip(&b) {
            for (x, y) in ta.iter().zip(tb) {
                assert!(
                    (x - y).abs() <= 1000,
                    "{table}: times {ta:?} vs {tb:?} in {row}"
                );
            }
        }
    }
}

#[test]
fn live_capture_stores_what_replaying_the_same_packets_stores() {
    if !can_run("live_capture_stores_what_replaying_the_same_packets_stores") {
        return;
    }
    let net = Net::up("lc", 7);
    let iface = net.server_if();
    let pcap = net.path("traffic.pcap");
    let live_db = net.path("live.db");
    let mut tcpdump = net.spawn_in_server(
        &[
            "tcpdump",
            "-Z",
            "root",
            "-i",
            &iface,
            "-s",
            "0",
            "-B",
            "65536",
            "-U",
            "-w",
            pcap.to_str().unwrap(),
        ],
        "tcpdump.log",
    );
    wait_for(&net.path("tcpdump.log"), "listening on", &mut tcpdump);
    let mut daemon = net.spawn_in_server(
        &[
            lantern(),
            "capture",
            "-i",
            &iface,
            "--store",
            live_db.to_str().unwrap(),
            "--sensor",
            "s1",
            "--metrics",
            "127.0.0.1:9811",
            "--status-interval",
            "1",
        ],
        "lantern.log",
    );
    wait_for(&net.path("lantern.log"), "capturing on", &mut daemon);
    net.traffic();
    std::thread::sleep(Duration::from_millis(1500));
    let metrics = net.metrics(9811);
    let value = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {metrics}"))
    };
    assert!(value("lantern_packets_total ") > 200, "{metrics}");
    assert_eq!(value("lantern_drops_total{where=\"kernel\"} "), 0);
    assert!(metrics.contains("lantern_store_backlog_rows"), "{metrics}");

    let (code, took) = terminate(&mut daemon);
    let log = std::fs::read_to_string(net.path("lantern.log")).unwrap();
    assert_eq!(code, Some(0), "{log}");
    assert!(took < Duration::from_secs(5), "took {took:?} to stop");
    assert!(log.contains("lantern: status: up "), "{log}");
    assert!(log.contains("lantern: stopped: "), "{log}");
    terminate(&mut tcpdump);

    let replay_db = net.path("replay.db");
    let out = Command::new(lantern())
        .args(["replay", "-q", "--sensor", "s1", "--store"])
        .arg(&replay_db)
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert_same_rows(&live_db, &replay_db);
    // And the traffic is what it should be: every client named and attributed.
    let live: Vec<String> = rows(&live_db, "flows").into_iter().map(|r| r.0).collect();
    let client = format!("10.6{}.0.1", net.n);
    for (app, how) in [
        ("openai-chatgpt", "tls_sni"),
        ("openai-api", "tls_sni"),
        ("anthropic-claude", "tls_sni"),
        ("google-gemini", "dns_answer"),
    ] {
        assert!(
            live.iter()
                .any(|r| r.contains(&format!("app_id=Text(\"{app}\")"))
                    && r.contains(&format!("name_source=Text(\"{how}\")"))
                    && r.contains(&format!("user=Text(\"{client}\")"))),
            "no {app} flow named by {how} from {client}: {live:#?}"
        );
    }
    // identity.pcap, replayed into the link: Kerberos and DHCP name its users.
    assert!(
        live.iter()
            .any(|r| r.contains("user=Text(\"alice@CORP.EXAMPLE\")")
                && r.contains("user_source=Text(\"kerberos\")")),
        "{live:#?}"
    );
    assert!(
        live.iter()
            .any(|r| r.contains("user=Text(\"build-server\")")),
        "{live:#?}"
    );
    let lookups: Vec<String> = rows(&live_db, "dns").into_iter().map(|r| r.0).collect();
    assert!(
        lookups.iter().any(|r| r.contains("query=Text(\"newtool.ai\")") && r.contains("candidate=Integer(1)")),
        "{lookups:#?}"
    );
}
