//! Catalog: which names belong to which AI application.
//!
//! This stage owns the AI application catalog (`signatures/*.toml`, embedded in the binary,
//! plus any `--catalog` files or directories, which add apps or override shipped ones by `id`),
//! its validation, and the matchers compiled from it: names by the longest pattern (suffixes,
//! exact names and single-label wildcards, see [`Matcher`]), local model servers by their HTTP
//! requests (see [`RequestRules`]). Names shared with non-AI traffic, and names reviewed and
//! found not to be AI apps, never identify an app. Public encrypted-DNS resolvers
//! (`[[resolver]]`, `signatures/encrypted_dns.toml`) name the DNS-over-HTTPS endpoints a client
//! may resolve through, which hides its DNS answers from the sensor; their names are never an
//! app either. Names that look like AI services but are not catalogued are *candidates* (see
//! [`candidate`]).

pub mod candidate;
pub mod confidence;
pub mod diff;
mod load;
mod matcher;
mod request;
mod stats;

pub use confidence::Confidence;
pub use load::CatalogError;
pub use matcher::{Match, Matcher};
pub use request::RequestRules;
pub use stats::Stats;

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The protocols an app may name in `protocols`.
pub const PROTOCOLS: [&str; 1] = ["mcp"];

/// How a protocol's identification reads in evidence.
const PROTOCOL_PATTERNS: [(&str, &str); 1] = [("mcp", "MCP request over HTTP")];

crate::vocabulary! {
    /// The category of an AI application; the members in catalog order.
    #[derive(Default)]
    pub enum Category {
        /// General chat assistants (ChatGPT, Claude, Gemini).
        ChatAssistant = "chat_assistant",
        /// Model APIs used by programs.
        LlmApi = "llm_api",
        /// Coding assistants.
        CodingAssistant = "coding_assistant",
        /// Image and video generation.
        ImageVideo = "image_video",
        /// Speech, voice and music.
        AudioVoice = "audio_voice",
        /// Writing and productivity tools.
        WritingProductivity = "writing_productivity",
        /// Meeting note-takers.
        MeetingNotetaker = "meeting_notetaker",
        /// AI search and research.
        SearchResearch = "search_research",
        /// Agents and automation builders.
        AgentAutomation = "agent_automation",
        /// Model hubs and downloads.
        ModelHub = "model_hub",
        /// Cloud AI platforms.
        AiPlatformCloud = "ai_platform_cloud",
        /// AI features inside other SaaS.
        AiFeatureInSaas = "ai_feature_in_saas",
        /// Servers of the Model Context Protocol, which give agents tools and data.
        McpServer = "mcp_server",
        /// LLM gateways and proxies between programs and model providers (a company's own, or a
        /// hosted one).
        AiGateway = "ai_gateway",
        /// LLM observability, evaluation and prompt management (LangSmith, Langfuse): they
        /// receive prompts and outputs as traces.
        LlmOps = "llm_ops",
        /// Web browsers with a built-in AI assistant or agent (Comet, Atlas, Dia).
        AiBrowser = "ai_browser",
        /// Companion, character and role-play chat (Character.AI, Replika).
        AiCompanion = "ai_companion",
        /// Model servers on the local network.
        LocalModelServer = "local_model_server",
        /// Anything else.
        #[default]
        Other = "other",
    }
}

crate::vocabulary! {
    /// Whether a service trains its models on what users send.
    pub enum Training {
        /// Yes, by default and without an opt-out.
        Yes = "yes",
        /// No.
        No = "no",
        /// Yes unless the user or organisation opts out.
        OptOut = "opt_out",
        /// Not known.
        Unknown = "unknown",
    }
}

/// A risk tier with its reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Risk {
    /// The tier.
    pub tier: RiskTier,
    /// One line saying why.
    pub reason: String,
}

crate::vocabulary! {
    /// How risky sending company data to an app is.
    pub enum RiskTier {
        /// Low.
        Low = "low",
        /// Medium.
        Medium = "medium",
        /// High.
        High = "high",
    }
}

/// One AI application of the catalog.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct App {
    /// Stable kebab-case id, never reused.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Who makes it.
    pub vendor: String,
    /// What kind of app it is.
    pub category: Category,
    /// Name patterns: a bare name is that name and its subdomains; `=name` is that name only;
    /// `*` stands for one label or part of one (`bedrock-runtime.*.amazonaws.com`).
    pub domains: Vec<String>,
    /// Plaintext HTTP requests that identify a local model server: `"POST /api/generate"`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<String>,
    /// The server ports `requests` apply on; empty means any port.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
    /// Protocols whose recognition identifies the app on any host: `mcp`, an MCP request
    /// over plaintext HTTP.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub protocols: Vec<String>,
    /// Country of the vendor's headquarters (ISO 3166 alpha-2), where known.
    pub hq_country: Option<String>,
    /// Whether it trains on user data, where known.
    pub trains_on_user_data: Option<Training>,
    /// Whether an enterprise plan exists, where known.
    pub enterprise_plan: Option<bool>,
    /// Risk tier and reason, where assessed.
    pub risk: Option<Risk>,
    /// Where the domains are documented.
    pub sources: Vec<String>,
    /// How solid the entry is, from `sources`.
    pub confidence: Confidence,
    /// Free text for reviewers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// The file the app was read from.
    #[serde(rename = "file")]
    pub origin: PathBuf,
}

/// Why a name never identifies an app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SharedKind {
    /// It carries AI and non-AI traffic alike (`www.google.com`, `github.com`).
    Shared,
    /// It was reviewed and is not an AI app: a false positive of a public list, a name of
    /// unverified ownership, or a non-AI service that looks like one (`chat.google.com`).
    NotAi,
    /// A provider's Encrypted Client Hello public name (`cloudflare-ech.com`): the outer SNI of
    /// real ECH, which says nothing of the site behind it.
    EchPublicName,
}

/// A name that must never identify an app, nor be a candidate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Shared {
    /// The name (it and its subdomains, unless a longer catalogued name matches).
    pub domain: String,
    /// Why.
    pub reason: String,
    /// Shared, or not AI.
    pub kind: SharedKind,
    /// The file it was read from.
    #[serde(rename = "file")]
    pub origin: PathBuf,
}

/// A public encrypted-DNS resolver: the names its DNS-over-HTTPS endpoints answer on. A flow to
/// one of them is DNS that the sensor cannot read, never an app and never a candidate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Resolver {
    /// Stable kebab-case id, never reused.
    pub id: String,
    /// Display name.
    pub name: String,
    /// DoH host name patterns, with the syntax of an app's `domains`.
    pub doh: Vec<String>,
    /// DNS-over-TLS host names, where documented. Informational: DoT is recognised by port 853.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dot: Vec<String>,
    /// Where the names are documented.
    pub sources: Vec<String>,
    /// Free text for reviewers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// The file the resolver was read from.
    #[serde(rename = "file")]
    pub origin: PathBuf,
}

/// An app and the catalog entry that identified it: a name pattern as written
/// (`api.openai.com`, `=status.openai.com`) or a request rule (`POST /api/chat on port 11434`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identified<'a> {
    /// The app.
    pub app: &'a App,
    /// The pattern or rule that matched.
    pub pattern: &'a str,
}

/// The loaded, validated catalog and its compiled matchers.
#[derive(Debug)]
pub struct Catalog {
    apps: Vec<App>,
    /// Where each app id sits in `apps`.
    ids: std::collections::HashMap<String, usize>,
    shared: Vec<Shared>,
    resolvers: Vec<Resolver>,
    files: usize,
    matcher: Matcher,
    requests: RequestRules,
}

impl Catalog {
    /// The shipped catalog plus `extra` files or directories (later ones override by `id`).
    pub fn load(extra: &[PathBuf]) -> Result<Catalog, CatalogError> {
        Ok(Catalog::build(load::load(extra)?))
    }

    /// A catalog of `files` (name, contents) alone, without the shipped one: another version
    /// of the catalog, to compare with [`diff::diff`].
    pub fn from_files(files: &[(PathBuf, String)]) -> Result<Catalog, CatalogError> {
        Ok(Catalog::build(load::load_files(files)?))
    }

    /// The `.toml` files of a catalog file or directory, with their contents.
    pub fn read_files(path: &std::path::Path) -> Result<Vec<(PathBuf, String)>, CatalogError> {
        load::read_path(path)
    }

    fn build(loaded: load::Loaded) -> Catalog {
        let matcher = Matcher::build(&loaded.apps, &loaded.shared, &loaded.resolvers);
        let requests = RequestRules::build(&loaded.apps);
        Catalog {
            ids: (loaded.apps.iter().enumerate())
                .map(|(i, a)| (a.id.clone(), i))
                .collect(),
            apps: loaded.apps,
            shared: loaded.shared,
            resolvers: loaded.resolvers,
            files: loaded.files,
            matcher,
            requests,
        }
    }

    /// Every app, in catalog order.
    pub fn apps(&self) -> &[App] {
        &self.apps
    }

    /// The app with this id.
    pub fn app(&self, id: &str) -> Option<&App> {
        self.ids.get(id).map(|&i| &self.apps[i])
    }

    /// Where the app with this id sits in [`apps`](Self::apps).
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.ids.get(id).copied()
    }

    /// Every shared or not-AI name.
    pub fn shared(&self) -> &[Shared] {
        &self.shared
    }

    /// Every public encrypted-DNS resolver, in catalog order.
    pub fn resolvers(&self) -> &[Resolver] {
        &self.resolvers
    }

    /// The resolver whose DoH pattern is the best match for `name`, if the best match of the whole
    /// catalog is a resolver's (a longer app pattern under a resolver's name wins).
    pub fn doh_resolver(&self, name: &str) -> Option<&Resolver> {
        match self.matcher.lookup(name) {
            Match::Resolver { index, .. } => Some(&self.resolvers[index]),
            Match::App { .. } | Match::Shared { .. } | Match::None => None,
        }
    }

    /// How many files the catalog was read from.
    pub fn files(&self) -> usize {
        self.files
    }

    /// The app a name belongs to, if any, and the pattern that said so.
    pub fn identify(&self, name: &str) -> Option<Identified<'_>> {
        match self.matcher.lookup(name) {
            Match::App { index, pattern } => Some(Identified {
                app: &self.apps[index],
                pattern,
            }),
            Match::Shared { .. } | Match::Resolver { .. } | Match::None => None,
        }
    }

    /// Whether `name` is a catalogued ECH public name (or under one).
    pub fn is_ech_public_name(&self, name: &str) -> bool {
        matches!(self.matcher.lookup(name),
            Match::Shared { index, .. } if self.shared[index].kind == SharedKind::EchPublicName)
    }

    /// The app a recognised protocol identifies on a flow its name did not: for `mcp`, the
    /// MCP server a plaintext MCP request reached.
    pub fn identify_protocol(&self, protocol: &str) -> Option<Identified<'_>> {
        let app = (self.apps.iter()).find(|a| a.protocols.iter().any(|p| p == protocol))?;
        Some(Identified {
            app,
            pattern: PROTOCOL_PATTERNS
                .iter()
                .find(|(p, _)| *p == protocol)
                .map_or("", |(_, label)| label),
        })
    }

    /// The local model server a plaintext HTTP request to `port` identifies, if any.
    pub fn identify_request(&self, method: &str, path: &str, port: u16) -> Option<Identified<'_>> {
        self.requests
            .lookup(method, path, port)
            .map(|(index, pattern)| Identified {
                app: &self.apps[index],
                pattern,
            })
    }

    /// What a flow is: the app its name identifies; else, when the name is neither catalogued
    /// nor shared nor a DoH resolver's, the local model server its plaintext HTTP `request`
    /// (method, path) to `port` identifies; else whether its name is a candidate.
    pub fn classify(
        &self,
        name: Option<&str>,
        request: Option<(&str, &str)>,
        port: u16,
    ) -> (Option<Identified<'_>>, bool) {
        let by_name = name.map_or(Match::None, |n| self.matcher.lookup(n));
        match by_name {
            Match::App { index, pattern } => (
                Some(Identified {
                    app: &self.apps[index],
                    pattern,
                }),
                false,
            ),
            Match::Shared { .. } | Match::Resolver { .. } => (None, false),
            Match::None => {
                let served =
                    request.and_then(|(method, path)| self.identify_request(method, path, port));
                let candidate = served.is_none() && name.is_some_and(candidate::looks_like_ai);
                (served, candidate)
            }
        }
    }

    /// How a name matches: which app, shared entry or resolver, by which pattern.
    pub fn explain(&self, name: &str) -> Match<'_> {
        self.matcher.lookup(name)
    }

    /// Counts of apps, patterns and facts, for `lantern catalog stats`.
    pub fn stats(&self) -> Stats {
        Stats::of(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Catalog {
        Catalog::load(&[]).unwrap()
    }

    fn resolver_id<'c>(c: &'c Catalog, name: &str) -> Option<&'c str> {
        c.doh_resolver(name).map(|r| r.id.as_str())
    }

    #[test]
    fn browser_built_in_doh_names_are_their_resolvers() {
        let c = shipped();
        for (name, id) in [
            ("mozilla.cloudflare-dns.com", "cloudflare"),
            ("chrome.cloudflare-dns.com", "cloudflare"),
            ("dns.google", "google-public-dns"),
            ("dns64.dns.google", "google-public-dns"),
            ("DNS.Google.", "google-public-dns"),
            ("dns.quad9.net", "quad9"),
            ("firefox.dns.nextdns.io", "nextdns"),
            ("doh.xfinity.com", "comcast-xfinity"),
        ] {
            assert_eq!(resolver_id(&c, name), Some(id), "{name}");
        }
        for name in [
            "chatgpt.com",
            "www.google.com",
            "quad9.net",
            "example.com",
            "",
        ] {
            assert_eq!(resolver_id(&c, name), None, "{name}");
        }
        assert!(c.resolvers().iter().any(|r| r.id == "cloudflare"));
    }

    #[test]
    fn a_resolver_name_is_never_an_app_nor_a_candidate() {
        let file = (
            PathBuf::from("ours.toml"),
            "[[app]]\nid = \"assistant\"\nname = \"A\"\nvendor = \"V\"\ncategory = \"other\"\n\
             domains = [\"corp-ai.example\"]\n\n\
             [[resolver]]\nid = \"corp-doh\"\nname = \"Corp DoH\"\n\
             doh = [\"doh.corp-ai.example\", \"dns-ai.example\"]\nsources = [\"ours\"]\n"
                .to_string(),
        );
        let c = Catalog::from_files(&[file]).unwrap();
        // "dns-ai.example" looks like AI to the candidate rule, but it is a resolver's.
        assert!(candidate::looks_like_ai("dns-ai.example"));
        for name in ["dns-ai.example", "eu.dns-ai.example", "doh.corp-ai.example"] {
            assert_eq!(c.classify(Some(name), None, 443), (None, false), "{name}");
            assert!(c.identify(name).is_none(), "{name}");
            assert_eq!(
                c.doh_resolver(name).map(|r| r.id.as_str()),
                Some("corp-doh")
            );
        }
        // The app keeps the rest of its name; a request to a resolver is no model server.
        assert_eq!(
            c.identify("www.corp-ai.example").unwrap().app.id,
            "assistant"
        );
        let request = Some(("POST", "/v1/chat/completions"));
        assert_eq!(
            c.classify(Some("dns-ai.example"), request, 80),
            (None, false)
        );
        assert!(matches!(
            c.explain("dns-ai.example"),
            Match::Resolver {
                pattern: "dns-ai.example",
                ..
            }
        ));
    }
}
