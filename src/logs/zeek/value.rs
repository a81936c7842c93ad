//! The values of Zeek's fields as lantern reads them, from either of Zeek's formats: a string
//! as the log holds it ([`Text`], its escapes decoded only when a field is used), a time
//! ([`Time`]), an interval ([`Interval`]) and an address ([`Ip`]). Each is a serde type, so one
//! line struct reads a tab-separated line (through [`tsv`](super::tsv)'s deserializer) and a
//! JSON line (through serde_json) alike, and the same line gives the same values in both.

use crate::capture::Timestamp;
use crate::logs::time;
use serde::de::{self, Deserialize, Deserializer, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

/// Which of Zeek's formats a line is in: they escape bytes differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// Tab-separated: a byte that is not printable (or is a separator) as `\xHH`, a backslash
    /// as `\\`.
    Tsv,
    /// JSON lines: JSON's own escapes (undone by the parser), and a byte that is not UTF-8 as
    /// the four characters `\xHH`.
    Json,
}

/// A string field as the line holds it: TSV's bytes with Zeek's escapes still in them, or a
/// JSON string with JSON's escapes undone (bytes that are not UTF-8 are kept, not refused).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Text<'a>(pub Cow<'a, [u8]>);

impl Text<'_> {
    /// The bytes Zeek logged, its escapes decoded.
    pub fn bytes(&self, syntax: Syntax) -> Cow<'_, [u8]> {
        unescape(&self.0, syntax)
    }

    /// The bytes as they are written (for text that has no escapes: names of protocols,
    /// states, uids).
    pub fn raw(&self) -> &[u8] {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_bytes<E>(self, v: &'de [u8]) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_vec())))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v.as_bytes())))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.as_bytes().to_vec())))
            }
        }
        // As bytes: serde_json then keeps a string that is not UTF-8 instead of refusing it.
        d.deserialize_bytes(V(std::marker::PhantomData))
    }
}

/// Decodes Zeek's escapes: `\xHH` in both formats, and `\\` in TSV (in JSON a backslash is
/// JSON's `\\`, already undone). Anything else after a backslash is kept as it is.
pub fn unescape(raw: &[u8], syntax: Syntax) -> Cow<'_, [u8]> {
    if !raw.contains(&b'\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' {
            if raw.get(i + 1) == Some(&b'x')
                && let Some(byte) = raw.get(i + 2..i + 4).and_then(hex_byte)
            {
                out.push(byte);
                i += 4;
                continue;
            }
            if syntax == Syntax::Tsv && raw.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    Cow::Owned(out)
}

/// Two hex digits as a byte.
fn hex_byte(hex: &[u8]) -> Option<u8> {
    let digit = |c: u8| char::from(c).to_digit(16);
    Some((digit(hex[0])? * 16 + digit(hex[1])?) as u8)
}

/// A time: TSV's seconds since the epoch (`1521911720.615923`), or in JSON a number of seconds
/// or an ISO 8601 string (`2018-03-24T17:15:20.615923Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Time(pub Timestamp);

/// An interval in nanoseconds: TSV's seconds with six decimals (`0.000870`), or a JSON number
/// of seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval(pub i64);

impl Interval {
    /// Whole seconds, saturating into `u32` (a negative interval is 0).
    pub fn secs_u32(self) -> u32 {
        let secs = self.0.div_euclid(Timestamp::NANOS_PER_SEC);
        u32::try_from(secs.max(0)).unwrap_or(u32::MAX)
    }
}

/// Seconds (TSV's text, a JSON number or an ISO string) as a timestamp. `iso` allows ISO 8601.
struct Seconds {
    iso: bool,
}

impl<'de> Visitor<'de> for Seconds {
    type Value = Timestamp;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("seconds")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
        let parsed = match self.iso {
            true => time::any(v),
            false => time::epoch(v),
        };
        parsed.ok_or_else(|| E::custom("not a time"))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Timestamp, E> {
        let text = std::str::from_utf8(v).map_err(|_| E::custom("not a time"))?;
        self.visit_str(text)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
        let secs = i64::try_from(v).map_err(|_| E::custom("not a time"))?;
        Ok(Timestamp::from_secs(secs))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
        Ok(Timestamp::from_secs(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
        zeek_micros(v).ok_or_else(|| E::custom("not a time"))
    }
}

/// A JSON number of seconds as TSV writes the same value: Zeek's TSV writer prints a time or
/// an interval with `modp_dtoa(value, 6)`, which rounds the fraction times 10^6 half to odd
/// (and 0 up); repeating its arithmetic here makes a JSON line's times the same instants as
/// the TSV line's, to the nanosecond (the JSON writer prints every digit of the double).
fn zeek_micros(value: f64) -> Option<Timestamp> {
    if !value.is_finite() || value.abs() >= 1e12 {
        return None;
    }
    let negative = value < 0.0;
    let value = value.abs();
    let mut whole = value.trunc();
    let scaled = (value - whole) * 1e6;
    let mut frac = scaled.trunc();
    let diff = scaled - frac;
    if diff > 0.5 {
        frac += 1.0;
        if frac >= 1e6 {
            frac = 0.0;
            whole += 1.0;
        }
    } else if diff == 0.5 && (frac == 0.0 || frac % 2.0 == 1.0) {
        frac += 1.0;
    }
    let (secs, nanos) = (whole as i64, frac as i64 * 1000);
    Some(match negative {
        true => Timestamp::from_parts(-secs, -nanos),
        false => Timestamp::from_parts(secs, nanos),
    })
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Seconds { iso: true }).map(Time)
    }
}

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Seconds { iso: false })
            .map(|t| Interval(t.0))
    }
}

/// An address field (`10.47.1.100`, `fe80::217:f2ff:fed7:cf65`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ip(pub IpAddr);

impl<'de> Deserialize<'de> for Ip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Text::deserialize(d)?;
        std::str::from_utf8(text.raw())
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Ip)
            .ok_or_else(|| de::Error::custom("not an address"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_of_each_format() {
        let tsv = unescape(br"a\x09b\\x41\q", Syntax::Tsv);
        assert_eq!(&*tsv, b"a\tb\\x41\\q");
        let json = unescape(br"a\xffb\\", Syntax::Json);
        assert_eq!(&*json, b"a\xffb\\\\");
        assert!(matches!(unescape(b"plain", Syntax::Tsv), Cow::Borrowed(_)));
        assert_eq!(&*unescape(br"cut\x4", Syntax::Tsv), br"cut\x4");
    }

    #[test]
    fn a_json_double_is_the_instant_tsv_prints() {
        let at = |s: i64, micros: i64| Timestamp::from_parts(s, micros * 1000);
        assert_eq!(zeek_micros(1521911720.615923), Some(at(1521911720, 615923)));
        // The rtt of a real line: JSON 0.0008699893951416016, TSV 0.000870.
        assert_eq!(zeek_micros(0.0008699893951416016), Some(at(0, 870)));
        assert_eq!(zeek_micros(0.9999996), Some(at(1, 0)));
        assert_eq!(
            zeek_micros(-1.5),
            Some(Timestamp::from_parts(-1, -500_000_000))
        );
        assert_eq!(zeek_micros(f64::NAN), None);
        assert_eq!(zeek_micros(1e300), None);
    }
}
