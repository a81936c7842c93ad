//! The shapes the OCSF encoder decides: which class and activity each record becomes, where a
//! pseudonym goes, what stays out (nulls, the `User-Agent`), and every notice kind as a
//! Detection Finding.

use super::encode;
use crate::capture::Timestamp;
use crate::catalog::{Catalog, Identified};
use crate::decode::{Addr, Transport};
use crate::flow::{EndReason, Endpoint};
use crate::identity::{Identity, UserSource};
use crate::output::events::{DhcpShown, Event, KerberosShown};
use crate::output::notice::{Notice, NoticeApp, NoticeKind, NoticeSeverity};
use crate::output::{DnsView, FlowView};
use crate::policy::Status;
use crate::proto::dhcp::{DhcpKind, DhcpMessage};
use crate::proto::dns::{AnswerData, DnsAnswer};
use crate::proto::http::Request;
use crate::proto::kerberos::Exchange;
use crate::proto::tls::ClientHello;
use crate::proto::{DhcpRecord, DnsRecord, EchKind, FlowRecord, KerberosRecord, KrbOutcome};
use crate::proto::{Message, NameSource, Origin, Protocol};
use crate::software::{Kind, Software};
use serde_json::Value;

/// `event` encoded and read back; it must have no `null` anywhere (the validator's rule).
fn encoded(event: &Event<'_>) -> Value {
    let mut buf = Vec::new();
    encode(event, &mut buf).unwrap();
    let value: Value = serde_json::from_slice(&buf).unwrap();
    assert_no_null("", &value);
    value
}

fn assert_no_null(path: &str, v: &Value) {
    match v {
        Value::Null => panic!("{path} is null"),
        Value::Object(m) => m
            .iter()
            .for_each(|(k, v)| assert_no_null(&format!("{path}.{k}"), v)),
        Value::Array(a) => a
            .iter()
            .for_each(|v| assert_no_null(&format!("{path}[]"), v)),
        _ => {}
    }
}

fn endpoint(last: u8, port: u16) -> Endpoint {
    Endpoint {
        addr: Addr::v4([10, 0, 0, last]),
        port,
    }
}

const T0: i64 = 1_795_409_695;

fn tls_flow() -> FlowRecord {
    FlowRecord {
        id: 9,
        first: Timestamp::from_parts(T0, 816_523_000),
        last: Timestamp::from_parts(T0 + 4, 0),
        started: Timestamp::from_secs(T0),
        part: 0,
        client: endpoint(10, 55_840),
        server: endpoint(5, 443),
        transport: Transport::Tcp,
        vlan: [0; 2],
        packets: [6, 4],
        bytes: [7500, 1200],
        end: EndReason::Closed,
        protocol: Protocol::Tls,
        message: Some(Message::Tls(Box::new(ClientHello {
            sni: Some("gemini.google.com".into()),
            alpn: vec!["h2".into()],
            version: "1.3".into(),
            ech: true,
            ja4: Some("t13d1516h2_8daaf6152771_e5627efa2ab1".into()),
        }))),
        requests: None,
    }
}

fn identity() -> Identity {
    Identity {
        user: "alice@CORP.EXAMPLE".into(),
        source: UserSource::Kerberos,
        device: Some("alice-laptop".into()),
        group: None,
        person: true,
        server: false,
        client: None,
    }
}

fn view<'a>(r: &'a FlowRecord, who: &'a Identity, app: Option<Identified<'a>>) -> FlowView<'a> {
    FlowView {
        record: r,
        server_name: Some("gemini.google.com"),
        name_source: NameSource::TlsSni,
        name_alternatives: Default::default(),
        ech: EchKind::Grease,
        identity: who,
        app,
        status: Status::Unsanctioned,
        candidate: false,
        software: Software {
            family: "Chromium",
            kind: Kind::Browser,
        },
        mcp: r.mcp(),
        encrypted_dns: None,
    }
}

fn gemini(catalog: &Catalog) -> Identified<'_> {
    Identified {
        app: catalog.app("google-gemini").expect("Gemini in the catalog"),
        pattern: "gemini.google.com",
    }
}

#[test]
fn a_closed_tls_flow_is_network_activity_close() {
    let catalog = Catalog::load(&[]).unwrap();
    let (r, who) = (tls_flow(), identity());
    let e = encoded(&Event::Flow(view(&r, &who, Some(gemini(&catalog)))));
    assert_eq!(e["class_uid"], 4001);
    assert_eq!(
        (e["activity_id"].clone(), e["type_uid"].clone()),
        (2.into(), 400102.into())
    );
    assert_eq!(e["type_name"], "Network Activity: Close");
    assert_eq!(e["time"], T0 * 1000 + 816);
    assert_eq!(e["end_time"], (T0 + 4) * 1000);
    assert_eq!(e["metadata"]["version"], "1.8.0");
    assert_eq!(e["metadata"]["uid"], "flow-9");
    assert_eq!(e["metadata"]["profiles"], serde_json::json!(["host"]));
    assert_eq!(
        e["metadata"]["product"]["version"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(e["connection_info"]["uid"], "9");
    assert_eq!(e["dst_endpoint"]["hostname"], "gemini.google.com");
    assert_eq!(e["src_endpoint"]["ip"], "10.0.0.10");
    let t = &e["traffic"];
    assert_eq!(
        [&t["bytes_out"], &t["bytes_in"], &t["packets_out"]],
        [7500, 1200, 6]
    );
    assert_eq!(
        e["tls"],
        serde_json::json!({"version": "TLSv1.3", "sni": "gemini.google.com"})
    );
    let ja4 = &e["ja4_fingerprint_list"][0];
    assert_eq!(
        (ja4["type_id"].clone(), ja4["section_b"].clone()),
        (1.into(), "8daaf6152771".into())
    );
    assert_eq!(e["app_name"], "Gemini");
    assert_eq!(e["actor"]["user"]["name"], "alice@CORP.EXAMPLE");
    assert_eq!(e["actor"]["user"]["type_id"], 1);
    assert_eq!(e["actor"]["app_name"], "Chromium");
    assert_eq!(e["device"]["name"], "alice-laptop");
    let lantern = &e["unmapped"]["lantern"];
    assert_eq!(lantern["app"]["status"], "unsanctioned");
    assert_eq!(lantern["app"]["id"], "google-gemini");
    assert_eq!(lantern["tls"]["ech_kind"], "grease");
    assert_eq!(lantern["user_source"], "kerberos");
    assert!(lantern.get("candidate").is_none() && lantern.get("part").is_none());
}

#[test]
fn an_interim_record_is_traffic_with_its_part_in_the_uid() {
    let r = FlowRecord {
        part: 2,
        end: EndReason::ActiveTimeout,
        ..tls_flow()
    };
    let who = identity();
    let e = encoded(&Event::Flow(view(&r, &who, None)));
    assert_eq!(e["type_uid"], 400106);
    assert_eq!(e["metadata"]["uid"], "flow-9-2");
    assert_eq!(e["unmapped"]["lantern"]["record"], "interim");
    assert_eq!(e["unmapped"]["lantern"]["part"], 2);
    assert!(e.get("app_name").is_none());
}

#[test]
fn a_pseudonymized_client_is_a_uid_not_an_ip() {
    let r = tls_flow();
    let who = Identity {
        client: Some("anon-0123456789abcdef".into()),
        ..identity()
    };
    let e = encoded(&Event::Flow(view(&r, &who, None)));
    assert_eq!(e["src_endpoint"]["uid"], "anon-0123456789abcdef");
    assert!(e["src_endpoint"].get("ip").is_none());
    assert_eq!(e["dst_endpoint"]["ip"], "10.0.0.5");
}

#[test]
fn a_plaintext_request_is_http_activity_without_its_user_agent() {
    let request = Request {
        method: "POST".into(),
        path: "/v1/chat/completions".into(),
        host: Some("api.openai.com".into()),
        user_agent: Some("secret-agent/1.0".into()),
    };
    let r = FlowRecord {
        protocol: Protocol::Http,
        message: Some(Message::Http(Box::new(request))),
        server: endpoint(5, 8080),
        ..tls_flow()
    };
    let who = Identity {
        person: false,
        ..identity()
    };
    let e = encoded(&Event::Flow(view(&r, &who, None)));
    assert_eq!(e["class_uid"], 4002);
    assert_eq!(e["type_uid"], 400206);
    let url = &e["http_request"]["url"];
    assert_eq!(e["http_request"]["http_method"], "POST");
    assert_eq!(url["path"], "/v1/chat/completions");
    assert_eq!(url["hostname"], "api.openai.com");
    assert_eq!(url["port"], 8080);
    assert!(!e.to_string().contains("secret-agent"));
    assert!(e.get("tls").is_none());
    assert_eq!(e["actor"]["user"]["type_id"], 0);
}

#[test]
fn user_kinds_are_user_types() {
    use super::{Member, user_type};
    use crate::identity::UserKind;
    let types = UserKind::ALL.map(user_type);
    assert_eq!(
        types,
        [
            Member(1, "User"),
            Member(4, "Service"),
            Member(99, "Agent"),
            Member(0, "Unknown")
        ]
    );
}

fn lookup(answered: Option<Timestamp>, rcode: Option<u8>) -> DnsRecord {
    DnsRecord {
        flow_id: 3,
        packet: 4,
        ts: Timestamp::from_secs(T0),
        answered,
        client: endpoint(10, 40_000),
        server: endpoint(53, 53),
        transport: Transport::Udp,
        vlan: [100, 200],
        id: 0x1234,
        query: "chatgpt.com".into(),
        qtype: 1,
        rcode,
        answers: vec![DnsAnswer {
            rtype: 1,
            ttl: 300,
            data: AnswerData::Addr([10, 0, 0, 7].into()),
        }],
        ech_public_names: vec![],
    }
}

fn dns(r: &DnsRecord) -> Value {
    let who = identity();
    encoded(&Event::Dns(DnsView {
        record: r,
        identity: &who,
        app: None,
        status: Status::Unreviewed,
        candidate: true,
    }))
}

#[test]
fn lookups_are_dns_activity_by_what_was_seen() {
    let later = Timestamp::from_parts(T0, 2_000_000);
    let both = dns(&lookup(Some(later), Some(3)));
    assert_eq!(both["type_uid"], 400306);
    assert_eq!(
        (both["rcode_id"].clone(), both["rcode"].clone()),
        (3.into(), "NXDomain".into())
    );
    assert_eq!(
        both["query"],
        serde_json::json!({"hostname": "chatgpt.com", "type": "A", "packet_uid": 0x1234})
    );
    assert_eq!(
        both["answers"],
        serde_json::json!([{"rdata": "10.0.0.7", "ttl": 300, "type": "A"}])
    );
    assert_eq!(
        (both["query_time"].clone(), both["response_time"].clone()),
        ((T0 * 1000).into(), (T0 * 1000 + 2).into())
    );
    assert_eq!(both["src_endpoint"]["vlan_uid"], "200");
    assert_eq!(
        both["unmapped"]["lantern"]["vlan"],
        serde_json::json!([100, 200])
    );
    assert_eq!(both["unmapped"]["lantern"]["candidate"], true);
    assert_eq!(both["metadata"]["uid"], "dns-4-4660");
    let query = dns(&lookup(None, None));
    assert_eq!(query["activity_id"], 1);
    assert!(query.get("rcode_id").is_none() && query.get("response_time").is_none());
    let response = dns(&lookup(Some(Timestamp::from_secs(T0)), Some(13)));
    assert_eq!(response["activity_id"], 2);
    assert!(response.get("query_time").is_none());
    assert_eq!(response["rcode_id"], 24);
}

fn origin(packet: u64) -> Origin {
    Origin {
        flow_id: 1,
        packet,
        ts: Timestamp::from_secs(T0),
        client: endpoint(50, 68),
        server: endpoint(1, 67),
        transport: Transport::Udp,
        vlan: [0; 2],
    }
}

#[test]
fn a_pseudonymized_dhcp_mac_goes_to_unmapped() {
    let r = DhcpRecord {
        origin: origin(7),
        message: DhcpMessage {
            version: 4,
            kind: Some(DhcpKind::Ack),
            xid: 77,
            mac: Some([2, 0x88, 0, 0, 0, 1]),
            duid: None,
            hostname: Some("alice-laptop".into()),
            fqdn: None,
            address: Some(Addr::v4([10, 0, 0, 50])),
            lease_secs: Some(u32::MAX),
            bad_options: 0,
        },
    };
    let clear = encoded(&Event::Dhcp(&r, &DhcpShown::of(&r, None)));
    assert_eq!(clear["type_uid"], 400405);
    assert_eq!(clear["src_endpoint"]["mac"], "02:88:00:00:00:01");
    assert_eq!(clear["src_endpoint"]["name"], "alice-laptop");
    assert_eq!(clear["transaction_uid"], "77");
    assert!(clear.get("lease_dur").is_none());
    assert_eq!(clear["unmapped"]["lantern"]["dhcp"]["lease_secs"], u32::MAX);
    let shown = DhcpShown {
        client: Some("anon-1".into()),
        mac: Some("anon-2".into()),
        ..DhcpShown::default()
    };
    let hidden = encoded(&Event::Dhcp(&r, &shown));
    assert!(
        hidden["src_endpoint"].get("mac").is_none() && hidden["src_endpoint"].get("ip").is_none()
    );
    assert_eq!(hidden["src_endpoint"]["uid"], "anon-1");
    assert_eq!(hidden["unmapped"]["lantern"]["dhcp"]["mac"], "anon-2");
}

#[test]
fn kerberos_is_authentication_when_it_names_its_principal() {
    let r = KerberosRecord {
        origin: Origin {
            server: endpoint(1, 88),
            ..origin(9)
        },
        exchange: Exchange::As,
        principal: Some("BUILD01$@CORP.EXAMPLE".into()),
        till: None,
        on_behalf: false,
        outcome: KrbOutcome::Refused(25),
    };
    let named = encoded(&Event::Kerberos(&r, &KerberosShown::of(&r, None)));
    assert_eq!(named["type_uid"], 300203);
    assert_eq!(named["user"]["type_id"], 3);
    assert_eq!(
        (named["status_id"].clone(), named["status_code"].clone()),
        (2.into(), "25".into())
    );
    assert_eq!(named["auth_protocol_id"], 2);
    let unnamed = KerberosRecord {
        principal: None,
        exchange: Exchange::Tgs,
        outcome: KrbOutcome::Unanswered,
        ..r
    };
    let e = encoded(&Event::Kerberos(
        &unnamed,
        &KerberosShown::of(&unnamed, None),
    ));
    assert_eq!(e["type_uid"], 400106);
    assert_eq!(e["unmapped"]["lantern"]["kerberos"]["exchange"], "tgs");
}

/// A notice of `kind`, with every optional field given.
fn notice(kind: NoticeKind) -> Notice {
    Notice {
        kind,
        severity: NoticeSeverity::Medium,
        ts: Timestamp::from_secs(T0 + 60),
        first_seen: Timestamp::from_secs(T0),
        subject: "deepseek-chat".into(),
        user: "alice@CORP.EXAMPLE".into(),
        user_kind: "person",
        device: Some("alice-laptop".into()),
        client: Some("10.0.0.10".into()),
        server: Some(endpoint(5, 443)),
        app: Some(NoticeApp {
            id: "deepseek-chat".into(),
            name: "DeepSeek".into(),
            vendor: "DeepSeek".into(),
            category: "chat_assistant",
            status: "unsanctioned",
        }),
        server_name: Some("chat.deepseek.com".into()),
        bytes_up: 30_000_000,
        bytes_down: 1000,
        threshold: Some(25_000_000),
        clients: Some(3),
        flows: vec![9, 12],
        message: "alice uploaded 30 MB to DeepSeek".into(),
    }
}

#[test]
fn every_notice_kind_is_a_detection_finding() {
    for kind in NoticeKind::ALL {
        let e = encoded(&Event::Notice(&notice(kind)));
        assert_eq!(
            (e["class_uid"].clone(), e["type_uid"].clone()),
            (2004.into(), 200401.into())
        );
        assert_eq!(e["severity_id"], 3);
        assert_eq!(e["finding_info"]["analytic"]["name"], kind.name());
        assert_eq!(
            e["finding_info"]["desc"],
            "alice uploaded 30 MB to DeepSeek"
        );
        assert_eq!(e["finding_info"]["related_events"][1]["uid"], "flow-12");
        let evidence = &e["evidences"][0];
        assert_eq!(evidence["connection_info"]["uid"], "9");
        assert_eq!(evidence["dst_endpoint"]["hostname"], "chat.deepseek.com");
        assert_eq!(evidence["src_endpoint"]["ip"], "10.0.0.10");
        assert_eq!(evidence["actor"]["user"]["type_id"], 1);
        assert_eq!(e["resources"][0]["uid"], "deepseek-chat");
        assert_eq!(e["unmapped"]["lantern"]["threshold_bytes"], 25_000_000);
        assert_eq!(e["finding_info"]["uid"], e["metadata"]["uid"]);
    }
}

#[test]
fn a_finding_uid_is_its_notice_key() {
    let uid = |n: &Notice| encoded(&Event::Notice(n))["finding_info"]["uid"].clone();
    let upload = notice(NoticeKind::Upload);
    let again = Notice {
        message: "another sentence".into(),
        flows: vec![40],
        ..upload.clone()
    };
    assert_eq!(uid(&upload), uid(&again));
    let next_day = Notice {
        ts: Timestamp::from_secs(T0 + 86_400),
        ..upload.clone()
    };
    assert_ne!(uid(&upload), uid(&next_day));
    let new_app = notice(NoticeKind::NewApp);
    let other_user = Notice {
        user: "bob".into(),
        ..new_app.clone()
    };
    assert_eq!(
        uid(&new_app),
        uid(&other_user),
        "a new app is about the network"
    );
    assert!(uid(&upload).as_str().unwrap().starts_with("notice-"));
}

#[test]
fn a_bare_notice_has_no_evidence_and_a_token_client_is_a_uid() {
    let bare = Notice {
        user: String::new(),
        device: None,
        client: None,
        server: None,
        server_name: None,
        app: None,
        flows: vec![],
        severity: NoticeSeverity::High,
        ..notice(NoticeKind::Candidate)
    };
    let e = encoded(&Event::Notice(&bare));
    assert_eq!(e["severity_id"], 4);
    assert!(e.get("evidences").is_none() && e.get("resources").is_none());
    let token = Notice {
        client: Some("anon-0123456789abcdef".into()),
        ..bare
    };
    let e = encoded(&Event::Notice(&token));
    assert_eq!(
        e["evidences"][0]["src_endpoint"]["uid"],
        "anon-0123456789abcdef"
    );
}
