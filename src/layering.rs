//! The dependency rule of `lib.rs`, checked on the source: every `crate::STAGE` path in a file
//! of `src/` must name a stage to the left of the file's own, or a leaf library; and the files
//! of one stage must not import each other in a circle (a file's `super::NAME` or
//! `crate::STAGE::NAME` paths to a sibling file or folder count; a child's use of its parent's
//! own items does not).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The stages, left to right.
const STAGES: [&str; 13] = [
    "capture", "decode", "testdata", "flow", "proto", "logs", "naming", "identity", "policy",
    "output", "store", "report", "console",
];

/// Leaf libraries: any stage may import them; they import only each other.
const LEAVES: [&str; 6] = [
    "catalog",
    "metrics",
    "software",
    "text",
    "vocabulary",
    "writing",
];

/// The wiring: it may import anything, and nothing imports it but the binary.
const WIRING: [&str; 1] = ["pipeline"];

/// Crate-root names that are macros (`crate::table!`), not modules.
const MACROS: [&str; 4] = ["table", "read_row", "counters", "vocabulary"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The names that follow `prefix::` in `source` (`crate::naming::x` gives `naming`).
fn paths_after<'s>(source: &'s str, prefix: &str) -> BTreeSet<&'s str> {
    let mut found = BTreeSet::new();
    let mut rest = source;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end > 0 && !rest[end..].starts_with('!') {
            found.insert(&rest[..end]);
        }
    }
    found
}

/// A file's source without its comments (doc links name paths that are not imports).
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let lines = text.lines().map(|l| match l.find("//") {
        Some(at) if !l[..at].contains('"') => &l[..at],
        _ => l,
    });
    lines.collect::<Vec<_>>().join("\n")
}

/// The top-level module a file of `src/` belongs to.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

fn allowed(from: &str, to: &str) -> bool {
    let rank = |m: &str| STAGES.iter().position(|s| *s == m);
    if from == to || LEAVES.contains(&to) && from != "lib" {
        return true;
    }
    if WIRING.contains(&from) {
        return !WIRING.contains(&to);
    }
    match (rank(from), rank(to)) {
        (Some(a), Some(b)) => b < a,
        _ => false,
    }
}

#[test]
fn the_rule_holds() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut broken = Vec::new();
    for file in &files {
        let from = module_of(&src, file);
        if ["lib", "main", "cli", "layering"].contains(&from.as_str()) {
            continue;
        }
        let source = code(file);
        for to in paths_after(&source, "crate::") {
            if MACROS.contains(&to) || allowed(&from, to) {
                continue;
            }
            broken.push(format!(
                "{} imports {to}",
                file.strip_prefix(&src).unwrap().display()
            ));
        }
    }
    assert!(
        broken.is_empty(),
        "imports the rule does not allow:\n{}",
        broken.join("\n")
    );
}

/// The sibling files (and folders) a file of `dir` names.
fn siblings(dir: &Path, file: &Path, stage: &str, names: &BTreeSet<String>) -> BTreeSet<String> {
    let source = code(file);
    let own = file.file_stem().unwrap().to_string_lossy().to_string();
    let mut out = BTreeSet::new();
    let in_mod = own == "mod";
    let prefix = format!("crate::{stage}::");
    for name in paths_after(&source, "super::")
        .into_iter()
        .chain(paths_after(&source, &prefix))
    {
        if names.contains(name) && name != own && !(in_mod && dir.ends_with(stage)) {
            out.insert(name.to_string());
        }
    }
    out
}

#[test]
fn no_two_files_of_a_stage_import_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            dirs.push(path);
        }
    }
    let mut circles = Vec::new();
    while let Some(dir) = dirs.pop() {
        let mut names = BTreeSet::new();
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let stem = path.file_stem().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                dirs.push(path.clone());
                names.insert(stem);
            } else if path.extension().is_some_and(|e| e == "rs") && stem != "mod" {
                names.insert(stem);
                files.push(path);
            }
        }
        let stage = dir.file_name().unwrap().to_string_lossy().to_string();
        let edges: BTreeMap<String, BTreeSet<String>> = (files.iter())
            .map(|f| {
                let stem = f.file_stem().unwrap().to_string_lossy().to_string();
                (stem, siblings(&dir, f, &stage, &names))
            })
            .collect();
        for (a, tos) in &edges {
            for b in tos {
                if edges.get(b).is_some_and(|back| back.contains(a)) && a < b {
                    circles.push(format!("{}: {a} <-> {b}", dir.display()));
                }
            }
        }
    }
    assert!(
        circles.is_empty(),
        "files that import each other:\n{}",
        circles.join("\n")
    );
}
