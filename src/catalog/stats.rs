//! Counts over the catalog: apps by category, patterns by kind, how many apps carry each
//! optional fact, so reviewers see where the catalog is thin, and the encrypted-DNS resolvers.

use super::{Catalog, Category, RiskTier, SharedKind, confidence};
use serde::Serialize;
use std::collections::BTreeMap;

/// Name patterns and request rules by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PatternCounts {
    /// A name and its subdomains.
    pub suffix: usize,
    /// One name exactly.
    pub exact: usize,
    /// With a `*`.
    pub wildcard: usize,
    /// HTTP request rules of local model servers.
    pub requests: usize,
}

/// What the catalog holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Files read.
    pub files: usize,
    /// Apps.
    pub apps: usize,
    /// Apps per category, every category listed.
    pub by_category: BTreeMap<Category, usize>,
    /// Patterns by kind.
    pub patterns: PatternCounts,
    /// Names shared with non-AI traffic.
    pub shared_names: usize,
    /// Names reviewed and found not to be AI apps.
    pub not_ai_names: usize,
    /// Providers' ECH public names (outer SNIs).
    pub ech_public_names: usize,
    /// Public encrypted-DNS resolvers.
    pub resolvers: usize,
    /// Their DoH name patterns.
    pub doh_patterns: usize,
    /// Apps with a headquarters country.
    pub with_hq_country: usize,
    /// Apps with a training-on-user-data answer.
    pub with_training: usize,
    /// Apps that say whether an enterprise plan exists.
    pub with_enterprise_plan: usize,
    /// Apps with a risk tier.
    pub with_risk: usize,
    /// Apps with at least one source.
    pub with_sources: usize,
    /// Apps per confidence level, every level listed.
    pub by_confidence: BTreeMap<confidence::Level, usize>,
    /// Apps whose names their vendor documents.
    pub vendor_documented: usize,
    /// Apps per risk tier.
    pub by_risk: BTreeMap<RiskTier, usize>,
    /// Apps per headquarters country.
    pub by_country: BTreeMap<String, usize>,
}

impl Stats {
    /// Counts over `catalog`.
    pub fn of(catalog: &Catalog) -> Stats {
        let mut s = Stats {
            files: catalog.files(),
            apps: catalog.apps().len(),
            by_category: Category::ALL.iter().map(|&c| (c, 0)).collect(),
            by_confidence: [
                confidence::Level::High,
                confidence::Level::Medium,
                confidence::Level::Low,
            ]
            .into_iter()
            .map(|l| (l, 0))
            .collect(),
            ..Stats::default()
        };
        for app in catalog.apps() {
            *s.by_category.entry(app.category).or_default() += 1;
            for pattern in &app.domains {
                match (pattern.contains('*'), pattern.starts_with('=')) {
                    (true, _) => s.patterns.wildcard += 1,
                    (false, true) => s.patterns.exact += 1,
                    (false, false) => s.patterns.suffix += 1,
                }
            }
            s.patterns.requests += app.requests.len();
            s.with_hq_country += usize::from(app.hq_country.is_some());
            s.with_training += usize::from(app.trains_on_user_data.is_some());
            s.with_enterprise_plan += usize::from(app.enterprise_plan.is_some());
            s.with_sources += usize::from(!app.sources.is_empty());
            *s.by_confidence.entry(app.confidence.level).or_default() += 1;
            s.vendor_documented += usize::from(app.confidence.vendor_documented);
            if let Some(risk) = &app.risk {
                s.with_risk += 1;
                *s.by_risk.entry(risk.tier).or_default() += 1;
            }
            if let Some(country) = &app.hq_country {
                *s.by_country.entry(country.clone()).or_default() += 1;
            }
        }
        for entry in catalog.shared() {
            match entry.kind {
                SharedKind::Shared => s.shared_names += 1,
                SharedKind::NotAi => s.not_ai_names += 1,
                SharedKind::EchPublicName => s.ech_public_names += 1,
            }
        }
        s.resolvers = catalog.resolvers().len();
        s.doh_patterns = catalog.resolvers().iter().map(|r| r.doh.len()).sum();
        s
    }
}
