//! Any bytes as a console request's query string: the view is refused with one line or read,
//! and a view read gives back the same view from the query string its links carry.
#![no_main]

use lantern::console::view::View;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(data).into_owned().collect();
    let Ok(view) = View::parse(&pairs) else {
        return;
    };
    let again = view.query_with(&view.filter);
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(again.trim_start_matches('?').as_bytes())
        .into_owned()
        .collect();
    let back = View::parse(&pairs).expect("a view's own query string reads");
    assert_eq!(back.period, view.period);
    assert_eq!(back.filter, view.filter);
});
