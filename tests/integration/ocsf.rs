//! `--events-format ocsf` against OCSF 1.8.0: every OCSF event lantern writes for `captures/`
//! and `../shared/captures/` must pass `../shared/ocsf/validate.py` with the compiled schema
//! (`schema-1.8.0.json`), and so must a Detection Finding of every notice kind, encoded
//! through the library (the rules that raise notices replay no capture yet).
//!
//! The captures give about 2,600 OCSF events (the validator reads about 2,000 a second),
//! so every one is validated: each capture of `captures/` replayed alone with
//! `--active-timeout 1` (interim records), an identity map (a user, device and group) and the
//! example policy `dist/policy.toml` (sanctioned, tolerated and unsanctioned apps), each of
//! `../shared/captures/` alone, and a few again with `--pseudonymize` (tokens where addresses
//! and names were). Each replay's OCSF events are also counted against the lantern events of
//! the same replay, one for one, their `metadata.uid` unique. `lantern ingest` of the
//! EVE logs Suricata wrote from the same captures (`../shared/nsm-logs/eve/`) adds about 2,300.
//!
//! A system test: the validator runs in a Python venv this test makes once, under
//! `target/tmp/ocsf-venv`, with the validator's pinned lines of `../shared/ocsf/requirements.txt`
//! from PyPI (`python3 -m venv` needs Debian's `python3-venv`). The lantern format itself is
//! held to the reviewed events by `own_captures::events_match`.

use crate::common::{
    Replay, can_run, captures_in, dana_identity, lantern, own, own_captures, root,
};
use crate::common::{shared_captures, work_dir};
use lantern::capture::Timestamp;
use lantern::decode::Addr;
use lantern::flow::Endpoint;
use lantern::output::events::{Event, ocsf};
use lantern::output::notice::{Notice, NoticeApp, NoticeKind, NoticeSeverity};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The validation kit.
fn kit() -> PathBuf {
    root().join("../shared/ocsf")
}

/// The packages `validate.py` needs, as `requirements.txt` pins them (the rest of that file
/// is for rebuilding the schema).
const VALIDATOR_PACKAGES: [&str; 7] = [
    "ocsf-json-schema",
    "jsonschema",
    "jsonschema-specifications",
    "referencing",
    "rpds-py",
    "attrs",
    "typing_extensions",
];

/// The pinned lines of the validator's packages.
fn validator_requirements() -> String {
    let text = std::fs::read_to_string(kit().join("requirements.txt")).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.split_once("==")
                .is_some_and(|(name, _)| VALIDATOR_PACKAGES.contains(&name.trim()))
        })
        .collect();
    assert_eq!(lines.len(), VALIDATOR_PACKAGES.len(), "pins in {text}");
    lines.join("\n") + "\n"
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The venv's python, the venv made first if it is not there with these pins: once per test
/// process, and under a file lock for other processes.
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let venv = work_dir().join("ocsf-venv");
        let lock = File::create(work_dir().join("ocsf-venv.lock")).unwrap();
        lock.lock().unwrap();
        let pins = validator_requirements();
        let done = venv.join("lantern-requirements.txt");
        if std::fs::read_to_string(&done).ok().as_deref() != Some(pins.as_str()) {
            let _ = std::fs::remove_dir_all(&venv);
            run(Command::new("python3").arg("-m").arg("venv").arg(&venv));
            let wanted = venv.join("wanted.txt");
            std::fs::write(&wanted, &pins).unwrap();
            let pip = venv.join("bin/pip");
            run(Command::new(pip)
                .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
                .arg(&wanted));
            std::fs::write(&done, &pins).unwrap();
        }
        venv.join("bin/python")
    })
}

/// Runs the validator on `events`; fails with its report unless every event is valid.
/// Returns the events' class uids.
fn validate(events: &Path) -> BTreeSet<u64> {
    let out = Command::new(python())
        .arg(kit().join("validate.py"))
        .arg(kit().join("schema-1.8.0.json"))
        .arg(events)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "validate.py {}: {report}{}",
        events.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains(" 0 invalid; 0 errors"), "{report}");
    classes(&std::fs::read_to_string(events).unwrap())
}

fn classes(jsonl: &str) -> BTreeSet<u64> {
    jsonl
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["class_uid"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

/// Whether this machine can run the validator.
fn can_validate() -> bool {
    let kit = kit();
    can_run(&["python3", &kit.join("validate.py").display().to_string()])
}

/// A replay of `file` in both formats with `extra`: the OCSF lines, after checking them one for
/// one against the lantern events.
fn ocsf_of(file: &Path, extra: &[&str]) -> String {
    let replay = |format: &str| {
        let run = Replay::of(&[file])
            .args(&["--events-format", format])
            .args(extra)
            .run();
        let name = file.file_name().unwrap().to_string_lossy();
        // A capture cut short on purpose ends with an error; what was read before is kept.
        assert!(
            run.status == 0 || name.contains("-cut"),
            "{name}: {}",
            run.stderr
        );
        run
    };
    let (ocsf, lantern) = (replay("ocsf"), replay("lantern"));
    let kinds = |events: Vec<Value>, key: &dyn Fn(&Value) -> &Value| {
        let mut n = BTreeMap::new();
        for e in &events {
            *n.entry(key(e).as_str().unwrap().to_string()).or_insert(0) += 1;
        }
        n
    };
    assert_eq!(
        kinds(ocsf.events(), &|e| &e["metadata"]["event_code"]),
        kinds(lantern.events(), &|e| &e["event_type"]),
        "{}: OCSF events, by lantern type, against the lantern events",
        file.display()
    );
    let uids: BTreeSet<String> = (ocsf.events().iter())
        .map(|e| e["metadata"]["uid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        uids.len(),
        ocsf.events().len(),
        "{}: a uid twice",
        file.display()
    );
    ocsf.stdout
}

#[test]
fn every_event_of_every_capture_validates() {
    if !can_validate() {
        return;
    }
    let dir = tempfile::tempdir_in(work_dir()).unwrap();
    let map = dana_identity(dir.path());
    let key = dir.path().join("key");
    std::fs::write(&key, "a key of at least sixteen bytes\n").unwrap();
    let policy = root().join("dist/policy.toml");
    let (map, key, policy) = (
        map.to_str().unwrap(),
        key.to_str().unwrap(),
        policy.to_str().unwrap(),
    );
    let own_args = [
        "--active-timeout",
        "1",
        "--identity",
        map,
        "--policy",
        policy,
    ];
    let mut jsonl = String::new();
    for file in own_captures() {
        jsonl += &ocsf_of(&file, &own_args);
    }
    let shared = shared_captures();
    for sub in ["ndpi", "suricata", "zeek"] {
        for file in captures_in(&shared.join(sub)) {
            jsonl += &ocsf_of(&file, &[]);
        }
    }
    let hidden = [&own_args[..], &["--pseudonymize", key]].concat();
    for name in [
        "identity.pcap",
        "curl-chatgpt-qinq.pcap",
        "mcp-streamable-http.pcap",
        "http-ollama.pcap",
    ] {
        let events = ocsf_of(&own(name), &hidden);
        for line in events.lines() {
            let event = serde_json::from_str::<Value>(line).unwrap();
            // A finding's client is its evidence's.
            let client = match event["class_uid"].as_u64() {
                Some(2004) => &event["evidences"][0]["src_endpoint"],
                _ => &event["src_endpoint"],
            };
            assert!(
                client.get("ip").is_none() && client.get("mac").is_none(),
                "{name}: {line}"
            );
            assert!(
                client["uid"].as_str().unwrap().starts_with("anon-"),
                "{name}: {line}"
            );
        }
        jsonl += &events;
    }
    jsonl += &ingested();
    let lines = jsonl.lines().count();
    assert!(lines > 2000, "only {lines} events");
    let file = dir.path().join("events.jsonl");
    std::fs::write(&file, &jsonl).unwrap();
    let classes = validate(&file);
    // 2004: the notices these replays raise (dist/policy.toml makes apps unsanctioned).
    assert_eq!(
        classes,
        BTreeSet::from([2004, 3002, 4001, 4002, 4003, 4004])
    );
    documented(&jsonl);
    let statuses: BTreeSet<String> = (jsonl.lines())
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter_map(|e| {
            e["unmapped"]["lantern"]["app"]["status"]
                .as_str()
                .map(String::from)
        })
        .collect();
    let all = ["sanctioned", "tolerated", "unsanctioned", "unreviewed"];
    assert_eq!(
        statuses,
        all.map(String::from).into(),
        "the policy's statuses"
    );
}

/// `lantern ingest` of the EVE logs Suricata wrote from the same captures
/// (`../shared/nsm-logs/eve/`), in one run, as OCSF.
fn ingested() -> String {
    let eve = root().join("../shared/nsm-logs/eve");
    let mut args = vec![
        "ingest",
        "--no-store",
        "--quiet",
        "--events",
        "-",
        "--events-format",
        "ocsf",
    ];
    let mut files = Vec::new();
    for sub in ["captures", "shared"] {
        for entry in std::fs::read_dir(eve.join(sub)).unwrap() {
            let path = entry.unwrap().path().display().to_string();
            if path.ends_with(".eve.json") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() > 100, "{} EVE files", files.len());
    args.extend(files.iter().map(String::as_str));
    let run = lantern(&args);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stdout.lines().count() > 2000,
        "{}",
        run.stdout.lines().count()
    );
    run.stdout
}

/// Every key under `unmapped.lantern` of `jsonl` is named in docs/events.md's OCSF section.
fn documented(jsonl: &str) {
    let docs = std::fs::read_to_string(root().join("docs/events.md")).unwrap();
    let (_, section) = docs.split_once("\n## OCSF\n").expect("an OCSF section");
    let mut keys = BTreeSet::new();
    for line in jsonl.lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        keys.extend(
            e["unmapped"]["lantern"]
                .as_object()
                .unwrap()
                .keys()
                .cloned(),
        );
    }
    let missing: Vec<&String> = (keys.iter())
        .filter(|k| !section.contains(&format!("`unmapped.lantern.{k}")))
        .collect();
    assert!(missing.is_empty(), "not in docs/events.md: {missing:?}");
}

/// A notice of `kind`, its optional fields given or not by `full`, its client an address or,
/// pseudonymizing, a token.
fn notice(kind: NoticeKind, full: bool, token: bool) -> Notice {
    let some = |s: &str| full.then(|| s.to_string());
    Notice {
        kind,
        severity: NoticeSeverity::ALL[kind as usize % 3],
        ts: Timestamp::from_secs(1_795_409_760),
        first_seen: Timestamp::from_secs(1_795_409_700),
        subject: "deepseek-chat".into(),
        user: if full {
            "alice@CORP.EXAMPLE".into()
        } else {
            String::new()
        },
        user_kind: ["person", "service", "agent", "unknown"][kind as usize % 4],
        device: some("alice-laptop"),
        client: some(if token {
            "anon-0123456789abcdef"
        } else {
            "10.77.0.10"
        }),
        server: full.then_some(Endpoint {
            addr: Addr::v4([10, 77, 1, 5]),
            port: 443,
        }),
        app: full.then(|| NoticeApp {
            id: "deepseek-chat".into(),
            name: "DeepSeek".into(),
            vendor: "DeepSeek".into(),
            category: "chat_assistant",
            status: "unsanctioned",
        }),
        server_name: some("chat.deepseek.com"),
        bytes_up: 30_000_000,
        bytes_down: 1000,
        threshold: (kind == NoticeKind::Upload).then_some(25_000_000),
        clients: (kind == NoticeKind::Candidate).then_some(3),
        flows: if full { vec![335, 336] } else { vec![] },
        message: format!("a {kind} notice"),
    }
}

#[test]
fn a_finding_of_every_notice_kind_validates() {
    if !can_validate() {
        return;
    }
    let mut jsonl = Vec::new();
    for kind in NoticeKind::ALL {
        for (full, token) in [(true, false), (true, true), (false, false)] {
            ocsf::encode(&Event::Notice(&notice(kind, full, token)), &mut jsonl).unwrap();
            jsonl.push(b'\n');
        }
    }
    let dir = tempfile::tempdir_in(work_dir()).unwrap();
    let file = dir.path().join("notices.jsonl");
    std::fs::write(&file, &jsonl).unwrap();
    assert_eq!(validate(&file), BTreeSet::from([2004]));
    documented(&String::from_utf8(jsonl).unwrap());
}
