//! The live tests' one set-up: two network namespaces joined by a veth pair with real servers
//! (`tests/live/net.sh`), real client traffic (`tests/live/traffic.sh`), tcpdump recording the
//! link ([`Recorder`]) and `lantern capture` on it ([`Daemon`]), each waited for on what it
//! says or counts, never for a fixed time. Needs root and the tools in [`TOOLS`]
//! ([`live_can_run`]).

use super::system::{can_run, wait_for};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What the live tests run, besides lantern.
pub const TOOLS: [&str; 12] = [
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

/// How long a daemon may take to say or count what a test waits for.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Whether this machine can run the live tests: root and [`TOOLS`] (see [`can_run`]).
pub fn live_can_run() -> bool {
    let needs: Vec<&str> = std::iter::once("root").chain(TOOLS).collect();
    can_run(&needs)
}

/// The lantern binary under test.
pub fn lantern() -> &'static str {
    env!("CARGO_BIN_EXE_lantern")
}

/// `tests/live`: the scripts that build the namespaces and make the traffic.
pub fn live_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/live")
}

/// Two namespaces and their servers, removed on drop.
pub struct Net {
    pub tag: &'static str,
    pub n: u8,
    dir: tempfile::TempDir,
}

impl Net {
    /// `lt-TAG-c` and `lt-TAG-s` on 10.6N.0.0/24, with dnsmasq and the HTTPS server running;
    /// `None` (after saying so, see [`live_can_run`]) when this machine cannot run live tests.
    pub fn up(tag: &'static str, n: u8) -> Option<Net> {
        if !live_can_run() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("bash")
            .arg(live_dir().join("net.sh"))
            .args(["up", tag, &n.to_string()])
            .arg(dir.path().join("net"))
            .status()
            .unwrap();
        assert!(status.success(), "net.sh up {tag} failed");
        Some(Net { tag, n, dir })
    }

    pub fn server_ns(&self) -> String {
        format!("lt-{}-s", self.tag)
    }

    pub fn client_ns(&self) -> String {
        format!("lt-{}-c", self.tag)
    }

    /// The server's end of the link, where the daemon captures.
    pub fn server_if(&self) -> String {
        format!("{}s", self.tag)
    }

    /// The client's end of the link.
    pub fn client_if(&self) -> String {
        format!("{}c", self.tag)
    }

    /// A file in the test's own directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `args` in the server namespace with stderr to the file `log`.
    pub fn spawn_in_server(&self, args: &[&str], log: &str) -> Child {
        let log = std::fs::File::create(self.path(log)).unwrap();
        Command::new("ip")
            .args(["netns", "exec", &self.server_ns()])
            .args(args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    /// The real clients of `traffic.sh`, through the link; returns when they are done.
    pub fn traffic(&self) {
        let status = Command::new("bash")
            .arg(live_dir().join("traffic.sh"))
            .args([self.tag, &self.n.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "traffic.sh failed");
    }

    /// `args`, as a command in the client namespace.
    pub fn client_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.client_ns()])
            .args(args);
        command
    }

    /// Runs `args` in the client namespace, which must succeed.
    pub fn in_client(&self, args: &[&str]) {
        let status = self
            .client_command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "{args:?} failed");
    }

    /// `lantern capture -i <the server's link> ARGS` in the server namespace, once capturing.
    pub fn capture(&self, args: &[&str]) -> Daemon {
        let iface = self.server_if();
        self.daemon(&[&[lantern(), "capture", "-i", &iface][..], args].concat())
    }

    /// The daemon started by the command line `command` (lantern itself, or a wrapper such as
    /// setpriv that runs it) in the server namespace, logging to `lantern.log`, once it says
    /// it is capturing. Its metrics port is the one `--metrics` names, if any.
    pub fn daemon(&self, command: &[&str]) -> Daemon {
        let metrics = (command.iter())
            .position(|a| *a == "--metrics")
            .map(|i| command[i + 1].rsplit(':').next().unwrap().parse().unwrap());
        let child = self.spawn_in_server(command, "lantern.log");
        let mut daemon = Daemon {
            child,
            log: self.path("lantern.log"),
            netns: self.server_ns(),
            metrics,
        };
        daemon.wait_log("capturing on");
        daemon
    }

    /// tcpdump recording the server's link to `pcap`, once it listens.
    pub fn record(&self, pcap: &Path) -> Recorder {
        let iface = self.server_if();
        let pcap = pcap.to_str().unwrap();
        let args = [
            "tcpdump", "-Z", "root", "-i", &iface, "-s", "0", "-B", "65536", "-U", "-w", pcap,
        ];
        let mut recorder = Recorder {
            child: self.spawn_in_server(&args, "tcpdump.log"),
            log: self.path("tcpdump.log"),
        };
        let log = recorder.log.clone();
        wait_while_running(&mut recorder.child, "tcpdump listening", PATIENCE, || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            text.contains("listening on").then_some(()).ok_or(text)
        });
        recorder
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

/// Polls `check` (what is awaited, or what was seen instead) until it gives `Ok`, for at most
/// `limit`; fails if `child` exits first.
fn wait_while_running<T>(
    child: &mut Child,
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let last = std::cell::RefCell::new(String::new());
    wait_for(
        what,
        limit,
        || {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("exited with {status} before {what}: {}", last.borrow());
            }
            check().map_err(|seen| *last.borrow_mut() = seen).ok()
        },
        || last.borrow().clone(),
    )
}

/// A running `lantern capture`.
pub struct Daemon {
    child: Child,
    log: PathBuf,
    netns: String,
    metrics: Option<u16>,
}

impl Daemon {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it wrote on stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `done` holds; fails if the daemon exits first, with its log.
    pub fn wait_until(&mut self, what: &str, mut done: impl FnMut() -> bool) {
        let log = self.log.clone();
        wait_while_running(&mut self.child, what, PATIENCE, || {
            done()
                .then_some(())
                .ok_or_else(|| std::fs::read_to_string(&log).unwrap_or_default())
        });
    }

    /// Waits until its log contains `text`.
    pub fn wait_log(&mut self, text: &str) {
        let log = self.log.clone();
        let what = format!("{text:?} in its log");
        wait_while_running(&mut self.child, &what, PATIENCE, || {
            let seen = std::fs::read_to_string(&log).unwrap_or_default();
            seen.contains(text).then_some(()).ok_or(seen)
        });
    }

    /// Its metrics page, fetched inside its namespace.
    pub fn metrics(&self) -> String {
        metrics_page(
            &self.netns,
            self.metrics.expect("the daemon was started with --metrics"),
        )
    }

    /// Polls its metrics page until `done` holds, for at most `limit`; the page that did.
    pub fn wait_metrics(
        &mut self,
        what: &str,
        limit: Duration,
        mut done: impl FnMut(&str) -> bool,
    ) -> String {
        let port = self.metrics.expect("the daemon was started with --metrics");
        let netns = self.netns.clone();
        wait_while_running(&mut self.child, what, limit, || {
            let page = metrics_page(&netns, port);
            if done(&page) { Ok(page) } else { Err(page) }
        })
    }

    /// Waits until it has read every packet that crossed the link before this call: until a
    /// metrics page shows as many packets read as the kernel handed its capture socket
    /// (libpcap's `ps_recv`), taken after this call. Then a SIGTERM loses nothing. Returns that
    /// page.
    ///
    /// The page is the daemon's latest snapshot, taken once a second (each with a larger
    /// `uptime_seconds`) from counters its reader publishes every 250 ms: the second snapshot
    /// newer than the one served now is taken over a second after this call, so its counts
    /// are of a moment after it.
    pub fn caught_up(&mut self) -> String {
        let uptime = |page: &str| metric(page, "lantern_uptime_seconds ");
        let now = uptime(&self.metrics());
        let mut newer = std::collections::BTreeSet::new();
        self.wait_metrics("every received packet read", PATIENCE, |page| {
            if uptime(page) > now {
                newer.insert(uptime(page));
            }
            let sockets: Vec<u64> = (page.lines())
                .filter(|l| l.starts_with("lantern_interface_packets_total{"))
                .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
                .collect();
            assert!(!sockets.is_empty(), "no interface_packets: {page}");
            let received: u64 = sockets.iter().sum();
            let read = metric(page, "lantern_packets_total ");
            newer.len() >= 2 && read > 0 && read >= received
        })
    }

    /// Sends SIGTERM and waits for the exit; the exit code and how long it took.
    pub fn terminate(&mut self) -> (Option<i32>, Duration) {
        terminate(&mut self.child)
    }

    /// Stops it with SIGTERM, which must end it with exit 0; its log.
    pub fn stop(mut self) -> String {
        let (code, _) = self.terminate();
        let log = self.log();
        assert_eq!(code, Some(0), "{log}");
        log
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// tcpdump writing the link to a pcap file.
pub struct Recorder {
    child: Child,
    log: PathBuf,
}

impl Recorder {
    /// Waits until tcpdump has written every packet the kernel handed it (its counts, which
    /// SIGUSR1 makes it print, say as many captured as received), then stops it. Without
    /// `--immediate-mode` libpcap hands it packets in blocks, up to a second late.
    pub fn stop(mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let log = self.log.clone();
        // How many count lines the log had when SIGUSR1 was last sent: the answer is the next.
        let mut asked: Option<usize> = None;
        wait_while_running(&mut self.child, "tcpdump caught up", PATIENCE, || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let counts: Vec<(u64, u64)> = text.lines().filter_map(tcpdump_counts).collect();
            match asked {
                Some(before) if counts.len() <= before => return Err(text),
                Some(_) if counts[counts.len() - 1].0 == counts[counts.len() - 1].1 => {
                    return Ok(());
                }
                _ => {}
            }
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGUSR1).unwrap();
            asked = Some(counts.len());
            Err(text)
        });
        terminate(&mut self.child);
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The metrics page of the daemon listening on `port` in the namespace `netns`.
fn metrics_page(netns: &str, port: u16) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", netns, "curl", "-sf"])
        .arg(format!("http://127.0.0.1:{port}/metrics"))
        .output()
        .unwrap();
    assert!(out.status.success(), "metrics endpoint did not answer");
    String::from_utf8(out.stdout).unwrap()
}

/// `(captured, received by filter)` of a tcpdump statistics line.
fn tcpdump_counts(line: &str) -> Option<(u64, u64)> {
    let rest = line.strip_prefix("tcpdump: ")?;
    let (captured, rest) = rest.split_once(" packets captured, ")?;
    let (received, _) = rest.split_once(" packets received by filter")?;
    Some((captured.parse().ok()?, received.parse().ok()?))
}

/// Sends SIGTERM and waits for the exit; returns the exit code and how long it took.
pub fn terminate(child: &mut Child) -> (Option<i32>, Duration) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let sent = Instant::now();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let code = wait_for(
        "exit within 30 s of SIGTERM",
        Duration::from_secs(30),
        || child.try_wait().unwrap().map(|status| status.code()),
        String::new,
    );
    (code, sent.elapsed())
}

/// A metric's value on a metrics page (`name` ends with the space before the value).
pub fn metric(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {metrics}"))
}
