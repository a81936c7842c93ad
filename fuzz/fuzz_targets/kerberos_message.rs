//! Any bytes as a Kerberos KDC message (the ASN.1 of AS-REQ, AS-REP, TGS-REQ, TGS-REP,
//! KRB-ERROR), and as a TCP record marker.
#![no_main]

use lantern::proto::kerberos::{machine_name, parse, tcp_length};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = parse(data) {
        if let Some(p) = &message.principal {
            assert!(p.len() <= 256);
            let _ = machine_name(p);
        }
    }
    let _ = tcp_length(data);
});
