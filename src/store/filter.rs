//! The [`Filter`] that limits every read of a report to some sensors, a group, a user or some
//! apps, and its SQL: conditions with `?` placeholders and the values to bind to them, in
//! order, which both stores take alike.

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

    /// The conditions as SQL to follow a `WHERE`: ` AND sensor IN (?, ?) AND user IN (?)`, and
    /// the values to bind to its placeholders, in order. SQLite binds them as parameters;
    /// ClickHouse's client writes each as an escaped literal.
    pub(crate) fn sql(&self) -> (String, Vec<&str>) {
        let mut sql = String::new();
        let mut values = Vec::new();
        for c in self.conditions() {
            let marks = vec!["?"; c.values.len()];
            sql += &format!(" AND {} IN ({})", c.column, marks.join(", "));
            values.extend(c.values);
        }
        (sql, values)
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
            f.sql(),
            (
                " AND sensor IN (?, ?) AND user IN (?) AND app_id IN (?)".to_string(),
                vec!["a", "b'", "x?", "openai-chatgpt"]
            )
        );
        assert!(Filter::default().is_empty() && !f.is_empty());
        assert_eq!(Filter::default().sql(), (String::new(), vec![]));
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
