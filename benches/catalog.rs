//! How long one catalog lookup takes (target: under 100 ns), for names that hit an app, names
//! under a shared name, wildcard hits and misses, and a subdomain of every app's first domain
//! (thousands of different names, so the table is read as a sensor reads it, not from a warm
//! cache line); how long loading the shipped catalog takes (target: under 50 ms); and, for the
//! record, the same lookups in a reversed-label trie, the other design the catalog could have
//! used.
//!
//! `cargo bench --bench catalog`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lantern::catalog::Catalog;
use std::collections::HashMap;
use std::hint::black_box;

/// Names as a sensor sees them: AI apps, shared names, misses, deep CDN names.
const NAMES: [(&str, &[&str]); 4] = [
    (
        "app",
        &[
            "chatgpt.com",
            "api.openai.com",
            "ab.chat.openai.com",
            "claude.ai",
            "gemini.google.com",
            "copilot.microsoft.com",
            "api.business.githubcopilot.com",
            "cdn-lfs-us-1.hf.co",
        ],
    ),
    (
        "shared",
        &[
            "www.google.com",
            "fonts.gstatic.com",
            "www.bing.com",
            "github.com",
            "s3.us-east-1.amazonaws.com",
            "lh3.googleusercontent.com",
        ],
    ),
    (
        "wildcard",
        &[
            "bedrock-runtime.us-east-1.amazonaws.com",
            "europe-west4-aiplatform.googleapis.com",
            "chatgpt-async-webps-prod-eastus-7.webpubsub.azure.com",
        ],
    ),
    (
        "miss",
        &[
            "www.example.com",
            "e3891.dscx.akamaiedge.net",
            "d1a2b3c4d5e6f7.cloudfront.net",
            "r3---sn-4g5e6nsz.googlevideo.com",
            "ocsp.digicert.com",
            "a.b.c.d.e.f.example.org",
        ],
    ),
];

fn lookups(c: &mut Criterion) {
    let catalog = Catalog::load(&[]).expect("catalog");
    let trie = Trie::build(&catalog);
    for (kind, names) in NAMES {
        // One iteration looks up every name of the group; the throughput is lookups per second.
        let mut group = c.benchmark_group(format!("lookup/{kind}"));
        group.throughput(Throughput::Elements(names.len() as u64));
        group.bench_function("suffix hash", |b| {
            b.iter(|| {
                for name in names {
                    black_box(catalog.explain(black_box(name)));
                }
            })
        });
        group.bench_function("label trie", |b| {
            b.iter(|| {
                for name in names {
                    black_box(trie.lookup(black_box(name)));
                }
            })
        });
        group.finish();
    }
    // A subdomain of every app's first literal domain: as many different names as apps.
    let every: Vec<String> = (catalog.apps().iter())
        .filter_map(|a| a.domains.iter().find(|d| !d.contains('*')))
        .map(|d| format!("www.{}", d.trim_start_matches('=')))
        .collect();
    let mut group = c.benchmark_group("lookup/every app");
    group.throughput(Throughput::Elements(every.len() as u64));
    group.bench_function("suffix hash", |b| {
        b.iter(|| {
            for name in &every {
                black_box(catalog.explain(black_box(name)));
            }
        })
    });
    group.finish();
    c.bench_function("load/shipped catalog", |b| {
        b.iter(|| black_box(Catalog::load(&[]).expect("catalog")))
    });
    c.bench_function("classify/candidate newtool.ai", |b| {
        b.iter(|| black_box(catalog.classify(black_box(Some("app.newtool.ai")), None, 443)))
    });
}

/// A reversed-label trie of the literal suffix patterns (no exact or wildcard patterns): the
/// design not taken, kept here so the choice stays measured.
#[derive(Default)]
struct Trie {
    children: HashMap<Box<str>, Trie, foldhash::fast::RandomState>,
    target: Option<usize>,
}

impl Trie {
    fn build(catalog: &Catalog) -> Trie {
        let mut root = Trie::default();
        let suffixes = catalog.apps().iter().enumerate().flat_map(|(i, a)| {
            a.domains
                .iter()
                .filter(|d| !d.starts_with('=') && !d.contains('*'))
                .map(move |d| (d.as_str(), i))
        });
        for (domain, target) in suffixes {
            let mut node = &mut root;
            for label in domain.rsplit('.') {
                node = node.children.entry(label.into()).or_default();
            }
            node.target = Some(target);
        }
        root
    }

    fn lookup(&self, name: &str) -> Option<usize> {
        let mut buf = [0u8; 253];
        let lower = buf.get_mut(..name.len())?;
        lower.copy_from_slice(name.as_bytes());
        lower.make_ascii_lowercase();
        let lower = std::str::from_utf8(lower).ok()?;
        let mut node = self;
        let mut best = None;
        for label in lower.rsplit('.') {
            match node.children.get(label) {
                Some(child) => {
                    node = child;
                    best = node.target.or(best);
                }
                None => break,
            }
        }
        best
    }
}

criterion_group!(benches, lookups);
criterion_main!(benches);
