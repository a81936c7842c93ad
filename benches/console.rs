//! The console's budget: every page under 200 ms on a SQLite store of a year of a 2,000-person
//! site. `cargo bench --bench console [-- PHASE...]`, the phases in order (all by default):
//!
//! - `store`: makes the store at `target/bench-store/site-year.db` if it is not there
//!   (`console/site.rs` says what is in it; a few minutes on two cores), and prints how long
//!   it took and its rows. A person can stop here and point `lantern report` or `lantern
//!   serve` at it.
//! - `reports`: `lantern::report::build`, in this process, for the week and each filter a page
//!   uses (none, an app, a user, a group), cold once and then LANTERN_BENCH_RUNS times (20):
//!   median, p95 and max in ms. A page is at least its report.
//! - `pages`: starts `lantern serve --store DB --listen 127.0.0.1:PORT`, waits for it to
//!   answer, then loads every page kind (`/`, `/apps`, `/apps/ID`, `/users`, `/users/USER`,
//!   `/mcp`, `/servers`, `/programs`, `/candidates`, `/sensors`, `/report.json`,
//!   `/report.csv?table=apps`, each with `?week=`) once cold and LANTERN_BENCH_RUNS times in
//!   rounds over every kind, over plain HTTP: median, p95 and max in ms. Skipped, and said so,
//!   when the binary has no `serve`.
//!
//! It exits non-zero when a median of either timed phase is over 200 ms.
//!
//! Why one bench target holds the generator and not an example: the store is made through the
//! library (`Store::write`), which a bench links as an example would, and the pages need the
//! `lantern` binary, which Cargo builds and names (`CARGO_BIN_EXE_lantern`) for benches and
//! tests only; one command then makes the store when needed and measures against it, and
//! `-- store` alone makes it for a person. LANTERN_BENCH_STORE puts the store elsewhere,
//! LANTERN_BENCH_SCALE (1.0) makes a lighter site in a file of its own, LANTERN_BENCH_WEEK
//! (2026-W50) picks the week.

#[path = "console/site.rs"]
mod site;

use lantern::catalog::Catalog;
use lantern::policy::Policy;
use lantern::report::{self, Filter, Period};
use lantern::store::{SqliteStore, Store};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The budget of a page, and so of its report.
const BUDGET_MS: f64 = 200.0;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// Where the store is: `target/bench-store/`, beside the target's `tmp`.
fn store_path(scale: f64) -> PathBuf {
    if let Ok(path) = std::env::var("LANTERN_BENCH_STORE") {
        return PathBuf::from(path);
    }
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .to_path_buf();
    let name = match scale == 1.0 {
        true => "site-year.db".to_string(),
        false => format!("site-year-x{scale}.db"),
    };
    target.join("bench-store").join(name)
}

fn main() {
    let phases: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wants = |p: &str| phases.is_empty() || phases.iter().any(|a| a == p);
    let scale: f64 = env_or("LANTERN_BENCH_SCALE", "1.0")
        .parse()
        .expect("LANTERN_BENCH_SCALE");
    let runs: usize = env_or("LANTERN_BENCH_RUNS", "20")
        .parse()
        .expect("LANTERN_BENCH_RUNS");
    let week = env_or("LANTERN_BENCH_WEEK", "2026-W50");
    let catalog = Catalog::load(&[]).expect("the catalog");
    let path = store_path(scale);
    make_store(&path, &catalog, scale);
    let picks = Picks::of(&path, &week);
    println!(
        "week {week}: app {}, user {}, group {}",
        picks.app, picks.user, picks.group
    );
    let mut over = Vec::new();
    if wants("reports") {
        over.extend(reports(&path, &catalog, &week, &picks, runs));
    }
    if wants("pages") {
        over.extend(pages(&path, &week, &picks, runs));
    }
    if !over.is_empty() {
        eprintln!("over {BUDGET_MS} ms: {}", over.join(", "));
        std::process::exit(1);
    }
}

/// Makes the store unless it is there: into a file of its own, renamed once complete, so a
/// run stopped halfway leaves no store that looks whole.
fn make_store(path: &Path, catalog: &Catalog, scale: f64) {
    if path.exists() {
        println!("store: {} (already made)", path.display());
        return;
    }
    std::fs::create_dir_all(path.parent().expect("a directory")).expect("the store's directory");
    let partial = path.with_extension("partial");
    for stale in ["partial", "partial-wal", "partial-shm"] {
        let _ = std::fs::remove_file(path.with_extension(stale));
    }
    println!("store: making {} ...", path.display());
    let started = Instant::now();
    let site = site::Site::new(catalog, scale);
    let counts = site.write(&partial).expect("the store is written");
    let took = started.elapsed();
    std::fs::rename(&partial, path).expect("the store is renamed");
    println!(
        "store: made in {:.1} s: {} flow rows, {} DNS rows, {} rollup rows written ({} coverage, {} health)",
        took.as_secs_f64(),
        counts.flows,
        counts.dns,
        counts.rollups,
        counts.coverage,
        counts.health
    );
    let conn = rusqlite::Connection::open(path).expect("the store");
    let one = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).expect(sql) };
    println!(
        "store: tables: flows {}, dns {}, rollups_hourly {}, coverage_hourly {}, sensor_health {}; {} MB",
        one("SELECT count(*) FROM flows"),
        one("SELECT count(*) FROM dns"),
        one("SELECT count(*) FROM rollups_hourly"),
        one("SELECT count(*) FROM coverage_hourly"),
        one("SELECT count(*) FROM sensor_health"),
        std::fs::metadata(path).map_or(0, |m| m.len()) / 1_000_000
    );
    // The rollups are the flows' sums: checked once, on the whole year.
    let sums = |sql: &str| -> (i64, i64, i64) {
        conn.query_row(sql, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect(sql)
    };
    let rolled = sums("SELECT sum(flows), sum(bytes_up), sum(dns_lookups) FROM rollups_hourly");
    let flows = sums(
        "SELECT sum(part = 0), sum(bytes_up), (SELECT count(*) FROM dns WHERE app_id IS NOT NULL)
         FROM flows WHERE app_id IS NOT NULL",
    );
    assert_eq!(
        rolled, flows,
        "rollups (flows, bytes up, lookups) against the evidence"
    );
    println!(
        "store: rollups add up to the evidence: {} flows, {} bytes up, {} lookups",
        flows.0, flows.1, flows.2
    );
}

/// What the filtered pages are of: the week's busiest person, its busiest app, a group.
struct Picks {
    app: String,
    user: String,
    group: String,
}

impl Picks {
    fn of(path: &Path, week: &str) -> Picks {
        let (from, to) = Period::week(week, Period::today())
            .expect("LANTERN_BENCH_WEEK")
            .bounds();
        let conn = rusqlite::Connection::open(path).expect("the store");
        let top = |sql: &str| -> String {
            conn.query_row(sql, [from, to], |r| r.get(0))
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
        };
        Picks {
            app: top(
                "SELECT app_id FROM rollups_hourly WHERE hour >= ?1 AND hour < ?2
                 GROUP BY app_id ORDER BY sum(flows) DESC, app_id LIMIT 1",
            ),
            user: top(
                "SELECT user FROM rollups_hourly WHERE hour >= ?1 AND hour < ?2
                 AND user_kind = 'person' GROUP BY user ORDER BY sum(flows) DESC, user LIMIT 1",
            ),
            group: "engineering".to_string(),
        }
    }
}

/// Median, p95 and max of some timings, in ms.
fn spread(mut ms: Vec<f64>) -> (f64, f64, f64) {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1];
    (at(0.5), at(0.95), ms[ms.len() - 1])
}

fn row(name: &str, cold: f64, ms: Vec<f64>, over: &mut Vec<String>) {
    let (median, p95, max) = spread(ms);
    let flag = if median > BUDGET_MS { "  OVER" } else { "" };
    println!("{name:<34} {cold:>9.1} {median:>9.1} {p95:>9.1} {max:>9.1}{flag}");
    if median > BUDGET_MS {
        over.push(name.to_string());
    }
}

fn header(what: &str, runs: usize) {
    println!(
        "\n{what:<34} {:>9} {:>9} {:>9} {:>9}   (ms; {runs} runs)",
        "cold", "median", "p95", "max"
    );
}

/// `report::build` for the week, unfiltered and with each filter the console's pages use.
fn reports(path: &Path, catalog: &Catalog, week: &str, picks: &Picks, runs: usize) -> Vec<String> {
    let policy_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/policy.toml");
    let policy = Policy::load(&policy_file, catalog).expect("dist/policy.toml");
    let period = Period::week(week, Period::today()).expect("the week");
    let filter = |group: Option<&str>, user: Option<&str>, app: Option<&str>| {
        let apps = app.map(|a| vec![a.to_string()]).unwrap_or_default();
        let (group, user) = (group.map(str::to_string), user.map(str::to_string));
        Filter::new(vec![], group, user, apps).expect("a filter")
    };
    let cases = [
        ("report::build".to_string(), Filter::default()),
        (
            format!("report::build --app {}", picks.app),
            filter(None, None, Some(&picks.app)),
        ),
        (
            format!("report::build --user {}", picks.user),
            filter(None, Some(&picks.user), None),
        ),
        (
            format!("report::build --group {}", picks.group),
            filter(Some(&picks.group), None, None),
        ),
    ];
    header("report, in process", runs);
    let mut over = Vec::new();
    for (name, filter) in cases {
        // Each case from a store just opened: its first build is the cold one.
        let store = Store::Sqlite(SqliteStore::open(path, "bench").expect("the store"));
        let time = || {
            let started = Instant::now();
            let report = report::build(&store, catalog, Some(&policy), &period, &filter)
                .expect("the report");
            std::hint::black_box(report);
            started.elapsed().as_secs_f64() * 1000.0
        };
        let cold = time();
        let ms: Vec<f64> = (0..runs).map(|_| time()).collect();
        row(&name, cold, ms, &mut over);
    }
    over
}

/// The console, as a browser loads it.
fn pages(path: &Path, week: &str, picks: &Picks, runs: usize) -> Vec<String> {
    let lantern = env!("CARGO_BIN_EXE_lantern");
    let has_serve = Command::new(lantern)
        .args(["serve", "--help"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_serve {
        println!("\npages: this lantern has no `serve` command yet: skipped");
        return Vec::new();
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let server = Server(
        Command::new(lantern)
            .args(["serve", "--store"])
            .arg(path)
            .args(["--listen", &listen])
            .stdout(Stdio::null())
            .spawn()
            .expect("lantern serve starts"),
    );
    let week_q = format!("week={week}");
    let kinds: Vec<(&str, String)> = vec![
        ("/", format!("/?{week_q}")),
        ("/apps", format!("/apps?{week_q}")),
        ("/apps/ID", format!("/apps/{}?{week_q}", picks.app)),
        ("/users", format!("/users?{week_q}")),
        (
            "/users/USER",
            format!("/users/{}?{week_q}", escape(&picks.user)),
        ),
        ("/mcp", format!("/mcp?{week_q}")),
        ("/servers", format!("/servers?{week_q}")),
        ("/programs", format!("/programs?{week_q}")),
        ("/candidates", format!("/candidates?{week_q}")),
        ("/sensors", format!("/sensors?{week_q}")),
        ("/report.json", format!("/report.json?{week_q}")),
        (
            "/report.csv?table=apps",
            format!("/report.csv?table=apps&{week_q}"),
        ),
    ];
    let started = Instant::now();
    loop {
        if get(&listen, "/").is_ok() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "lantern serve did not answer on {listen} in 120 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    println!(
        "\npages: lantern serve answered on {listen} after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let time = |url: &str| -> f64 {
        let started = Instant::now();
        match get(&listen, url) {
            Ok(bytes) => std::hint::black_box(bytes),
            Err(e) => panic!("GET {url}: {e}"),
        };
        started.elapsed().as_secs_f64() * 1000.0
    };
    // The first load of each kind, then rounds over every kind, so that the machine's drift
    // falls on all alike.
    let cold: Vec<f64> = kinds.iter().map(|(_, url)| time(url)).collect();
    let mut ms: Vec<Vec<f64>> = vec![Vec::new(); kinds.len()];
    for _ in 0..runs {
        for (i, (_, url)) in kinds.iter().enumerate() {
            ms[i].push(time(url));
        }
    }
    header("page", runs);
    let mut over = Vec::new();
    for (i, (kind, _)) in kinds.iter().enumerate() {
        row(kind, cold[i], std::mem::take(&mut ms[i]), &mut over);
    }
    drop(server);
    over
}

/// `lantern serve`, stopped when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Percent-escapes what a path segment cannot hold (`@` is fine).
fn escape(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'@' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A GET over plain HTTP/1.1: the whole response read, a status other than 200 an error.
fn get(addr: &str, url: &str) -> std::io::Result<usize> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(
        stream,
        "GET {url} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: */*\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let head = String::from_utf8_lossy(&response[..response.len().min(200)]).to_string();
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        let line = head.lines().next().unwrap_or("").to_string();
        return Err(std::io::Error::other(format!("answered {line:?}")));
    }
    Ok(response.len())
}
