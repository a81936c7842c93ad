//! Catalog: which names belong to which AI application.
//!
//! This stage owns the AI application catalog (`signatures/*.toml`, embedded in the binary,
//! plus any `--catalog` files or directories, which add apps or override shipped ones by `id`),
//! its validation, and the [`Matcher`] compiled from it: longest suffix wins, exact names are
//! explicit, and names shared with non-AI traffic never identify an app. Names that look like AI
//! services but are not catalogued are *candidates* (see [`candidate`]).

pub mod candidate;
mod load;
mod matcher;

pub use load::CatalogError;
pub use matcher::{Match, Matcher};

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The category of an AI application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// General chat assistants (ChatGPT, Claude, Gemini).
    ChatAssistant,
    /// Model APIs used by programs.
    LlmApi,
    /// Coding assistants.
    CodingAssistant,
    /// Image and video generation.
    ImageVideo,
    /// Speech, voice and music.
    AudioVoice,
    /// Writing and productivity tools.
    WritingProductivity,
    /// Meeting note-takers.
    MeetingNotetaker,
    /// AI search and research.
    SearchResearch,
    /// Agents and automation builders.
    AgentAutomation,
    /// Model hubs and downloads.
    ModelHub,
    /// Cloud AI platforms.
    AiPlatformCloud,
    /// AI features inside other SaaS.
    AiFeatureInSaas,
    /// Model servers on the local network.
    LocalModelServer,
    /// Anything else.
    Other,
}

impl Category {
    /// The snake_case name, as in the catalog and events.
    pub fn name(self) -> &'static str {
        match self {
            Category::ChatAssistant => "chat_assistant",
            Category::LlmApi => "llm_api",
            Category::CodingAssistant => "coding_assistant",
            Category::ImageVideo => "image_video",
            Category::AudioVoice => "audio_voice",
            Category::WritingProductivity => "writing_productivity",
            Category::MeetingNotetaker => "meeting_notetaker",
            Category::SearchResearch => "search_research",
            Category::AgentAutomation => "agent_automation",
            Category::ModelHub => "model_hub",
            Category::AiPlatformCloud => "ai_platform_cloud",
            Category::AiFeatureInSaas => "ai_feature_in_saas",
            Category::LocalModelServer => "local_model_server",
            Category::Other => "other",
        }
    }
}

/// Whether a service trains its models on what users send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Training {
    /// Yes, by default and without an opt-out.
    Yes,
    /// No.
    No,
    /// Yes unless the user or organisation opts out.
    OptOut,
    /// Not known.
    Unknown,
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

/// How risky sending company data to an app is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskTier {
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
}

/// One AI application of the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct App {
    /// Stable kebab-case id, never reused.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Who makes it.
    pub vendor: String,
    /// What kind of app it is.
    pub category: Category,
    /// Domain patterns: a bare name is that name and its subdomains; `=name` is that name only.
    pub domains: Vec<String>,
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
    /// The file the app was read from.
    pub origin: PathBuf,
}

/// A name that also carries non-AI traffic and must never identify an app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shared {
    /// The name (it and its subdomains, unless a longer catalogued name matches).
    pub domain: String,
    /// Why it is shared.
    pub reason: String,
}

/// The loaded, validated catalog and its compiled matcher.
#[derive(Debug)]
pub struct Catalog {
    apps: Vec<App>,
    shared: Vec<Shared>,
    matcher: Matcher,
}

impl Catalog {
    /// The shipped catalog plus `extra` files or directories (later ones override by `id`).
    pub fn load(extra: &[PathBuf]) -> Result<Catalog, CatalogError> {
        let (apps, shared) = load::load(extra)?;
        let matcher = Matcher::build(&apps, &shared);
        Ok(Catalog {
            apps,
            shared,
            matcher,
        })
    }

    /// Every app, in catalog order.
    pub fn apps(&self) -> &[App] {
        &self.apps
    }

    /// Every shared (never-AI) name.
    pub fn shared(&self) -> &[Shared] {
        &self.shared
    }

    /// The app a name belongs to, if any.
    pub fn app_for(&self, name: &str) -> Option<&App> {
        match self.matcher.lookup(name) {
            Match::App { index, .. } => self.apps.get(index),
            Match::Shared { .. } | Match::None => None,
        }
    }

    /// How a name matches: which app or shared entry, by which pattern.
    pub fn explain(&self, name: &str) -> Match<'_> {
        self.matcher.lookup(name)
    }

    /// Whether a name that is not catalogued looks like an AI service (see [`candidate`]).
    pub fn is_candidate(&self, name: &str) -> bool {
        matches!(self.matcher.lookup(name), Match::None) && candidate::looks_like_ai(name)
    }
}
