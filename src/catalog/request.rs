//! Local model servers, recognised by their plaintext HTTP requests: an Ollama server by
//! `POST /api/generate` on port 11434, an OpenAI-compatible server (vLLM, llama.cpp, LM
//! Studio, LocalAI) by `POST /v1/chat/completions` on any port. Apps declare `requests`
//! (`"METHOD /path"`) and, optionally, `ports`; a rule that names the flow's port beats one that
//! takes any port, so `/v1/chat/completions` on 11434 is Ollama and on 8000 is a generic
//! OpenAI-compatible server.

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

/// The request rules of a catalog, by path.
#[derive(Debug, Default)]
pub struct RequestRules {
    by_path: HashMap<Box<str>, Vec<Rule>, foldhash::fast::RandomState>,
}

/// Splits `"POST /v1/chat/completions"` into method and path, if well formed.
pub(super) fn parse_request(spec: &str) -> Option<(&str, &str)> {
    let (method, path) = spec.split_once(' ')?;
    let method_ok = !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase());
    let path_ok = path.starts_with('/')
        && path
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#');
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
                rules.by_path.entry(path.into()).or_default().push(Rule {
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
    pub fn lookup(&self, method: &str, path: &str, port: u16) -> Option<(usize, &str)> {
        let rules = self.by_path.get(origin_form(path))?;
        let fits = |r: &&Rule| &*r.method == method;
        rules
            .iter()
            .filter(fits)
            .find(|r| r.ports.contains(&port))
            .or_else(|| rules.iter().filter(fits).find(|r| r.ports.is_empty()))
            .map(|r| (r.app as usize, &*r.label))
    }
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
    fn request_specs() {
        assert_eq!(parse_request("POST /api/chat"), Some(("POST", "/api/chat")));
        assert_eq!(parse_request("post /api/chat"), None);
        assert_eq!(parse_request("POST api/chat"), None);
        assert_eq!(parse_request("POST /api/chat?x=1"), None);
        assert_eq!(parse_request("POST"), None);
    }
}
