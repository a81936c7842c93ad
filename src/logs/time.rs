//! Times as logs write them: Zeek's seconds since the epoch (`1521911720.615923`), and ISO 8601
//! (Zeek's JSON option `2018-03-24T17:15:20.615923Z`, Suricata's `2026-11-23T04:54:47.950085+0000`).
//! Parsed exactly, digit by digit, so the same time in either of Zeek's formats is the same
//! [`Timestamp`].

use crate::capture::Timestamp;

/// Seconds since the epoch with up to nine decimals: `1521911720.615923`.
pub fn epoch(text: &str) -> Option<Timestamp> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let negative = whole.starts_with('-');
    let digits = whole.strip_prefix('-').unwrap_or(whole);
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = digits.parse().ok()?;
    let nanos = fraction(frac)?;
    Some(match negative {
        true => Timestamp::from_parts(-secs, -nanos),
        false => Timestamp::from_parts(secs, nanos),
    })
}

/// ISO 8601 / RFC 3339 with a `Z` or a `+hh:mm`/`+hhmm` offset and up to nine decimals.
pub fn iso(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let part = text.get(from..to)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let rest = &text[19..];
    let (frac, zone) = match rest.strip_prefix('.') {
        Some(r) => {
            let end = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
            (&r[..end], &r[end..])
        }
        None => ("", rest),
    };
    let offset = zone_offset(zone)?;
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(Timestamp::from_parts(secs, fraction(frac)?))
}

/// A time in either form.
pub fn any(text: &str) -> Option<Timestamp> {
    if text.len() >= 20 && text.as_bytes().get(4) == Some(&b'-') {
        iso(text)
    } else {
        epoch(text)
    }
}

/// `Z`, `+hh:mm`, `+hhmm` or `-...`: seconds east of UTC.
fn zone_offset(zone: &str) -> Option<i64> {
    if zone == "Z" || zone == "z" {
        return Some(0);
    }
    let sign = match zone.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = digits[2..].parse().ok()?;
    Some(sign * (hours * 3600 + minutes * 60))
}

/// Up to nine decimal digits as nanoseconds (more are cut off).
fn fraction(frac: &str) -> Option<i64> {
    if !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut nanos = 0i64;
    for i in 0..9 {
        let digit = frac.as_bytes().get(i).map_or(0, |c| i64::from(c - b'0'));
        nanos = nanos * 10 + digit;
    }
    Some(nanos)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeeks_two_forms_and_suricatas_are_the_same_instant() {
        let tsv = epoch("1521911720.615923").unwrap();
        assert_eq!(iso("2018-03-24T17:15:20.615923Z"), Some(tsv));
        assert_eq!(iso("2018-03-24T19:15:20.615923+0200"), Some(tsv));
        assert_eq!(iso("2018-03-24T17:15:20.615923+00:00"), Some(tsv));
        assert_eq!(tsv, Timestamp::from_parts(1_521_911_720, 615_923_000));
        assert_eq!(
            any("2026-11-23T04:54:47.950085+0000"),
            Some(Timestamp::from_parts(1_795_409_687, 950_085_000))
        );
        assert_eq!(any("0.000000"), Some(Timestamp(0)));
    }

    #[test]
    fn anything_else_is_no_time() {
        for bad in [
            "",
            "-",
            "XXXXXXXXXX.XXXXXX",
            "1e9",
            "12.3x",
            "2018-13-24T17:15:20Z",
            "2018-03-24T17:15:20",
            "2018-03-24T17:15:20.5+2",
            "９９",
            "2018-03-24T17:1é:20Z",
        ] {
            assert_eq!(any(bad), None, "{bad}");
        }
    }
}
