//! The registry of secret detectors: one variant per kind of secret, each with a
//! stable kebab-case id (the finding's `rule`), a title, a severity and a fix.
//! One table ([`Rule::meta`]) holds them, so a new detector is one row.

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
    StripeWebhookSecret,
    OpenaiApiKey,
    AnthropicApiKey,
    NotionToken,
    SourcegraphToken,
    HuggingfaceToken,
    VaultToken,
    NpmToken,
    PypiToken,
    SendgridApiKey,
    TwilioApiKey,
    MailgunApiKey,
    ShopifyToken,
    DigitaloceanToken,
    DopplerToken,
    LinearApiKey,
    AtlassianApiToken,
    DatabricksToken,
    PostmanApiKey,
    GrafanaToken,
    NewrelicApiKey,
    PulumiToken,
    TerraformToken,
    DiscordWebhook,
    Jwt,
    UrlPassword,
    BasicAuth,
    GenericSecret,
    Denied,
}

/// What the report says about one rule.
pub struct Meta {
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    /// Fail, or warn for keys that cannot do harm on their own (Stripe test mode).
    pub status: Status,
    /// When two detectors match the same text, the more specific one wins (lower
    /// is more specific): `token = "ghp_…"` is a GitHub token, not a generic one.
    pub specificity: u8,
    pub remediation: &'static str,
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
        Rule::StripeWebhookSecret,
        Rule::OpenaiApiKey,
        Rule::AnthropicApiKey,
        Rule::NotionToken,
        Rule::SourcegraphToken,
        Rule::HuggingfaceToken,
        Rule::VaultToken,
        Rule::NpmToken,
        Rule::PypiToken,
        Rule::SendgridApiKey,
        Rule::TwilioApiKey,
        Rule::MailgunApiKey,
        Rule::ShopifyToken,
        Rule::DigitaloceanToken,
        Rule::DopplerToken,
        Rule::LinearApiKey,
        Rule::AtlassianApiToken,
        Rule::DatabricksToken,
        Rule::PostmanApiKey,
        Rule::GrafanaToken,
        Rule::NewrelicApiKey,
        Rule::PulumiToken,
        Rule::TerraformToken,
        Rule::DiscordWebhook,
        Rule::Jwt,
        Rule::UrlPassword,
        Rule::BasicAuth,
        Rule::GenericSecret,
        Rule::Denied,
    ];

    /// The rule's id, title, severity, status, specificity and remediation.
    ///
    /// One arm per rule, 45 of them, and nothing but data: a single table in
    /// one exhaustive `match` is what makes the compiler refuse a rule added
    /// without its metadata, and reading the rules side by side is how their
    /// severities and remediations are kept consistent. Splitting it by
    /// family would scatter the table without removing any logic, so it
    /// stays over 100 lines.
    pub fn meta(self) -> Meta {
        let (id, title, severity, status, specificity, remediation) = match self {
            Rule::PrivateKey => (
                "private-key",
                "private key",
                Severity::Critical,
                Status::Fail,
                1,
                "Treat the key as compromised: replace it, revoke what it signed or unlocks, and load it from a secret store at runtime.",
            ),
            Rule::GcpServiceAccount => (
                "gcp-service-account-key",
                "GCP service-account key file",
                Severity::Critical,
                Status::Fail,
                0,
                "Delete the key in IAM (Service accounts → Keys), prefer workload identity, and never commit key files.",
            ),
            Rule::AwsAccessKeyId => (
                "aws-access-key-id",
                "AWS access key ID",
                Severity::High,
                Status::Fail,
                1,
                "Deactivate and delete the access key in IAM, check CloudTrail for its use, and switch to roles or a secret store.",
            ),
            Rule::AwsSecretAccessKey => (
                "aws-secret-access-key",
                "AWS secret access key",
                Severity::Critical,
                Status::Fail,
                1,
                "Deactivate and delete the access key in IAM, check CloudTrail for its use, and switch to roles or a secret store.",
            ),
            Rule::GcpApiKey => (
                "gcp-api-key",
                "Google API key",
                Severity::High,
                Status::Fail,
                1,
                "Regenerate or delete the key in the Google Cloud console and restrict the replacement by API and referrer.",
            ),
            Rule::AzureStorageAccountKey => (
                "azure-storage-account-key",
                "Azure storage account key",
                Severity::Critical,
                Status::Fail,
                1,
                "Rotate the storage account key (Access keys → Rotate) and move to Entra ID auth or SAS from a vault.",
            ),
            Rule::AzureSharedAccessKey => (
                "azure-shared-access-key",
                "Azure shared access key",
                Severity::High,
                Status::Fail,
                1,
                "Regenerate the shared access policy's keys and load connection strings from Key Vault.",
            ),
            Rule::AzureClientSecret => (
                "azure-client-secret",
                "Azure AD client secret",
                Severity::High,
                Status::Fail,
                1,
                "Delete the client secret in the app registration and use a managed identity or a vault reference.",
            ),
            Rule::GithubToken => (
                "github-token",
                "GitHub token",
                Severity::High,
                Status::Fail,
                1,
                "Revoke the token in GitHub settings (or the app installation) and use a short-lived token from CI.",
            ),
            Rule::GitlabToken => (
                "gitlab-token",
                "GitLab token",
                Severity::High,
                Status::Fail,
                1,
                "Revoke the token in GitLab (Access tokens) and use CI job tokens or a vault.",
            ),
            Rule::SlackToken => (
                "slack-token",
                "Slack token",
                Severity::High,
                Status::Fail,
                1,
                "Revoke the token in the Slack app's OAuth settings and store its replacement in a secret store.",
            ),
            Rule::SlackWebhook => (
                "slack-webhook",
                "Slack incoming-webhook URL",
                Severity::Medium,
                Status::Fail,
                1,
                "Regenerate the webhook in the Slack app settings; anyone with the URL can post to the channel.",
            ),
            Rule::StripeLiveKey => (
                "stripe-live-key",
                "Stripe live secret key",
                Severity::Critical,
                Status::Fail,
                1,
                "Roll the key in the Stripe dashboard (Developers → API keys) and load it from a secret store.",
            ),
            Rule::StripeRestrictedKey => (
                "stripe-restricted-key",
                "Stripe live restricted key",
                Severity::High,
                Status::Fail,
                1,
                "Roll the key in the Stripe dashboard (Developers → API keys) and load it from a secret store.",
            ),
            Rule::StripeTestKey => (
                "stripe-test-key",
                "Stripe test-mode key",
                Severity::Low,
                Status::Warn,
                1,
                "Roll the test key in the Stripe dashboard if the repository is shared beyond your team.",
            ),
            Rule::StripeWebhookSecret => (
                "stripe-webhook-secret",
                "Stripe webhook signing secret",
                Severity::High,
                Status::Fail,
                1,
                "Roll the endpoint's signing secret in the Stripe dashboard (Developers → Webhooks); with it anyone can forge events.",
            ),
            Rule::OpenaiApiKey => (
                "openai-api-key",
                "OpenAI API key",
                Severity::High,
                Status::Fail,
                1,
                "Revoke the key in the OpenAI dashboard (API keys) and load its replacement from a secret store.",
            ),
            Rule::AnthropicApiKey => (
                "anthropic-api-key",
                "Anthropic API key",
                Severity::High,
                Status::Fail,
                1,
                "Revoke the key in the Anthropic Console (API keys) and load its replacement from a secret store.",
            ),
            Rule::NotionToken => (
                "notion-token",
                "Notion integration token",
                Severity::High,
                Status::Fail,
                1,
                "Refresh the integration's secret in Notion (Settings → Integrations) and store it outside the repository.",
            ),
            Rule::SourcegraphToken => (
                "sourcegraph-token",
                "Sourcegraph access token",
                Severity::High,
                Status::Fail,
                1,
                "Delete the token in Sourcegraph (Settings → Access tokens) and issue a new one from a secret store.",
            ),
            Rule::HuggingfaceToken => (
                "huggingface-token",
                "Hugging Face token",
                Severity::High,
                Status::Fail,
                1,
                "Invalidate the token in Hugging Face (Settings → Access Tokens) and use a fine-grained replacement from a secret store.",
            ),
            Rule::VaultToken => (
                "vault-token",
                "HashiCorp Vault token",
                Severity::Critical,
                Status::Fail,
                1,
                "Revoke the token (`vault token revoke`), check the audit device for its use, and have workloads log in with an auth method instead.",
            ),
            Rule::NpmToken => (
                "npm-token",
                "npm access token",
                Severity::High,
                Status::Fail,
                1,
                "Revoke the token (`npm token revoke` or npmjs.com → Access Tokens) and use a granular, short-lived token in CI.",
            ),
            Rule::PypiToken => (
                "pypi-token",
                "PyPI API token",
                Severity::High,
                Status::Fail,
                1,
                "Remove the token in PyPI (Account settings → API tokens) and publish with trusted publishing instead.",
            ),
            Rule::SendgridApiKey => (
                "sendgrid-api-key",
                "SendGrid API key",
                Severity::High,
                Status::Fail,
                1,
                "Delete the key in SendGrid (Settings → API Keys) and create a scoped replacement in a secret store.",
            ),
            Rule::TwilioApiKey => (
                "twilio-api-key",
                "Twilio API key",
                Severity::High,
                Status::Fail,
                1,
                "Delete the API key in the Twilio console and create a replacement stored outside the repository.",
            ),
            Rule::MailgunApiKey => (
                "mailgun-api-key",
                "Mailgun API key",
                Severity::High,
                Status::Fail,
                1,
                "Rotate the key in Mailgun (API Security) and load the replacement from a secret store.",
            ),
            Rule::ShopifyToken => (
                "shopify-token",
                "Shopify access token",
                Severity::High,
                Status::Fail,
                1,
                "Uninstall or rotate the app's credentials in the Shopify admin and store the replacement in a secret store.",
            ),
            Rule::DigitaloceanToken => (
                "digitalocean-token",
                "DigitalOcean token",
                Severity::High,
                Status::Fail,
                1,
                "Delete the token in DigitalOcean (API → Tokens) and generate a scoped replacement.",
            ),
            Rule::DopplerToken => (
                "doppler-token",
                "Doppler token",
                Severity::High,
                Status::Fail,
                1,
                "Revoke the token in Doppler and use a service account token scoped to one config.",
            ),
            Rule::LinearApiKey => (
                "linear-api-key",
                "Linear API key",
                Severity::High,
                Status::Fail,
                1,
                "Revoke the key in Linear (Settings → API) and store the replacement in a secret store.",
            ),
            Rule::AtlassianApiToken => (
                "atlassian-api-token",
                "Atlassian API token",
                Severity::High,
                Status::Fail,
                1,
                "Revoke the token at id.atlassian.com (Security → API tokens) and store the replacement in a secret store.",
            ),
            Rule::DatabricksToken => (
                "databricks-token",
                "Databricks access token",
                Severity::High,
                Status::Fail,
                1,
                "Revoke the token in the Databricks workspace (User settings → Access tokens) and prefer OAuth machine-to-machine.",
            ),
            Rule::PostmanApiKey => (
                "postman-api-key",
                "Postman API key",
                Severity::High,
                Status::Fail,
                1,
                "Delete the key in Postman (Settings → API keys) and regenerate it.",
            ),
            Rule::GrafanaToken => (
                "grafana-token",
                "Grafana token",
                Severity::High,
                Status::Fail,
                1,
                "Delete the service-account token or Cloud access policy token in Grafana and issue a replacement.",
            ),
            Rule::NewrelicApiKey => (
                "newrelic-api-key",
                "New Relic user API key",
                Severity::High,
                Status::Fail,
                1,
                "Delete the key in New Relic (API keys) and create a replacement stored outside the repository.",
            ),
            Rule::PulumiToken => (
                "pulumi-token",
                "Pulumi access token",
                Severity::High,
                Status::Fail,
                1,
                "Delete the token in Pulumi Cloud (Access tokens) and use OIDC from CI.",
            ),
            Rule::TerraformToken => (
                "terraform-token",
                "Terraform Cloud / HCP token",
                Severity::High,
                Status::Fail,
                1,
                "Revoke the token in HCP Terraform (User settings → Tokens) and use dynamic credentials from CI.",
            ),
            Rule::DiscordWebhook => (
                "discord-webhook",
                "Discord webhook URL",
                Severity::Medium,
                Status::Fail,
                1,
                "Delete the webhook in the channel's integrations; anyone with the URL can post to the channel.",
            ),
            Rule::Jwt => (
                "jwt",
                "JSON Web Token",
                Severity::Medium,
                Status::Fail,
                2,
                "Revoke or let the token expire, rotate the signing key if it is long-lived, and do not commit tokens.",
            ),
            Rule::UrlPassword => (
                "url-password",
                "password in a URL",
                Severity::Medium,
                Status::Fail,
                2,
                "Change the password and pass credentials through the environment or a secret store, not in URLs.",
            ),
            Rule::BasicAuth => (
                "basic-auth",
                "credentials in a command line or header",
                Severity::Medium,
                Status::Fail,
                2,
                "Change the password and pass credentials through the environment, a netrc file or a secret store, not on command lines.",
            ),
            Rule::GenericSecret => (
                "generic-secret",
                "high-entropy secret assignment",
                Severity::Medium,
                Status::Fail,
                3,
                "Move the value to a secret store or environment variable and rotate it; if it is not a secret, add an `allow` pattern.",
            ),
            Rule::Denied => (
                "denied-pattern",
                "value matching a `deny` pattern",
                Severity::High,
                Status::Fail,
                0,
                "The policy's `deny` list names this value as never allowed in the tree: remove it and rotate what it unlocks.",
            ),
        };
        Meta {
            id,
            title,
            severity,
            status,
            specificity,
            remediation,
        }
    }

    pub fn id(self) -> &'static str {
        self.meta().id
    }

    pub fn title(self) -> &'static str {
        self.meta().title
    }

    pub fn severity(self) -> Severity {
        self.meta().severity
    }

    /// Stripe test-mode keys cannot move money, so they warn instead of failing:
    /// visible in the report, never blocking a deploy on their own.
    pub fn status(self) -> Status {
        self.meta().status
    }

    pub fn specificity(self) -> u8 {
        self.meta().specificity
    }

    pub fn remediation(self) -> &'static str {
        self.meta().remediation
    }

    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.id() == id)
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
        assert_eq!(n, 44);
        for r in Rule::ALL {
            assert_eq!(Rule::from_id(r.id()), Some(*r));
        }
    }
}
