//! Confidence: how solid an app's catalog entry is, derived from its `sources` alone, so a
//! reader of a lookup or a report knows which identifications rest on one public list.
//!
//! Each source tag is one of:
//!
//! - the vendor's own documentation: a URL (`https://...`) or a `vendor:` tag;
//! - `vendor site: https://...`: a reviewer saw the app's own site, with no network document;
//! - a public list: `list:OWNER/REPO@COMMIT` (the lists of `../shared/reference/lists/`), or
//!   `NAME:label` for the lists of `../shared/reference/ai_domains.tsv` (`v2fly:openai`,
//!   `nullgen:firefly`).
//!
//! Independent sources are counted once each: every vendor document together counts one, the
//! vendor's site one, each list one however many labels it has. The level is **high** with the
//! vendor's documentation or three independent sources, **medium** with two, **low** with one
//! (or none, an organisation's own entry without sources).

use serde::Serialize;

crate::vocabulary! {
    /// The level of an app's confidence.
    #[derive(Default)]
    pub enum Level {
        /// One source (or none).
        #[default]
        Low = "low",
        /// Two independent sources.
        Medium = "medium",
        /// The vendor's documentation, or three independent sources.
        High = "high",
    }
}

/// How solid an app's entry is, and why.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Confidence {
    /// The level.
    pub level: Level,
    /// Independent sources.
    pub sources: usize,
    /// Whether the vendor documents the names.
    pub vendor_documented: bool,
}

impl Confidence {
    /// The confidence that `sources` give.
    pub fn of(sources: &[String]) -> Confidence {
        let mut keys: Vec<&str> = sources.iter().map(|s| key(s)).collect();
        keys.sort_unstable();
        keys.dedup();
        let vendor_documented = keys.contains(&VENDOR_DOCS);
        let level = match (vendor_documented, keys.len()) {
            (true, _) | (_, 3..) => Level::High,
            (_, 2) => Level::Medium,
            _ => Level::Low,
        };
        Confidence {
            level,
            sources: keys.len(),
            vendor_documented,
        }
    }
}

impl std::fmt::Display for Confidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = if self.sources == 1 { "" } else { "s" };
        write!(f, "{} ({} source{plural}", self.level.name(), self.sources)?;
        if self.vendor_documented {
            f.write_str(", vendor documentation")?;
        }
        f.write_str(")")
    }
}

const VENDOR_DOCS: &str = "vendor documentation";
const VENDOR_SITE: &str = "vendor site";

/// What independent source a tag stands for.
fn key(tag: &str) -> &str {
    let tag = tag.trim();
    if tag.starts_with("https://") || tag.starts_with("http://") || tag.starts_with("vendor:") {
        VENDOR_DOCS
    } else if tag.starts_with("vendor site:") {
        VENDOR_SITE
    } else if let Some(list) = tag.strip_prefix("list:") {
        list.split('@').next().unwrap_or(list)
    } else {
        tag.split(':').next().unwrap_or(tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(tags: &[&str]) -> Confidence {
        Confidence::of(&tags.iter().map(|t| t.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn levels_from_independent_sources() {
        assert_eq!(of(&[]).level, Level::Low);
        assert_eq!(
            of(&["list:eudk/awesome-ai-tools@626be08"]).level,
            Level::Low
        );
        // Two labels of one list are one source.
        let one = of(&["v2fly:openai", "v2fly:category-ai-!cn"]);
        assert_eq!((one.level, one.sources), (Level::Low, 1));
        let two = of(&["v2fly:openai", "list:eudk/awesome-ai-tools@626be08"]);
        assert_eq!((two.level, two.sources), (Level::Medium, 2));
        let site = of(&["vendor site: https://x.ai", "nullgen:x"]);
        assert_eq!((site.level, site.vendor_documented), (Level::Medium, false));
        assert_eq!(of(&["kovrr:A", "nullgen:a", "peach:A"]).level, Level::High);
        let docs = of(&["https://docs.example.com/network"]);
        assert_eq!((docs.level, docs.vendor_documented), (Level::High, true));
        assert_eq!(of(&["vendor:GH_COPILOT_ALLOWLIST:x"]).level, Level::High);
        // Two vendor documents are one source, and the same list at two commits too.
        assert_eq!(
            of(&["https://a.example/1", "https://a.example/2", "vendor:x"]).sources,
            1
        );
        assert_eq!(
            of(&["list:a/b@1111111", "list:a/b@2222222"]).to_string(),
            "low (1 source)"
        );
        assert_eq!(
            of(&["https://a.example", "list:a/b@1"]).to_string(),
            "high (2 sources, vendor documentation)"
        );
    }
}
