//! Adding an app to a load: its id (new, or replacing an earlier file's app of the same id),
//! what identifies it (domains, requests, protocols), its facts (country, risk), and its claims
//! on name patterns and requests.

use super::super::{App, Category, Confidence, PROTOCOLS, request};
use super::names::{check_pattern, is_kebab_id};
use super::schema::AppToml;
use super::{Builder, Declared, Invalid, Lines, Owner};
use std::path::Path;
use toml::Spanned;

impl Builder {
    /// Adds `app`, or, when `may_override`, puts it in the place of the earlier app of its id.
    pub(super) fn add_app(
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
        let replaces = self.replaced(&id, id_at, may_override)?;
        check_identified_by(&app, &id, id_at)?;
        check_facts(&app)?;
        let owner = Owner::App(id.clone());
        let declared = |offset: usize| Declared {
            owner: owner.clone(),
            file: file.to_path_buf(),
            line: lines.of(offset),
        };
        let domains = self.claim_domains(&app.domains, &declared)?;
        self.claim_requests(&app, &declared)?;
        let built = into_app(app, id, domains, file);
        match replaces {
            Some(at) => self.apps[at] = built,
            None => {
                self.ids.insert(built.id.clone(), self.apps.len());
                self.apps.push(built);
            }
        }
        Ok(())
    }

    /// Where the earlier app of id `id` sits, if there is one, with its claims withdrawn: a
    /// user's app replaces the shipped one in place, its claims with it. Without
    /// `may_override` a second app of an id is refused.
    fn replaced(
        &mut self,
        id: &str,
        id_at: usize,
        may_override: bool,
    ) -> Result<Option<usize>, Invalid> {
        let Some(old) = self.ids.get(id).copied() else {
            return Ok(None);
        };
        if !may_override {
            return Err((
                id_at,
                format!(
                    "app id {id:?} is already used in {}",
                    self.apps[old].origin.display()
                ),
            ));
        }
        let owner = Owner::App(id.to_string());
        self.patterns.retain(|_, d| d.owner != owner);
        for claims in self.requests.values_mut() {
            claims.retain(|(_, d)| d.owner != owner);
        }
        Ok(Some(old))
    }

    /// Checks each of the app's domains as a name pattern and claims it; returns them
    /// lower-cased.
    fn claim_domains(
        &mut self,
        domains: &[Spanned<String>],
        declared: &impl Fn(usize) -> Declared,
    ) -> Result<Vec<String>, Invalid> {
        let mut patterns = Vec::with_capacity(domains.len());
        for domain in domains {
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
            patterns.push(pattern);
        }
        Ok(patterns)
    }

    /// Checks each of the app's requests as `METHOD /path` and claims it on the app's ports,
    /// refusing a request another app claimed on one of them (or, both without ports, at all).
    fn claim_requests(
        &mut self,
        app: &AppToml,
        declared: &impl Fn(usize) -> Declared,
    ) -> Result<(), Invalid> {
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
        Ok(())
    }
}

/// Checks what identifies the app: domains, requests or protocols, at least one; protocols
/// only known ones, for an MCP server; requests only for a local model server or a gateway,
/// with ports only beside requests and never port 0.
fn check_identified_by(app: &AppToml, id: &str, id_at: usize) -> Result<(), Invalid> {
    if app.domains.is_empty() && app.requests.is_empty() && app.protocols.is_empty() {
        return Err((
            id_at,
            format!("app {id:?} has no domains, no requests and no protocols"),
        ));
    }
    for protocol in &app.protocols {
        let known = PROTOCOLS.contains(&protocol.get_ref().as_str());
        if !known || app.category != Category::McpServer {
            return Err((
                protocol.span().start,
                format!(
                    "app {id:?}: protocol {:?}: the protocols are {:?}, for category mcp_server",
                    protocol.get_ref(),
                    PROTOCOLS
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
    Ok(())
}

/// Checks the app's facts: an ISO 3166 alpha-2 country, a risk with a one-line reason.
fn check_facts(app: &AppToml) -> Result<(), Invalid> {
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
    Ok(())
}

/// The catalog's app from a checked entry of `file`, its domains lower-cased.
fn into_app(app: AppToml, id: String, domains: Vec<String>, file: &Path) -> App {
    App {
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
        confidence: Confidence::of(&app.sources),
        sources: app.sources,
        notes: app.notes,
        origin: file.to_path_buf(),
    }
}
