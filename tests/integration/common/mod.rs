//! Helpers shared by the integration tests: run the real `lantern` binary and read its events.
#![allow(dead_code)]

pub mod clickhouse;
pub mod synth;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A capture of this project's own `captures/`.
pub fn own(name: &str) -> PathBuf {
    root().join("captures").join(name)
}

/// `../shared/captures`, which CI places beside the clone.
pub fn shared_captures() -> PathBuf {
    let dir = root().join("../shared/captures");
    assert!(
        dir.join("MANIFEST.tsv").is_file(),
        "{} is missing: the shared captures must sit beside the repository (../shared)",
        dir.display()
    );
    dir
}

/// A file of `../shared/reference/`, the merged public AI-domain lists.
pub fn shared_reference(name: &str) -> PathBuf {
    let path = root().join("../shared/reference").join(name);
    assert!(
        path.is_file(),
        "{} is missing: the shared reference must sit beside the repository (../shared)",
        path.display()
    );
    path
}

/// The result of one `lantern` run.
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout as JSON events.
    pub fn events(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| panic!("bad event {line}: {e}"))
            })
            .collect()
    }

    /// Flow events.
    pub fn flows(&self) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event_type"] == "flow")
            .collect()
    }

    /// DNS events.
    pub fn lookups(&self) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event_type"] == "dns")
            .collect()
    }
}

/// Runs `lantern ARGS` in `dir` (the current directory when `None`) with `env`.
pub fn lantern_in(dir: Option<&Path>, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lantern"));
    cmd.args(args).env_remove("LANTERN_STORE");
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run lantern");
    Run {
        status: status.code().unwrap_or(-1),
        stdout: String::from_utf8(stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(stderr).expect("utf-8 stderr"),
    }
}

/// Runs `lantern ARGS`.
pub fn lantern(args: &[&str]) -> Run {
    lantern_in(None, &[], args)
}

/// `lantern replay --no-store --quiet --events - FILES... EXTRA...`, which must succeed.
pub fn replay(files: &[&Path], extra: &[&str]) -> Run {
    let mut args = vec!["replay", "--no-store", "--quiet", "--events", "-"];
    args.extend(extra);
    let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    args.extend(files.iter().map(String::as_str));
    let run = lantern(&args);
    assert_eq!(run.status, 0, "lantern {args:?} failed: {}", run.stderr);
    run
}

/// The single event matching `pred`.
pub fn one<'a>(events: &'a [Value], what: &str, pred: impl Fn(&Value) -> bool) -> &'a Value {
    let found: Vec<&Value> = events.iter().filter(|e| pred(e)).collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {what}, found {}: {found:#?}",
        found.len()
    );
    found[0]
}
