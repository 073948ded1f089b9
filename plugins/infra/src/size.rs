//! Byte sizes in parameters: an integer number of bytes, or a string with a unit
//! (`"10GiB"`, `"500MB"`, `"1.5 TiB"`).
//!
//! Decimal units (kB, MB, GB, TB, PB) are powers of 1000 and binary units
//! (KiB … PiB, or Kubernetes-style Ki … Pi) are powers of 1024. A bare `K`,
//! `M`, `G`, `T` or `P` is rejected: `df -h` means 1024 by it and Kubernetes
//! means 1000, and a disk threshold should not depend on which one the author
//! had in mind. (Hence no `bytesize`/`parse-size`: both read a bare `K`, `M`, `G`.)

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// A number of bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

const KIB: u64 = 1024;

fn multiplier(unit: &str) -> Result<u64, String> {
    let m = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "mb" => 1000u64.pow(2),
        "gb" => 1000u64.pow(3),
        "tb" => 1000u64.pow(4),
        "pb" => 1000u64.pow(5),
        "kib" | "ki" => KIB,
        "mib" | "mi" => KIB.pow(2),
        "gib" | "gi" => KIB.pow(3),
        "tib" | "ti" => KIB.pow(4),
        "pib" | "pi" => KIB.pow(5),
        "k" | "m" | "g" | "t" | "p" => {
            let u = unit.to_ascii_uppercase();
            return Err(format!(
                "ambiguous unit `{unit}`: write `{u}B` (powers of 1000) or `{u}iB` (powers of 1024)"
            ));
        }
        _ => {
            return Err(format!(
                "unknown unit `{unit}`: use B, kB, MB, GB, TB, PB, KiB, MiB, GiB, TiB or PiB"
            ));
        }
    };
    Ok(m)
}

impl std::str::FromStr for ByteSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let s = text.trim();
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
            .unwrap_or(s.len());
        let (number, unit) = (s[..split].replace('_', ""), s[split..].trim());
        if number.is_empty() {
            return Err(format!(
                "`{text}` is not a size: expected a number such as `10GiB` or `500MB`"
            ));
        }
        let mult = multiplier(unit)?;
        let (int, frac) = number.split_once('.').unwrap_or((&number, ""));
        if int.is_empty() && frac.is_empty() || frac.contains('.') || frac.len() > 18 {
            return Err(format!("`{text}` is not a size: bad number `{number}`"));
        }
        let too_big = || format!("`{text}` is too large");
        // Exact integer arithmetic so "1.5GiB" is exactly 1610612736.
        let scale = 10u128.pow(frac.len() as u32);
        let mantissa = format!("{int}{frac}")
            .parse::<u128>()
            .map_err(|_| too_big())?;
        let bytes = mantissa
            .checked_mul(u128::from(mult))
            .ok_or_else(too_big)?
            .div_ceil(scale);
        u64::try_from(bytes).map(ByteSize).map_err(|_| too_big())
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SizeVisitor;

        impl Visitor<'_> for SizeVisitor {
            type Value = ByteSize;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number of bytes, or a string such as \"10GiB\" or \"500MB\"")
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom(format!("a size cannot be negative: {v}")))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ByteSize, E> {
                if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < u64::MAX as f64 {
                    Ok(ByteSize(v as u64))
                } else {
                    Err(E::custom(format!(
                        "{v} is not a whole, non-negative number of bytes"
                    )))
                }
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                v.parse().map_err(E::custom)
            }
        }

        deserializer.deserialize_any(SizeVisitor)
    }
}

impl fmt::Display for ByteSize {
    /// Binary units with one decimal, the way `df -h` prints them.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        if self.0 < KIB {
            return write!(f, "{} B", self.0);
        }
        let mut value = self.0 as f64 / KIB as f64;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        write!(f, "{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<u64, String> {
        s.parse::<ByteSize>().map(|b| b.0)
    }

    #[test]
    fn parses_units() {
        let cases = [
            ("0", 0),
            ("1024", 1024),
            ("512B", 512),
            ("500MB", 500_000_000),
            ("500 mb", 500_000_000),
            ("1kB", 1000),
            ("10GiB", 10 * 1024 * 1024 * 1024),
            ("10Gi", 10 * 1024 * 1024 * 1024),
            ("1.5GiB", 1_610_612_736),
            ("2TB", 2_000_000_000_000),
            ("1PiB", 1 << 50),
            ("1_000 MB", 1_000_000_000),
            (" 7 KiB ", 7168),
            ("0.5KiB", 512),
            ("0.0001KB", 1), // rounds up: a threshold never gets weaker
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn rejects_ambiguous_and_unknown_units() {
        assert!(parse("10G").unwrap_err().contains("ambiguous unit `G`"));
        assert!(parse("10G").unwrap_err().contains("`GB`"));
        assert!(parse("10 bogus").unwrap_err().contains("unknown unit"));
        assert!(parse("GiB").unwrap_err().contains("not a size"));
        assert!(parse("").is_err());
        assert!(parse("1.2.3GB").is_err());
        assert!(parse("-5GB").is_err());
        assert!(parse("99999999999PiB").unwrap_err().contains("too large"));
    }

    #[test]
    fn deserializes_integers_and_strings() {
        let v: ByteSize = serde_json::from_str("10737418240").unwrap();
        assert_eq!(v.0, 10 * 1024 * 1024 * 1024);
        let v: ByteSize = serde_json::from_str("\"10GiB\"").unwrap();
        assert_eq!(v.0, 10 * 1024 * 1024 * 1024);
        let v: ByteSize = serde_json::from_str("1e3").unwrap();
        assert_eq!(v.0, 1000);
        assert!(serde_json::from_str::<ByteSize>("-1").is_err());
        assert!(serde_json::from_str::<ByteSize>("1.5").is_err());
        assert!(serde_json::from_str::<ByteSize>("true").is_err());
    }

    #[test]
    fn displays_binary_units() {
        assert_eq!(ByteSize(512).to_string(), "512 B");
        assert_eq!(ByteSize(1536).to_string(), "1.5 KiB");
        assert_eq!(ByteSize(10 * 1024 * 1024 * 1024).to_string(), "10.0 GiB");
    }
}
