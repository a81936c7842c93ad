//! The compiled name matcher: one hash table keyed by name suffixes. Each key holds the app,
//! shared entry or DoH resolver that claims that suffix (`openai.com`), the one that claims
//! exactly that name (`=status.openai.com`), and the wildcard patterns whose literal tail is that
//! suffix (`bedrock-runtime.*.amazonaws.com` sits under `amazonaws.com`). Apps, shared names and
//! resolvers share the table, so one longest match says which of them a name is.
//!
//! A lookup walks the name from the whole name down to its last label, one hash probe per
//! label, and keeps the best hit: more labels matched wins; on a tie a literal pattern beats a
//! wildcard and an exact pattern beats a suffix. The walk stops as soon as nothing shorter can
//! win. No allocation: a name with upper-case letters is lower-cased into a stack buffer, and
//! the label boundaries are found once, into a stack array. A hash of suffixes was
//! measured against the need (`benches/catalog.rs`): a reversed-label trie would need the same
//! number of probes, each a pointer chase, to reach the same answer.

use super::{App, Resolver, Shared};
use std::collections::HashMap;

/// Longest name looked up; longer names match nothing.
pub(super) const MAX_NAME: usize = 253;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    App(u32),
    Shared(u32),
    Resolver(u32),
}

/// The result of a lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match<'a> {
    /// The name belongs to the app at this index of the catalog, by this pattern.
    App {
        /// Index into [`super::Catalog::apps`].
        index: usize,
        /// The pattern that matched, as written in the catalog (`=name` for an exact one).
        pattern: &'a str,
    },
    /// The name is shared with non-AI traffic, or known not to be an AI app.
    Shared {
        /// Index into [`super::Catalog::shared`].
        index: usize,
        /// The name that matched.
        pattern: &'a str,
    },
    /// The name is a DNS-over-HTTPS endpoint of the resolver at this index.
    Resolver {
        /// Index into [`super::Catalog::resolvers`].
        index: usize,
        /// The pattern that matched, as written in the catalog.
        pattern: &'a str,
    },
    /// Not in the catalog.
    None,
}

#[derive(Debug)]
struct Hit {
    target: Target,
    pattern: Box<str>,
}

/// One label of a wildcard pattern: `*`, `us-*`, `*-aiplatform` or a literal label.
#[derive(Debug)]
struct LabelPattern {
    prefix: Box<str>,
    /// `None` for a literal label (all in `prefix`).
    suffix: Option<Box<str>>,
}

impl LabelPattern {
    fn parse(label: &str) -> LabelPattern {
        match label.split_once('*') {
            Some((prefix, suffix)) => LabelPattern {
                prefix: prefix.into(),
                suffix: Some(suffix.into()),
            },
            None => LabelPattern {
                prefix: label.into(),
                suffix: None,
            },
        }
    }

    fn matches(&self, label: &str) -> bool {
        match &self.suffix {
            None => same(label.as_bytes(), self.prefix.as_bytes()),
            Some(suffix) => {
                let (label, prefix, suffix) =
                    (label.as_bytes(), self.prefix.as_bytes(), suffix.as_bytes());
                label.len() >= prefix.len() + suffix.len()
                    && same(&label[..prefix.len()], prefix)
                    && same(&label[label.len() - suffix.len()..], suffix)
            }
        }
    }
}

/// Byte-wise equality of two short slices, inline. Comparing label fragments with `==` (a
/// `memcmp` call) made wildcard lookups four times slower on the development machine
/// (`benches/catalog.rs`: 250 ns against 64 ns).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// A wildcard pattern, stored under its literal tail.
#[derive(Debug)]
struct Glob {
    /// The labels before the literal tail, leftmost first.
    head: Box<[LabelPattern]>,
    /// Labels in the whole pattern.
    labels: u8,
    /// `=pattern`: the name must have exactly the pattern's labels, no subdomains.
    exact: bool,
    hit: Hit,
}

impl Glob {
    /// Whether the labels of `name` left of label `tail` (where the literal tail starts)
    /// match the head.
    fn matches(&self, name: &Labels<'_>, tail: usize) -> bool {
        let head = self.head.len();
        if tail < head || (self.exact && tail != head) {
            return false;
        }
        let first = tail - head;
        self.head
            .iter()
            .enumerate()
            .all(|(i, pattern)| pattern.matches(name.label(first + i)))
    }
}

/// Most labels a name of [`MAX_NAME`] bytes can have.
const MAX_LABELS: usize = MAX_NAME.div_ceil(2);

/// A lower-cased name and where each of its labels starts, found in one pass.
struct Labels<'a> {
    name: &'a str,
    starts: [u16; MAX_LABELS],
    count: usize,
}

impl<'a> Labels<'a> {
    fn new(name: &'a str) -> Labels<'a> {
        let mut starts = [0u16; MAX_LABELS];
        let mut count = 1;
        for (i, b) in name.bytes().enumerate() {
            if b == b'.' && count < MAX_LABELS {
                starts[count] = (i + 1) as u16;
                count += 1;
            }
        }
        Labels {
            name,
            starts,
            count,
        }
    }

    /// Label `i`, without its dot.
    fn label(&self, i: usize) -> &'a str {
        let start = self.starts[i] as usize;
        let end = match i + 1 < self.count {
            true => self.starts[i + 1] as usize - 1,
            false => self.name.len(),
        };
        self.name.get(start..end).unwrap_or("")
    }

    /// The name from label `i` on.
    fn suffix(&self, i: usize) -> &'a str {
        self.name.get(self.starts[i] as usize..).unwrap_or("")
    }
}

#[derive(Debug, Default)]
struct Node {
    exact: Option<Hit>,
    suffix: Option<Hit>,
    globs: Vec<Glob>,
}

/// How good a hit is; larger is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Rank {
    labels: u8,
    literal: bool,
    exact: bool,
}

/// Splits a wildcard pattern into its head labels and its literal tail (the labels after the
/// last one with a `*`). `None` when the pattern has no `*`.
pub(super) fn split_glob(pattern: &str) -> Option<(Vec<&str>, &str)> {
    if !pattern.contains('*') {
        return None;
    }
    let labels: Vec<&str> = pattern.split('.').collect();
    let last_wild = labels.iter().rposition(|l| l.contains('*'))?;
    let tail_start: usize = labels[..=last_wild].iter().map(|l| l.len() + 1).sum();
    let tail = pattern.get(tail_start..).unwrap_or("");
    Some((labels[..=last_wild].to_vec(), tail))
}

/// The compiled name patterns of a catalog.
#[derive(Debug, Default)]
pub struct Matcher {
    nodes: HashMap<Box<str>, Node, foldhash::fast::RandomState>,
    /// Most labels of any wildcard pattern: a walk that has a hit this good can stop.
    max_glob_labels: u8,
}

impl Matcher {
    /// Compiles the patterns of `apps`, `shared` and the DoH patterns of `resolvers`. The loader
    /// has validated them, so every wildcard pattern has a literal tail and no pattern is claimed
    /// twice.
    pub fn build(apps: &[App], shared: &[Shared], resolvers: &[Resolver]) -> Matcher {
        let mut m = Matcher::default();
        for (i, entry) in shared.iter().enumerate() {
            m.add(&entry.domain, Target::Shared(i as u32));
        }
        for (i, resolver) in resolvers.iter().enumerate() {
            for pattern in &resolver.doh {
                m.add(pattern, Target::Resolver(i as u32));
            }
        }
        for (i, app) in apps.iter().enumerate() {
            for pattern in &app.domains {
                m.add(pattern, Target::App(i as u32));
            }
        }
        m
    }

    fn add(&mut self, written: &str, target: Target) {
        let hit = Hit {
            target,
            pattern: written.into(),
        };
        let (exact, pattern) = match written.strip_prefix('=') {
            Some(rest) => (true, rest),
            None => (false, written),
        };
        if let Some((head, tail)) = split_glob(pattern) {
            let labels = pattern.split('.').count().min(u8::MAX as usize) as u8;
            self.max_glob_labels = self.max_glob_labels.max(labels);
            self.nodes.entry(tail.into()).or_default().globs.push(Glob {
                head: head.into_iter().map(LabelPattern::parse).collect(),
                labels,
                exact,
                hit,
            });
            return;
        }
        let node = self.nodes.entry(pattern.into()).or_default();
        match exact {
            true => node.exact = Some(hit),
            false => node.suffix = Some(hit),
        }
    }

    /// The best match for `name` (case-insensitive, trailing dot ignored).
    pub fn lookup(&self, name: &str) -> Match<'_> {
        let name = name.strip_suffix('.').unwrap_or(name);
        if name.is_empty() || name.len() > MAX_NAME {
            return Match::None;
        }
        // Names on the wire are nearly always lower-case already: copy only when they are not.
        let mut buf = [0u8; MAX_NAME];
        let lower = match name.bytes().any(|b| b.is_ascii_uppercase()) {
            false => name,
            true => {
                let copy = &mut buf[..name.len()];
                copy.copy_from_slice(name.as_bytes());
                copy.make_ascii_lowercase();
                match std::str::from_utf8(copy) {
                    Ok(lower) => lower,
                    Err(_) => return Match::None,
                }
            }
        };
        let labels = Labels::new(lower);
        let mut best: Option<(Rank, &Hit)> = None;
        for i in 0..labels.count {
            if let Some(node) = self.nodes.get(labels.suffix(i)) {
                let k = (labels.count - i).min(u8::MAX as usize) as u8;
                if i == 0
                    && let Some(hit) = &node.exact
                {
                    consider(&mut best, rank(k, true, true), hit);
                }
                if let Some(hit) = &node.suffix {
                    consider(&mut best, rank(k, true, false), hit);
                }
                for glob in node.globs.iter().filter(|g| g.matches(&labels, i)) {
                    consider(&mut best, rank(glob.labels, false, glob.exact), &glob.hit);
                }
            }
            // Shorter suffixes match fewer labels; only a wildcard can still do better.
            if best.is_some_and(|(r, _)| r.labels >= self.max_glob_labels) {
                break;
            }
        }
        best.map_or(Match::None, |(_, hit)| to_match(hit))
    }
}

fn consider<'a>(best: &mut Option<(Rank, &'a Hit)>, rank: Rank, hit: &'a Hit) {
    if best.is_none_or(|(r, _)| rank > r) {
        *best = Some((rank, hit));
    }
}

fn rank(labels: u8, literal: bool, exact: bool) -> Rank {
    Rank {
        labels,
        literal,
        exact,
    }
}

fn to_match(hit: &Hit) -> Match<'_> {
    match hit.target {
        Target::App(index) => Match::App {
            index: index as usize,
            pattern: &hit.pattern,
        },
        Target::Shared(index) => Match::Shared {
            index: index as usize,
            pattern: &hit.pattern,
        },
        Target::Resolver(index) => Match::Resolver {
            index: index as usize,
            pattern: &hit.pattern,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Category, SharedKind};

    fn app(id: &str, domains: &[&str]) -> App {
        App {
            id: id.into(),
            name: id.into(),
            vendor: "v".into(),
            category: Category::Other,
            domains: domains.iter().map(|d| d.to_string()).collect(),
            ..App::default()
        }
    }

    fn shared(domain: &str) -> Shared {
        Shared {
            domain: domain.into(),
            reason: "test".into(),
            kind: SharedKind::Shared,
            origin: "t.toml".into(),
        }
    }

    fn resolver(id: &str, doh: &[&str]) -> Resolver {
        Resolver {
            id: id.into(),
            name: id.into(),
            doh: doh.iter().map(|d| d.to_string()).collect(),
            ..Resolver::default()
        }
    }

    fn index(m: &Matcher, name: &str) -> Option<usize> {
        match m.lookup(name) {
            Match::App { index, .. } => Some(index),
            _ => None,
        }
    }

    #[test]
    fn longest_match_exact_and_shared() {
        let apps = [
            app("openai", &["openai.com"]),
            app("openai-api", &["api.openai.com"]),
            app("gemini", &["gemini.google.com", "=gemini.google"]),
        ];
        let m = Matcher::build(&apps, &[shared("google.com")], &[]);
        assert_eq!(index(&m, "API.OpenAI.com."), Some(1));
        assert_eq!(index(&m, "cdn.openai.com"), Some(0));
        assert_eq!(index(&m, "openai.com"), Some(0));
        assert_eq!(index(&m, "notopenai.com"), None);
        assert_eq!(index(&m, "x.gemini.google.com"), Some(2));
        assert_eq!(index(&m, "gemini.google"), Some(2));
        assert_eq!(index(&m, "x.gemini.google"), None);
        assert!(matches!(
            m.lookup("www.google.com"),
            Match::Shared {
                pattern: "google.com",
                ..
            }
        ));
        assert_eq!(m.lookup(&"a.".repeat(200)), Match::None);
        assert_eq!(m.lookup(""), Match::None);
        assert_eq!(m.lookup("."), Match::None);
        assert_eq!(
            m.lookup("caf\u{e9}.openai.com"),
            Match::App {
                index: 0,
                pattern: "openai.com"
            }
        );
    }

    #[test]
    fn wildcards_match_one_label_or_a_fragment() {
        let apps = [
            app("bedrock", &["bedrock-runtime.*.amazonaws.com"]),
            app("vertex", &["*-aiplatform.googleapis.com"]),
            app(
                "pubsub",
                &["=chatgpt-async-webps-prod-*.webpubsub.azure.com"],
            ),
            app("region", &["us-east-1.amazonaws.com"]),
            app("oci", &["inference.generativeai.*.oci.oraclecloud.com"]),
        ];
        let m = Matcher::build(&apps, &[shared("googleapis.com")], &[]);
        assert_eq!(
            index(&m, "bedrock-runtime.us-east-1.amazonaws.com"),
            Some(0)
        );
        assert_eq!(
            index(&m, "x.bedrock-runtime.eu-west-3.amazonaws.com"),
            Some(0)
        );
        // `*` stays inside one label.
        assert_eq!(index(&m, "bedrock-runtime.a.b.amazonaws.com"), None);
        assert_eq!(index(&m, "bedrock-runtime.amazonaws.com"), None);
        // The longer wildcard beats a shorter literal suffix found first on the walk.
        assert_eq!(index(&m, "s3.us-east-1.amazonaws.com"), Some(3));
        assert_eq!(index(&m, "europe-west4-aiplatform.googleapis.com"), Some(1));
        assert!(matches!(
            m.lookup("aiplatform-x.googleapis.com"),
            Match::Shared { .. }
        ));
        assert_eq!(
            index(&m, "chatgpt-async-webps-prod-eastus-7.webpubsub.azure.com"),
            Some(2)
        );
        assert_eq!(
            index(
                &m,
                "x.chatgpt-async-webps-prod-eastus-7.webpubsub.azure.com"
            ),
            None
        );
        assert_eq!(
            index(
                &m,
                "inference.generativeai.us-chicago-1.oci.oraclecloud.com"
            ),
            Some(4)
        );
        assert_eq!(
            m.lookup("bedrock-runtime.us-east-1.amazonaws.com"),
            Match::App {
                index: 0,
                pattern: "bedrock-runtime.*.amazonaws.com"
            }
        );
    }

    #[test]
    fn literal_beats_wildcard_of_the_same_length() {
        let apps = [
            app("glob", &["*.example.com"]),
            app("literal", &["api.example.com"]),
        ];
        let m = Matcher::build(&apps, &[], &[]);
        assert_eq!(index(&m, "api.example.com"), Some(1));
        assert_eq!(index(&m, "www.example.com"), Some(0));
        assert_eq!(index(&m, "example.com"), None);
    }

    #[test]
    fn resolvers_share_the_longest_match_with_apps_and_shared_names() {
        let apps = [app("example-ai", &["example.com"])];
        let resolvers = [
            resolver(
                "cloud",
                &["cloudflare-dns.com", "mozilla.cloudflare-dns.com"],
            ),
            resolver("example-doh", &["doh.example.com"]),
            resolver("google", &["dns.google", "=dns.google.com"]),
        ];
        let m = Matcher::build(&apps, &[shared("google.com")], &resolvers);
        assert_eq!(
            m.lookup("mozilla.cloudflare-dns.com"),
            Match::Resolver {
                index: 0,
                pattern: "mozilla.cloudflare-dns.com"
            }
        );
        assert_eq!(
            m.lookup("security.cloudflare-dns.com"),
            Match::Resolver {
                index: 0,
                pattern: "cloudflare-dns.com"
            }
        );
        // The resolver's longer name beats the app's suffix, and the app keeps the rest.
        assert!(matches!(
            m.lookup("eu.doh.example.com"),
            Match::Resolver { index: 1, .. }
        ));
        assert_eq!(index(&m, "www.example.com"), Some(0));
        assert!(matches!(
            m.lookup("dns64.dns.google"),
            Match::Resolver { index: 2, .. }
        ));
        assert!(matches!(
            m.lookup("dns.google.com"),
            Match::Resolver { index: 2, .. }
        ));
        assert!(matches!(m.lookup("x.dns.google.com"), Match::Shared { .. }));
    }

    #[test]
    fn split_glob_finds_the_literal_tail() {
        assert_eq!(
            split_glob("bedrock.*.amazonaws.com"),
            Some((vec!["bedrock", "*"], "amazonaws.com"))
        );
        assert_eq!(
            split_glob("*-aiplatform.googleapis.com"),
            Some((vec!["*-aiplatform"], "googleapis.com"))
        );
        assert_eq!(
            split_glob("alice.yandex.*"),
            Some((vec!["alice", "yandex", "*"], ""))
        );
        assert_eq!(split_glob("openai.com"), None);
    }
}
