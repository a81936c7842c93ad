//! Candidates: names that are not in the catalog but look like AI services, so the catalog can
//! grow from what sensors see.
//!
//! The rule, on the lower-cased name split into labels and each label into words at hyphens:
//!
//! - its top-level domain is `.ai` (`newtool.ai`); or
//! - a word is one of `ai`, `chat`, `agent`, `agents` (`ai.example.com`, `chat.acme.io`,
//!   `acme-agent.dev`); or
//! - a word starts or ends with one of `gpt`, `llm`, `genai`, `copilot`, `chatbot`
//!   (`chatgpt-clone.com`, `llmproxy.dev`, `mycopilot.app`).
//!
//! Tokens inside a word do not count, so random labels (`kkllmmnn`) and ordinary words
//! (`maintenance`, `chateau`, `agenda`) stay out. Reverse-lookup names (`in-addr.arpa`,
//! `ip6.arpa`), IP literals and single-label names (`ai`, a LAN host `chat`) never are candidates. Nor is any name the catalog knows: an app,
//! a name shared with non-AI traffic (`shared.toml`), or a name reviewed and found not to be AI
//! (`not_ai.toml`: `chat.google.com`, monitoring agents, Anguilla's own `.ai` zones). That is
//! checked by [`super::Catalog::classify`]; [`reason`] is the rule alone.

/// Whole words that make a name a candidate.
const WORDS: [&str; 4] = ["ai", "chat", "agent", "agents"];

/// Tokens that make a name a candidate at the start or end of a word.
const AFFIXES: [&str; 5] = ["gpt", "llm", "genai", "copilot", "chatbot"];

/// Why a name looks like an AI service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Its top-level domain is `.ai`.
    AiTld,
    /// One of its words is, starts or ends with this token.
    Word(&'static str),
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::AiTld => f.write_str("its top-level domain is .ai"),
            Reason::Word(token) => write!(f, "a word of its labels is or contains {token:?}"),
        }
    }
}

/// Whether `name` looks like an AI service by the rule above.
pub fn looks_like_ai(name: &str) -> bool {
    reason(name).is_some()
}

/// Why `name` looks like an AI service by the rule above, if it does.
pub fn reason(name: &str) -> Option<Reason> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if !name.contains('.') || name.ends_with(".arpa") || name.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    if lower.rsplit('.').next() == Some("ai") {
        return Some(Reason::AiTld);
    }
    lower
        .split('.')
        .flat_map(|label| label.split('-'))
        .find_map(word_reason)
}

fn word_reason(word: &str) -> Option<Reason> {
    if let Some(&w) = WORDS.iter().find(|&&w| w == word) {
        return Some(Reason::Word(w));
    }
    AFFIXES
        .iter()
        .find(|&&t| word.starts_with(t) || word.ends_with(t))
        .map(|&t| Reason::Word(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        for (yes, why) in [
            ("newtool.ai", Reason::AiTld),
            ("app.newtool.AI.", Reason::AiTld),
            ("ai.example.com", Reason::Word("ai")),
            ("acme-ai.com", Reason::Word("ai")),
            ("chat.acme.io", Reason::Word("chat")),
            ("support-agent.example.net", Reason::Word("agent")),
            ("my-gpt-wrapper.io", Reason::Word("gpt")),
            ("chatgpt-clone.com", Reason::Word("gpt")),
            ("llmproxy.dev", Reason::Word("llm")),
            ("mycopilot.app", Reason::Word("copilot")),
        ] {
            assert_eq!(reason(yes), Some(why), "{yes}");
        }
        for no in [
            "www.example.com",
            "mail.google.com",
            "paint.net",
            "4.3.2.1.in-addr.arpa",
            "aim.com",
            "10.0.0.1",
            "maintenance.example",
            "chateau.example.fr",
            "agenda.example.com",
            "kkllmmnn.example",
            "ai",
        ] {
            assert_eq!(reason(no), None, "{no}");
        }
    }
}
