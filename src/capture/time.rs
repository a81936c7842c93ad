//! Capture timestamps: nanoseconds since the Unix epoch, taken from the capture records, and
//! how every output shows one ([`Rfc3339`]).

use std::fmt;

/// A capture time in nanoseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Nanoseconds in one second.
    pub const NANOS_PER_SEC: i64 = 1_000_000_000;

    /// The time `secs` seconds plus `nanos` nanoseconds after the epoch, saturating.
    pub fn from_parts(secs: i64, nanos: i64) -> Timestamp {
        Timestamp(
            secs.saturating_mul(Self::NANOS_PER_SEC)
                .saturating_add(nanos),
        )
    }

    /// A time `secs` whole seconds after the epoch.
    pub fn from_secs(secs: i64) -> Timestamp {
        Self::from_parts(secs, 0)
    }

    /// Whole seconds since the epoch (rounded towards minus infinity).
    pub fn secs(self) -> i64 {
        self.0.div_euclid(Self::NANOS_PER_SEC)
    }

    /// The nanoseconds past [`Timestamp::secs`].
    pub fn subsec_nanos(self) -> u32 {
        self.0.rem_euclid(Self::NANOS_PER_SEC) as u32
    }

    /// This time plus `secs` seconds, saturating.
    pub fn plus_secs(self, secs: u64) -> Timestamp {
        let add = i64::try_from(secs)
            .unwrap_or(i64::MAX)
            .saturating_mul(Self::NANOS_PER_SEC);
        Timestamp(self.0.saturating_add(add))
    }

    /// The wall clock now (the epoch if the clock is set before it).
    pub fn now() -> Timestamp {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp::from_parts(now.as_secs() as i64, i64::from(now.subsec_nanos()))
    }

    /// The start of the hour that contains this time.
    pub fn hour_floor(self) -> Timestamp {
        Timestamp::from_secs(self.secs().div_euclid(3600) * 3600)
    }
}

/// A timestamp shown as RFC 3339 UTC with microseconds: `2026-11-20T09:14:03.123456Z`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rfc3339(pub Timestamp);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.secs();
        let micros = self.0.subsec_nanos() / 1000;
        let days = secs.div_euclid(86_400);
        let day_secs = secs.rem_euclid(86_400);
        let date =
            time::Date::from_julian_day(i32::try_from(days + 2_440_588).map_err(|_| fmt::Error)?)
                .map_err(|_| fmt::Error)?;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            date.year(),
            u8::from(date.month()),
            date.day(),
            day_secs / 3600,
            day_secs / 60 % 60,
            day_secs % 60
        )
    }
}

impl serde::Serialize for Rfc3339 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_microseconds() {
        let t = Timestamp::from_parts(1_763_630_043, 123_456_789);
        assert_eq!(Rfc3339(t).to_string(), "2025-11-20T09:14:03.123456Z");
        assert_eq!(
            Rfc3339(Timestamp(0)).to_string(),
            "1970-01-01T00:00:00.000000Z"
        );
        assert_eq!(
            Rfc3339(Timestamp::from_parts(951_782_400, 0)).to_string(),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(
            Rfc3339(Timestamp(-1_000)).to_string(),
            "1969-12-31T23:59:59.999999Z"
        );
    }

    #[test]
    fn parts_and_floor() {
        let t = Timestamp::from_parts(1_700_003_601, 250_000_000);
        assert_eq!(t.secs(), 1_700_003_601);
        assert_eq!(t.subsec_nanos(), 250_000_000);
        assert_eq!(t.hour_floor(), Timestamp::from_secs(1_700_002_800));
        let before_epoch = Timestamp(-1);
        assert_eq!(before_epoch.secs(), -1);
        assert_eq!(before_epoch.subsec_nanos(), 999_999_999);
        assert_eq!(Timestamp(i64::MAX).plus_secs(10), Timestamp(i64::MAX));
    }
}
