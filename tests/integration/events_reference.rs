//! `docs/events.md` against real events: every capture of this repository (`captures/`) is
//! replayed with the real binary (`lantern replay FILE --no-store --events -`), and every field
//! path of every event is looked up in the reference table of its event type. The test fails,
//! naming the event type and the path, when an event carries a field the reference does not
//! list, when a field's JSON type is not one the reference gives, or when a field the
//! reference lists appears in no event (except the few named in [`NOT_IN_CAPTURES`]).
//!
//! The replays use `--active-timeout 1`, so that flows longer than a second also give interim
//! records (and their `part`), and a static identity map for one client address, so that
//! events carry `group`. `identity.pcap` gives the DHCP and Kerberos events. Uploads past
//! 0.1 MiB and a name used from one client are notices, so that every notice field appears.

use crate::common::{self, Replay, dana_identity, own_captures};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// Fields the reference lists that no capture of this repository can produce: (event type,
/// path, why). Each must be listed in the reference and absent from the events; one that
/// starts to appear must leave this list.
const NOT_IN_CAPTURES: &[(&str, &str, &str)] = &[
    (
        "dhcp",
        "vlan",
        "identity.pcap's DHCP messages carry no 802.1Q tag",
    ),
    (
        "kerberos",
        "vlan",
        "identity.pcap's Kerberos exchanges carry no 802.1Q tag",
    ),
    (
        "kerberos",
        "kerberos.on_behalf",
        "present only for S4U2Self requests, which MIT kinit (identity.pcap) never sends",
    ),
];

/// The reference: event type, then each field's path and the JSON types it may have.
type Reference = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

fn reference_path() -> PathBuf {
    common::root().join("docs/events.md")
}

/// Reads the table of each event type from `docs/events.md`: the first table after a heading
/// that names `"event_type": "TYPE"`, whose header row starts `| field | type |`; each row is
/// a backticked dotted path, its type (`string or null`, `array of integer`, ...), when it is
/// present and what it means.
fn reference() -> Reference {
    let text = std::fs::read_to_string(reference_path()).expect("read docs/events.md");
    let mut reference = Reference::new();
    let mut event_type: Option<String> = None;
    let mut in_table = false;
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        if let Some(heading) = line.strip_prefix("## ") {
            in_table = false;
            event_type = heading
                .split_once("\"event_type\": \"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .map(|(name, _)| name.to_string());
            if let Some(name) = &event_type {
                assert!(
                    !reference.contains_key(name),
                    "docs/events.md:{n}: a second table for `{name}` events"
                );
            }
            continue;
        }
        let Some(name) = &event_type else { continue };
        if line.starts_with("| field | type |") {
            assert!(
                !reference.contains_key(name),
                "docs/events.md:{n}: a second table under the heading of `{name}` events"
            );
            reference.insert(name.clone(), BTreeMap::new());
            in_table = true;
            continue;
        }
        if !in_table || line.starts_with("|---") {
            continue;
        }
        if !line.starts_with('|') {
            // The table ended; later tables under this heading are not the reference.
            in_table = false;
            event_type = None;
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        assert!(
            cells.len() == 6,
            "docs/events.md:{n}: a row needs four cells (field, type, when present, meaning): {line}"
        );
        let path = cells[1]
            .strip_prefix('`')
            .and_then(|p| p.strip_suffix('`'))
            .unwrap_or_else(|| panic!("docs/events.md:{n}: the field is not in backticks: {line}"));
        let types: BTreeSet<String> = cells[2].split(" or ").map(str::to_string).collect();
        for t in &types {
            assert!(
                KNOWN_TYPES.contains(&t.as_str()),
                "docs/events.md:{n}: `{path}` has the type `{t}`, which is none of {KNOWN_TYPES:?}"
            );
        }
        let table = reference.get_mut(name).expect("table started");
        assert!(
            table.insert(path.to_string(), types).is_none(),
            "docs/events.md:{n}: `{path}` is listed twice for `{name}` events"
        );
    }
    reference
}

/// The types the reference may give a field, as JSON has them.
const KNOWN_TYPES: [&str; 8] = [
    "string",
    "integer",
    "boolean",
    "object",
    "null",
    "array of string",
    "array of integer",
    "array of boolean",
];

/// A value's type as the reference writes it; every element of an array must have the
/// array's type (an empty array is any array).
fn types_of(value: &Value) -> BTreeSet<String> {
    let scalar = |v: &Value| -> String {
        match v {
            Value::Null => "null".into(),
            Value::Bool(_) => "boolean".into(),
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer".into(),
            Value::Number(_) => "number".into(),
            Value::String(_) => "string".into(),
            Value::Array(_) => "array".into(),
            Value::Object(_) => "object".into(),
        }
    };
    match value {
        Value::Array(items) if items.is_empty() => {
            ["array of string", "array of integer", "array of boolean"]
                .map(String::from)
                .into()
        }
        Value::Array(items) => {
            let kinds: BTreeSet<String> = items.iter().map(scalar).collect();
            if kinds.len() == 1 {
                [format!("array of {}", kinds.first().unwrap())].into()
            } else {
                [format!("array of mixed {kinds:?}")].into()
            }
        }
        other => [scalar(other)].into(),
    }
}

/// Every field path of one event (objects and their members, dotted) with its value.
fn paths<'v>(
    prefix: &str,
    object: &'v serde_json::Map<String, Value>,
    out: &mut Vec<(String, &'v Value)>,
) {
    for (key, value) in object {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        out.push((path.clone(), value));
        if let Value::Object(inner) = value {
            paths(&path, inner, out);
        }
    }
}

/// The events of every capture, replayed one file at a time.
fn events() -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let map = dana_identity(dir.path());
    let mut events = Vec::new();
    let files = own_captures();
    assert!(
        files.len() > 40,
        "only {} captures in captures/",
        files.len()
    );
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let run = Replay::of(&[&file])
            .args(&["--active-timeout", "1", "--identity", map.to_str().unwrap()])
            .args(&[
                "--notice-upload-mib",
                "0.1",
                "--notice-candidate-clients",
                "1",
            ])
            .run();
        // A capture cut short on purpose ends with an error; what was read before is kept.
        assert!(
            run.status == 0 || name.contains("-cut"),
            "replay of {name} failed: {}",
            run.stderr
        );
        let file_events = run.events();
        assert!(!file_events.is_empty(), "{name} gave no events");
        events.extend(file_events);
    }
    events
}

#[test]
fn every_field_of_every_event_is_in_the_reference_and_every_listed_field_is_seen() {
    let reference = reference();
    for t in ["flow", "dns", "dhcp", "kerberos"] {
        assert!(
            reference.contains_key(t),
            "docs/events.md has no table of `{t}` events (a heading naming `\"event_type\": \"{t}\"`, then `| field | type | ...`)"
        );
    }
    let events = events();
    let mut failures: BTreeSet<String> = BTreeSet::new();
    // (event type, path) of every field seen.
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    // What an event carried against the reference, once per kind, with how many events did and
    // the first of them.
    let mut wrong: BTreeMap<String, (usize, String)> = BTreeMap::new();
    let mut note = |what: String, event: &Value| {
        let entry = wrong.entry(what).or_insert_with(|| (0, event.to_string()));
        entry.0 += 1;
    };
    for event in &events {
        let Value::Object(object) = event else {
            note("an event is not a JSON object".into(), event);
            continue;
        };
        let Some(event_type) = event["event_type"].as_str() else {
            note("an event has no `event_type`".into(), event);
            continue;
        };
        let Some(table) = reference.get(event_type) else {
            note(
                format!(
                    "`{event_type}` events are not in docs/events.md (no table names `\"event_type\": \"{event_type}\"`)"
                ),
                event,
            );
            continue;
        };
        let mut fields = Vec::new();
        paths("", object, &mut fields);
        for (path, value) in fields {
            let types = types_of(value);
            match table.get(&path) {
                None => note(
                    format!(
                        "`{event_type}` events carry `{path}`, which docs/events.md does not list"
                    ),
                    event,
                ),
                Some(listed) if listed.is_disjoint(&types) => note(
                    format!(
                        "`{path}` of `{event_type}` events is {types:?}, but docs/events.md gives {listed:?}"
                    ),
                    event,
                ),
                Some(_) => {}
            }
            seen.insert((event_type.to_string(), path));
        }
    }
    for (what, (count, first)) in wrong {
        let first: String = first.chars().take(400).collect();
        failures.insert(format!("{what} ({count} events; the first: {first})"));
    }
    for (event_type, table) in &reference {
        for path in table.keys() {
            let exception = NOT_IN_CAPTURES
                .iter()
                .find(|(t, p, _)| t == event_type && p == path);
            let carried = seen.contains(&(event_type.clone(), path.clone()));
            match (carried, exception) {
                (false, None) => {
                    failures.insert(format!(
                        "docs/events.md lists `{path}` for `{event_type}` events, but no event of the captures carries it (if no capture can, name it in NOT_IN_CAPTURES with the reason)"
                    ));
                }
                (true, Some((_, _, why))) => {
                    failures.insert(format!(
                        "`{path}` of `{event_type}` events appears after all; take it out of NOT_IN_CAPTURES (\"{why}\")"
                    ));
                }
                _ => {}
            }
        }
    }
    for (event_type, path, _) in NOT_IN_CAPTURES {
        let listed = reference
            .get(*event_type)
            .is_some_and(|t| t.contains_key(*path));
        if !listed {
            failures.insert(format!(
                "NOT_IN_CAPTURES names `{path}` of `{event_type}` events, which docs/events.md does not list"
            ));
        }
    }
    let types: BTreeSet<&str> = events
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    for t in reference.keys() {
        if !types.contains(t.as_str()) {
            failures.insert(format!("no `{t}` event in any capture"));
        }
    }
    assert!(
        failures.is_empty(),
        "docs/events.md against {} events of the captures:\n{}",
        events.len(),
        failures.into_iter().collect::<Vec<_>>().join("\n")
    );
}
