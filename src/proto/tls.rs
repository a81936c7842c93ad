//! TLS ClientHello: SNI, ALPN, version, ECH presence and the JA4 fingerprint.
//!
//! The handshake message is gathered from the TLS records at the start of the client's stream
//! (one record in the common case, parsed in place; several records are concatenated, within
//! the reassembly bound). The ClientHello body and each extension are parsed with
//! `tls-parser`; the extension list is walked one extension at a time so that one malformed
//! extension does not hide the server name. [`Tls`] is its [`StreamDissector`]: a TCP flow whose
//! client starts with a handshake record is TLS on any port.

use super::Parsed;
use super::dissector::StreamDissector;
use super::dissector::{EchKind, NameSource};
use crate::text::name_from_bytes;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use tls_parser::{TlsExtension, parse_tls_client_hello_extension, parse_tls_extension_unknown};

/// Content type of a TLS handshake record.
const HANDSHAKE: u8 = 22;
/// Handshake type of a ClientHello.
const CLIENT_HELLO: u8 = 1;
/// Largest TLS record payload accepted (2^14 plus the allowance for compression/expansion).
const MAX_RECORD: usize = 16384 + 2048;
/// Most ALPN protocols kept from a ClientHello (JA4 reads the first one in full).
const MAX_ALPN: usize = 8;
/// Longest ALPN protocol kept, in bytes.
const MAX_ALPN_LEN: usize = 32;
/// Extension type of `encrypted_client_hello` (RFC 9849).
const ECH: u16 = 0xfe0d;
/// Extension types JA4 leaves out of its extension hash.
const SNI: u16 = 0x0000;
const ALPN: u16 = 0x0010;

/// What a ClientHello says about the connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// The server name (SNI), lower-cased, non-printable bytes escaped as `\DDD`.
    pub sni: Option<String>,
    /// ALPN protocols offered, in order.
    pub alpn: Vec<String>,
    /// Highest version offered: "1.3", "1.2", "1.1", "1.0", "ssl3", or a hex code.
    pub version: String,
    /// An `encrypted_client_hello` extension is present.
    pub ech: bool,
    /// JA4 fingerprint (FoxIO): `t` for TLS over TCP, `q` for QUIC; none for Google QUIC.
    pub ja4: Option<String>,
}

/// The TLS dissector: a ClientHello at the start of the client's stream.
#[derive(Clone, Copy, Debug)]
pub struct Tls;

impl StreamDissector for Tls {
    type Message = ClientHello;
    type Event<'a> = TlsEvent<'a>;
    const NAME: &'static str = "tls";
    const NAME_SOURCE: NameSource = NameSource::TlsSni;

    fn recognise(stream: &[u8]) -> Option<bool> {
        looks_like_tls(stream)
    }

    fn parse(stream: &[u8]) -> Parsed<ClientHello> {
        parse_client_hello(stream, false)
    }

    fn server_name(hello: &ClientHello) -> Option<&str> {
        hello.sni.as_deref()
    }

    fn event(hello: &ClientHello, ech: EchKind) -> TlsEvent<'_> {
        TlsEvent {
            sni: hello.sni.as_deref(),
            outer_sni: hello.sni.as_deref().filter(|_| ech == EchKind::Real),
            version: &hello.version,
            alpn: &hello.alpn,
            ja4: hello.ja4.as_deref(),
            ech: hello.ech,
            ech_kind: ech.name(),
        }
    }
}

/// A ClientHello's fields in a flow event (TLS over TCP, and QUIC's).
#[derive(Serialize)]
pub struct TlsEvent<'a> {
    sni: Option<&'a str>,
    /// With real Encrypted Client Hello, the SNI on the wire is the outer (provider's) name.
    #[serde(skip_serializing_if = "Option::is_none")]
    outer_sni: Option<&'a str>,
    version: &'a str,
    alpn: &'a [String],
    ja4: Option<&'a str>,
    ech: bool,
    /// `none`, `grease`, `real` or `unknown` (see `naming`).
    ech_kind: &'static str,
}

/// Whether `stream` starts like a TLS handshake record.
pub fn looks_like_tls(stream: &[u8]) -> Option<bool> {
    match stream {
        [] => None,
        [HANDSHAKE] => None,
        [HANDSHAKE, 3, ..] => Some(true),
        _ => Some(false),
    }
}

/// Parses the ClientHello at the start of a client's TLS stream.
pub fn parse_client_hello(stream: &[u8], quic: bool) -> Parsed<ClientHello> {
    let message = match handshake_message(stream) {
        Ok(message) => message,
        Err(parsed) => return parsed,
    };
    parse_handshake(&message, quic)
}

/// Parses a complete ClientHello handshake message (type, 24-bit length, body).
pub fn parse_handshake(message: &[u8], quic: bool) -> Parsed<ClientHello> {
    if message.len() < 4 || message[0] != CLIENT_HELLO {
        return Parsed::Malformed("first handshake message is not a ClientHello");
    }
    let body = &message[4..];
    let Ok((_, hello)) = tls_parser::parse_tls_handshake_client_hello(body) else {
        return Parsed::Malformed("ClientHello body does not parse");
    };
    let mut fields = Fields {
        legacy_version: hello.version.0,
        ciphers: hello.ciphers.iter().map(|c| c.0).collect(),
        ..Fields::default()
    };
    if let Some(mut exts) = hello.ext {
        while !exts.is_empty() {
            match parse_tls_client_hello_extension(exts) {
                Ok((rest, ext)) => {
                    fields.add(&ext, &exts[..exts.len() - rest.len()]);
                    exts = rest;
                }
                // Skip an extension whose content is malformed, keeping its type.
                Err(_) => match parse_tls_extension_unknown(exts) {
                    Ok((rest, _)) => {
                        fields.add_type(u16::from_be_bytes([exts[0], exts[1]]));
                        exts = rest;
                    }
                    Err(_) => break,
                },
            }
        }
    }
    Parsed::Complete(fields.finish(quic))
}

/// The first handshake message of the stream, gathered across records; borrowed when it fits
/// in the first record.
fn handshake_message(stream: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, Parsed<ClientHello>> {
    let mut records = stream;
    let mut message: Vec<u8> = Vec::new();
    let mut needed: Option<usize> = None;
    loop {
        if records.len() < 5 {
            return Err(Parsed::Incomplete);
        }
        if records[0] != HANDSHAKE || records[1] != 3 {
            return Err(Parsed::Malformed("not a TLS handshake record"));
        }
        let len = usize::from(u16::from_be_bytes([records[3], records[4]]));
        if len == 0 || len > MAX_RECORD {
            return Err(Parsed::Malformed("TLS record length out of range"));
        }
        let Some(payload) = records.get(5..5 + len) else {
            return Err(Parsed::Incomplete);
        };
        if message.is_empty() && payload.len() >= 4 {
            let total = 4
                + (usize::from(payload[1]) << 16
                    | usize::from(payload[2]) << 8
                    | usize::from(payload[3]));
            if payload.len() >= total {
                return Ok(std::borrow::Cow::Borrowed(&payload[..total]));
            }
        }
        message.extend_from_slice(payload);
        if needed.is_none() && message.len() >= 4 {
            needed = Some(
                4 + (usize::from(message[1]) << 16
                    | usize::from(message[2]) << 8
                    | usize::from(message[3])),
            );
        }
        if let Some(total) = needed
            && message.len() >= total
        {
            message.truncate(total);
            return Ok(std::borrow::Cow::Owned(message));
        }
        records = &records[5 + len..];
    }
}

/// The ClientHello fields lantern reports and JA4 needs.
#[derive(Default)]
struct Fields {
    legacy_version: u16,
    ciphers: Vec<u16>,
    /// Extension types in order, GREASE excluded.
    extensions: Vec<u16>,
    supported_versions: Vec<u16>,
    signature_algorithms: Vec<u16>,
    sni: Option<String>,
    alpn: Vec<String>,
    first_alpn: Option<Vec<u8>>,
}

impl Fields {
    fn add_type(&mut self, ext_type: u16) {
        if !is_grease(ext_type) {
            self.extensions.push(ext_type);
        }
    }

    fn add(&mut self, ext: &TlsExtension<'_>, raw: &[u8]) {
        let ext_type = u16::from_be_bytes([raw[0], raw[1]]);
        self.add_type(ext_type);
        match ext {
            TlsExtension::SNI(names) => {
                if let Some((_, name)) = names.iter().find(|(kind, _)| kind.0 == 0) {
                    self.sni = Some(name_from_bytes(name));
                }
            }
            TlsExtension::ALPN(protocols) => {
                self.first_alpn = protocols.first().map(|p| p.to_vec());
                // Kept to what names a protocol: real identifiers are a few bytes.
                self.alpn = protocols
                    .iter()
                    .take(MAX_ALPN)
                    .map(|p| String::from_utf8_lossy(&p[..p.len().min(MAX_ALPN_LEN)]).into_owned())
                    .collect();
            }
            TlsExtension::SupportedVersions(versions) => {
                self.supported_versions = versions.iter().map(|v| v.0).collect();
            }
            TlsExtension::SignatureAlgorithms(algorithms) => {
                // JA4 ignores GREASE wherever it appears: Chromium 156 puts a different GREASE
                // value in this list on each connection.
                self.signature_algorithms = algorithms
                    .iter()
                    .copied()
                    .filter(|a| !is_grease(*a))
                    .collect();
            }
            _ => {}
        }
    }

    fn finish(self, quic: bool) -> ClientHello {
        let offered = || {
            self.supported_versions
                .iter()
                .copied()
                .filter(|v| !is_grease(*v))
        };
        // JA4 takes the highest value offered, draft and vendor versions included (Facebook's
        // Fizz offers 0xfb1a, which JA4 shows as "00"); the event shows the highest standard one.
        let ja4_version = offered().max().unwrap_or(self.legacy_version);
        let version = offered()
            .filter(|v| (0x0300..=0x0304).contains(v))
            .max()
            .unwrap_or(ja4_version);
        let ja4 = ja4(&self, ja4_version, quic);
        ClientHello {
            ech: self.extensions.contains(&ECH),
            sni: self.sni,
            alpn: self.alpn,
            version: version_name(version),
            ja4: Some(ja4),
        }
    }
}

/// RFC 8701 GREASE values.
fn is_grease(value: u16) -> bool {
    value & 0x0f0f == 0x0a0a && value >> 8 == value & 0xff
}

fn version_name(version: u16) -> String {
    match version {
        0x0304 => "1.3".into(),
        0x0303 => "1.2".into(),
        0x0302 => "1.1".into(),
        0x0301 => "1.0".into(),
        0x0300 => "ssl3".into(),
        other => format!("{other:#06x}"),
    }
}

/// The JA4 fingerprint as specified by FoxIO (github.com/FoxIO-LLC/ja4, technical_details).
fn ja4(fields: &Fields, version: u16, quic: bool) -> String {
    let code = match version {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    };
    let ciphers: Vec<u16> = fields
        .ciphers
        .iter()
        .copied()
        .filter(|c| !is_grease(*c))
        .collect();
    let mut a = String::with_capacity(36);
    a.push(if quic { 'q' } else { 't' });
    a.push_str(code);
    a.push(if fields.extensions.contains(&SNI) {
        'd'
    } else {
        'i'
    });
    let _ = write!(
        a,
        "{:02}{:02}{}",
        ciphers.len().min(99),
        fields.extensions.len().min(99),
        alpn_code(fields.first_alpn.as_deref())
    );
    let mut sorted_ciphers = ciphers;
    sorted_ciphers.sort_unstable();
    let mut exts: Vec<u16> = fields
        .extensions
        .iter()
        .copied()
        .filter(|e| *e != SNI && *e != ALPN)
        .collect();
    exts.sort_unstable();
    let b = truncated_hash(&hex_list(&sorted_ciphers), sorted_ciphers.is_empty());
    let mut c_input = hex_list(&exts);
    if !fields.signature_algorithms.is_empty() {
        c_input.push('_');
        c_input.push_str(&hex_list(&fields.signature_algorithms));
    }
    let c = truncated_hash(&c_input, exts.is_empty());
    format!("{a}_{b}_{c}")
}

/// First and last character of the first ALPN value; hex digits when either is not
/// alphanumeric; "00" without ALPN.
fn alpn_code(first: Option<&[u8]>) -> String {
    match first {
        None | Some([]) => "00".into(),
        Some(value) => {
            let (f, l) = (value[0], value[value.len() - 1]);
            if f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric() {
                format!("{}{}", f as char, l as char)
            } else {
                let hex = format!("{f:02x}{l:02x}");
                format!("{}{}", &hex[..1], &hex[3..])
            }
        }
    }
}

fn hex_list(values: &[u16]) -> String {
    let mut out = String::with_capacity(values.len() * 5);
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        crate::text::push_hex(&mut out, &v.to_be_bytes());
    }
    out
}

fn truncated_hash(input: &str, empty: bool) -> String {
    if empty {
        return "000000000000".into();
    }
    let digest = Sha256::digest(input.as_bytes());
    let mut out = String::with_capacity(12);
    crate::text::push_hex(&mut out, &digest[..6]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNATURE_ALGORITHMS: u16 = 0x000d;
    const SUPPORTED_VERSIONS: u16 = 0x002b;

    /// A ClientHello as `openssl s_client -servername chatgpt.com -alpn h2,http/1.1` would
    /// send it, built field by field from the RFC 8446 layout.
    fn client_hello(sni: &str) -> Vec<u8> {
        let mut exts = Vec::new();
        let push_ext = |exts: &mut Vec<u8>, t: u16, body: &[u8]| {
            exts.extend_from_slice(&t.to_be_bytes());
            exts.extend_from_slice(&(body.len() as u16).to_be_bytes());
            exts.extend_from_slice(body);
        };
        let mut sni_body = Vec::new();
        sni_body.extend_from_slice(&((sni.len() + 3) as u16).to_be_bytes());
        sni_body.push(0);
        sni_body.extend_from_slice(&(sni.len() as u16).to_be_bytes());
        sni_body.extend_from_slice(sni.as_bytes());
        push_ext(&mut exts, 0x0a0a, &[]);
        push_ext(&mut exts, SNI, &sni_body);
        push_ext(&mut exts, ALPN, b"\x00\x0c\x02h2\x08http/1.1");
        push_ext(&mut exts, SUPPORTED_VERSIONS, &[4, 0x03, 0x04, 0x03, 0x03]);
        push_ext(
            &mut exts,
            SIGNATURE_ALGORITHMS,
            &[0, 4, 0x04, 0x03, 0x08, 0x04],
        );
        push_ext(&mut exts, ECH, &[0; 8]);
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[0x11; 32]);
        body.push(0);
        body.extend_from_slice(&[0, 6, 0x2a, 0x2a, 0x13, 0x01, 0x13, 0x02]);
        body.extend_from_slice(&[1, 0]);
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        let mut message = vec![CLIENT_HELLO, 0, 0, 0];
        message[1..4].copy_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        message.extend_from_slice(&body);
        message
    }

    fn records(message: &[u8], sizes: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = message;
        for &size in sizes {
            let (chunk, tail) = rest.split_at(size.min(rest.len()));
            out.extend_from_slice(&[HANDSHAKE, 3, 1]);
            out.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
            out.extend_from_slice(chunk);
            rest = tail;
        }
        out
    }

    #[test]
    fn fields_and_ja4_of_a_client_hello() {
        let message = client_hello("ChatGPT.com");
        let stream = records(&message, &[message.len()]);
        let Parsed::Complete(hello) = parse_client_hello(&stream, false) else {
            panic!("not parsed")
        };
        assert_eq!(hello.sni.as_deref(), Some("chatgpt.com"));
        assert_eq!(hello.alpn, ["h2", "http/1.1"]);
        assert_eq!(hello.version, "1.3");
        assert!(hello.ech);
        assert!(
            hello.ja4.as_deref().unwrap().starts_with("t13d0205h2_"),
            "{:?}",
            hello.ja4
        );
    }

    #[test]
    fn a_hello_split_over_records_and_cut_short() {
        let message = client_hello("claude.ai");
        let stream = records(&message, &[10, 30, message.len()]);
        let Parsed::Complete(hello) = parse_client_hello(&stream, false) else {
            panic!("not parsed")
        };
        assert_eq!(hello.sni.as_deref(), Some("claude.ai"));
        for cut in [0, 3, 5, 20, stream.len() - 1] {
            assert_eq!(
                parse_client_hello(&stream[..cut], false),
                Parsed::Incomplete,
                "cut {cut}"
            );
        }
    }

    #[test]
    fn a_broken_extension_does_not_hide_the_name() {
        let mut message = client_hello("api.openai.com");
        // Corrupt the signature_algorithms list length so that extension fails to parse.
        let at = message
            .windows(4)
            .position(|w| w == [0x00, 0x0d, 0x00, 0x06])
            .unwrap();
        message[at + 4] = 0xff;
        let stream = records(&message, &[message.len()]);
        let Parsed::Complete(hello) = parse_client_hello(&stream, false) else {
            panic!("not parsed")
        };
        assert_eq!(hello.sni.as_deref(), Some("api.openai.com"));
        assert_eq!(hello.version, "1.3");
        assert!(hello.ech, "extensions after the broken one are still read");
        assert!(
            hello.ja4.as_deref().unwrap().starts_with("t13d0205h2_"),
            "{:?}",
            hello.ja4
        );
    }

    #[test]
    fn not_a_handshake() {
        assert_eq!(looks_like_tls(b"GET / HTTP/1.1"), Some(false));
        assert_eq!(looks_like_tls(&[22]), None);
        assert!(matches!(
            parse_client_hello(&[23, 3, 3, 0, 1, 0], false),
            Parsed::Malformed(_)
        ));
    }

    /// The hash parts of JA4 against a published fingerprint and its raw form (ja4_r) for
    /// Chrome 143: t13d1516h2_8daaf6152771_d8a2da3f94cd.
    #[test]
    fn ja4_hashes_match_a_published_fingerprint() {
        let ciphers = "002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9";
        assert_eq!(truncated_hash(ciphers, false), "8daaf6152771");
        let exts = "0005,000a,000b,000d,0012,0017,001b,0023,002b,002d,0033,44cd,fe0d,ff01_\
                    0403,0804,0401,0503,0805,0501,0806,0601";
        assert_eq!(truncated_hash(exts, false), "d8a2da3f94cd");
    }

    #[test]
    fn alpn_codes() {
        assert_eq!(alpn_code(None), "00");
        assert_eq!(alpn_code(Some(b"h2")), "h2");
        assert_eq!(alpn_code(Some(b"http/1.1")), "h1");
        assert_eq!(alpn_code(Some(b"h")), "hh");
        assert_eq!(alpn_code(Some(&[0xab, 0x01, 0xcd])), "ad");
    }
}
