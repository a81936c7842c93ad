//! The Zeek reader on lines made up by hand: damaged ones (cut short, invalid JSON, a field of
//! the wrong type, a header that does not fit), bytes that are not UTF-8, fields it does not
//! know, headers mid-stream, and what it skips.

use super::ZeekReader;
use crate::capture::Timestamp;
use crate::decode::Transport;
use crate::flow::EndReason;
use crate::logs::{LineProblem, LogReader, Piece, Said};
use crate::proto::Protocol;

/// A reader fed `lines` one at a time (for a file named `name`): what each gave.
fn feed(name: &str, lines: &[&[u8]]) -> Vec<Result<Vec<Piece>, LineProblem>> {
    let mut reader = ZeekReader::new(name);
    (lines.iter())
        .map(|line| {
            let mut out = Vec::new();
            reader.line(line, &mut out).map(|()| out)
        })
        .collect()
}

/// The header of a TSV log.
fn header(path: &str, fields: &str) -> Vec<Vec<u8>> {
    vec![
        b"#separator \\x09".to_vec(),
        b"#set_separator\t,".to_vec(),
        b"#empty_field\t(empty)".to_vec(),
        b"#unset_field\t-".to_vec(),
        format!("#path\t{path}").into_bytes(),
        format!("#fields\t{}", fields.replace(' ', "\t")).into_bytes(),
    ]
}

/// A TSV log of `path` with `fields`, then `rows` (fields separated by spaces): what each row gave.
fn tsv(path: &str, fields: &str, rows: &[&[u8]]) -> Vec<Result<Vec<Piece>, LineProblem>> {
    let mut lines = header(path, fields);
    let head = lines.len();
    lines.extend(rows.iter().map(|r| {
        r.iter()
            .map(|&b| if b == b' ' { b'\t' } else { b })
            .collect()
    }));
    let refs: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
    let mut gave = feed("x.log", &refs);
    assert!(gave[..head].iter().all(|g| *g == Err(LineProblem::Skipped)));
    gave.split_off(head)
}

const SSL: &str = "ts uid id.orig_h id.orig_p id.resp_h id.resp_p version server_name";

fn sni(gave: &Result<Vec<Piece>, LineProblem>) -> Option<String> {
    match gave {
        Ok(pieces) => match &pieces[..] {
            [Piece::Message(m)] => match &m.said {
                Said::Tls(h) => h.sni.clone(),
                _ => None,
            },
            _ => None,
        },
        Err(e) => panic!("{e}"),
    }
}

/// A name that is not UTF-8 (or not printable) is kept, escaped as the packet path escapes
/// the wire's bytes; in TSV and JSON, raw or as Zeek escapes it, it is the same name.
#[test]
fn bytes_that_are_not_utf8_are_escaped_not_refused() {
    let rows: [&[u8]; 3] = [
        b"1.5 C1 10.0.0.1 50000 10.0.0.2 443 TLSv13 Api.\xffOpenAI.com",
        b"1.5 C1 10.0.0.1 50000 10.0.0.2 443 TLSv13 Api.\\xffOpenAI.com",
        b"1.5 C1 10.0.0.1 50000 10.0.0.2 443 TLSv13 a\\x09b\\\\x41",
    ];
    let gave = tsv("ssl", SSL, &rows);
    let names: Vec<_> = gave.iter().map(sni).collect();
    assert_eq!(names[0].as_deref(), Some("api.\\255openai.com"));
    assert_eq!(names[1], names[0]);
    assert_eq!(names[2].as_deref(), Some("a\\009b\\\\x41"));
    let json: [&[u8]; 2] = [
        b"{\"_path\":\"ssl\",\"ts\":1.5,\"uid\":\"C1\",\"id.orig_h\":\"10.0.0.1\",\"id.orig_p\":50000,\"id.resp_h\":\"10.0.0.2\",\"id.resp_p\":443,\"server_name\":\"Api.\xffOpenAI.com\"}",
        b"{\"_path\":\"ssl\",\"ts\":1.5,\"uid\":\"C1\",\"id.orig_h\":\"10.0.0.1\",\"id.orig_p\":50000,\"id.resp_h\":\"10.0.0.2\",\"id.resp_p\":443,\"server_name\":\"Api.\\\\xffOpenAI.com\"}",
    ];
    for gave in feed("x.json", &json) {
        assert_eq!(sni(&gave), names[0]);
    }
}

/// Damaged lines are malformed, with the reason, and the next line is read; fields lantern
/// does not know are ignored.
#[test]
fn damaged_lines_are_malformed_and_unknown_fields_ignored() {
    let rows: [&[u8]; 7] = [
        b"1.5 C1 10.0.0.1 50000 10.0.0.2 443 TLSv12 a.example",
        b"1.5 C1 10.0.0.1 50000 10.0.0.2 443 TLSv12",
        b"1.5 C1 10.0.0.1 https 10.0.0.2 443 TLSv12 a.example",
        b"1.5 C1 10.0.0.1 70000 10.0.0.2 443 TLSv12 a.example",
        b"yesterday C1 10.0.0.1 50000 10.0.0.2 443 TLSv12 a.example",
        b"1.5 C1 10.0.0.999 50000 10.0.0.2 443 TLSv12 a.example",
        b"1.5 - 10.0.0.1 50000 10.0.0.2 443 TLSv12 a.example",
    ];
    let gave = tsv("ssl", SSL, &rows);
    let problems: Vec<_> = gave.iter().map(|g| g.as_ref().err().copied()).collect();
    let m = |why| Some(LineProblem::Malformed(why));
    assert_eq!(
        problems,
        [
            None,
            m("a line whose number of fields is not the header's"),
            m("a number field that is not a number"),
            m("a field of the wrong type"),
            m("a field of the wrong type"),
            m("a field of the wrong type"),
            m("no uid"),
        ]
    );

    let good = b"{\"ts\":\"2018-03-24T17:15:20.615923Z\",\"uid\":\"C1\",\"id.orig_h\":\"10.0.0.1\",\"id.orig_p\":1,\"id.resp_h\":\"10.0.0.2\",\"id.resp_p\":443,\"server_name\":\"a.example\",\"new\":{\"x\":[1,2,{\"y\":null}]},\"cert_chain_fps\":[]}";
    let lines: [&[u8]; 7] = [
        good,
        &good[..good.len() - 10],
        b"{\"ts\":1.5,\"uid\":\"C1\",}",
        b"{\"ts\":1.5,\"uid\":\"C1\",\"id.orig_h\":\"10.0.0.1\",\"id.orig_p\":\"1\",\"id.resp_h\":\"10.0.0.2\",\"id.resp_p\":443}",
        b"{\"ts\":1.5,\"uid\":\"C1\",\"id.orig_h\":\"10.0.0.1\",\"id.orig_p\":1,\"id.resp_p\":443}",
        b"{\"ts\":true,\"uid\":\"C1\",\"id.orig_h\":\"10.0.0.1\",\"id.orig_p\":1,\"id.resp_h\":\"10.0.0.2\",\"id.resp_p\":443}",
        b"{\"ts\":1.5} trailing",
    ];
    let gave = feed("ssl.json", &lines);
    assert_eq!(sni(&gave[0]).as_deref(), Some("a.example"));
    let problems: Vec<_> = gave[1..]
        .iter()
        .map(|g| g.as_ref().err().copied())
        .collect();
    assert_eq!(
        problems,
        [
            m("invalid JSON: cut short"),
            m("invalid JSON"),
            m("a field of the wrong type"),
            m("no id.resp_h"),
            m("a field of the wrong type"),
            m("invalid JSON"),
        ]
    );
}

/// A header that does not fit its lines, a line before any header, a second file's header
/// after the first's lines, and logs or lines lantern does not read.
#[test]
fn headers_and_what_is_skipped() {
    let before = feed("conn.log", &[b"1.5\tC1\t10.0.0.1\t1\t10.0.0.2\t2\ttcp"]);
    assert_eq!(
        before[0],
        Err(LineProblem::Malformed(
            "a data line before the #fields header"
        ))
    );

    let mut lines = header("ssl", SSL);
    lines.push(b"1.5\tC1\t10.0.0.1\t50000\t10.0.0.2\t443\t-\ta.example\textra".to_vec());
    lines.push(b"#close\t2026-01-01-00-00-00".to_vec());
    lines.extend(header(
        "conn",
        "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto duration conn_state service",
    ));
    lines.push(b"1.5\tC2\t10.0.0.1\t50000\t10.0.0.2\t443\ttcp\t2.25\tSF\tquic,ssl".to_vec());
    lines.push(b"1.5\tC3\t10.0.0.1\t8\t10.0.0.2\t0\ticmp\t-\tOTH\t-".to_vec());
    lines.push(b"1.5\tC4\t10.0.0.1\t50000\t10.0.0.2\t443\tudp\t-\t-\t-ftp,dns".to_vec());
    lines.push(b"{\"_path\":\"ntlm\",\"ts\":1.5,\"uid\":\"C5\"}".to_vec());
    let refs: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
    let gave = feed("whatever.log", &refs);
    assert_eq!(
        gave[6],
        Err(LineProblem::Malformed(
            "a line whose number of fields is not the header's"
        ))
    );
    assert_eq!(gave[7], Err(LineProblem::Skipped));
    let Ok(pieces) = &gave[14] else {
        panic!("{:?}", gave[14])
    };
    let [Piece::Totals(t)] = &pieces[..] else {
        panic!()
    };
    assert_eq!(
        (t.first, t.last),
        (Timestamp(1_500_000_000), Timestamp(3_750_000_000))
    );
    assert_eq!(
        (t.protocol, t.end, t.packets, t.bytes),
        (Protocol::Quic, EndReason::Closed, [0, 0], [0, 0])
    );
    assert_eq!(gave[15], Err(LineProblem::Skipped), "ICMP");
    let Ok(pieces) = &gave[16] else { panic!() };
    let [Piece::Totals(t)] = &pieces[..] else {
        panic!()
    };
    assert_eq!(
        (t.protocol, t.end, t.tuple.transport),
        (Protocol::Dns, EndReason::IdleTimeout, Transport::Udp)
    );
    assert_eq!(gave[17], Err(LineProblem::Skipped), "another log");
    assert_eq!(
        feed("x.log", &[b"", b"### a comment"]),
        [Err(LineProblem::Skipped), Err(LineProblem::Skipped)]
    );
}

/// An `http` line is kept as the packet path keeps a request head.
#[test]
fn an_http_line_is_a_request_as_the_packet_path_keeps_one() {
    let fields = "ts uid id.orig_h id.orig_p id.resp_h id.resp_p method host uri user_agent";
    let gave = tsv(
        "http",
        fields,
        &[
            b"1.5 C1 10.0.0.1 50000 10.0.0.2 11434 POST Ollama.lan:11434 /api/generate?stream=false curl/8.5.0",
            b"1.5 C1 10.0.0.1 50000 10.0.0.2 3128 CONNECT - api.openai.com:443 -",
            b"1.5 C1 10.0.0.1 50000 10.0.0.2 80 - - - -",
        ],
    );
    let request = |g: &Result<Vec<Piece>, LineProblem>| match g.as_deref() {
        Ok([Piece::Message(m)]) => match &m.said {
            Said::Http(r) => r.clone(),
            _ => panic!(),
        },
        other => panic!("{other:?}"),
    };
    let post = request(&gave[0]);
    assert_eq!(
        (post.method.as_str(), post.path.as_str()),
        ("POST", "/api/generate")
    );
    assert_eq!(
        (post.host.as_deref(), post.user_agent.as_deref()),
        (Some("ollama.lan"), Some("curl/8.5.0"))
    );
    let connect = request(&gave[1]);
    assert_eq!(
        (connect.host.as_deref(), connect.path.as_str()),
        (Some("api.openai.com"), "")
    );
    assert_eq!(
        gave[2],
        Err(LineProblem::Skipped),
        "a response without its request"
    );
}

#[test]
fn the_log_a_file_name_names() {
    use super::Log;
    for (name, log) in [
        ("ssl.log", Some(Log::Ssl)),
        ("ssl.json.gz", Some(Log::Ssl)),
        ("conn.10:00:00-11:00:00.log.gz", Some(Log::Conn)),
        ("/x/2026-12-01/dns.00:00:00-01:00:00.log.gz", Some(Log::Dns)),
        ("eve.json", None),
        ("", None),
    ] {
        assert_eq!(Log::of_name(name), log, "{name}");
    }
    assert_eq!(
        super::json_path(b"{\"_path\" : \"dhcp\",\"ts\":1}"),
        Some(&b"dhcp"[..])
    );
    assert_eq!(
        super::json_path(b"{\"uri\":\"\\\"_path\\\":\\\"x\\\"\"}"),
        None
    );
}
