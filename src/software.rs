//! Software: which kind of program a client is, from its TLS ClientHello (JA4) and, in
//! plaintext HTTP, its `User-Agent`: a browser, a program (a script, an SDK, a CLI, an agent),
//! or unknown.
//!
//! A JA4 fingerprint says which TLS stack built the ClientHello, not which product: every
//! Python program using `ssl` (urllib, requests, httpx, the OpenAI and Anthropic SDKs) has the
//! same one, and an Electron app (VS Code, Cursor, Slack) has Chromium's, so it counts as a
//! browser. The table below is what real clients sent on the recording machine (Debian 12:
//! curl 7.88.1 with OpenSSL 3.0, Python 3.11, Node 20, Go 1.19, Java 17, Chromium 156;
//! `captures/README.md`) and
//! rows of FoxIO's public JA4+ mapping (`ja4plus-mapping.csv` in FoxIO-LLC/ja4, read at commit
//! 09c1fac). Stacks change with versions: a fingerprint not in the table is `unknown`, never a
//! guess. A `User-Agent` is the client's own claim, and it is believed only in plaintext, where
//! it is all there is.

crate::vocabulary! {
    /// What kind of program a client is.
    #[derive(Default)]
    pub enum Kind {
        /// A web browser (or an app built on one, such as Electron).
        Browser = "browser",
        /// A script, SDK, command-line tool or agent.
        Program = "program",
        /// Not known.
        #[default]
        Unknown = "unknown",
    }
}

/// The client software of a flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Software {
    /// The stack or program family (`Chromium`, `Python (OpenSSL)`, `curl`), empty when not
    /// known.
    pub family: &'static str,
    /// Browser, program or unknown.
    pub kind: Kind,
}

impl Software {
    /// Nothing known.
    pub const UNKNOWN: Software = Software {
        family: "",
        kind: Kind::Unknown,
    };

    /// Whether anything is known.
    pub fn is_known(self) -> bool {
        self.kind != Kind::Unknown
    }
}

/// One JA4 row: each of the three parts literal, or `*` for any. The first part's SNI letter
/// (`d` with a name, `i` to an address) is not compared: a stack is the same either way.
/// Rows come from the captures named beside them; remake them with a new stack's version.
struct Ja4Row {
    ja4: &'static str,
    software: Software,
}

const fn row(ja4: &'static str, family: &'static str, kind: Kind) -> Ja4Row {
    Ja4Row {
        ja4,
        software: Software { family, kind },
    }
}

/// Fingerprints, most specific first. The cipher hash (the second part) is what a TLS library
/// and its caller's settings make; the first part changes with ALPN, extensions and session
/// resumption, so most rows take any.
const JA4: &[Ja4Row] = &[
    // Chromium 156 over TCP (captures/chromium-*.pcap, clients-same-api.pcap; FoxIO's
    // "Chromium Browser" rows: t13d1516h2 and t13d1517h2), and its QUIC Initial. Electron apps
    // (VS Code, Cursor) share the stack.
    row("*_8daaf6152771_*", "Chromium", Kind::Browser),
    row("q13d0312h3_55b375c5d22e_*", "Chromium", Kind::Browser),
    // curl 7.88.1 with OpenSSL 3.0 (captures/curl-chatgpt.pcap).
    row("t13d3112h2_e8f1e7e78f70_*", "curl (OpenSSL)", Kind::Program),
    // Python 3.11 ssl: urllib, requests, httpx and the MCP SDK (captures/clients-same-api.pcap,
    // python-upload.pcap, mcp-remote-tls.pcap; FoxIO "Python": t13d181000).
    row("*_85036bcba153_*", "Python (OpenSSL)", Kind::Program),
    // Node 20: https and fetch (undici), the MCP TypeScript SDK (clients-same-api.pcap,
    // node-openai.pcap).
    row("*_a33745022dd6_*", "Node (OpenSSL)", Kind::Program),
    // Go crypto/tls: Go 1.19 net/http (clients-same-api.pcap; FoxIO "GoLang": t13d190900).
    row("*_9dc949149365_*", "Go", Kind::Program),
    // Java 17 java.net.http.HttpClient (clients-same-api.pcap).
    row("*_db35923f8641_*", "Java", Kind::Program),
];

/// `User-Agent` prefixes of programs, and the family they say.
const PROGRAM_AGENTS: &[(&str, &str)] = &[
    ("curl/", "curl"),
    ("wget/", "Wget"),
    ("python-requests/", "Python requests"),
    ("python-httpx", "Python httpx"),
    ("python-urllib", "Python urllib"),
    ("python/", "Python"),
    ("aiohttp/", "Python aiohttp"),
    ("openai/python", "OpenAI Python SDK"),
    ("anthropic/python", "Anthropic Python SDK"),
    ("openai/js", "OpenAI Node SDK"),
    ("anthropic/js", "Anthropic Node SDK"),
    ("node-fetch", "Node"),
    ("node", "Node"),
    ("undici", "Node"),
    ("axios/", "Node axios"),
    ("go-http-client/", "Go"),
    ("java/", "Java"),
    ("java-http-client/", "Java"),
    ("okhttp/", "OkHttp"),
    ("rust", "Rust"),
    ("reqwest", "Rust reqwest"),
    ("claude-cli/", "Claude Code"),
    ("claude-code/", "Claude Code"),
    ("codex_cli", "OpenAI Codex CLI"),
    ("gemini-cli/", "Gemini CLI"),
    ("githubcopilot", "GitHub Copilot"),
    ("copilot/", "GitHub Copilot"),
    ("aider/", "Aider"),
    ("litellm/", "LiteLLM"),
    ("langchain", "LangChain"),
    ("mcp-client", "MCP client"),
    ("ollama/", "Ollama"),
    ("postmanruntime/", "Postman"),
    ("insomnia/", "Insomnia"),
    ("powershell", "PowerShell"),
];

/// Browser tokens of a `Mozilla/5.0 …` agent, most specific first.
const BROWSER_TOKENS: &[(&str, &str)] = &[
    ("edg/", "Edge"),
    ("opr/", "Opera"),
    ("firefox/", "Firefox"),
    ("electron/", "Electron"),
    ("chrome/", "Chromium"),
    ("safari/", "Safari"),
];

/// Most bytes of a `User-Agent` looked at.
const AGENT_BYTES: usize = 256;

/// The client software a ClientHello's JA4 (`ja4`) or a plaintext request's `User-Agent`
/// says; the fingerprint first, since it is not the client's own claim.
pub fn classify(ja4: Option<&str>, user_agent: Option<&str>) -> Software {
    if let Some(found) = ja4.and_then(by_ja4) {
        return found;
    }
    user_agent.map_or(Software::UNKNOWN, by_user_agent)
}

/// The software of a JA4 fingerprint in the table.
pub fn by_ja4(ja4: &str) -> Option<Software> {
    let parts = split(ja4).filter(|p| p[0].len() == 10)?;
    JA4.iter()
        .find(|row| split(row.ja4).is_some_and(|p| matches(&p, &parts)))
        .map(|row| row.software)
}

fn split(ja4: &str) -> Option<[&str; 3]> {
    let mut it = ja4.splitn(3, '_');
    Some([it.next()?, it.next()?, it.next()?])
}

/// A JA4's first part without its SNI letter.
fn stack_part(part: &str) -> (Option<&str>, Option<&str>) {
    (part.get(..3), part.get(4..))
}

fn matches(pattern: &[&str; 3], ja4: &[&str; 3]) -> bool {
    let head = pattern[0] == "*" || stack_part(pattern[0]) == stack_part(ja4[0]);
    let rest = (1..3).all(|i| pattern[i] == "*" || pattern[i] == ja4[i]);
    head && rest
}

/// The software a `User-Agent` claims: a program by its prefix, a browser by its tokens.
pub fn by_user_agent(agent: &str) -> Software {
    let mut end = agent.len().min(AGENT_BYTES);
    while !agent.is_char_boundary(end) {
        end -= 1;
    }
    let agent = agent[..end].to_ascii_lowercase();
    if let Some((_, family)) = PROGRAM_AGENTS.iter().find(|(p, _)| agent.starts_with(p)) {
        return Software {
            family,
            kind: Kind::Program,
        };
    }
    if agent.starts_with("mozilla/") {
        let family = (BROWSER_TOKENS.iter())
            .find(|(token, _)| agent.contains(token))
            .map_or("browser", |(_, f)| f);
        return Software {
            family,
            kind: Kind::Browser,
        };
    }
    Software::UNKNOWN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_of_the_recording_machine_and_foxio() {
        let family = |ja4| by_ja4(ja4).map(|s| (s.family, s.kind));
        assert_eq!(
            family("t13d1517h2_8daaf6152771_234dc10236f4"),
            Some(("Chromium", Kind::Browser))
        );
        assert_eq!(
            family("t13i1517h2_8daaf6152771_f10ceb9fcfd7"),
            Some(("Chromium", Kind::Browser)),
            "to an address, the same stack"
        );
        assert_eq!(
            family("q13d0312h3_55b375c5d22e_178839b6cec1"),
            Some(("Chromium", Kind::Browser))
        );
        assert_eq!(
            family("t13d3112h2_e8f1e7e78f70_b26ce05bbdd6"),
            Some(("curl (OpenSSL)", Kind::Program))
        );
        assert_eq!(
            family("t13d181100_85036bcba153_d41ae481755e"),
            Some(("Python (OpenSSL)", Kind::Program))
        );
        assert_eq!(
            family("t13d591000_a33745022dd6_1f22a2ca17c4"),
            Some(("Node (OpenSSL)", Kind::Program))
        );
        assert_eq!(
            family("t13d190900_9dc949149365_97f8aa674fd9"),
            Some(("Go", Kind::Program))
        );
        assert_eq!(
            family("t13d5912h1_a33745022dd6_dbd39dd1d406"),
            Some(("Node (OpenSSL)", Kind::Program)),
            "a resumed session: another first part, the same stack"
        );
        assert_eq!(
            family("t13d3713h2_db35923f8641_7c76daad20ec"),
            Some(("Java", Kind::Program))
        );
        // Another cipher list is another stack: unknown, not the nearest guess.
        assert_eq!(family("t13d1517h2_000000000000_234dc10236f4"), None);
        assert_eq!(family("t13d1517h2"), None);
        assert_eq!(family(""), None);
    }

    #[test]
    fn user_agents_of_programs_and_browsers() {
        let family = |ua| {
            let s = by_user_agent(ua);
            (s.family, s.kind)
        };
        assert_eq!(family("curl/7.88.1"), ("curl", Kind::Program));
        assert_eq!(
            family("Python-urllib/3.11"),
            ("Python urllib", Kind::Program)
        );
        assert_eq!(
            family("python-httpx/0.28.1"),
            ("Python httpx", Kind::Program)
        );
        assert_eq!(
            family("OpenAI/Python 1.54.0"),
            ("OpenAI Python SDK", Kind::Program)
        );
        assert_eq!(
            family("claude-cli/1.0.3 (external, cli)"),
            ("Claude Code", Kind::Program)
        );
        assert_eq!(family("node"), ("Node", Kind::Program));
        assert_eq!(
            family(
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
            ),
            ("Chromium", Kind::Browser)
        );
        assert_eq!(
            family(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
            ),
            ("Firefox", Kind::Browser)
        );
        assert_eq!(family("Mozilla/5.0 Edg/131.0"), ("Edge", Kind::Browser));
        assert_eq!(family("SomethingElse/1.0"), ("", Kind::Unknown));
        assert_eq!(family(&"é".repeat(500)), ("", Kind::Unknown));
    }

    #[test]
    fn the_fingerprint_comes_before_the_claim() {
        let s = classify(
            Some("t13d3112h2_e8f1e7e78f70_b26ce05bbdd6"),
            Some("Mozilla/5.0 Chrome/131"),
        );
        assert_eq!(s.family, "curl (OpenSSL)");
        assert_eq!(classify(None, Some("curl/8.0")).family, "curl");
        assert_eq!(
            classify(Some("t13d9999h2_aaaaaaaaaaaa_bbbbbbbbbbbb"), None),
            Software::UNKNOWN
        );
    }
}
