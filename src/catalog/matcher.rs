//! The compiled matcher: a hash of every suffix pattern and every exact name. A lookup tries
//! the exact name, then the name and each of its parent suffixes from the longest down, so the
//! first hit is the longest match. No allocation: the name is lower-cased into a stack buffer.

use super::{App, Shared};
use std::collections::HashMap;

/// Longest name looked up; longer names match nothing.
const MAX_NAME: usize = 253;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    App(u32),
    Shared(u32),
}

/// The result of a lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match<'a> {
    /// The name belongs to the app at this index of the catalog, by this pattern.
    App {
        /// Index into [`super::Catalog::apps`].
        index: usize,
        /// The pattern that matched (`=name` for an exact pattern).
        pattern: &'a str,
    },
    /// The name is shared with non-AI traffic.
    Shared {
        /// Index into [`super::Catalog::shared`].
        index: usize,
        /// The shared name that matched.
        pattern: &'a str,
    },
    /// Not in the catalog.
    None,
}

/// Suffix and exact-name tables compiled from a catalog.
#[derive(Debug, Default)]
pub struct Matcher {
    suffix: HashMap<Box<str>, (Target, Box<str>), foldhash::fast::RandomState>,
    exact: HashMap<Box<str>, (Target, Box<str>), foldhash::fast::RandomState>,
}

impl Matcher {
    /// Compiles the patterns of `apps` and `shared`.
    pub fn build(apps: &[App], shared: &[Shared]) -> Matcher {
        let mut m = Matcher::default();
        for (i, entry) in shared.iter().enumerate() {
            let target = (
                Target::Shared(i as u32),
                entry.domain.clone().into_boxed_str(),
            );
            m.suffix.insert(entry.domain.clone().into(), target);
        }
        for (i, app) in apps.iter().enumerate() {
            for pattern in &app.domains {
                let target = (Target::App(i as u32), pattern.clone().into_boxed_str());
                match pattern.strip_prefix('=') {
                    Some(exact) => m.exact.insert(exact.into(), target),
                    None => m.suffix.insert(pattern.as_str().into(), target),
                };
            }
        }
        m
    }

    /// The longest match for `name` (case-insensitive, trailing dot ignored).
    pub fn lookup(&self, name: &str) -> Match<'_> {
        let name = name.strip_suffix('.').unwrap_or(name);
        if name.is_empty() || name.len() > MAX_NAME {
            return Match::None;
        }
        let mut buf = [0u8; MAX_NAME];
        let lower = &mut buf[..name.len()];
        lower.copy_from_slice(name.as_bytes());
        lower.make_ascii_lowercase();
        let Ok(lower) = std::str::from_utf8(lower) else {
            return Match::None;
        };
        if let Some(hit) = self.exact.get(lower) {
            return to_match(hit);
        }
        let mut candidate = lower;
        loop {
            if let Some(hit) = self.suffix.get(candidate) {
                return to_match(hit);
            }
            match candidate.find('.') {
                Some(dot) => candidate = &candidate[dot + 1..],
                None => return Match::None,
            }
        }
    }
}

fn to_match((target, pattern): &(Target, Box<str>)) -> Match<'_> {
    match *target {
        Target::App(index) => Match::App {
            index: index as usize,
            pattern,
        },
        Target::Shared(index) => Match::Shared {
            index: index as usize,
            pattern,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Category;

    fn app(id: &str, domains: &[&str]) -> App {
        App {
            id: id.into(),
            name: id.into(),
            vendor: "v".into(),
            category: Category::Other,
            domains: domains.iter().map(|d| d.to_string()).collect(),
            hq_country: None,
            trains_on_user_data: None,
            enterprise_plan: None,
            risk: None,
            sources: vec![],
            origin: "t.toml".into(),
        }
    }

    #[test]
    fn longest_match_exact_and_shared() {
        let apps = [
            app("openai", &["openai.com"]),
            app("openai-api", &["api.openai.com"]),
            app("gemini", &["gemini.google.com", "=gemini.google"]),
        ];
        let shared = [Shared {
            domain: "google.com".into(),
            reason: "search".into(),
        }];
        let m = Matcher::build(&apps, &shared);
        let index = |name| match m.lookup(name) {
            Match::App { index, .. } => Some(index),
            _ => None,
        };
        assert_eq!(index("API.OpenAI.com."), Some(1));
        assert_eq!(index("cdn.openai.com"), Some(0));
        assert_eq!(index("openai.com"), Some(0));
        assert_eq!(index("notopenai.com"), None);
        assert_eq!(index("x.gemini.google.com"), Some(2));
        assert_eq!(index("gemini.google"), Some(2));
        assert_eq!(index("x.gemini.google"), None);
        assert!(matches!(
            m.lookup("www.google.com"),
            Match::Shared {
                pattern: "google.com",
                ..
            }
        ));
        assert_eq!(m.lookup(&"a.".repeat(200)), Match::None);
        assert_eq!(
            m.lookup("caf\u{e9}.openai.com"),
            Match::App {
                index: 0,
                pattern: "openai.com"
            }
        );
    }
}
