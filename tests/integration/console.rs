//! The web console (`lantern serve`) over real HTTP on loopback, on stores made by replaying
//! this project's captures: every page's numbers are `lantern report`'s of the same filters,
//! downloads are the report's files, a viewer is shown no person, logins are needed, slowed
//! and throttled, reveals take an auditor and a reason and are logged, hostile names stay
//! text, and a filter with SQL in it is only a value. The pages in a real browser, from
//! ClickHouse, and over TLS are the system tests at the end.

use crate::common::console::{Reply, Served, attrs, metrics, table, unescape};
use crate::common::{self, dana_identity, lantern_ok, own_captures, sqlite_rows};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// The console's tables that are not the report's, and the page each is on.
const CONSOLE_TABLES: [(&str, &str); 5] = [
    ("app_users", "/apps/openai-chatgpt"),
    ("evidence", "/apps/openai-chatgpt"),
    ("users", "/users"),
    ("candidate_clients", "/candidates"),
    ("health", "/sensors"),
];

/// Every page kind, by a path of it in a store of the captures.
const PAGES: [&str; 10] = [
    "/",
    "/apps",
    "/apps/openai-chatgpt",
    "/users",
    "/users/dana",
    "/mcp",
    "/servers",
    "/programs",
    "/candidates",
    "/sensors",
];

/// Every capture of this project replayed into `dir/s.db` with the example policy and an
/// identity map naming one client `dana`; the period that holds all of it, as a query.
fn captures_store(dir: &Path, extra: &[&str]) -> String {
    dana_identity(dir);
    let policy = common::root().join("dist/policy.toml");
    let mut args = vec![
        "replay",
        "-q",
        "--store",
        "s.db",
        "--identity",
        "identity.csv",
    ];
    let policy = policy.display().to_string();
    args.extend(["--policy", &policy]);
    args.extend(extra);
    let pcaps: Vec<String> = (own_captures().iter())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .map(|p| p.display().to_string())
        .collect();
    args.extend(pcaps.iter().map(String::as_str));
    let run = common::lantern_in(Some(dir), &[], &args);
    assert!(run.status == 0 || run.status == 1, "{}", run.stderr);
    let days = sqlite_rows(
        &dir.join("s.db"),
        "SELECT date(min(hour), 'unixepoch') || ' ' || date(max(hour), 'unixepoch') FROM rollups_hourly",
    );
    let (from, to) = days[0].split_once(' ').unwrap();
    format!("from={from}&to={to}")
}

/// `lantern report --format json` of `query`'s period and filters.
fn report(dir: &Path, query: &str, filters: &[&str]) -> Value {
    let mut args = vec!["report", "--store", "s.db", "--format", "json"];
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let flags: Vec<String> = pairs
        .iter()
        .flat_map(|(k, v)| [format!("--{k}"), v.clone()])
        .collect();
    args.extend(flags.iter().map(String::as_str));
    args.extend(filters);
    let policy = common::root()
        .join("dist/policy.toml")
        .display()
        .to_string();
    args.extend(["--policy", &policy]);
    serde_json::from_str(&lantern_ok(dir, &args).stdout).unwrap()
}

/// A JSON object's fields as the page shows them: text as is, numbers and booleans written.
fn as_cells(object: &Value) -> BTreeMap<String, String> {
    (object.as_object().unwrap().iter())
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect()
}

fn ok(reply: Reply, what: &str) -> String {
    assert_eq!(reply.status, 200, "{what}: {}", reply.body);
    reply.body
}

fn serve(dir: &Path, args: &[&str]) -> Served {
    let policy = common::root()
        .join("dist/policy.toml")
        .display()
        .to_string();
    let mut all = vec!["--store", "s.db", "--policy", &policy];
    all.extend(args);
    Served::start(dir, &all)
}

#[test]
fn every_page_shows_the_numbers_of_lantern_report_of_its_filters() {
    let dir = tempfile::tempdir().unwrap();
    let q = captures_store(dir.path(), &[]);
    let served = serve(dir.path(), &[]);
    let whole = report(dir.path(), &q, &[]);

    // The overview's numbers are the headline's.
    let page = ok(served.get(&format!("/?{q}")), "overview");
    let shown: BTreeMap<String, String> = metrics(&page).into_iter().collect();
    assert_eq!(shown, as_cells(&whole["headline"]), "overview");

    // Every app's page: the numbers of its row in the report of that app; its users' rows add
    // up to them.
    let apps = whole["apps"].as_array().unwrap();
    assert!(apps.len() > 10, "{}", apps.len());
    for app in apps {
        let id = app["app_id"].as_str().unwrap();
        let page = ok(served.get(&format!("/apps/{id}?{q}")), id);
        let of_app = report(dir.path(), &q, &["--app", id]);
        let mut expected = as_cells(&of_app["apps"][0]);
        expected.retain(|k, _| !["app_id", "name", "vendor", "new"].contains(&k.as_str()));
        let mut shown: BTreeMap<String, String> = metrics(&page).into_iter().collect();
        let hours: u64 = shown.remove("hours").unwrap().parse().unwrap();
        assert_eq!(shown, expected, "{id}");
        let users = table(&page, "app_users").unwrap();
        let sum = |col: &str| -> u64 {
            (users.iter().flatten())
                .filter(|(c, _)| c == col)
                .map(|(_, v)| v.parse::<u64>().unwrap())
                .sum()
        };
        for col in ["flows", "dns_lookups", "bytes_up", "bytes_down"] {
            assert_eq!(sum(col), app[col].as_u64().unwrap(), "{id}: {col}");
        }
        assert!(hours >= 1 && hours <= sum("hours"), "{id}: {hours}");
        let names: std::collections::BTreeSet<String> = (users.iter().flatten())
            .filter(|(c, _)| c == "user")
            .map(|(_, v)| v.clone())
            .collect();
        assert_eq!(names.len() as u64, app["users"].as_u64().unwrap(), "{id}");
    }

    // The inventory is the report's apps table, cell for cell.
    let page = ok(served.get(&format!("/apps?{q}")), "apps");
    let rows = table(&page, "apps").unwrap();
    let expected: Vec<Vec<(String, String)>> = (apps.iter())
        .map(|a| as_cells(a).into_iter().collect::<Vec<_>>())
        .collect();
    let sorted = |rows: &[Vec<(String, String)>]| {
        let mut rows: Vec<Vec<(String, String)>> = rows.to_vec();
        rows.iter_mut().for_each(|r| r.sort());
        rows
    };
    assert_eq!(sorted(&rows), sorted(&expected));

    // Every user of the users page: their page's numbers are the report of that user.
    let page = ok(served.get(&format!("/users?{q}")), "users");
    let users: Vec<String> = (table(&page, "users").unwrap().iter().flatten())
        .filter(|(c, _)| c == "user")
        .map(|(_, v)| v.clone())
        .collect();
    assert!(users.contains(&"dana".to_string()), "{users:?}");
    for user in &users {
        let path = format!(
            "/users/{}?{q}",
            url::form_urlencoded::byte_serialize(user.as_bytes()).collect::<String>()
        );
        let page = ok(served.get(&path), user);
        let of_user = report(dir.path(), &q, &["--user", user]);
        let mut shown: BTreeMap<String, String> = metrics(&page).into_iter().collect();
        shown.remove("hours");
        assert_eq!(shown, as_cells(&of_user["headline"]), "{user}");
    }

    // Downloads: the JSON is the report's; each CSV is the report's file of that table.
    let json: Value =
        serde_json::from_str(&ok(served.get(&format!("/report.json?{q}")), "json")).unwrap();
    assert_eq!(json, whole);
    let csv_dir = dir.path().join("csv");
    let mut args = vec!["report", "--store", "s.db", "--format", "csv", "-o", "csv"];
    let pairs: Vec<String> = q
        .split('&')
        .flat_map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            [format!("--{k}"), v.to_string()]
        })
        .collect();
    args.extend(pairs.iter().map(String::as_str));
    let policy = common::root()
        .join("dist/policy.toml")
        .display()
        .to_string();
    args.extend(["--policy", &policy]);
    lantern_ok(dir.path(), &args);
    let mut compared = 0;
    for entry in std::fs::read_dir(&csv_dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        let reply = served.get(&format!("/report.csv?{q}&table={name}"));
        assert_eq!(reply.status, 200, "{name}");
        assert!(
            reply
                .header("content-disposition")
                .unwrap()
                .contains(".csv")
        );
        assert_eq!(
            reply.body,
            std::fs::read_to_string(&path).unwrap(),
            "{name}"
        );
        compared += 1;
    }
    assert!(compared >= 14, "{compared}");
    for (name, page) in CONSOLE_TABLES {
        let reply = served.get(&format!("/report.csv?{q}&table={name}&app=openai-chatgpt"));
        assert_eq!(reply.status, 200, "{name} ({page}): {}", reply.body);
    }
    let md = ok(served.get(&format!("/report.md?{q}")), "md");
    assert!(md.starts_with("# Shadow AI report"), "{md}");
}

/// Every user, device and client address the store holds.
fn people(db: &Path) -> Vec<String> {
    let mut names = sqlite_rows(
        db,
        "SELECT user FROM rollups_hourly UNION SELECT device FROM rollups_hourly
         UNION SELECT user FROM flows UNION SELECT ifNull(device, '') FROM flows
         UNION SELECT client_ip FROM flows UNION SELECT user FROM dns
         UNION SELECT ifNull(device, '') FROM dns UNION SELECT client_ip FROM dns",
    );
    names.retain(|n| !n.is_empty());
    names.sort();
    names.dedup();
    names
}

/// Every page kind and every download of the store's period.
fn everything(served: &Served, q: &str, cookie: Option<&str>) -> Vec<(String, Reply)> {
    let mut paths: Vec<String> = PAGES.iter().map(|p| format!("{p}?{q}")).collect();
    for format in ["json", "md", "html"] {
        paths.push(format!("/report.{format}?{q}"));
    }
    let tables = [
        "headline",
        "apps",
        "new_apps",
        "top_users",
        "api_use",
        "categories",
        "trend",
        "candidates",
        "one_source_apps",
        "local_servers",
        "mcp_servers",
        "programs",
        "visibility",
        "visibility_by_source",
        "encrypted_dns",
        "app_sensors",
    ];
    for t in tables.iter().chain(CONSOLE_TABLES.iter().map(|(t, _)| t)) {
        paths.push(format!("/report.csv?{q}&table={t}&app=openai-chatgpt"));
        paths.push(format!("/report.csv?{q}&table={t}"));
    }
    (paths.into_iter())
        .map(|p| {
            let reply = match cookie {
                Some(c) => served.get_as(&p, c),
                None => served.get(&p),
            };
            (p, reply)
        })
        .collect()
}

#[test]
fn a_viewer_sees_no_user_device_or_client_address_and_an_analyst_does() {
    let dir = tempfile::tempdir().unwrap();
    let q = captures_store(dir.path(), &[]);
    let names = people(&dir.path().join("s.db"));
    assert!(names.contains(&"dana".to_string()) && names.contains(&"dana-ws".to_string()));
    assert!(names.len() > 10, "{names:?}");

    let viewer = serve(dir.path(), &["--anonymous-role", "viewer"]);
    let mut shown = 0;
    for (path, reply) in everything(&viewer, &q, None) {
        match reply.status {
            200 => shown += 1,
            // The pages about people, and tables a viewer has not.
            403 | 400 => continue,
            other => panic!("{path}: {other}"),
        }
        let text = unescape(&reply.body);
        for name in &names {
            assert!(!text.contains(name.as_str()), "{path} names {name:?}");
        }
    }
    assert!(shown > 30, "{shown}");
    for refused in [
        "/users",
        "/users/dana",
        "/?user=dana",
        "/report.json?user=dana",
    ] {
        assert_eq!(viewer.get(refused).status, 403, "{refused}");
    }
    let overview = unescape(&ok(viewer.get(&format!("/?{q}")), "overview"));
    assert!(overview.contains("shows no person"), "says so");
    assert!(!overview.contains("href=\"/users"), "no link to a user");

    // An analyst's pages name them.
    let analyst = serve(dir.path(), &[]);
    let all: String = (everything(&analyst, &q, None).into_iter())
        .map(|(_, r)| unescape(&r.body))
        .collect();
    for name in ["dana", "dana-ws", "10.77.0.10"] {
        assert!(all.contains(name), "an analyst sees {name}");
    }
    let users = unescape(&ok(analyst.get(&format!("/users?{q}")), "users"));
    assert!(
        users.contains("href=\"/users/dana?"),
        "links to the user's page"
    );
}

/// `dir/auth.toml` with one user of each role, each with the password `pw-ROLE`.
fn auth_file(dir: &Path) {
    let mut text = String::new();
    for role in ["viewer", "analyst", "auditor"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_lantern"))
            .args(["serve", "--hash-password"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(format!("pw-{role}\n").as_bytes())?;
                child.wait_with_output()
            })
            .unwrap();
        let hash = String::from_utf8(out.stdout).unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        text += &format!(
            "[[user]]\nname = \"{role}-user\"\nrole = \"{role}\"\npassword = \"{}\"\n",
            hash.trim()
        );
    }
    std::fs::write(dir.join("auth.toml"), text).unwrap();
}

/// Logs in; the session cookie (`name=value`).
fn login(served: &Served, name: &str, password: &str) -> String {
    let reply = served.post(
        "/login",
        &[("name", name), ("password", password), ("next", "/apps")],
        None,
    );
    assert_eq!(reply.status, 303, "{}", reply.body);
    assert_eq!(reply.header("location"), Some("/apps"));
    let cookie = reply.header("set-cookie").unwrap();
    for part in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    cookie.split(';').next().unwrap().to_string()
}

#[test]
fn with_auth_every_request_needs_a_login_and_wrong_passwords_are_slowed_then_refused() {
    let dir = tempfile::tempdir().unwrap();
    let q = captures_store(dir.path(), &[]);
    auth_file(dir.path());
    let served = serve(dir.path(), &["--auth", "auth.toml"]);

    // Nothing without a login: pages send to the login page, downloads and forms get 401.
    let page = served.get(&format!("/apps?{q}"));
    assert_eq!(page.status, 303);
    assert!(
        page.header("location")
            .unwrap()
            .starts_with("/login?next=%2Fapps%3F")
    );
    assert_eq!(served.get(&format!("/report.json?{q}")).status, 401);
    assert_eq!(
        served
            .post("/reveal", &[("token", "x"), ("reason", "y")], None)
            .status,
        401
    );
    assert_eq!(served.get("/login").status, 200);
    assert_eq!(served.get("/static/console.css").status, 200);

    // A wrong password takes a second, and after five the name is refused unchecked, even
    // with the right password.
    for _ in 0..5 {
        let started = Instant::now();
        let reply = served.post(
            "/login",
            &[("name", "analyst-user"), ("password", "guess")],
            None,
        );
        assert_eq!(reply.status, 401);
        assert!(reply.body.contains("Wrong name or password"));
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }
    let reply = served.post(
        "/login",
        &[("name", "analyst-user"), ("password", "pw-analyst")],
        None,
    );
    assert_eq!(reply.status, 429, "{}", reply.body);

    // Another user from another... the same address is refused too: five failures from it.
    let reply = served.post(
        "/login",
        &[("name", "viewer-user"), ("password", "pw-viewer")],
        None,
    );
    assert_eq!(reply.status, 429);

    // A fresh console: the right password opens a session whose pages show the role's view.
    drop(served);
    let served = serve(dir.path(), &["--auth", "auth.toml"]);
    let cookie = login(&served, "analyst-user", "pw-analyst");
    let page = served.get_as(&format!("/users?{q}"), &cookie);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("analyst-user"));
    let viewer = login(&served, "viewer-user", "pw-viewer");
    assert_eq!(served.get_as(&format!("/users?{q}"), &viewer).status, 403);
    // An open redirect is not: `next` must be a path of the console.
    let reply = served.post(
        "/login",
        &[
            ("name", "viewer-user"),
            ("password", "pw-viewer"),
            ("next", "//evil.example/"),
        ],
        None,
    );
    assert_eq!(reply.header("location"), Some("/"));
    // A form from another site is refused.
    let reply = served.request(
        "POST",
        "/logout",
        &[("Cookie", &cookie), ("Origin", "http://evil.example")],
        Some(""),
    );
    assert_eq!(reply.status, 403);
    // Logging out ends the session.
    let reply = served.request("POST", "/logout", &[("Cookie", &cookie)], Some(""));
    assert_eq!(reply.status, 303);
    assert_eq!(
        served.get_as(&format!("/report.json?{q}"), &cookie).status,
        401
    );

    // Every request is logged with its user.
    let log = served.log();
    assert!(
        log.contains("\"analyst-user\" analyst \"GET /users?"),
        "{log}"
    );
    assert!(
        log.contains("\"viewer-user\" viewer \"GET /users?"),
        "{log}"
    );

    // Security headers on every answer.
    let reply = served.get("/login");
    let csp = reply.header("content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(reply.header("x-frame-options"), Some("DENY"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

#[test]
fn behind_a_proxy_the_header_names_the_user_and_the_auth_file_their_role() {
    let dir = tempfile::tempdir().unwrap();
    let q = captures_store(dir.path(), &[]);
    auth_file(dir.path());
    let served = serve(
        dir.path(),
        &["--auth", "auth.toml", "--auth-header", "X-Remote-User"],
    );
    let as_user =
        |user: &str, path: &str| served.request("GET", path, &[("X-Remote-User", user)], None);
    assert_eq!(as_user("analyst-user", &format!("/users?{q}")).status, 200);
    assert_eq!(as_user("viewer-user", &format!("/users?{q}")).status, 403);
    assert_eq!(as_user("viewer-user", &format!("/apps?{q}")).status, 200);
    let unknown = as_user("mallory", &format!("/apps?{q}"));
    assert_eq!(unknown.status, 403);
    assert!(unknown.body.contains("not a user of the console"));
    assert_eq!(
        served.get(&format!("/apps?{q}")).status,
        403,
        "no header, no page"
    );
    assert!(
        served
            .log()
            .contains("\"analyst-user\" analyst \"GET /users?")
    );
}

#[test]
fn a_listen_address_that_is_not_loopback_needs_auth() {
    let dir = tempfile::tempdir().unwrap();
    captures_store(dir.path(), &[]);
    let run = common::lantern_in(
        Some(dir.path()),
        &[],
        &["serve", "--store", "s.db", "--listen", "0.0.0.0:0"],
    );
    assert_eq!(run.status, 1);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("lantern: --listen 0.0.0.0:0: not a loopback address")
            && run.stderr.contains("--auth FILE"),
        "{}",
        run.stderr
    );
    let run = common::lantern_in(
        Some(dir.path()),
        &[],
        &["serve", "--store", "s.db", "--key", "k"],
    );
    assert_eq!(
        run.status, 2,
        "clap refuses --key without --audit-log: {}",
        run.stderr
    );
}

#[test]
fn a_reveal_takes_an_auditor_and_a_reason_and_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("k.key"), [7u8; 32]).unwrap();
    let q = captures_store(dir.path(), &["--pseudonymize", "k.key"]);
    auth_file(dir.path());
    let token = lantern_ok(
        dir.path(),
        &["pseudonym", "token", "--key", "k.key", "dana"],
    )
    .stdout;
    let token = token.trim();
    let served = serve(
        dir.path(),
        &[
            "--auth",
            "auth.toml",
            "--key",
            "k.key",
            "--audit-log",
            "audit.log",
        ],
    );

    // An analyst sees tokens, and the page says the store is pseudonymized.
    let analyst = login(&served, "analyst-user", "pw-analyst");
    let users = ok(served.get_as(&format!("/users?{q}"), &analyst), "users");
    assert!(
        users.contains(token) && !users.contains("dana"),
        "tokens only"
    );
    assert!(users.contains("This store is pseudonymized"), "says so");

    // An analyst's reveal is refused, and the attempt is logged.
    let form = [("token", token), ("reason", "INC-4711 data leak")];
    let reply = served.post("/reveal", &form, Some(&analyst));
    assert_eq!(reply.status, 403);
    assert!(!reply.body.contains("dana"));
    let audit = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
    let line: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(line["outcome"], "refused");
    assert_eq!(line["user"], "analyst-user");

    // An auditor must give a reason.
    let auditor = login(&served, "auditor-user", "pw-auditor");
    let reply = served.post(
        "/reveal",
        &[("token", token), ("reason", "  ")],
        Some(&auditor),
    );
    assert_eq!(reply.status, 400);
    assert!(!reply.body.contains(">dana<"));
    // With one, the name is shown and the log says who, when, which token and why.
    let reply = served.post("/reveal", &form, Some(&auditor));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply.body.contains("<strong data-name>dana</strong>"),
        "{}",
        reply.body
    );
    let audit = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
    assert_eq!(audit.lines().count(), 2, "{audit}");
    let line: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(line["outcome"], "revealed");
    assert_eq!(line["user"], "auditor-user");
    assert_eq!(line["role"], "auditor");
    assert_eq!(line["token"], token);
    assert_eq!(line["reason"], "INC-4711 data leak");
    assert!(line["ts"].as_str().unwrap().starts_with("20"));
    assert!(!audit.contains("\"dana\""), "the log names no one");
}

/// A store whose names are hostile: markup, quotes, formulas and control bytes, as users,
/// devices and server names.
fn hostile_store(dir: &Path) {
    use lantern::capture::Timestamp;
    use lantern::store::{Batch, DnsRow, FlowRow, RollupRow, SqliteStore};
    let hostile = [
        "<script>alert(1)</script>",
        "\"><img src=x onerror=alert(2)>",
        "' OR '1'='1",
        "=HYPERLINK(\"http://evil.example/\")",
        "ctl\u{1}\u{7}\u{1b}[31mred\u{7f}",
        "a\r\nSet-Cookie: x=1",
    ];
    let t = Timestamp::from_secs(1_795_305_600 + 3600);
    let us = t.0 / 1000;
    let mut batch = Batch::default();
    for (i, name) in hostile.iter().enumerate() {
        let app = ["openai-chatgpt", "ollama-server"][i % 2];
        batch.flows.push(FlowRow {
            ts_us: us,
            end_ts_us: us,
            flow_id: i as u64,
            client_ip: name.to_string(),
            server_ip: "203.0.113.5".into(),
            server_port: 443,
            transport: "tcp".into(),
            protocol: "tls".into(),
            server_name: Some(format!("{name}.chatgpt.com")),
            name_source: "tls_sni".into(),
            user: name.to_string(),
            user_source: "kerberos".into(),
            user_kind: "person".into(),
            device: Some(name.to_string()),
            app_id: Some(app.into()),
            client_software: Some(name.to_string()),
            bytes_up: 100,
            bytes_down: 10,
            ..FlowRow::default()
        });
        batch.dns.push(DnsRow {
            ts_us: us,
            client_ip: name.to_string(),
            server_ip: "10.0.0.53".into(),
            transport: "udp".into(),
            query: format!("{name}.gpt"),
            qtype: "A".into(),
            user: name.to_string(),
            user_kind: "person".into(),
            candidate: 1,
            ..DnsRow::default()
        });
        batch.rollups.push(RollupRow {
            hour: t.hour_floor().secs(),
            user: name.to_string(),
            app_id: app.into(),
            user_source: "kerberos".into(),
            user_kind: "person".into(),
            device: name.to_string(),
            user_group: name.to_string(),
            flows: 1,
            bytes_up: 100,
            bytes_down: 10,
            first_seen_us: us,
            last_seen_us: us,
            ..RollupRow::default()
        });
    }
    let mut store = SqliteStore::open(&dir.join("s.db"), "<b>sensor</b>\"'").unwrap();
    store.write(batch).unwrap();
}

#[test]
fn hostile_names_render_as_text_on_every_page() {
    let dir = tempfile::tempdir().unwrap();
    hostile_store(dir.path());
    let served = Served::start(dir.path(), &["--store", "s.db"]);
    let q = "week=2026-W47";
    let mut pages: Vec<String> = PAGES.iter().map(|p| format!("{p}?{q}")).collect();
    for name in [
        "<script>alert(1)</script>",
        "' OR '1'='1",
        "ctl\u{1}\u{7}\u{1b}[31mred\u{7f}",
    ] {
        let name: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
        pages.push(format!("/users/{name}?{q}"));
        pages.push(format!("/?{q}&user={name}"));
    }
    for path in &pages {
        let page = ok(served.get(path), path);
        // The one script is the console's own; no markup from a name became an element or an
        // attribute; control bytes are shown as escapes.
        assert_eq!(page.matches("<script").count(), 1, "{path}");
        assert!(
            page.contains("<script src=\"/static/sort.js\" defer></script>"),
            "{path}"
        );
        assert!(
            !page.contains("<img") && !page.contains("onerror=alert(2)>"),
            "{path}"
        );
        assert!(!page.contains("<b>"), "{path}");
        assert!(
            !page.chars().any(|c| c.is_control() && c != '\n'),
            "{path}: a control byte"
        );
        for value in attrs(&page, "data-value") {
            assert!(!value.contains('\u{1b}'), "{path}: {value:?}");
        }
    }
    let users = ok(served.get(&format!("/users?{q}")), "users");
    assert!(
        users.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
        "shown as text"
    );
    assert!(
        users.contains("ctl\\u{1}\\u{7}\\u{1b}[31mred\\u{7f}"),
        "escaped control bytes"
    );
}

#[test]
fn a_filter_with_sql_in_it_matches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let q = captures_store(dir.path(), &[]);
    let served = serve(dir.path(), &[]);
    for filter in [
        "app=x'%20OR%20'1'='1",
        "user=x'%20OR%201=1%20--",
        "group=')%20OR%20('1'='1",
        "sensor=x%22%20OR%201=1;%20DROP%20TABLE%20flows;%20--",
    ] {
        let page = ok(served.get(&format!("/?{q}&{filter}")), filter);
        let shown: BTreeMap<String, String> = metrics(&page).into_iter().collect();
        assert_eq!(shown["flows"], "0", "{filter}");
        assert_eq!(shown["apps"], "0", "{filter}");
        let json: Value = serde_json::from_str(&ok(
            served.get(&format!("/report.json?{q}&{filter}")),
            filter,
        ))
        .unwrap();
        assert_eq!(json["headline"]["flows"], 0, "{filter}");
    }
    // The store is whole.
    let page = ok(served.get(&format!("/?{q}")), "overview");
    let shown: BTreeMap<String, String> = metrics(&page).into_iter().collect();
    assert_ne!(shown["flows"], "0");
    // A query the console does not know is one line, not a page of the wrong thing.
    let reply = served.get(&format!("/?{q}&week=2026-W47"));
    assert_eq!(reply.status, 400);
    assert!(
        reply
            .body
            .contains("give one of week, month, or from and to")
    );
}

/// The console in real headless Chromium (a system test: feature `system-tests`).
#[cfg(feature = "system-tests")]
mod in_chromium {
    use super::*;
    use crate::common::browser::Browser;
    use crate::common::can_run;

    /// The numbers at the top of the page in the browser.
    fn shown(b: &mut Browser) -> BTreeMap<String, String> {
        let js = "JSON.stringify([...document.querySelectorAll('[data-metric]')]
                  .map(m => [m.dataset.metric, m.dataset.value]))";
        let pairs: Vec<(String, String)> =
            serde_json::from_str(b.eval(js).as_str().unwrap()).unwrap();
        pairs.into_iter().collect()
    }

    /// Where screenshots go: `LANTERN_SCREENSHOTS` (the README's command sets it to
    /// `docs/console`), else the test's own directory.
    fn shots(dir: &Path) -> std::path::PathBuf {
        match std::env::var_os("LANTERN_SCREENSHOTS") {
            Some(d) => common::root().join(d),
            None => dir.join("shots"),
        }
    }

    #[test]
    fn overview_to_an_app_to_a_user_and_back_with_the_reports_numbers_and_nothing_else() {
        if !can_run(&["chromium"]) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let q = captures_store(dir.path(), &[]);
        let served = serve(dir.path(), &[]);
        let origin = format!("http://127.0.0.1:{}/", served.port);
        let shots = shots(dir.path());
        std::fs::create_dir_all(&shots).unwrap();
        let mut b = Browser::start();

        b.goto(&format!("{origin}?{q}"));
        let whole = report(dir.path(), &q, &[]);
        assert_eq!(shown(&mut b), as_cells(&whole["headline"]), "overview");
        b.screenshot(&shots.join("overview.png"));

        // To the inventory, sorted by a click on a heading (the one script), then an app.
        b.click("nav a[href^='/apps']");
        assert!(
            b.url().starts_with(&format!("{origin}apps?")),
            "{}",
            b.url()
        );
        let first = b.text("section[data-table=apps] tbody tr td[data-col=name]");
        b.eval(
            "document.querySelector('section[data-table=apps] th[data-col=name] button').click()",
        );
        let sorted = b.texts("section[data-table=apps] tbody td[data-col=name]");
        let mut names = sorted.clone();
        names.sort_by_key(|n| std::cmp::Reverse(n.to_lowercase()));
        assert_eq!(
            sorted, names,
            "sorted by name, descending, as the locale orders them"
        );
        b.screenshot(&shots.join("apps.png"));
        let csv = b.download("section[data-table=apps] a.csv", dir.path());
        assert!(
            csv.suggested_name.starts_with("lantern-apps-"),
            "{}",
            csv.suggested_name
        );
        lantern_ok(dir.path(), &{
            let mut args = vec!["report", "--store", "s.db", "--format", "csv", "-o", "csv"];
            let (from, to) = q.split_once('&').unwrap();
            args.extend(["--from", &from[5..], "--to", &to[3..]]);
            let policy = common::root()
                .join("dist/policy.toml")
                .display()
                .to_string();
            args.extend(["--policy", Box::leak(policy.into_boxed_str())]);
            args
        });
        assert_eq!(
            std::fs::read_to_string(&csv.path).unwrap(),
            std::fs::read_to_string(dir.path().join("csv/apps.csv")).unwrap(),
            "the downloaded CSV is the report's"
        );
        assert!(!first.is_empty());

        b.click("section[data-table=apps] tbody td[data-col=name] a[href^='/apps/openai-chatgpt']");
        let app_url = b.url();
        assert!(
            app_url.starts_with(&format!("{origin}apps/openai-chatgpt?")),
            "{app_url}"
        );
        let of_app = report(dir.path(), &q, &["--app", "openai-chatgpt"]);
        let mut on_page = shown(&mut b);
        on_page.remove("hours");
        let mut expected = as_cells(&of_app["apps"][0]);
        expected.retain(|k, _| !["app_id", "name", "vendor", "new"].contains(&k.as_str()));
        assert_eq!(on_page, expected, "app");
        b.screenshot(&shots.join("app.png"));

        // To one of its users, then back twice.
        b.click("section[data-table=app_users] td[data-col=user] a");
        let user = b.text("h1 .subject");
        let of_user = report(dir.path(), &q, &["--user", &user]);
        let mut on_page = shown(&mut b);
        on_page.remove("hours");
        assert_eq!(on_page, as_cells(&of_user["headline"]), "user {user}");
        b.screenshot(&shots.join("user.png"));
        b.back();
        assert_eq!(b.url(), app_url);
        b.back();
        assert!(b.url().starts_with(&format!("{origin}apps?")));

        // Every other page kind loads, for its screenshot.
        for (kind, path) in [
            ("users", "users"),
            ("mcp", "mcp"),
            ("servers", "servers"),
            ("programs", "programs"),
            ("candidates", "candidates"),
            ("sensors", "sensors"),
        ] {
            b.goto(&format!("{origin}{path}?{q}"));
            assert!(b.texts("h1").len() == 1, "{kind}");
            b.screenshot(&shots.join(format!("{kind}.png")));
        }

        assert_eq!(b.console_errors(), Vec::<String>::new(), "no console error");
        let outside: Vec<String> = (b.requests().into_iter())
            .filter(|r| !r.starts_with(&origin))
            .collect();
        assert_eq!(
            outside,
            Vec::<String>::new(),
            "no request outside the console"
        );
        assert!(b.requests().iter().any(|r| r.ends_with("/static/sort.js")));
    }

    #[test]
    fn hostile_names_stay_text_in_the_browser() {
        if !can_run(&["chromium"]) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        hostile_store(dir.path());
        let served = Served::start(dir.path(), &["--store", "s.db"]);
        let origin = format!("http://127.0.0.1:{}/", served.port);
        let mut b = Browser::start();
        for page in PAGES {
            b.goto(&format!("{origin}{}?week=2026-W47", &page[1..]));
            assert_eq!(b.eval("document.scripts.length"), 1, "{page}");
            assert_eq!(b.eval("document.images.length"), 0, "{page}");
        }
        b.goto(&format!("{origin}users?week=2026-W47"));
        let users = b.texts("section[data-table=users] td[data-col=user]");
        assert!(
            users.contains(&"<script>alert(1)</script>".to_string()),
            "{users:?}"
        );
        assert!(
            users.contains(&"\"><img src=x onerror=alert(2)>".to_string()),
            "{users:?}"
        );
        assert_eq!(b.console_errors(), Vec::<String>::new());
    }
}

/// TLS with a certificate made by openssl, checked by curl (a system test: feature
/// `system-tests`).
#[cfg(feature = "system-tests")]
#[test]
fn tls_serves_with_the_given_certificate_and_says_so() {
    if !common::can_run(&["openssl", "curl"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let q = captures_store(dir.path(), &[]);
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args([
            "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "2",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let served = serve(
        dir.path(),
        &["--tls-cert", "cert.pem", "--tls-key", "key.pem"],
    );
    assert!(
        served.log().contains("listening on https://127.0.0.1:"),
        "{}",
        served.log()
    );
    let curl = |extra: &[&str], url: &str| {
        std::process::Command::new("curl")
            .args(["-s", "-i", "--max-time", "10"])
            .args(extra)
            .arg(url)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let url = format!("https://127.0.0.1:{}/apps?{q}", served.port);
    let out = curl(&["--cacert", "cert.pem"], &url);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.contains("strict-transport-security: max-age=31536000"),
        "{text}"
    );
    assert!(text.contains("data-table=\"apps\""));
    // Without the certificate curl does not trust it; plain HTTP gets no page.
    assert!(!curl(&[], &url).status.success());
    let plain = curl(&[], &url.replace("https://", "http://"));
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("data-table"));
}

/// The same pages from ClickHouse (a system test: feature `system-tests`).
#[cfg(feature = "system-tests")]
mod from_clickhouse {
    use super::*;
    use crate::common::clickhouse::ClickHouse;
    use crate::common::work_dir;

    #[test]
    fn every_page_and_download_is_the_same_from_clickhouse_and_sqlite() {
        let Some(server) = ClickHouse::start() else {
            return;
        };
        let dir = tempfile::tempdir_in(work_dir()).unwrap();
        let q = captures_store(dir.path(), &["--sensor", "s1"]);
        let url = server.url("console");
        dana_identity(dir.path());
        let policy = common::root()
            .join("dist/policy.toml")
            .display()
            .to_string();
        let mut args = vec!["replay", "-q", "--sensor", "s1", "--store", &url];
        args.extend(["--identity", "identity.csv", "--policy", &policy]);
        let pcaps: Vec<String> = (own_captures().iter())
            .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
            .map(|p| p.display().to_string())
            .collect();
        args.extend(pcaps.iter().map(String::as_str));
        let run = common::lantern_in(Some(dir.path()), &[], &args);
        assert!(run.status == 0 || run.status == 1, "{}", run.stderr);

        let lite = serve(dir.path(), &[]);
        let ch = Served::start(dir.path(), &["--store", &url, "--policy", &policy]);
        let mut compared = 0;
        let with_sql = format!("{q}&app=x'%20OR%20'1'='1");
        for (path, from_sqlite) in everything(&lite, &q, None) {
            let from_ch = ch.get(&path);
            assert_eq!(
                from_sqlite.status, from_ch.status,
                "{path}: {}",
                from_ch.body
            );
            assert_eq!(from_sqlite.body, from_ch.body, "{path}");
            compared += usize::from(from_ch.status == 200);
        }
        assert!(compared > 40, "{compared}");
        for (path, reply) in everything(&ch, &with_sql, None) {
            if reply.status == 200 && path.starts_with("/report.json") {
                let json: Value = serde_json::from_str(&reply.body).unwrap();
                assert_eq!(json["headline"]["flows"], 0, "{path}");
            }
        }
        let page = ok(ch.get(&format!("/?{with_sql}")), "sql");
        let shown: BTreeMap<String, String> = metrics(&page).into_iter().collect();
        assert_eq!(shown["flows"], "0");
    }
}

#[test]
fn a_page_read_again_shows_what_was_written_since() {
    let dir = tempfile::tempdir().unwrap();
    let first = common::own("curl-chatgpt.pcap").display().to_string();
    lantern_ok(dir.path(), &["replay", "-q", "--store", "s.db", &first]);
    let served = Served::start(dir.path(), &["--store", "s.db"]);
    let q = "from=2026-01-01&to=2026-12-31";
    let flows = |served: &Served| -> u64 {
        let page = ok(served.get(&format!("/?{q}")), "overview");
        let shown: BTreeMap<String, String> = metrics(&page).into_iter().collect();
        shown["flows"].parse().unwrap()
    };
    let before = flows(&served);
    assert_eq!(flows(&served), before, "the same page again");
    let more = common::own("python-upload.pcap").display().to_string();
    lantern_ok(dir.path(), &["replay", "-q", "--store", "s.db", &more]);
    let after = flows(&served);
    assert!(after > before, "{before} then {after}");
    let json = report(dir.path(), q, &[]);
    assert_eq!(after, json["headline"]["flows"].as_u64().unwrap());
}
