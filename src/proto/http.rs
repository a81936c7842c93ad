//! HTTP/1.x: the method, path and Host of the first request on a connection, parsed with
//! `httparse` from the start of the client's stream, and how a request's body is framed
//! ([`body_of`]). The body is never looked at. [`Http`] is its [`StreamDissector`]: a TCP flow
//! whose client starts with a request method is HTTP on any port; its later requests are read by
//! [`requests`](super::requests).

use super::Parsed;
use super::dissector::StreamDissector;
use super::dissector::{EchKind, NameSource};
use crate::text::name_from_bytes;
use serde::Serialize;

/// Most header lines read from a request head.
pub(crate) const MAX_HEADERS: usize = 64;

/// The request methods lantern recognises a stream by.
const METHODS: [&[u8]; 9] = [
    b"GET ",
    b"POST ",
    b"PUT ",
    b"HEAD ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
];

/// The first request of an HTTP/1.x connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// Request method.
    pub method: String,
    /// Request path without the query string (kept for local model-server detection only).
    pub path: String,
    /// Host header (or CONNECT authority) without the port, lower-cased.
    pub host: Option<String>,
    /// The `User-Agent` header, its first [`MAX_USER_AGENT`] bytes, to tell a program from a
    /// browser (never written out as it is).
    pub user_agent: Option<String>,
}

/// Most bytes of a `User-Agent` kept.
pub const MAX_USER_AGENT: usize = 256;
/// The HTTP/1.x dissector: the first request head of the client's stream.
#[derive(Clone, Copy, Debug)]
pub struct Http;

impl StreamDissector for Http {
    type Message = Request;
    type Event<'a> = HttpEvent<'a>;
    const NAME: &'static str = "http";
    const NAME_SOURCE: NameSource = NameSource::HttpHost;

    fn recognise(stream: &[u8]) -> Option<bool> {
        looks_like_http(stream)
    }

    fn parse(stream: &[u8]) -> Parsed<Request> {
        parse_request(stream)
    }

    fn server_name(request: &Request) -> Option<&str> {
        request.host.as_deref()
    }

    fn event(request: &Request, _: EchKind) -> HttpEvent<'_> {
        HttpEvent {
            method: &request.method,
            host: request.host.as_deref(),
        }
    }
}

/// A request head's fields in a flow event.
#[derive(Serialize)]
pub struct HttpEvent<'a> {
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
}

/// Whether `stream` starts with an HTTP request method; `None` while too short to tell.
pub fn looks_like_http(stream: &[u8]) -> Option<bool> {
    let mut undecided = false;
    for method in METHODS {
        if stream.starts_with(method) {
            return Some(true);
        }
        if method.starts_with(stream) {
            undecided = true;
        }
    }
    if undecided { None } else { Some(false) }
}

/// Parses the request head at the start of a client's stream.
pub fn parse_request(stream: &[u8]) -> Parsed<Request> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(stream) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Parsed::Incomplete,
        Err(httparse::Error::TooManyHeaders) => return Parsed::Malformed("too many header lines"),
        Err(_) => return Parsed::Malformed("invalid HTTP request head"),
    }
    let target = request.path.unwrap_or_default();
    let header = |name: &str| {
        (request.headers.iter())
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    Parsed::Complete(Request::from_parts(
        request.method.unwrap_or_default(),
        target,
        header("host"),
        header("user-agent"),
    ))
}

impl Request {
    /// A request from its method, target, `Host` and `User-Agent` as sent (or as a log wrote
    /// them), kept as the dissector keeps them: the host lower-cased without its port (a
    /// CONNECT's authority when there is no `Host`), the path without its query, both bounded.
    pub fn from_parts(
        method: &str,
        target: &str,
        host: Option<&[u8]>,
        user_agent: Option<&[u8]>,
    ) -> Request {
        let method = cut(method, 16).to_string();
        let host = host
            .or_else(|| (method == "CONNECT").then_some(target.as_bytes()))
            .map(strip_port)
            .filter(|h| !h.is_empty())
            .map(name_from_bytes);
        let path = if method == "CONNECT" {
            String::new()
        } else {
            let path = target.split(['?', '#']).next().unwrap_or_default();
            cut(path, MAX_PATH).to_string()
        };
        let user_agent = user_agent.map(|value| {
            let value = &value[..value.len().min(MAX_USER_AGENT)];
            String::from_utf8_lossy(value).into_owned()
        });
        Request {
            method,
            path,
            host,
            user_agent,
        }
    }
}

/// Longest request path kept, in bytes: a flow holds what names an endpoint, not a payload.
const MAX_PATH: usize = 1024;

/// A header's value, when it is UTF-8 (the first of that name).
pub(super) fn header<'b>(request: &httparse::Request<'_, 'b>, name: &str) -> Option<&'b str> {
    (request.headers.iter())
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .and_then(|h| std::str::from_utf8(h.value).ok())
}

/// How a request's body is framed (RFC 9112, section 6): what comes after its head before the
/// next request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// `Content-Length` bytes (none when the request has neither that nor `Transfer-Encoding`).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// The connection stops being HTTP/1.x after this request (`CONNECT`, `Upgrade`), or its
    /// framing cannot be told (another transfer coding, a malformed length).
    End,
}

/// How the body of a parsed request is framed.
pub fn body_of(request: &httparse::Request<'_, '_>) -> Body {
    let header = |name: &str| header(request, name);
    if request.method == Some("CONNECT") || header("upgrade").is_some() {
        return Body::End;
    }
    if let Some(coding) = header("transfer-encoding") {
        let last = coding.rsplit(',').next().unwrap_or_default().trim();
        return match last.eq_ignore_ascii_case("chunked") {
            true => Body::Chunked,
            false => Body::End,
        };
    }
    match header("content-length").map(|l| l.trim().parse::<u64>()) {
        None => Body::Length(0),
        Some(Ok(n)) => Body::Length(n),
        Some(Err(_)) => Body::End,
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `host:port` to `host`, `[v6]:port` to `v6`.
fn strip_port(authority: &[u8]) -> &[u8] {
    let authority = authority.trim_ascii();
    if let Some(rest) = authority.strip_prefix(b"[") {
        return rest.split(|&b| b == b']').next().unwrap_or_default();
    }
    match authority.iter().rposition(|&b| b == b':') {
        Some(colon) if authority[colon + 1..].iter().all(u8::is_ascii_digit) => &authority[..colon],
        _ => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_request_of_an_ollama_call() {
        let head = b"POST /api/generate?stream=false HTTP/1.1\r\nHost: Ollama.lan:11434\r\n\
                     Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        let Parsed::Complete(req) = parse_request(head) else {
            panic!()
        };
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/api/generate");
        assert_eq!(req.host.as_deref(), Some("ollama.lan"));
        assert_eq!(req.user_agent, None);
        assert_eq!(parse_request(&head[..30]), Parsed::Incomplete);
        let Parsed::Complete(req) =
            parse_request(b"GET / HTTP/1.1\r\nuser-agent: curl/7.88.1\r\n\r\n")
        else {
            panic!()
        };
        assert_eq!(req.user_agent.as_deref(), Some("curl/7.88.1"));
    }

    #[test]
    fn connect_and_ipv6_authorities() {
        let Parsed::Complete(req) = parse_request(b"CONNECT api.openai.com:443 HTTP/1.1\r\n\r\n")
        else {
            panic!()
        };
        assert_eq!(req.host.as_deref(), Some("api.openai.com"));
        assert_eq!(strip_port(b"[::1]:8080"), b"::1");
        assert_eq!(strip_port(b"example.com"), b"example.com");
    }

    /// curl's real request from `captures/http-ollama.pcap`, whole and cut short.
    #[test]
    fn curls_request_head() {
        let client = crate::testdata::payloads("http-ollama.pcap", |p| p.dst_port == 11434);
        let head = &client[0];
        let Parsed::Complete(req) = parse_request(head) else {
            panic!("{}", String::from_utf8_lossy(head))
        };
        assert_eq!(
            (req.method.as_str(), req.path.as_str()),
            ("POST", "/api/generate")
        );
        assert_eq!(req.host.as_deref(), Some("ollama.lan"));
        let end = head.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        for cut in [1, 10, end] {
            assert_eq!(
                parse_request(&head[..cut]),
                Parsed::Incomplete,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn detection() {
        assert_eq!(looks_like_http(b"GE"), None);
        assert_eq!(looks_like_http(b"GET /"), Some(true));
        assert_eq!(looks_like_http(b"\x16\x03\x01"), Some(false));
        assert_eq!(looks_like_http(b"SSH-2.0"), Some(false));
        assert!(matches!(
            parse_request(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"),
            Parsed::Malformed(_)
        ));
    }
}
