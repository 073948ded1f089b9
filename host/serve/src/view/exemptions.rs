//! Every exemption of every served policy: what it exempts, who approved it,
//! whether its signature holds under the policy's `exemption_signers`, how
//! many days it has left, and whether the latest evaluation used it.

use chrono::{NaiveDate, Utc};
use gate_eval::policy::{Exemption, ExemptionTrust, Policy};
use serde::Serialize;

use crate::app::App;
use crate::error::ApiError;
use crate::view::evaluations;

/// The signature state of an exemption.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Signature {
    /// Signed under a key the policy's `exemption_signers` lists.
    Signed,
    /// No signature: required by the policy (not honoured) or not required.
    Unsigned,
    /// A signature that does not verify (not honoured).
    Invalid,
}

/// How close an exemption is to its expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expiry {
    Valid,
    /// Within the policy's warning window (`warn_days`).
    ExpiringSoon,
    Expired,
}

/// One exemption as shown.
#[derive(Clone, Debug, Serialize)]
pub struct ExemptionView {
    pub policy: String,
    pub check: String,
    #[serde(rename = "match")]
    pub subject_match: Option<String>,
    pub reason: String,
    pub approved_by: String,
    pub signature: Signature,
    /// Whether the signature is required by the policy.
    pub signature_required: bool,
    /// Why a required signature does not hold.
    pub signature_problem: Option<String>,
    pub signed_by: Option<String>,
    pub expires: NaiveDate,
    /// Days from today (UTC) to the last day it holds; negative once expired.
    pub days_left: i64,
    pub expiry: Expiry,
    /// Whether the latest evaluation of the policy applied it.
    pub used_in_latest: bool,
    /// `file:line:col`.
    pub source: String,
}

impl ExemptionView {
    pub fn signature_name(&self) -> &'static str {
        match self.signature {
            Signature::Signed => "signed",
            Signature::Unsigned => "unsigned",
            Signature::Invalid => "invalid",
        }
    }

    pub fn expiry_name(&self) -> &'static str {
        match self.expiry {
            Expiry::Valid => "valid",
            Expiry::ExpiringSoon => "expiring-soon",
            Expiry::Expired => "expired",
        }
    }
}

fn view(
    policy: &Policy,
    e: &Exemption,
    today: NaiveDate,
    used: &[gate_audit::entry::ExemptionUse],
) -> ExemptionView {
    let (signature, signature_problem, signed_by) = match &e.trust {
        ExemptionTrust::Signed { principal, .. } => {
            (Signature::Signed, None, Some(principal.clone()))
        }
        ExemptionTrust::NotRequired if e.signature.is_some() => (Signature::Signed, None, None),
        ExemptionTrust::NotRequired => (Signature::Unsigned, None, None),
        ExemptionTrust::Refused(why) if e.signature.is_none() => {
            (Signature::Unsigned, Some(gate_redact::scrub(why)), None)
        }
        ExemptionTrust::Refused(why) => (Signature::Invalid, Some(gate_redact::scrub(why)), None),
    };
    let days_left = (e.expires - today).num_days();
    let expiry = if days_left < 0 {
        Expiry::Expired
    } else if days_left <= i64::from(policy.warn_days) {
        Expiry::ExpiringSoon
    } else {
        Expiry::Valid
    };
    let used_in_latest = used.iter().any(|u| {
        u.check == e.check
            && u.subject_match == e.subject_match
            && u.approved_by == e.approved_by
            && u.expires == e.expires
    });
    ExemptionView {
        policy: policy.name.clone(),
        check: e.check.clone(),
        subject_match: e.subject_match.clone(),
        reason: e.reason.clone(),
        approved_by: e.approved_by.clone(),
        signature,
        signature_required: !matches!(e.trust, ExemptionTrust::NotRequired),
        signature_problem,
        signed_by,
        expires: e.expires,
        days_left,
        expiry,
        used_in_latest,
        source: e.origin.to_string(),
    }
}

/// Every exemption of every served policy.
pub fn all(app: &App) -> Result<Vec<ExemptionView>, ApiError> {
    let today = Utc::now().date_naive();
    let mut out = Vec::new();
    for policy in &app.policies {
        let latest = evaluations::latest(app, policy)?;
        let used = latest
            .evaluation
            .map(|e| e.exemptions_used)
            .unwrap_or_default();
        out.extend(
            policy
                .exemptions
                .iter()
                .map(|e| view(policy, e, today, &used)),
        );
    }
    Ok(out)
}
