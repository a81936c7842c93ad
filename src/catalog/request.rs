//! Local model servers and LLM gateways, recognised by their plaintext HTTP requests: an
//! Ollama server by `POST /api/generate` on port 11434, an OpenAI-compatible server (vLLM,
//! llama.cpp, LM Studio, LocalAI) by `POST /v1/chat/completions` on any port, a company's LLM
//! gateway by the same API under a prefix of its own (`POST */v1/chat/completions` matches
//! `/model-center/api/llm/openai/v1/chat/completions`). Apps declare `requests`
//! (`"METHOD /path"` or `"METHOD */path"`) and, optionally, `ports`. The request's path is read
//! without its query. A rule for the whole path beats a rule for a suffix, a longer suffix a
//! shorter one, and a rule that names the flow's port one that takes any port, so
//! `/v1/chat/completions` on 11434 is Ollama and on 8000 a generic OpenAI-compatible server.

use super::App;
use std::collections::HashMap;

/// One `requests` entry of one app.
#[derive(Debug)]
struct Rule {
    app: u32,
    method: Box<str>,
    ports: Box<[u16]>,
    /// How the rule reads in evidence: `POST /api/generate on port 11434`.
    label: Box<str>,
}

/// Rules by the path they match.
type ByPath = HashMap<Box<str>, Vec<Rule>, foldhash::fast::RandomState>;

/// The request rules of a catalog: for whole paths, and for suffixes under any prefix.
#[derive(Debug, Default)]
pub struct RequestRules {
    by_path: ByPath,
    by_suffix: ByPath,
}

/// Splits `"POST /v1/chat/completions"` (or `"POST */v1/chat/completions"`, the path under any
/// prefix) into method and path, if well formed.
pub(super) fn parse_request(spec: &str) -> Option<(&str, &str)> {
    let (method, path) = spec.split_once(' ')?;
    let method_ok = !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase());
    let rest = path.strip_prefix('*').unwrap_or(path);
    let path_ok = rest.len() > 1
        && rest.starts_with('/')
        && rest
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#' && b != b'*');
    (method_ok && path_ok).then_some((method, path))
}

fn label(spec: &str, ports: &[u16]) -> String {
    match ports {
        [] => format!("{spec} on any port"),
        [port] => format!("{spec} on port {port}"),
        _ => {
            let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
            format!("{spec} on ports {}", ports.join(", "))
        }
    }
}

impl RequestRules {
    /// Compiles the `requests` of every app (validated by the loader).
    pub fn build(apps: &[App]) -> RequestRules {
        let mut rules = RequestRules::default();
        for (i, app) in apps.iter().enumerate() {
            for spec in &app.requests {
                let Some((method, path)) = parse_request(spec) else {
                    continue;
                };
                let (table, path) = match path.strip_prefix('*') {
                    Some(suffix) => (&mut rules.by_suffix, suffix),
                    None => (&mut rules.by_path, path),
                };
                table.entry(path.into()).or_default().push(Rule {
                    app: i as u32,
                    method: method.into(),
                    ports: app.ports.clone().into(),
                    label: label(spec, &app.ports).into(),
                });
            }
        }
        rules
    }

    /// The app whose rule matches a request to `port`, and the rule as evidence.
    pub fn lookup(&self, method: &str, target: &str, port: u16) -> Option<(usize, &str)> {
        let path = origin_form(target);
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        if let Some(found) = pick(self.by_path.get(path), method, port) {
            return Some(found);
        }
        if self.by_suffix.is_empty() {
            return None;
        }
        // Suffixes after each `/` but the first, longest first: a path of 1 KiB at most.
        (path.match_indices('/').skip(1))
            .find_map(|(at, _)| pick(self.by_suffix.get(&path[at..]), method, port))
    }
}

/// Of the rules for one path, the one for `method` that names `port`, else one for any port.
fn pick<'r>(rules: Option<&'r Vec<Rule>>, method: &str, port: u16) -> Option<(usize, &'r str)> {
    let rules = rules?;
    let fits = |r: &&Rule| &*r.method == method;
    rules
        .iter()
        .filter(fits)
        .find(|r| r.ports.contains(&port))
        .or_else(|| rules.iter().filter(fits).find(|r| r.ports.is_empty()))
        .map(|r| (r.app as usize, &*r.label))
}

/// The path of a request target: `http://host:port/v1/x` (sent to a proxy) becomes `/v1/x`.
fn origin_form(target: &str) -> &str {
    let Some(rest) = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    else {
        return target;
    };
    rest.find('/').map_or("/", |slash| &rest[slash..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Category;

    fn server(id: &str, requests: &[&str], ports: &[u16]) -> App {
        App {
            id: id.into(),
            category: Category::LocalModelServer,
            requests: requests.iter().map(|r| r.to_string()).collect(),
            ports: ports.to_vec(),
            ..App::default()
        }
    }

    #[test]
    fn a_rule_with_the_port_beats_one_without() {
        let apps = [
            server("generic", &["POST /v1/chat/completions"], &[]),
            server(
                "ollama",
                &["POST /api/generate", "POST /v1/chat/completions"],
                &[11434],
            ),
        ];
        let rules = RequestRules::build(&apps);
        assert_eq!(
            rules.lookup("POST", "/api/generate", 11434),
            Some((1, "POST /api/generate on port 11434"))
        );
        assert_eq!(rules.lookup("POST", "/api/generate", 8080), None);
        assert_eq!(rules.lookup("GET", "/api/generate", 11434), None);
        assert_eq!(
            rules
                .lookup("POST", "/v1/chat/completions", 11434)
                .map(|r| r.0),
            Some(1)
        );
        assert_eq!(
            rules.lookup("POST", "/v1/chat/completions", 8000),
            Some((0, "POST /v1/chat/completions on any port"))
        );
        assert_eq!(
            rules
                .lookup("POST", "http://10.0.0.5:8000/v1/chat/completions", 3128)
                .map(|r| r.0),
            Some(0)
        );
        assert_eq!(rules.lookup("POST", "/v1/chat/completionsX", 8000), None);
    }

    #[test]
    fn a_suffix_rule_matches_under_any_prefix_and_a_whole_path_beats_it() {
        let apps = [
            server("generic", &["POST /v1/chat/completions"], &[]),
            server(
                "gateway",
                &["POST */v1/chat/completions", "POST */chat/completions"],
                &[],
            ),
        ];
        let rules = RequestRules::build(&apps);
        let app = |path: &str| rules.lookup("POST", path, 8080);
        assert_eq!(
            app("/model-center/api/llm/openai/v1/chat/completions"),
            Some((1, "POST */v1/chat/completions on any port"))
        );
        assert_eq!(
            app("/v1/chat/completions?stream=true").map(|r| r.0),
            Some(0)
        );
        assert_eq!(
            app("/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"),
            Some((1, "POST */chat/completions on any port"))
        );
        assert_eq!(app("/chat/completions"), None, "a suffix needs a prefix");
        assert_eq!(app("/x/v1/chat/completions/more"), None);
        assert_eq!(rules.lookup("GET", "/x/v1/chat/completions", 8080), None);
    }

    #[test]
    fn request_specs() {
        assert_eq!(
            parse_request("POST */v1/messages"),
            Some(("POST", "*/v1/messages"))
        );
        assert_eq!(parse_request("POST */"), None);
        assert_eq!(parse_request("POST /a/*/b"), None);
        assert_eq!(parse_request("POST /api/chat"), Some(("POST", "/api/chat")));
        assert_eq!(parse_request("post /api/chat"), None);
        assert_eq!(parse_request("POST api/chat"), None);
        assert_eq!(parse_request("POST /api/chat?x=1"), None);
        assert_eq!(parse_request("POST"), None);
    }
}
