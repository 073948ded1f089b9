//! The registry of secret detectors: one variant per kind of secret, each with a
//! stable kebab-case id (the finding's `rule`), a title, a severity and a fix.

use gate_plugin_sdk::{Severity, Status};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    PrivateKey,
    GcpServiceAccount,
    AwsAccessKeyId,
    AwsSecretAccessKey,
    GcpApiKey,
    AzureStorageAccountKey,
    AzureSharedAccessKey,
    AzureClientSecret,
    GithubToken,
    GitlabToken,
    SlackToken,
    SlackWebhook,
    StripeLiveKey,
    StripeRestrictedKey,
    StripeTestKey,
    Jwt,
    UrlPassword,
    GenericSecret,
}

impl Rule {
    pub const ALL: &'static [Rule] = &[
        Rule::PrivateKey,
        Rule::GcpServiceAccount,
        Rule::AwsAccessKeyId,
        Rule::AwsSecretAccessKey,
        Rule::GcpApiKey,
        Rule::AzureStorageAccountKey,
        Rule::AzureSharedAccessKey,
        Rule::AzureClientSecret,
        Rule::GithubToken,
        Rule::GitlabToken,
        Rule::SlackToken,
        Rule::SlackWebhook,
        Rule::StripeLiveKey,
        Rule::StripeRestrictedKey,
        Rule::StripeTestKey,
        Rule::Jwt,
        Rule::UrlPassword,
        Rule::GenericSecret,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Rule::PrivateKey => "private-key",
            Rule::GcpServiceAccount => "gcp-service-account-key",
            Rule::AwsAccessKeyId => "aws-access-key-id",
            Rule::AwsSecretAccessKey => "aws-secret-access-key",
            Rule::GcpApiKey => "gcp-api-key",
            Rule::AzureStorageAccountKey => "azure-storage-account-key",
            Rule::AzureSharedAccessKey => "azure-shared-access-key",
            Rule::AzureClientSecret => "azure-client-secret",
            Rule::GithubToken => "github-token",
            Rule::GitlabToken => "gitlab-token",
            Rule::SlackToken => "slack-token",
            Rule::SlackWebhook => "slack-webhook",
            Rule::StripeLiveKey => "stripe-live-key",
            Rule::StripeRestrictedKey => "stripe-restricted-key",
            Rule::StripeTestKey => "stripe-test-key",
            Rule::Jwt => "jwt",
            Rule::UrlPassword => "url-password",
            Rule::GenericSecret => "generic-secret",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Rule::PrivateKey => "private key",
            Rule::GcpServiceAccount => "GCP service-account key file",
            Rule::AwsAccessKeyId => "AWS access key ID",
            Rule::AwsSecretAccessKey => "AWS secret access key",
            Rule::GcpApiKey => "Google API key",
            Rule::AzureStorageAccountKey => "Azure storage account key",
            Rule::AzureSharedAccessKey => "Azure shared access key",
            Rule::AzureClientSecret => "Azure AD client secret",
            Rule::GithubToken => "GitHub token",
            Rule::GitlabToken => "GitLab token",
            Rule::SlackToken => "Slack token",
            Rule::SlackWebhook => "Slack incoming-webhook URL",
            Rule::StripeLiveKey => "Stripe live secret key",
            Rule::StripeRestrictedKey => "Stripe live restricted key",
            Rule::StripeTestKey => "Stripe test-mode key",
            Rule::Jwt => "JSON Web Token",
            Rule::UrlPassword => "password in a URL",
            Rule::GenericSecret => "high-entropy secret assignment",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            Rule::PrivateKey
            | Rule::GcpServiceAccount
            | Rule::AwsSecretAccessKey
            | Rule::AzureStorageAccountKey
            | Rule::StripeLiveKey => Severity::Critical,
            Rule::AwsAccessKeyId
            | Rule::GcpApiKey
            | Rule::AzureSharedAccessKey
            | Rule::AzureClientSecret
            | Rule::GithubToken
            | Rule::GitlabToken
            | Rule::SlackToken
            | Rule::StripeRestrictedKey => Severity::High,
            Rule::SlackWebhook | Rule::Jwt | Rule::UrlPassword | Rule::GenericSecret => {
                Severity::Medium
            }
            Rule::StripeTestKey => Severity::Low,
        }
    }

    /// Stripe test-mode keys cannot move money, so they warn instead of failing:
    /// visible in the report, never blocking a deploy on their own.
    pub fn status(self) -> Status {
        match self {
            Rule::StripeTestKey => Status::Warn,
            _ => Status::Fail,
        }
    }

    /// When two detectors match the same text, the more specific one wins
    /// (lower is more specific): `token = "ghp_…"` is a GitHub token, not a generic one.
    pub fn specificity(self) -> u8 {
        match self {
            Rule::GcpServiceAccount => 0,
            Rule::GenericSecret => 3,
            Rule::UrlPassword | Rule::Jwt => 2,
            _ => 1,
        }
    }

    pub fn remediation(self) -> &'static str {
        match self {
            Rule::PrivateKey => {
                "Treat the key as compromised: replace it, revoke what it signed or unlocks, and load it from a secret store at runtime."
            }
            Rule::GcpServiceAccount => {
                "Delete the key in IAM (Service accounts → Keys), prefer workload identity, and never commit key files."
            }
            Rule::AwsAccessKeyId | Rule::AwsSecretAccessKey => {
                "Deactivate and delete the access key in IAM, check CloudTrail for its use, and switch to roles or a secret store."
            }
            Rule::GcpApiKey => {
                "Regenerate or delete the key in the Google Cloud console and restrict the replacement by API and referrer."
            }
            Rule::AzureStorageAccountKey => {
                "Rotate the storage account key (Access keys → Rotate) and move to Entra ID auth or SAS from a vault."
            }
            Rule::AzureSharedAccessKey => {
                "Regenerate the shared access policy's keys and load connection strings from Key Vault."
            }
            Rule::AzureClientSecret => {
                "Delete the client secret in the app registration and use a managed identity or a vault reference."
            }
            Rule::GithubToken => {
                "Revoke the token in GitHub settings (or the app installation) and use a short-lived token from CI."
            }
            Rule::GitlabToken => {
                "Revoke the token in GitLab (Access tokens) and use CI job tokens or a vault."
            }
            Rule::SlackToken => {
                "Revoke the token in the Slack app's OAuth settings and store its replacement in a secret store."
            }
            Rule::SlackWebhook => {
                "Regenerate the webhook in the Slack app settings; anyone with the URL can post to the channel."
            }
            Rule::StripeLiveKey | Rule::StripeRestrictedKey => {
                "Roll the key in the Stripe dashboard (Developers → API keys) and load it from a secret store."
            }
            Rule::StripeTestKey => {
                "Roll the test key in the Stripe dashboard if the repository is shared beyond your team."
            }
            Rule::Jwt => {
                "Revoke or let the token expire, rotate the signing key if it is long-lived, and do not commit tokens."
            }
            Rule::UrlPassword => {
                "Change the password and pass credentials through the environment or a secret store, not in URLs."
            }
            Rule::GenericSecret => {
                "Move the value to a secret store or environment variable and rotate it; if it is not a secret, add an `allow` pattern."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case_and_all_listed() {
        let mut ids: Vec<&str> = Rule::ALL.iter().map(|r| r.id()).collect();
        for id in &ids {
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{id}"
            );
        }
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "two rules share an id");
        assert_eq!(n, 18);
    }
}
