//! What reports read back from a store: rows both stores return alike, so that a report is the
//! same whichever store it reads, and the [`Filter`] that limits every read to some sensors, a
//! group, a user or some apps.

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

/// Most sensors or apps one filter names.
pub const MAX_FILTER_VALUES: usize = 64;
/// Longest value a filter takes, in bytes.
pub const MAX_FILTER_LEN: usize = 256;

/// Which rows a report reads: those of any of `sensors`, of `group`, of `user` and of any of
/// `apps` (an empty list or `None` leaves that column free). Every read of the store applies
/// it in its query. The values are untrusted input: SQLite binds them as parameters, ClickHouse
/// gets them as literals escaped by the client.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Filter {
    /// Sensor names.
    pub sensors: Vec<String>,
    /// A group of the identity map.
    pub group: Option<String>,
    /// A user as the store holds it: a name, or its pseudonym token.
    pub user: Option<String>,
    /// App ids.
    pub apps: Vec<String>,
}

/// Why a filter was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    /// An empty value.
    #[error("--{0} needs a value")]
    Empty(&'static str),
    /// A value too long to be a name.
    #[error("--{0}: longer than {MAX_FILTER_LEN} bytes")]
    Long(&'static str),
    /// Too many values.
    #[error("--{0}: at most {MAX_FILTER_VALUES} values")]
    Many(&'static str),
}

/// One column's condition: the column and the values it may take.
struct Condition<'a> {
    column: &'static str,
    values: Vec<&'a str>,
}

impl Filter {
    /// A filter of these values, each checked: not empty, at most [`MAX_FILTER_LEN`] bytes, at
    /// most [`MAX_FILTER_VALUES`] sensors and apps.
    pub fn new(
        sensors: Vec<String>,
        group: Option<String>,
        user: Option<String>,
        apps: Vec<String>,
    ) -> Result<Filter, FilterError> {
        let check = |flag: &'static str, values: &[String]| {
            if values.len() > MAX_FILTER_VALUES {
                return Err(FilterError::Many(flag));
            }
            for v in values {
                if v.is_empty() {
                    return Err(FilterError::Empty(flag));
                }
                if v.len() > MAX_FILTER_LEN {
                    return Err(FilterError::Long(flag));
                }
            }
            Ok(())
        };
        check("sensor", &sensors)?;
        check("group", group.as_slice())?;
        check("user", user.as_slice())?;
        check("app", &apps)?;
        Ok(Filter {
            sensors,
            group,
            user,
            apps,
        })
    }

    /// Whether it lets every row through.
    pub fn is_empty(&self) -> bool {
        self.conditions().is_empty()
    }

    /// The conditions it sets, in a fixed order. Every table it applies to (flows, dns,
    /// rollups) has these columns.
    fn conditions(&self) -> Vec<Condition<'_>> {
        let all = [
            ("sensor", self.sensors.iter().map(String::as_str).collect()),
            (
                "user_group",
                self.group.iter().map(String::as_str).collect(),
            ),
            ("user", self.user.iter().map(String::as_str).collect()),
            ("app_id", self.apps.iter().map(String::as_str).collect()),
        ];
        all.into_iter()
            .filter(|(_, values): &(_, Vec<&str>)| !values.is_empty())
            .map(|(column, values)| Condition { column, values })
            .collect()
    }

    /// The conditions as SQL to follow a `WHERE`: ` AND sensor IN (?3, ?4) AND user = ?5`,
    /// numbering parameters from `first`, and the values to bind to them, in order. `mark`
    /// writes the parameter of each number (SQLite: `?N`; ClickHouse's client: `?`).
    fn sql(&self, first: usize, mark: fn(usize) -> String) -> (String, Vec<&str>) {
        let mut sql = String::new();
        let mut values = Vec::new();
        for c in self.conditions() {
            let marks: Vec<String> = (0..c.values.len())
                .map(|i| mark(first + values.len() + i))
                .collect();
            sql += &format!(" AND {} IN ({})", c.column, marks.join(", "));
            values.extend(c.values);
        }
        (sql, values)
    }

    /// For SQLite: the conditions with numbered parameters from `?first`, and their values.
    pub(crate) fn sqlite(&self, first: usize) -> (String, Vec<&str>) {
        self.sql(first, |n| format!("?{n}"))
    }

    /// For ClickHouse: the conditions with the client's `?` placeholders (which it replaces by
    /// escaped literals), and the values to bind, in order.
    pub(crate) fn clickhouse(&self) -> (String, Vec<&str>) {
        self.sql(0, |_| "?".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_number_their_parameters_and_refuse_odd_values() {
        let f = Filter::new(
            vec!["a".into(), "b'".into()],
            None,
            Some("x?".into()),
            vec!["openai-chatgpt".into()],
        )
        .unwrap();
        assert_eq!(
            f.sqlite(3),
            (
                " AND sensor IN (?3, ?4) AND user IN (?5) AND app_id IN (?6)".to_string(),
                vec!["a", "b'", "x?", "openai-chatgpt"]
            )
        );
        assert_eq!(
            f.clickhouse().0,
            " AND sensor IN (?, ?) AND user IN (?) AND app_id IN (?)"
        );
        assert!(Filter::default().is_empty() && !f.is_empty());
        assert_eq!(Filter::default().sqlite(3), (String::new(), vec![]));
        let long = "x".repeat(MAX_FILTER_LEN + 1);
        assert_eq!(
            Filter::new(vec![], Some(String::new()), None, vec![]),
            Err(FilterError::Empty("group"))
        );
        assert_eq!(
            Filter::new(vec![], None, Some(long), vec![]),
            Err(FilterError::Long("user"))
        );
        let many = vec!["s".to_string(); MAX_FILTER_VALUES + 1];
        assert_eq!(
            Filter::new(many, None, None, vec![]),
            Err(FilterError::Many("sensor"))
        );
    }
}
