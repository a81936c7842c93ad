//! A real rsyslog for a test: Debian's `rsyslogd` started as a plain process in the foreground,
//! listening on UDP and TCP on free ports of 127.0.0.1 and on a unix socket, its files under
//! the build folder (`target/tmp/`), and stopped on drop. It touches neither `/dev/log` nor
//! `/var/log`. Each message it receives is written as rsyslog parsed it, one JSON object a
//! line (`received`), and as it arrived (`raw`, for failure messages).

use super::system::{can_run, free_port, wait_for};
use serde_json::Value;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

/// A running (or stopped) rsyslogd.
pub struct Rsyslog {
    dir: tempfile::TempDir,
    udp: u16,
    tcp: u16,
    child: Option<Child>,
}

impl Rsyslog {
    /// Starts one and waits until every input listens; `None` when rsyslogd is not installed
    /// (outside CI).
    pub fn start() -> Option<Rsyslog> {
        if !can_run(&[RSYSLOGD]) {
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("rsyslog-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("rsyslog directory");
        let mut rsyslog = Rsyslog {
            dir,
            udp: free_port(),
            tcp: free_port(),
            child: None,
        };
        std::fs::write(rsyslog.path("rsyslog.conf"), rsyslog.config()).expect("rsyslog.conf");
        rsyslog.run();
        Some(rsyslog)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The target of its UDP input.
    pub fn udp(&self) -> String {
        format!("udp://127.0.0.1:{}", self.udp)
    }

    /// The target of its TCP input.
    pub fn tcp(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.tcp)
    }

    /// The target of its unix socket input.
    pub fn unix(&self) -> String {
        format!("unix:{}", self.path("log.sock").display())
    }

    /// Loopback only, everything under the directory, a message limit of 64 KiB (rsyslog's
    /// default is 8 KiB), and each message from any input written with rsyslog's own parse of
    /// it. rsyslog's messages about itself go to `rsyslogd.log`.
    fn config(&self) -> String {
        let d = self.dir.path().display();
        let (udp, tcp) = (self.udp, self.tcp);
        format!(
            r#"global(workDirectory="{d}" maxMessageSize="64k")
module(load="imudp")
module(load="imtcp")
module(load="imuxsock" SysSock.Use="off")
template(name="parsed" type="list" option.jsonf="on") {{
  property(outname="protocol_version" name="protocol-version" format="jsonf")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app_name" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="pri" name="pri" format="jsonf")
  property(outname="structured_data" name="structured-data" format="jsonf")
  property(outname="input" name="inputname" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}}
template(name="raw" type="string" string="%rawmsg%\n")
ruleset(name="received") {{
  action(type="omfile" file="{d}/parsed.json" template="parsed")
  action(type="omfile" file="{d}/raw.log" template="raw")
}}
input(type="imudp" address="127.0.0.1" port="{udp}" ruleset="received")
input(type="imtcp" address="127.0.0.1" port="{tcp}" ruleset="received")
input(type="imuxsock" socket="{d}/log.sock" useSpecialParser="off" parseHostname="on"
      ignoreTimestamp="off" rateLimit.interval="0" ruleset="received")
action(type="omfile" file="{d}/rsyslogd.log")
"#
        )
    }

    /// Starts the process and waits until its three inputs listen.
    fn run(&mut self) {
        let log = std::fs::File::create(self.path("stdout.log")).expect("log");
        let child = Command::new(RSYSLOGD)
            .args(["-n", "-f"])
            .arg(self.path("rsyslog.conf"))
            .arg("-i")
            .arg(self.path("rsyslogd.pid"))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start rsyslogd");
        self.child = Some(child);
        wait_for(
            "rsyslogd listening",
            Duration::from_secs(30),
            || self.listening().then_some(()),
            || self.log(),
        );
    }

    /// Its TCP port takes a connection, its UDP port is bound (as the kernel lists it: binding
    /// it to see could take it from rsyslog) and its socket is there.
    fn listening(&self) -> bool {
        let udp = format!(" 0100007F:{:04X} ", self.udp);
        self.path("log.sock").exists()
            && TcpStream::connect(("127.0.0.1", self.tcp)).is_ok()
            && std::fs::read_to_string("/proc/net/udp").is_ok_and(|t| t.contains(&udp))
    }

    /// Every message received so far, as rsyslog parsed it (whole lines only).
    pub fn received(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.path("parsed.json")).unwrap_or_default();
        let whole = &text[..text.rfind('\n').map_or(0, |end| end + 1)];
        (whole.lines())
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }

    /// Waits until `count` messages have been received, and returns them.
    pub fn wait_for(&self, count: usize) -> Vec<Value> {
        wait_for(
            &format!("{count} messages in rsyslog"),
            Duration::from_secs(30),
            || Some(self.received()).filter(|r| r.len() >= count),
            || format!("{} received\n{}", self.received().len(), self.log()),
        )
    }

    /// The messages as they arrived, one a line.
    pub fn raw(&self) -> String {
        std::fs::read_to_string(self.path("raw.log")).unwrap_or_default()
    }

    /// rsyslogd's output and its messages about itself, for failure messages.
    pub fn log(&self) -> String {
        ["stdout.log", "rsyslogd.log"]
            .iter()
            .map(|f| std::fs::read_to_string(self.path(f)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Stops it as a crash would: SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same ports and files.
    pub fn restart(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(self.path("log.sock"));
        self.run();
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.kill();
    }
}
