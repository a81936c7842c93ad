//! The shipped catalog against the public reference (`../shared/reference/`), the hard cases
//! of matching, and `lantern catalog` as a user runs it.

use crate::common;

use crate::common::{lantern, lantern_in, shared_reference};
use lantern::catalog::{Catalog, Match, SharedKind};
use serde_json::Value;

fn catalog() -> Catalog {
    Catalog::load(&[]).expect("the shipped catalog loads")
}

/// The app id a name identifies, if any.
fn app(c: &Catalog, name: &str) -> Option<String> {
    c.identify(name).map(|hit| hit.app.id.clone())
}

/// Rows of a reference TSV as maps from column name to value.
fn tsv(name: &str) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(shared_reference(name)).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            header
                .iter()
                .map(|h| h.to_string())
                .zip(l.split('\t').map(str::to_string))
                .collect()
        })
        .collect()
}

/// Names that a reference pattern stands for: the name itself, a subdomain of a suffix
/// pattern, `*` filled in for a wildcard, an instance of the one regular expression.
fn instances(pattern: &str, match_type: &str) -> Vec<String> {
    match match_type {
        "suffix" => vec![pattern.to_string(), format!("x1.{pattern}")],
        "exact" => vec![pattern.to_string()],
        "glob" => vec![pattern.replace('*', "ru")],
        "regex" => {
            assert!(
                pattern.starts_with("^chatgpt-async-webps-prod-"),
                "{pattern}"
            );
            vec!["chatgpt-async-webps-prod-eastus-7.webpubsub.azure.com".to_string()]
        }
        other => panic!("unknown match type {other}"),
    }
}

#[test]
fn every_reference_domain_is_catalogued_or_excluded_with_a_reason() {
    let c = catalog();
    let rows = tsv("ai_domains.tsv");
    assert!(rows.len() > 600, "{} rows", rows.len());
    let mut apps = std::collections::BTreeSet::new();
    let mut missing = Vec::new();
    for row in &rows {
        let pattern = &row["domain_pattern"];
        for name in instances(pattern, &row["match_type"]) {
            match c.explain(&name) {
                Match::App { index, .. } => {
                    apps.insert(c.apps()[index].id.clone());
                }
                // An exclusion must name this very domain, with a reason: a name that is
                // merely under a shared parent (google.com) has not been reviewed.
                Match::Shared { index, pattern: by } => {
                    let entry = &c.shared()[index];
                    if by != pattern.as_str() || entry.reason.trim().is_empty() {
                        missing.push(format!("{name} ({}): only under {by}", row["app"]));
                    }
                }
                Match::Resolver { .. } | Match::None => {
                    missing.push(format!("{name} ({})", row["app"]))
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not catalogued nor excluded:\n{}",
        missing.join("\n")
    );
    // Every reference app is in, but for the ones whose every host is shared with non-AI
    // traffic (Kaggle, Canva, Envato, Google Assistant): about 270 apps.
    assert!(apps.len() >= 265, "{} apps", apps.len());
}

/// Why a reviewed name identifies no app: the class its reason starts with.
fn reason_class(reason: &str) -> &str {
    reason.split(':').next().unwrap_or(reason)
}

#[test]
fn every_row_of_the_app_lists_identifies_an_app_or_is_reviewed_with_a_reason() {
    let c = catalog();
    let rows = tsv("lists/ai_apps_from_lists.tsv");
    assert!(rows.len() >= 2300, "{} rows", rows.len());
    let mut apps = std::collections::BTreeSet::new();
    let mut rejected: std::collections::BTreeMap<String, usize> = Default::default();
    let mut missing = Vec::new();
    for row in &rows {
        let domain = &row["domain"];
        let hosts = row["hosts_seen"].split(';').filter(|h| !h.is_empty());
        for name in std::iter::once(domain.as_str()).chain(hosts) {
            match c.explain(name) {
                Match::App { index, .. } => {
                    apps.insert(c.apps()[index].id.clone());
                    // A catalogued name is never a candidate.
                    assert!(!c.classify(Some(name), None, 443).1, "{name}");
                }
                // Reviewed: the entry names the row's domain (or this very host), with a
                // reason, not merely a parent such as google.com.
                Match::Shared { index, pattern } => {
                    let entry = &c.shared()[index];
                    if pattern != domain.as_str() && pattern != name {
                        missing.push(format!("{name} ({}): only under {pattern}", row["name"]));
                    } else if name == domain.as_str() {
                        *rejected
                            .entry(format!("{:?} {}", entry.kind, reason_class(&entry.reason)))
                            .or_default() += 1;
                    }
                    assert!(entry.reason.len() > 10, "{name}: {}", entry.reason);
                    assert_eq!(c.classify(Some(name), None, 443), (None, false), "{name}");
                }
                Match::Resolver { .. } | Match::None => {
                    missing.push(format!("{name} ({})", row["name"]))
                }
            }
        }
        // A host under a shared hosting suffix (vercel.app) is the app by its full name only:
        // the suffix and its other hosts stay nobody's.
        if row["hosted"] == "true" {
            let (_, parent) = domain.split_once('.').unwrap();
            for other in [parent.to_string(), format!("another-app.{parent}")] {
                assert!(c.identify(&other).is_none(), "{other} (from {domain})");
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{} rows neither identify an app nor are reviewed:\n{}",
        missing.len(),
        missing.join("\n")
    );
    eprintln!(
        "{} rows: {} apps identified; reviewed and rejected: {rejected:?}",
        rows.len(),
        apps.len()
    );
    assert!(apps.len() >= 1500, "{} apps", apps.len());
}

#[test]
fn the_ambiguous_reference_rows_are_judged() {
    let c = catalog();
    for row in tsv("ai_domains.tsv")
        .iter()
        .filter(|r| r["specificity"] == "ambiguous")
    {
        let domain = &row["domain_pattern"];
        match c.explain(domain) {
            Match::App { .. } => {
                // Kept: the app's notes must say why.
                let hit = c.identify(domain).unwrap();
                let notes = hit.app.notes.as_deref().unwrap_or("");
                assert!(
                    notes.contains(domain.as_str()) || notes.contains("ambiguous"),
                    "{domain} kept in {} without a note saying why",
                    hit.app.id
                );
            }
            Match::Shared { index, .. } => {
                assert_eq!(c.shared()[index].kind, SharedKind::NotAi, "{domain}");
            }
            Match::Resolver { .. } | Match::None => panic!("{domain} neither kept nor excluded"),
        }
    }
}

#[test]
fn shared_and_excluded_names_never_identify_an_app_nor_are_candidates() {
    let c = catalog();
    let rows = tsv("shared_and_excluded.tsv");
    assert!(rows.len() > 60);
    for row in rows {
        let domain = &row["domain"];
        assert_eq!(
            c.classify(Some(domain), None, 443),
            (None, false),
            "{domain}: {}",
            row["reason_excluded_from_ai_domains"]
        );
    }
}

#[test]
fn the_catalog_is_large_and_every_app_says_where_its_domains_come_from() {
    let c = catalog();
    assert!(c.apps().len() >= 2000, "{} apps", c.apps().len());
    let stats = c.stats();
    for (category, n) in &stats.by_category {
        assert!(*n > 0, "no app of category {}", category.name());
    }
    for app in c.apps() {
        assert!(!app.sources.is_empty(), "{} has no sources", app.id);
        assert!(!app.name.is_empty() && !app.vendor.is_empty(), "{}", app.id);
    }
}

#[test]
fn hard_cases() {
    let c = catalog();
    // The AI host under a shared name is the app; the shared name itself is nothing.
    for (ai, app_id, shared) in [
        ("gemini.google.com", "google-gemini", "www.google.com"),
        ("copilot.microsoft.com", "microsoft-copilot", "www.bing.com"),
        ("api.githubcopilot.com", "github-copilot", "github.com"),
        (
            "europe-west4-aiplatform.googleapis.com",
            "google-vertex-ai",
            "storage.googleapis.com",
        ),
        (
            "bedrock-runtime.us-east-1.amazonaws.com",
            "amazon-bedrock",
            "s3.us-east-1.amazonaws.com",
        ),
    ] {
        assert_eq!(app(&c, ai).as_deref(), Some(app_id), "{ai}");
        assert_eq!(
            c.classify(Some(shared), None, 443),
            (None, false),
            "{shared}"
        );
    }
    // Longest match: the API and the product are different apps of one vendor.
    for (name, app_id) in [
        ("api.openai.com", "openai-api"),
        ("platform.openai.com", "openai-platform"),
        ("openai.com", "openai-web"),
        ("chatgpt.com", "openai-chatgpt"),
        ("sora.chatgpt.com", "openai-sora"),
        ("api.anthropic.com", "anthropic-api"),
        ("claude.ai", "anthropic-claude"),
        ("generativelanguage.googleapis.com", "google-gemini-api"),
        ("aistudio.google.com", "google-ai-studio"),
        ("huggingface.co", "huggingface"),
        ("cdn-lfs-us-1.hf.co", "huggingface-downloads"),
        ("cas-server.xethub.hf.co", "huggingface-downloads"),
        ("hf.co", "huggingface"),
        ("registry.ollama.ai", "ollama-registry"),
        ("ollama.com", "ollama-web"),
    ] {
        assert_eq!(app(&c, name).as_deref(), Some(app_id), "{name}");
    }
    // GitHub Copilot's plan subdomains tell personal from corporate use.
    for (name, app_id) in [
        (
            "proxy.individual.githubcopilot.com",
            "github-copilot-individual",
        ),
        ("api.business.githubcopilot.com", "github-copilot-business"),
        (
            "api.enterprise.githubcopilot.com",
            "github-copilot-enterprise",
        ),
        ("api.githubcopilot.com", "github-copilot"),
    ] {
        assert_eq!(app(&c, name).as_deref(), Some(app_id), "{name}");
    }
    // An uncatalogued .ai name is a candidate; known non-AI names are not.
    assert_eq!(c.classify(Some("newtool.ai"), None, 443), (None, true));
    assert_eq!(
        c.classify(Some("chat.acme-corp.com"), None, 443),
        (None, true)
    );
    for not_ai in [
        "chat.google.com",
        "www.gov.ai",
        "gemini.com",
        "agent.datadoghq.com",
        "copilot.ai",
    ] {
        assert_eq!(
            c.classify(Some(not_ai), None, 443),
            (None, false),
            "{not_ai}"
        );
    }
}

/// The DoH names that Chromium and Firefox use by default, and the resolver each belongs to.
const BROWSER_DOH_NAMES: [(&str, &str); 22] = [
    // Chromium's built-in providers (net/dns/public/doh_provider_entry.cc).
    ("chrome.cloudflare-dns.com", "cloudflare"),
    ("family.cloudflare-dns.com", "cloudflare"),
    ("security.cloudflare-dns.com", "cloudflare"),
    ("dns.google", "google-public-dns"),
    ("dns64.dns.google", "google-public-dns"),
    ("dns.quad9.net", "quad9"),
    ("dns10.quad9.net", "quad9"),
    ("dns11.quad9.net", "quad9"),
    ("doh.cleanbrowsing.org", "cleanbrowsing"),
    ("doh.opendns.com", "opendns"),
    ("doh.familyshield.opendns.com", "opendns"),
    ("chromium.dns.nextdns.io", "nextdns"),
    ("doh.xfinity.com", "comcast-xfinity"),
    ("doh.cox.net", "cox"),
    ("odvr.nic.cz", "cz-nic-odvr"),
    ("protective.joindns4.eu", "dns4eu"),
    ("doh.dns.sb", "dns-sb"),
    ("public.dns.iij.jp", "iij"),
    ("dns.levonet.sk", "levonet"),
    ("doh.quickline.ch", "quickline"),
    ("doh-01.spectrum.com", "charter-spectrum"),
    // Firefox's Trusted Recursive Resolvers.
    ("mozilla.cloudflare-dns.com", "cloudflare"),
];

#[test]
fn every_resolver_has_sources_and_a_doh_pattern_and_the_browsers_defaults_resolve() {
    let c = catalog();
    assert!(
        c.resolvers().len() >= 40,
        "{} resolvers",
        c.resolvers().len()
    );
    for r in c.resolvers() {
        assert!(!r.doh.is_empty(), "{} has no DoH pattern", r.id);
        assert!(
            r.sources.iter().all(|s| s.len() > 10) && !r.sources.is_empty(),
            "{}: {:?}",
            r.id,
            r.sources
        );
        assert!(!r.name.is_empty(), "{}", r.id);
        // Each of its DoH names is its own, never an app, never a candidate.
        for pattern in &r.doh {
            let name = pattern.trim_start_matches('=').replace('*', "x1");
            assert_eq!(
                c.doh_resolver(&name).map(|hit| hit.id.as_str()),
                Some(r.id.as_str()),
                "{name}"
            );
            assert_eq!(c.classify(Some(&name), None, 443), (None, false), "{name}");
        }
    }
    let more = [
        ("firefox.dns.nextdns.io", "nextdns"),
        ("private.canadianshield.cira.ca", "cira-canadian-shield"),
        ("wikimedia-dns.org", "wikimedia-dns"),
        ("dns.switch.ch", "switch"),
        ("dnsnl.alekberg.net", "alekberg"),
        ("dns.alidns.com", "alidns"),
        ("doh.360.cn", "qihoo-360"),
        ("dns.adguard-dns.com", "adguard-dns"),
        ("freedns.controld.com", "controld"),
        ("dns.twnic.tw", "quad101"),
    ];
    for (name, id) in BROWSER_DOH_NAMES.into_iter().chain(more) {
        assert_eq!(
            c.doh_resolver(name).map(|r| r.id.as_str()),
            Some(id),
            "{name}"
        );
    }
    // AI apps, shared names and web sites of resolvers are not resolvers.
    for name in [
        "chatgpt.com",
        "www.google.com",
        "quad9.net",
        "nextdns.io",
        "www.dns0.eu",
    ] {
        assert!(c.doh_resolver(name).is_none(), "{name}");
    }
}

#[test]
fn local_model_servers_by_request() {
    let c = catalog();
    let server = |method, path, port| {
        c.classify(Some("10.1.2.3"), Some((method, path)), port)
            .0
            .map(|hit| (hit.app.id.clone(), hit.pattern.to_string()))
    };
    assert_eq!(
        server("POST", "/api/generate", 11434),
        Some((
            "ollama-server".into(),
            "POST /api/generate on port 11434".into()
        ))
    );
    assert_eq!(server("POST", "/api/chat", 8080), None);
    assert_eq!(
        server("POST", "/v1/chat/completions", 8000).unwrap().0,
        "openai-compatible-server"
    );
    assert_eq!(
        server("POST", "/v1/chat/completions", 11434).unwrap().0,
        "ollama-server"
    );
    assert_eq!(
        server("POST", "/v1/embeddings", 1234).unwrap().0,
        "lm-studio-server"
    );
    assert_eq!(server("GET", "/v1/chat/completions", 8000), None);
    // A catalogued name wins over the request; a shared name is never a model server.
    let (hit, _) = c.classify(
        Some("api.openai.com"),
        Some(("POST", "/v1/chat/completions")),
        80,
    );
    assert_eq!(hit.unwrap().app.id, "openai-api");
    let (hit, _) = c.classify(
        Some("www.google.com"),
        Some(("POST", "/v1/chat/completions")),
        80,
    );
    assert!(hit.is_none());
}

#[test]
fn company_llm_gateways_by_the_api_under_a_prefix_of_their_own() {
    let c = catalog();
    let gateway = |path| {
        c.classify(Some("llm-gw.corp.lan"), Some(("POST", path)), 8080)
            .0
            .map(|hit| {
                (
                    hit.app.id.clone(),
                    hit.app.category.name(),
                    hit.pattern.to_string(),
                )
            })
    };
    for (path, rule) in [
        (
            "/model-center/api/llm/openai/v1/chat/completions",
            "*/v1/chat/completions",
        ),
        ("/litellm/v1/embeddings", "*/v1/embeddings"),
        ("/api/v1/messages", "*/v1/messages"),
        ("/gw/openai/v1/responses?stream=true", "*/v1/responses"),
    ] {
        assert_eq!(
            gateway(path),
            Some((
                "llm-gateway".into(),
                "ai_gateway",
                format!("POST {rule} on any port")
            )),
            "{path}"
        );
    }
    // The bare API path is a model server's; other paths are nothing.
    assert_eq!(
        gateway("/v1/chat/completions").unwrap().0,
        "openai-compatible-server"
    );
    assert_eq!(gateway("/model-center/api/llm/openai/v1/models"), None);
    for (host, id) in [
        ("gateway.ai.cloudflare.com", "cloudflare-ai-gateway"),
        ("oai.helicone.ai", "helicone"),
        ("api.portkey.ai", "portkey"),
        ("ai-gateway.vercel.sh", "vercel-ai-gateway"),
    ] {
        let hit = c.identify(host).unwrap();
        assert_eq!(
            (hit.app.id.as_str(), hit.app.category.name()),
            (id, "ai_gateway")
        );
    }
}

/// The hosts of `signatures/reviewed_rejects.tsv`, with their reasons.
fn reviewed_rejects() -> std::collections::HashMap<String, String> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("signatures/reviewed_rejects.tsv");
    let text = std::fs::read_to_string(path).unwrap();
    (text.lines().skip(1))
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            assert_eq!(cells.len(), 4, "{l}");
            assert!(cells[3].len() > 20, "a reason: {l}");
            (cells[0].to_string(), cells[3].to_string())
        })
        .collect()
}

#[test]
fn every_remote_mcp_host_of_the_lists_is_an_mcp_server_or_rejected_with_a_reason() {
    let c = catalog();
    let rejected = reviewed_rejects();
    let rows = tsv("lists/mcp_remote.tsv");
    assert!(rows.len() >= 130, "{} rows", rows.len());
    let mut servers = 0;
    for row in &rows {
        let host = &row["hostname"];
        match c.identify(host) {
            Some(hit) if hit.app.category.name() == "mcp_server" => {
                servers += 1;
                assert!(
                    !rejected.contains_key(host),
                    "{host} both taken and rejected"
                );
                assert!(!hit.app.sources.is_empty(), "{host}");
            }
            _ => assert!(
                rejected.contains_key(host),
                "{host} ({}) is neither an mcp_server app nor in reviewed_rejects.tsv",
                row["vendor"]
            ),
        }
    }
    assert!(servers >= 80, "{servers} MCP servers");
    // The vendors the issue names, by their documented hosts.
    for (host, id) in [
        ("mcp.atlassian.com", "atlassian-mcp"),
        ("mcp.notion.com", "notion-mcp"),
        ("mcp.linear.app", "linear-mcp"),
        ("mcp.sentry.dev", "sentry-mcp"),
        ("mcp.stripe.com", "stripe-mcp"),
        ("mcp.asana.com", "asana-mcp"),
        ("mcp.paypal.com", "paypal-mcp"),
        ("mcp.zapier.com", "zapier-mcp"),
        ("docs.mcp.cloudflare.com", "cloudflare-docs-mcp"),
    ] {
        assert_eq!(app(&c, host).as_deref(), Some(id), "{host}");
    }
    // Paths on a product's host are not taken: the host says nothing of MCP.
    for host in ["api.githubcopilot.com", "hf.co", "app.hubspot.com"] {
        assert!(rejected.contains_key(host), "{host}");
    }
    assert_eq!(app(&c, "huggingface.co").as_deref(), Some("huggingface"));
}

#[test]
fn catalog_commands() {
    let run = lantern(&["catalog", "validate"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("catalog valid: "), "{}", run.stdout);
    assert!(run.stdout.contains(" DoH resolvers ("), "{}", run.stdout);

    let run = lantern(&["catalog", "stats", "--format", "json"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let stats: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(stats["apps"].as_u64().unwrap() >= 2000, "{stats}");
    let levels = &stats["by_confidence"];
    let total: u64 = ["low", "medium", "high"]
        .iter()
        .map(|l| levels[l].as_u64().unwrap())
        .sum();
    assert_eq!(total, stats["apps"].as_u64().unwrap(), "{stats}");
    let resolvers = stats["resolvers"].as_u64().unwrap();
    assert!(resolvers >= 40, "{stats}");
    assert!(
        stats["doh_patterns"].as_u64().unwrap() >= resolvers,
        "{stats}"
    );

    // `catalog lookup ARGS` exits with `status` and says `text`.
    let says = |args: &[&str], status: i32, text: &str| {
        let mut all = vec!["catalog", "lookup"];
        all.extend(args);
        let run = lantern(&all);
        assert_eq!(run.status, status, "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(run.stdout.contains(text), "{args:?}: {}", run.stdout);
    };
    says(
        &["x.api.openai.com"],
        0,
        "x.api.openai.com: OpenAI API (openai-api, llm_api) by pattern \"api.openai.com\" in \
         signatures/llm_api.toml\n",
    );
    says(&["api.openai.com"], 0, "\n  confidence: high (");
    says(
        &["www.bing.com"],
        1,
        "no app: shared with non-AI traffic, by \"bing.com\"",
    );
    says(
        &["newtool.ai"],
        1,
        "not in the catalog; a candidate because its top-level domain is .ai",
    );
    says(
        &["dns.google"],
        1,
        "dns.google: no app: a DoH resolver (encrypted DNS), Google Public DNS \
         (google-public-dns), by \"dns.google\" in signatures/encrypted_dns.toml\n",
    );
    says(
        &["gpu1.lan", "--request", "POST /api/chat", "--port", "11434"],
        0,
        "ollama-server, local_model_server) by request rule \"POST /api/chat on port 11434\"",
    );

    let run = lantern(&[
        "catalog",
        "list",
        "--category",
        "local_model_server",
        "--format",
        "json",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let apps: Vec<Value> = serde_json::from_str(&run.stdout).unwrap();
    assert!(apps.len() >= 3);
    assert!(apps.iter().all(|a| a["category"] == "local_model_server"));
    let run = lantern(&["catalog", "list", "--category", "chatbots"]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(run.stderr.contains("chat_assistant"), "{}", run.stderr);
}

#[test]
fn a_users_catalog_adds_apps_and_a_bad_one_is_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours.toml");
    std::fs::write(
        &ours,
        "[[app]]\nid = \"corp-assistant\"\nname = \"Corp Assistant\"\nvendor = \"Us\"\n\
         category = \"chat_assistant\"\ndomains = [\"assistant.corp.example\"]\n",
    )
    .unwrap();
    let ours = ours.to_str().unwrap();
    let run = lantern(&[
        "catalog",
        "--catalog",
        ours,
        "lookup",
        "assistant.corp.example",
    ]);
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("(corp-assistant, chat_assistant)"),
        "{}",
        run.stdout
    );

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[app]]\nid = \"x\"\nname = \"X\"\nvendor = \"V\"\ncategory = \"other\"\n\
         domains = [\"ok.example\", \"api.openai.com\"]\n",
    )
    .unwrap();
    let run = lantern_in(
        Some(dir.path()),
        &[],
        &["catalog", "--catalog", "bad.toml", "validate"],
    );
    assert_eq!(run.status, 1);
    let line = run
        .stderr
        .trim()
        .strip_prefix(
            "lantern: bad.toml:6: \"api.openai.com\" of app \"x\" is already claimed by app \
             \"openai-api\" (signatures/llm_api.toml:",
        )
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{}", run.stderr));
    // The line named is where the shipped app claims it.
    let shipped = std::fs::read_to_string(common::root().join("signatures/llm_api.toml")).unwrap();
    let at: usize = line.parse().unwrap();
    assert!(
        shipped
            .lines()
            .nth(at - 1)
            .unwrap()
            .contains("\"api.openai.com\""),
        "line {at}"
    );
    // The same catalog is refused at the start of a replay.
    let run = lantern_in(
        Some(dir.path()),
        &[],
        &["replay", "--no-store", "--catalog", "bad.toml", "x.pcap"],
    );
    assert_eq!(run.status, 1);
    assert!(
        run.stderr.starts_with("lantern: bad.toml:6: "),
        "{}",
        run.stderr
    );
}

#[test]
fn catalog_diff_between_directories_and_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("old"), dir.path().join("new"));
    std::fs::create_dir_all(&old).unwrap();
    std::fs::create_dir_all(&new).unwrap();
    let app = |id: &str, domains: &str, sources: &str| {
        format!(
            "[[app]]\nid = \"{id}\"\nname = \"{id}\"\nvendor = \"V\"\ncategory = \"other\"\n\
             domains = [{domains}]\nsources = [{sources}]\n\n"
        )
    };
    let list = "\"list:eudk/awesome-ai-tools@626be08\"";
    std::fs::write(
        old.join("a.toml"),
        app("kept", "\"kept.example\"", list) + &app("gone", "\"gone.example\"", list),
    )
    .unwrap();
    std::fs::write(
        new.join("a.toml"),
        app("kept", "\"kept.example\", \"api.kept.example\"", list)
            + &app("added", "\"added.example\"", list)
            + "[[not_ai]]\ndomain = \"blog.example\"\nreason = \"blog: a blog\"\n",
    )
    .unwrap();
    let (o, n) = (old.display().to_string(), new.display().to_string());
    let run = lantern(&["catalog", "diff", &o, &n]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "+ app added (added, other, confidence low (1 source)): added.example\n\
         - app gone (gone, other, confidence low (1 source)): gone.example\n\
         ~ app kept: + api.kept.example\n\
         + not_ai blog.example: blog: a blog\n\
         1 apps added, 1 removed, 1 changed; 1 names added, 0 removed\n"
    );
    let run = lantern(&["catalog", "diff", &o, &n, "--format", "json"]);
    let d: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        d["apps_changed"][0]["patterns_added"][0],
        "api.kept.example"
    );

    // A git revision of this repository against the working tree's catalog: the same files
    // when nothing is uncommitted; a bad revision is one line naming it.
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    if repo.join(".git").exists() {
        let run = lantern_in(
            Some(repo),
            &[],
            &["catalog", "diff", "HEAD", "HEAD:signatures"],
        );
        assert_eq!(run.status, 0, "{}", run.stderr);
        assert!(
            run.stdout
                .ends_with("0 apps added, 0 removed, 0 changed; 0 names added, 0 removed\n"),
            "{}",
            run.stdout
        );
        let run = lantern_in(Some(repo), &[], &["catalog", "diff", "no-such-rev", "HEAD"]);
        assert_eq!(run.status, 1, "{}", run.stderr);
        assert!(
            run.stderr
                .contains("\"no-such-rev\" is neither a catalog directory nor a git revision"),
            "{}",
            run.stderr
        );
    }
}
