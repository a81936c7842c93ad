//! The Chromium harness (`common::browser`) against pages served here by a minimal HTTP/1.1
//! server on 127.0.0.1 (and one on 127.0.0.2, another site): clicking a link and going back,
//! reading the DOM, an exception, `console.error` and a Content Security Policy violation in
//! the console errors, the blocked request in the requests, the requests of a frame of another
//! site, a download's name and bytes, a full-page screenshot, clear failures, and Chromium
//! stopped when a test panics. A system test (feature `system-tests`).

use crate::common::browser::{Browser, HEIGHT, WIDTH};
use crate::common::system::{can_run, wait_for};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What the CSP page tries to load from elsewhere (nothing listens there).
const EXTERNAL_IMAGE: &str = "http://127.0.0.2:9/x.png";

/// The bytes of the file the download page offers.
const CSV: &[u8] = b"when,what\n2026-12-01,\"a, b\"\n\xc3\xa9t\xc3\xa9,2\n";

/// A PNG of one transparent pixel, the sites' favicon.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\x0bIDATx\x9cc`\0\x02\0\0\x05\0\x01z^\xab?\0\0\0\0IEND\xaeB`\x82";

/// A site: a thread answering HTTP/1.1 requests on `ip`, one connection at a time each in a
/// thread of its own (Chromium opens connections it may never use), until dropped.
struct Site {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Site {
    fn start(ip: [u8; 4], other: Option<&Site>) -> Site {
        let listener = TcpListener::bind((std::net::Ipv4Addr::from(ip), 0)).expect("bind the site");
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let other = other.map(|site| site.url(""));
        let stopped = Arc::clone(&stop);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                let other = other.clone();
                if let Ok(conn) = conn {
                    std::thread::spawn(move || serve(conn, other.as_deref()));
                }
            }
        });
        Site { addr, stop }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr);
    }
}

/// Answers one request (the connection is closed after it).
fn serve(mut conn: TcpStream, other: Option<&str>) {
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split(' ').nth(1).unwrap_or("/").to_string();
    let (status, headers, body) = page(&path, other);
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for header in headers {
        response.push_str(&format!("{header}\r\n"));
    }
    response.push_str("\r\n");
    let _ = conn.write_all(response.as_bytes());
    let _ = conn.write_all(&body);
}

const HTML: &str = "Content-Type: text/html; charset=utf-8";

/// The site's pages: status, headers and body.
fn page(path: &str, other: Option<&str>) -> (&'static str, Vec<String>, Vec<u8>) {
    let html = |body: String| ("200 OK", vec![HTML.to_string()], body.into_bytes());
    match path {
        "/one" => html(
            "<!doctype html><title>One</title><h1>Page one</h1><a id=next href=/two>to two</a>"
                .into(),
        ),
        "/two" => html(
            "<!doctype html><title>Two</title><h1>Page two</h1>\
             <ul><li class=item>first</li><li class=item>\n  second &amp; last\n</li></ul>\
             <a id=home href=/one data-kind=home>back to one</a>"
                .into(),
        ),
        "/throws" => html(
            "<!doctype html><title>Throws</title><p>throws</p><script>\
             console.log('fine'); console.warn('careful'); console.assert(1 === 1, 'holds');\
             console.assert(1 === 2, 'one is', 2); console.error('logged', 42);\
             throw new Error('boom from the page');</script>"
                .into(),
        ),
        "/csp" => {
            let (status, mut headers, body) = html(format!(
                "<!doctype html><title>CSP</title><img src='{EXTERNAL_IMAGE}'>"
            ));
            headers.push("Content-Security-Policy: default-src 'self'".into());
            (status, headers, body)
        }
        "/files" => html("<!doctype html><title>Files</title><a id=csv href=/t.csv>csv</a>".into()),
        "/t.csv" => (
            "200 OK",
            vec![
                "Content-Type: text/csv".into(),
                "Content-Disposition: attachment; filename=\"t.csv\"".into(),
            ],
            CSV.to_vec(),
        ),
        "/late" => html(
            "<!doctype html><title>Late</title><p id=late>waiting</p><script>\
             setTimeout(() => document.getElementById('late').textContent = 'ready', 1000)</script>"
                .into(),
        ),
        "/tall" => html(
            "<!doctype html><title>Tall</title><body style='margin:0'>\
             <div style='height:3000px;background:linear-gradient(red,blue)'>tall</div>"
                .into(),
        ),
        "/framed" => html(format!(
            "<!doctype html><title>Framed</title><iframe src='{}'></iframe>",
            other.map(|o| format!("{o}/inner")).unwrap_or_default()
        )),
        "/inner" => html(
            "<!doctype html><p>inner</p><script>fetch('/from-inner').then(r => r.text());\
             throw new Error('boom in the frame')</script>"
                .into(),
        ),
        // Chromium asks every origin for one, and a 404 would be a console error.
        "/favicon.ico" => (
            "200 OK",
            vec!["Content-Type: image/png".into()],
            PNG.to_vec(),
        ),
        "/from-inner" => (
            "200 OK",
            vec!["Content-Type: text/plain".into()],
            b"ok".to_vec(),
        ),
        _ => (
            "404 Not Found",
            vec!["Content-Type: text/plain".into()],
            b"no".to_vec(),
        ),
    }
}

/// The message a panic of `f` gave; fails when it does not panic.
fn panic_of(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("it must fail");
    (payload.downcast_ref::<String>().cloned())
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn clicks_a_link_goes_back_and_reads_the_page() {
    if !can_run(&["chromium"]) {
        return;
    }
    let site = Site::start([127, 0, 0, 1], None);
    let mut browser = Browser::start();
    browser.goto(&site.url("/one"));
    assert_eq!(browser.url(), site.url("/one"));
    assert_eq!(browser.text("h1"), "Page one");
    browser.click("#next");
    assert_eq!(browser.url(), site.url("/two"));
    assert_eq!(browser.text("h1"), "Page two");
    assert_eq!(browser.texts("li.item"), ["first", "second & last"]);
    assert_eq!(browser.texts("li.none"), Vec::<String>::new());
    assert_eq!(browser.attr("#home", "data-kind").as_deref(), Some("home"));
    assert_eq!(browser.attr("#home", "title"), None);
    assert!(browser.html().contains("<li class=\"item\">first</li>"));
    assert_eq!(browser.eval("document.title + ' ' + (1 + 1)"), "Two 2");
    assert_eq!(
        browser.eval("new Promise(r => setTimeout(() => r([1, 'a']), 10))"),
        serde_json::json!([1, "a"])
    );
    browser.back();
    assert_eq!(browser.url(), site.url("/one"));
    assert_eq!(browser.text("h1"), "Page one");
    browser.click("#next");
    browser.click("#home");
    assert_eq!(browser.text("h1"), "Page one");
    browser.goto(&site.url("/late"));
    assert_eq!(browser.text("#late"), "waiting");
    let ready = browser.wait_until("document.getElementById('late').textContent === 'ready'");
    assert_eq!(ready, true);
    assert_eq!(browser.text("#late"), "ready");
    let origin = site.url("/");
    assert!(
        browser.requests().iter().all(|r| r.starts_with(&origin)),
        "{:?}",
        browser.requests()
    );
    assert_eq!(browser.console_errors(), Vec::<String>::new());
}

#[test]
fn reports_exceptions_console_errors_and_csp_violations() {
    if !can_run(&["chromium"]) {
        return;
    }
    let site = Site::start([127, 0, 0, 1], None);
    let mut browser = Browser::start();
    browser.goto(&site.url("/throws"));
    assert_eq!(
        browser.console_errors(),
        [
            "console.assert: one is 2".to_string(),
            "console.error: logged 42".to_string(),
            format!(
                "Uncaught Error: boom from the page ({}:1)",
                site.url("/throws")
            ),
        ]
    );
    assert_eq!(browser.blocked(), Vec::<String>::new());

    browser.goto(&site.url("/csp"));
    let errors = &browser.console_errors()[3..];
    assert!(
        errors
            .iter()
            .any(|e| e.contains("Content Security Policy") && e.contains(EXTERNAL_IMAGE)),
        "{errors:#?}"
    );
    assert_eq!(browser.blocked(), [EXTERNAL_IMAGE]);
    let requests = browser.requests();
    let page: Vec<&String> = requests
        .iter()
        .filter(|r| !r.ends_with("/favicon.ico"))
        .collect();
    assert_eq!(
        page,
        [&site.url("/throws"), &site.url("/csp"), EXTERNAL_IMAGE]
    );
}

#[test]
fn sees_the_requests_of_a_frame_of_another_site() {
    if !can_run(&["chromium"]) {
        return;
    }
    let other = Site::start([127, 0, 0, 2], None);
    let site = Site::start([127, 0, 0, 1], Some(&other));
    let mut browser = Browser::start();
    browser.goto(&site.url("/framed"));
    let fetched = other.url("/from-inner");
    wait_for_request(&mut browser, &fetched);
    let requests = browser.requests();
    assert_eq!(requests[..2], [site.url("/framed"), other.url("/inner")]);
    assert!(requests.contains(&fetched), "{requests:#?}");
    let errors = browser.console_errors();
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("Uncaught Error: boom in the frame")),
        "{errors:#?}"
    );
}

/// Polls the page until `url` is among the requests (a fetch may end after the load).
fn wait_for_request(browser: &mut Browser, url: &str) {
    let requests = std::cell::RefCell::new(Vec::new());
    wait_for(
        url,
        Duration::from_secs(30),
        || {
            browser.eval("0");
            *requests.borrow_mut() = browser.requests();
            requests.borrow().iter().any(|r| r == url).then_some(())
        },
        || format!("{:?}", requests.borrow()),
    );
}

#[test]
fn downloads_a_file_with_its_name_and_bytes() {
    if !can_run(&["chromium"]) {
        return;
    }
    let site = Site::start([127, 0, 0, 1], None);
    let dir = tempfile::tempdir().unwrap();
    let mut browser = Browser::start();
    browser.goto(&site.url("/files"));
    let download = browser.download("#csv", dir.path());
    assert_eq!(download.suggested_name, "t.csv");
    assert_eq!(download.url, site.url("/t.csv"));
    assert_eq!(download.path.parent(), Some(dir.path()));
    assert_eq!(std::fs::read(&download.path).unwrap(), CSV);
    // The page stays where it was.
    assert_eq!(browser.url(), site.url("/files"));
    let again = browser.download("#csv", dir.path());
    assert_ne!(again.path, download.path);
    assert_eq!(std::fs::read(&again.path).unwrap(), CSV);
}

#[test]
fn screenshot_is_a_png_of_the_whole_page() {
    if !can_run(&["chromium"]) {
        return;
    }
    let site = Site::start([127, 0, 0, 1], None);
    let dir = tempfile::tempdir().unwrap();
    let mut browser = Browser::start();
    browser.goto(&site.url("/tall"));
    assert_eq!(
        browser.eval("[innerWidth, innerHeight]"),
        serde_json::json!([WIDTH, HEIGHT])
    );
    let path = dir.path().join("tall.png");
    browser.screenshot(&path);
    let png = std::fs::read(&path).unwrap();
    assert_eq!(png[..8], *b"\x89PNG\r\n\x1a\n");
    assert_eq!(png[12..16], *b"IHDR");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (WIDTH, 3000));
}

#[test]
fn fails_clearly_on_a_missing_element_or_an_exception() {
    if !can_run(&["chromium"]) {
        return;
    }
    let site = Site::start([127, 0, 0, 1], None);
    let mut browser = Browser::start();
    browser.goto(&site.url("/one"));
    let one = site.url("/one");
    let message = panic_of(|| browser.click("#nowhere"));
    assert_eq!(message, format!("no element matches #nowhere on {one}"));
    let message = panic_of(|| drop(browser.text("h2")));
    assert_eq!(message, format!("no element matches h2 on {one}"));
    let message = panic_of(|| drop(browser.attr("h2", "id")));
    assert_eq!(message, format!("no element matches h2 on {one}"));
    let message = panic_of(|| drop(browser.eval("null.x")));
    assert!(
        message.starts_with("null.x threw Uncaught TypeError"),
        "{message}"
    );
    let message = panic_of(|| drop(browser.texts("[")));
    assert!(message.contains("SyntaxError"), "{message}");
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let message = panic_of(|| browser.goto(&format!("http://{closed}/")));
    assert!(message.contains("net::ERR_CONNECTION_REFUSED"), "{message}");
    browser.goto(&site.url("/one"));
    let link = format!("document.body.innerHTML = '<a id=dead href=http://{closed}/>dead</a>'");
    browser.eval(&link);
    let message = panic_of(|| browser.click("#dead"));
    assert!(
        message.starts_with(&format!(
            "page loaded after clicking #dead: Chromium could not load http://{closed}/"
        )),
        "{message}"
    );
    // After all that the browser still works.
    browser.goto(&site.url("/one"));
    assert_eq!(browser.text("h1"), "Page one");
}

#[test]
fn chromium_is_stopped_when_a_test_panics() {
    if !can_run(&["chromium"]) {
        return;
    }
    let (sender, receiver) = std::sync::mpsc::channel();
    let test = std::thread::spawn(move || {
        let browser = Browser::start();
        sender.send((browser.pid(), browser.dir())).unwrap();
        panic!("a test failing with Chromium running");
    });
    assert!(test.join().is_err());
    let (pid, dir) = receiver.recv().unwrap();
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert!(!dir.exists(), "{} is left", dir.display());
    let name = dir.as_os_str().as_encoded_bytes().to_vec();
    let left: Vec<String> = (std::fs::read_dir("/proc").unwrap().flatten())
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .filter(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let zombie = stat
                .rsplit_once(')')
                .is_some_and(|(_, s)| s.trim().starts_with('Z'));
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            !zombie && cmdline.windows(name.len()).any(|w| w == name)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, Vec::<String>::new());
}
