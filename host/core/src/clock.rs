//! "Now", injectable. Evaluation, exemption expiry and the plugins' `clock`
//! capability all read the same [`Clock`], so tests can pin time.

use chrono::{DateTime, NaiveDate, Utc};

/// Environment variable that pins "now" (RFC 3339 or `YYYY-MM-DD`). Meant for
/// tests and reproducing past runs; it is shown in the report's start time.
pub const NOW_ENV: &str = "GATE_TEST_NOW";

/// [`NOW_ENV`] holds something that is not a time.
#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    #[error("{NOW_ENV}=`{0}` is not an RFC 3339 time or YYYY-MM-DD date")]
    BadTime(String),
}

#[derive(Clone, Copy, Debug)]
pub enum Clock {
    System,
    Fixed(DateTime<Utc>),
}

impl Clock {
    /// The system clock, unless [`NOW_ENV`] pins it.
    pub fn from_env() -> Result<Clock, ClockError> {
        match std::env::var(NOW_ENV) {
            Ok(v) if !v.trim().is_empty() => parse(v.trim())
                .map(Clock::Fixed)
                .ok_or(ClockError::BadTime(v)),
            _ => Ok(Clock::System),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(t) => *t,
        }
    }

    pub fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }
}

fn parse(v: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(12, 0, 0))
        .map(|t| t.and_utc())
}

/// Feeds the pinned time to WASI's wall clock as well, so `std::time::SystemTime`
/// inside a plugin agrees with the `clock` capability.
pub struct WasiWallClock(pub Clock);

impl wasmtime_wasi::HostWallClock for WasiWallClock {
    fn resolution(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(1)
    }

    fn now(&self) -> std::time::Duration {
        let t = self.0.now();
        std::time::Duration::new(t.timestamp().max(0) as u64, t.timestamp_subsec_nanos())
    }
}
