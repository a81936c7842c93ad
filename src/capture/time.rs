//! Capture timestamps: nanoseconds since the Unix epoch, taken from the capture records.

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

#[cfg(test)]
mod tests {
    use super::*;

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
