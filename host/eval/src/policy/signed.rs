//! Signed exemptions: the canonical form of an exemption that its approver
//! signs, checking that signature when the policy names
//! `exemption_signers`, and signing or verifying every exemption of one file
//! (`gate exemption sign|verify`; docs/policy.md, "Signed exemptions").
//!
//! The canonical form is UTF-8 text, seven `\n`-terminated lines in this
//! order, each value a JSON string (RFC 8259 escaping, so no value can forge
//! a line) or `null` for an absent optional field, the date as `YYYY-MM-DD`:
//!
//! ```text
//! gate-exemption-v1
//! check="security.no-secrets"
//! match="src/tests/fixtures/*"
//! reason="throwaway test key"
//! approved_by="secops@example.com"
//! ticket=null
//! expires=2027-03-31
//! ```
//!
//! It is signed in the SSHSIG namespace `gate-exemption`; the signature
//! counts only when the allowed_signers line of its key admits `approved_by`.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use gate_trust::{AllowedSigners, SigningKey, VerifyError};

use super::document::{ExemptionDecl, PolicyDoc};
use super::errors::Errors;
use super::source::{At, SourceFile};
use super::{ExemptionTrust, Origin, PolicyError, PolicyErrors, validate};

/// The SSHSIG namespace of exemption signatures.
pub const NAMESPACE: &str = "gate-exemption";

/// The fields an exemption's signature covers.
#[derive(Clone, Copy, Debug)]
pub struct ExemptionFields<'a> {
    pub check: &'a str,
    pub subject_match: Option<&'a str>,
    pub reason: &'a str,
    pub approved_by: &'a str,
    pub ticket: Option<&'a str>,
    pub expires: NaiveDate,
}

impl ExemptionFields<'_> {
    /// The canonical text (see the module documentation).
    pub fn canonical(&self) -> String {
        let text = |s: &str| serde_json::Value::from(s).to_string();
        let optional = |s: Option<&str>| s.map_or_else(|| "null".to_string(), text);
        format!(
            "gate-exemption-v1\ncheck={}\nmatch={}\nreason={}\napproved_by={}\nticket={}\nexpires={}\n",
            text(self.check),
            optional(self.subject_match),
            text(self.reason),
            text(self.approved_by),
            optional(self.ticket),
            self.expires.format("%Y-%m-%d"),
        )
    }
}

fn fields(e: &ExemptionDecl) -> ExemptionFields<'_> {
    ExemptionFields {
        check: &e.check.value,
        subject_match: e.subject_match.as_ref().map(|m| m.value.as_str()),
        reason: &e.reason.value,
        approved_by: &e.approved_by.value,
        ticket: e.ticket.as_ref().map(|t| t.value.as_str()),
        expires: e.expires.value,
    }
}

/// The policy's `exemption_signers` file: `None` when it names none,
/// `Some(Err)` when it cannot be used (its errors are pushed, located in it).
pub(crate) fn load_signers(
    named: Option<&At<PathBuf>>,
    errors: &mut Errors,
) -> Option<Result<AllowedSigners, String>> {
    let named = named?;
    Some(AllowedSigners::load(&named.value).map_err(|found| {
        for e in located(&found, &named.origin) {
            errors.note_file(&e.file);
            errors.push(e);
        }
        found.to_string()
    }))
}

/// The problems of an allowed_signers file as policy errors, located in it
/// (or at `named_at`, where the file is named, when it cannot be read).
fn located<'a>(
    found: &'a gate_trust::allowed_signers::SignersErrors,
    named_at: &'a Origin,
) -> impl Iterator<Item = PolicyError> + 'a {
    found
        .0
        .iter()
        .map(|e| PolicyError::from_signers(e, named_at))
}

/// Whether `e` is signed by its `approved_by` under a key `signers` lists
/// for [`NAMESPACE`] at `now`.
pub(crate) fn trust(
    e: &ExemptionDecl,
    signers: &Result<AllowedSigners, String>,
    now: DateTime<Utc>,
) -> ExemptionTrust {
    let signers = match signers {
        Ok(s) => s,
        Err(e) => {
            return ExemptionTrust::Refused(format!("the exemption signers cannot be read: {e}"));
        }
    };
    let Some(signature) = &e.signature else {
        return ExemptionTrust::Refused(
            "it is unsigned, and the policy requires signed exemptions (`exemption_signers`); sign it with `gate exemption sign --key KEY FILE`"
                .into(),
        );
    };
    let message = fields(e).canonical();
    let approver = e.approved_by.value.as_str();
    match signers.verify(
        NAMESPACE,
        message.as_bytes(),
        &signature.value,
        Some(approver),
        now,
    ) {
        Ok(v) => ExemptionTrust::Signed {
            principal: v.principal,
            fingerprint: v.fingerprint,
        },
        Err(VerifyError::BadSignature { fingerprint }) => ExemptionTrust::Refused(format!(
            "its signature (key {fingerprint}) does not match its fields: it was edited after it was signed"
        )),
        Err(e) => ExemptionTrust::Refused(format!("its signature is refused: {e}")),
    }
}

/// One exemption of a file, and what checking its signature found.
#[derive(Clone, Debug)]
pub struct FileExemption {
    pub check: String,
    pub approved_by: String,
    pub origin: Origin,
    pub trust: ExemptionTrust,
}

/// Why `gate exemption sign|verify` could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{0}")]
    Policy(#[from] PolicyErrors),
    #[error(
        "{}: the file names no `exemption_signers`\n  help: pass the allowed_signers file with `--signers PATH`",
        .0.display()
    )]
    NoSigners(PathBuf),
    #[error("{0}")]
    Key(#[from] gate_trust::KeyError),
    #[error("{}: {message}", path.display())]
    Edit { path: PathBuf, message: String },
}

/// Decodes a policy or exemption file and checks its exemptions.
fn decode(path: &Path) -> Result<(SourceFile, PolicyDoc), PolicyErrors> {
    let mut errors = Errors::default();
    errors.note_file(path);
    let Some(src) = SourceFile::read(path, None, &mut errors) else {
        return Err(errors
            .into_result(())
            .expect_err("an unreadable file is reported"));
    };
    let doc = PolicyDoc::parse(&src, &mut errors);
    validate::check_exemptions(&doc.exemptions, &mut errors);
    errors.into_result((src, doc))
}

/// Checks every exemption written in `path` against `signers`, or against
/// the file's own `exemption_signers` without it.
pub fn verify_file(
    path: &Path,
    signers: Option<&Path>,
    now: DateTime<Utc>,
) -> Result<Vec<FileExemption>, FileError> {
    let (_, doc) = decode(path)?;
    let named = match signers {
        Some(p) => At {
            value: p.to_path_buf(),
            origin: Origin {
                file: path.to_path_buf(),
                line: 1,
                column: 1,
            },
        },
        None => doc
            .exemption_signers
            .clone()
            .ok_or_else(|| FileError::NoSigners(path.to_path_buf()))?,
    };
    let signers = AllowedSigners::load(&named.value)
        .map_err(|found| PolicyErrors(located(&found, &named.origin).collect()))?;
    let signers = Ok(signers);
    Ok(doc
        .exemptions
        .iter()
        .map(|e| FileExemption {
            check: e.check.value.clone(),
            approved_by: e.approved_by.value.clone(),
            origin: e.origin.clone(),
            trust: trust(e, &signers, now),
        })
        .collect())
}

/// Signs every `[[exemption]]` of `path` with `key`, writing each
/// `signature` in place (the rest of the file, comments and layout
/// included, is kept). Returns how many were signed.
pub fn sign_file(path: &Path, key: &SigningKey) -> Result<usize, FileError> {
    let (src, doc) = decode(path)?;
    let edit_error = |message: String| FileError::Edit {
        path: path.to_path_buf(),
        message,
    };
    let mut document: toml_edit::DocumentMut = src
        .text
        .parse()
        .map_err(|e: toml_edit::TomlError| edit_error(e.to_string()))?;
    if doc.exemptions.is_empty() {
        return Ok(0);
    }
    let tables = document
        .get_mut("exemption")
        .and_then(|item| item.as_array_of_tables_mut())
        .filter(|t| t.len() == doc.exemptions.len())
        .ok_or_else(|| {
            edit_error(
                "only exemptions written as `[[exemption]]` tables can be signed in place".into(),
            )
        })?;
    for (table, e) in tables.iter_mut().zip(&doc.exemptions) {
        let signature = key.sign(NAMESPACE, fields(e).canonical().as_bytes())?;
        table["signature"] = toml_edit::value(signature.trim_end());
    }
    let text = document.to_string();
    gate_core::atomic_file::write(path, &[text.as_bytes()])
        .map_err(|e| edit_error(e.to_string()))?;
    Ok(doc.exemptions.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_form_escapes_every_value() {
        let f = ExemptionFields {
            check: "security.no-secrets",
            subject_match: Some("src/\"a\"\nb"),
            reason: "r",
            approved_by: "secops@example.com",
            ticket: None,
            expires: NaiveDate::from_ymd_opt(2027, 3, 31).unwrap(),
        };
        assert_eq!(
            f.canonical(),
            "gate-exemption-v1\ncheck=\"security.no-secrets\"\nmatch=\"src/\\\"a\\\"\\nb\"\nreason=\"r\"\napproved_by=\"secops@example.com\"\nticket=null\nexpires=2027-03-31\n"
        );
        let with_ticket = ExemptionFields {
            ticket: Some("SEC-1"),
            ..f
        };
        assert_ne!(f.canonical(), with_ticket.canonical());
    }
}
