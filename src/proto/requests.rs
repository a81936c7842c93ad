//! Every request of a plaintext HTTP/1.x connection: the reader that goes through the client's
//! stream request by request (keep-alive and pipelining), and the bounded [`RequestLog`] a flow
//! keeps of them.
//!
//! The HTTP and MCP stream dissectors recognise a connection by its first request; from then
//! on its client stream is read here. Each request's head is parsed (with `httparse`, as the
//! dissectors do), asked whether it is MCP (its JSON-RPC body, up to the MCP dissector's
//! bound, or a batch of calls), and its body is skipped by its framing (`Content-Length`, or
//! chunk by chunk) without being held: the stream moves past body bytes whether or not they
//! arrived. A head that does not parse ends the reading (counted as `http_malformed`), and so
//! does a connection that stops being HTTP/1.x (`CONNECT`, `Upgrade`, a transfer coding that
//! cannot be followed).
//!
//! What is kept: the number of requests and of MCP calls, and the distinct `METHOD /path`
//! (no query string), MCP methods and tools called, each list at most [`MAX_ENTRIES`] names of
//! at most [`MAX_NAME`] bytes, never a body, an argument or a result. A name not kept because
//! its list was full, or because the worker's logs hold [`LOG_MEMORY`] bytes, is counted
//! (`http_log_dropped`).

use super::Counters;
use super::http::{self, Body};
use super::mcp;
use super::stream::{StreamId, Streams};

/// Most names in each list of a log.
pub const MAX_ENTRIES: usize = 8;
/// Most bytes of a name kept (a path is cut there, at a character boundary).
pub const MAX_NAME: usize = 128;
/// Most bytes the request logs of one worker's open flows hold in all.
pub const LOG_MEMORY: usize = 16 << 20;
/// Longest chunk-size line (with its extensions) or trailer line read.
const MAX_LINE: usize = 1024;
/// Largest body or chunk skipped; past it the connection's framing is no longer followed.
const MAX_SKIP: u64 = 1 << 30;

/// What a flow keeps of its requests since its last record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestLog {
    /// HTTP/1.x requests read.
    pub requests: u32,
    /// The distinct `METHOD /path` of those requests (without query strings), in the order
    /// first seen.
    pub paths: Vec<Box<str>>,
    /// JSON-RPC calls with an MCP method (each call of a batch counts).
    pub mcp_calls: u32,
    /// The distinct MCP methods called, in the order first seen.
    pub mcp_methods: Vec<Box<str>>,
    /// The distinct tools a `tools/call` named, in the order first seen.
    pub mcp_tools: Vec<Box<str>>,
}

impl RequestLog {
    /// Bytes its names hold.
    pub fn weight(&self) -> usize {
        (self.paths.iter())
            .chain(&self.mcp_methods)
            .chain(&self.mcp_tools)
            .map(|n| n.len() + size_of::<Box<str>>())
            .sum()
    }

    /// Whether any request was read.
    pub fn is_empty(&self) -> bool {
        self.requests == 0
    }

    /// Adds one request of the connection as a log line states it (`lantern ingest`): its
    /// method and path (without the query), kept as the reader keeps them, within `budget`.
    /// False when its path was not kept for want of room.
    pub fn add_request(&mut self, method: &str, path: &str, budget: &mut LogBudget) -> bool {
        self.requests = self.requests.saturating_add(1);
        let path = path.split(['?', '#']).next().unwrap_or_default();
        keep_name(&mut self.paths, &format!("{method} {path}"), budget)
    }
}

/// Where the reader is in the client's stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Framing {
    /// At the start of a request.
    #[default]
    Head,
    /// Inside a chunked body, at a chunk-size line.
    ChunkSize,
    /// After a chunk's data: its CRLF.
    ChunkEnd,
    /// After the last chunk: trailer lines, then an empty line.
    Trailers,
}

/// The request reader of one connection, and its log.
#[derive(Debug, Default)]
pub struct RequestReader {
    framing: Framing,
    /// What was read since the flow's last record.
    pub log: RequestLog,
}

/// What the reader needs next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// More of the client's stream.
    Wait,
    /// Nothing: the connection is no longer read (counted where it is not normal).
    Stop,
}

/// The bytes the logs of one worker hold, against [`LOG_MEMORY`].
#[derive(Debug, Default)]
pub struct LogBudget {
    held: usize,
}

impl LogBudget {
    /// Gives back what a log held (its flow ended, or handed it on).
    pub fn release(&mut self, log: &RequestLog) {
        self.held = self.held.saturating_sub(log.weight());
    }

    /// Bytes held.
    pub fn held(&self) -> usize {
        self.held
    }
}

impl RequestReader {
    /// Reads every complete request the stream now holds; `full` says whether the stream can
    /// take no more bytes (a head longer than the reassembly limit).
    pub fn read(
        &mut self,
        streams: &mut Streams,
        id: StreamId,
        budget: &mut LogBudget,
        counters: &mut Counters,
    ) -> Next {
        loop {
            let Some(stream) = streams.get(id) else {
                return Next::Stop;
            };
            let (bytes, full) = (stream.contiguous(), stream.is_full());
            let step = match self.framing {
                Framing::Head => self.head(bytes, budget, counters),
                Framing::ChunkSize => chunk_size(bytes),
                Framing::ChunkEnd => chunk_end(bytes),
                Framing::Trailers => trailer(bytes),
            };
            match step {
                Step::Wait if full => {
                    counters.tcp_reassembly_gave_up += 1;
                    return Next::Stop;
                }
                Step::Wait => return Next::Wait,
                Step::Malformed => {
                    counters.http_malformed += 1;
                    return Next::Stop;
                }
                Step::End => return Next::Stop,
                Step::Go {
                    consume,
                    skip,
                    then,
                } => {
                    streams.consume(id, consume);
                    if skip > 0 {
                        streams.skip(id, skip as u32);
                    }
                    self.framing = then;
                }
            }
        }
    }

    /// A request head at the start of `bytes`: logged, and what follows it.
    fn head(&mut self, bytes: &[u8], budget: &mut LogBudget, counters: &mut Counters) -> Step {
        if bytes.is_empty() {
            return Step::Wait;
        }
        let mut headers = [httparse::EMPTY_HEADER; http::MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        let head_len = match request.parse(bytes) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Step::Wait,
            Err(_) => return Step::Malformed,
        };
        let body = &bytes[head_len..];
        let mcp = match mcp::body_wanted(&request) {
            Some(wanted) if body.len() < wanted => return Step::Wait,
            Some(_) => mcp::recognise(&mcp::head_of(&request), body),
            None => None,
        };
        self.log_request(&request, mcp, budget, counters);
        let then = match http::body_of(&request) {
            Body::Length(n) if n < MAX_SKIP => (n, Framing::Head),
            Body::Chunked => (0, Framing::ChunkSize),
            Body::Length(_) | Body::End => return Step::End,
        };
        Step::Go {
            consume: head_len,
            skip: then.0,
            then: then.1,
        }
    }

    /// Adds one request (and the MCP calls it carried) to the log.
    fn log_request(
        &mut self,
        request: &httparse::Request<'_, '_>,
        mcp: Option<mcp::Mcp>,
        budget: &mut LogBudget,
        counters: &mut Counters,
    ) {
        let log = &mut self.log;
        if log.requests > 0 {
            counters.http_more_requests += 1;
        }
        log.requests = log.requests.saturating_add(1);
        let path = (request.path.unwrap_or_default().split(['?', '#']))
            .next()
            .unwrap_or_default();
        let entry = format!("{} {}", request.method.unwrap_or_default(), path);
        let mut keep = |list: &mut Vec<Box<str>>, name: &str| {
            if !keep_name(list, name, budget) {
                counters.http_log_dropped += 1;
            }
        };
        keep(&mut log.paths, &entry);
        for call in mcp.iter().flat_map(|m| &m.calls) {
            log.mcp_calls = log.mcp_calls.saturating_add(1);
            keep(&mut log.mcp_methods, &call.method);
            if let Some(tool) = &call.tool {
                keep(&mut log.mcp_tools, tool);
            }
        }
    }

    /// Hands on the log of what was read since the last record, and starts a new one.
    pub fn take_log(&mut self, budget: &mut LogBudget) -> RequestLog {
        let log = std::mem::take(&mut self.log);
        budget.release(&log);
        log
    }
}

/// Adds `name` (cut to [`MAX_NAME`]) to `list` unless it is there; false when it was not kept
/// for want of room (the list is full, or the budget is spent).
fn keep_name(list: &mut Vec<Box<str>>, name: &str, budget: &mut LogBudget) -> bool {
    let name = cut(name, MAX_NAME);
    if list.iter().any(|n| &**n == name) {
        return true;
    }
    let weight = name.len() + size_of::<Box<str>>();
    if list.len() >= MAX_ENTRIES || budget.held + weight > LOG_MEMORY {
        return false;
    }
    budget.held += weight;
    list.push(name.into());
    true
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// What one step of reading found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// More bytes are needed.
    Wait,
    /// Not what HTTP/1.x has here.
    Malformed,
    /// The connection is no longer HTTP/1.x requests.
    End,
    /// Drop `consume` bytes held, then `skip` more (arrived or not), and go on at `then`.
    Go {
        consume: usize,
        skip: u64,
        then: Framing,
    },
}

/// One line (without its CRLF) at the start of `bytes`, and its length with the CRLF; `Err` for
/// a line longer than [`MAX_LINE`].
fn line(bytes: &[u8]) -> Result<Option<(&[u8], usize)>, ()> {
    let window = &bytes[..bytes.len().min(MAX_LINE + 2)];
    match window.windows(2).position(|w| w == b"\r\n") {
        Some(at) => Ok(Some((&bytes[..at], at + 2))),
        None if window.len() > MAX_LINE => Err(()),
        None => Ok(None),
    }
}

/// A chunk-size line: the chunk's data is skipped; size 0 ends the body.
fn chunk_size(bytes: &[u8]) -> Step {
    let (text, len) = match line(bytes) {
        Ok(Some(found)) => found,
        Ok(None) => return Step::Wait,
        Err(()) => return Step::Malformed,
    };
    let digits = text.split(|&b| b == b';').next().unwrap_or_default();
    let size = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| u64::from_str_radix(d.trim(), 16).ok());
    match size {
        None => Step::Malformed,
        Some(0) => Step::Go {
            consume: len,
            skip: 0,
            then: Framing::Trailers,
        },
        Some(n) if n < MAX_SKIP => Step::Go {
            consume: len,
            skip: n,
            then: Framing::ChunkEnd,
        },
        Some(_) => Step::End,
    }
}

/// The CRLF after a chunk's data.
fn chunk_end(bytes: &[u8]) -> Step {
    match bytes {
        [] | [b'\r'] => Step::Wait,
        [b'\r', b'\n', ..] => Step::Go {
            consume: 2,
            skip: 0,
            then: Framing::ChunkSize,
        },
        _ => Step::Malformed,
    }
}

/// A trailer line after the last chunk; the empty line ends the body.
fn trailer(bytes: &[u8]) -> Step {
    match line(bytes) {
        Ok(Some((text, len))) => Step::Go {
            consume: len,
            skip: 0,
            then: match text.is_empty() {
                true => Framing::Head,
                false => Framing::Trailers,
            },
        },
        Ok(None) => Step::Wait,
        Err(()) => Step::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `stream`, delivered in pieces of `piece` bytes, and returns the log and counters.
    fn read_all(stream: &[u8], piece: usize) -> (RequestLog, Counters, usize) {
        let mut streams = Streams::new(1 << 20);
        let id = streams.open(0, 65_540, false);
        let (mut reader, mut budget, mut counters) = Default::default();
        let mut at = 0;
        let mut next = Next::Wait;
        while at < stream.len() && next == Next::Wait {
            let end = (at + piece).min(stream.len());
            streams.insert(id, at as u32, &stream[at..end]);
            at = end;
            next = RequestReader::read(&mut reader, &mut streams, id, &mut budget, &mut counters);
        }
        let held = streams.held();
        (reader.log, counters, held)
    }

    fn names(list: &[Box<str>]) -> Vec<&str> {
        list.iter().map(|n| &**n).collect()
    }

    #[test]
    fn keep_alive_and_pipelined_requests_with_bodies_of_both_framings() {
        let stream = b"GET /v1/models HTTP/1.1\r\nHost: vllm.lan\r\n\r\n\
            POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: vllm.lan\r\nContent-Length: 11\r\n\r\nhello world\
            POST /v1/embeddings HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: a\r\n\r\n\
            GET /v1/models HTTP/1.1\r\n\r\n";
        for piece in [1, 7, 64, 4096] {
            let (log, counters, _) = read_all(stream, piece);
            assert_eq!(log.requests, 4, "in pieces of {piece}");
            assert_eq!(
                names(&log.paths),
                [
                    "GET /v1/models",
                    "POST /v1/chat/completions",
                    "POST /v1/embeddings"
                ]
            );
            assert_eq!(counters.http_more_requests, 3);
            assert_eq!((counters.http_malformed, log.mcp_calls), (0, 0));
        }
    }

    #[test]
    fn mcp_calls_of_every_request_and_of_a_batch_are_counted_names_only() {
        let body = |json: &str| {
            format!(
                "POST /mcp HTTP/1.1\r\nContent-Type: application/json\r\nAccept: application/json, \
                 text/event-stream\r\nContent-Length: {}\r\n\r\n{json}",
                json.len()
            )
        };
        let stream = [
            body(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"clientInfo":{"name":"c"}}}"#),
            body(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            body(r#"[{"jsonrpc":"2.0","id":2,"method":"tools/list"},{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"add","arguments":{"secret":"x"}}}]"#),
            body(r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"add"}}"#),
        ]
        .concat();
        let (log, _, _) = read_all(stream.as_bytes(), 100);
        assert_eq!((log.requests, log.mcp_calls), (4, 5));
        assert_eq!(
            names(&log.mcp_methods),
            [
                "initialize",
                "notifications/initialized",
                "tools/list",
                "tools/call"
            ]
        );
        assert_eq!(names(&log.mcp_tools), ["add"]);
        assert!(!format!("{log:?}").contains("secret"));
    }

    #[test]
    fn what_is_not_http_or_stops_being_it_ends_the_reading() {
        let (log, counters, _) = read_all(b"GET / HTTP/1.1\r\n\r\nSSH-2.0-x\r\n\r\n", 4096);
        assert_eq!((log.requests, counters.http_malformed), (1, 1));
        let upgrade = b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x81\x05hello";
        let (log, counters, _) = read_all(upgrade, 4096);
        assert_eq!((log.requests, counters.http_malformed), (1, 0));
        let bad_chunk = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        let (_, counters, _) = read_all(bad_chunk, 4096);
        assert_eq!(counters.http_malformed, 1);
    }

    /// A connection of 10,000 requests, each to a path of its own: the count goes on, the lists
    /// stop at their bound (what was not kept counted), and nothing of the stream is held once
    /// every request is read.
    #[test]
    fn ten_thousand_requests_on_one_connection_stay_within_the_bounds() {
        let mut stream = Vec::new();
        for i in 0..10_000 {
            let body = "x".repeat(i % 300);
            stream.extend_from_slice(
                format!(
                    "POST /item/{i}/{} HTTP/1.1\r\nContent-Length: {}\r\n\r\n{body}",
                    "p".repeat(200),
                    body.len()
                )
                .as_bytes(),
            );
        }
        let (log, counters, held) = read_all(&stream, 1460);
        assert_eq!(log.requests, 10_000);
        assert_eq!(log.paths.len(), MAX_ENTRIES);
        assert!(log.paths.iter().all(|p| p.len() <= MAX_NAME));
        assert_eq!(counters.http_log_dropped, 10_000 - MAX_ENTRIES as u64);
        assert!(log.weight() <= MAX_ENTRIES * (MAX_NAME + 16));
        assert!(held < 2048, "{held} bytes held after the last request");
    }

    #[test]
    fn the_budget_of_a_worker_bounds_every_log() {
        let mut budget = LogBudget {
            held: LOG_MEMORY - 10,
        };
        let mut list = Vec::new();
        assert!(!keep_name(&mut list, "GET /a-long-path", &mut budget));
        assert!(list.is_empty());
        budget.held = 0;
        assert!(keep_name(&mut list, "GET /a", &mut budget));
        assert!(
            keep_name(&mut list, "GET /a", &mut budget),
            "known: nothing more"
        );
        assert_eq!(budget.held(), "GET /a".len() + size_of::<Box<str>>());
    }
}
