//! Notices as OCSF Detection Findings (2004): a finding created (activity 1), new, an alert,
//! its uid made of the notice's key so that the same notice has the same uid whenever it is
//! raised; the first flow's endpoints, the user and device as its evidence, the app as the
//! resource the activity targeted, its flows as related events.

use super::{
    ConnectionInfo, DETECTION_FINDING, DeviceOut, EndpointOut, Head, Member, Metadata, Shown,
};
use super::{Uid, Unmapped, UserOut, device, ms, write};
use crate::identity::UserKind;
use crate::output::notice::{Notice, NoticeKind, NoticeSeverity};
use serde::{Serialize, Serializer};
use std::io;
use std::net::IpAddr;

/// A notice as a Detection Finding.
#[derive(Serialize)]
struct FindingEvent<'a> {
    #[serde(flatten)]
    head: Head<'a>,
    message: &'a str,
    status_id: u8,
    status: &'static str,
    is_alert: bool,
    finding_info: FindingInfo<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resources: Option<[Resource<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    evidences: Option<[Evidence<'a>; 1]>,
    unmapped: Unmapped<NoticeExtra<'a>>,
}

/// `finding_info`: what the finding is, and by which rule.
#[derive(Serialize)]
struct FindingInfo<'a> {
    uid: &'a str,
    title: &'static str,
    desc: &'a str,
    types: [&'static str; 1],
    analytic: Analytic,
    created_time: i64,
    first_seen_time: i64,
    #[serde(skip_serializing_if = "RelatedFlows::is_empty")]
    related_events: RelatedFlows<'a>,
}

/// `analytic`: the rule (type 1) that raised it, named as the notice's kind.
#[derive(Serialize)]
struct Analytic {
    type_id: u8,
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'static str,
    uid: &'static str,
}

/// The notice's flows, as the uids of their first records' events (`flow-ID`).
struct RelatedFlows<'a>(&'a [u64]);

impl RelatedFlows<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for RelatedFlows<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Related<'a> {
            uid: Uid<'a>,
        }
        s.collect_seq(self.0.iter().map(|&id| Related {
            uid: Uid::Flow(id, 0),
        }))
    }
}

/// The app as the `resource_details` the activity targeted (role 1, Target).
#[derive(Serialize)]
struct Resource<'a> {
    uid: &'a str,
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role_id: u8,
    role: &'static str,
}

/// `evidences[0]`: the first flow's endpoints and id, the user and the device.
#[derive(Default, Serialize)]
struct Evidence<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    src_endpoint: Option<EndpointOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dst_endpoint: Option<EndpointOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connection_info: Option<ConnectionInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actor: Option<EvidenceActor<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<DeviceOut<'a>>,
}

#[derive(Serialize)]
struct EvidenceActor<'a> {
    user: UserOut<'a>,
}

impl Evidence<'_> {
    fn is_empty(&self) -> bool {
        self.src_endpoint.is_none()
            && self.dst_endpoint.is_none()
            && self.connection_info.is_none()
            && self.actor.is_none()
            && self.device.is_none()
    }
}

/// What a finding keeps under `unmapped.lantern`: what OCSF has no attribute for.
#[derive(Serialize)]
struct NoticeExtra<'a> {
    subject: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    app: Option<AppRest<'a>>,
    bytes_up: u64,
    bytes_down: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    threshold_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    clients: Option<u32>,
}

/// The app's vendor and status (its id, name and category are the resource's).
#[derive(Serialize)]
struct AppRest<'a> {
    vendor: &'a str,
    status: &'static str,
}

/// `severity_id`: Low (2), Medium (3), High (4).
fn severity(s: NoticeSeverity) -> Member {
    match s {
        NoticeSeverity::Low => Member(2, "Low"),
        NoticeSeverity::Medium => Member(3, "Medium"),
        NoticeSeverity::High => Member(4, "High"),
    }
}

/// `finding_info.title` of each kind.
fn title(kind: NoticeKind) -> &'static str {
    match kind {
        NoticeKind::NewApp => "AI app new to the network",
        NoticeKind::FirstUnsanctioned => "First use of an unsanctioned AI app",
        NoticeKind::Upload => "Large upload to an AI app",
        NoticeKind::NewMcpServer => "New MCP server",
        NoticeKind::NewModelServer => "New model server on the local network",
        NoticeKind::NewGateway => "New LLM gateway",
        NoticeKind::Candidate => "Uncatalogued AI-looking name used from several clients",
    }
}

/// The finding's uid: `notice-` and 16 hex digits of a SHA-256 of the notice's key (kind, day,
/// user, subject), each part length-prefixed.
fn finding_uid(n: &Notice) -> String {
    let key = n.key();
    let day = key.day.to_be_bytes();
    let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [
        key.kind.name().as_bytes(),
        &day,
        key.user.as_bytes(),
        key.subject.as_bytes(),
    ] {
        hash.update(&(part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    let digest = hash.finish();
    let hex: String = digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("notice-{hex}")
}

/// The evidence of a notice: the first flow's client (an address, else its token), server
/// (with the server name) and id, the user and the device.
fn evidence(n: &Notice) -> Evidence<'_> {
    let client = n.client.as_deref().map(|c| match c.parse::<IpAddr>() {
        Ok(ip) => EndpointOut {
            ip: Some(Shown(ip.into())),
            ..EndpointOut::default()
        },
        Err(_) => EndpointOut {
            uid: Some(c),
            ..EndpointOut::default()
        },
    });
    let server = match (n.server, n.server_name.as_deref()) {
        (Some(e), name) => Some(EndpointOut::of(e, None, [0, 0]).hostname(name)),
        (None, Some(name)) => Some(EndpointOut::default().hostname(Some(name))),
        (None, None) => None,
    };
    let kind = UserKind::from_name(n.user_kind).unwrap_or(UserKind::Unknown);
    Evidence {
        src_endpoint: client,
        dst_endpoint: server,
        connection_info: n.flows.first().map(|&id| ConnectionInfo::flow(id)),
        actor: (!n.user.is_empty()).then(|| EvidenceActor {
            user: UserOut::new(&n.user, kind, None),
        }),
        device: device(n.device.as_deref()),
    }
}

/// A notice event.
pub(super) fn notice(n: &Notice, buf: &mut Vec<u8>) -> io::Result<()> {
    let uid = finding_uid(n);
    let evidence = evidence(n);
    let metadata = Metadata::new(Uid::Notice(&uid), "notice");
    let event = FindingEvent {
        head: Head::new(DETECTION_FINDING, Member(1, "Create"), n.ts, metadata)
            .severity(severity(n.severity)),
        message: &n.message,
        status_id: 1,
        status: "New",
        is_alert: true,
        finding_info: finding_info(n, &uid),
        resources: n.app.as_ref().map(|app| {
            [Resource {
                uid: &app.id,
                name: &app.name,
                kind: app.category,
                role_id: 1,
                role: "Target",
            }]
        }),
        evidences: (!evidence.is_empty()).then_some([evidence]),
        unmapped: Unmapped {
            lantern: NoticeExtra {
                subject: &n.subject,
                app: n.app.as_ref().map(|app| AppRest {
                    vendor: &app.vendor,
                    status: app.status,
                }),
                bytes_up: n.bytes_up,
                bytes_down: n.bytes_down,
                threshold_bytes: n.threshold,
                clients: n.clients,
            },
        },
    };
    write(buf, &event)
}

/// What the finding is: its uid, title and sentence, the rule, its times and flows.
fn finding_info<'a>(n: &'a Notice, uid: &'a str) -> FindingInfo<'a> {
    FindingInfo {
        uid,
        title: title(n.kind),
        desc: &n.message,
        types: ["Shadow AI"],
        analytic: Analytic {
            type_id: 1,
            kind: "Rule",
            name: n.kind.name(),
            uid: n.kind.name(),
        },
        created_time: ms(n.ts),
        first_seen_time: ms(n.first_seen),
        related_events: RelatedFlows(&n.flows),
    }
}
