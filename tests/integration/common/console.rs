//! A `lantern serve` started by a test, and plain HTTP/1.1 to it over loopback: requests
//! written by hand on a `TcpStream` (so a test controls every header), answers read to the end
//! and split into status, headers and body. Also what the tests read from the pages: the
//! numbers at the top (`data-metric`) and the cells of a table (`data-col`, `data-value`), with
//! HTML's entities undone.

use super::system::{free_port, wait_for};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running console; stopped when dropped.
pub struct Served {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    log: PathBuf,
}

/// One answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// The first value of a header (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        (self.headers.iter())
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Served {
    /// Starts `lantern serve --listen 127.0.0.1:PORT ARGS` in `dir`, and waits until it listens.
    pub fn start(dir: &Path, args: &[&str]) -> Served {
        let port = free_port();
        let log = dir.join(format!("serve-{port}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_lantern"))
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .current_dir(dir)
            .env_remove("LANTERN_STORE")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start lantern serve");
        let mut served = Served { child, port, log };
        let seen = served.log.clone();
        wait_for(
            "the console to listen",
            Duration::from_secs(20),
            || {
                let text = std::fs::read_to_string(&served.log).unwrap_or_default();
                text.contains("listening on").then_some(())
            },
            || std::fs::read_to_string(&seen).unwrap_or_default(),
        );
        assert!(
            served.child.try_wait().unwrap().is_none(),
            "{}",
            served.log()
        );
        served
    }

    /// What the console wrote on stderr: its one line per request.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], None)
    }

    /// `GET path` with the session cookie.
    pub fn get_as(&self, path: &str, cookie: &str) -> Reply {
        self.request("GET", path, &[("Cookie", cookie)], None)
    }

    /// A form `POST` to `path`.
    pub fn post(&self, path: &str, form: &[(&str, &str)], cookie: Option<&str>) -> Reply {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
        if let Some(cookie) = cookie {
            headers.push(("Cookie", cookie));
        }
        self.request("POST", path, &headers, Some(&body))
    }

    /// Any request, its headers as given.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n",
            self.port
        );
        for (name, value) in headers {
            head += &format!("{name}: {value}\r\n");
        }
        if let Some(body) = body {
            head += &format!("Content-Length: {}\r\n", body.len());
        }
        head += "\r\n";
        stream.write_all(head.as_bytes()).unwrap();
        if let Some(body) = body {
            stream.write_all(body.as_bytes()).unwrap();
        }
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        parse(&raw)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = (lines.next().unwrap_or_default().split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = (headers.iter()).any(|(n, v)| n == "transfer-encoding" && v == "chunked");
    let body = match chunked {
        true => unchunk(body),
        false => body.to_string(),
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out += &rest[..size];
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// Undoes the entities the templates write.
pub fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

/// The values of `attr="..."` in `html`, in order, unescaped.
pub fn attrs(html: &str, attr: &str) -> Vec<String> {
    let needle = format!("{attr}=\"");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(&needle) {
        rest = &rest[at + needle.len()..];
        let end = rest.find('"').unwrap_or(rest.len());
        out.push(unescape(&rest[..end]));
        rest = &rest[end..];
    }
    out
}

/// The numbers at the top of a page: (metric, value).
pub fn metrics(html: &str) -> Vec<(String, String)> {
    let names = attrs(html, "data-metric");
    let block = match html.find("data-metric=") {
        Some(at) => &html[at..],
        None => "",
    };
    let values = attrs(block, "data-value");
    names.into_iter().zip(values).collect()
}

/// The rows of the table `name` on a page: each row's (column, value) cells; `None` when the
/// page has no such table.
pub fn table(html: &str, name: &str) -> Option<Vec<Vec<(String, String)>>> {
    let start = html.find(&format!("data-table=\"{name}\""))?;
    let section = &html[start..];
    let section = &section[..section.find("</section>").unwrap_or(section.len())];
    let body = match section.find("<tbody>") {
        Some(at) => &section[at..],
        None => return Some(Vec::new()),
    };
    Some(
        (body.split("<tr>").skip(1))
            .map(|row| {
                let cols = attrs(row, "data-col");
                let values = attrs(row, "data-value");
                cols.into_iter().zip(values).collect()
            })
            .collect(),
    )
}
