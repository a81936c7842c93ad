//! Notices: what a SOC wants to be told of as it happens (an app new to the network, a user's
//! first use of an unsanctioned app, a large upload to one, a new MCP server, model server or
//! gateway, an uncatalogued AI-looking name used from several clients), each with why and the
//! evidence. The [`Notice`] is the event's data; the rules that raise them are in [`rules`].

pub mod rules;

use crate::capture::Timestamp;
use crate::flow::Endpoint;

crate::vocabulary! {
    /// Why a notice was raised.
    pub enum NoticeKind {
        /// An app seen for the first time on the network.
        NewApp = "new_app",
        /// A user's first use of an app the policy makes unsanctioned for them.
        FirstUnsanctioned = "first_unsanctioned_use",
        /// Bytes up to an unsanctioned or unreviewed app past the threshold, in one flow or in
        /// one hour of a user's use.
        Upload = "upload",
        /// An MCP server seen for the first time.
        NewMcpServer = "new_mcp_server",
        /// A model server on the local network seen for the first time.
        NewModelServer = "new_model_server",
        /// An LLM gateway seen for the first time.
        NewGateway = "new_gateway",
        /// An uncatalogued name that looks like AI, used from several clients.
        Candidate = "candidate_spread",
    }
}

impl NoticeKind {
    /// Whether its key names the user (else it is about the network).
    pub fn per_user(self) -> bool {
        matches!(self, NoticeKind::FirstUnsanctioned | NoticeKind::Upload)
    }

    /// Whether it is raised once ever for its key, rather than once a day.
    pub fn once_ever(self) -> bool {
        !matches!(self, NoticeKind::Upload)
    }
}

crate::vocabulary! {
    /// How urgent a notice is (the syslog and OCSF severities it maps to are in docs/events.md).
    pub enum NoticeSeverity {
        /// Worth knowing.
        Low = "low",
        /// Worth a look.
        Medium = "medium",
        /// Worth acting on.
        High = "high",
    }
}

/// The app a notice is about, as events show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeApp {
    /// Catalog id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Vendor.
    pub vendor: String,
    /// Category name.
    pub category: &'static str,
    /// Status under the policy, for the notice's user.
    pub status: &'static str,
}

/// Most flow ids a notice names as its evidence.
pub const MAX_EVIDENCE: usize = 16;

/// One notice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// Why it was raised.
    pub kind: NoticeKind,
    /// How urgent it is.
    pub severity: NoticeSeverity,
    /// When: the time of the record that raised it.
    pub ts: Timestamp,
    /// When what it is about was first seen (the first flow of the hour, of the name...).
    pub first_seen: Timestamp,
    /// What it is about, as remembered to raise it once: the app id, the server, or the name.
    pub subject: String,
    /// The user it is about (a token when pseudonymizing); empty for a notice about the network.
    pub user: String,
    /// Whether a person, a service, an agent or unknown.
    pub user_kind: &'static str,
    /// The user's device, where known.
    pub device: Option<String>,
    /// The client address of the first flow (its token when pseudonymizing).
    pub client: Option<String>,
    /// The server of the first flow.
    pub server: Option<Endpoint>,
    /// The app, when catalogued.
    pub app: Option<NoticeApp>,
    /// The server name, when known.
    pub server_name: Option<String>,
    /// Bytes up in the evidence.
    pub bytes_up: u64,
    /// Bytes down in the evidence.
    pub bytes_down: u64,
    /// The threshold it crossed, for an upload, in bytes.
    pub threshold: Option<u64>,
    /// Distinct clients seen, for a candidate.
    pub clients: Option<u32>,
    /// The flows it is about, first first (at most [`MAX_EVIDENCE`]).
    pub flows: Vec<u64>,
    /// Why, in a sentence.
    pub message: String,
}

/// What a notice is raised once for: its kind, its day (days since 1970-01-01 of the record
/// that raised it; [`EVER`] for the kinds raised once ever), its user (empty for the kinds
/// about the network: [`NoticeKind::per_user`]) and its subject.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NoticeKey {
    /// Why.
    pub kind: NoticeKind,
    /// Its day, or [`EVER`].
    pub day: i64,
    /// About whom.
    pub user: String,
    /// About what.
    pub subject: String,
}

/// The day of the notices raised once ever.
pub const EVER: i64 = -1;

impl Notice {
    /// What it is raised once for.
    pub fn key(&self) -> NoticeKey {
        NoticeKey {
            kind: self.kind,
            day: if self.kind.once_ever() {
                EVER
            } else {
                self.ts.secs().div_euclid(86_400)
            },
            user: if self.kind.per_user() {
                self.user.clone()
            } else {
                String::new()
            },
            subject: self.subject.clone(),
        }
    }
}
