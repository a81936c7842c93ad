//! Tests of the EVE reader on real Suricata 8.0.6 events.
