//! Reading and validating catalog files. An invalid catalog is refused with the file, the line
//! and the reason.

use super::{App, Category, Risk, Shared, Training};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Spanned;

include!(concat!(env!("OUT_DIR"), "/signatures.rs"));

/// A catalog that cannot be used: where and why.
#[derive(Debug, thiserror::Error)]
pub struct CatalogError {
    /// The file.
    pub file: PathBuf,
    /// The 1-based line, where known.
    pub line: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.reason),
            None => write!(f, "{}: {}", self.file.display(), self.reason),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    #[serde(default)]
    app: Vec<AppToml>,
    #[serde(default)]
    shared: Vec<SharedToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppToml {
    id: Spanned<String>,
    name: String,
    vendor: String,
    category: Category,
    domains: Vec<Spanned<String>>,
    hq_country: Option<String>,
    trains_on_user_data: Option<Training>,
    enterprise_plan: Option<bool>,
    risk: Option<Risk>,
    #[serde(default)]
    sources: Vec<String>,
    /// Free text for reviewers; not used by lantern.
    #[serde(default)]
    #[allow(dead_code)]
    notes: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SharedToml {
    domain: Spanned<String>,
    reason: String,
}

/// Where a domain pattern was declared, for messages about duplicates.
struct Declared {
    app: String,
    file: PathBuf,
    line: usize,
}

/// Loads the shipped files and `extra`, validates, and returns apps and shared names.
pub(super) fn load(extra: &[PathBuf]) -> Result<(Vec<App>, Vec<Shared>), CatalogError> {
    let mut sources: Vec<(PathBuf, String)> = BUILTIN
        .iter()
        .map(|(name, text)| (Path::new("signatures").join(name), text.to_string()))
        .collect();
    for path in extra {
        sources.extend(read_path(path)?);
    }
    let mut apps: Vec<App> = Vec::new();
    let mut shared = Vec::new();
    let mut declared: HashMap<String, Declared> = HashMap::new();
    for (file, text) in &sources {
        let parsed: FileToml = toml::from_str(text).map_err(|e| CatalogError {
            file: file.clone(),
            line: e.span().map(|s| line_of(text, s.start)),
            reason: e.message().to_string(),
        })?;
        let mut ids_here: HashMap<String, usize> = HashMap::new();
        for app in parsed.app {
            let line = line_of(text, app.id.span().start);
            let err = |reason: String| CatalogError {
                file: file.clone(),
                line: Some(line),
                reason,
            };
            let id = app.id.get_ref().clone();
            if !is_kebab_id(&id) {
                return Err(err(format!(
                    "app id {id:?} is not kebab-case (a-z, 0-9, -)"
                )));
            }
            if let Some(first) = ids_here.insert(id.clone(), line) {
                return Err(err(format!("app id {id:?} already used on line {first}")));
            }
            if app.domains.is_empty() {
                return Err(err(format!("app {id:?} has no domains")));
            }
            // A later file overrides an earlier app with the same id, domains included.
            if let Some(old) = apps.iter().position(|a| a.id == id) {
                let old = apps.remove(old);
                declared.retain(|_, d| d.app != old.id);
            }
            let mut domains = Vec::with_capacity(app.domains.len());
            for domain in &app.domains {
                let dline = line_of(text, domain.span().start);
                let pattern = domain.get_ref().to_ascii_lowercase();
                let host = pattern.strip_prefix('=').unwrap_or(&pattern);
                if !is_hostname(host) {
                    return Err(CatalogError {
                        file: file.clone(),
                        line: Some(dline),
                        reason: format!("{:?} is not a valid host name", domain.get_ref()),
                    });
                }
                if let Some(prev) = declared.get(&pattern) {
                    return Err(CatalogError {
                        file: file.clone(),
                        line: Some(dline),
                        reason: format!(
                            "{pattern:?} of app {id:?} is already claimed by app {:?} ({}:{})",
                            prev.app,
                            prev.file.display(),
                            prev.line
                        ),
                    });
                }
                declared.insert(
                    pattern.clone(),
                    Declared {
                        app: id.clone(),
                        file: file.clone(),
                        line: dline,
                    },
                );
                domains.push(pattern);
            }
            apps.push(App {
                id,
                name: app.name,
                vendor: app.vendor,
                category: app.category,
                domains,
                hq_country: app.hq_country,
                trains_on_user_data: app.trains_on_user_data,
                enterprise_plan: app.enterprise_plan,
                risk: app.risk,
                sources: app.sources,
                origin: file.clone(),
            });
        }
        for entry in parsed.shared {
            let domain = entry.domain.get_ref().to_ascii_lowercase();
            if !is_hostname(&domain) {
                return Err(CatalogError {
                    file: file.clone(),
                    line: Some(line_of(text, entry.domain.span().start)),
                    reason: format!("{domain:?} is not a valid host name"),
                });
            }
            shared.push(Shared {
                domain,
                reason: entry.reason,
            });
        }
    }
    Ok((apps, shared))
}

/// The catalog files of a path: the file itself, or the `.toml` files of a directory.
fn read_path(path: &Path) -> Result<Vec<(PathBuf, String)>, CatalogError> {
    let io_err = |file: &Path, e: std::io::Error| CatalogError {
        file: file.to_path_buf(),
        line: None,
        reason: e.to_string(),
    };
    let files = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| io_err(path, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|ext| ext == "toml"))
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).map_err(|e| io_err(&file, e))?;
            Ok((file, text))
        })
        .collect()
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn is_kebab_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('-')
        && !id.ends_with('-')
        && !id.contains("--")
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A DNS host name: 1-63 byte labels of letters, digits, '-' and '_', at most 253 bytes.
pub(super) fn is_hostname(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn the_shipped_catalog_is_valid() {
        let (apps, shared) = load(&[]).unwrap();
        assert!(apps.len() >= 30, "{} apps", apps.len());
        assert!(shared.iter().any(|s| s.domain == "google.com"));
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let bad_category = write(
            dir.path(),
            "a.toml",
            "[[app]]\nid = \"x\"\nname = \"X\"\nvendor = \"V\"\ncategory = \"chatbot\"\ndomains = [\"x.example\"]\n",
        );
        let e = load(&[bad_category]).unwrap_err().to_string();
        assert!(
            e.contains("a.toml:5:") && e.contains("unknown variant `chatbot`"),
            "{e}"
        );

        let clash = write(
            dir.path(),
            "b.toml",
            "[[app]]\nid = \"mine\"\nname = \"M\"\nvendor = \"V\"\ncategory = \"other\"\n\
             domains = [\"ok.example\",\n  \"chatgpt.com\"]\n",
        );
        let e = load(&[clash]).unwrap_err().to_string();
        assert!(
            e.contains("b.toml:7:") && e.contains("already claimed by app \"openai-chatgpt\""),
            "{e}"
        );

        let bad_host = write(
            dir.path(),
            "c.toml",
            "[[app]]\nid = \"Bad_Id\"\nname = \"M\"\nvendor = \"V\"\ncategory = \"other\"\ndomains = [\"a.b\"]\n",
        );
        let e = load(&[bad_host]).unwrap_err().to_string();
        assert!(
            e.contains("c.toml:2: app id \"Bad_Id\" is not kebab-case"),
            "{e}"
        );
    }

    #[test]
    fn a_user_file_overrides_a_shipped_app_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let ours = write(
            dir.path(),
            "ours.toml",
            "[[app]]\nid = \"openai-chatgpt\"\nname = \"ChatGPT (ours)\"\nvendor = \"OpenAI\"\n\
             category = \"chat_assistant\"\ndomains = [\"chatgpt.com\"]\n\n\
             [[app]]\nid = \"corp-llm\"\nname = \"Corp LLM\"\nvendor = \"Us\"\ncategory = \"llm_api\"\n\
             domains = [\"llm.corp.example\"]\n",
        );
        let (apps, _) = load(&[dir.path().to_path_buf()]).unwrap();
        let chatgpt = apps.iter().find(|a| a.id == "openai-chatgpt").unwrap();
        assert_eq!(chatgpt.name, "ChatGPT (ours)");
        assert_eq!(chatgpt.domains, ["chatgpt.com"]);
        assert!(apps.iter().any(|a| a.id == "corp-llm"));
        let _ = ours;
    }

    #[test]
    fn host_names() {
        assert!(is_hostname("api.openai.com"));
        assert!(is_hostname("_dmarc.example.com"));
        assert!(!is_hostname("a..b"));
        assert!(!is_hostname("*.example.com"));
        assert!(!is_hostname(&"a".repeat(64)));
    }
}
