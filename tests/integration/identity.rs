//! Attribution from the wire: `captures/identity.pcap` (made by `captures/identity.sh`: ISC
//! dhclient and busybox udhcpc against dnsmasq, kinit against an MIT KDC, then TLS to AI
//! names), the static map's precedence, pseudonyms, and the DHCP and Kerberos traffic of other
//! projects' captures against what tshark shows for them.

use crate::common::{Replay, lantern, one, own, replay, shared_captures, sqlite_rows};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn flow_to<'a>(events: &'a [Value], name: &str, client: &str) -> &'a Value {
    one(events, &format!("flow from {client} to {name}"), |e| {
        e["event_type"] == "flow" && e["server_name"] == name && e["client"]["ip"] == client
    })
}

fn who(e: &Value) -> (&str, &str, &str, Option<&str>) {
    (
        e["user"].as_str().unwrap(),
        e["user_source"].as_str().unwrap(),
        e["user_kind"].as_str().unwrap(),
        e["device"].as_str(),
    )
}

fn identity_events(extra: &[&str]) -> Vec<Value> {
    replay(&[&own("identity.pcap")], extra).events()
}

#[test]
fn dhcp_and_kerberos_name_the_user_and_device_at_the_time() {
    let events = identity_events(&[]);
    // alice's laptop: dhclient sent its FQDN, kinit alice over UDP; her browser and her script.
    assert_eq!(
        who(flow_to(&events, "chatgpt.com", "10.88.0.50")),
        (
            "alice@CORP.EXAMPLE",
            "kerberos",
            "person",
            Some("alice-laptop.corp.example")
        )
    );
    let alice_api = events
        .iter()
        .find(|e| e["server_name"] == "api.openai.com" && e["user"] == "alice@CORP.EXAMPLE")
        .expect("alice's API call");
    // Her script (Python's TLS stack) calling a model API acts for her: an agent, still hers.
    assert_eq!(
        (
            &alice_api["user_kind"],
            &alice_api["client_software"]["kind"]
        ),
        (&"agent".into(), &"program".into()),
        "a program calling an API is an agent"
    );
    // The build server took over 10.88.0.50 after alice released it: udhcpc sent its host
    // name, kinit as the machine account BUILD01$ over TCP. Its API use is by Python: an agent.
    let build_api = events
        .iter()
        .find(|e| {
            e["event_type"] == "flow"
                && e["server_name"] == "api.openai.com"
                && e["user"] != "alice@CORP.EXAMPLE"
        })
        .expect("the build server's API call");
    assert_eq!(
        who(build_api),
        ("build-server", "dhcp", "agent", Some("build01"))
    );
    assert_eq!(build_api["client"]["ip"], "10.88.0.50");
    assert_eq!(
        who(flow_to(&events, "claude.ai", "10.88.0.50")),
        ("build-server", "dhcp", "unknown", Some("build01"))
    );
    // Over IPv6 (its DHCPv6 address) the laptop is alice's too: her login was on the device
    // that holds both addresses.
    assert_eq!(
        who(flow_to(&events, "copilot.microsoft.com", "fd88::50")),
        (
            "alice@CORP.EXAMPLE",
            "kerberos",
            "person",
            Some("alice-laptop.corp.example")
        )
    );
    // alice's laptop back at another address, without sending a name: its MAC still names it,
    // and her ticket (valid for hours; kdestroy says nothing on the wire) follows the laptop.
    assert_eq!(
        who(flow_to(&events, "gemini.google.com", "10.88.0.60")),
        (
            "alice@CORP.EXAMPLE",
            "kerberos",
            "person",
            Some("alice-laptop.corp.example")
        )
    );
}

#[test]
fn dhcp_and_kerberos_messages_are_events() {
    let events = identity_events(&[]);
    let acks: Vec<(String, String, String)> = events
        .iter()
        .filter(|e| e["event_type"] == "dhcp" && e["dhcp"]["message"] == "ack")
        // The DHCPv6 REPLY to a RELEASE names no address.
        .filter(|e| !e["dhcp"]["address"].is_null())
        .map(|e| {
            let d = &e["dhcp"];
            (
                d["mac"].as_str().unwrap().to_string(),
                d["address"].as_str().unwrap().to_string(),
                d["lease_secs"].to_string(),
            )
        })
        .collect();
    let ack = |mac: &str, ip: &str| (mac.to_string(), ip.to_string(), "3600".to_string());
    assert_eq!(
        acks,
        [
            ack("02:88:00:00:00:01", "10.88.0.50"),
            ack("02:88:00:00:00:01", "fd88::50"),
            ack("02:88:00:00:00:02", "10.88.0.50"),
            ack("02:88:00:00:00:01", "10.88.0.60"),
        ]
    );
    let krb: Vec<(String, String, String)> = events
        .iter()
        .filter(|e| e["event_type"] == "kerberos")
        .map(|e| {
            let k = &e["kerberos"];
            (
                k["exchange"].as_str().unwrap().to_string(),
                k["outcome"].as_str().unwrap().to_string(),
                k["principal"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let k = |x: &str, o: &str, p: &str| (x.to_string(), o.to_string(), p.to_string());
    assert_eq!(
        krb,
        [
            // MIT kinit first tries without pre-authentication; the KDC asks for it.
            k("as", "refused", "alice@CORP.EXAMPLE"),
            k("as", "granted", "alice@CORP.EXAMPLE"),
            k("tgs", "granted", "alice@CORP.EXAMPLE"),
            k("as", "granted", "BUILD01$@CORP.EXAMPLE"),
        ]
    );
    let tcp = one(&events, "Kerberos over TCP", |e| {
        e["event_type"] == "kerberos" && e["transport"] == "tcp"
    });
    assert_eq!(tcp["kerberos"]["machine"], true);
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_static_map_comes_first_and_the_most_specific_prefix_wins() {
    let dir = tempfile::tempdir().unwrap();
    let map = write(
        dir.path(),
        "ids.csv",
        "address,user,device,group,kind\n\
         10.88.0.0/16,lan,,office\n\
         10.88.0.50/32,desk-50,pc-50,finance\n\
         10.88.1.0/24,ai-servers,,,server\n",
    );
    let events = identity_events(&["--identity", map.to_str().unwrap()]);
    let chatgpt = flow_to(&events, "chatgpt.com", "10.88.0.50");
    assert_eq!(who(chatgpt), ("desk-50", "static", "person", Some("pc-50")));
    assert_eq!(chatgpt["group"], "finance");
    // A row without a device leaves the device to the wire (DHCP).
    let gemini = flow_to(&events, "gemini.google.com", "10.88.0.60");
    assert_eq!(
        who(gemini),
        ("lan", "static", "person", Some("alice-laptop.corp.example"))
    );
    assert_eq!(gemini["group"], "office");
}

#[test]
fn a_server_in_the_static_map_is_a_service_whatever_it_calls() {
    let dir = tempfile::tempdir().unwrap();
    let map = write(
        dir.path(),
        "ids.csv",
        "10.88.0.50,ci-runner,,build,server\n",
    );
    let events = identity_events(&["--identity", map.to_str().unwrap()]);
    assert_eq!(
        who(flow_to(&events, "chatgpt.com", "10.88.0.50")),
        (
            "ci-runner",
            "static",
            "service",
            Some("alice-laptop.corp.example")
        )
    );
}

#[test]
fn a_bad_identity_map_is_one_line_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let map = write(dir.path(), "ids.csv", "10.0.0.0/8,a\n10.1.2.3/8,b\n");
    let run = lantern(&[
        "replay",
        "--no-store",
        "--identity",
        map.to_str().unwrap(),
        own("identity.pcap").to_str().unwrap(),
    ]);
    assert_eq!(run.status, 1);
    assert_eq!(
        run.stderr,
        format!(
            "lantern: {}:2: 10.1.2.3/8 has host bits set (the prefix is 10.0.0.0/8)\n",
            map.display()
        )
    );
}

#[test]
fn a_short_key_file_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let key = write(dir.path(), "key", "secret\n");
    let run = lantern(&[
        "replay",
        "--no-store",
        "--pseudonymize",
        key.to_str().unwrap(),
        own("identity.pcap").to_str().unwrap(),
    ]);
    assert_eq!(run.status, 1);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        format!(
            "lantern: {0}: the key must be at least 16 bytes (make one with `head -c 32 /dev/urandom > {0}`)\n",
            key.display()
        )
    );
}

#[test]
fn pseudonyms_are_stable_across_sensors_hide_every_name_and_map_back() {
    let dir = tempfile::tempdir().unwrap();
    let key = write(dir.path(), "key", "works council key, kept by the DPO\n");
    let other = write(dir.path(), "other", "another organisation's key\n");
    let run = |key: &Path, sensor: &str| {
        let store = dir.path().join(format!("{sensor}.db"));
        let r = Replay::of(&[own("identity.pcap")])
            .store(store.to_str().unwrap())
            .sensor(sensor)
            .args(&["--pseudonymize", key.to_str().unwrap()])
            .ok();
        (r.stdout, store)
    };
    let (events, store) = run(&key, "site-a");
    let (again, _) = run(&key, "site-b");
    assert_eq!(
        events, again,
        "the same key gives the same tokens on another sensor"
    );
    let (elsewhere, _) = run(&other, "site-c");
    assert_ne!(events, elsewhere);
    // No user, device, MAC or client address in the clear: not in the events, not in the store.
    let db = std::fs::read(&store).unwrap();
    let wal = std::fs::read(store.with_extension("db-wal")).unwrap_or_default();
    for secret in [
        "alice",
        "build-server",
        "BUILD01",
        "build01",
        "02:88:00:00:00:01",
        "10.88.0.50",
        "10.88.0.60",
        "fd88::50",
    ] {
        assert!(!events.contains(secret), "{secret} in the events");
        let found = |bytes: &[u8]| bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!found(&db) && !found(&wal), "{secret} in the store");
    }
    // The investigator's side: the token of a name, and the name of a token.
    let token = lantern(&[
        "pseudonym",
        "token",
        "--key",
        key.to_str().unwrap(),
        "alice@CORP.EXAMPLE",
    ]);
    let token = token.stdout.trim().to_string();
    assert!(token.starts_with("anon-") && token.len() == 21, "{token}");
    let parsed: Vec<Value> = events
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let chatgpt = one(&parsed, "flow to chatgpt.com", |e| {
        e["event_type"] == "flow" && e["server_name"] == "chatgpt.com"
    });
    assert_eq!(chatgpt["user"], token.as_str());
    assert_eq!(chatgpt["user_source"], "kerberos");
    let device = chatgpt["device"].as_str().unwrap();
    let client = chatgpt["client"]["ip"].as_str().unwrap();
    let reveal = lantern(&[
        "pseudonym",
        "reveal",
        "--key",
        key.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        &token,
        device,
        client,
    ]);
    assert_eq!(reveal.status, 0, "{}", reveal.stderr);
    assert_eq!(
        reveal.stdout,
        format!(
            "{token} alice@CORP.EXAMPLE\n{device} alice-laptop.corp.example\n{client} 10.88.0.50\n"
        )
    );
    // The wrong key reveals nothing.
    let wrong = lantern(&[
        "pseudonym",
        "reveal",
        "--key",
        other.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        &token,
    ]);
    assert_eq!(wrong.status, 1);
    assert_eq!(wrong.stdout, "");
    assert!(wrong.stderr.contains("not in"), "{}", wrong.stderr);
}

#[test]
fn rollups_are_per_attributed_user_and_app() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("t.db");
    Replay::of(&[own("identity.pcap")])
        .store(store.to_str().unwrap())
        .sensor("hq")
        .no_events()
        .ok();
    let rows: Vec<String> = sqlite_rows(
        &store,
        "SELECT sensor, user, user_source, user_kind, device, app_id, flows, dns_lookups
         FROM rollups_hourly ORDER BY user, app_id",
    )
    .iter()
    .map(|row| row.replace('\t', " "))
    .collect();
    // One row per (sensor, hour, user, app), with how the user was known, person or service,
    // and the device; each app was reached by one flow after an A and an AAAA lookup. A
    // program's flow to a model API is the user's as an agent; the lookups before it say
    // nothing of the software and keep the user's own kind.
    assert_eq!(
        rows,
        [
            "hq alice@CORP.EXAMPLE kerberos person alice-laptop.corp.example google-gemini 1 2",
            "hq alice@CORP.EXAMPLE kerberos person alice-laptop.corp.example microsoft-copilot 1 2",
            "hq alice@CORP.EXAMPLE kerberos agent alice-laptop.corp.example openai-api 1 0",
            "hq alice@CORP.EXAMPLE kerberos person alice-laptop.corp.example openai-api 0 2",
            "hq alice@CORP.EXAMPLE kerberos person alice-laptop.corp.example openai-chatgpt 1 2",
            "hq build-server dhcp unknown build01 anthropic-claude 1 2",
            "hq build-server dhcp agent build01 openai-api 1 0",
            "hq build-server dhcp service build01 openai-api 0 2",
        ]
    );
}

/// Kerberos principals lantern reports for a capture, with their outcome.
fn principals(path: &Path) -> BTreeSet<(String, String)> {
    replay(&[path], &[])
        .events()
        .iter()
        .filter(|e| e["event_type"] == "kerberos")
        .filter_map(|e| {
            let k = &e["kerberos"];
            Some((
                k["principal"].as_str()?.to_string(),
                k["outcome"].as_str()?.to_string(),
            ))
        })
        .collect()
}

fn set(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn public_kerberos_captures_give_the_principals_tshark_shows() {
    let bench = shared_captures().join("../bench/ndpi-pcaps");
    // `tshark -Y 'kerberos.msg_type == 13' -T fields -e kerberos.CNameString -e kerberos.crealm`:
    // TGS-REPs for des, u5 and xp1$ at DENYDC.COM and UBUNTU64A$ at TESTBED1.CA.
    assert_eq!(
        principals(&bench.join("kerberos-login.pcap")),
        set(&[
            ("UBUNTU64A$@TESTBED1.CA", "granted"),
            ("des@DENYDC.COM", "granted"),
            ("u5@DENYDC.COM", "granted"),
            ("xp1$@DENYDC.COM", "granted"),
        ])
    );
    // AS-REQs (msg_type 10, CNameString and realm) answered by KRB-ERROR 25 (pre-authentication
    // required) or by replies the capture cut short, and TGS-REPs (13) for JOHNSON-PC$.
    let happycraft = principals(&bench.join("kerberos.pcap"));
    let names: BTreeSet<&str> = happycraft.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "JOHNSON-PC$@HAPPYCRAFT.ORG",
            "johnson-pc$@HAPPYCRAFT.ORG",
            "johnson-pc$@happycraft.org",
            "theresa.johnson@HAPPYCRAFT",
        ])
    );
    assert!(happycraft.contains(&("JOHNSON-PC$@HAPPYCRAFT.ORG".into(), "granted".into())));
    // A KRB-ERROR to host/mus-n-cj0709 (tshark: CNameString "host,mus-n-cj0709").
    assert_eq!(
        principals(&bench.join("kerberos-error.pcap")),
        set(&[("host/mus-n-cj0709@LINUX.SHELL.COM", "refused")])
    );
    // Flows of a client after its login carry the user, and its machine account as device.
    let events = replay(&[&bench.join("kerberos-login.pcap")], &[]).events();
    assert!(events.iter().any(|e| e["event_type"] == "flow"
        && e["user"] == "u5@DENYDC.COM"
        && e["device"] == "xp1"));
}

fn dhcp_events(path: &Path) -> Vec<Value> {
    replay(&[path], &[])
        .events()
        .into_iter()
        .filter(|e| e["event_type"] == "dhcp")
        .map(|e| e["dhcp"].clone())
        .collect()
}

#[test]
fn public_dhcp_captures_give_what_tshark_shows() {
    let shared = shared_captures();
    // tshark: DHCP Request, Client MAC 00:1a:e9:9d:53:b7, Requested IP 192.168.2.18, Host Name
    // "Wii" (host names are case-insensitive; lantern shows them in lower case).
    let wii = dhcp_events(&shared.join("suricata/decode-teredo-01__input.pcap"));
    assert_eq!(wii.len(), 1);
    assert_eq!(wii[0]["message"], "request");
    assert_eq!(wii[0]["mac"], "00:1a:e9:9d:53:b7");
    assert_eq!(wii[0]["hostname"], "wii");
    assert_eq!(wii[0]["address"], "192.168.2.18");
    assert_eq!(wii[0]["xid"], 0x601b_69bc);
    // tshark: four DHCPv6 Solicits inside ERSPAN, XID 0x8e866d, DUID-LLT
    // 000100011d110a8c0050568208d1 with link-layer address 00:50:56:82:08:d1.
    let solicits = dhcp_events(&shared.join("zeek/erspan.pcap"));
    assert_eq!(solicits.len(), 4);
    for s in &solicits {
        assert_eq!(s["version"], 6);
        assert_eq!(s["message"], "discover");
        assert_eq!(s["xid"], 0x8e_866d);
        assert_eq!(s["duid"], "000100011d110a8c0050568208d1");
        assert_eq!(s["mac"], "00:50:56:82:08:d1");
    }
    // nDPI's fuzzed DHCP: message type 106, MAC 00:1f:29:da:2d:79, Host Name "MK03862".
    let fuzz = dhcp_events(&shared.join("../bench/ndpi-pcaps/dhcp-fuzz.pcapng"));
    assert_eq!(fuzz.len(), 1);
    assert_eq!(fuzz[0]["message"], "other");
    assert_eq!(fuzz[0]["mac"], "00:1f:29:da:2d:79");
    assert_eq!(fuzz[0]["hostname"], "mk03862");
}
