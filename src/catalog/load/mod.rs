//! Reading and validating catalog files. An invalid catalog is refused with the file, the line
//! and the reason.
//!
//! This module owns the loads (the shipped files with a user's, or a catalog directory alone),
//! the state of a load (the apps so far, and who claimed which name pattern or request), and
//! turning byte offsets into line numbers; its children read the file's shape (`schema`),
//! check names (`names`) and add each kind of entry (`app`, `shared`, `resolver`).

mod app;
mod names;
mod resolver;
mod schema;
mod shared;
#[cfg(test)]
mod tests;

use super::{App, Resolver, Shared, SharedKind};
use schema::FileToml;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

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
