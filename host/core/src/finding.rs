//! One finding of a check, as every report renders it, and the exemption
//! that covers it.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use crate::model::{Location, Severity, Status};

#[derive(Clone, Debug, Serialize)]
pub struct FindingReport {
    pub rule: Option<String>,
    pub subject: String,
    pub status: Status,
    pub severity: Severity,
    pub message: String,
    pub evidence: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    pub location: Option<Location>,
    /// The exemption that covers this finding, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exemption: Option<ExemptionRef>,
}

/// An exemption as it appears in reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExemptionRef {
    pub check: String,
    #[serde(rename = "match")]
    pub subject_match: Option<String>,
    pub reason: String,
    pub approved_by: String,
    pub ticket: Option<String>,
    pub expires: NaiveDate,
    /// `file:line:col` of the exemption in the policy.
    pub source: String,
    /// Who signed it, when the policy requires signed exemptions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<SignedBy>,
}

/// The verified signer of an exemption.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SignedBy {
    pub principal: String,
    /// `SHA256:…` of the key that signed.
    pub fingerprint: String,
}

impl FindingReport {
    /// `warn`, `fail` or `error`: a finding that would affect its gate unless exempt.
    pub fn is_problem(&self) -> bool {
        matches!(self.status, Status::Warn | Status::Fail | Status::Error)
    }
}
