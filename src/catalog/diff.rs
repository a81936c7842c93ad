//! Diff: what changed between two versions of the catalog, app by app and name by name (shared,
//! not-AI and ECH public names, and resolvers' DoH patterns), so a catalog review reads like a
//! code review (`lantern catalog diff OLD NEW`).

use super::{App, Catalog, SharedKind};
use serde::Serialize;
use std::collections::BTreeMap;

/// An app as a diff shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppLine {
    pub id: String,
    pub name: String,
    pub category: String,
    /// Name patterns and request rules.
    pub patterns: Vec<String>,
    /// Its confidence, as `lantern catalog lookup` prints it.
    pub confidence: String,
}

/// An app in both versions whose entry differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Changed {
    pub id: String,
    /// Patterns and request rules only the new version has.
    pub patterns_added: Vec<String>,
    /// Patterns and request rules only the old version has.
    pub patterns_removed: Vec<String>,
    /// Other fields that differ: `category: llm_api -> chat_assistant`.
    pub fields: Vec<String>,
}

/// A shared, not-AI or ECH public name, or a resolver's DoH pattern, added or removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NameLine {
    pub domain: String,
    /// `shared`, `not_ai`, `ech_public_name` or `doh_resolver`.
    pub kind: &'static str,
    /// The entry's reason; for a DoH pattern, the resolver's name and id.
    pub reason: String,
}

/// What changed from one catalog to another.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Diff {
    pub apps_added: Vec<AppLine>,
    pub apps_removed: Vec<AppLine>,
    pub apps_changed: Vec<Changed>,
    pub names_added: Vec<NameLine>,
    pub names_removed: Vec<NameLine>,
}

impl Diff {
    /// Whether the two versions are the same.
    pub fn is_empty(&self) -> bool {
        self.apps_added.is_empty()
            && self.apps_removed.is_empty()
            && self.apps_changed.is_empty()
            && self.names_added.is_empty()
            && self.names_removed.is_empty()
    }
}

/// What changed from `old` to `new`, in id and name order.
pub fn diff(old: &Catalog, new: &Catalog) -> Diff {
    let by_id = |c: &Catalog| -> BTreeMap<String, App> {
        (c.apps().iter())
            .map(|a| (a.id.clone(), a.clone()))
            .collect()
    };
    let (old_apps, new_apps) = (by_id(old), by_id(new));
    let mut d = Diff::default();
    for (id, app) in &new_apps {
        match old_apps.get(id) {
            None => d.apps_added.push(line(app)),
            Some(before) => d.apps_changed.extend(changed(before, app)),
        }
    }
    d.apps_removed = (old_apps.iter())
        .filter(|(id, _)| !new_apps.contains_key(*id))
        .map(|(_, a)| line(a))
        .collect();
    let names = |c: &Catalog| -> BTreeMap<(String, &'static str), String> {
        let shared =
            (c.shared().iter()).map(|s| ((s.domain.clone(), kind_name(s.kind)), s.reason.clone()));
        shared.chain(doh_patterns(c)).collect()
    };
    let (old_names, new_names) = (names(old), names(new));
    let only = |a: &BTreeMap<(String, &'static str), String>,
                b: &BTreeMap<(String, &'static str), String>| {
        (a.iter())
            .filter(|(k, _)| !b.contains_key(*k))
            .map(|((domain, kind), reason)| NameLine {
                domain: domain.clone(),
                kind,
                reason: reason.clone(),
            })
            .collect()
    };
    d.names_added = only(&new_names, &old_names);
    d.names_removed = only(&old_names, &new_names);
    d
}

/// Every resolver's DoH patterns as names of kind `doh_resolver`, the resolver as their reason.
fn doh_patterns(c: &Catalog) -> impl Iterator<Item = ((String, &'static str), String)> + '_ {
    c.resolvers().iter().flat_map(|r| {
        let reason = format!("{} ({})", r.name, r.id);
        (r.doh.iter()).map(move |p| ((p.clone(), "doh_resolver"), reason.clone()))
    })
}

fn kind_name(kind: SharedKind) -> &'static str {
    match kind {
        SharedKind::Shared => "shared",
        SharedKind::NotAi => "not_ai",
        SharedKind::EchPublicName => "ech_public_name",
    }
}

fn patterns(app: &App) -> Vec<String> {
    let mut all = app.domains.clone();
    all.extend(app.requests.iter().cloned());
    all.extend(app.protocols.iter().map(|p| format!("protocol {p}")));
    all
}

fn line(app: &App) -> AppLine {
    AppLine {
        id: app.id.clone(),
        name: app.name.clone(),
        category: app.category.name().to_string(),
        patterns: patterns(app),
        confidence: app.confidence.to_string(),
    }
}

fn changed(old: &App, new: &App) -> Option<Changed> {
    let (before, after) = (patterns(old), patterns(new));
    let minus = |a: &[String], b: &[String]| -> Vec<String> {
        a.iter().filter(|p| !b.contains(p)).cloned().collect()
    };
    let mut fields = Vec::new();
    let mut field = |name: &str, a: String, b: String| {
        if a != b {
            fields.push(format!("{name}: {a} -> {b}"));
        }
    };
    let opt = |v: Option<&str>| v.unwrap_or("-").to_string();
    field("name", old.name.clone(), new.name.clone());
    field("vendor", old.vendor.clone(), new.vendor.clone());
    field(
        "category",
        old.category.name().into(),
        new.category.name().into(),
    );
    field(
        "hq_country",
        opt(old.hq_country.as_deref()),
        opt(new.hq_country.as_deref()),
    );
    field(
        "risk",
        opt(old.risk.as_ref().map(|r| r.tier.name())),
        opt(new.risk.as_ref().map(|r| r.tier.name())),
    );
    field(
        "trains_on_user_data",
        opt(old.trains_on_user_data.map(|t| t.name())),
        opt(new.trains_on_user_data.map(|t| t.name())),
    );
    field(
        "ports",
        format!("{:?}", old.ports),
        format!("{:?}", new.ports),
    );
    let (sources_added, sources_removed) = (
        minus(&new.sources, &old.sources),
        minus(&old.sources, &new.sources),
    );
    for s in &sources_added {
        fields.push(format!("source added: {s}"));
    }
    for s in &sources_removed {
        fields.push(format!("source removed: {s}"));
    }
    if old.confidence != new.confidence {
        fields.push(format!(
            "confidence: {} -> {}",
            old.confidence, new.confidence
        ));
    }
    let c = Changed {
        id: new.id.clone(),
        patterns_added: minus(&after, &before),
        patterns_removed: minus(&before, &after),
        fields,
    };
    let same = c.patterns_added.is_empty() && c.patterns_removed.is_empty() && c.fields.is_empty();
    (!same).then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn catalog(text: &str) -> Catalog {
        Catalog::from_files(&[(PathBuf::from("t.toml"), text.to_string())]).unwrap()
    }

    #[test]
    fn added_removed_and_changed() {
        let old = catalog(
            r#"
[[app]]
id = "a"
name = "A"
vendor = "A"
category = "chat_assistant"
domains = ["a.example", "old.example"]
sources = ["list:x/y@1"]

[[app]]
id = "gone"
name = "Gone"
vendor = "G"
category = "other"
domains = ["gone.example"]

[[not_ai]]
domain = "blog.example"
reason = "blog: a person's blog"
"#,
        );
        let new = catalog(
            r#"
[[app]]
id = "a"
name = "A"
vendor = "A"
category = "llm_api"
domains = ["a.example", "api.a.example"]
sources = ["list:x/y@1", "https://a.example/docs/network"]

[[app]]
id = "b"
name = "B"
vendor = "B"
category = "image_video"
domains = ["b.example"]
sources = ["list:x/y@1"]
"#,
        );
        let d = diff(&old, &new);
        assert_eq!(d.apps_added.len(), 1);
        assert_eq!(d.apps_added[0].id, "b");
        assert_eq!(d.apps_added[0].confidence, "low (1 source)");
        assert_eq!(d.apps_removed[0].id, "gone");
        assert_eq!(d.apps_changed.len(), 1);
        let c = &d.apps_changed[0];
        assert_eq!(c.patterns_added, ["api.a.example"]);
        assert_eq!(c.patterns_removed, ["old.example"]);
        assert_eq!(
            c.fields,
            [
                "category: chat_assistant -> llm_api",
                "source added: https://a.example/docs/network",
                "confidence: low (1 source) -> high (2 sources, vendor documentation)"
            ]
        );
        assert_eq!(d.names_removed[0].domain, "blog.example");
        assert!(d.names_added.is_empty());
        assert!(diff(&new, &new).is_empty());
    }

    #[test]
    fn a_resolvers_doh_patterns_are_names() {
        let resolver = |doh: &str| {
            catalog(&format!(
                "[[resolver]]\nid = \"r\"\nname = \"R DNS\"\ndoh = [{doh}]\nsources = [\"s\"]\n"
            ))
        };
        let d = diff(
            &resolver("\"doh.r.example\""),
            &resolver("\"doh.r.example\", \"=dns.r.example\""),
        );
        assert!(d.apps_added.is_empty() && d.names_removed.is_empty());
        assert_eq!(
            d.names_added,
            [NameLine {
                domain: "=dns.r.example".into(),
                kind: "doh_resolver",
                reason: "R DNS (r)".into(),
            }]
        );
    }
}
