//! MCP: the Model Context Protocol over plaintext HTTP, recognised in a flow's first request.
//!
//! Streamable HTTP sends each JSON-RPC 2.0 message as a `POST` body (`{"jsonrpc":"2.0",
//! "method":"tools/list",...}`), with `Accept: application/json, text/event-stream` and, after
//! `initialize`, an `Mcp-Session-Id`; the older SSE transport opens `GET …/sse` with `Accept:
//! text/event-stream` and posts messages to another path. A request is MCP when its body is a
//! JSON-RPC 2.0 request whose method is an MCP method, or when it is such an event stream.
//! What is kept: the method, the client's `clientInfo` and the `protocolVersion` of an
//! `initialize`, and the tool a `tools/call` names (it says what the agent did); never the
//! arguments, never a result.
//!
//! [`McpOverHttp`] is the stream dissector: probed before HTTP, it takes a flow whose first
//! request is MCP (and waits, within [`MAX_BODY`], for the body of a `POST` of JSON), and
//! declines every other request, which HTTP then takes. The requests after the first on the same
//! connection are read by [`requests`](super::requests), which asks [`recognise`] of each; a
//! JSON-RPC batch (an array) is every call in it, up to [`MAX_BATCH`].
//!
//! Only the first [`MAX_BODY`] bytes of the body are read. `serde_json` cannot read a prefix
//! of a document, and a `tools/call` carrying a file is larger than any bound a sensor should
//! buffer, so the body is read by [`Scanner`], a bounded reader of the top-level members that
//! stops at the end of what it was given (about 150 lines, fuzzed with the HTTP dissector).

use super::Parsed;
use super::dissector::StreamDissector;
use super::dissector::{EchKind, NameSource};
use super::http::{self, Http, HttpEvent, Request};
use serde::Serialize;

/// Most body bytes read of a request that may be MCP.
pub const MAX_BODY: usize = 4096;
/// Most bytes kept of a method, client, version or tool name.
pub const MAX_TEXT: usize = 128;
/// Deepest nesting the scanner follows (the tool name is at depth 2).
const MAX_DEPTH: usize = 8;
/// Most calls read from one JSON-RPC batch.
pub const MAX_BATCH: usize = 64;

/// How the client reaches the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// JSON-RPC messages as `POST` bodies (or the stream a `GET` with a session opens).
    StreamableHttp,
    /// The older transport: an event stream from `GET …/sse`, messages posted elsewhere.
    Sse,
}

impl Transport {
    /// Name in events.
    pub fn name(self) -> &'static str {
        match self {
            Transport::StreamableHttp => "streamable_http",
            Transport::Sse => "sse",
        }
    }
}

/// What a flow's first request said of MCP.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mcp {
    /// The transport.
    pub transport: Option<Transport>,
    /// The JSON-RPC method (`initialize`, `tools/call`, ...), when the body has one.
    pub method: Option<String>,
    /// `clientInfo` of an `initialize` (or `_meta`): `name/version`.
    pub client: Option<String>,
    /// The protocol version: `initialize`'s `protocolVersion`, else the
    /// `MCP-Protocol-Version` header.
    pub version: Option<String>,
    /// The tool a `tools/call` calls.
    pub tool: Option<String>,
    /// Every MCP call the request carried, in order: one, or each of a JSON-RPC batch (at most
    /// [`MAX_BATCH`]); none for a `GET` that opens an event stream.
    pub calls: Vec<Call>,
}

/// One JSON-RPC call with an MCP method.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Call {
    /// The method.
    pub method: String,
    /// The tool, for a `tools/call`.
    pub tool: Option<String>,
}

/// What the request head says that bears on MCP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Head<'a> {
    /// `POST`, `GET`, ...
    pub method: &'a str,
    /// The path, without its query.
    pub path: &'a str,
    /// `Accept` names `text/event-stream`.
    pub event_stream: bool,
    /// An `Mcp-Session-Id` header.
    pub session: bool,
    /// The `MCP-Protocol-Version` header.
    pub protocol_version: Option<&'a str>,
    /// The `Mcp-Method` header (the 2026 revision sends the method in a header too).
    pub method_header: Option<&'a str>,
}

/// Whether a JSON-RPC method is one of MCP's.
pub fn is_mcp_method(method: &str) -> bool {
    const EXACT: [&str; 8] = [
        "initialize",
        "ping",
        "completion/complete",
        "logging/setLevel",
        "server/discover",
        "sampling/createMessage",
        "elicitation/create",
        "roots/list",
    ];
    const FAMILIES: [&str; 4] = ["tools/", "resources/", "prompts/", "notifications/"];
    EXACT.contains(&method) || FAMILIES.iter().any(|f| method.starts_with(f))
}

/// The MCP a request says, from its head and the first bytes of its body; `None` when it is not
/// MCP. Of a batch, the first call says the method, tool, client and version.
pub fn recognise(head: &Head<'_>, body: &[u8]) -> Option<Mcp> {
    let body = &body[..body.len().min(MAX_BODY)];
    let messages = Scanner::new(body).messages();
    let mut calls: Vec<Call> = (messages.iter())
        .filter_map(|m| {
            let method = m
                .method
                .as_ref()
                .filter(|n| m.jsonrpc && is_mcp_method(n))?;
            Some(Call {
                method: method.clone(),
                tool: m.tool.clone().filter(|_| method == "tools/call"),
            })
        })
        .collect();
    let header_method = head.method_header.filter(|m| is_mcp_method(m)).map(text);
    if calls.is_empty()
        && let Some(method) = &header_method
    {
        calls.push(Call {
            method: method.clone(),
            tool: None,
        });
    }
    let first = calls.first();
    let message = (messages.iter())
        .find(|m| m.method.as_ref() == first.map(|c| &c.method))
        .or(messages.first());
    let method = first.map(|c| c.method.clone());
    let transport = match (head.method, method.as_deref()) {
        (_, Some(_)) if head.path.contains("/message") && !head.session => Transport::Sse,
        (_, Some(_)) => Transport::StreamableHttp,
        ("GET", None) if head.event_stream && head.path.ends_with("/sse") => Transport::Sse,
        ("GET", None) if head.event_stream && head.session => Transport::StreamableHttp,
        _ => return None,
    };
    Some(Mcp {
        transport: Some(transport),
        client: message.and_then(Message::client),
        version: (message.and_then(|m| m.version.clone())).or(head.protocol_version.map(text)),
        tool: first.and_then(|c| c.tool.clone()),
        method,
        calls,
    })
}

/// A string from the wire as kept: at most [`MAX_TEXT`] bytes (see [`crate::text::value`]).
fn text(s: &str) -> String {
    crate::text::value(s, MAX_TEXT)
}

/// What the scanner found in a JSON-RPC message (a member given twice: the last).
#[derive(Debug, Default)]
struct Message {
    jsonrpc: bool,
    method: Option<String>,
    client_name: Option<String>,
    client_version: Option<String>,
    version: Option<String>,
    tool: Option<String>,
}

impl Message {
    /// `name/version` of the client, when its name was given.
    fn client(&self) -> Option<String> {
        let name = self.client_name.as_ref()?;
        Some(match &self.client_version {
            Some(v) => format!("{name}/{v}"),
            None => name.clone(),
        })
    }
}

/// A bounded reader of a JSON document's prefix: it walks objects member by member, reads the
/// few string members it is asked for and skips every other value, and stops, keeping what it
/// found, where the bytes end or stop being JSON. It never allocates more than the strings it
/// keeps ([`MAX_TEXT`] bytes each).
struct Scanner<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl<'b> Scanner<'b> {
    fn new(bytes: &'b [u8]) -> Scanner<'b> {
        Scanner { bytes, at: 0 }
    }

    /// The messages of the body: one object, or each object of a batch (an array), at most
    /// [`MAX_BATCH`]; what could not be read is left out.
    fn messages(mut self) -> Vec<Message> {
        if self.peek() != Some(b'[') {
            return vec![self.message()];
        }
        self.at += 1;
        let mut all = Vec::new();
        while all.len() < MAX_BATCH {
            match self.peek() {
                Some(b'{') => all.push(self.message()),
                Some(b',') => self.at += 1,
                _ => break,
            }
        }
        all
    }

    /// The members of interest of the object here; what could not be read is left out, and
    /// the scanner stops where the object ends (or where it could not go on).
    fn message(&mut self) -> Message {
        let mut found = Message::default();
        let _ = self.object(0, &mut |path, value| match path {
            ["jsonrpc"] => found.jsonrpc = value == "2.0",
            ["method"] => found.method = Some(text(value)),
            ["params", "protocolVersion"] => found.version = Some(text(value)),
            ["params", "name"] => found.tool = Some(text(value)),
            ["params", "clientInfo" | "_meta", "name"] => found.client_name = Some(text(value)),
            ["params", "clientInfo" | "_meta", "version"] => {
                found.client_version = Some(text(value))
            }
            _ => {}
        });
        found
    }

    fn peek(&mut self) -> Option<u8> {
        while let Some(&b) = self.bytes.get(self.at) {
            if !b.is_ascii_whitespace() {
                return Some(b);
            }
            self.at += 1;
        }
        None
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// An object; `seen(path, value)` gets each string member on the way (keys up to
    /// depth 3).
    fn object(&mut self, depth: usize, seen: &mut dyn FnMut(&[&str], &str)) -> Option<()> {
        self.members(depth, &mut Vec::new(), seen)
    }

    fn members(
        &mut self,
        depth: usize,
        path: &mut Vec<&'b str>,
        seen: &mut dyn FnMut(&[&str], &str),
    ) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.expect(b'{')?;
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.expect(b':')?;
            path.push(key);
            match self.peek()? {
                b'"' => {
                    let value = self.string()?;
                    if path.len() <= 3 {
                        seen(path, value);
                    }
                }
                b'{' if path.len() < 3 => self.members(depth + 1, path, seen)?,
                _ => self.skip_value(depth + 1)?,
            }
            path.pop();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A string's raw contents (escapes left as they are: the names read have none).
    fn string(&mut self) -> Option<&'b str> {
        self.expect(b'"')?;
        let start = self.at;
        while let Some(&b) = self.bytes.get(self.at) {
            match b {
                b'"' => {
                    let s = std::str::from_utf8(&self.bytes[start..self.at]).ok()?;
                    self.at += 1;
                    return Some(s);
                }
                b'\\' => self.at += 2,
                _ => self.at += 1,
            }
        }
        None
    }

    /// Skips one value of any kind.
    fn skip_value(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' | b'[' => {
                let close = if self.peek()? == b'{' { b'}' } else { b']' };
                self.at += 1;
                loop {
                    match self.peek()? {
                        b if b == close => {
                            self.at += 1;
                            return Some(());
                        }
                        b',' | b':' => self.at += 1,
                        _ => self.skip_value(depth + 1)?,
                    }
                }
            }
            _ => {
                let rest = &self.bytes[self.at..];
                let len = rest
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace())?;
                (len > 0).then(|| self.at += len)
            }
        }
    }
}

/// The MCP-over-HTTP stream dissector.
#[derive(Clone, Copy, Debug)]
pub struct McpOverHttp;

/// A first request that is MCP: its head, and what it said of MCP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct McpRequest {
    /// The request head, as HTTP's dissector parses it.
    pub http: Request,
    /// What it said of MCP.
    pub mcp: Mcp,
}

impl StreamDissector for McpOverHttp {
    type Message = McpRequest;
    type Event<'a> = McpEvent<'a>;
    const NAME: &'static str = "mcp";
    const NAME_SOURCE: NameSource = NameSource::HttpHost;

    fn recognise(stream: &[u8]) -> Option<bool> {
        Some(read(stream)?.is_some())
    }

    fn parse(stream: &[u8]) -> Parsed<McpRequest> {
        match (read(stream), http::parse_request(stream)) {
            (Some(Some(mcp)), Parsed::Complete(http)) => Parsed::Complete(McpRequest { http, mcp }),
            (None, _) | (_, Parsed::Incomplete) => Parsed::Incomplete,
            _ => Parsed::Malformed("not an MCP request"),
        }
    }

    fn server_name(request: &McpRequest) -> Option<&str> {
        request.http.host.as_deref()
    }

    fn event(request: &McpRequest, ech: EchKind) -> McpEvent<'_> {
        let mcp = &request.mcp;
        McpEvent {
            transport: mcp.transport.map(Transport::name),
            method: mcp.method.as_deref(),
            client: mcp.client.as_deref(),
            version: mcp.version.as_deref(),
            tool: mcp.tool.as_deref(),
            http: Http::event(&request.http, ech),
        }
    }
}

/// An MCP request's fields in a flow event.
#[derive(Serialize)]
pub struct McpEvent<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    transport: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool: Option<&'a str>,
    http: HttpEvent<'a>,
}

/// Whether the start of a client's stream is an MCP request: `None` while the head (or the
/// body of a `POST` of JSON, up to [`MAX_BODY`]) is still coming, `Some(None)` when it is not
/// MCP (or not HTTP at all).
fn read(stream: &[u8]) -> Option<Option<Mcp>> {
    if !http::looks_like_http(stream)? {
        return Some(None);
    }
    let mut headers = [httparse::EMPTY_HEADER; http::MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let head_len = match request.parse(stream) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return None,
        Err(_) => return Some(None),
    };
    let body = &stream[head_len..];
    match body_wanted(&request) {
        None => Some(None),
        Some(wanted) if body.len() < wanted => None,
        Some(_) => Some(recognise(&head_of(&request), body)),
    }
}

/// What a parsed request head says that bears on MCP.
pub(super) fn head_of<'b>(request: &httparse::Request<'_, 'b>) -> Head<'b> {
    let header = |name: &str| http::header(request, name);
    Head {
        method: request.method.unwrap_or_default(),
        path: (request.path.unwrap_or_default().split(['?', '#']))
            .next()
            .unwrap_or_default(),
        event_stream: header("accept").is_some_and(|a| a.contains("text/event-stream")),
        session: header("mcp-session-id").is_some(),
        protocol_version: header("mcp-protocol-version"),
        method_header: header("mcp-method"),
    }
}

/// How many bytes of a request's body recognising MCP waits for: a `POST` of JSON's, up to
/// [`MAX_BODY`] (none when the client waits for `100 Continue` first); `None` when the request
/// cannot be MCP (a `POST` of anything else).
pub(super) fn body_wanted(request: &httparse::Request<'_, '_>) -> Option<usize> {
    if request.method != Some("POST") {
        return Some(0);
    }
    let header = |name: &str| http::header(request, name);
    if !header("content-type").is_some_and(|t| t.contains("json")) {
        return None;
    }
    let length = header("content-length").and_then(|l| l.trim().parse::<usize>().ok());
    let continues = header("expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue"));
    Some(if continues {
        0
    } else {
        length.unwrap_or(0).min(MAX_BODY)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(body: &str) -> Option<Mcp> {
        let head = Head {
            method: "POST",
            path: "/mcp",
            event_stream: true,
            ..Head::default()
        };
        recognise(&head, body.as_bytes())
    }

    #[test]
    fn an_initialize_from_the_python_sdk() {
        let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"lantern-capture-client","version":"1.4.0"}}}"#;
        let mcp = post(body).unwrap();
        assert_eq!(mcp.transport, Some(Transport::StreamableHttp));
        assert_eq!(mcp.method.as_deref(), Some("initialize"));
        assert_eq!(mcp.client.as_deref(), Some("lantern-capture-client/1.4.0"));
        assert_eq!(mcp.version.as_deref(), Some("2025-11-25"));
        assert_eq!(mcp.tool, None);
    }

    #[test]
    fn a_tool_call_keeps_the_tool_not_the_arguments_even_cut_short() {
        let body = r#"{"method":"tools/call","params":{"name":"search_docs","arguments":{"query":"vpn","name":"secret"}},"jsonrpc":"2.0","id":3}"#;
        let mcp = post(body).unwrap();
        assert_eq!(mcp.tool.as_deref(), Some("search_docs"));
        assert!(!format!("{mcp:?}").contains("secret"));
        // The first bytes alone still say it: method first, as the TypeScript SDK writes it.
        let cut = &body[..60];
        assert_eq!(
            post(cut),
            None,
            "no jsonrpc member yet: not known to be JSON-RPC"
        );
        let body = r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"add","arguments":{"a":"#;
        assert_eq!(post(body).unwrap().tool.as_deref(), Some("add"));
    }

    #[test]
    fn json_rpc_that_is_not_mcp_and_json_that_is_not_json_rpc_are_not_mcp() {
        assert_eq!(
            post(r#"{"jsonrpc":"2.0","method":"eth_blockNumber","id":1}"#),
            None
        );
        assert_eq!(
            post(r#"{"model":"gpt-4o","messages":[{"role":"user"}]}"#),
            None
        );
        assert_eq!(post(r#"{"jsonrpc":"1.0","method":"tools/list"}"#), None);
        assert_eq!(post("not json"), None);
        assert_eq!(post(""), None);
    }

    #[test]
    fn event_streams_of_both_transports() {
        let mut head = Head {
            method: "GET",
            path: "/sse",
            event_stream: true,
            ..Head::default()
        };
        assert_eq!(
            recognise(&head, b"").unwrap().transport,
            Some(Transport::Sse)
        );
        head.path = "/mcp";
        assert_eq!(
            recognise(&head, b""),
            None,
            "an event stream alone is not MCP"
        );
        head.session = true;
        head.protocol_version = Some("2025-11-25");
        let mcp = recognise(&head, b"").unwrap();
        assert_eq!(mcp.transport, Some(Transport::StreamableHttp));
        assert_eq!(mcp.version.as_deref(), Some("2025-11-25"));
        let sse_post = Head {
            method: "POST",
            path: "/messages/",
            ..Head::default()
        };
        let mcp = recognise(
            &sse_post,
            br#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
        );
        assert_eq!(mcp.unwrap().transport, Some(Transport::Sse));
    }

    #[test]
    fn hostile_bodies_end_the_scan_without_panicking() {
        let deep = "{\"a\":".repeat(10_000);
        assert_eq!(post(&deep), None);
        let long = format!(
            r#"{{"jsonrpc":"2.0","method":"tools/{}"}}"#,
            "x".repeat(1_000)
        );
        assert!(
            post(&long)
                .unwrap()
                .method
                .is_some_and(|m| m.len() <= MAX_TEXT)
        );
        // A member given again replaces, never grows, what was kept; bytes are escaped.
        let again = "{\"jsonrpc\":\"2.0\",\"method\":\"initialize\",\"params\":{\"clientInfo\":\
            {\"name\":\"a\u{0}b\",\"version\":\"1\",\"version\":\"2\",\"version\":\"3\"}}}";
        assert_eq!(post(again).unwrap().client.as_deref(), Some("a\\000b/3"));
        let raw = "{\"jsonrpc\":\"2.0\",\"method\":\"tools/\u{1}\"}";
        assert_eq!(post(raw).unwrap().method.as_deref(), Some("tools/\\001"));
    }
}
