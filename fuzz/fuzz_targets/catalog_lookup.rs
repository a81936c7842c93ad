//! A name and a request from the wire against the shipped catalog: any bytes, no panic, and
//! the answer does not depend on letter case.
#![no_main]

use lantern::catalog::Catalog;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static CATALOG: OnceLock<Catalog> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let catalog = CATALOG.get_or_init(|| Catalog::load(&[]).expect("shipped catalog"));
    let text = String::from_utf8_lossy(data);
    let (name, path) = text.split_once('\n').unwrap_or((&text, "/"));
    let port = data.first().map_or(80, |&b| u16::from(b) * 257);
    let (app, candidate) = catalog.classify(Some(name), Some(("POST", path)), port);
    assert!(!(app.is_some() && candidate));
    let upper = name.to_ascii_uppercase();
    assert_eq!(catalog.explain(name), catalog.explain(&upper), "{name:?}");
});
