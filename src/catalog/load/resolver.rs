//! Adding a public encrypted-DNS resolver to a load: its fields, its DoH patterns (claimed as an
//! app's are) and its DoT names (checked, not claimed).

use super::super::Resolver;
use super::names::{check_pattern, is_hostname, is_kebab_id};
use super::schema::ResolverToml;
use super::{Builder, Declared, Invalid, Lines, Owner};
use std::path::Path;
use toml::Spanned;

impl Builder {
    /// Adds a public encrypted-DNS resolver: a unique kebab-case id, a name, at least one DoH
    /// pattern (valid as an app's and claimed like one), valid DoT host names, and sources.
    pub(super) fn add_resolver(
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
