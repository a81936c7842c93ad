//! A year of a 2,000-person site, written into a SQLite store through lantern's own store code
//! (`Store::write` of `Batch`es of the rows of `store::tables`), so the schema, the indexes and
//! the rollup upserts are the real ones: what `benches/console.rs` measures the report and the
//! console against.
//!
//! The site, all from one seeded SplitMix64, so the same code makes the same store:
//!
//! - 2,000 people on three sensors (`hq`, `east`, `west`), each with a user name, a device
//!   and, for those in the static identity map, a group; some known by Kerberos, by DHCP or only
//!   by their address. They work on weekdays (not on the site's holidays, not on their days
//!   off), mostly 08:00-18:00 UTC, each at their own pace, and start using AI on a day of
//!   their own; their browsers are Chromium or one the fingerprints do not know.
//! - The apps are the real catalog's (`Catalog::load(&[])`): a popular few used a lot, a long
//!   tail that each appears on the site on a day of the year (so most weeks have new apps),
//!   coding assistants and agents for engineers, model APIs for services and scripts, remote
//!   MCP servers, local model servers (Ollama, LM Studio) and a plaintext MCP server on the
//!   local network, names that look like AI and are not catalogued (candidates), and
//!   encrypted DNS to public resolvers. Server names and the patterns that matched come from
//!   the catalog's own matcher, user kinds from `Identity::kind`.
//! - Services and CI runners (programs calling model APIs), around the clock or in office hours.
//! - Flows with bytes each way, packets, TLS fields, server names and how each was known,
//!   client software; long flows as interim records; DNS lookups of the names used.
//! - Hourly rollups made from those very rows (a flow counts once, in its first record; each
//!   record's bytes in the hour it started; lookups of catalogued names), so every rollup is
//!   the sum of its flows; coverage of every flow per hour (the AI flows and background
//!   traffic), and each sensor's health.
//!
//! Rows are written one (sensor, week) batch at a time, each one SQLite transaction, through
//! one `Store` per sensor (the store stamps a batch with its sensor). With `scale` below 1
//! the site is the same but its people and services use AI less (for a quick store).

use lantern::catalog::{Catalog, Category};
use lantern::identity::{Identity, UserKind, UserSource};
use lantern::software::Kind as SoftwareKind;
use lantern::store::{
    Batch, CoverageRow, DnsRow, FlowRow, HealthRow, RollupRow, SqliteStore, Store, StoreError,
};
use std::collections::HashMap;
use std::path::Path;
use time::macros::date;

/// People on the site.
pub const PEOPLE: usize = 2_000;
/// The sensors, and the share of people behind each.
pub const SENSORS: [(&str, f64); 3] = [("hq", 0.6), ("east", 0.25), ("west", 0.15)];
/// Weeks of data, from [`first_day`] (a Monday): 2026-W02 to 2026-W53.
pub const WEEKS: i64 = 52;
/// The groups of the static identity map and their share of its people.
pub const GROUPS: [(&str, f64); 11] = [
    ("engineering", 0.25),
    ("sales", 0.15),
    ("support", 0.12),
    ("marketing", 0.10),
    ("operations", 0.10),
    ("research", 0.08),
    ("finance", 0.06),
    ("design", 0.05),
    ("hr", 0.04),
    ("legal", 0.03),
    ("exec", 0.02),
];

/// The first day, 2026-01-05 (Monday of 2026-W02), in seconds.
pub fn first_day() -> i64 {
    date!(2026 - 01 - 05)
        .midnight()
        .assume_utc()
        .unix_timestamp()
}

/// Days nobody works (besides weekends).
fn holidays() -> Vec<i64> {
    [
        date!(2026 - 01 - 19),
        date!(2026 - 02 - 16),
        date!(2026 - 04 - 03),
        date!(2026 - 05 - 25),
        date!(2026 - 07 - 03),
        date!(2026 - 09 - 07),
        date!(2026 - 11 - 26),
        date!(2026 - 11 - 27),
        date!(2026 - 12 - 24),
        date!(2026 - 12 - 25),
        date!(2026 - 12 - 31),
    ]
    .iter()
    .map(|d| (d.midnight().assume_utc().unix_timestamp() - first_day()) / 86_400)
    .collect()
}

/// SplitMix64: small, fast and the same everywhere.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// In `[0, n)`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// In `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A standard normal value (Box-Muller).
    fn normal(&mut self) -> f64 {
        let u = self.unit().max(1e-12);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Log-normal around `median`.
    pub fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// Poisson with mean `lambda`.
    pub fn poisson(&mut self, lambda: f64) -> u32 {
        if lambda > 30.0 {
            return (lambda + lambda.sqrt() * self.normal()).round().max(0.0) as u32;
        }
        let (limit, mut p, mut k) = ((-lambda).exp(), 1.0, 0);
        loop {
            p *= self.unit();
            if p <= limit {
                return k;
            }
            k += 1;
        }
    }

    /// An index drawn by `weights`.
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut at = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if at < *w {
                return i;
            }
            at -= w;
        }
        weights.len() - 1
    }
}

/// A client program: what its flows carry.
#[derive(Clone, Copy)]
struct Client {
    family: Option<&'static str>,
    kind: SoftwareKind,
    ja4: &'static str,
    alpn: &'static str,
    /// Its QUIC fingerprint, if it speaks QUIC.
    quic: Option<&'static str>,
    /// GREASE ECH in its ClientHellos.
    grease: bool,
}

const CHROMIUM: Client = Client {
    family: Some("Chromium"),
    kind: SoftwareKind::Browser,
    ja4: "t13d1517h2_8daaf6152771_cb7bf5808d99",
    alpn: "h2,http/1.1",
    quic: Some("q13d0312h3_55b375c5d22e_178839b6cec1"),
    grease: true,
};
/// A browser the fingerprints do not know (Firefox, Safari).
const OTHER_BROWSER: Client = Client {
    family: None,
    kind: SoftwareKind::Unknown,
    ja4: "t13d1715h2_5b57614c22b0_3d5424432f57",
    alpn: "h2,http/1.1",
    quic: None,
    grease: false,
};
const PROGRAMS: [Client; 5] = [
    Client {
        family: Some("Python (OpenSSL)"),
        kind: SoftwareKind::Program,
        ja4: "t13d181100_85036bcba153_d41ae481755e",
        alpn: "",
        quic: None,
        grease: false,
    },
    Client {
        family: Some("Node (OpenSSL)"),
        kind: SoftwareKind::Program,
        ja4: "t13d591000_a33745022dd6_1f22a2ca17c4",
        alpn: "",
        quic: None,
        grease: false,
    },
    Client {
        family: Some("Go"),
        kind: SoftwareKind::Program,
        ja4: "t13d1910h2_9dc949149365_97f8aa674fd9",
        alpn: "h2,http/1.1",
        quic: None,
        grease: false,
    },
    Client {
        family: Some("Java"),
        kind: SoftwareKind::Program,
        ja4: "t13d3713h2_db35923f8641_7c76daad20ec",
        alpn: "h2,http/1.1",
        quic: None,
        grease: false,
    },
    Client {
        family: Some("curl (OpenSSL)"),
        kind: SoftwareKind::Program,
        ja4: "t13d3112h2_e8f1e7e78f70_b26ce05bbdd6",
        alpn: "h2,http/1.1",
        quic: None,
        grease: false,
    },
];
/// A program whose TLS library the fingerprints do not know.
const UNKNOWN_PROGRAM: Client = Client {
    family: None,
    kind: SoftwareKind::Unknown,
    ja4: "t13d1311h2_f4c3a8d2b1e0_0a9b8c7d6e5f",
    alpn: "h2,http/1.1",
    quic: None,
    grease: false,
};
/// A plaintext HTTP client (User-Agent `python-requests/...`).
const PYTHON_REQUESTS: Client = Client {
    family: Some("Python requests"),
    kind: SoftwareKind::Program,
    ja4: "",
    alpn: "",
    quic: None,
    grease: false,
};

/// An app of the catalog as the site uses it.
struct SiteApp {
    id: String,
    category: Category,
    /// Server names that the catalog gives this app, with the pattern that matched each.
    names: Vec<(String, String)>,
    /// The day it first appears on the site (0: from the start).
    launch: i64,
}

/// Popular apps and how much more each is used than the long tail.
const POPULAR: [(&str, f64); 14] = [
    ("openai-chatgpt", 30.0),
    ("microsoft-copilot", 14.0),
    ("google-gemini", 10.0),
    ("anthropic-claude", 8.0),
    ("grammarly", 5.0),
    ("perplexity", 4.0),
    ("notion-ai", 3.0),
    ("deepseek-chat", 1.5),
    ("otter-ai", 1.5),
    ("mistral-le-chat", 1.0),
    ("midjourney", 1.0),
    ("huggingface", 1.0),
    ("elevenlabs", 0.5),
    ("character-ai", 0.4),
];
/// Engineers' coding assistants (in the editor: a browser engine).
const CODING: [(&str, f64); 2] = [("github-copilot", 3.0), ("cursor", 1.0)];
/// Model APIs, for programs.
const APIS: [(&str, f64); 6] = [
    ("openai-api", 40.0),
    ("anthropic-api", 25.0),
    ("google-gemini-api", 15.0),
    ("mistral-api", 5.0),
    ("openrouter", 5.0),
    ("perplexity-api", 3.0),
];
/// Remote MCP servers agents call.
const MCP_REMOTE: [&str; 4] = [
    "notion-mcp",
    "airtable-mcp",
    "cloudflare-docs-mcp",
    "gitmcp-mcp",
];
/// Apps of the long tail.
const LONG_TAIL: usize = 250;
/// Uncatalogued names that look like AI.
const CANDIDATES: usize = 40;

/// Who a row is attributed to.
struct Who {
    identity: Identity,
    ip: String,
    sensor: usize,
}

/// A person on the site.
struct Person {
    who: Who,
    /// Sessions per working hour, once they started.
    rate: f64,
    /// The day they start using AI.
    adopted: i64,
    /// Days off, one in so many.
    absent: f64,
    browser: Client,
    /// Their apps and how much each.
    apps: Vec<(usize, f64)>,
    /// An engineer's agent: the program and the model API it calls.
    agent: Option<(Client, usize)>,
    /// Uses the local model server, with a program (else a browser UI).
    local: Option<Client>,
    /// Calls the MCP servers through an agent.
    mcp: bool,
    /// Resolves over DoH, with this resolver's name.
    doh: Option<&'static str>,
    /// Candidate names they use.
    candidates: Vec<usize>,
}

/// A program on a server calling a model API.
struct Service {
    who: Who,
    client: Client,
    app: usize,
    /// Calls per hour.
    rate: f64,
    /// Around the clock, else office hours.
    always: bool,
    adopted: i64,
}

/// The whole site: people, services, apps and names.
pub struct Site {
    apps: Vec<SiteApp>,
    popular: Vec<(usize, f64)>,
    tail: Vec<usize>,
    coding: Vec<(usize, f64)>,
    apis: Vec<(usize, f64)>,
    mcp_remote: Vec<usize>,
    /// (app index, server address, port, Host name).
    local_servers: Vec<(usize, String, u16, String)>,
    mcp_local: (usize, String),
    candidates: Vec<String>,
    people: Vec<Person>,
    services: Vec<Service>,
    holidays: Vec<i64>,
    scale: f64,
}

const FIRST: [&str; 48] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "wendy", "aisha",
    "bruno", "chen", "dmitri", "elena", "fatima", "gustavo", "hiro", "ingrid", "jamal", "kenji",
    "lucia", "mateo", "nadia", "omar", "priya", "quinn", "rosa", "sanjay", "tomas", "ulla", "vera",
    "wei", "ximena", "yusuf", "zoe", "arjun", "beatriz",
];
const LAST: [&str; 48] = [
    "smith", "garcia", "mueller", "rossi", "novak", "tanaka", "kim", "okafor", "silva", "dubois",
    "jensen", "kowalski", "ivanova", "haddad", "nguyen", "patel", "cohen", "oconnor", "larsen",
    "moreau", "schmidt", "romero", "sato", "li", "mensah", "fischer", "bianchi", "horvat",
    "andersen", "costa", "yilmaz", "ali", "khan", "walsh", "berg", "nakamura", "park", "reyes",
    "weber", "lopez", "meyer", "santos", "ito", "zhang", "brown", "wilson", "taylor", "clark",
];

impl Site {
    /// The site, from the catalog and the seed.
    pub fn new(catalog: &Catalog, scale: f64) -> Site {
        let mut rng = Rng::new(0x1a27_e2d0_5eed);
        let mut apps: Vec<SiteApp> = Vec::new();
        let mut add = |id: &str, launch: i64| -> Option<usize> {
            let app = catalog.app(id)?;
            let names = names_of(catalog, id, &app.domains);
            // An app known by its names needs one that the catalog gives back to it; one known
            // by its requests or protocol (a local server) has none.
            if names.is_empty() && !app.domains.is_empty() {
                return None;
            }
            apps.push(SiteApp {
                id: id.to_string(),
                category: app.category,
                names,
                launch,
            });
            Some(apps.len() - 1)
        };
        let weighted = |list: &[(&str, f64)], add: &mut dyn FnMut(&str, i64) -> Option<usize>| {
            (list.iter())
                .filter_map(|(id, w)| add(id, 0).map(|i| (i, *w)))
                .collect::<Vec<_>>()
        };
        let popular = weighted(&POPULAR, &mut add);
        let coding = weighted(&CODING, &mut add);
        let apis = weighted(&APIS, &mut add);
        let mcp_remote: Vec<usize> = MCP_REMOTE.iter().filter_map(|id| add(id, 0)).collect();
        let known: Vec<&str> = (POPULAR.iter().chain(&CODING).chain(&APIS))
            .map(|(id, _)| *id)
            .chain(MCP_REMOTE)
            .collect();
        // The long tail: apps people use in a browser, each appearing on a day of the year
        // (a third were there from the start).
        let mut others: Vec<&str> = (catalog.apps().iter())
            .filter(|a| {
                !known.contains(&a.id.as_str())
                    && !matches!(
                        a.category,
                        Category::LocalModelServer
                            | Category::McpServer
                            | Category::LlmApi
                            | Category::AiGateway
                            | Category::AiPlatformCloud
                            | Category::LlmOps
                    )
                    && !a.domains.is_empty()
            })
            .map(|a| a.id.as_str())
            .collect();
        for i in (1..others.len()).rev() {
            others.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let mut tail = Vec::new();
        for id in others {
            if tail.len() == LONG_TAIL {
                break;
            }
            let launch = match rng.chance(0.35) {
                true => 0,
                false => rng.below(WEEKS as u64 * 7) as i64,
            };
            if let Some(i) = add(id, launch) {
                tail.push(i);
            }
        }
        let mut local_servers = Vec::new();
        for (id, ip, port, host) in [
            (
                "ollama-server",
                "10.10.50.10",
                11434,
                "gpu01.lab.corp.example",
            ),
            (
                "lm-studio-server",
                "10.10.50.22",
                1234,
                "ws-ml-22.corp.example",
            ),
        ] {
            if let Some(i) = add(id, 0) {
                local_servers.push((i, ip.to_string(), port, host.to_string()));
            }
        }
        let mcp_app = catalog
            .identify_protocol("mcp")
            .map(|i| i.app.id.clone())
            .expect("the catalog has the plaintext MCP app");
        let mcp_index = add(&mcp_app, 0).expect("plaintext MCP app");
        let candidates = candidate_names(catalog, &mut rng);
        let mut site = Site {
            apps,
            popular,
            tail,
            coding,
            apis,
            mcp_remote,
            local_servers,
            mcp_local: (mcp_index, "10.10.60.20".to_string()),
            candidates,
            people: Vec::new(),
            services: Vec::new(),
            holidays: holidays(),
            scale,
        };
        site.people = (0..PEOPLE).map(|i| site.person(i, &mut rng)).collect();
        site.dedup_names();
        site.services = site.make_services(&mut rng);
        site
    }

    fn person(&self, i: usize, rng: &mut Rng) -> Person {
        let sensor = match rng.unit() {
            x if x < SENSORS[0].1 => 0,
            x if x < SENSORS[0].1 + SENSORS[1].1 => 1,
            _ => 2,
        };
        let (first, last) = (rng.pick(&FIRST), rng.pick(&LAST));
        let ip = format!("10.{}.{}.{}", 20 + sensor, 1 + i / 250, 1 + i % 250);
        let group = GROUPS[rng.weighted(&GROUPS.map(|g| g.1))].0;
        let source = rng.weighted(&[0.55, 0.35, 0.07, 0.03]);
        let identity = match source {
            0 => Identity {
                user: format!("{first}.{last}"),
                source: UserSource::Static,
                device: Some(format!("{first}-{last}-lt")),
                group: Some(group.to_string()),
                person: true,
                ..Identity::unknown()
            },
            1 => Identity {
                user: format!("{first}.{last}@CORP.EXAMPLE"),
                source: UserSource::Kerberos,
                device: Some(format!("ws{:04}", 1000 + i)),
                person: true,
                ..Identity::unknown()
            },
            2 => {
                let name = format!("{first}-{last}-mbp.corp.example");
                Identity {
                    user: name.clone(),
                    source: UserSource::Dhcp,
                    device: Some(name),
                    ..Identity::unknown()
                }
            }
            _ => Identity {
                user: ip.clone(),
                ..Identity::unknown()
            },
        };
        let engineer = group == "engineering" || (source != 0 && rng.chance(0.2));
        let heavy = rng.weighted(&[0.15, 0.45, 0.40]);
        let rate = [2.7, 1.1, 0.37][heavy] * rng.lognormal(1.0, 0.3);
        let adopted = match rng.chance(0.7) {
            true => 0,
            false => rng.below(WEEKS as u64 * 7) as i64,
        };
        let mut apps: Vec<(usize, f64)> = Vec::new();
        let weights: Vec<f64> = self.popular.iter().map(|p| p.1).collect();
        for _ in 0..1 + rng.below(3) {
            let (app, w) = self.popular[rng.weighted(&weights)];
            if !apps.iter().any(|a| a.0 == app) {
                apps.push((app, w * rng.lognormal(1.0, 0.5)));
            }
        }
        for _ in 0..rng.poisson(1.2) {
            let app = *rng.pick(&self.tail);
            apps.push((app, rng.lognormal(2.0, 0.8)));
        }
        if engineer && !self.coding.is_empty() {
            let weights: Vec<f64> = self.coding.iter().map(|c| c.1).collect();
            apps.push((self.coding[rng.weighted(&weights)].0, 12.0));
        }
        let api_weights: Vec<f64> = self.apis.iter().map(|a| a.1).collect();
        let agent = (engineer && rng.chance(0.4) && !self.apis.is_empty()).then(|| {
            let client = PROGRAMS[rng.weighted(&[0.4, 0.45, 0.1, 0.03, 0.02])];
            (client, self.apis[rng.weighted(&api_weights)].0)
        });
        let local = (engineer && rng.chance(0.12)).then(|| match rng.chance(0.6) {
            true => PYTHON_REQUESTS,
            false => CHROMIUM,
        });
        let mcp = agent.is_some() && rng.chance(0.3);
        let doh = rng
            .chance(0.03)
            .then(|| *rng.pick(&["cloudflare-dns.com", "dns.google", "dns.quad9.net"]));
        let candidates = match rng.chance(0.08) {
            true => (0..1 + rng.below(2))
                .map(|_| rng.below(self.candidates.len() as u64) as usize)
                .collect(),
            false => Vec::new(),
        };
        Person {
            who: Who {
                identity,
                ip,
                sensor,
            },
            rate,
            adopted,
            absent: rng.lognormal(0.06, 0.5).min(0.3),
            browser: match rng.chance(0.75) {
                true => CHROMIUM,
                false => OTHER_BROWSER,
            },
            apps,
            agent,
            local,
            mcp,
            doh,
            candidates,
        }
    }

    /// Two people of the same name get a digit.
    fn dedup_names(&mut self) {
        let mut seen: HashMap<String, u32> = HashMap::new();
        for p in &mut self.people {
            let id = &mut p.who.identity;
            if id.source == UserSource::Ip {
                continue;
            }
            let n = seen.entry(id.user.clone()).or_default();
            *n += 1;
            if *n > 1 {
                let (name, realm) = id
                    .user
                    .split_once('@')
                    .map_or((id.user.as_str(), String::new()), |(n, r)| {
                        (n, format!("@{r}"))
                    });
                let (name, rest) = name.split_once('.').unwrap_or((name, ""));
                id.user = format!("{name}{n}.{rest}{realm}");
                if id.source == UserSource::Dhcp {
                    id.device = Some(id.user.clone());
                }
            }
        }
    }

    fn make_services(&self, rng: &mut Rng) -> Vec<Service> {
        let names = [
            "etl",
            "crm-sync",
            "support-bot",
            "search-index",
            "doc-summary",
            "translate",
            "fraud-score",
            "ticket-triage",
            "report-gen",
            "code-review",
            "chat-backend",
            "email-draft",
            "kb-embed",
            "lead-enrich",
            "invoice-ocr",
            "qa-eval",
        ];
        let weights: Vec<f64> = self.apis.iter().map(|a| a.1).collect();
        let mut out = Vec::new();
        for i in 0..40 {
            let (user, device) = match i {
                0..32 => (
                    format!("svc-{}-{}", names[i % names.len()], 1 + i / names.len()),
                    None,
                ),
                _ => (
                    format!("ci-runner-{:02}", i - 31),
                    Some(format!("ci{:02}.build.corp.example", i - 31)),
                ),
            };
            let identity = Identity {
                user,
                source: UserSource::Static,
                device,
                group: Some(match i {
                    0..32 => "services".to_string(),
                    _ => "build".to_string(),
                }),
                server: true,
                ..Identity::unknown()
            };
            let client = match rng.chance(0.75) {
                true => PROGRAMS[rng.weighted(&[0.5, 0.2, 0.15, 0.1, 0.05])],
                false => UNKNOWN_PROGRAM,
            };
            out.push(Service {
                who: Who {
                    identity,
                    ip: format!("10.20.200.{}", 10 + i),
                    sensor: 0,
                },
                client,
                app: self.apis[rng.weighted(&weights)].0,
                rate: rng.lognormal(3.6, 0.8).min(36.0),
                always: rng.chance(0.6),
                adopted: match rng.chance(0.6) {
                    true => 0,
                    false => rng.below(WEEKS as u64 * 7) as i64,
                },
            });
        }
        out
    }
}

/// The names of `id` the catalog's matcher gives back to it, with the pattern that matched.
fn names_of(catalog: &Catalog, id: &str, domains: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for domain in domains {
        let name = domain.trim_start_matches('=').replace('*', "us-east-1");
        if let Some(found) = catalog.identify(&name)
            && found.app.id == id
            && !out.iter().any(|(n, _)| *n == name)
        {
            out.push((name, found.pattern.to_string()));
        }
        if out.len() == 3 {
            break;
        }
    }
    out
}

/// Names that look like AI and that the catalog does not know.
fn candidate_names(catalog: &Catalog, rng: &mut Rng) -> Vec<String> {
    let stems = [
        "acme", "nimbus", "quill", "orbit", "lumen", "vertex", "sable", "kite", "ember", "flux",
        "harbor", "juniper", "marble", "onyx", "pixel", "ripple", "tundra", "willow", "zephyr",
    ];
    let shapes = [
        "{}gpt.com",
        "chat.{}.io",
        "{}-llm.dev",
        "{}.ai",
        "ai.{}.app",
        "{}copilot.net",
    ];
    let mut out: Vec<String> = Vec::new();
    while out.len() < CANDIDATES {
        let (shape, stem) = (*rng.pick(&shapes), *rng.pick(&stems));
        let name = shape.replace("{}", stem);
        if !out.contains(&name) && catalog.classify(Some(&name), None, 443) == (None, true) {
            out.push(name);
        }
    }
    out
}

/// The rollup key of a row (sensor by index; the store stamps its name).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    hour: i64,
    user: String,
    app: String,
    source: &'static str,
    kind: &'static str,
    device: String,
    group: String,
}

#[derive(Clone, Copy, Default)]
struct Sums {
    flows: u64,
    lookups: u64,
    up: u64,
    down: u64,
    first: i64,
    last: i64,
}

/// What background traffic is counted by: transport, protocol, name source, ECH, one way,
/// encrypted DNS.
type Traffic = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    u8,
    &'static str,
);

/// The coverage key of a flow.
type CoverageKey = (
    i64,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    u8,
    &'static str,
);

/// What one batch (a sensor's week) gathers.
#[derive(Default)]
struct Out {
    flows: Vec<FlowRow>,
    dns: Vec<DnsRow>,
    rollups: HashMap<Key, Sums>,
    coverage: HashMap<CoverageKey, (u64, u64, u64, u64)>,
    flow_id: u64,
}

impl Out {
    fn roll(&mut self, key: Key, f: impl FnOnce(&mut Sums)) {
        let s = self.rollups.entry(key).or_insert(Sums {
            first: i64::MAX,
            last: i64::MIN,
            ..Sums::default()
        });
        f(s);
    }

    /// Adds a flow row: its rollup (when catalogued) and its coverage.
    fn flow(&mut self, row: FlowRow) {
        let hour = row.ts_us.div_euclid(3_600_000_000) * 3600;
        if let Some(app) = &row.app_id {
            let key = Key {
                hour,
                user: row.user.clone(),
                app: app.clone(),
                source: source_name(&row.user_source),
                kind: kind_name(&row.user_kind),
                device: row.device.clone().unwrap_or_default(),
                group: row.user_group.clone().unwrap_or_default(),
            };
            let (first, part) = (row.part == 0, (row.bytes_up, row.bytes_down));
            let (ts, end) = (row.ts_us, row.end_ts_us);
            self.roll(key, |s| {
                s.flows += u64::from(first);
                s.up += part.0;
                s.down += part.1;
                s.first = s.first.min(ts);
                s.last = s.last.max(end);
            });
        }
        let c = self
            .coverage
            .entry((
                hour,
                static_name(&row.transport),
                static_name(&row.protocol),
                static_name(&row.name_source),
                static_name(row.ech_kind.as_deref().unwrap_or("none")),
                0,
                static_name(row.encrypted_dns.as_deref().unwrap_or("")),
            ))
            .or_default();
        c.0 += u64::from(row.part == 0);
        c.1 += row.bytes_up;
        c.2 += row.bytes_down;
        self.flows.push(row);
    }

    /// Adds a lookup row and its rollup (when catalogued).
    fn dns(&mut self, row: DnsRow) {
        if let Some(app) = &row.app_id {
            let key = Key {
                hour: row.ts_us.div_euclid(3_600_000_000) * 3600,
                user: row.user.clone(),
                app: app.clone(),
                source: source_name(&row.user_source),
                kind: kind_name(&row.user_kind),
                device: row.device.clone().unwrap_or_default(),
                group: row.user_group.clone().unwrap_or_default(),
            };
            let ts = row.ts_us;
            self.roll(key, |s| {
                s.lookups += 1;
                s.first = s.first.min(ts);
                s.last = s.last.max(ts);
            });
        }
        self.dns.push(row);
    }

    fn batch(&mut self) -> Batch {
        let mut rollups: Vec<RollupRow> = (self.rollups.drain())
            .map(|(k, s)| RollupRow {
                hour: k.hour,
                user: k.user,
                app_id: k.app,
                user_source: k.source.to_string(),
                user_kind: k.kind.to_string(),
                device: k.device,
                user_group: k.group,
                flows: s.flows,
                dns_lookups: s.lookups,
                bytes_up: s.up,
                bytes_down: s.down,
                first_seen_us: s.first,
                last_seen_us: s.last,
                ..RollupRow::default()
            })
            .collect();
        rollups.sort_unstable();
        let mut coverage: Vec<CoverageRow> = (self.coverage.drain())
            .map(|(k, c)| CoverageRow {
                hour: k.0,
                transport: k.1.to_string(),
                protocol: k.2.to_string(),
                name_source: k.3.to_string(),
                ech_kind: k.4.to_string(),
                one_way: k.5,
                encrypted_dns: k.6.to_string(),
                flows: c.0,
                bytes_up: c.1,
                bytes_down: c.2,
                evicted: c.3,
                ..CoverageRow::default()
            })
            .collect();
        coverage.sort_unstable();
        Batch {
            flows: std::mem::take(&mut self.flows),
            dns: std::mem::take(&mut self.dns),
            rollups,
            coverage,
            ..Batch::default()
        }
    }
}

/// The names rows carry, as the `&'static str` keys are made of.
fn static_name(name: &str) -> &'static str {
    const ALL: [&str; 24] = [
        "tcp",
        "udp",
        "tls",
        "quic",
        "http",
        "mcp",
        "dns",
        "dhcp",
        "kerberos",
        "unknown",
        "tls_sni",
        "quic_sni",
        "http_host",
        "dns_answer",
        "none",
        "grease",
        "real",
        "doh",
        "dot",
        "doq",
        "",
        "static",
        "ip",
        "person",
    ];
    ALL.iter()
        .find(|n| **n == name)
        .copied()
        .unwrap_or("unknown")
}

fn source_name(name: &str) -> &'static str {
    UserSource::from_name(name).map_or("ip", UserSource::name)
}

fn kind_name(name: &str) -> &'static str {
    UserKind::from_name(name).map_or("unknown", UserKind::name)
}

/// One use of an app: who, with what, to which name, when.
struct Use<'a> {
    who: &'a Who,
    client: Client,
    app: Option<usize>,
    /// An uncatalogued name instead of an app.
    name: Option<&'a str>,
    start_us: i64,
    flows: u32,
    /// Median bytes up of a flow.
    up: f64,
    /// Median bytes down.
    down: f64,
}

impl Site {
    /// Writes the site into a new store at `path`; returns the row counts.
    pub fn write(&self, path: &Path) -> Result<Counts, StoreError> {
        let mut stores: Vec<Store> = Vec::new();
        for (name, _) in SENSORS {
            stores.push(Store::Sqlite(SqliteStore::open(path, name)?));
        }
        let mut counts = Counts::default();
        let mut outs: Vec<Out> = (0..SENSORS.len()).map(|_| Out::default()).collect();
        let mut rng = Rng::new(0x005e_ed0f_7ea2);
        for week in 0..WEEKS {
            for (s, out) in outs.iter_mut().enumerate() {
                for day in week * 7..week * 7 + 7 {
                    self.day(s, day, &mut rng, out);
                }
                let batch = out.batch();
                counts.add(&batch);
                // One writer at a time: the others' writing threads are done first.
                for (other, store) in stores.iter_mut().enumerate() {
                    if other != s {
                        store.sync()?;
                    }
                }
                stores[s].write(batch)?;
            }
        }
        for (s, store) in stores.iter_mut().enumerate() {
            let health = self.health(s);
            counts.health += 1;
            store.write(Batch {
                health: vec![health],
                ..Batch::default()
            })?;
            store.sync()?;
        }
        Ok(counts)
    }

    fn health(&self, s: usize) -> HealthRow {
        let end = (first_day() + WEEKS * 7 * 86_400) * 1_000_000;
        HealthRow {
            sensor: SENSORS[s].0.to_string(),
            ts_us: end - 60_000_000,
            started_us: end - (20 + 7 * s as i64) * 86_400_000_000,
            version: env!("CARGO_PKG_VERSION").to_string(),
            interfaces: "eth1".to_string(),
            packets: 9_400_000_000 / (s as u64 + 1),
            bytes: 7_100_000_000_000 / (s as u64 + 1),
            drops_kernel: 1200 * s as u64,
            drops_interface: 0,
            drops_queue: 35 * s as u64,
            flows_evicted: 410 * (s as u64 + 1),
            flows_open: 52_000 / (s as u64 + 1),
            backlog_rows: 120,
            last_write_us: 48_000,
            ..HealthRow::default()
        }
    }

    /// One day of sensor `s`.
    fn day(&self, s: usize, day: i64, rng: &mut Rng, out: &mut Out) {
        let midnight = (first_day() + day * 86_400) * 1_000_000;
        let workday = day % 7 < 5 && !self.holidays.contains(&day);
        // Office hours (UTC): how busy each hour is.
        const HOURS: [f64; 24] = [
            0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.15, 0.6, 1.0, 1.0, 0.9, 0.6, 0.8, 1.0, 1.0, 0.9,
            0.6, 0.25, 0.1, 0.05, 0.0, 0.0, 0.0,
        ];
        let mut present = 0usize;
        for p in self.people.iter().filter(|p| p.who.sensor == s) {
            if !workday || rng.chance(p.absent) {
                continue;
            }
            present += 1;
            if day < p.adopted {
                continue;
            }
            for (h, busy) in HOURS.iter().enumerate() {
                if *busy == 0.0 {
                    continue;
                }
                let hour = midnight + h as i64 * 3_600_000_000;
                let sessions = rng.poisson(p.rate * busy * self.scale);
                for _ in 0..sessions {
                    let at = hour + rng.below(3_600_000_000) as i64;
                    self.person_session(p, day, at, rng, out);
                }
            }
        }
        for svc in self.services.iter().filter(|v| v.who.sensor == s) {
            if day < svc.adopted || (!svc.always && !workday) {
                continue;
            }
            for (h, busy) in HOURS.iter().enumerate() {
                let busy = if svc.always { 1.0 } else { *busy };
                let n = rng.poisson(svc.rate * busy * self.scale);
                for _ in 0..n {
                    let at = midnight + h as i64 * 3_600_000_000 + rng.below(3_600_000_000) as i64;
                    self.emit(
                        &Use {
                            who: &svc.who,
                            client: svc.client,
                            app: Some(svc.app),
                            name: None,
                            start_us: at,
                            flows: 1,
                            up: 6_000.0,
                            down: 3_000.0,
                        },
                        rng,
                        out,
                    );
                }
            }
        }
        self.background(s, midnight, present, workday, rng, out);
    }

    /// One session of a person: an app in the browser, mostly; sometimes their agent, the
    /// local model server, an MCP server, a candidate name or DoH.
    fn person_session(&self, p: &Person, day: i64, at: i64, rng: &mut Rng, out: &mut Out) {
        let what = rng.unit();
        let browse = |app: usize, rng: &mut Rng| Use {
            who: &p.who,
            client: p.browser,
            app: Some(app),
            name: None,
            start_us: at,
            flows: 1 + rng.poisson(1.2),
            up: 4_000.0,
            down: 30_000.0,
        };
        if let Some((client, api)) = p.agent.filter(|_| what < 0.18) {
            let mut u = browse(api, rng);
            (u.client, u.flows, u.up, u.down) = (client, 1 + rng.poisson(3.0), 12_000.0, 6_000.0);
            self.emit(&u, rng, out);
            if p.mcp && rng.chance(0.3) {
                let remote = !self.mcp_remote.is_empty() && rng.chance(0.6);
                match remote {
                    true => {
                        let mut u = browse(*rng.pick(&self.mcp_remote), rng);
                        (u.client, u.flows, u.up, u.down) = (client, 1, 2_000.0, 8_000.0);
                        self.emit(&u, rng, out);
                    }
                    false => self.mcp_local(p, at, rng, out),
                }
            }
            return;
        }
        if let Some(client) = p.local.filter(|_| what < 0.30) {
            self.local_server(p, client, at, rng, out);
            return;
        }
        if !p.candidates.is_empty() && what < 0.33 {
            let name = &self.candidates[*rng.pick(&p.candidates)];
            let mut u = browse(0, rng);
            (u.app, u.name) = (None, Some(name.as_str()));
            self.emit(&u, rng, out);
            return;
        }
        if let Some(resolver) = p.doh.filter(|_| what < 0.40) {
            self.doh(p, resolver, at, rng, out);
        }
        // Now and then, something new from the long tail.
        let app = match rng.chance(0.03) {
            true => *rng.pick(&self.tail),
            false => {
                let weights: Vec<f64> = p.apps.iter().map(|a| a.1).collect();
                p.apps[rng.weighted(&weights)].0
            }
        };
        if self.apps[app].launch > day {
            return;
        }
        let mut u = browse(app, rng);
        if rng.chance(0.01) {
            // A file: a document or a spreadsheet pasted in.
            u.up = rng.lognormal(1_500_000.0, 1.0);
        }
        self.emit(&u, rng, out);
    }

    /// The rows of one use: its flows (long ones in interim records) and, often, the DNS
    /// lookup before them.
    fn emit(&self, u: &Use<'_>, rng: &mut Rng, out: &mut Out) {
        let (name, pattern, app_id, category) = match (u.app, u.name) {
            (Some(a), _) => {
                let app = &self.apps[a];
                let (name, pattern) = &app.names[rng.weighted(&first_heavy(app.names.len()))];
                (
                    name.as_str(),
                    Some(pattern.clone()),
                    Some(app.id.clone()),
                    Some(app.category),
                )
            }
            (None, Some(name)) => (name, None, None, None),
            (None, None) => return,
        };
        let identity = &u.who.identity;
        let kind = identity.kind(category, u.client.kind).name();
        let lookup_kind = identity.kind(category, SoftwareKind::Unknown).name();
        let server_ip = address_of(name);
        if rng.chance(0.45) {
            out.dns(DnsRow {
                ts_us: u.start_us - 20_000,
                flow_id: out.flow_id + 1,
                client_ip: u.who.ip.clone(),
                client_port: 32_768 + rng.below(28_000) as u16,
                server_ip: format!("10.{}.0.53", 20 + u.who.sensor),
                server_port: 53,
                transport: "udp".into(),
                query: name.to_string(),
                qtype: rng.pick(&["A", "A", "AAAA", "HTTPS"]).to_string(),
                rcode: Some("NOERROR".into()),
                answers: server_ip.clone(),
                user: identity.user.clone(),
                user_source: identity.source.name().into(),
                user_kind: lookup_kind.into(),
                device: identity.device.clone(),
                user_group: identity.group.clone(),
                app_id: app_id.clone(),
                app_pattern: pattern.clone(),
                candidate: u8::from(app_id.is_none()),
                ..DnsRow::default()
            });
        }
        for f in 0..u.flows {
            out.flow_id += 1 + rng.below(300);
            let start = u.start_us + i64::from(f) * rng.below(40_000_000) as i64;
            let quic = u.client.quic.filter(|_| rng.chance(0.3));
            let (transport, protocol, source) = match quic {
                Some(_) => ("udp", "quic", "quic_sni"),
                None if rng.chance(0.04) => ("tcp", "tls", "dns_answer"),
                None => ("tcp", "tls", "tls_sni"),
            };
            let up = rng.lognormal(u.up, 1.0) as u64 + 300;
            let down = rng.lognormal(u.down, 1.2) as u64 + 500;
            // Long flows (a streaming answer, a socket kept open) in records of five minutes.
            let long = rng.chance(0.02);
            let duration = match long {
                true => 300_000_000 + rng.below(2_400_000_000) as i64,
                false => rng.lognormal(3_000_000.0, 1.0) as i64 + 50_000,
            };
            let parts = (duration / 300_000_000 + 1) as u32;
            for part in 0..parts {
                let ts = start + i64::from(part) * 300_000_000;
                let end = (ts + 300_000_000).min(start + duration);
                let (up, down) = (up / u64::from(parts), down / u64::from(parts));
                out.flow(FlowRow {
                    ts_us: ts,
                    end_ts_us: end,
                    flow_id: out.flow_id,
                    client_ip: u.who.ip.clone(),
                    client_port: 32_768 + rng.below(28_000) as u16,
                    server_ip: server_ip.clone(),
                    server_port: 443,
                    transport: transport.into(),
                    protocol: protocol.into(),
                    server_name: Some(name.to_string()),
                    name_source: source.into(),
                    user: identity.user.clone(),
                    user_source: identity.source.name().into(),
                    user_kind: kind.into(),
                    device: identity.device.clone(),
                    user_group: identity.group.clone(),
                    app_id: app_id.clone(),
                    app_pattern: pattern.clone(),
                    candidate: u8::from(app_id.is_none()),
                    bytes_up: up,
                    bytes_down: down,
                    packets_up: up / 1200 + 3,
                    packets_down: down / 1200 + 3,
                    tls_version: Some("1.3".into()),
                    tls_alpn: Some(match quic {
                        Some(_) => "h3".into(),
                        None => u.client.alpn.into(),
                    }),
                    ja4: Some(quic.unwrap_or(u.client.ja4).to_string()),
                    ech: Some(u8::from(u.client.grease)),
                    ech_kind: Some(if u.client.grease { "grease" } else { "none" }.into()),
                    client_software: u.client.family.map(str::to_string),
                    client_kind: Some(u.client.kind.name().into()),
                    part,
                    interim: u8::from(part + 1 < parts),
                    ..FlowRow::default()
                });
            }
        }
    }

    /// Plaintext requests to a model server on the local network.
    fn local_server(&self, p: &Person, client: Client, at: i64, rng: &mut Rng, out: &mut Out) {
        let Some((app, ip, port, host)) =
            (!self.local_servers.is_empty()).then(|| rng.pick(&self.local_servers))
        else {
            return;
        };
        let paths = match *port {
            11434 => ["POST /api/chat", "POST /api/generate", "GET /api/tags"],
            _ => [
                "POST /v1/chat/completions",
                "GET /v1/models",
                "POST /v1/embeddings",
            ],
        };
        let app = &self.apps[*app];
        let identity = &p.who.identity;
        for _ in 0..1 + rng.poisson(1.0) {
            out.flow_id += 1 + rng.below(300);
            let requests = 1 + rng.poisson(1.5);
            let mut asked: Vec<&str> = vec![paths[0]];
            if requests > 1 && rng.chance(0.5) {
                asked.push(paths[1 + rng.below(2) as usize]);
            }
            let up = rng.lognormal(8_000.0, 1.0) as u64 + 200;
            let down = rng.lognormal(40_000.0, 1.0) as u64 + 200;
            out.flow(FlowRow {
                ts_us: at,
                end_ts_us: at + rng.lognormal(8_000_000.0, 1.0) as i64,
                flow_id: out.flow_id,
                client_ip: p.who.ip.clone(),
                client_port: 32_768 + rng.below(28_000) as u16,
                server_ip: ip.clone(),
                server_port: *port,
                transport: "tcp".into(),
                protocol: "http".into(),
                server_name: Some(host.clone()),
                name_source: "http_host".into(),
                user: identity.user.clone(),
                user_source: identity.source.name().into(),
                user_kind: identity.kind(Some(app.category), client.kind).name().into(),
                device: identity.device.clone(),
                user_group: identity.group.clone(),
                app_id: Some(app.id.clone()),
                app_pattern: Some(paths[0].to_string()),
                bytes_up: up,
                bytes_down: down,
                packets_up: up / 1200 + 3,
                packets_down: down / 1200 + 3,
                client_software: client.family.map(str::to_string),
                client_kind: Some(client.kind.name().into()),
                requests: Some(requests),
                request_paths: Some(asked.join(",")),
                ..FlowRow::default()
            });
        }
    }

    /// An agent's session with the plaintext MCP server on the local network.
    fn mcp_local(&self, p: &Person, at: i64, rng: &mut Rng, out: &mut Out) {
        let (app, ip) = (&self.apps[self.mcp_local.0], &self.mcp_local.1);
        let identity = &p.who.identity;
        let tools = ["search_docs", "run_query", "create_ticket", "read_file"];
        let tool = *rng.pick(&tools);
        let calls = 2 + rng.poisson(2.0);
        out.flow_id += 1 + rng.below(300);
        let client = PROGRAMS[1];
        out.flow(FlowRow {
            ts_us: at,
            end_ts_us: at + rng.lognormal(2_000_000.0, 1.0) as i64,
            flow_id: out.flow_id,
            client_ip: p.who.ip.clone(),
            client_port: 32_768 + rng.below(28_000) as u16,
            server_ip: ip.clone(),
            server_port: 8000,
            transport: "tcp".into(),
            protocol: "mcp".into(),
            server_name: Some("mcp.tools.corp.example".into()),
            name_source: "http_host".into(),
            user: identity.user.clone(),
            user_source: identity.source.name().into(),
            user_kind: identity.kind(Some(app.category), client.kind).name().into(),
            device: identity.device.clone(),
            user_group: identity.group.clone(),
            app_id: Some(app.id.clone()),
            app_pattern: Some("MCP request over HTTP".into()),
            bytes_up: 800 + rng.below(4_000),
            bytes_down: 1_500 + rng.below(20_000),
            packets_up: 6,
            packets_down: 8,
            client_software: Some("MCP client".into()),
            client_kind: Some("program".into()),
            mcp_transport: Some("streamable_http".into()),
            mcp_method: Some("initialize".into()),
            mcp_client: Some("claude-code/2.1".into()),
            mcp_version: Some("2025-06-18".into()),
            requests: Some(calls + 1),
            request_paths: Some("POST /mcp".into()),
            mcp_calls: Some(calls),
            mcp_methods: Some("initialize,notifications/initialized,tools/list,tools/call".into()),
            mcp_tools: Some(tool.into()),
            ..FlowRow::default()
        });
    }

    /// A DoH connection: kept as evidence of what hides names.
    fn doh(&self, p: &Person, resolver: &str, at: i64, rng: &mut Rng, out: &mut Out) {
        let identity = &p.who.identity;
        out.flow_id += 1 + rng.below(300);
        let up = 2_000 + rng.below(30_000);
        out.flow(FlowRow {
            ts_us: at,
            end_ts_us: at + 60_000_000 + rng.below(600_000_000) as i64,
            flow_id: out.flow_id,
            client_ip: p.who.ip.clone(),
            client_port: 32_768 + rng.below(28_000) as u16,
            server_ip: address_of(resolver),
            server_port: 443,
            transport: "tcp".into(),
            protocol: "tls".into(),
            server_name: Some(resolver.to_string()),
            name_source: "tls_sni".into(),
            user: identity.user.clone(),
            user_source: identity.source.name().into(),
            user_kind: identity.kind(None, p.browser.kind).name().into(),
            device: identity.device.clone(),
            user_group: identity.group.clone(),
            bytes_up: up,
            bytes_down: up * 3,
            packets_up: up / 200,
            packets_down: up / 150,
            tls_version: Some("1.3".into()),
            tls_alpn: Some(p.browser.alpn.into()),
            ja4: Some(p.browser.ja4.into()),
            ech: Some(u8::from(p.browser.grease)),
            ech_kind: Some(if p.browser.grease { "grease" } else { "none" }.into()),
            client_software: p.browser.family.map(str::to_string),
            client_kind: Some(p.browser.kind.name().into()),
            encrypted_dns: Some("doh".into()),
            ..FlowRow::default()
        });
    }

    /// Every other flow of the day, for coverage: per hour, from how many were at work.
    fn background(
        &self,
        s: usize,
        midnight: i64,
        present: usize,
        workday: bool,
        rng: &mut Rng,
        out: &mut Out,
    ) {
        // (transport, protocol, name source, ECH, one way, encrypted DNS), share, bytes up
        const KEYS: [(Traffic, f64, u64); 12] = [
            (("tcp", "tls", "tls_sni", "none", 0, ""), 0.40, 9_000),
            (("tcp", "tls", "tls_sni", "grease", 0, ""), 0.22, 7_000),
            (("udp", "quic", "quic_sni", "none", 0, ""), 0.12, 12_000),
            (("tcp", "http", "http_host", "none", 0, ""), 0.05, 2_000),
            (("udp", "dns", "none", "none", 0, ""), 0.09, 80),
            (("tcp", "tls", "dns_answer", "none", 0, ""), 0.03, 5_000),
            (("tcp", "tls", "none", "real", 0, ""), 0.004, 6_000),
            (("tcp", "unknown", "dns_answer", "none", 0, ""), 0.01, 3_000),
            (("tcp", "unknown", "none", "none", 0, ""), 0.05, 4_000),
            (("udp", "unknown", "none", "none", 0, ""), 0.02, 500),
            (("tcp", "tls", "tls_sni", "none", 1, ""), 0.004, 1_500),
            (("tcp", "tls", "tls_sni", "grease", 0, "dot"), 0.001, 900),
        ];
        for h in 0..24 {
            let office = if workday && (8..18).contains(&h) {
                1.0
            } else {
                0.08
            };
            let total = (present.max(40) as f64 * 260.0 * office) * rng.lognormal(1.0, 0.1);
            let hour = midnight / 1_000_000 + h * 3600;
            for ((t, p, n, e, one, enc), share, up) in KEYS {
                let flows = (total * share) as u64;
                if flows == 0 {
                    continue;
                }
                let c = out
                    .coverage
                    .entry((
                        hour,
                        static_name(t),
                        static_name(p),
                        static_name(n),
                        static_name(e),
                        one,
                        static_name(enc),
                    ))
                    .or_default();
                c.0 += flows;
                c.1 += flows * up;
                c.2 += flows * up * 6;
                c.3 += u64::from(s == 0 && h == 14 && rng.chance(0.02)) * 300;
            }
        }
    }
}

/// Weights that favour a list's first entry.
fn first_heavy(n: usize) -> Vec<f64> {
    (0..n).map(|i| if i == 0 { 6.0 } else { 1.0 }).collect()
}

/// A public address for a name, the same every time.
fn address_of(name: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let [a, b, c, ..] = h.to_be_bytes();
    let first = [104, 142, 151, 162, 172, 185][usize::from(a) % 6];
    format!("{first}.{}.{}.{}", b % 250, c % 250, 1 + a % 250)
}

/// Rows written.
#[derive(Debug, Default)]
pub struct Counts {
    pub flows: u64,
    pub dns: u64,
    pub rollups: u64,
    pub coverage: u64,
    pub health: u64,
}

impl Counts {
    fn add(&mut self, b: &Batch) {
        self.flows += b.flows.len() as u64;
        self.dns += b.dns.len() as u64;
        self.rollups += b.rollups.len() as u64;
        self.coverage += b.coverage.len() as u64;
    }
}
