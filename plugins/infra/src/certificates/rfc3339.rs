//! Unix seconds as RFC 3339 UTC timestamps, for certificate dates in evidence.

/// `2026-01-01T00:00:00Z` for 1767225600.
pub fn format(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day)
/// in the proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format(0), "1970-01-01T00:00:00Z");
        assert_eq!(format(1_767_225_600), "2026-01-01T00:00:00Z");
        assert_eq!(format(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format(4_107_542_399), "2100-02-28T23:59:59Z");
        assert_eq!(format(-1), "1969-12-31T23:59:59Z");
        // X.509 GeneralizedTime allows dates past 2049 and before 1970.
        assert_eq!(format(253_402_300_799), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn agrees_with_the_sdk_parser_day_by_day() {
        for day in (-800..80_000).step_by(7) {
            let text = format(day * 86_400 + 3_723);
            assert_eq!(
                gate_plugin_sdk::date::parse_timestamp(&text),
                Ok(day * 86_400 + 3_723),
                "{text}"
            );
        }
    }
}
