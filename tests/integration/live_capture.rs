//! `lantern capture` on a real interface: network namespaces joined by a veth pair, real
//! clients and servers, the daemon stopped with SIGTERM, and its store compared with a replay
//! of the same packets (recorded by tcpdump on the same interface at the same time).
//!
//! These tests need root and the tools in `tests/live/net.sh`; without them they say so and
//! pass, except under CI (`CI` set), where a missing tool fails them.

use crate::common;

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOOLS: [&str; 12] = [
    "ip",
    "ethtool",
    "dnsmasq",
    "tcpdump",
    "tcpreplay",
    "curl",
    "python3",
    "openssl",
    "dig",
    "setpriv",
    "logrotate",
    "editcap",
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

    /// `lantern capture -i <the server's link> ARGS` in the server namespace, logging to
    /// `lantern.log`, once it is capturing.
    fn capture(&self, args: &[&str]) -> Child {
        let iface = self.server_if();
        let command = [&[lantern(), "capture", "-i", &iface][..], args].concat();
        let mut daemon = self.spawn_in_server(&command, "lantern.log");
        wait_for(&self.path("lantern.log"), "capturing on", &mut daemon);
        daemon
    }

    /// tcpdump recording the server's link to `pcap`, once it listens.
    fn record(&self, pcap: &Path) -> Child {
        let iface = self.server_if();
        let pcap = pcap.to_str().unwrap();
        let args = [
            "tcpdump", "-Z", "root", "-i", &iface, "-s", "0", "-B", "65536", "-U", "-w", pcap,
        ];
        let mut tcpdump = self.spawn_in_server(&args, "tcpdump.log");
        wait_for(&self.path("tcpdump.log"), "listening on", &mut tcpdump);
        tcpdump
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

/// Waits until `done` holds, for at most 20 s, failing if `child` exits first.
fn wait_until(what: &str, child: &mut Child, done: impl Fn() -> bool, seen: impl Fn() -> String) {
    let started = Instant::now();
    while !done() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("exited with {status} before {what}: {}", seen());
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no {what}: {}",
            seen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until `log` contains `text`.
fn wait_for(log: &Path, text: &str, child: &mut Child) {
    let seen = || std::fs::read_to_string(log).unwrap_or_default();
    wait_until(
        &format!("{text:?} in {}", log.display()),
        child,
        || seen().contains(text),
        seen,
    );
}

/// `lantern status --format json ARGS` (in namespace `ns`, if given): whether it exited 0,
/// and its sensors.
fn sensor_status(ns: Option<&str>, args: &[&str]) -> (bool, Vec<serde_json::Value>) {
    let mut command = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, lantern()]);
            c
        }
        None => Command::new(lantern()),
    };
    let out = command
        .args(["status", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let sensors = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "lantern status: {e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), sensors)
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

/// A row as text, without its rowid, its capture times and its flow id, which are apart.
type Row = (String, Vec<i64>, Option<i64>);

/// Every row of `table`, sorted.
///
/// Times are kept apart because two capture sockets on one interface do not see the same
/// time: on a veth the kernel stamps each packet for each socket as it hands it over, so
/// tcpdump's copy and lantern's differ by a microsecond or so. Flow ids are packet numbers, so
/// they are shifted by the packets one capture saw before the other started.
fn rows(db: &Path, table: &str) -> Vec<Row> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn.prepare(&format!("SELECT * FROM {table}")).unwrap();
    let names: Vec<String> = stmt.column_names().map(str::to_string).collect();
    let mut out: Vec<Row> = stmt
        .query_map([], |row| {
            let mut cells = Vec::new();
            let mut times = Vec::new();
            let mut flow_id = None;
            for (i, name) in names.iter().enumerate() {
                match name.as_str() {
                    "id" => {}
                    "flow_id" => flow_id = Some(row.get(i)?),
                    time if TIMES.contains(&time) => times.push(row.get(i)?),
                    _ => {
                        let value: rusqlite::types::Value = row.get(i)?;
                        cells.push(format!("{name}={value:?}"));
                    }
                }
            }
            Ok((cells.join(" "), times, flow_id))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    out.sort();
    out
}

/// Asserts that two stores hold the same rows, with times at most 1 ms apart and every flow id
/// shifted by the same few packets.
fn assert_same_rows(live: &Path, replayed: &Path) {
    let mut shifts = std::collections::BTreeSet::new();
    for table in ["flows", "dns", "rollups_hourly"] {
        let a = rows(live, table);
        let b = rows(replayed, table);
        let text = |rows: &[Row]| -> Vec<String> { rows.iter().map(|r| r.0.clone()).collect() };
        assert_eq!(
            text(&a),
            text(&b),
            "{table} differs between capture and replay"
        );
        for ((row, ta, ia), (_, tb, ib)) in a.iter().zip(&b) {
            for (x, y) in ta.iter().zip(tb) {
                assert!(
                    (x - y).abs() <= 1000,
                    "{table}: times {ta:?} vs {tb:?} in {row}"
                );
            }
            if let (Some(x), Some(y)) = (ia, ib) {
                shifts.insert(x - y);
            }
        }
    }
    assert_eq!(shifts.len(), 1, "flow ids shifted by {shifts:?}");
    assert!(
        shifts.iter().all(|s: &i64| s.abs() < 10),
        "flow ids shifted by {shifts:?}"
    );
}

#[test]
fn live_capture_stores_what_replaying_the_same_packets_stores() {
    if !can_run("live_capture_stores_what_replaying_the_same_packets_stores") {
        return;
    }
    let net = Net::up("lc", 7);
    let pcap = net.path("traffic.pcap");
    let live_db = net.path("live.db");
    let mut tcpdump = net.record(&pcap);
    let mut daemon = net.capture(&[
        "--store",
        live_db.to_str().unwrap(),
        "--sensor",
        "s1",
        "--metrics",
        "127.0.0.1:9811",
        "--status-interval",
        "1",
    ]);
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

    let replay_db = replay_into_store(&pcap, &net.path("replay.db"));

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

/// `lantern replay` of `pcap` into the SQLite store `db`, as sensor `s1`; returns `db`.
fn replay_into_store(pcap: &Path, db: &Path) -> PathBuf {
    let out = Command::new(lantern())
        .args(["replay", "-q", "--sensor", "s1", "--store"])
        .arg(db)
        .arg(pcap)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    db.to_path_buf()
}

/// Asserts that every thread of `pid` runs as `nobody`, holds no capability and has
/// `no_new_privs` set: capabilities and `no_new_privs` belong to each thread, so a thread started
/// before the drop can keep what the main one gave up. Call it once the threads in question exist:
/// it fails if there is only one task, so that it cannot pass without looking at any thread.
fn assert_unprivileged(pid: u32) {
    let tasks = tasks(pid);
    assert!(
        tasks.len() > 1,
        "only {} task(s) in /proc/{pid}/task: {:?}",
        tasks.len(),
        tasks.iter().map(|(tid, _)| tid).collect::<Vec<_>>()
    );
    let wrong: Vec<String> = tasks
        .iter()
        .filter_map(|(tid, status)| {
            let line = |key: &str| -> &str {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(key))
                    .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/task/{tid}/status"))
                    .trim()
            };
            let want = [
                ("Uid:", "65534\t65534\t65534\t65534"),
                ("CapEff:", "0000000000000000"),
                ("CapPrm:", "0000000000000000"),
                ("CapAmb:", "0000000000000000"),
                ("NoNewPrivs:", "1"),
            ];
            let kept: Vec<String> = want
                .iter()
                .filter(|(key, value)| line(key) != *value)
                .map(|(key, _)| format!("{key} {}", line(key)))
                .collect();
            (!kept.is_empty())
                .then(|| format!("task {tid} ({}): {}", line("Name:"), kept.join(", ")))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} tasks keep privileges:\n{}",
        wrong.len(),
        tasks.len(),
        wrong.join("\n")
    );
}

/// Every task (thread) of `pid` with its /proc/PID/task/TID/status; a thread that ended while
/// being read is left out.
fn tasks(pid: u32) -> Vec<(u32, String)> {
    let mut tasks: Vec<(u32, String)> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|entry| {
            let tid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let status = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).ok()?;
            Some((tid, status))
        })
        .collect();
    tasks.sort();
    tasks
}

/// A line of /proc/PID/status.
fn proc_status(pid: u32, key: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
        .trim()
        .to_string()
}

#[test]
fn sighup_reloads_catalog_and_identity_without_losing_flows_running_unprivileged() {
    if !can_run("sighup_reloads_catalog_and_identity_without_losing_flows_running_unprivileged") {
        return;
    }
    let net = Net::up("lr", 8);
    // Everything the daemon writes lives in a folder that belongs to `nobody`.
    let state = net.path("state");
    let catalogs = net.path("catalog.d");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::create_dir_all(&catalogs).unwrap();
    std::os::unix::fs::chown(&state, Some(65534), None).unwrap();
    let identity = net.path("identity.csv");
    std::fs::write(&identity, "10.68.0.1/32,carol,carol-pc,finance,user\n").unwrap();
    let store = state.join("lantern.db");
    let config = net.path("lantern.toml");
    std::fs::write(
        &config,
        format!(
            "interface = [\"{}\"]\nuser = \"nobody\"\nstore = \"{}\"\ncatalog = [\"{}\"]\nidentity = \"{}\"\nsensor = \"s2\"\nstatus-interval = 0\nflush-interval = 1\n",
            net.server_if(),
            store.display(),
            catalogs.display(),
            identity.display()
        ),
    )
    .unwrap();
    let mut daemon = net.spawn_in_server(
        &[lantern(), "capture", "--config", config.to_str().unwrap()],
        "lantern.log",
    );
    let log = net.path("lantern.log");
    wait_for(&log, "capturing on", &mut daemon);

    let pid = daemon.id();

    // A TLS connection to newtool.ai opens before the reload and ends after it.
    let long = Command::new("ip")
        .args(["netns", "exec", &net.client_ns(), "python3", "-c"])
        .arg(
            "import socket, ssl, time\n\
             c = ssl.create_default_context(); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE\n\
             s = c.wrap_socket(socket.create_connection(('newtool.ai', 443)), server_hostname='newtool.ai')\n\
             time.sleep(8)\n\
             s.sendall(b'GET / HTTP/1.1\\r\\nHost: newtool.ai\\r\\nConnection: close\\r\\n\\r\\n')\n\
             while s.recv(4096): pass\n",
        )
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    net.in_client(&[
        "curl",
        "-sk",
        "-o",
        "/dev/null",
        "https://newtool.ai/before",
    ]);
    // A closed TCP flow lingers 2 s for trailing packets; its record reaches the sequencer at
    // the next tick (each second) after that.
    std::thread::sleep(Duration::from_millis(4000));
    // With `flush-interval = 1` it is in the store while the daemon runs.
    let stored = || -> i64 {
        Connection::open(&store)
            .and_then(|c| {
                c.query_row(
                    "SELECT count(*) FROM flows WHERE server_name = 'newtool.ai'",
                    [],
                    |r| r.get(0),
                )
            })
            .unwrap_or(0)
    };
    let started = Instant::now();
    while stored() < 1 && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(stored(), 1, "the first flow was not flushed while running");
    // The running sensor's health is in the store, written with the same flushes.
    let db = store.to_str().unwrap();
    let (ok, sensors) = sensor_status(None, &["--store", db, "--silent-after", "60"]);
    assert!(ok, "{sensors:?}");
    assert_eq!(sensors.len(), 1, "{sensors:?}");
    let running = &sensors[0];
    assert_eq!(running["sensor"], "s2");
    assert_eq!(running["state"], "ok");
    assert_eq!(running["interfaces"], net.server_if().as_str());
    assert!(running["packets"].as_u64().unwrap() > 0, "{running}");
    assert!(running["started_us"].as_i64() <= running["ts_us"].as_i64());
    // Unprivileged: the `nobody` user, no capability, no way back, in every thread (a flow
    // went through, so the capture's threads exist).
    assert_unprivileged(pid);

    std::fs::write(
        catalogs.join("newtool.toml"),
        "[[app]]\nid = \"newtool\"\nname = \"New Tool\"\nvendor = \"New Tool Inc.\"\ncategory = \"chat_assistant\"\ndomains = [\"newtool.ai\"]\nsources = [\"test\"]\n",
    )
    .unwrap();
    std::fs::write(&identity, "10.68.0.1/32,dave,dave-pc,legal,user\n").unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    wait_for(&log, "lantern: reloaded catalog", &mut daemon);
    net.in_client(&["curl", "-sk", "-o", "/dev/null", "https://newtool.ai/after"]);
    let status = { long }.wait_with_output().unwrap().status;
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(300));

    let (code, _) = terminate(&mut daemon);
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("identity map (1 entries)"), "{text}");
    // Stopped, it goes silent: past --silent-after, status says so and exits 1.
    std::thread::sleep(Duration::from_millis(2200));
    let (ok, sensors) = sensor_status(None, &["--store", db, "--silent-after", "1"]);
    assert!(!ok, "{sensors:?}");
    assert_eq!(sensors[0]["state"], "silent");
    assert!(sensors[0]["seconds_since_write"].as_i64().unwrap() >= 2);
    assert_eq!(sensors[0]["started_us"], running["started_us"]);
    assert!(sensors[0]["packets"].as_u64() >= running["packets"].as_u64());
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&store).unwrap().uid(), 65534);

    // Flows are classified and attributed when they end: the one that ended before the
    // reload with the old catalog and map, the two that ended after it with the new ones.
    let conn = Connection::open(&store).unwrap();
    let mut stmt = conn
        .prepare("SELECT user, device, user_group, app_id FROM flows WHERE server_name = 'newtool.ai' ORDER BY end_ts_us")
        .unwrap();
    let flows: Vec<(String, String, String, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let s = |v: &str| v.to_string();
    assert_eq!(
        flows,
        [
            (s("carol"), s("carol-pc"), s("finance"), None),
            (s("dave"), s("dave-pc"), s("legal"), Some(s("newtool"))),
            (s("dave"), s("dave-pc"), s("legal"), Some(s("newtool"))),
        ],
        "{text}"
    );
}

/// A pcap of `n` TCP SYNs, each opening a new flow (distinct source address and port).
fn syn_flood(path: &Path, n: u32) {
    let mut pcap = common::synth::PcapWriter::create(path);
    for i in 0..n {
        let src = [10, 70, (i >> 16) as u8, (i >> 8) as u8];
        let port = 1024 + (i & 0xff) as u16;
        let frame = common::synth::syn(src, [10, 71, 0, 1], port, 443, i);
        pcap.frame(u64::from(i) * 1000, &frame);
    }
}

/// Kilobytes in a `VmRSS:`-style line.
fn kib(line: &str) -> u64 {
    line.trim_end_matches(" kB").trim().parse().unwrap()
}

#[test]
fn a_flood_of_new_flows_evicts_and_counts_and_memory_stays_bounded() {
    if !can_run("a_flood_of_new_flows_evicts_and_counts_and_memory_stays_bounded") {
        return;
    }
    let max_flows: u32 = std::env::var("LANTERN_FLOOD_MAX_FLOWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let net = Net::up("lf", 9);
    let flood = net.path("flood.pcap");
    let flows = 400_000;
    syn_flood(&flood, flows);
    let mut daemon = net.capture(&[
        "--no-store",
        "--max-flows",
        &max_flows.to_string(),
        "--buffer-mib",
        "8",
        "--metrics",
        "127.0.0.1:9813",
        "--status-interval",
        "0",
    ]);
    let pid = daemon.id();
    let before = kib(&proc_status(pid, "VmRSS:"));
    net.in_client(&[
        "tcpreplay",
        "-q",
        "--pps",
        "100000",
        "-i",
        &format!("{}c", net.tag),
        flood.to_str().unwrap(),
    ]);
    // Workers publish their counters at each tick: wait until every flow is counted.
    let value = |metrics: &str, name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {metrics}"))
    };
    let started = Instant::now();
    let metrics = loop {
        let metrics = net.metrics(9813);
        let created = value(&metrics, "lantern_flows_created_total ");
        if created >= u64::from(flows) || started.elapsed() > Duration::from_secs(15) {
            break metrics;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let value = |name: &str| value(&metrics, name);
    let peak = kib(&proc_status(pid, "VmHWM:"));
    let (code, _) = terminate(&mut daemon);
    assert_eq!(code, Some(0));
    let captured = value("lantern_packets_total ");
    let evicted = value("lantern_flows_evicted_total ");
    let open = value("lantern_flows_open ");
    eprintln!(
        "flood: {captured} packets captured, {evicted} flows evicted, {open} open; RSS {before} KiB at start, peak {peak} KiB"
    );
    assert!(captured > u64::from(flows) / 2, "{metrics}");
    assert!(open <= u64::from(max_flows), "{open} flows open");
    let created = value("lantern_flows_created_total ");
    // Each flow is one packet: one a busy machine's queue dropped (counted) made no flow.
    let dropped = value("lantern_capture_queue_drops_total ");
    assert!(created + dropped >= u64::from(flows), "{metrics}");
    assert_eq!(evicted + open, created, "{metrics}");
    // The flow table, its per-flow state, the ring buffer and the records of one tick (at most
    // TICK_PACKETS), whatever the number of flows: about 14 MiB here. (Without the cap,
    // --max-flows 1000000, the same flood grows it by about 115 MiB; with ticks every 65,536
    // packets and each epoch copied into one list, this grew by 34-52 MiB.)
    assert!(
        peak - before < 32 * 1024,
        "RSS grew by {} KiB",
        peak - before
    );
}

#[test]
fn capabilities_granted_like_systemd_does_are_dropped_once_the_interface_is_open() {
    if !can_run("capabilities_granted_like_systemd_does_are_dropped_once_the_interface_is_open") {
        return;
    }
    let net = Net::up("la", 4);
    // As dist/lantern.service runs it: an unprivileged user holding only CAP_NET_RAW and
    // CAP_NET_ADMIN (here from setpriv, there from AmbientCapabilities=).
    let mut daemon = net.spawn_in_server(
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all,+net_raw,+net_admin",
            "--ambient-caps=-all,+net_raw,+net_admin",
            "--bounding-set=-all,+net_raw,+net_admin",
            lantern(),
            "capture",
            "-i",
            &net.server_if(),
            "--no-store",
            "--metrics",
            "127.0.0.1:9816",
            "--status-interval",
            "0",
        ],
        "lantern.log",
    );
    let log = net.path("lantern.log");
    wait_for(&log, "capturing on", &mut daemon);
    until_traffic_is_counted(&net, 9816);
    assert_unprivileged(daemon.id());
    let (code, _) = terminate(&mut daemon);
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(code, Some(0), "{text}");
    let packets: u64 = text
        .split("lantern: stopped: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no final line in {text}"));
    assert!(packets >= 10, "{text}");
}

#[test]
fn started_as_root_with_user_and_metrics_no_thread_keeps_root_or_a_capability() {
    if !can_run("started_as_root_with_user_and_metrics_no_thread_keeps_root_or_a_capability") {
        return;
    }
    let net = Net::up("lp", 3);
    // A port below 1024: only root can bind it, so it answering shows the port is bound before
    // the drop and served after it.
    let mut daemon = net.capture(&[
        "--user",
        "nobody",
        "--no-store",
        "--metrics",
        "127.0.0.1:981",
        "--status-interval",
        "0",
    ]);
    let log = net.path("lantern.log");
    until_traffic_is_counted(&net, 981);
    let pid = daemon.id();
    assert_unprivileged(pid);
    // The metrics server's threads are among those checked: the one answering and tiny_http's
    // own, which take its name.
    let serving = tasks(pid)
        .iter()
        .filter(|(_, status)| status.lines().next() == Some("Name:\tmetrics"))
        .count();
    assert!(serving >= 2, "{serving} thread(s) named metrics");
    let (code, _) = terminate(&mut daemon);
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(code, Some(0), "{text}");
}

/// Sends a TLS connection through the capture and waits until the metrics endpoint counts its
/// packets: then the metrics server's threads have answered, and the capture's threads, which
/// counted the packets, exist too.
fn until_traffic_is_counted(net: &Net, port: u16) {
    net.in_client(&["curl", "-sk", "-o", "/dev/null", "https://chatgpt.com/"]);
    let limit = Duration::from_secs(20);
    wait_metrics(net, port, limit, "packets counted", |m| {
        metric(m, "lantern_packets_total ") >= 10
    });
}

/// A metric's value on a metrics page.
fn metric(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {metrics}"))
}

/// Polls the metrics page until `done` holds, up to `limit`.
fn wait_metrics(net: &Net, port: u16, limit: Duration, what: &str, done: impl Fn(&str) -> bool) {
    let started = Instant::now();
    loop {
        let metrics = net.metrics(port);
        if done(&metrics) {
            return;
        }
        assert!(started.elapsed() < limit, "{what}: {metrics}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_sensor_keeps_every_row_across_a_clickhouse_outage_without_restarting() {
    let test = "a_sensor_keeps_every_row_across_a_clickhouse_outage_without_restarting";
    if !can_run(test) {
        return;
    }
    let net = Net::up("lh", 5);
    let Some(mut server) = common::clickhouse::ClickHouse::start_in(&net.server_ns()) else {
        return;
    };
    let url = server.url("live");
    let spool = net.path("spool");
    let mut init = net.spawn_in_server(&[lantern(), "store", "init", "--store", &url], "init.log");
    assert!(init.wait().unwrap().success(), "store init failed");
    let mut daemon = net.capture(&[
        "--store",
        &url,
        "--spool",
        spool.to_str().unwrap(),
        "--sensor",
        "s1",
        "--flush-interval",
        "1",
        "--metrics",
        "127.0.0.1:9815",
        "--status-interval",
        "1",
    ]);
    let rows =
        |server: &common::clickhouse::ClickHouse| server.count("SELECT count() FROM live.flows");
    // Up: rows arrive within a flush or two.
    net.traffic();
    let started = Instant::now();
    while rows(&server) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no rows arrived"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Down: batches wait in the spool and sending fails.
    server.kill();
    net.traffic();
    let limit = Duration::from_secs(20);
    wait_metrics(&net, 9815, limit, "spooling while down", |m| {
        metric(m, "lantern_clickhouse_spool_batches ") > 0
            && metric(m, "lantern_clickhouse_failures_total ") > 0
    });
    // Back: the running sensor sends every batch that waited, by itself. (The spool is not
    // empty at every instant: each write, once a second here, spools the sensor's health.) An
    // attempt that met the server half started may wait out its 60 s timeout, then the backoff
    // (up to 30 s): allow both.
    let before = net.metrics(9815);
    let waiting = metric(&before, "lantern_clickhouse_spool_batches ");
    let sent = metric(&before, "lantern_clickhouse_batches_sent_total ");
    server.restart();
    wait_metrics(&net, 9815, Duration::from_secs(150), "spool sent", |m| {
        metric(m, "lantern_clickhouse_batches_sent_total ") >= sent + waiting
    });
    net.traffic();
    let (code, _) = terminate(&mut daemon);
    let log = std::fs::read_to_string(net.path("lantern.log")).unwrap();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("ClickHouse is back; sending the spool"),
        "{log}"
    );
    assert!(!log.contains("left in the spool"), "{log}");
    // Its health arrived through the spool too: the latest write's, one row for the sensor.
    let (ok, sensors) = sensor_status(Some(&net.server_ns()), &["--store", &url]);
    assert!(ok, "{sensors:?}");
    assert_eq!(sensors.len(), 1, "{sensors:?}");
    assert_eq!(sensors[0]["sensor"], "s1");
    assert_eq!(sensors[0]["spool_dropped_batches"], 0);
    assert!(sensors[0]["packets"].as_u64().unwrap() > 0);
    // Every row the sensor wrote is there once: its own count, no repeats, rollups that add up.
    let final_line = log
        .lines()
        .find(|l| l.starts_with("lantern: stopped:"))
        .unwrap_or_else(|| panic!("no final line: {log}"));
    let written = |what: &str| -> u64 {
        let at = final_line
            .find(what)
            .unwrap_or_else(|| panic!("{final_line}"));
        let digits: String = final_line[..at]
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.chars().rev().collect::<String>().parse().unwrap()
    };
    let (flows, lookups) = (written(" flow rows"), written(" DNS rows"));
    assert!(flows > 0 && lookups > 0, "{final_line}");
    assert_eq!(rows(&server), flows, "{final_line}");
    assert_eq!(server.count("SELECT count() FROM live.dns"), lookups);
    assert_eq!(
        server.count(
            "SELECT uniqExact(ts_us, flow_id, client_ip, client_port, server_port) FROM live.flows"
        ),
        flows
    );
    assert_eq!(
        server.count("SELECT uniqExact(ts_us, flow_id, query, qtype, client_port) FROM live.dns"),
        lookups
    );
    assert_eq!(
        server.count("SELECT sum(flows) FROM live.rollups_hourly"),
        server.count("SELECT count() FROM live.flows WHERE app_id IS NOT NULL")
    );
}

/// Stops the thread named `thread` of process `pid` for `seconds`, for real (ptrace, see
/// `tests/live/stall.py`), then lets it run on.
fn stall(pid: u32, thread: &str, seconds: u32) {
    let out = Command::new("python3")
        .arg(live_dir().join("stall.py"))
        .args([&pid.to_string(), thread, &seconds.to_string()])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("stopped ") && said.contains("resumed "),
        "stall.py {pid} {thread}: {said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_stalled_worker_misses_ticks_is_caught_up_and_the_store_matches_a_replay() {
    let test = "a_stalled_worker_misses_ticks_is_caught_up_and_the_store_matches_a_replay";
    if !can_run(test) {
        return;
    }
    let net = Net::up("le", 2);
    let pcap = net.path("traffic.pcap");
    let live_db = net.path("live.db");
    let mut tcpdump = net.record(&pcap);
    // As root without --user, so that the test (root) may ptrace it.
    let mut daemon = net.capture(&[
        "--threads",
        "2",
        "--store",
        live_db.to_str().unwrap(),
        "--sensor",
        "s1",
        "--metrics",
        "127.0.0.1:9817",
        "--status-interval",
        "1",
    ]);
    let missed = |m: &str| metric(m, "lantern_epoch_ticks_missed_total ");
    assert_eq!(missed(&net.metrics(9817)), 0);

    // Worker 0 stopped for 12 s on a quiet link: the sequencer thread's once-a-second ticks
    // fill its queue (8 messages) and the rest miss it. The sequencer goes on meanwhile.
    stall(daemon.id(), "lantern-worker0", 12);
    // Its next tick tells it how many it missed.
    wait_metrics(&net, 9817, Duration::from_secs(20), "ticks missed", |m| {
        missed(m) > 0
    });

    // Then traffic, with more lookups each followed by a connection that only its DNS answer
    // names, so that some answer and the flow it names are on different workers. Were the
    // workers' epochs still paired by position, worker 1's records would reach the sequencer
    // ticks late (a flow could be named before the answer that names it came) and its last
    // parts would never find a partner (the flows in them would be lost at stop: the old
    // pairing failed this test that way).
    net.traffic();
    let nosni = 8;
    let clients = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/tools/python_clients.py");
    for _ in 0..nosni {
        net.in_client(&[
            "python3",
            clients.to_str().unwrap(),
            "nosni",
            "gemini.google.com",
        ]);
    }
    std::thread::sleep(Duration::from_millis(1500));
    let metrics = net.metrics(9817);
    assert!(missed(&metrics) > 0, "{metrics}");
    eprintln!("{test}: {} ticks missed", missed(&metrics));
    for drops in ["kernel", "interface", "queue"] {
        let name = format!("lantern_drops_total{{where=\"{drops}\"}} ");
        assert_eq!(metric(&metrics, &name), 0, "{drops} drops: {metrics}");
    }

    let (code, _) = terminate(&mut daemon);
    let log = std::fs::read_to_string(net.path("lantern.log")).unwrap();
    assert_eq!(code, Some(0), "{log}");
    terminate(&mut tcpdump);

    let replay_db = replay_into_store(&pcap, &net.path("replay.db"));
    assert_same_rows(&live_db, &replay_db);
    // Every connection without SNI was named by the answer to its own lookup.
    let named = rows(&live_db, "flows")
        .into_iter()
        .filter(|r| {
            r.0.contains("server_name=Text(\"gemini.google.com\")")
                && r.0.contains("name_source=Text(\"dns_answer\")")
        })
        .count();
    assert_eq!(named, 1 + nosni, "flows named by DNS answers");
}

/// The flow events in the events file at `path` whose server name is `name`; every line of the
/// file must be one whole JSON object.
fn flow_events(path: &Path, name: &str) -> usize {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap_or_else(|e| panic!("{}: not a whole event: {e}: {line}", path.display()))
        })
        .filter(|e| e["event_type"] == "flow" && e["server_name"] == name)
        .count()
}

/// Waits until the events file at `path` holds a flow event for `name`.
fn wait_for_flow(path: &Path, name: &str, daemon: &mut Child) {
    wait_until(
        &format!("flow to {name} in {}", path.display()),
        daemon,
        || flow_events(path, name) > 0,
        String::new,
    );
}

#[test]
fn logrotate_renames_the_events_file_and_sighup_makes_the_daemon_write_a_new_one() {
    if !can_run("logrotate_renames_the_events_file_and_sighup_makes_the_daemon_write_a_new_one") {
        return;
    }
    let net = Net::up("lg", 1);
    let logs = net.path("log");
    std::fs::create_dir_all(&logs).unwrap();
    let events = logs.join("events.jsonl");
    // A line from an earlier run: the daemon appends, it never truncates.
    std::fs::write(&events, "{\"event_type\":\"earlier\"}\n").unwrap();
    let mut daemon = net.capture(&[
        "--no-store",
        "--events",
        events.to_str().unwrap(),
        "--flush-interval",
        "1",
        "--status-interval",
        "0",
    ]);
    let log = net.path("lantern.log");
    net.in_client(&[
        "curl",
        "-sk",
        "-o",
        "/dev/null",
        "https://chatgpt.com/before",
    ]);
    wait_for_flow(&events, "chatgpt.com", &mut daemon);

    // The shipped logrotate file, for this folder and this daemon, run by the real logrotate.
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/lantern.logrotate"),
    )
    .unwrap();
    let conf = shipped
        .replace("/var/log/lantern/events.jsonl", events.to_str().unwrap())
        .replace("su lantern lantern", "su root root")
        .replace(
            "systemctl reload lantern",
            &format!("kill -HUP {}", daemon.id()),
        );
    assert_ne!(conf, shipped);
    let conf_path = net.path("logrotate.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let out = Command::new("logrotate")
        .arg("-f")
        .arg("-s")
        .arg(net.path("logrotate.state"))
        .arg(&conf_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "logrotate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for(&log, "reloaded events file", &mut daemon);
    let rotated = logs.join("events.jsonl.1");
    assert!(rotated.exists(), "logrotate did not rename the file");

    net.in_client(&["curl", "-sk", "-o", "/dev/null", "https://claude.ai/after"]);
    wait_for_flow(&events, "claude.ai", &mut daemon);
    let (code, _) = terminate(&mut daemon);
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(code, Some(0), "{text}");

    // Each flow is in exactly one file, the one in use when it ended, and every line of both
    // is a whole event.
    assert_eq!(flow_events(&rotated, "chatgpt.com"), 1, "{text}");
    assert_eq!(flow_events(&rotated, "claude.ai"), 0);
    assert_eq!(flow_events(&events, "chatgpt.com"), 0);
    assert_eq!(flow_events(&events, "claude.ai"), 1);
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert!(old.starts_with("{\"event_type\":\"earlier\"}\n"), "{old}");
}

#[test]
fn a_daemon_prunes_what_is_older_than_the_retention_while_it_captures() {
    if !can_run("a_daemon_prunes_what_is_older_than_the_retention_while_it_captures") {
        return;
    }
    let net = Net::up("lq", 6);
    let db = net.path("kept.db");
    // A store holding a capture of 100 days ago (curl-chatgpt.pcap moved with editcap).
    let original = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/curl-chatgpt.pcap");
    let old = net.path("old.pcap");
    let now = lantern::capture::Timestamp::now().secs();
    let first = lantern::capture::CaptureReader::open(&original)
        .unwrap()
        .next_packet()
        .unwrap()
        .unwrap()
        .ts
        .secs();
    let status = Command::new("editcap")
        .arg("-t")
        .arg((now - 100 * 86_400 - first).to_string())
        .arg(&original)
        .arg(&old)
        .status()
        .unwrap();
    assert!(status.success());
    replay_into_store(&old, &db);
    let count = |sql: &str| -> i64 {
        Connection::open(&db)
            .unwrap()
            .query_row(sql, [], |r| r.get(0))
            .unwrap()
    };
    let old_flows = count("SELECT count(*) FROM flows");
    assert!(old_flows > 0);
    let mut daemon = net.capture(&[
        "--store",
        db.to_str().unwrap(),
        "--sensor",
        "s1",
        "--flush-interval",
        "1",
        "--retention-days",
        "90",
    ]);
    let log = net.path("lantern.log");
    wait_for(&log, "pruned", &mut daemon);
    net.traffic();
    std::thread::sleep(Duration::from_millis(2500));
    let (code, _) = terminate(&mut daemon);
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains(&format!("(flows {old_flows}, ")), "{text}");
    let cutoff_us = (now - 90 * 86_400) * 1_000_000;
    assert_eq!(
        count(&format!(
            "SELECT count(*) FROM flows WHERE ts_us < {cutoff_us}"
        )),
        0
    );
    assert_eq!(
        count(&format!(
            "SELECT count(*) FROM dns WHERE ts_us < {cutoff_us}"
        )),
        0
    );
    // The 100-day-old rollups outlive their evidence (400 days by default); the live
    // traffic is stored.
    assert!(
        count(&format!(
            "SELECT count(*) FROM rollups_hourly WHERE hour < {}",
            cutoff_us / 1_000_000
        )) > 0
    );
    assert!(count("SELECT count(*) FROM flows") > 0, "{text}");
}

#[test]
fn a_flow_open_across_active_timeouts_is_stored_while_open_as_a_replay_stores_it() {
    if !can_run("a_flow_open_across_active_timeouts_is_stored_while_open_as_a_replay_stores_it") {
        return;
    }
    let net = Net::up("lo", 0);
    let pcap = net.path("upload.pcap");
    let live_db = net.path("live.db");
    let mut tcpdump = net.record(&pcap);
    let mut daemon = net.capture(&[
        "--store",
        live_db.to_str().unwrap(),
        "--sensor",
        "s1",
        "--active-timeout",
        "2",
        "--flush-interval",
        "1",
    ]);
    // curl uploads 250 kB at 25 kB/s to chatgpt.com: one TLS connection open for ten seconds.
    let body = net.path("body.bin");
    std::fs::write(&body, vec![b'x'; 250_000]).unwrap();
    let mut upload = Command::new("ip")
        .args([
            "netns",
            "exec",
            &net.client_ns(),
            "curl",
            "-sk",
            "--max-time",
            "60",
        ])
        .args(["--limit-rate", "25k", "--data-binary"])
        .arg(format!("@{}", body.display()))
        .arg("https://chatgpt.com/backend-api/files")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Its interim records reach the store while it is still open.
    let interim_rows = |db: &Path| -> i64 {
        Connection::open(db)
            .and_then(|c| {
                c.query_row(
                    "SELECT count(*) FROM flows WHERE app_id = 'openai-chatgpt' AND interim = 1",
                    [],
                    |r| r.get(0),
                )
            })
            .unwrap_or(0)
    };
    let started = Instant::now();
    while interim_rows(&live_db) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no interim row in 30 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        upload.try_wait().unwrap().is_none(),
        "the upload ended before its first interim row was stored"
    );
    assert!(upload.wait().unwrap().success());
    std::thread::sleep(Duration::from_millis(1500));
    let (code, _) = terminate(&mut daemon);
    assert_eq!(code, Some(0));
    terminate(&mut tcpdump);

    // The same records as a replay of the same packets with the same timeout...
    let replay = |db: &Path, timeout: &str| {
        let out = Command::new(lantern())
            .args([
                "replay",
                "-q",
                "--sensor",
                "s1",
                "--active-timeout",
                timeout,
            ])
            .arg("--store")
            .arg(db)
            .arg(&pcap)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let (split_db, whole_db) = (net.path("split.db"), net.path("whole.db"));
    replay(&split_db, "2");
    replay(&whole_db, "0");
    assert_same_rows(&live_db, &split_db);
    // ... several interim rows and a final one, that add up to the flow unsplit.
    let totals = |db: &Path| -> (i64, i64, i64, i64) {
        Connection::open(db)
            .unwrap()
            .query_row(
                "SELECT count(*), sum(interim), sum(part = 0), sum(bytes_up) FROM flows
                 WHERE app_id = 'openai-chatgpt'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap()
    };
    let (rows, interims, firsts, bytes) = totals(&live_db);
    let (whole_rows, _, _, whole_bytes) = totals(&whole_db);
    assert_eq!(whole_rows, 1);
    assert!(interims >= 3, "{interims} interim rows");
    assert_eq!((rows, firsts), (interims + 1, 1));
    assert_eq!(bytes, whole_bytes);
    assert!(bytes > 250_000, "{bytes}");
    // The rollups count the flow once, with all its bytes.
    let rollup = |db: &Path| -> (i64, i64) {
        Connection::open(db)
            .unwrap()
            .query_row(
                "SELECT sum(flows), sum(bytes_up) FROM rollups_hourly WHERE app_id = 'openai-chatgpt'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    };
    assert_eq!(rollup(&live_db), rollup(&whole_db));
}
