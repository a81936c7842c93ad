//! `lantern capture` on a real interface: network namespaces joined by a veth pair, real
//! clients and servers, the daemon stopped with SIGTERM, and its store compared with a replay
//! of the same packets (recorded by tcpdump on the same interface at the same time).
//!
//! The set-up (namespaces, traffic, the daemon, tcpdump) is `common::live`. These tests need
//! root and the tools it names; without them they say so and pass, except under CI (`CI`
//! set), where a missing tool fails them.

use crate::common::clickhouse::ClickHouse;
use crate::common::live::{Daemon, Net, Recorder, lantern, live_dir, metric};
use crate::common::{Replay, arg, sqlite_row, sqlite_rows, sqlite_typed, sqlite_value, wait_for};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

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

/// Columns holding capture times, in microseconds.
const TIMES: [&str; 4] = ["ts_us", "end_ts_us", "first_seen_us", "last_seen_us"];

/// A row: its cells by column (as `sqlite_rows` writes them) without its rowid, its capture
/// times and its flow id, which are apart.
type Row = (Vec<(String, String)>, Vec<i64>, Option<i64>);

/// The cell of `column` in `row`.
fn cell<'r>(row: &'r Row, column: &str) -> &'r str {
    (row.0.iter())
        .find(|(name, _)| name == column)
        .map(|(_, value)| value.as_str())
        .unwrap_or_else(|| panic!("no {column} in {row:?}"))
}

/// Every row of `table`, sorted.
///
/// Times are kept apart because two capture sockets on one interface do not see the same
/// time: on a veth the kernel stamps each packet for each socket as it hands it over, so
/// tcpdump's copy and lantern's differ by a microsecond or so. Flow ids are packet numbers, so
/// they are shifted by the packets one capture saw before the other started.
fn rows(db: &Path, table: &str) -> Vec<Row> {
    let sql = format!("SELECT name FROM pragma_table_info('{table}')");
    let columns: Vec<String> = sqlite_typed::<(String,)>(db, &sql)
        .into_iter()
        .map(|(c,)| c)
        .collect();
    let is_time = |c: &str| TIMES.contains(&c);
    let cells: Vec<&str> = (columns.iter().map(String::as_str))
        .filter(|c| !["id", "flow_id"].contains(c) && !is_time(c))
        .collect();
    let times: Vec<&str> = columns
        .iter()
        .map(String::as_str)
        .filter(|c| is_time(c))
        .collect();
    let flow_id = if columns.iter().any(|c| c == "flow_id") {
        "flow_id"
    } else {
        "NULL"
    };
    let selected = [&cells[..], &[flow_id], &times[..]].concat();
    let sql = format!("SELECT {} FROM {table}", selected.join(", "));
    let mut out: Vec<Row> = sqlite_rows(db, &sql)
        .iter()
        .map(|line| {
            let values: Vec<&str> = line.split('\t').collect();
            let (named, rest) = values.split_at(cells.len());
            let named = (cells.iter().zip(named))
                .map(|(c, v)| (c.to_string(), v.to_string()))
                .collect();
            let flow_id = rest[0].parse().ok();
            let times = rest[1..].iter().map(|t| t.parse().unwrap()).collect();
            (named, times, flow_id)
        })
        .collect();
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
        let text = |rows: &[Row]| -> Vec<Vec<(String, String)>> {
            rows.iter().map(|r| r.0.clone()).collect()
        };
        assert_eq!(
            text(&a),
            text(&b),
            "{table} differs between capture and replay"
        );
        for ((row, ta, ia), (_, tb, ib)) in a.iter().zip(&b) {
            for (x, y) in ta.iter().zip(tb) {
                assert!(
                    (x - y).abs() <= 1000,
                    "{table}: times {ta:?} vs {tb:?} in {row:?}"
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
    let Some(net) = Net::up("lc", 7) else {
        return;
    };
    let (mut daemon, tcpdump) = capture_and_record(
        &net,
        &["--metrics", "127.0.0.1:9811", "--status-interval", "1"],
    );
    let (pcap, live_db) = (net.path("traffic.pcap"), net.path("live.db"));
    net.traffic();
    let metrics = daemon.caught_up();
    let value = |name: &str| metric(&metrics, name);
    assert!(value("lantern_packets_total ") > 200, "{metrics}");
    assert_eq!(value("lantern_drops_total{where=\"kernel\"} "), 0);
    assert!(metrics.contains("lantern_store_backlog_rows"), "{metrics}");
    // The status line, once a second.
    daemon.wait_log("lantern: status: up ");

    let (code, took) = daemon.terminate();
    let log = daemon.log();
    assert_eq!(code, Some(0), "{log}");
    assert!(took < Duration::from_secs(5), "took {took:?} to stop");
    assert!(log.contains("lantern: status: up "), "{log}");
    assert!(log.contains("lantern: stopped: "), "{log}");
    tcpdump.stop();

    let replay_db = net.path("replay.db");
    replay_into_store(&pcap, &replay_db, &[]);

    assert_same_rows(&live_db, &replay_db);
    // And the traffic is what it should be: every client named and attributed.
    let live = rows(&live_db, "flows");
    let client = format!("10.6{}.0.1", net.n);
    for (app, how) in [
        ("openai-chatgpt", "tls_sni"),
        ("openai-api", "tls_sni"),
        ("anthropic-claude", "tls_sni"),
        ("google-gemini", "dns_answer"),
    ] {
        assert!(
            live.iter().any(|r| cell(r, "app_id") == app
                && cell(r, "name_source") == how
                && cell(r, "user") == client),
            "no {app} flow named by {how} from {client}: {live:#?}"
        );
    }
    // identity.pcap, replayed into the link: Kerberos and DHCP name its users.
    assert!(
        live.iter().any(
            |r| cell(r, "user") == "alice@CORP.EXAMPLE" && cell(r, "user_source") == "kerberos"
        ),
        "{live:#?}"
    );
    assert!(
        live.iter().any(|r| cell(r, "user") == "build-server"),
        "{live:#?}"
    );
    let lookups = rows(&live_db, "dns");
    assert!(
        lookups
            .iter()
            .any(|r| cell(r, "query") == "newtool.ai" && cell(r, "candidate") == "1"),
        "{lookups:#?}"
    );
}

/// tcpdump recording the link to `traffic.pcap`, then the daemon storing into `live.db` as
/// sensor `s1`, with `args`: how each test that compares a live store with a replay of the same
/// packets starts.
fn capture_and_record(net: &Net, args: &[&str]) -> (Daemon, Recorder) {
    let tcpdump = net.record(&net.path("traffic.pcap"));
    let live_db = net.path("live.db");
    let store = ["--store", live_db.to_str().unwrap(), "--sensor", "s1"];
    (net.capture(&[&store[..], args].concat()), tcpdump)
}

/// `lantern replay EXTRA` of `pcap` into the SQLite store `db`, as sensor `s1`.
fn replay_into_store(pcap: &Path, db: &Path, extra: &[&str]) {
    Replay::of(&[pcap])
        .store(arg(db))
        .sensor("s1")
        .no_events()
        .args(extra)
        .ok();
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
    let Some(net) = Net::up("lr", 8) else {
        return;
    };
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
    // The metrics port only tells the test when the daemon has read what was sent.
    let mut daemon = net.daemon(&[
        lantern(),
        "capture",
        "--config",
        config.to_str().unwrap(),
        "--metrics",
        "127.0.0.1:9819",
    ]);
    let pid = daemon.pid();

    // A TLS connection to newtool.ai opens before the reload and ends after it: the client
    // says when it is open, and sends its request once its input closes.
    let mut long = net
        .client_command(&[
            "python3",
            "-c",
            "import socket, ssl, sys\n\
             c = ssl.create_default_context(); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE\n\
             s = c.wrap_socket(socket.create_connection(('newtool.ai', 443)), server_hostname='newtool.ai')\n\
             print('connected', flush=True)\n\
             sys.stdin.read()\n\
             s.sendall(b'GET / HTTP/1.1\\r\\nHost: newtool.ai\\r\\nConnection: close\\r\\n\\r\\n')\n\
             while s.recv(4096): pass\n",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(long.stdout.take().unwrap()),
        &mut said,
    )
    .unwrap();
    assert_eq!(said, "connected\n", "the long connection did not open");
    net.in_client(&[
        "curl",
        "-sk",
        "-o",
        "/dev/null",
        "https://newtool.ai/before",
    ]);
    // A closed TCP flow lingers 2 s for trailing packets; its record reaches the sequencer at
    // the next tick (each second) after that, and with `flush-interval = 1` the store while
    // the daemon runs.
    let stored = || -> i64 {
        sqlite_value(
            &store,
            "SELECT count(*) FROM flows WHERE server_name = 'newtool.ai'",
        )
    };
    daemon.wait_until("the first flow flushed while running", || stored() >= 1);
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
    daemon.wait_log("lantern: reloaded catalog");
    net.in_client(&["curl", "-sk", "-o", "/dev/null", "https://newtool.ai/after"]);
    drop(long.stdin.take());
    assert!(long.wait().unwrap().success());
    daemon.caught_up();

    let text = daemon.stop();
    assert!(text.contains("identity map (1 entries)"), "{text}");
    // Stopped, it goes silent: past --silent-after (1 s), so within 2 s of its last write,
    // status says so and exits 1.
    let sensors = wait_for(
        "status saying silent",
        Duration::from_secs(5),
        || {
            let (ok, sensors) = sensor_status(None, &["--store", db, "--silent-after", "1"]);
            (!ok && sensors[0]["state"] == "silent").then_some(sensors)
        },
        String::new,
    );
    assert_eq!(sensors[0]["state"], "silent");
    assert!(sensors[0]["seconds_since_write"].as_i64().unwrap() >= 2);
    assert_eq!(sensors[0]["started_us"], running["started_us"]);
    assert!(sensors[0]["packets"].as_u64() >= running["packets"].as_u64());
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&store).unwrap().uid(), 65534);

    // Flows are classified and attributed when they end: the one that ended before the
    // reload with the old catalog and map, the two that ended after it with the new ones.
    let flows: Vec<(String, String, String, Option<String>)> = sqlite_typed(
        &store,
        "SELECT user, device, user_group, app_id FROM flows WHERE server_name = 'newtool.ai' \
         ORDER BY end_ts_us",
    );
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
    let mut pcap = crate::common::synth::PcapWriter::create(path);
    for i in 0..n {
        let src = [10, 70, (i >> 16) as u8, (i >> 8) as u8];
        let port = 1024 + (i & 0xff) as u16;
        let frame = crate::common::synth::syn(src, [10, 71, 0, 1], port, 443, i);
        pcap.frame(u64::from(i) * 1000, &frame);
    }
}

/// Kilobytes in a `VmRSS:`-style line.
fn kib(line: &str) -> u64 {
    line.trim_end_matches(" kB").trim().parse().unwrap()
}

#[test]
fn a_flood_of_new_flows_evicts_and_counts_and_memory_stays_bounded() {
    let max_flows: u32 = std::env::var("LANTERN_FLOOD_MAX_FLOWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let Some(net) = Net::up("lf", 9) else {
        return;
    };
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
    let pid = daemon.pid();
    let before = kib(&proc_status(pid, "VmRSS:"));
    net.in_client(&[
        "tcpreplay",
        "-q",
        "--pps",
        "100000",
        "-i",
        &net.client_if(),
        flood.to_str().unwrap(),
    ]);
    // Workers publish their counters at each tick: wait until every flow is counted (each flow
    // is one packet: made, or dropped by a full queue and counted).
    let metrics = daemon.wait_metrics("every flow counted", Duration::from_secs(30), |m| {
        metric(m, "lantern_flows_created_total ") + metric(m, "lantern_capture_queue_drops_total ")
            >= u64::from(flows)
    });
    let value = |name: &str| metric(&metrics, name);
    let peak = kib(&proc_status(pid, "VmHWM:"));
    let (code, _) = daemon.terminate();
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
    let Some(net) = Net::up("la", 4) else {
        return;
    };
    // As dist/lantern.service runs it: an unprivileged user holding only CAP_NET_RAW and
    // CAP_NET_ADMIN (here from setpriv, there from AmbientCapabilities=).
    let mut daemon = net.daemon(&[
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
    ]);
    until_traffic_is_counted(&net, &mut daemon);
    assert_unprivileged(daemon.pid());
    let text = daemon.stop();
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
    let Some(net) = Net::up("lp", 3) else {
        return;
    };
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
    until_traffic_is_counted(&net, &mut daemon);
    let pid = daemon.pid();
    assert_unprivileged(pid);
    // The metrics server's threads are among those checked: the one answering and tiny_http's
    // own, which take its name.
    let serving = tasks(pid)
        .iter()
        .filter(|(_, status)| status.lines().next() == Some("Name:\tmetrics"))
        .count();
    assert!(serving >= 2, "{serving} thread(s) named metrics");
    daemon.stop();
}

/// Sends a TLS connection through the capture and waits until the metrics endpoint counts its
/// packets: then the metrics server's threads have answered, and the capture's threads, which
/// counted the packets, exist too.
fn until_traffic_is_counted(net: &Net, daemon: &mut Daemon) {
    net.in_client(&["curl", "-sk", "-o", "/dev/null", "https://chatgpt.com/"]);
    let limit = Duration::from_secs(20);
    daemon.wait_metrics("packets counted", limit, |m| {
        metric(m, "lantern_packets_total ") >= 10
    });
}

#[test]
fn a_sensor_keeps_every_row_across_a_clickhouse_outage_without_restarting() {
    let Some(net) = Net::up("lh", 5) else {
        return;
    };
    let Some(mut server) = ClickHouse::start_in(&net.server_ns()) else {
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
    let rows = |server: &ClickHouse| server.count("SELECT count() FROM live.flows");
    // Up: rows arrive within a flush or two.
    net.traffic();
    daemon.wait_until("rows in ClickHouse", || rows(&server) > 0);
    // Down: batches wait in the spool and sending fails.
    server.kill();
    net.traffic();
    let limit = Duration::from_secs(20);
    daemon.wait_metrics("spooling while down", limit, |m| {
        metric(m, "lantern_clickhouse_spool_batches ") > 0
            && metric(m, "lantern_clickhouse_failures_total ") > 0
    });
    // Back: the running sensor sends every batch that waited, by itself. (The spool is not
    // empty at every instant: each write, once a second here, spools the sensor's health.) An
    // attempt that met the server half started may wait out its 60 s timeout, then the backoff
    // (up to 30 s): allow both.
    let before = daemon.metrics();
    let waiting = metric(&before, "lantern_clickhouse_spool_batches ");
    let sent = metric(&before, "lantern_clickhouse_batches_sent_total ");
    server.restart();
    daemon.wait_metrics("spool sent", Duration::from_secs(150), |m| {
        metric(m, "lantern_clickhouse_batches_sent_total ") >= sent + waiting
    });
    net.traffic();
    let log = daemon.stop();
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
    let Some(net) = Net::up("le", 2) else {
        return;
    };
    // As root without --user, so that the test (root) may ptrace it.
    let (mut daemon, tcpdump) = capture_and_record(
        &net,
        &[
            "--threads",
            "2",
            "--metrics",
            "127.0.0.1:9817",
            "--status-interval",
            "1",
        ],
    );
    let (pcap, live_db) = (net.path("traffic.pcap"), net.path("live.db"));
    let missed = |m: &str| metric(m, "lantern_epoch_ticks_missed_total ");
    assert_eq!(missed(&daemon.metrics()), 0);

    // Worker 0 stopped for 12 s on a quiet link: the sequencer thread's once-a-second ticks
    // fill its queue (8 messages) and the rest miss it. The sequencer goes on meanwhile. (The
    // one wait here that is time itself: ticks come in real time, so only a stall longer than
    // the queue's 8 s makes a worker miss one.)
    stall(daemon.pid(), "lantern-worker0", 12);
    // Its next tick tells it how many it missed.
    daemon.wait_metrics("ticks missed", Duration::from_secs(20), |m| missed(m) > 0);

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
    let metrics = daemon.caught_up();
    assert!(missed(&metrics) > 0, "{metrics}");
    eprintln!("stalled worker: {} ticks missed", missed(&metrics));
    for drops in ["kernel", "interface", "queue"] {
        let name = format!("lantern_drops_total{{where=\"{drops}\"}} ");
        assert_eq!(metric(&metrics, &name), 0, "{drops} drops: {metrics}");
    }

    daemon.stop();
    tcpdump.stop();

    let replay_db = net.path("replay.db");
    replay_into_store(&pcap, &replay_db, &[]);
    assert_same_rows(&live_db, &replay_db);
    // Every connection without SNI was named by the answer to its own lookup.
    let named = rows(&live_db, "flows")
        .iter()
        .filter(|r| {
            cell(r, "server_name") == "gemini.google.com" && cell(r, "name_source") == "dns_answer"
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
fn wait_for_flow(path: &Path, name: &str, daemon: &mut Daemon) {
    let what = format!("flow to {name} in {}", path.display());
    daemon.wait_until(&what, || flow_events(path, name) > 0);
}

#[test]
fn logrotate_renames_the_events_file_and_sighup_makes_the_daemon_write_a_new_one() {
    let Some(net) = Net::up("lg", 1) else {
        return;
    };
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
            &format!("kill -HUP {}", daemon.pid()),
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
    daemon.wait_log("reloaded events file");
    let rotated = logs.join("events.jsonl.1");
    assert!(rotated.exists(), "logrotate did not rename the file");

    net.in_client(&["curl", "-sk", "-o", "/dev/null", "https://claude.ai/after"]);
    wait_for_flow(&events, "claude.ai", &mut daemon);
    let text = daemon.stop();

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
    let Some(net) = Net::up("lq", 6) else {
        return;
    };
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
    replay_into_store(&old, &db, &[]);
    let count = |sql: &str| -> i64 { sqlite_value(&db, sql) };
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
    daemon.wait_log("pruned");
    net.traffic();
    // The old rows are gone: rows now are the live traffic's, flushed each second as its flows
    // end.
    daemon.wait_until("the live traffic stored", || {
        count("SELECT count(*) FROM flows") > 0
    });
    let text = daemon.stop();
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
    let Some(net) = Net::up("lo", 0) else {
        return;
    };
    let (mut daemon, tcpdump) =
        capture_and_record(&net, &["--active-timeout", "2", "--flush-interval", "1"]);
    let (pcap, live_db) = (net.path("traffic.pcap"), net.path("live.db"));
    // curl uploads 250 kB at 25 kB/s to chatgpt.com: one TLS connection open for ten seconds.
    let body = net.path("body.bin");
    std::fs::write(&body, vec![b'x'; 250_000]).unwrap();
    let body = format!("@{}", body.display());
    let mut upload = net
        .client_command(&["curl", "-sk", "--max-time", "60"])
        .args(["--limit-rate", "25k", "--data-binary", &body])
        .arg("https://chatgpt.com/backend-api/files")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Its interim records reach the store while it is still open.
    let records = |interim: u8| -> i64 {
        let sql = format!(
            "SELECT count(*) FROM flows WHERE app_id = 'openai-chatgpt' AND interim = {interim}"
        );
        sqlite_value(&live_db, &sql)
    };
    daemon.wait_until("an interim row in the store", || records(1) > 0);
    assert!(
        upload.try_wait().unwrap().is_none(),
        "the upload ended before its first interim row was stored"
    );
    assert!(upload.wait().unwrap().success());
    // Its final record too, once its last packets (read within the 2 s a closed flow waits for
    // them) are in.
    daemon.wait_until("the final row in the store", || records(0) > 0);
    daemon.stop();
    tcpdump.stop();

    // The same records as a replay of the same packets with the same timeout...
    let (split_db, whole_db) = (net.path("split.db"), net.path("whole.db"));
    replay_into_store(&pcap, &split_db, &["--active-timeout", "2"]);
    replay_into_store(&pcap, &whole_db, &["--active-timeout", "0"]);
    assert_same_rows(&live_db, &split_db);
    // ... several interim rows and a final one, that add up to the flow unsplit.
    let totals = |db: &Path| -> (i64, i64, i64, i64) {
        sqlite_row(
            db,
            "SELECT count(*), sum(interim), sum(part = 0), sum(bytes_up) FROM flows
             WHERE app_id = 'openai-chatgpt'",
        )
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
        sqlite_row(
            db,
            "SELECT sum(flows), sum(bytes_up) FROM rollups_hourly WHERE app_id = 'openai-chatgpt'",
        )
    };
    assert_eq!(rollup(&live_db), rollup(&whole_db));
}
