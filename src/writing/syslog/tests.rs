//! The sender against local sockets standing in for a collector: a UDP socket, a TCP listener
//! read frame by frame, a unix datagram socket; collectors that restart, stall or are missing.

use super::*;
use std::io::Read;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::time::Instant;

const TIME: (i64, u32) = (1_795_409_691, 641_021);

fn config() -> SyslogConfig {
    SyslogConfig {
        hostname: "sensor".into(),
        timeout: Duration::from_millis(300),
        ..SyslogConfig::default()
    }
}

fn message<'a>(msgid: &'a str, msg: &'a [u8]) -> Message<'a> {
    Message {
        severity: Severity::Informational,
        secs: TIME.0,
        micros: TIME.1,
        msgid,
        msg,
    }
}

/// What the collector should receive for `message`.
fn expected(msgid: &str, msg: &[u8]) -> Vec<u8> {
    let header = format!(
        "<134>1 2026-11-23T04:54:51.641021Z sensor lantern {} {msgid} - ",
        std::process::id()
    );
    [header.as_bytes(), msg].concat()
}

/// Reads one octet-counted frame (`LEN SP MSG`).
fn read_frame(stream: &mut TcpStream) -> Vec<u8> {
    let mut len = Vec::new();
    let mut byte = [0u8];
    loop {
        stream.read_exact(&mut byte).expect("a frame's length");
        if byte[0] == b' ' {
            break;
        }
        assert!(byte[0].is_ascii_digit(), "not a length: {len:?} {byte:?}");
        len.push(byte[0]);
    }
    let len: usize = std::str::from_utf8(&len).unwrap().parse().unwrap();
    let mut frame = vec![0; len];
    stream.read_exact(&mut frame).expect("a whole frame");
    frame
}

/// Sends `msg` until it goes, for at most 5 s (while the sender waits to reconnect).
fn send_until_sent(syslog: &mut Syslog, msg: &[u8]) {
    let started = Instant::now();
    while let Err(e) = syslog.send(message("flow", msg)) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "never sent: {e}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn udp_sends_one_datagram_per_message_and_drops_a_long_one_whole() {
    let collector = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = SyslogTarget::Udp(collector.local_addr().unwrap());
    let config = SyslogConfig {
        max_message: 200,
        ..config()
    };
    let mut syslog = Syslog::connect(target, config).unwrap();
    let long = format!("{{\"name\":\"{}\"}}", "a".repeat(300));
    let lines: [&[u8]; 3] = [
        br#"{"a":1}"#,
        long.as_bytes(),
        "{\"b\":\"\u{e9}\"}".as_bytes(),
    ];
    for line in lines {
        let _ = syslog.send(message("dns", line));
    }
    let mut datagram = vec![0; 65_536];
    for line in [lines[0], lines[2]] {
        let n = collector.recv(&mut datagram).unwrap();
        assert_eq!(datagram[..n], expected("dns", line));
    }
    let counters = syslog.counters();
    assert_eq!((counters.syslog_sent, counters.syslog_too_long), (2, 1));
    let error = syslog.send(message("dns", long.as_bytes())).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{error}");
}

#[test]
fn tcp_frames_are_octet_counted_so_a_newline_stays_inside() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = SyslogTarget::Tcp(listener.local_addr().unwrap());
    let mut syslog = Syslog::connect(target, config()).unwrap();
    let (mut stream, _) = listener.accept().unwrap();
    let lines: [&[u8]; 3] = [b"{\"a\":\n1}", br#"{"b":"\"\\"}"#, &[b'x'; 5000]];
    for line in lines {
        syslog.send(message("flow", line)).unwrap();
    }
    for line in lines {
        assert_eq!(read_frame(&mut stream), expected("flow", line));
    }
    assert_eq!(syslog.counters().syslog_sent, 3);
}

#[test]
fn tcp_reconnects_after_the_collector_restarts() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let mut syslog = Syslog::connect(SyslogTarget::Tcp(address), config()).unwrap();
    let (mut stream, _) = listener.accept().unwrap();
    syslog.send(message("flow", b"{\"n\":1}")).unwrap();
    assert_eq!(read_frame(&mut stream), expected("flow", b"{\"n\":1}"));

    drop((stream, listener));
    let error = syslog.send(message("flow", b"{\"n\":2}")).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error}");
    let error = syslog.send(message("flow", b"{\"n\":3}")).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::NotConnected, "{error}");

    let listener = TcpListener::bind(address).unwrap();
    send_until_sent(&mut syslog, b"{\"n\":4}");
    let (mut stream, _) = listener.accept().unwrap();
    assert_eq!(read_frame(&mut stream), expected("flow", b"{\"n\":4}"));
    let counters = syslog.counters();
    assert_eq!((counters.syslog_sent, counters.syslog_reconnects), (2, 1));
    assert_eq!(counters.syslog_failed, 0);
    assert!(counters.syslog_disconnected >= 2, "{counters:?}");
    assert_eq!(counters.dropped(), counters.syslog_disconnected);
}

#[test]
fn a_stalled_tcp_collector_costs_a_timeout_not_a_hang() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = SyslogTarget::Tcp(listener.local_addr().unwrap());
    let config = SyslogConfig {
        max_message: 65_536,
        ..config()
    };
    let mut syslog = Syslog::connect(target, config).unwrap();
    let (_unread, _) = listener.accept().unwrap();
    let big = vec![b'x'; 60_000];
    let started = Instant::now();
    let mut sends = 0;
    while syslog.send(message("flow", &big)).is_ok() {
        sends += 1;
        assert!(sends < 10_000, "the socket buffers never filled");
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    let counters = syslog.counters();
    assert_eq!(counters.syslog_failed, 1, "{counters:?}");
    let quick = Instant::now();
    let error = syslog.send(message("flow", b"{}")).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::NotConnected, "{error}");
    assert!(
        quick.elapsed() < Duration::from_millis(100),
        "waiting to reconnect costs nothing"
    );
}

#[test]
fn unix_datagrams_arrive_and_a_restarted_collector_gets_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.sock");
    let collector = UnixDatagram::bind(&path).unwrap();
    let mut syslog = Syslog::connect(SyslogTarget::Unix(path.clone()), config()).unwrap();
    let mut datagram = vec![0; 65_536];
    syslog.send(message("notice", br#"{"a":1}"#)).unwrap();
    let n = collector.recv(&mut datagram).unwrap();
    assert_eq!(datagram[..n], expected("notice", br#"{"a":1}"#));

    drop(collector);
    std::fs::remove_file(&path).unwrap();
    let collector = UnixDatagram::bind(&path).unwrap();
    syslog.send(message("notice", br#"{"a":2}"#)).unwrap();
    let n = collector.recv(&mut datagram).unwrap();
    assert_eq!(datagram[..n], expected("notice", br#"{"a":2}"#));
    let counters = syslog.counters();
    assert_eq!((counters.syslog_sent, counters.syslog_reconnects), (2, 1));
    assert_eq!(counters.dropped(), 0);
}

#[test]
fn a_collector_missing_at_the_start_is_an_error() {
    let address = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let error = Syslog::connect(SyslogTarget::Tcp(address), config()).unwrap_err();
    assert!(matches!(error, SyslogError::Connect { .. }), "{error}");
    assert!(
        error.to_string().contains(&format!("tcp://{address}")),
        "{error}"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stream.sock");
    let _listener = UnixListener::bind(&path).unwrap();
    let error = Syslog::connect(SyslogTarget::Unix(path), config()).unwrap_err();
    assert!(error.to_string().contains("is a stream socket"), "{error}");
}
