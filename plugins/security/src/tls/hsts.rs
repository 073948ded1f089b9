//! The `Strict-Transport-Security` header (RFC 6797 §6.1).

use gate_plugin_sdk::redact::text;

/// What a valid header says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hsts {
    pub max_age: u64,
    pub include_subdomains: bool,
    pub preload: bool,
}

/// The first `Strict-Transport-Security` header: browsers honour only the first
/// (RFC 6797 §8.1).
pub fn header(headers: &[(String, String)]) -> Option<&str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("strict-transport-security"))
        .map(|(_, v)| v.as_str())
}

/// Parses a header value. Invalid headers are ignored by browsers, so an error
/// here means "no HSTS" as far as clients are concerned.
pub fn parse(value: &str) -> Result<Hsts, String> {
    let mut max_age = None;
    let mut include_subdomains = false;
    let mut preload = false;
    let mut seen: Vec<String> = Vec::new();
    for directive in value.split(';') {
        let directive = directive.trim();
        if directive.is_empty() {
            continue;
        }
        let (name, arg) = match directive.split_once('=') {
            Some((n, v)) => (n.trim(), Some(unquote(v.trim())?)),
            None => (directive, None),
        };
        let name = name.to_ascii_lowercase();
        if seen.contains(&name) {
            return Err(format!("directive `{name}` appears twice"));
        }
        seen.push(name.clone());
        match name.as_str() {
            "max-age" => {
                let arg = arg.ok_or("`max-age` has no value")?;
                if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("`max-age={arg}` is not a number of seconds"));
                }
                // Huge values saturate: they are "forever" either way.
                max_age = Some(arg.parse::<u64>().unwrap_or(u64::MAX));
            }
            "includesubdomains" => include_subdomains = true,
            "preload" => preload = true,
            // Unknown directives are ignored (RFC 6797 §6.1).
            _ => {}
        }
    }
    Ok(Hsts {
        max_age: max_age.ok_or("the required `max-age` directive is missing")?,
        include_subdomains,
        preload,
    })
}

fn unquote(v: &str) -> Result<&str, String> {
    match v.strip_prefix('"') {
        Some(rest) => rest
            .strip_suffix('"')
            .ok_or_else(|| format!("unterminated quoted value {}", text(v))),
        None => Ok(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_real_world_headers() {
        assert_eq!(
            parse("max-age=31536000; includeSubDomains; preload"),
            Ok(Hsts {
                max_age: 31_536_000,
                include_subdomains: true,
                preload: true
            })
        );
        assert_eq!(parse("max-age=\"15768000\"").unwrap().max_age, 15_768_000);
        assert_eq!(parse("  MAX-AGE=0 ;").unwrap().max_age, 0);
        assert!(
            parse("max-age=63072000; includesubdomains")
                .unwrap()
                .include_subdomains
        );
        assert_eq!(
            parse("max-age=99999999999999999999999").unwrap().max_age,
            u64::MAX
        );
        assert_eq!(parse("max-age=300; report-uri=\"x\"").unwrap().max_age, 300);
    }

    #[test]
    fn rejects_invalid_headers() {
        assert!(parse("includeSubDomains").unwrap_err().contains("missing"));
        assert!(parse("max-age=1y").unwrap_err().contains("not a number"));
        assert!(parse("max-age=-1").is_err());
        assert!(parse("max-age").is_err());
        assert!(parse("max-age=1; max-age=2").unwrap_err().contains("twice"));
        assert!(parse("max-age=\"5").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn only_the_first_header_counts() {
        let headers = vec![
            ("content-type".to_string(), "text/html".to_string()),
            (
                "Strict-Transport-Security".to_string(),
                "max-age=1".to_string(),
            ),
            (
                "strict-transport-security".to_string(),
                "max-age=2".to_string(),
            ),
        ];
        assert_eq!(header(&headers), Some("max-age=1"));
        assert_eq!(header(&headers[..1]), None);
    }
}
