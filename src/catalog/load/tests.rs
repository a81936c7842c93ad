//! Loading whole catalogs: the shipped one is valid, and an invalid file, app, pattern or
//! resolver is refused with its file, line and reason; a user's file overrides a shipped app.

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
        &format!("{APP}category = \"other\"\ndomains = [\"m.example\"]\nhq_country = \"usa\"\n"),
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
        e.contains("r.toml:8: resolver id \"mine\" is already used (") && e.contains("r.toml:2)"),
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
