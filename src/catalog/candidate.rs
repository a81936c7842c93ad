//! Candidates: names that are not in the catalog but look like AI services, so the catalog can
//! grow from what sensors see.
//!
//! The rule: a name is a candidate when its top-level domain is `.ai`, or one of its labels has
//! a word (the parts between hyphens) that is `ai`, or that starts or ends with one of the
//! tokens `gpt`, `llm`, `genai`, `copilot`, `chatbot` (`chatgpt-clone`, `llmproxy`,
//! `acme-ai`). Tokens inside a word do not count, so random labels (`kkllmmnn`) and ordinary
//! words (`maintenance`) stay out. Reverse-lookup names (`in-addr.arpa`, `ip6.arpa`) and names
//! that are IP literals never are; names the catalog knows (as an app or as shared with non-AI
//! traffic) are not candidates either (checked by [`super::Catalog::is_candidate`]).

const TOKENS: [&str; 5] = ["gpt", "llm", "genai", "copilot", "chatbot"];

/// Whether `name` looks like an AI service by the rule above.
pub fn looks_like_ai(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.ends_with(".arpa") || name.parse::<std::net::IpAddr>().is_ok() {
        return false;
    }
    let lower = name.to_ascii_lowercase();
    let mut labels = lower.split('.').rev();
    if labels.next() == Some("ai") {
        return true;
    }
    lower
        .split('.')
        .flat_map(|label| label.split('-'))
        .any(|word| {
            word == "ai"
                || TOKENS
                    .iter()
                    .any(|t| word.starts_with(t) || word.ends_with(t))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        for yes in [
            "newtool.ai",
            "app.newtool.AI.",
            "ai.example.com",
            "my-gpt-wrapper.io",
            "acme-ai.com",
            "llmproxy.dev",
        ] {
            assert!(looks_like_ai(yes), "{yes}");
        }
        for no in [
            "www.example.com",
            "mail.google.com",
            "paint.net",
            "4.3.2.1.in-addr.arpa",
            "aim.com",
            "10.0.0.1",
            "maintenance.example",
        ] {
            assert!(!looks_like_ai(no), "{no}");
        }
    }
}
