//! Dates as policies and data files write them: `2025-01-31` or RFC 3339 timestamps.
//! Small enough not to need a date-time crate inside every plugin (and a
//! date-time crate's RFC 3339 parser refuses the bare dates policies use).

/// Seconds since the Unix epoch for a date (midnight UTC) or an RFC 3339 timestamp.
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    let bad = || {
        format!(
            "`{}` is not a date (YYYY-MM-DD) or an RFC 3339 timestamp",
            crate::redact::text(text)
        )
    };
    let s = text.trim();
    let (date, time) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let days = parse_date(date).ok_or_else(bad)?;
    let seconds = match time {
        None => 0,
        Some(t) => parse_time(t).ok_or_else(bad)?,
    };
    Ok(days * 86_400 + seconds)
}

/// Days since the epoch for `YYYY-MM-DD`.
fn parse_date(s: &str) -> Option<i64> {
    let mut parts = s.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, u32, u32) = (number(y)?, number(m)?, number(d)?);
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// Seconds after midnight UTC for `HH:MM:SS[.frac](Z|±HH:MM)`.
fn parse_time(s: &str) -> Option<i64> {
    let (clock, offset) = if let Some(c) = s.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else {
        let i = s.rfind(['+', '-'])?;
        let (c, o) = s.split_at(i);
        let sign = if o.starts_with('-') { -1 } else { 1 };
        let (oh, om) = o[1..].split_once(':')?;
        if oh.len() != 2 || om.len() != 2 {
            return None;
        }
        let (oh, om): (i64, i64) = (number(oh)?, number(om)?);
        if oh > 23 || om > 59 {
            return None;
        }
        (c, sign * (oh * 3600 + om * 60))
    };
    let clock = clock.split_once('.').map_or(clock, |(whole, frac)| {
        if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
            "invalid"
        } else {
            whole
        }
    });
    let mut parts = clock.split(':');
    let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || h.len() != 2 || m.len() != 2 || sec.len() != 2 {
        return None;
    }
    let (h, m, sec): (i64, i64, i64) = (number(h)?, number(m)?, number(sec)?);
    // 60 allows a leap second.
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some(h * 3600 + m * 60 + sec - offset)
}

fn number<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's `days_from_civil`.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2024-02-29` for any instant that day (UTC).
pub fn format_date(unix: i64) -> String {
    let (y, m, d) = civil_from_days(unix.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dates_and_timestamps() {
        assert_eq!(parse_timestamp("1970-01-01"), Ok(0));
        assert_eq!(parse_timestamp("2000-03-01"), Ok(951_868_800));
        assert_eq!(parse_timestamp("2024-02-29"), Ok(1_709_164_800));
        assert_eq!(parse_timestamp("2024-02-29T12:00:00Z"), Ok(1_709_208_000));
        assert_eq!(
            parse_timestamp("2024-02-29T12:00:00.123456Z"),
            Ok(1_709_208_000)
        );
        assert_eq!(
            parse_timestamp("2024-02-29T14:00:00+02:00"),
            Ok(1_709_208_000)
        );
        assert_eq!(
            parse_timestamp("2024-02-29 07:00:00-05:00"),
            Ok(1_709_208_000)
        );
        assert_eq!(parse_timestamp("1969-12-31"), Ok(-86_400));
    }

    #[test]
    fn rejects_malformed_dates() {
        for bad in [
            "",
            "2024",
            "2024-13-01",
            "2023-02-29",
            "2024-1-01",
            "24-01-01",
            "2024-01-01T25:00:00Z",
            "2024-01-01T12:00:00",
            "2024-01-01T12:00Z",
            "2024-01-01T12:00:00.Z",
            "yesterday",
            "2024-01-01T12:00:00+0200",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn formats_dates_back_from_timestamps() {
        for day in (-800..80_000).step_by(7) {
            let date = format_date(day * 86_400 + 3_723);
            assert_eq!(parse_timestamp(&date), Ok(day * 86_400), "{date}");
        }
        assert_eq!(format_date(1_709_208_000), "2024-02-29");
        assert_eq!(format_date(-1), "1969-12-31");
    }
}
