//! `lantern catalog`: validate, look up, list and count the AI application catalog and its
//! encrypted-DNS resolvers (the shipped `signatures/` plus any `--catalog` files), so it can be
//! reviewed like code.

use super::Failure;
use super::Format;
use clap::{Args, Subcommand};
use comfy_table::{Cell, CellAlignment};
use lantern::catalog::{self, Catalog, Category, Match, SharedKind, candidate};
use lantern::output::new_table;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// Flags of `lantern catalog`.
#[derive(Debug, Args)]
pub struct CatalogArgs {
    /// Extra catalog file or directory of .toml files (repeatable); overrides apps by id.
    #[arg(long = "catalog", value_name = "PATH", global = true)]
    catalogs: Vec<PathBuf>,
    #[command(subcommand)]
    command: CatalogCommand,
}

#[derive(Debug, Subcommand)]
enum CatalogCommand {
    /// Check the catalog: schema, unique ids, host names, categories, and that no pattern or
    /// request rule is claimed twice. Exits non-zero with FILE:LINE: reason when it is invalid.
    Validate,
    /// Which app a host name belongs to and by which pattern, or why it belongs to none (shared,
    /// not AI, a DoH resolver's, a candidate). Exits 1 when no app matches.
    Lookup(LookupArgs),
    /// List the apps.
    List(ListArgs),
    /// Count apps by category, patterns by kind, how many apps carry each fact, and resolvers.
    Stats {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// What changed between two versions of the catalog: apps added, removed and changed
    /// (patterns, fields, sources), and shared or not-AI names added and removed. Each side is
    /// a catalog directory or file, or a git revision of this repository (`main`, `v0.1.0`,
    /// `HEAD~3:signatures`), read with `git show`.
    Diff(DiffArgs),
}

#[derive(Debug, Args)]
struct DiffArgs {
    /// The old catalog: a directory, a file, or REV[:DIR] (DIR defaults to signatures).
    old: String,
    /// The new catalog, as OLD.
    new: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, Args)]
struct LookupArgs {
    /// Host name (or server address, with --request).
    host: String,
    /// A plaintext HTTP request to the host, as "METHOD /path", to look up local model servers.
    #[arg(long, value_name = "METHOD /PATH")]
    request: Option<String>,
    /// The server port of --request.
    #[arg(long, default_value_t = 80, value_name = "PORT")]
    port: u16,
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Only apps of this category.
    #[arg(long, value_name = "CATEGORY", value_parser = parse_category)]
    category: Option<Category>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

fn parse_category(name: &str) -> Result<Category, String> {
    Category::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Category::ALL.iter().map(|c| c.name()).collect();
        format!("one of {}", names.join(", "))
    })
}

/// Runs `lantern catalog ...`.
pub fn run(args: CatalogArgs) -> Result<ExitCode, Failure> {
    if let CatalogCommand::Diff(d) = &args.command {
        let mut out = std::io::stdout().lock();
        self::diff(d, &mut out)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let catalog = Catalog::load(&args.catalogs)?;
    let mut out = std::io::stdout().lock();
    let found = match args.command {
        CatalogCommand::Validate => {
            validate(&catalog, &mut out)?;
            true
        }
        CatalogCommand::Lookup(lookup) => self::lookup(&catalog, &lookup, &mut out)?,
        CatalogCommand::List(list) => {
            self::list(&catalog, &list, &mut out)?;
            true
        }
        CatalogCommand::Stats { format } => {
            stats(&catalog, format, &mut out)?;
            true
        }
        CatalogCommand::Diff(_) => unreachable!("diff returned above"),
    };
    out.flush()?;
    Ok(if found {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn validate(catalog: &Catalog, out: &mut impl Write) -> Result<(), Failure> {
    let s = catalog.stats();
    writeln!(
        out,
        "catalog valid: {} apps, {} name patterns ({} suffix, {} exact, {} wildcard), {} request rules, \
         {} shared and {} not-AI names, {} DoH resolvers ({} patterns), from {} files",
        s.apps,
        s.patterns.suffix + s.patterns.exact + s.patterns.wildcard,
        s.patterns.suffix,
        s.patterns.exact,
        s.patterns.wildcard,
        s.patterns.requests,
        s.shared_names,
        s.not_ai_names,
        s.resolvers,
        s.doh_patterns,
        s.files
    )?;
    Ok(())
}

fn lookup(catalog: &Catalog, args: &LookupArgs, out: &mut impl Write) -> Result<bool, Failure> {
    let host = args.host.as_str();
    let request = match &args.request {
        Some(spec) => Some(
            spec.split_once(' ')
                .ok_or_else(|| Failure(format!("--request {spec:?} is not \"METHOD /path\"")))?,
        ),
        None => None,
    };
    let (app, _) = catalog.classify(Some(host), request, args.port);
    if let Some(hit) = app {
        let a = hit.app;
        let how = match hit.pattern.contains(' ') {
            true => "by request rule",
            false => "by pattern",
        };
        writeln!(
            out,
            "{host}: {} ({}, {}) {how} {:?} in {}\n  confidence: {}\n  sources: {}",
            a.name,
            a.id,
            a.category.name(),
            hit.pattern,
            a.origin.display(),
            a.confidence,
            a.sources.join(", ")
        )?;
        return Ok(true);
    }
    let why = match catalog.explain(host) {
        Match::Shared { index, pattern } => {
            let entry = &catalog.shared()[index];
            let kind = match entry.kind {
                SharedKind::Shared => "shared with non-AI traffic",
                SharedKind::NotAi => "reviewed and not an AI app",
                SharedKind::EchPublicName => "an ECH public name (the outer SNI of a provider)",
            };
            format!(
                "{kind}, by {pattern:?} in {}: {}",
                entry.origin.display(),
                entry.reason
            )
        }
        Match::Resolver { index, pattern } => {
            let r = &catalog.resolvers()[index];
            format!(
                "a DoH resolver (encrypted DNS), {} ({}), by {pattern:?} in {}",
                r.name,
                r.id,
                r.origin.display()
            )
        }
        Match::App { .. } | Match::None => match candidate::reason(host) {
            Some(reason) => format!("not in the catalog; a candidate because {reason}"),
            None => "not in the catalog, and not a candidate".to_string(),
        },
    };
    writeln!(out, "{host}: no app: {why}")?;
    Ok(false)
}

fn list(catalog: &Catalog, args: &ListArgs, out: &mut impl Write) -> Result<(), Failure> {
    let apps: Vec<_> = catalog
        .apps()
        .iter()
        .filter(|a| args.category.is_none_or(|c| a.category == c))
        .collect();
    if args.format == Format::Json {
        serde_json::to_writer_pretty(&mut *out, &apps)?;
        writeln!(out)?;
        return Ok(());
    }
    let mut table = new_table(&[
        "id",
        "name",
        "vendor",
        "category",
        "hq",
        "risk",
        "confidence",
        "patterns",
    ]);
    for a in &apps {
        let mut patterns = a.domains.clone();
        patterns.extend(a.requests.iter().cloned());
        let shown = match patterns.len() {
            0..=3 => patterns.join(" "),
            n => format!("{} (+{} more)", patterns[..3].join(" "), n - 3),
        };
        table.add_row(vec![
            Cell::new(&a.id),
            Cell::new(&a.name),
            Cell::new(&a.vendor),
            Cell::new(a.category.name()),
            Cell::new(a.hq_country.as_deref().unwrap_or("")),
            Cell::new(a.risk.as_ref().map_or("", |r| r.tier.name())),
            Cell::new(a.confidence),
            Cell::new(shown),
        ]);
    }
    writeln!(out, "{table}")?;
    writeln!(out, "{} apps", apps.len())?;
    Ok(())
}

fn stats(catalog: &Catalog, format: Format, out: &mut impl Write) -> Result<(), Failure> {
    let s = catalog.stats();
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut *out, &s)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(out, "{} apps from {} files", s.apps, s.files)?;
    let mut table = new_table(&["category", "apps"]);
    for (category, n) in &s.by_category {
        table.add_row(vec![Cell::new(category.name()), right(*n)]);
    }
    writeln!(out, "{table}")?;
    let mut table = new_table(&["confidence", "apps"]);
    for (level, n) in &s.by_confidence {
        table.add_row(vec![Cell::new(level.name()), right(*n)]);
    }
    writeln!(out, "{table}")?;
    let mut table = new_table(&["catalog entries", "count"]);
    for (what, n) in [
        ("suffix patterns", s.patterns.suffix),
        ("exact patterns", s.patterns.exact),
        ("wildcard patterns", s.patterns.wildcard),
        ("request rules", s.patterns.requests),
        ("shared names", s.shared_names),
        ("not-AI names", s.not_ai_names),
        ("ECH public names", s.ech_public_names),
        ("DoH resolvers", s.resolvers),
        ("DoH patterns", s.doh_patterns),
    ] {
        table.add_row(vec![Cell::new(what), right(n)]);
    }
    writeln!(out, "{table}")?;
    let mut table = new_table(&["apps with", "count"]);
    for (what, n) in [
        ("sources", s.with_sources),
        ("vendor documentation", s.vendor_documented),
        ("hq_country", s.with_hq_country),
        ("risk", s.with_risk),
        ("trains_on_user_data", s.with_training),
        ("enterprise_plan", s.with_enterprise_plan),
    ] {
        table.add_row(vec![Cell::new(what), right(n)]);
    }
    writeln!(out, "{table}")?;
    Ok(())
}

fn right(n: usize) -> Cell {
    Cell::new(n).set_alignment(CellAlignment::Right)
}

/// One side of `lantern catalog diff`: a catalog directory or file, else a git revision.
fn catalog_at(spec: &str) -> Result<Catalog, Failure> {
    let path = Path::new(spec);
    if path.exists() {
        return Ok(Catalog::from_files(&Catalog::read_files(path)?)?);
    }
    let (rev, dir) = spec.split_once(':').unwrap_or((spec, "signatures"));
    let git = |args: &[&str]| -> Result<String, Failure> {
        let out = Command::new("git").args(args).output().map_err(|e| {
            Failure(format!(
                "{spec:?} is not a catalog directory, and git cannot run: {e}"
            ))
        })?;
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr);
            return Err(Failure(format!(
                "{spec:?} is neither a catalog directory nor a git revision with {dir}/: {}",
                why.lines().next().unwrap_or("git failed")
            )));
        }
        String::from_utf8(out.stdout).map_err(|_| Failure(format!("{spec}: not UTF-8")))
    };
    let listing = git(&["ls-tree", "--name-only", &format!("{rev}:{dir}")])?;
    let mut files = Vec::new();
    for name in listing.lines().filter(|n| n.ends_with(".toml")) {
        let text = git(&["show", &format!("{rev}:{dir}/{name}")])?;
        files.push((PathBuf::from(format!("{rev}:{dir}/{name}")), text));
    }
    if files.is_empty() {
        return Err(Failure(format!("{spec}: no .toml files in {rev}:{dir}")));
    }
    Ok(Catalog::from_files(&files)?)
}

fn diff(args: &DiffArgs, out: &mut impl Write) -> Result<(), Failure> {
    let d = catalog::diff::diff(&catalog_at(&args.old)?, &catalog_at(&args.new)?);
    if args.format == Format::Json {
        serde_json::to_writer_pretty(&mut *out, &d)?;
        writeln!(out)?;
        return Ok(());
    }
    for (sign, apps) in [("+", &d.apps_added), ("-", &d.apps_removed)] {
        for a in apps {
            writeln!(
                out,
                "{sign} app {} ({}, {}, confidence {}): {}",
                a.id,
                a.name,
                a.category,
                a.confidence,
                a.patterns.join(" ")
            )?;
        }
    }
    for c in &d.apps_changed {
        let mut parts: Vec<String> = c.patterns_added.iter().map(|p| format!("+ {p}")).collect();
        parts.extend(c.patterns_removed.iter().map(|p| format!("- {p}")));
        parts.extend(c.fields.iter().cloned());
        writeln!(out, "~ app {}: {}", c.id, parts.join("; "))?;
    }
    for (sign, names) in [("+", &d.names_added), ("-", &d.names_removed)] {
        for n in names {
            writeln!(out, "{sign} {} {}: {}", n.kind, n.domain, n.reason)?;
        }
    }
    writeln!(
        out,
        "{} apps added, {} removed, {} changed; {} names added, {} removed",
        d.apps_added.len(),
        d.apps_removed.len(),
        d.apps_changed.len(),
        d.names_added.len(),
        d.names_removed.len()
    )?;
    Ok(())
}
