//! The shapes a catalog's names must have: kebab-case ids, DNS host names, and name patterns
//! (an optional `=`, single-label wildcards with a literal tail of two or more labels).

use super::super::matcher;

pub(super) fn is_kebab_id(id: &str) -> bool {
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

/// Checks a name pattern: an optional `=`, then a host name whose labels may hold one `*`
/// each, with a literal tail of at least two labels after the last wildcard.
pub(super) fn check_pattern(pattern: &str) -> Result<(), String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        assert!(is_hostname("api.openai.com"));
        assert!(is_hostname("_dmarc.example.com"));
        assert!(!is_hostname("a..b"));
        assert!(!is_hostname("*.example.com"));
        assert!(!is_hostname(&"a".repeat(64)));
    }
}
