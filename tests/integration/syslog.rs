//! Syslog delivery into a real rsyslog (Debian's, started by the test: `common::rsyslog`):
//! the events of real replays and hostile lines (quotes, backslashes, escaped newlines and
//! control characters, UTF-8, 20 KB long) sent through the library's `Syslog` over UDP, TCP
//! and a unix socket. rsyslog must have every message, parsed as RFC 5424 (protocol version
//! 1), with lantern's app name, host and process, the event's type as MSGID, the event's own
//! time and PRI, and the JSON exactly as sent. Over TCP, delivery resumes after rsyslog is
//! killed and started again.
//!
//! System tests (feature `system-tests`): without rsyslogd they pass with a note, except under
//! CI (`CI` set), where they fail.

use crate::common::rsyslog::Rsyslog;
use crate::common::{Replay, own, replay, sorted, wait_until};
use lantern::writing::syslog::{Message, Severity, Syslog, SyslogConfig, SyslogTarget};
use serde_json::{Value, json};
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const HOSTNAME: &str = "sensor-7.example";

/// One event line and how it is sent.
struct Event {
    line: String,
    msgid: String,
    severity: Severity,
    time: OffsetDateTime,
}

impl Event {
    fn of(line: String) -> Event {
        let value: Value = serde_json::from_str(&line).unwrap();
        let msgid = value["event_type"].as_str().unwrap().to_string();
        let ts = value["ts"].as_str().unwrap();
        Event {
            severity: match msgid.as_str() {
                "notice" => Severity::Notice,
                _ => Severity::Informational,
            },
            msgid,
            time: OffsetDateTime::parse(ts, &Rfc3339).unwrap(),
            line,
        }
    }

    fn message(&self) -> Message<'_> {
        Message {
            severity: self.severity,
            secs: self.time.unix_timestamp(),
            micros: self.time.microsecond(),
            msgid: &self.msgid,
            msg: self.line.as_bytes(),
        }
    }
}

/// The events of replays with flows, lookups, DHCP and Kerberos, and hostile notices.
fn events() -> Vec<Event> {
    let mut lines = Vec::new();
    for capture in ["chromium-claude.pcap", "identity.pcap"] {
        let events = replay(&[&own(capture)], &[]).stdout;
        lines.extend(events.lines().map(String::from));
    }
    assert!(lines.len() > 100, "{} events", lines.len());
    lines.extend(hostile().iter().map(Value::to_string));
    lines.into_iter().map(Event::of).collect()
}

/// Notices whose strings are built to break an escaping, a framing or a length limit.
fn hostile() -> Vec<Value> {
    let ts = "2026-11-23T04:54:51.000001Z";
    vec![
        json!({"event_type": "notice", "ts": ts,
               "name": "quote \" backslash \\ slash / newline \n cr \r tab \t end"}),
        json!({"event_type": "notice", "ts": ts,
               "utf8": "caf\u{e9} \u{65e5}\u{672c}\u{8a9e} \u{1f680} \u{202e}rtl",
               "controls": "\u{0}\u{1}\u{1b}[31m\u{7f}", "bom": "\u{feff}"}),
        json!({"event_type": "notice", "ts": ts,
               "looks_like_syslog": "<13>1 - - - - [sd x=\"]\"] #012 %msg% $ {}",
               "empty": "", "nested": {"list": [1, "two", null, true, 3.5]}}),
        json!({"event_type": "notice", "ts": ts,
               "long": "\u{e9}\"\\x ".repeat(4_000)}),
    ]
}

/// Sends every event to `target`.
fn send_all(target: &str, events: &[Event]) -> Syslog {
    let config = SyslogConfig {
        hostname: HOSTNAME.into(),
        max_message: 65_536,
        ..SyslogConfig::default()
    };
    let target: SyslogTarget = target.parse().unwrap();
    let mut syslog = Syslog::connect(target, config).unwrap();
    for event in events {
        syslog.send(event.message()).unwrap();
    }
    syslog
}

/// What rsyslog made of a message, field by field, against the event sent.
fn check(received: &Value, event: &Event) {
    let field = |name: &str| received[name].as_str().unwrap_or_default();
    assert_eq!(
        field("protocol_version"),
        "1",
        "not parsed as RFC 5424: {received}"
    );
    assert_eq!(field("app_name"), "lantern");
    assert_eq!(field("hostname"), HOSTNAME);
    assert_eq!(field("procid"), std::process::id().to_string());
    assert_eq!(field("msgid"), event.msgid);
    assert_eq!(field("pri"), (16 * 8 + event.severity as u8).to_string());
    assert_eq!(field("structured_data"), "-");
    let time = OffsetDateTime::parse(field("timestamp"), &Rfc3339).unwrap();
    assert_eq!(time, event.time, "{received}");
    let sent: Value = serde_json::from_str(&event.line).unwrap();
    let got: Value =
        serde_json::from_str(field("msg")).unwrap_or_else(|e| panic!("{e}: {received}"));
    assert_eq!(got, sent);
}

/// A received message's MSGID and MSG.
fn msgid_and_msg(received: &Value) -> (&str, &str) {
    let field = |name| received[name].as_str().unwrap_or_default();
    (field("msgid"), field("msg"))
}

/// Sends every event over `transport` and checks that rsyslog has each, intact, from its
/// input `input`.
fn delivered_intact(transport: fn(&Rsyslog) -> String, input: &str) {
    let Some(rsyslog) = Rsyslog::start() else {
        return;
    };
    let events = events();
    let syslog = send_all(&transport(&rsyslog), &events);
    assert_eq!(syslog.counters().syslog_sent, events.len() as u64);
    assert_eq!(syslog.counters().dropped(), 0);
    let received = rsyslog.wait_for(events.len());
    assert_eq!(received.len(), events.len(), "{}", rsyslog.raw());
    // Compared as sets of exact texts: rsyslog need not keep the order of a datagram input.
    let got = sorted(received.iter().map(msgid_and_msg).collect::<Vec<_>>());
    let sent = sorted(
        events
            .iter()
            .map(|e| (&*e.msgid, &*e.line))
            .collect::<Vec<_>>(),
    );
    assert!(
        got == sent,
        "the JSON changed on the way; raw:\n{}",
        rsyslog.raw()
    );
    for received in &received {
        assert_eq!(received["input"], input);
        let msg = received["msg"].as_str().unwrap();
        check(received, events.iter().find(|e| e.line == msg).unwrap());
    }
}

#[test]
fn events_reach_rsyslog_intact_over_udp() {
    delivered_intact(Rsyslog::udp, "imudp");
}

#[test]
fn events_reach_rsyslog_intact_over_tcp() {
    delivered_intact(Rsyslog::tcp, "imtcp");
}

#[test]
fn events_reach_rsyslog_intact_over_a_unix_socket() {
    delivered_intact(Rsyslog::unix, "imuxsock");
}

/// rsyslog killed and started again: the messages sent while it is down are dropped and
/// counted, and every message sent once the sender has reconnected arrives.
#[test]
fn tcp_delivery_resumes_after_rsyslog_restarts() {
    let Some(mut rsyslog) = Rsyslog::start() else {
        return;
    };
    let events = events();
    let (first, rest) = events.split_at(events.len() / 2);
    let mut syslog = send_all(&rsyslog.tcp(), first);
    rsyslog.wait_for(first.len());

    rsyslog.kill();
    assert!(
        syslog.send(rest[0].message()).is_err(),
        "sent to a dead collector"
    );
    rsyslog.restart();
    wait_until("a reconnection", Duration::from_secs(10), || {
        syslog.send(rest[0].message()).is_ok()
    });
    for event in &rest[1..] {
        syslog.send(event.message()).unwrap();
    }
    let counters = syslog.counters().clone();
    assert_eq!(counters.syslog_reconnects, 1, "{counters:?}");
    assert_eq!(counters.syslog_sent, events.len() as u64);
    assert!(counters.syslog_disconnected >= 1, "{counters:?}");
    let received = rsyslog.wait_for(events.len());
    for (received, event) in received.iter().zip(&events) {
        check(received, event);
    }
    assert_eq!(received.len(), events.len(), "{}", rsyslog.raw());
}

/// A policy that makes ChatGPT unsanctioned, written to `dir`.
fn unsanctioning(dir: &std::path::Path) -> String {
    let path = dir.join("policy.toml");
    std::fs::write(&path, "[apps]\nopenai-chatgpt = \"unsanctioned\"\n").unwrap();
    path.display().to_string()
}

/// The captures whose notices the end-to-end tests send: ChatGPT (new and unsanctioned), an
/// upload past 0.1 MiB to an unreviewed API, an MCP server and a model server.
const NOTICED: [&str; 4] = [
    "curl-chatgpt.pcap",
    "python-upload.pcap",
    "mcp-streamable-http.pcap",
    "http-ollama.pcap",
];

/// `lantern replay --syslog` (no `--events`): rsyslog receives exactly the notices of the
/// same replay's events file (the default, `--syslog-events notices`), each parsed as RFC 5424,
/// its severity the notice's, and its JSON the events file's line.
#[test]
fn a_replay_sends_its_notices_to_rsyslog() {
    let Some(rsyslog) = Rsyslog::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let files: Vec<_> = NOTICED.iter().map(|c| own(c)).collect();
    let policy = unsanctioning(dir.path());
    let settings = ["--policy", &policy, "--notice-upload-mib", "0.1"];
    // The events file, from a run of its own: with --syslog alone (notices only) the records'
    // events are not even kept, and the notices must be the same.
    Replay::of(&files)
        .no_events()
        .args(&settings)
        .args(&["--events", events.to_str().unwrap()])
        .ok();
    let run = Replay::of(&files)
        .no_events()
        .args(&settings)
        .args(&["--syslog", &rsyslog.tcp()])
        .ok();
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let lines = std::fs::read_to_string(&events).unwrap();
    let notices: Vec<&str> = lines
        .lines()
        .filter(|l| l.contains(r#""event_type":"notice""#))
        .collect();
    let kinds: Vec<String> = notices
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["notice"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for kind in [
        "new_app",
        "first_unsanctioned_use",
        "upload",
        "new_mcp_server",
        "new_model_server",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "no {kind} notice: {kinds:?}"
        );
    }
    let received = rsyslog.wait_for(notices.len());
    assert_eq!(received.len(), notices.len(), "{}", rsyslog.raw());
    for (got, line) in received.iter().zip(&notices) {
        let field = |name: &str| got[name].as_str().unwrap_or_default().to_string();
        assert_eq!(field("protocol_version"), "1", "not RFC 5424: {got}");
        assert_eq!(
            (field("app_name"), field("msgid")),
            ("lantern".into(), "notice".into())
        );
        assert_eq!(field("msg"), *line, "the JSON changed on the way");
        let sent: Value = serde_json::from_str(line).unwrap();
        let severity = match sent["severity"].as_str().unwrap() {
            "low" => Severity::Notice,
            "medium" => Severity::Warning,
            _ => Severity::Error,
        };
        assert_eq!(field("pri"), (16 * 8 + severity as u8).to_string(), "{got}");
    }
}

/// `--syslog-events all` over UDP and a unix socket: every event of the events file reaches
/// rsyslog, in either format, its MSGID the lantern event type.
#[test]
fn every_event_reaches_rsyslog_with_syslog_events_all() {
    let Some(rsyslog) = Rsyslog::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut expected = 0;
    for (transport, format) in [(rsyslog.udp(), "lantern"), (rsyslog.unix(), "ocsf")] {
        let events = dir.path().join(format!("{format}.jsonl"));
        let files = [own("chromium-claude.pcap"), own("identity.pcap")];
        Replay::of(&files)
            .no_events()
            .args(&["--syslog", &transport, "--syslog-events", "all"])
            .args(&[
                "--events-format",
                format,
                "--events",
                events.to_str().unwrap(),
            ])
            .ok();
        let lines = std::fs::read_to_string(&events).unwrap();
        expected += lines.lines().count();
        let received = rsyslog.wait_for(expected);
        let got = sorted(
            received
                .iter()
                .map(|r| r["msg"].as_str().unwrap().to_string())
                .collect::<Vec<_>>(),
        );
        for line in lines.lines() {
            assert!(
                got.binary_search(&line.to_string()).is_ok(),
                "{format} event not received: {line}"
            );
        }
    }
    assert_eq!(rsyslog.received().len(), expected, "{}", rsyslog.raw());
}
