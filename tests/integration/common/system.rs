//! The tests' dealings with the machine: what a system test needs from it, and what it does
//! without it (it says so and passes, except under CI, `CI` set, where a missing need fails
//! it); waiting for something to happen, by polling the condition itself, never by a fixed
//! sleep; and free ports for the servers a test starts. The ClickHouse bench includes this file
//! (through `#[path]`) with `clickhouse.rs`.

use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Whether this machine has everything in `needs`: `"root"` (running as root), a path (a file
/// that must exist), or a command on `PATH`. When something is missing the test says what on
/// stderr and the caller returns, so that the test passes without running; under CI it fails.
pub fn can_run(needs: &[&str]) -> bool {
    let missing: Vec<&str> = needs.iter().copied().filter(|need| !has(need)).collect();
    if missing.is_empty() {
        return true;
    }
    let test = std::thread::current()
        .name()
        .filter(|name| *name != "main")
        .unwrap_or("this test")
        .to_string();
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: needs {} (CI must run it)",
        missing.join(", ")
    );
    eprintln!("{test}: skipped, needs {}", missing.join(", "));
    false
}

fn has(need: &str) -> bool {
    if need == "root" {
        return nix::unistd::geteuid().is_root();
    }
    if need.starts_with('/') {
        return Path::new(need).exists();
    }
    Command::new("sh")
        .args(["-c", &format!("command -v {need}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Polls `check` until it gives `Some`, and returns that: at once, then after 5 ms, 10, 20 and
/// every 50 ms. Fails after `limit`, naming `what` and the last thing `seen` says.
pub fn wait_for<T>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> Option<T>,
    seen: impl Fn() -> String,
) -> T {
    let started = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(
            started.elapsed() < limit,
            "no {what} within {limit:?}: {}",
            seen()
        );
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Polls until `done` holds; fails after `limit`, naming `what`.
pub fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    wait_for(what, limit, || done().then_some(()), String::new);
}

/// A port free for TCP and UDP on 127.0.0.1, below the kernel's ephemeral range: a port the
/// kernel hands out (port 0) can be taken by any outgoing connection while a server is down for
/// an outage test, and then the server cannot listen on it again. Ports are taken in turn from a
/// start that depends on the process id, so tests running side by side do not pick the same one.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768)
        .clamp(12_000, 65_535);
    let (first, span) = (10_000, low - 10_000);
    let start = std::process::id() * 97;
    for _ in 0..span {
        let port = first + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        let port = port as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok()
            && UdpSocket::bind(("127.0.0.1", port)).is_ok()
        {
            return port;
        }
    }
    panic!("no free port between {first} and {low}");
}
