//! Unix seconds as RFC 3339 UTC timestamps, for certificate dates in evidence,
//! through the `time` crate (already linked for x509-parser's validity dates).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `2026-01-01T00:00:00Z` for 1767225600. An instant RFC 3339 cannot write
/// (before year 0 or after 9999) reads as its Unix seconds.
pub fn format(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{unix} (Unix seconds)"))
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
