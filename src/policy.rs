//! Policy: which AI apps the organisation approved. A TOML file names apps (by catalog id) and
//! categories as `sanctioned`, `tolerated` or `unsanctioned`; everything else is `unreviewed`.
//! Exceptions give a group from the identity map another status for some apps or categories.
//!
//! ```toml
//! [apps]
//! openai-chatgpt = "sanctioned"
//! deepseek-chat = "unsanctioned"
//!
//! [categories]
//! llm_api = "tolerated"
//!
//! [[exception]]
//! group = "engineering"
//! apps = ["github-copilot"]
//! status = "sanctioned"
//! ```
//!
//! An app's status for a user: the user's group's exception naming the app, else one naming its
//! category, else the app's own entry, else its category's, else `unreviewed`.

use crate::catalog::{Catalog, Category};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

crate::vocabulary! {
    /// Whether an app is approved; the members in order, most approved first.
    pub enum Status {
        /// Approved.
        Sanctioned = "sanctioned",
        /// Allowed, not endorsed.
        Tolerated = "tolerated",
        /// Not allowed.
        Unsanctioned = "unsanctioned",
        /// Nobody has decided.
        Unreviewed = "unreviewed",
    }
}

/// A policy file that cannot be used; displays as one line naming the file and the key.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct PolicyError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong, and where.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    apps: BTreeMap<String, Status>,
    #[serde(default)]
    categories: BTreeMap<String, Status>,
    #[serde(default, rename = "exception")]
    exceptions: Vec<ExceptionFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExceptionFile {
    group: String,
    #[serde(default)]
    apps: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
    status: Status,
}

/// One group's exception.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Exception {
    group: String,
    apps: Vec<String>,
    categories: Vec<Category>,
    status: Status,
}

/// A loaded, checked policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    apps: HashMap<String, Status>,
    categories: HashMap<Category, Status>,
    exceptions: Vec<Exception>,
}

impl Policy {
    /// No policy: every app unreviewed.
    pub fn none() -> Policy {
        Policy::default()
    }

    /// Reads and checks `path` against `catalog`: every app id and category must exist.
    pub fn load(path: &Path, catalog: &Catalog) -> Result<Policy, PolicyError> {
        let fail = |message: String| PolicyError {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let file: PolicyFile = toml::from_str(&text).map_err(|e| {
            let place = e
                .span()
                .map(|s| format!("line {}: ", text[..s.start].lines().count().max(1)))
                .unwrap_or_default();
            fail(format!("{place}{}", e.message()))
        })?;
        Policy::from_file(file, catalog).map_err(fail)
    }

    fn from_file(file: PolicyFile, catalog: &Catalog) -> Result<Policy, String> {
        let known_app = |id: &str, key: &str| {
            if catalog.apps().iter().any(|a| a.id == id) {
                Ok(id.to_string())
            } else {
                Err(format!(
                    "{key}: no app {id:?} in the catalog (see `lantern catalog list`)"
                ))
            }
        };
        let category = |name: &str, key: &str| {
            Category::from_name(name).ok_or_else(|| {
                format!(
                    "{key}: no category {name:?}; categories are {}",
                    Category::ALL.map(Category::name).join(", ")
                )
            })
        };
        let mut policy = Policy::none();
        for (id, status) in file.apps {
            policy
                .apps
                .insert(known_app(&id, &format!("apps.{id}"))?, status);
        }
        for (name, status) in file.categories {
            policy
                .categories
                .insert(category(&name, &format!("categories.{name}"))?, status);
        }
        for (i, e) in file.exceptions.into_iter().enumerate() {
            let key = format!("exception {} (group {:?})", i + 1, e.group);
            if e.group.is_empty() {
                return Err(format!("{key}: group is empty"));
            }
            if e.apps.is_empty() && e.categories.is_empty() {
                return Err(format!("{key}: names no apps and no categories"));
            }
            let apps = (e.apps.iter())
                .map(|id| known_app(id, &key))
                .collect::<Result<_, _>>()?;
            let categories = (e.categories.iter())
                .map(|c| category(c, &key))
                .collect::<Result<_, _>>()?;
            policy.exceptions.push(Exception {
                group: e.group,
                apps,
                categories,
                status: e.status,
            });
        }
        Ok(policy)
    }

    /// The status of `app_id` (of `category`) for a user in `group`.
    pub fn status(&self, app_id: &str, category: Category, group: Option<&str>) -> Status {
        if let Some(group) = group {
            let mine = || self.exceptions.iter().filter(move |e| e.group == group);
            if let Some(e) = mine().find(|e| e.apps.iter().any(|a| a == app_id)) {
                return e.status;
            }
            if let Some(e) = mine().find(|e| e.categories.contains(&category)) {
                return e.status;
            }
        }
        self.apps
            .get(app_id)
            .or_else(|| self.categories.get(&category))
            .copied()
            .unwrap_or(Status::Unreviewed)
    }

    /// How many apps, categories and exceptions it names.
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.apps.len(),
            self.categories.len(),
            self.exceptions.len(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Policy, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.toml");
        std::fs::write(&path, text).unwrap();
        let catalog = Catalog::load(&[]).unwrap();
        Policy::load(&path, &catalog).map_err(|e| {
            let line = e.to_string();
            line.strip_prefix(&format!("{}: ", path.display()))
                .unwrap_or(&line)
                .to_string()
        })
    }

    #[test]
    fn a_groups_exception_wins_then_the_app_then_its_category() {
        let policy = load(
            r#"
            [apps]
            openai-chatgpt = "sanctioned"
            deepseek-chat = "unsanctioned"
            [categories]
            llm_api = "tolerated"
            chat_assistant = "unsanctioned"
            [[exception]]
            group = "engineering"
            apps = ["deepseek-chat"]
            status = "tolerated"
            [[exception]]
            group = "research"
            categories = ["llm_api"]
            status = "sanctioned"
            "#,
        )
        .unwrap();
        use Category::*;
        let s = |app, cat, group| policy.status(app, cat, group);
        assert_eq!(s("openai-chatgpt", ChatAssistant, None), Status::Sanctioned);
        assert_eq!(
            s("anthropic-claude", ChatAssistant, None),
            Status::Unsanctioned
        );
        assert_eq!(
            s("deepseek-chat", ChatAssistant, None),
            Status::Unsanctioned
        );
        assert_eq!(
            s("deepseek-chat", ChatAssistant, Some("engineering")),
            Status::Tolerated
        );
        assert_eq!(s("openai-api", LlmApi, None), Status::Tolerated);
        assert_eq!(
            s("openai-api", LlmApi, Some("research")),
            Status::Sanctioned
        );
        assert_eq!(
            s("huggingface", ModelHub, Some("research")),
            Status::Unreviewed
        );
        assert_eq!(
            Policy::none().status("openai-chatgpt", ChatAssistant, None),
            Status::Unreviewed
        );
    }

    #[test]
    fn mistakes_are_one_line_naming_the_key() {
        for (text, expected) in [
            (
                "[apps]\nchat-gpt = \"sanctioned\"\n",
                "apps.chat-gpt: no app \"chat-gpt\" in the catalog",
            ),
            (
                "[categories]\nchat = \"tolerated\"\n",
                "categories.chat: no category \"chat\"; categories are chat_assistant,",
            ),
            (
                "[apps]\nopenai-chatgpt = \"approved\"\n",
                "line 2: unknown variant `approved`",
            ),
            ("[aps]\n", "line 1: unknown field `aps`"),
            (
                "[[exception]]\ngroup = \"x\"\nstatus = \"sanctioned\"\n",
                "exception 1 (group \"x\"): names no apps and no categories",
            ),
        ] {
            let e = load(text).unwrap_err();
            assert!(e.starts_with(expected), "{text:?}: {e}");
        }
    }
}
