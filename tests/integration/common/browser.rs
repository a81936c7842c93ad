//! A real headless Chromium for a test, driven over the Chrome DevTools Protocol (CDP) on its
//! websocket, without chromedriver: [`Browser::start`] launches Debian's `chromium` with a
//! fresh profile, and the test goes to pages, clicks links and buttons, goes back, reads the
//! DOM, runs JavaScript, takes screenshots and downloads files. Everything the page asked for
//! ([`Browser::requests`], and what Chromium blocked, [`Browser::blocked`]) and every error it
//! reported ([`Browser::console_errors`]: exceptions, `console.error`, CSP violations) is
//! recorded from the start, frames of other sites and workers included, so a test can assert
//! that a page made no request off its origin and logged no error:
//!
//! ```ignore
//! if !can_run(&["chromium"]) {
//!     return;
//! }
//! let mut browser = Browser::start();
//! browser.goto(&format!("{base}/"));
//! browser.click("a#flows");
//! assert_eq!(browser.text("h1"), "Flows");
//! assert!(browser.requests().iter().all(|r| r.starts_with(&base)));
//! assert_eq!(browser.console_errors(), Vec::<String>::new());
//! ```
//!
//! Everything is synchronous: one websocket to the browser target, with the page's session on
//! it (flattened sessions), read until the awaited answer or event arrives. Events met on the
//! way are recorded, so `requests`, `blocked` and `console_errors` hold what was read by the
//! last call; a navigation returns once the page's `load` has fired and what the page reported
//! until then has been read. Every wait has a deadline ([`LIMIT`]) and fails the test with what
//! it was waiting for, the last messages Chromium sent and the end of Chromium's log.
//!
//! Chromium runs in a process group of its own under `target/tmp/chromium-*/`, with its
//! profile, its home (so its crash handler writes there too) and its log (`chromium.log`). On
//! drop, also when the test panics, the group is killed, the crash handlers (in sessions of
//! their own) are killed by the directory in their command line, and the directory is removed.
//! As root Chromium needs `--no-sandbox`, which is passed then only.
//!
//! What Chromium (156) does that a test must know:
//! - It asks every origin for `/favicon.ico`, and a 404 there is a console error (`network:
//!   Failed to load resource: the server responded with a status of 404 ...`): a site that
//!   has no favicon shows an error in every test of its console errors.
//! - Going back restores the page from the back/forward cache: its scripts do not run again.
//! - A download is saved under its download id (a GUID, without extension); the name the
//!   server gave is [`Download::suggested_name`].
//! - A failed navigation (connection refused) fails [`Browser::goto`] and leaves Chromium's
//!   error page (`chrome-error://chromewebdata/`) as the page.
//! - A CSP violation is an error log entry of the page, `security: Loading the image 'URL'
//!   violates the following Content Security Policy directive ...`, and the request is both
//!   in the requests and in the blocked ones.

use super::system::wait_for;
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

/// How long any one thing may take: Chromium starting, an answer, a page's load, a download.
pub const LIMIT: Duration = Duration::from_secs(30);

/// The viewport, and a screenshot's width.
pub const WIDTH: u32 = 1280;
pub const HEIGHT: u32 = 900;

/// How long one read of the websocket blocks before the deadline and Chromium are looked at.
const POLL: Duration = Duration::from_millis(100);

/// How many of Chromium's last messages a failure shows.
const RECENT: usize = 40;

/// Chromium's switches besides the profile and the sandbox: no first-run dialogs, no GPU, no
/// extensions, none of Chromium's own traffic (updates, sync, metrics), no keyring (there is
/// no D-Bus), no scroll bars in screenshots.
const FLAGS: [&str; 15] = [
    "--headless=new",
    "--remote-debugging-port=0",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-gpu",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-sync",
    "--disable-component-update",
    "--disable-default-apps",
    "--metrics-recording-only",
    "--password-store=basic",
    "--hide-scrollbars",
    "--mute-audio",
    "--window-size=1280,900",
];

/// A headless Chromium with one page, its session and what it has recorded.
pub struct Browser {
    socket: WebSocket<Stream>,
    /// The page's session id.
    page: String,
    /// The page's main frame (the page target's id).
    frame: String,
    next_id: u64,
    seen: Seen,
    chromium: Chromium,
}

/// A downloaded file.
#[derive(Debug, Clone)]
pub struct Download {
    /// Where it was saved: the download directory, and the download's id as its name.
    pub path: PathBuf,
    /// The name the server suggested (`Content-Disposition`) or the URL's.
    pub suggested_name: String,
    /// Where it came from.
    pub url: String,
}

/// What the events said so far.
#[derive(Default)]
struct Seen {
    /// Every request's URL, in order.
    requests: Vec<String>,
    /// Each request's URL by session and request id, for `Network.loadingFailed`.
    request_urls: HashMap<(String, String), String>,
    /// The URLs of requests Chromium blocked, in order.
    blocked: Vec<String>,
    /// Exceptions, console errors and error log entries, in order.
    errors: Vec<String>,
    /// Navigations of the main frame (to another document, within one, from the back/forward
    /// cache).
    navigations: u64,
    /// The main frame's document (its loader id).
    loader: Option<String>,
    /// The main frame's documents that have loaded.
    loaded: HashSet<String>,
    /// The URL the main frame could not load, when it shows Chromium's error page.
    unreachable: Option<String>,
    /// Downloads begun, in order.
    downloads: Vec<DownloadState>,
    /// Why the page is gone, once it is.
    gone: Option<String>,
    /// The last messages, shortened, for failures.
    recent: VecDeque<String>,
}

struct DownloadState {
    guid: String,
    url: String,
    suggested_name: String,
    state: String,
    path: Option<String>,
}

impl Browser {
    /// Launches Chromium on `about:blank`, connects to its page and turns on what the page
    /// reports (Page with lifecycle events, Network, Runtime, Log, targets inside the page),
    /// with a viewport of 1280x900.
    pub fn start() -> Browser {
        let mut chromium = Chromium::launch();
        let addr = chromium.endpoint();
        let socket = connect(&addr, &chromium);
        let mut browser = Browser {
            socket,
            page: String::new(),
            frame: String::new(),
            next_id: 0,
            seen: Seen::default(),
            chromium,
        };
        browser.attach();
        browser
    }

    /// The page target's session, with everything it reports turned on.
    fn attach(&mut self) {
        let dir = self.dir();
        let target = wait_for(
            "page target",
            LIMIT,
            || {
                let targets = self.call(None, "Target.getTargets", json!({}));
                (targets["targetInfos"].as_array()?.iter())
                    .find(|t| t["type"] == "page")
                    .and_then(|t| t["targetId"].as_str())
                    .map(str::to_string)
            },
            || log(&dir),
        );
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target, "flatten": true}),
        );
        self.page = string(&attached["sessionId"]);
        self.frame = target;
        for (method, params) in [
            ("Page.enable", json!({})),
            ("Page.setLifecycleEventsEnabled", json!({"enabled": true})),
            ("Network.enable", json!({})),
            ("Runtime.enable", json!({})),
            ("Log.enable", json!({})),
            (
                "Emulation.setDeviceMetricsOverride",
                json!({"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": false}),
            ),
            (
                "Target.setAutoAttach",
                json!({"autoAttach": true, "waitForDebuggerOnStart": true, "flatten": true}),
            ),
        ] {
            self.page_call(method, params);
        }
        let tree = self.page_call("Page.getFrameTree", json!({}));
        let frame = &tree["frameTree"]["frame"];
        assert_eq!(
            frame["id"].as_str(),
            Some(self.frame.as_str()),
            "the page's main frame is not its target: {tree}"
        );
        let loader = string(&frame["loaderId"]);
        self.seen.loaded.insert(loader.clone());
        self.seen.loader = Some(loader);
    }

    /// Goes to `url` and waits until the page has loaded (its `load` event).
    pub fn goto(&mut self, url: &str) {
        let sent = self.page_call("Page.navigate", json!({"url": url}));
        if let Some(error) = sent["errorText"].as_str().filter(|e| !e.is_empty()) {
            panic!("cannot go to {url}: {error}");
        }
        if let Some(loader) = sent["loaderId"].as_str() {
            let loader = loader.to_string();
            self.wait(&format!("load of {url}"), |seen| {
                seen.loaded.contains(&loader).then_some(())
            });
        }
        self.settle();
    }

    /// Clicks the first element matching `css` (a link, a button) and waits for the page it
    /// leads to to load. For a click that does not navigate, `eval` the click.
    pub fn click(&mut self, css: &str) {
        let before = self.seen.navigations;
        self.press(css);
        self.wait_navigation(&format!("page loaded after clicking {css}"), before);
    }

    /// Goes back one page in the history and waits for it to load.
    pub fn back(&mut self) {
        let history = self.page_call("Page.getNavigationHistory", json!({}));
        let current = history["currentIndex"].as_u64().unwrap_or(0) as usize;
        assert!(current > 0, "no page before {} to go back to", self.url());
        let entry = history["entries"][current - 1].clone();
        let before = self.seen.navigations;
        self.page_call(
            "Page.navigateToHistoryEntry",
            json!({"entryId": entry["id"]}),
        );
        let what = format!("page loaded going back to {}", entry["url"]);
        self.wait_navigation(&what, before);
    }

    /// The value of the JavaScript expression `js` (a promise's once it settles), as JSON; an
    /// exception fails the test.
    pub fn eval(&mut self, js: &str) -> Value {
        let result = self.page_call(
            "Runtime.evaluate",
            json!({"expression": js, "returnByValue": true, "awaitPromise": true, "userGesture": true}),
        );
        if let Some(details) = result.get("exceptionDetails") {
            panic!("{js} threw {}", exception(details));
        }
        result["result"]
            .get("value")
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Waits until the JavaScript expression `js` is true (anything but `false`, `0`, `""`,
    /// `null` or `undefined`), polling it, and returns its value: for what a page's scripts do
    /// after its load. Fails after [`LIMIT`] with its last value.
    pub fn wait_until(&mut self, js: &str) -> Value {
        let last = RefCell::new(Value::Null);
        wait_for(
            &format!("{js} true"),
            LIMIT,
            || {
                let value = self.eval(js);
                let truthy = !matches!(&value, Value::Null | Value::Bool(false))
                    && value != json!(0)
                    && value != json!("");
                *last.borrow_mut() = value.clone();
                truthy.then_some(value)
            },
            || format!("it was {}", last.borrow()),
        )
    }

    /// The text (`textContent`, without leading and trailing white space) of the first element
    /// matching `css`, which must exist.
    pub fn text(&mut self, css: &str) -> String {
        let js = format!(
            "(() => {{ const e = document.querySelector({}); return e && e.textContent.trim(); }})()",
            quote(css)
        );
        match self.eval(&js) {
            Value::String(text) => text,
            _ => self.no_match(css),
        }
    }

    /// The texts (as [`Browser::text`]) of every element matching `css`, in document order.
    pub fn texts(&mut self, css: &str) -> Vec<String> {
        let js = format!(
            "Array.from(document.querySelectorAll({}), e => e.textContent.trim())",
            quote(css)
        );
        serde_json::from_value(self.eval(&js)).expect("texts")
    }

    /// The attribute `name` of the first element matching `css`, which must exist; `None`
    /// when it has no such attribute.
    pub fn attr(&mut self, css: &str, name: &str) -> Option<String> {
        let js = format!(
            "(() => {{ const e = document.querySelector({}); return e && [e.getAttribute({})]; }})()",
            quote(css),
            quote(name)
        );
        match self.eval(&js) {
            Value::Array(mut value) => value.pop().and_then(|v| v.as_str().map(str::to_string)),
            _ => self.no_match(css),
        }
    }

    /// The page's URL.
    pub fn url(&mut self) -> String {
        string(&self.eval("location.href"))
    }

    /// The page's HTML as it is now (`document.documentElement.outerHTML`).
    pub fn html(&mut self) -> String {
        string(&self.eval("document.documentElement.outerHTML"))
    }

    /// The URL of every request the page (and frames and workers in it) made since the start,
    /// in order, those Chromium blocked included; as far as the last call has read.
    pub fn requests(&self) -> Vec<String> {
        self.seen.requests.clone()
    }

    /// The URLs of the requests Chromium blocked (`Network.loadingFailed` with a
    /// `blockedReason`: a Content Security Policy, CORP, mixed content...), in order.
    pub fn blocked(&self) -> Vec<String> {
        self.seen.blocked.clone()
    }

    /// Every error the page reported since the start: uncaught exceptions (`Uncaught Error:
    /// ... (URL:LINE)`), `console.error` and failed `console.assert` (`console.error: ...`,
    /// `console.assert: ...`), and Chromium's error log entries (`security: ...` for a CSP
    /// violation, `network: Failed to load resource ...`); as far as the last call has read.
    pub fn console_errors(&self) -> Vec<String> {
        self.seen.errors.clone()
    }

    /// Writes a PNG of the whole page, 1280 pixels wide and as high as its content, to `path`.
    pub fn screenshot(&mut self, path: &Path) {
        let metrics = self.page_call("Page.getLayoutMetrics", json!({}));
        let height = metrics["cssContentSize"]["height"]
            .as_f64()
            .unwrap_or(f64::from(HEIGHT))
            .ceil()
            .max(1.0);
        let shot = self.page_call(
            "Page.captureScreenshot",
            json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": {"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1},
            }),
        );
        let png = data_encoding::BASE64
            .decode(shot["data"].as_str().unwrap_or_default().as_bytes())
            .expect("screenshot in base64");
        std::fs::write(path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// Clicks the first element matching `css` (a link to a file), waits until the file it
    /// leads to has been downloaded into `dir`, and returns it.
    pub fn download(&mut self, css: &str, dir: &Path) -> Download {
        let dir = std::path::absolute(dir).expect("download directory");
        self.call(
            None,
            "Browser.setDownloadBehavior",
            json!({"behavior": "allowAndName", "downloadPath": dir, "eventsEnabled": true}),
        );
        let before = self.seen.downloads.len();
        self.press(css);
        let what = format!("download from clicking {css}");
        let index = self.wait(&what, |seen| {
            (seen.downloads.iter().enumerate().skip(before))
                .find(|(_, d)| d.state == "completed" || d.state == "canceled")
                .map(|(i, _)| i)
        });
        let done = &self.seen.downloads[index];
        assert_eq!(done.state, "completed", "download of {} canceled", done.url);
        let path = match &done.path {
            Some(path) => PathBuf::from(path),
            None => dir.join(&done.guid),
        };
        assert!(
            path.is_file(),
            "download of {}: no {}",
            done.url,
            path.display()
        );
        Download {
            path,
            suggested_name: done.suggested_name.clone(),
            url: done.url.clone(),
        }
    }

    /// Chromium's process id.
    pub fn pid(&self) -> u32 {
        self.chromium.child.id()
    }

    /// The directory of Chromium's profile, home and log, removed on drop.
    pub fn dir(&self) -> PathBuf {
        self.chromium.dir.path().to_path_buf()
    }

    /// Clicks the first element matching `css`.
    fn press(&mut self, css: &str) {
        let js = format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; e.click(); return true; }})()",
            quote(css)
        );
        if self.eval(&js) != Value::Bool(true) {
            self.no_match(css);
        }
    }

    fn no_match(&mut self, css: &str) -> ! {
        let url = self.url();
        panic!("no element matches {css} on {url}");
    }

    /// Waits for a navigation of the main frame after the `before`th, and its document's load.
    fn wait_navigation(&mut self, what: &str, before: u64) {
        self.wait(what, |seen| {
            let loaded = seen
                .loader
                .as_ref()
                .is_some_and(|l| seen.loaded.contains(l));
            (seen.navigations > before && loaded).then_some(())
        });
        if let Some(url) = &self.seen.unreachable {
            panic!("{what}: Chromium could not load {url} and shows its error page");
        }
        self.settle();
    }

    /// A round trip to the page, so that what it reported before (its errors and requests up
    /// to its load) has been read.
    fn settle(&mut self) {
        self.page_call("Runtime.evaluate", json!({"expression": "0"}));
    }

    /// Calls `method` in the page's session.
    fn page_call(&mut self, method: &str, params: Value) -> Value {
        let page = self.page.clone();
        self.call(Some(&page), method, params)
    }

    /// Calls `method` in `session` (the browser's when `None`) and returns its result; an
    /// error fails the test.
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        let mut call: String = format!("{method} {params}").chars().take(200).collect();
        let id = self.send(session, method, params);
        let deadline = Instant::now() + LIMIT;
        loop {
            let Some(message) = self.next_message(deadline) else {
                panic!("no answer to {call} within {LIMIT:?}{}", self.context());
            };
            if message["id"] != id {
                continue;
            }
            if let Some(error) = message.get("error") {
                call.insert_str(0, "Chromium refused ");
                panic!("{call}: {error}{}", self.context());
            }
            return message["result"].clone();
        }
    }

    /// Sends `method` to `session` without waiting; its id.
    fn send(&mut self, session: Option<&str>, method: &str, params: Value) -> u64 {
        self.next_id += 1;
        let mut message = json!({"id": self.next_id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        if let Err(e) = self.socket.send(Message::text(message.to_string())) {
            panic!("sending {method} to Chromium: {e}{}", self.context());
        }
        self.next_id
    }

    /// Reads messages until `done` gives `Some`; fails after [`LIMIT`], naming `what`.
    fn wait<T>(&mut self, what: &str, mut done: impl FnMut(&Seen) -> Option<T>) -> T {
        let deadline = Instant::now() + LIMIT;
        loop {
            if let Some(found) = done(&self.seen) {
                return found;
            }
            if let Some(gone) = &self.seen.gone {
                panic!("no {what}: {gone}{}", self.context());
            }
            if self.next_message(deadline).is_none() {
                panic!("no {what} within {LIMIT:?}{}", self.context());
            }
        }
    }

    /// The next message, an event recorded on the way; `None` at `deadline`.
    fn next_message(&mut self, deadline: Instant) -> Option<Value> {
        loop {
            match self.socket.read() {
                Ok(Message::Text(text)) => {
                    let message: Value = serde_json::from_str(text.as_str())
                        .unwrap_or_else(|e| panic!("{e}: {}", text.as_str()));
                    let mut short: String = text.as_str().chars().take(300).collect();
                    if short.len() < text.len() {
                        short.push('…');
                    }
                    self.seen.recent.push_back(short);
                    if self.seen.recent.len() > RECENT {
                        self.seen.recent.pop_front();
                    }
                    if message.get("method").is_some() {
                        self.event(&message);
                    }
                    return Some(message);
                }
                Ok(Message::Close(frame)) => {
                    panic!("Chromium closed its websocket: {frame:?}{}", self.context())
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    if let Ok(Some(status)) = self.chromium.child.try_wait() {
                        panic!("Chromium exited ({status}){}", self.context());
                    }
                    if Instant::now() >= deadline {
                        return None;
                    }
                }
                Err(e) => panic!("reading from Chromium: {e}{}", self.context()),
            }
        }
    }

    /// Records what an event says.
    fn event(&mut self, message: &Value) {
        let params = &message["params"];
        let session = message["sessionId"].as_str().unwrap_or_default();
        let page = session == self.page;
        let seen = &mut self.seen;
        match message["method"].as_str().unwrap_or_default() {
            "Network.requestWillBeSent" => {
                let url = string(&params["request"]["url"]);
                let key = (session.to_string(), string(&params["requestId"]));
                seen.request_urls.insert(key, url.clone());
                seen.requests.push(url);
            }
            "Network.loadingFailed" if params.get("blockedReason").is_some() => {
                let key = (session.to_string(), string(&params["requestId"]));
                let url = seen.request_urls.get(&key).cloned();
                seen.blocked
                    .push(url.unwrap_or_else(|| format!("request {}", key.1)));
            }
            "Runtime.exceptionThrown" => {
                seen.errors.push(exception(&params["exceptionDetails"]));
            }
            "Runtime.consoleAPICalled"
                if matches!(params["type"].as_str(), Some("error" | "assert")) =>
            {
                let args: Vec<String> = (params["args"].as_array().into_iter().flatten())
                    .map(remote_object)
                    .collect();
                seen.errors.push(format!(
                    "console.{}: {}",
                    string(&params["type"]),
                    args.join(" ")
                ));
            }
            "Log.entryAdded" if params["entry"]["level"] == "error" => {
                let entry = &params["entry"];
                let mut error = format!("{}: {}", string(&entry["source"]), string(&entry["text"]));
                if let Some(url) = entry["url"].as_str() {
                    error.push_str(&format!(" ({url})"));
                }
                seen.errors.push(error);
            }
            "Page.frameNavigated" if page && params["frame"].get("parentId").is_none() => {
                let loader = string(&params["frame"]["loaderId"]);
                // A document restored from the back/forward cache (going back, mostly) keeps
                // its loader id and fires no new load.
                if params["type"] == "BackForwardCacheRestore" {
                    seen.loaded.insert(loader.clone());
                }
                seen.loader = Some(loader);
                seen.unreachable = params["frame"]["unreachableUrl"]
                    .as_str()
                    .map(str::to_string);
                seen.navigations += 1;
            }
            "Page.navigatedWithinDocument" if page && params["frameId"] == self.frame.as_str() => {
                seen.navigations += 1;
            }
            "Page.lifecycleEvent"
                if page && params["frameId"] == self.frame.as_str() && params["name"] == "load" =>
            {
                seen.loaded.insert(string(&params["loaderId"]));
            }
            "Browser.downloadWillBegin" => seen.downloads.push(DownloadState {
                guid: string(&params["guid"]),
                url: string(&params["url"]),
                suggested_name: string(&params["suggestedFilename"]),
                state: "begun".into(),
                path: None,
            }),
            "Browser.downloadProgress" => {
                let guid = params["guid"].as_str().unwrap_or_default();
                if let Some(download) = seen.downloads.iter_mut().find(|d| d.guid == guid) {
                    download.state = string(&params["state"]);
                    if let Some(path) = params["filePath"].as_str() {
                        download.path = Some(path.to_string());
                    }
                }
            }
            "Target.attachedToTarget" if !session.is_empty() => {
                // A frame of another site or a worker in the page: its requests and errors too.
                let child = string(&params["sessionId"]);
                for method in [
                    "Network.enable",
                    "Runtime.enable",
                    "Log.enable",
                    "Target.setAutoAttach",
                    "Runtime.runIfWaitingForDebugger",
                ] {
                    let params = match method {
                        "Target.setAutoAttach" => {
                            json!({"autoAttach": true, "waitForDebuggerOnStart": true, "flatten": true})
                        }
                        _ => json!({}),
                    };
                    self.send(Some(&child), method, params);
                }
            }
            "Inspector.targetCrashed" if page => seen.gone = Some("the page crashed".into()),
            "Target.detachedFromTarget" if params["sessionId"] == self.page.as_str() => {
                seen.gone = Some("the page was closed".into());
            }
            _ => {}
        }
    }

    /// For a failure message: the last messages from Chromium and the end of its log.
    fn context(&self) -> String {
        let recent: Vec<&str> = self.seen.recent.iter().map(String::as_str).collect();
        format!(
            "\nthe last messages from Chromium:\n  {}\nChromium's log:\n{}",
            recent.join("\n  "),
            self.chromium.log()
        )
    }
}

/// The Chromium process and its directory; dropping it stops every process of it.
struct Chromium {
    child: Child,
    dir: tempfile::TempDir,
}

impl Chromium {
    /// Starts `chromium` in a process group of its own, its profile, home and log in a fresh
    /// directory under `target/tmp/`.
    fn launch() -> Chromium {
        let dir = tempfile::Builder::new()
            .prefix("chromium-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("Chromium's directory");
        let home = dir.path().join("home");
        std::fs::create_dir(&home).expect("Chromium's home");
        let log = std::fs::File::create(dir.path().join("chromium.log")).expect("Chromium's log");
        let mut command = Command::new("chromium");
        command.args(FLAGS).arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ));
        if nix::unistd::geteuid().is_root() {
            command.arg("--no-sandbox");
        }
        let child = command
            .arg("about:blank")
            .env("HOME", &home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_CACHE_HOME")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("Chromium's log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start chromium");
        Chromium { child, dir }
    }

    /// The address and path of the browser target's websocket, from `DevToolsActivePort`
    /// (the port on its first line, the path on its second), which Chromium writes in its
    /// profile once it listens.
    fn endpoint(&mut self) -> (SocketAddr, String) {
        let file = self.dir.path().join("profile/DevToolsActivePort");
        wait_for(
            "DevToolsActivePort",
            LIMIT,
            || {
                if let Ok(Some(status)) = self.child.try_wait() {
                    panic!("Chromium exited ({status}):\n{}", log(self.dir.path()));
                }
                let text = std::fs::read_to_string(&file).ok()?;
                let mut lines = text.lines();
                let port: u16 = lines.next()?.trim().parse().ok()?;
                let path = lines.next()?.trim();
                path.starts_with("/devtools/browser/")
                    .then(|| (SocketAddr::from(([127, 0, 0, 1], port)), path.to_string()))
            },
            || log(self.dir.path()),
        )
    }

    fn log(&self) -> String {
        log(self.dir.path())
    }

    /// The processes still running (not zombies) with this directory in their command line:
    /// Chromium's, and its crash handlers in sessions of their own.
    fn processes(&self) -> Vec<i32> {
        let mut dir = self.dir.path().as_os_str().as_encoded_bytes().to_vec();
        dir.push(b'/');
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        (entries.flatten())
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                let state = stat
                    .rsplit_once(')')
                    .and_then(|(_, s)| s.trim().chars().next());
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                !matches!(state, None | Some('Z' | 'X'))
                    && cmdline.windows(dir.len()).any(|w| w == dir)
            })
            .collect()
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        use nix::sys::signal::{Signal, kill, killpg};
        use nix::unistd::Pid;
        let _ = killpg(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
        let _ = self.child.wait();
        // No panic here: this runs while a failed test unwinds.
        let deadline = Instant::now() + LIMIT;
        loop {
            let left = self.processes();
            if left.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                eprintln!("Chromium's processes {left:?} outlived it");
                break;
            }
            for pid in left {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A TCP stream whose reads and writes are tried again when a signal interrupts them. With a
/// timeout on the socket Linux does not restart them by itself, even after a stop and a
/// continue of the process without a handler (signal(7)), and tungstenite treats `EINTR` as
/// a failure of the connection.
struct Stream(TcpStream);

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            match self.0.read(buf) {
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                done => return done,
            }
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        loop {
            match self.0.write(buf) {
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                done => return done,
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// The websocket of the browser target at `addr`, reads timing out after [`POLL`].
fn connect((addr, path): &(SocketAddr, String), chromium: &Chromium) -> WebSocket<Stream> {
    let stream = TcpStream::connect_timeout(addr, LIMIT)
        .unwrap_or_else(|e| panic!("connect to Chromium on {addr}: {e}\n{}", chromium.log()));
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    stream.set_write_timeout(Some(LIMIT)).unwrap();
    stream.set_nodelay(true).unwrap();
    // A full-page screenshot is one message of many megabytes.
    let config = WebSocketConfig::default()
        .max_message_size(Some(1 << 30))
        .max_frame_size(None);
    let url = format!("ws://{addr}{path}");
    let (socket, _) =
        tungstenite::client::client_with_config(url.as_str(), Stream(stream), Some(config))
            .unwrap_or_else(|e| panic!("websocket {url}: {e}\n{}", chromium.log()));
    socket.get_ref().0.set_read_timeout(Some(POLL)).unwrap();
    socket
}

/// The end of the log of the Chromium in `dir`, without its complaints about the missing D-Bus.
fn log(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("chromium.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().filter(|l| !l.contains("dbus")).collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// `s` as a JavaScript string literal.
fn quote(s: &str) -> String {
    Value::from(s).to_string()
}

/// A JSON string's text; another value as JSON.
fn string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// An exception as the console shows it: `Uncaught Error: boom (URL:LINE)`.
fn exception(details: &Value) -> String {
    let text = string(&details["text"]);
    let description = details["exception"]["description"]
        .as_str()
        .or(details["exception"]["value"].as_str())
        .and_then(|d| d.lines().next())
        .unwrap_or_default();
    let mut message = if description.is_empty() || text.contains(description) {
        text
    } else {
        format!("{text} {description}")
    };
    if let Some(url) = details["url"].as_str().filter(|u| !u.is_empty()) {
        let line = details["lineNumber"].as_u64().unwrap_or(0) + 1;
        message.push_str(&format!(" ({url}:{line})"));
    }
    message
}

/// A console argument as text: a string as it is, anything else as the console describes it.
fn remote_object(object: &Value) -> String {
    match (&object["value"], object["description"].as_str()) {
        (Value::String(s), _) => s.clone(),
        (_, Some(description)) => description.to_string(),
        (Value::Null, None) => string(&object["type"]),
        (value, None) => value.to_string(),
    }
}
