//! The shape of a catalog file as serde reads it: the entries and their fields as written, with
//! the byte spans that messages turn into line numbers. Unknown fields are refused.

use super::super::{Category, Risk, Training};
use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileToml {
    #[serde(default)]
    pub app: Vec<AppToml>,
    #[serde(default)]
    pub shared: Vec<SharedToml>,
    #[serde(default)]
    pub not_ai: Vec<SharedToml>,
    #[serde(default)]
    pub ech_public_name: Vec<SharedToml>,
    #[serde(default)]
    pub resolver: Vec<ResolverToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AppToml {
    pub id: Spanned<String>,
    pub name: String,
    pub vendor: String,
    pub category: Category,
    #[serde(default)]
    pub domains: Vec<Spanned<String>>,
    #[serde(default)]
    pub requests: Vec<Spanned<String>>,
    #[serde(default)]
    pub ports: Vec<u16>,
    #[serde(default)]
    pub protocols: Vec<Spanned<String>>,
    pub hq_country: Option<Spanned<String>>,
    pub trains_on_user_data: Option<Training>,
    pub enterprise_plan: Option<bool>,
    pub risk: Option<Spanned<Risk>>,
    #[serde(default)]
    pub sources: Vec<String>,
    /// Free text for reviewers.
    #[serde(default)]
    pub notes: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SharedToml {
    pub domain: Spanned<String>,
    pub reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ResolverToml {
    pub id: Spanned<String>,
    pub name: String,
    #[serde(default)]
    pub doh: Vec<Spanned<String>>,
    #[serde(default)]
    pub dot: Vec<Spanned<String>>,
    #[serde(default)]
    pub sources: Vec<String>,
    /// Free text for reviewers.
    #[serde(default)]
    pub notes: Option<String>,
}
