//! Any bytes as the lines of a Zeek log (TSV with its header, or JSON lines), read by a Zeek
//! reader for a file whose name the first byte picks. It never panics, a line gives at most
//! one piece, and every name it keeps is within the packet path's bounds.
#![no_main]

use lantern::logs::zeek::ZeekReader;
use lantern::logs::{LogReader, Piece, Said};
use lantern::proto::Record;
use lantern::proto::dns::MAX_ANSWERS;
use libfuzzer_sys::fuzz_target;

/// File names, one for each log the reader reads and one it does not.
const NAMES: [&str; 8] = [
    "conn.log",
    "ssl.log",
    "dns.log.gz",
    "http.log",
    "kerberos.json",
    "dhcp.00:00:00-01:00:00.log.gz",
    "quic.log",
    "weird.log",
];

/// Longest name kept: 255 bytes from the wire, each escaped in at most 4.
const MAX_NAME: usize = 4 * 255;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, lines)) = data.split_first() else {
        return;
    };
    let mut reader = ZeekReader::new(NAMES[usize::from(pick) % NAMES.len()]);
    let mut out = Vec::new();
    for line in lines.split(|&b| b == b'\n') {
        out.clear();
        if reader.line(line, &mut out).is_err() {
            assert!(out.is_empty(), "a line refused gives nothing");
            continue;
        }
        assert_eq!(out.len(), 1, "a line read gives one piece");
        match &out[0] {
            Piece::Totals(t) => assert!(t.last >= t.first),
            Piece::Message(m) => match &m.said {
                Said::Tls(h) | Said::Quic(h) => {
                    assert!(h.sni.as_ref().is_none_or(|s| s.len() <= MAX_NAME));
                    assert!(h.alpn.len() <= 1);
                }
                Said::Http(r) => {
                    assert!(r.host.as_ref().is_none_or(|s| s.len() <= MAX_NAME));
                    assert!(r.method.len() <= 16 && r.path.len() <= 1024);
                }
            },
            Piece::Record(Record::Dns(d)) => {
                assert!(d.answers.len() <= MAX_ANSWERS);
                assert!(d.query.len() <= MAX_NAME && !d.query.is_empty());
            }
            Piece::Record(Record::Kerberos(k)) => {
                assert!(k.principal.as_ref().is_none_or(|p| p.len() <= 256));
            }
            Piece::Record(Record::Dhcp(d)) => {
                let m = &d.message;
                assert!(m.hostname.as_ref().is_none_or(|s| s.len() <= MAX_NAME));
                assert!(m.fqdn.as_ref().is_none_or(|s| s.len() <= MAX_NAME));
            }
            Piece::Record(Record::Flow(_)) => panic!("a Zeek line is never a whole flow"),
        }
    }
});
