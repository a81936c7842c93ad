//! What reports read back from a store: rows both stores return alike, so that a report is the
//! same whichever store it reads.

/// When an app was first seen in the store, and by whom.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize, clickhouse::Row)]
pub struct FirstSeen {
    pub app_id: String,
    pub first_seen_us: i64,
}

/// How often one user met an uncatalogued name that looks like AI.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize, clickhouse::Row)]
pub struct StoredCandidate {
    /// The server name (flows) or query (DNS).
    pub name: String,
    pub user: String,
    pub flows: u64,
    pub lookups: u64,
}

/// Who used a local model server, and how much.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize, clickhouse::Row)]
pub struct StoredServerUse {
    pub app_id: String,
    pub server_ip: String,
    pub server_port: u16,
    pub user: String,
    pub flows: u64,
    pub bytes_up: u64,
}

/// AI use by programs (flows whose user kind is `agent`), per host, user, software and app.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize, clickhouse::Row)]
pub struct StoredProgramUse {
    /// The device, else the client address (or its token).
    pub host: String,
    pub user: String,
    /// The client software's family, empty when not known.
    pub software: String,
    pub app_id: String,
    pub flows: u64,
    pub bytes_up: u64,
}

/// Flows to MCP servers, per server, user and first method.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize, clickhouse::Row)]
pub struct StoredMcpUse {
    pub app_id: String,
    /// The server's name, else its address.
    pub server: String,
    pub server_port: u16,
    pub user: String,
    /// The MCP method of the flow's first request, empty when not seen (TLS).
    pub method: String,
    pub flows: u64,
}

/// `app_id IN (...)` for ids from the catalog, written into the query (18.16 cannot bind a
/// list); an id with anything but letters, digits, `-`, `_` and `.` is left out.
pub(crate) fn app_list(ids: &[&str]) -> String {
    let quoted: Vec<String> = ids
        .iter()
        .filter(|id| {
            !id.is_empty()
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map(|id| format!("'{id}'"))
        .collect();
    if quoted.is_empty() {
        "('')".to_string()
    } else {
        format!("({})", quoted.join(", "))
    }
}
