//! OpenSSH `allowed_signers` files: which key may sign as which principal,
//! for which namespaces, and when (`man ssh-keygen`, ALLOWED SIGNERS).
//!
//! One entry per line: a principals field (a pattern list, optionally in
//! double quotes), optional comma-separated options, then the public key
//! (`keytype base64 [comment]`). Blank lines and `#` comments are skipped.
//! Options: `namespaces="…"` (a pattern list of namespaces the key may sign
//! in), `valid-after="…"` and `valid-before="…"` (`YYYYMMDD[HHMM[SS]]`, in
//! UTC with a trailing `Z`, else the system's local time). `cert-authority`
//! lines are refused: gate trusts signers' own keys, not certificate
//! authorities. Every error names file:line:col.

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone, Utc};
use ssh_key::PublicKey;

use crate::pattern;

/// The largest allowed_signers file read.
const MAX_BYTES: u64 = 1 << 20;

/// A parsed allowed_signers file.
#[derive(Clone, Debug)]
pub struct AllowedSigners {
    pub file: PathBuf,
    entries: Vec<Entry>,
}

/// One line of the file.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The principals field as written (a pattern list).
    pub principals: String,
    /// `namespaces="…"`; `None`: every namespace.
    pub namespaces: Option<String>,
    pub valid_after: Option<DateTime<Utc>>,
    pub valid_before: Option<DateTime<Utc>>,
    pub key: PublicKey,
    /// 1-based line number.
    pub line: usize,
}

impl Entry {
    /// Whether the entry allows signing in `namespace` at `at`; `Err` says why not.
    pub fn allows(&self, namespace: &str, at: DateTime<Utc>) -> Result<(), String> {
        if let Some(ns) = &self.namespaces
            && !pattern::matches_list(namespace, ns)
        {
            return Err(format!(
                "namespaces=\"{ns}\" does not include `{namespace}`"
            ));
        }
        if let Some(after) = self.valid_after
            && at < after
        {
            return Err(format!("the key is not valid before {after}"));
        }
        if let Some(before) = self.valid_before
            && at > before
        {
            return Err(format!("the key expired at {before}"));
        }
        Ok(())
    }

    /// Whether the principals field admits `principal`.
    pub fn admits(&self, principal: &str) -> bool {
        pattern::matches_list(principal, &self.principals)
    }

    /// Whether the principals field names principals by pattern rather than one by one.
    pub fn is_pattern(&self) -> bool {
        pattern::is_pattern(&self.principals)
    }
}

/// One problem in an allowed_signers file. `line` 0 means the file as a whole.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct SignersError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub help: Option<String>,
}

impl fmt::Display for SignersError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// Every problem found in one file, in line order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct SignersErrors(pub Vec<SignersError>);

impl fmt::Display for SignersErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

const OPTIONS_HELP: &str = "allowed_signers options are `namespaces=\"…\"`, \
     `valid-after=\"YYYYMMDD[HHMM[SS]][Z]\"` and `valid-before=\"…\"`";

impl AllowedSigners {
    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> Result<AllowedSigners, SignersErrors> {
        let whole = |message: String| {
            SignersErrors(vec![SignersError {
                file: path.to_path_buf(),
                line: 0,
                column: 0,
                message,
                help: None,
            }])
        };
        let file = std::fs::File::open(path)
            .map_err(|e| whole(format!("cannot read the allowed signers file: {e}")))?;
        let mut text = String::new();
        use std::io::Read;
        file.take(MAX_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| whole(format!("cannot read the allowed signers file: {e}")))?;
        if text.len() as u64 > MAX_BYTES {
            return Err(whole(format!(
                "the allowed signers file is larger than {MAX_BYTES} bytes"
            )));
        }
        AllowedSigners::parse(path, &text)
    }

    /// Parses `text`, read from `path` (named in errors).
    pub fn parse(path: &Path, text: &str) -> Result<AllowedSigners, SignersErrors> {
        let mut entries = Vec::new();
        let mut errors = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let cx = LineCx {
                file: path,
                line: index + 1,
                text: line,
            };
            match cx.entry() {
                Ok(Some(entry)) => entries.push(entry),
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(AllowedSigners {
                file: path.to_path_buf(),
                entries,
            })
        } else {
            Err(SignersErrors(errors))
        }
    }

    /// The entries, in file order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
}

/// The options of one line.
#[derive(Default)]
struct Options {
    namespaces: Option<String>,
    valid_after: Option<DateTime<Utc>>,
    valid_before: Option<DateTime<Utc>>,
}

/// Parsing one line; byte offsets into `text` become 1-based columns.
struct LineCx<'a> {
    file: &'a Path,
    line: usize,
    text: &'a str,
}

impl LineCx<'_> {
    fn error(&self, at: usize, message: impl Into<String>, help: Option<&str>) -> SignersError {
        SignersError {
            file: self.file.to_path_buf(),
            line: self.line,
            column: self.text[..at.min(self.text.len())].chars().count() + 1,
            message: message.into(),
            help: help.map(str::to_string),
        }
    }

    fn skip_space(&self, mut i: usize) -> usize {
        let bytes = self.text.as_bytes();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    }

    /// The end of the field starting at `i`: the first whitespace outside double quotes.
    fn field_end(&self, start: usize) -> Result<usize, SignersError> {
        let bytes = self.text.as_bytes();
        let mut quoted = false;
        let mut i = start;
        while i < bytes.len() && (quoted || !bytes[i].is_ascii_whitespace()) {
            if bytes[i] == b'"' {
                quoted = !quoted;
            }
            i += 1;
        }
        if quoted {
            return Err(self.error(start, "unterminated double quote", None));
        }
        Ok(i)
    }

    fn entry(&self) -> Result<Option<Entry>, SignersError> {
        let start = self.skip_space(0);
        if start == self.text.len() || self.text[start..].starts_with('#') {
            return Ok(None);
        }
        let end = self.field_end(start)?;
        let principals = self.text[start..end].trim_matches('"').to_string();
        if principals.is_empty() {
            return Err(self.error(start, "empty principals field", None));
        }
        let mut at = self.skip_space(end);
        let mut options = Options::default();
        if at < self.text.len() && !looks_like_key_type(&self.text[at..]) {
            let end = self.field_end(at)?;
            self.options(at, end, &mut options)?;
            at = self.skip_space(end);
        }
        if at == self.text.len() {
            return Err(self.error(
                at,
                "missing public key",
                Some("each line is `principals [options] keytype base64-key [comment]`"),
            ));
        }
        let key = PublicKey::from_openssh(self.text[at..].trim_end())
            .map_err(|e| self.error(at, format!("invalid public key: {e}"), None))?;
        Ok(Some(Entry {
            principals,
            namespaces: options.namespaces,
            valid_after: options.valid_after,
            valid_before: options.valid_before,
            key,
            line: self.line,
        }))
    }

    /// The options field `text[start..end]`, comma-separated outside quotes.
    fn options(&self, start: usize, end: usize, opts: &mut Options) -> Result<(), SignersError> {
        let mut from = start;
        let mut quoted = false;
        for i in start..=end {
            let c = self.text.as_bytes().get(i).copied();
            if c == Some(b'"') {
                quoted = !quoted;
            }
            if i == end || (c == Some(b',') && !quoted) {
                self.option(from, &self.text[from..i], opts)?;
                from = i + 1;
            }
        }
        Ok(())
    }

    fn option(&self, at: usize, option: &str, opts: &mut Options) -> Result<(), SignersError> {
        let (name, value) = match option.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (option, None),
        };
        let value_at = at + name.len() + 1;
        let quoted = |what: &str| -> Result<String, SignersError> {
            let v = value.unwrap_or_default();
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .map(str::to_string)
                .ok_or_else(|| {
                    self.error(
                        value_at,
                        format!("`{what}` needs a value in double quotes"),
                        Some(OPTIONS_HELP),
                    )
                })
        };
        match name.to_ascii_lowercase().as_str() {
            "cert-authority" => Err(self.error(
                at,
                "`cert-authority` lines are not supported",
                Some("list each signer's own public key instead of a certificate authority"),
            )),
            "namespaces" => {
                opts.namespaces = Some(quoted("namespaces")?);
                Ok(())
            }
            "valid-after" => {
                opts.valid_after = Some(self.time(value_at, &quoted("valid-after")?)?);
                Ok(())
            }
            "valid-before" => {
                opts.valid_before = Some(self.time(value_at, &quoted("valid-before")?)?);
                Ok(())
            }
            _ => Err(self.error(at, format!("unknown option `{name}`"), Some(OPTIONS_HELP))),
        }
    }

    /// `YYYYMMDD[HHMM[SS]]`, UTC with a trailing `Z`, else local time.
    fn time(&self, at: usize, text: &str) -> Result<DateTime<Utc>, SignersError> {
        let bad = || {
            self.error(
                at,
                format!("`{text}` is not a time"),
                Some("write `YYYYMMDD`, `YYYYMMDDHHMM` or `YYYYMMDDHHMMSS`, with a trailing `Z` for UTC"),
            )
        };
        let (digits, utc) = match text.strip_suffix(['Z', 'z']) {
            Some(d) => (d, true),
            None => (text, false),
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let num = |r: std::ops::Range<usize>| digits[r].parse::<u32>().map_err(|_| bad());
        let (hh, mm, ss) = match digits.len() {
            8 => (0, 0, 0),
            12 => (num(8..10)?, num(10..12)?, 0),
            14 => (num(8..10)?, num(10..12)?, num(12..14)?),
            _ => return Err(bad()),
        };
        let naive: NaiveDateTime =
            NaiveDate::from_ymd_opt(num(0..4)? as i32, num(4..6)?, num(6..8)?)
                .and_then(|d| d.and_hms_opt(hh, mm, ss))
                .ok_or_else(bad)?;
        if utc {
            Ok(naive.and_utc())
        } else {
            Local
                .from_local_datetime(&naive)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(bad)
        }
    }
}

/// Whether `rest` starts with an SSH public key type rather than options.
fn looks_like_key_type(rest: &str) -> bool {
    let word = rest.split_ascii_whitespace().next().unwrap_or_default();
    word.starts_with("ssh-")
        || word.starts_with("ecdsa-sha2-")
        || word.starts_with("sk-ssh-")
        || word.starts_with("sk-ecdsa-")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGtQUDZWhs8k/cZcykMkaUX8bLlgIlN5mFgFZ7b+DVw4 alice@laptop";

    fn parse(text: &str) -> Result<AllowedSigners, SignersErrors> {
        AllowedSigners::parse(Path::new("signers"), text)
    }

    #[test]
    fn principals_options_and_comments() {
        let text = format!(
            "# the release approvers\n\nalice@example.com {KEY}\n\"bob@example.com,b@example.com\" namespaces=\"gate-approval,git\",valid-after=\"20260101Z\",valid-before=\"202701011200Z\" {KEY}\n"
        );
        let s = parse(&text).unwrap();
        assert_eq!(s.entries().len(), 2);
        let bob = &s.entries()[1];
        assert_eq!(bob.line, 4);
        assert_eq!(bob.principals, "bob@example.com,b@example.com");
        assert!(bob.admits("b@example.com"));
        let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
        assert!(
            bob.allows("gate-approval", at("2026-06-01T00:00:00Z"))
                .is_ok()
        );
        assert!(bob.allows("file", at("2026-06-01T00:00:00Z")).is_err());
        assert!(bob.allows("git", at("2025-12-31T23:59:59Z")).is_err());
        assert!(bob.allows("git", at("2027-01-01T12:00:01Z")).is_err());
        assert!(bob.allows("git", at("2027-01-01T12:00:00Z")).is_ok());
        assert!(
            s.entries()[0]
                .allows("anything", at("2000-01-01T00:00:00Z"))
                .is_ok()
        );
    }

    #[test]
    fn errors_name_line_and_column() {
        let text = format!(
            "alice {KEY}\n  bob cert-authority {KEY}\ncarol nope=\"1\" {KEY}\ndave valid-after=\"2026\" {KEY}\neve ssh-ed25519 AAAA\nfrank\n"
        );
        let e = parse(&text).unwrap_err();
        let shown: Vec<String> = e.0.iter().map(|e| e.to_string()).collect();
        assert_eq!(e.0.len(), 5, "{e}");
        assert!(
            shown[0].starts_with("signers:2:7: `cert-authority` lines are not supported"),
            "{}",
            shown[0]
        );
        assert!(
            shown[1].starts_with("signers:3:7: unknown option `nope`"),
            "{}",
            shown[1]
        );
        assert!(
            shown[2].starts_with("signers:4:18: `2026` is not a time"),
            "{}",
            shown[2]
        );
        assert!(
            shown[3].starts_with("signers:5:5: invalid public key"),
            "{}",
            shown[3]
        );
        assert!(
            shown[4].starts_with("signers:6:6: missing public key"),
            "{}",
            shown[4]
        );
        assert!(shown[0].contains("help:"));
    }
}
