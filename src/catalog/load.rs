//! Reading and validating catalog files. An invalid catalog is refused with the file, the line
//! and the reason.

use super::{App, Category, Resolver, Risk, Shared, SharedKind, Training, matcher, request};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Spanned;

include!(concat!(env!("OUT_DIR"), "/signatures.rs"));

/// A catalog that cannot be used: where and why.
#[derive(Debug, thiserror::Error)]
pub struct CatalogError {
    /// The file.
    pub file: PathBuf,
    /// The 1-based line, where known.
    pub line: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.reason),
            None => write!(f, "{}: {}", self.file.display(), self.reason),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    #[serde(default)]
    app: Vec<AppToml>,
    #[serde(default)]
    shared: Vec<SharedToml>,
    #[serde(default)]
    not_ai: Vec<SharedToml>,
    #[serde(default)]
    ech_public_name: Vec<SharedToml>,
    #[serde(default)]
    resolver: Vec<ResolverToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppToml {
    id: Spanned<String>,
    name: String,
    vendor: String,
    category: Category,
    #[serde(default)]
    domains: Vec<Spanned<String>>,
    #[serde(default)]
    requests: Vec<Spanned<String>>,
    #[serde(default)]
    ports: Vec<u16>,
    #[serde(default)]
    protocols: Vec<Spanned<String>>,
    hq_country: Option<Spanned<String>>,
    trains_on_user_data: Option<Training>,
    enterprise_plan: Option<bool>,
    risk: Option<Spanned<Risk>>,
    #[serde(default)]
    sources: Vec<String>,
    /// Free text for reviewers.
    #[serde(default)]
    notes: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SharedToml {
    domain: Spanned<String>,
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolverToml {
    id: Spanned<String>,
    name: String,
    #[serde(default)]
    doh: Vec<Spanned<String>>,
    #[serde(default)]
    dot: Vec<Spanned<String>>,
    #[serde(default)]
    sources: Vec<String>,
    /// Free text for reviewers.
    #[serde(default)]
    notes: Option<String>,
}

/// What the loader hands to [`super::Catalog`].
pub(super) struct Loaded {
    pub apps: Vec<App>,
    pub shared: Vec<Shared>,
    pub resolvers: Vec<Resolver>,
    pub files: usize,
}

/// Who claimed a pattern or a request, and where, for messages about clashes.
struct Declared {
    owner: Owner,
    file: PathBuf,
    line: usize,
}

#[derive(Clone, PartialEq, Eq)]
enum Owner {
    App(String),
    Shared,
    Resolver(String),
}

impl fmt::Display for Declared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.owner {
            Owner::App(id) => write!(f, "app {id:?}")?,
            Owner::Shared => f.write_str("a shared or not-AI name")?,
            Owner::Resolver(id) => write!(f, "resolver {id:?}")?,
        }
        write!(f, " ({}:{})", self.file.display(), self.line)
    }
}

/// The state of a load: apps so far and who claimed what.
#[derive(Default)]
struct Builder {
    apps: Vec<App>,
    /// Where each app id sits in `apps`.
    ids: HashMap<String, usize>,
    shared: Vec<Shared>,
    resolvers: Vec<Resolver>,
    /// Where each resolver id was declared.
    resolver_ids: HashMap<String, Declared>,
    patterns: HashMap<String, Declared>,
    /// `METHOD /path` to the apps (with their ports) that claim it.
    requests: HashMap<String, Vec<(Vec<u16>, Declared)>>,
}

/// Loads the shipped files and `extra`, validates, and returns apps and shared names. An app
/// id may appear once in the shipped files; a user's file may override a shipped app (or an
/// earlier user's file) by id.
pub(super) fn load(extra: &[PathBuf]) -> Result<Loaded, CatalogError> {
    let mut sources: Vec<(PathBuf, String, bool)> = BUILTIN
        .iter()
        .map(|(name, text)| (Path::new("signatures").join(name), text.to_string(), false))
        .collect();
    for path in extra {
        sources.extend(read_path(path)?.into_iter().map(|(p, t)| (p, t, true)));
    }
    load_sources(&sources)
}

/// Loads `files` (name, contents) alone, without the shipped catalog, as one catalog whose
/// ids are unique: a catalog directory of another version, for `lantern catalog diff`.
pub(super) fn load_files(files: &[(PathBuf, String)]) -> Result<Loaded, CatalogError> {
    let sources: Vec<(PathBuf, String, bool)> = (files.iter())
        .map(|(p, t)| (p.clone(), t.clone(), false))
        .collect();
    load_sources(&sources)
}

fn load_sources(sources: &[(PathBuf, String, bool)]) -> Result<Loaded, CatalogError> {
    let mut b = Builder::default();
    for (file, text, may_override) in sources {
        let parsed: FileToml = toml::from_str(text).map_err(|e| CatalogError {
            file: file.clone(),
            line: e.span().map(|s| Lines::new(text).of(s.start)),
            reason: e.message().trim_end().to_string(),
        })?;
        let lines = Lines::new(text);
        let at = |offset: usize, reason: String| CatalogError {
            file: file.clone(),
            line: Some(lines.of(offset)),
            reason,
        };
        let mut ids_here: HashMap<String, usize> = HashMap::new();
        for app in parsed.app {
            let line = lines.of(app.id.span().start);
            let id = app.id.get_ref().clone();
            if let Some(first) = ids_here.insert(id.clone(), line) {
                return Err(at(
                    app.id.span().start,
                    format!("app id {id:?} already used on line {first}"),
                ));
            }
            b.add_app(app, file, &lines, *may_override)
                .map_err(|(o, r)| at(o, r))?;
        }
        for (entry, kind) in parsed
            .shared
            .into_iter()
            .map(|e| (e, SharedKind::Shared))
            .chain(parsed.not_ai.into_iter().map(|e| (e, SharedKind::NotAi)))
            .chain(
                parsed
                    .ech_public_name
                    .into_iter()
                    .map(|e| (e, SharedKind::EchPublicName)),
            )
        {
            b.add_shared(entry, kind, file, &lines)
                .map_err(|(o, r)| at(o, r))?;
        }
        for resolver in parsed.resolver {
            b.add_resolver(resolver, file, &lines)
                .map_err(|(o, r)| at(o, r))?;
        }
    }
    Ok(Loaded {
        apps: b.apps,
        shared: b.shared,
        resolvers: b.resolvers,
        files: sources.len(),
    })
}

/// A validation failure: byte offset in the file and the reason.
type Invalid = (usize, String);

impl Builder {
    fn add_app(
        &mut self,
        app: AppToml,
        file: &Path,
        lines: &Lines,
        may_override: bool,
    ) -> Result<(), Invalid> {
        let id_at = app.id.span().start;
        let id = app.id.get_ref().clone();
        if !is_kebab_id(&id) {
            return Err((
                id_at,
                format!("app id {id:?} is not kebab-case (a-z, 0-9, -)"),
            ));
        }
        let replaces = self.ids.get(&id).copied();
        if let Some(old) = replaces {
            if !may_override {
                return Err((
                    id_at,
                    format!(
                        "app id {id:?} is already used in {}",
                        self.apps[old].origin.display()
                    ),
                ));
            }
            // A user's app replaces the shipped one in place, its claims with it.
            let owner = Owner::App(id.clone());
            self.patterns.retain(|_, d| d.owner != owner);
            for claims in self.requests.values_mut() {
                claims.retain(|(_, d)| d.owner != owner);
            }
        }
        if app.domains.is_empty() && app.requests.is_empty() && app.protocols.is_empty() {
            return Err((
                id_at,
                format!("app {id:?} has no domains, no requests and no protocols"),
            ));
        }
        for protocol in &app.protocols {
            let known = super::PROTOCOLS.contains(&protocol.get_ref().as_str());
            if !known || app.category != Category::McpServer {
                return Err((
                    protocol.span().start,
                    format!(
                        "app {id:?}: protocol {:?}: the protocols are {:?}, for category mcp_server",
                        protocol.get_ref(),
                        super::PROTOCOLS
                    ),
                ));
            }
        }
        let by_request = [Category::LocalModelServer, Category::AiGateway];
        if !app.requests.is_empty() && !by_request.contains(&app.category) {
            return Err((
                app.requests[0].span().start,
                format!(
                    "app {id:?}: requests are for categories local_model_server and ai_gateway only"
                ),
            ));
        }
        if !app.ports.is_empty() && app.requests.is_empty() {
            return Err((id_at, format!("app {id:?}: ports without requests")));
        }
        if app.ports.contains(&0) {
            return Err((id_at, format!("app {id:?}: port 0 is not a port")));
        }
        if let Some(country) = &app.hq_country
            && !(country.get_ref().len() == 2
                && country.get_ref().bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err((
                country.span().start,
                format!(
                    "hq_country {:?} is not an ISO 3166 alpha-2 code like \"US\"",
                    country.get_ref()
                ),
            ));
        }
        if let Some(risk) = &app.risk
            && (risk.get_ref().reason.trim().is_empty() || risk.get_ref().reason.contains('\n'))
        {
            return Err((
                risk.span().start,
                "a risk needs a one-line reason".to_string(),
            ));
        }
        let owner = Owner::App(id.clone());
        let declared = |offset: usize| Declared {
            owner: owner.clone(),
            file: file.to_path_buf(),
            line: lines.of(offset),
        };
        let mut domains = Vec::with_capacity(app.domains.len());
        for domain in &app.domains {
            let pattern = domain.get_ref().to_ascii_lowercase();
            check_pattern(&pattern).map_err(|why| {
                (
                    domain.span().start,
                    format!("{:?}: {why}", domain.get_ref()),
                )
            })?;
            self.claim(
                pattern.clone(),
                declared(domain.span().start),
                domain.span().start,
            )?;
            domains.push(pattern);
        }
        for spec in &app.requests {
            let offset = spec.span().start;
            if request::parse_request(spec.get_ref()).is_none() {
                return Err((
                    offset,
                    format!(
                        "request {:?} is not \"METHOD /path\" (upper-case method, no query)",
                        spec.get_ref()
                    ),
                ));
            }
            let claims = self.requests.entry(spec.get_ref().clone()).or_default();
            let overlaps = |ports: &[u16]| {
                ports.is_empty() && app.ports.is_empty()
                    || ports.iter().any(|p| app.ports.contains(p))
            };
            if let Some((_, prev)) = claims.iter().find(|(ports, _)| overlaps(ports)) {
                return Err((
                    offset,
                    format!(
                        "request {:?} on these ports is already claimed by {prev}",
                        spec.get_ref()
                    ),
                ));
            }
            claims.push((app.ports.clone(), declared(offset)));
        }
        let built = App {
            id,
            name: app.name,
            vendor: app.vendor,
            category: app.category,
            domains,
            requests: app.requests.into_iter().map(Spanned::into_inner).collect(),
            ports: app.ports,
            protocols: app.protocols.into_iter().map(Spanned::into_inner).collect(),
            hq_country: app.hq_country.map(Spanned::into_inner),
            trains_on_user_data: app.trains_on_user_data,
            enterprise_plan: app.enterprise_plan,
            risk: app.risk.map(Spanned::into_inner),
            confidence: super::Confidence::of(&app.sources),
            sources: app.sources,
            notes: app.notes,
            origin: file.to_path_buf(),
        };
        match replaces {
            Some(at) => self.apps[at] = built,
            None => {
                self.ids.insert(built.id.clone(), self.apps.len());
                self.apps.push(built);
            }
        }
        Ok(())
    }

    fn add_shared(
        &mut self,
        entry: SharedToml,
        kind: SharedKind,
        file: &Path,
        lines: &Lines,
    ) -> Result<(), Invalid> {
        let offset = entry.domain.span().start;
        let domain = entry.domain.get_ref().to_ascii_lowercase();
        if !is_hostname(&domain) || !domain.contains('.') {
            return Err((
                offset,
                format!("{domain:?} is not a host name of two or more labels"),
            ));
        }
        if entry.reason.trim().is_empty() {
            return Err((offset, format!("{domain:?} needs a reason")));
        }
        let declared = Declared {
            owner: Owner::Shared,
            file: file.to_path_buf(),
            line: lines.of(offset),
        };
        self.claim(domain.clone(), declared, offset)?;
        self.shared.push(Shared {
            domain,
            reason: entry.reason,
            kind,
            origin: file.to_path_buf(),
        });
        Ok(())
    }

    /// Adds a public encrypted-DNS resolver: a unique kebab-case id, a name, at least one DoH
    /// pattern (valid as an app's and claimed like one), valid DoT host names, and sources.
    fn add_resolver(
        &mut self,
        resolver: ResolverToml,
        file: &Path,
        lines: &Lines,
    ) -> Result<(), Invalid> {
        let id_at = resolver.id.span().start;
        let id = resolver.id.get_ref().clone();
        let declared = |offset: usize| Declared {
            owner: Owner::Resolver(id.clone()),
            file: file.to_path_buf(),
            line: lines.of(offset),
        };
        check_resolver_fields(&resolver, &id).map_err(|why| (id_at, why))?;
        if let Some(first) = self.resolver_ids.get(&id) {
            return Err((
                id_at,
                format!(
                    "resolver id {id:?} is already used ({}:{})",
                    first.file.display(),
                    first.line
                ),
            ));
        }
        let mut doh = Vec::with_capacity(resolver.doh.len());
        for pattern in &resolver.doh {
            let offset = pattern.span().start;
            let lower = pattern.get_ref().to_ascii_lowercase();
            check_pattern(&lower)
                .map_err(|why| (offset, format!("{:?}: {why}", pattern.get_ref())))?;
            self.claim(lower.clone(), declared(offset), offset)?;
            doh.push(lower);
        }
        let dot = dot_names(&resolver.dot)?;
        self.resolver_ids.insert(id.clone(), declared(id_at));
        self.resolvers.push(Resolver {
            id,
            name: resolver.name,
            doh,
            dot,
            sources: resolver.sources,
            notes: resolver.notes,
            origin: file.to_path_buf(),
        });
        Ok(())
    }

    /// Records that `pattern` is claimed, refusing a second claim of the same pattern.
    fn claim(&mut self, pattern: String, by: Declared, offset: usize) -> Result<(), Invalid> {
        if let Some(prev) = self.patterns.get(&pattern) {
            let who = match &by.owner {
                Owner::App(id) => format!("app {id:?}"),
                Owner::Shared => "this entry".to_string(),
                Owner::Resolver(id) => format!("resolver {id:?}"),
            };
            return Err((
                offset,
                format!("{pattern:?} of {who} is already claimed by {prev}"),
            ));
        }
        self.patterns.insert(pattern, by);
        Ok(())
    }
}

/// Checks the fields of a resolver that need no other entry: a kebab-case id, a name, DoH
/// patterns and sources.
fn check_resolver_fields(resolver: &ResolverToml, id: &str) -> Result<(), String> {
    if !is_kebab_id(id) {
        return Err(format!(
            "resolver id {id:?} is not kebab-case (a-z, 0-9, -)"
        ));
    }
    if resolver.name.trim().is_empty() {
        return Err(format!("resolver {id:?} has no name"));
    }
    if resolver.doh.is_empty() {
        return Err(format!("resolver {id:?} has no doh patterns"));
    }
    if resolver.sources.is_empty() || resolver.sources.iter().any(|s| s.trim().is_empty()) {
        return Err(format!("resolver {id:?} has no sources, or a blank one"));
    }
    Ok(())
}

/// A resolver's DoT names, lower-cased: host names of two or more labels. They are not claimed:
/// DoT is recognised by its port, and the same name often serves DoH too.
fn dot_names(names: &[Spanned<String>]) -> Result<Vec<String>, Invalid> {
    names
        .iter()
        .map(|name| {
            let lower = name.get_ref().to_ascii_lowercase();
            match is_hostname(&lower) && lower.contains('.') {
                true => Ok(lower),
                false => Err((
                    name.span().start,
                    format!("dot name {lower:?} is not a host name of two or more labels"),
                )),
            }
        })
        .collect()
}

/// Checks a name pattern: an optional `=`, then a host name whose labels may hold one `*`
/// each, with a literal tail of at least two labels after the last wildcard.
fn check_pattern(pattern: &str) -> Result<(), String> {
    let name = pattern.strip_prefix('=').unwrap_or(pattern);
    if name.split('.').count() < 2 {
        return Err("a pattern needs at least two labels".to_string());
    }
    let Some((head, tail)) = matcher::split_glob(name) else {
        return match is_hostname(name) {
            true => Ok(()),
            false => Err("not a valid host name".to_string()),
        };
    };
    if head.iter().any(|label| label.matches('*').count() > 1) {
        return Err("at most one * per label".to_string());
    }
    if tail.split('.').count() < 2 || !is_hostname(tail) {
        return Err(
            "a wildcard needs at least two literal labels after it (list the TLDs instead of `name.*`)"
                .to_string(),
        );
    }
    let literal = name.replace('*', "x");
    match is_hostname(&literal) {
        true => Ok(()),
        false => Err("not a valid host name pattern".to_string()),
    }
}

/// The catalog files of a path: the file itself, or the `.toml` files of a directory.
/// The `.toml` files of a catalog file or directory, with their contents.
pub(super) fn read_path(path: &Path) -> Result<Vec<(PathBuf, String)>, CatalogError> {
    let io_err = |file: &Path, e: std::io::Error| CatalogError {
        file: file.to_path_buf(),
        line: None,
        reason: e.to_string(),
    };
    let files = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| io_err(path, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|ext| ext == "toml"))
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).map_err(|e| io_err(&file, e))?;
            Ok((file, text))
        })
        .collect()
}

/// Where a file's lines start, to turn byte offsets into line numbers without counting from
/// the top each time (that made loading quadratic in a file's length: 41 ms for 2,111 apps).
struct Lines {
    newlines: Vec<usize>,
}

impl Lines {
    fn new(text: &str) -> Lines {
        let newlines = (text.bytes().enumerate())
            .filter(|&(_, b)| b == b'\n')
            .map(|(i, _)| i)
            .collect();
        Lines { newlines }
    }

    /// The 1-based line of byte `offset`.
    fn of(&self, offset: usize) -> usize {
        self.newlines.partition_point(|&n| n < offset) + 1
    }
}

fn is_kebab_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('-')
        && !id.ends_with('-')
        && !id.contains("--")
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A DNS host name: 1-63 byte labels of letters, digits, '-' and '_', at most 253 bytes.
pub(super) fn is_hostname(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn load_err(name: &str, text: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), name, text);
        match load(&[path]) {
            Ok(_) => panic!("{name} loaded"),
            Err(e) => e.to_string(),
        }
    }

    const APP: &str = "[[app]]\nid = \"mine\"\nname = \"M\"\nvendor = \"V\"\n";

    #[test]
    fn the_shipped_catalog_is_valid() {
        let loaded = load(&[]).unwrap();
        assert!(loaded.apps.len() >= 30, "{} apps", loaded.apps.len());
        assert!(loaded.shared.iter().any(|s| s.domain == "google.com"));
        assert_eq!(loaded.files, BUILTIN.len());
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let e = load_err(
            "a.toml",
            &format!("{APP}category = \"chatbot\"\ndomains = [\"x.example\"]\n"),
        );
        assert!(
            e.contains("a.toml:5:") && e.contains("unknown variant `chatbot`"),
            "{e}"
        );
        let e = load_err(
            "b.toml",
            &format!("{APP}category = \"other\"\ndomains = [\"ok.example\",\n  \"chatgpt.com\"]\n"),
        );
        assert!(
            e.contains("b.toml:7:") && e.contains("already claimed by app \"openai-chatgpt\""),
            "{e}"
        );
        let e = load_err(
            "c.toml",
            "[[app]]\nid = \"Bad_Id\"\nname = \"M\"\nvendor = \"V\"\ncategory = \"other\"\ndomains = [\"a.b\"]\n",
        );
        assert!(
            e.contains("c.toml:2: app id \"Bad_Id\" is not kebab-case"),
            "{e}"
        );
    }

    #[test]
    fn patterns_are_checked() {
        for (domains, why) in [
            ("\"alice.yandex.*\"", "two literal labels after it"),
            ("\"*.com\"", "two literal labels after it"),
            ("\"a**b.example.com\"", "at most one * per label"),
            ("\"a..b\"", "not a valid host name"),
            ("\"localhost\"", "at least two labels"),
            (
                "\"google.com\"",
                "already claimed by a shared or not-AI name",
            ),
        ] {
            let e = load_err(
                "p.toml",
                &format!("{APP}category = \"other\"\ndomains = [{domains}]\n"),
            );
            assert!(e.contains("p.toml:6:") && e.contains(why), "{domains}: {e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let ok = write(
            dir.path(),
            "ok.toml",
            &format!(
                "{APP}category = \"other\"\ndomains = [\"=x-*.example.com\", \"api.*.example.net\"]\n"
            ),
        );
        load(&[ok]).unwrap();
    }

    #[test]
    fn requests_and_facts_are_checked() {
        let e = load_err(
            "r.toml",
            &format!("{APP}category = \"llm_api\"\nrequests = [\"POST /x\"]\n"),
        );
        assert!(
            e.contains("r.toml:6:") && e.contains("local_model_server and ai_gateway only"),
            "{e}"
        );
        let e = load_err(
            "r.toml",
            &format!("{APP}category = \"local_model_server\"\nrequests = [\"post /x\"]\n"),
        );
        assert!(e.contains("is not \"METHOD /path\""), "{e}");
        let e = load_err(
            "r.toml",
            &format!(
                "{APP}category = \"local_model_server\"\nrequests = [\"POST /api/generate\"]\nports = [11434]\n"
            ),
        );
        assert!(
            e.contains("already claimed by app \"ollama-server\""),
            "{e}"
        );
        let e = load_err("r.toml", &format!("{APP}category = \"other\"\n"));
        assert!(
            e.contains("has no domains, no requests and no protocols"),
            "{e}"
        );
        let e = load_err(
            "p.toml",
            &format!("{APP}category = \"other\"\nprotocols = [\"mcp\"]\n"),
        );
        assert!(
            e.contains("p.toml:6:") && e.contains("for category mcp_server"),
            "{e}"
        );
        let e = load_err(
            "p.toml",
            &format!("{APP}category = \"mcp_server\"\nprotocols = [\"smtp\"]\n"),
        );
        assert!(e.contains("protocol \"smtp\""), "{e}");
        let e = load_err(
            "h.toml",
            &format!(
                "{APP}category = \"other\"\ndomains = [\"m.example\"]\nhq_country = \"usa\"\n"
            ),
        );
        assert!(e.contains("h.toml:7:") && e.contains("ISO 3166"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let other_port = write(
            dir.path(),
            "ok.toml",
            &format!(
                "{APP}category = \"local_model_server\"\nrequests = [\"POST /api/generate\"]\nports = [8080]\n"
            ),
        );
        load(&[other_port]).unwrap();
    }

    #[test]
    fn a_user_file_overrides_a_shipped_app_by_id() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "ours.toml",
            "[[app]]\nid = \"openai-chatgpt\"\nname = \"ChatGPT (ours)\"\nvendor = \"OpenAI\"\n\
             category = \"chat_assistant\"\ndomains = [\"chatgpt.com\"]\n\n\
             [[app]]\nid = \"corp-llm\"\nname = \"Corp LLM\"\nvendor = \"Us\"\ncategory = \"llm_api\"\n\
             domains = [\"llm.corp.example\"]\n",
        );
        let loaded = load(&[dir.path().to_path_buf()]).unwrap();
        let chatgpt = loaded
            .apps
            .iter()
            .find(|a| a.id == "openai-chatgpt")
            .unwrap();
        assert_eq!(chatgpt.name, "ChatGPT (ours)");
        assert_eq!(chatgpt.domains, ["chatgpt.com"]);
        assert!(loaded.apps.iter().any(|a| a.id == "corp-llm"));
        assert_eq!(loaded.files, BUILTIN.len() + 1);
    }

    const RESOLVER: &str = "[[resolver]]\nid = \"mine\"\nname = \"Mine\"\n";

    #[test]
    fn resolvers_are_loaded_with_their_names_lower_cased() {
        let dir = tempfile::tempdir().unwrap();
        let ours = write(
            dir.path(),
            "r.toml",
            &format!(
                "{RESOLVER}doh = [\"DoH.Corp.example\", \"=dns.corp.example\"]\n\
                 dot = [\"DoT.Corp.example\"]\nsources = [\"https://corp.example/dns\"]\n"
            ),
        );
        let loaded = load(&[ours]).unwrap();
        let mine = loaded.resolvers.iter().find(|r| r.id == "mine").unwrap();
        assert_eq!(mine.doh, ["doh.corp.example", "=dns.corp.example"]);
        assert_eq!(mine.dot, ["dot.corp.example"]);
        assert_eq!(mine.notes, None);
        assert!(mine.origin.ends_with("r.toml"));
        let shipped = load(&[]).unwrap().resolvers;
        assert!(shipped.len() >= 40, "{} resolvers", shipped.len());
        assert!(shipped.iter().all(|r| r.origin.starts_with("signatures")));
    }

    #[test]
    fn a_bad_resolver_is_refused_with_file_and_line() {
        for (fields, line, why) in [
            (
                "doh = [\"a.example\"]\n",
                2,
                "resolver \"mine\" has no sources",
            ),
            (
                "sources = [\"s\"]\n",
                2,
                "resolver \"mine\" has no doh patterns",
            ),
            (
                "doh = [\"a.example\"]\nsources = [\" \"]\n",
                2,
                "has no sources, or a blank one",
            ),
            (
                "doh = [\"ok.example\",\n  \"*.com\"]\nsources = [\"s\"]\n",
                5,
                "\"*.com\": a wildcard needs at least two literal labels",
            ),
            (
                "doh = [\"a.example\"]\ndot = [\"localhost\"]\nsources = [\"s\"]\n",
                5,
                "dot name \"localhost\" is not a host name",
            ),
            (
                "doh = [\"a.example\"]\nsources = [\"s\"]\nports = [443]\n",
                6,
                "unknown field `ports`",
            ),
        ] {
            let e = load_err("r.toml", &format!("{RESOLVER}{fields}"));
            assert!(
                e.contains(&format!("r.toml:{line}:")) && e.contains(why),
                "{e}"
            );
        }
        let e = load_err(
            "r.toml",
            "[[resolver]]\nid = \"Mine_DNS\"\nname = \"M\"\ndoh = [\"a.example\"]\nsources = [\"s\"]\n",
        );
        assert!(
            e.contains("r.toml:2: resolver id \"Mine_DNS\" is not kebab-case"),
            "{e}"
        );
        let twice = format!("{RESOLVER}doh = [\"a.example\"]\nsources = [\"s\"]\n");
        let e = load_err(
            "r.toml",
            &format!("{twice}\n{}", twice.replace("a.example", "b.example")),
        );
        assert!(
            e.contains("r.toml:8: resolver id \"mine\" is already used (")
                && e.contains("r.toml:2)"),
            "{e}"
        );
        let e = load_err(
            "r.toml",
            "[[resolver]]\nid = \"google-public-dns\"\nname = \"G\"\ndoh = [\"a.example\"]\nsources = [\"s\"]\n",
        );
        assert!(
            e.contains("r.toml:2: resolver id \"google-public-dns\" is already used (signatures/encrypted_dns.toml:"),
            "{e}"
        );
    }

    #[test]
    fn a_pattern_claimed_by_a_resolver_and_anything_else_is_refused() {
        // A resolver may not claim an app's, a shared name's or another resolver's pattern.
        for (doh, why) in [
            (
                "chatgpt.com",
                "\"chatgpt.com\" of resolver \"mine\" is already claimed by app \"openai-chatgpt\"",
            ),
            (
                "google.com",
                "is already claimed by a shared or not-AI name",
            ),
            (
                "dns.quad9.net",
                "\"dns.quad9.net\" of resolver \"mine\" is already claimed by resolver \"quad9\" (signatures/encrypted_dns.toml:",
            ),
        ] {
            let e = load_err(
                "r.toml",
                &format!("{RESOLVER}doh = [\"{doh}\"]\nsources = [\"s\"]\n"),
            );
            assert!(e.contains("r.toml:4:") && e.contains(why), "{doh}: {e}");
        }
        // Nor may an app claim a resolver's.
        let e = load_err(
            "a.toml",
            &format!("{APP}category = \"other\"\ndomains = [\"dns.google\"]\n"),
        );
        assert!(
            e.contains("a.toml:6: \"dns.google\" of app \"mine\" is already claimed by resolver \"google-public-dns\" (signatures/encrypted_dns.toml:"),
            "{e}"
        );
    }

    #[test]
    fn host_names() {
        assert!(is_hostname("api.openai.com"));
        assert!(is_hostname("_dmarc.example.com"));
        assert!(!is_hostname("a..b"));
        assert!(!is_hostname("*.example.com"));
        assert!(!is_hostname(&"a".repeat(64)));
    }
}
