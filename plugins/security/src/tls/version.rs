//! TLS protocol versions: how policies write them (`"1.2"`, `1.2`, `"TLSv1.2"`)
//! and how OpenSSL reports them (`TLSv1`, `TLSv1.2`, `SSLv3`).

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Ssl3,
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

/// The versions `net.tls-accepts-version` can probe, oldest first.
pub const PROBED: [TlsVersion; 4] = [
    TlsVersion::Tls10,
    TlsVersion::Tls11,
    TlsVersion::Tls12,
    TlsVersion::Tls13,
];

impl TlsVersion {
    /// From a policy (`1.2`) or from OpenSSL (`TLSv1.2`).
    pub fn parse(text: &str) -> Option<TlsVersion> {
        let t = text.trim();
        let lower = t.to_ascii_lowercase();
        let number = lower
            .strip_prefix("tlsv")
            .or_else(|| lower.strip_prefix("tls"))
            .map(|n| n.trim_start_matches([' ', 'v']))
            .unwrap_or(&lower);
        match number {
            "1" | "1.0" => Some(TlsVersion::Tls10),
            "1.1" => Some(TlsVersion::Tls11),
            "1.2" => Some(TlsVersion::Tls12),
            "1.3" => Some(TlsVersion::Tls13),
            _ if lower == "sslv3" || lower == "ssl3" || lower == "sslv3.0" => {
                Some(TlsVersion::Ssl3)
            }
            _ => None,
        }
    }

    /// The argument `net.tls-accepts-version` takes.
    pub fn probe_arg(self) -> &'static str {
        match self {
            TlsVersion::Ssl3 => "3.0",
            TlsVersion::Tls10 => "1.0",
            TlsVersion::Tls11 => "1.1",
            TlsVersion::Tls12 => "1.2",
            TlsVersion::Tls13 => "1.3",
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsVersion::Ssl3 => "SSLv3",
            TlsVersion::Tls10 => "TLSv1.0",
            TlsVersion::Tls11 => "TLSv1.1",
            TlsVersion::Tls12 => "TLSv1.2",
            TlsVersion::Tls13 => "TLSv1.3",
        })
    }
}

/// A `min_version` as TOML gives it: a string, or a float such as `1.2`.
pub fn deserialize_min<'de, D>(d: D) -> Result<TlsVersion, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::Deserialize;
    use serde::de::Error;
    let value = serde_json::Value::deserialize(d)?;
    let text = match &value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n
            .as_f64()
            .map(|f| format!("{f:.1}"))
            .unwrap_or_else(|| n.to_string()),
        other => {
            return Err(D::Error::custom(format!(
                "expected a TLS version, not {other}"
            )));
        }
    };
    match TlsVersion::parse(&text) {
        Some(TlsVersion::Ssl3) | None => Err(D::Error::custom(format!(
            "`{text}` is not a TLS version (use \"1.0\", \"1.1\", \"1.2\" or \"1.3\")"
        ))),
        Some(v) => Ok(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_policy_and_openssl_spellings() {
        for (text, v) in [
            ("1.0", TlsVersion::Tls10),
            ("1", TlsVersion::Tls10),
            ("TLSv1", TlsVersion::Tls10),
            ("TLSv1.1", TlsVersion::Tls11),
            ("tls1.2", TlsVersion::Tls12),
            ("TLS 1.3", TlsVersion::Tls13),
            ("1.3", TlsVersion::Tls13),
            ("SSLv3", TlsVersion::Ssl3),
        ] {
            assert_eq!(TlsVersion::parse(text), Some(v), "{text}");
        }
        assert_eq!(TlsVersion::parse("1.4"), None);
        assert_eq!(TlsVersion::parse(""), None);
        assert!(TlsVersion::Ssl3 < TlsVersion::Tls10);
        assert!(TlsVersion::Tls12 < TlsVersion::Tls13);
        assert_eq!(TlsVersion::Tls10.to_string(), "TLSv1.0");
    }

    #[derive(serde::Deserialize)]
    struct P {
        #[serde(deserialize_with = "deserialize_min")]
        v: TlsVersion,
    }

    #[test]
    fn min_version_accepts_strings_and_numbers() {
        let p: P = serde_json::from_value(serde_json::json!({"v": 1.2})).unwrap();
        assert_eq!(p.v, TlsVersion::Tls12);
        let p: P = serde_json::from_value(serde_json::json!({"v": 1})).unwrap();
        assert_eq!(p.v, TlsVersion::Tls10);
        let p: P = serde_json::from_value(serde_json::json!({"v": "TLSv1.3"})).unwrap();
        assert_eq!(p.v, TlsVersion::Tls13);
        for bad in [
            serde_json::json!("1.4"),
            serde_json::json!("SSLv3"),
            serde_json::json!(true),
        ] {
            assert!(serde_json::from_value::<P>(serde_json::json!({"v": bad})).is_err());
        }
    }
}
