//! The IAM reads the credential scan needs: a narrow, read-only trait beside
//! [`super::Iam`], implemented by the same SDK adapter ([`super::aws::AwsIam`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::EffectError;
use crate::inventory::PasswordBaseline;
use crate::inventory::account::{AccountSummary, AttachedPolicy, ListedKey};

/// `GenerateCredentialReport`'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportState {
    Started,
    InProgress,
    Complete,
}

/// `GetCredentialReport`'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportFetch {
    /// The CSV, base64-decoded, and when IAM generated it.
    Ready {
        content: Vec<u8>,
        generated: Option<DateTime<Utc>>,
    },
    /// `ReportInProgress`.
    InProgress,
    /// `ReportNotPresent`.
    NotPresent,
    /// `ReportExpired`.
    Expired,
}

/// The IAM reads the scan needs, and nothing more. List calls return every
/// page.
#[async_trait]
pub trait CredentialSource: Send + Sync {
    /// `iam:GenerateCredentialReport`.
    async fn generate_credential_report(&self) -> Result<ReportState, EffectError>;
    /// `iam:GetCredentialReport`.
    async fn credential_report(&self) -> Result<ReportFetch, EffectError>;
    /// `iam:GetAccountPasswordPolicy`; `None` when the account has none.
    async fn password_policy(&self) -> Result<Option<PasswordBaseline>, EffectError>;
    /// `iam:GetAccountSummary`.
    async fn account_summary(&self) -> Result<AccountSummary, EffectError>;
    /// `iam:ListUsers`: `(name, arn)` of every user.
    async fn users(&self) -> Result<Vec<(String, String)>, EffectError>;
    /// `iam:ListAttachedUserPolicies`.
    async fn attached_user_policies(&self, user: &str) -> Result<Vec<AttachedPolicy>, EffectError>;
    /// `iam:ListUserPolicies`: inline policy names.
    async fn user_policy_names(&self, user: &str) -> Result<Vec<String>, EffectError>;
    /// `iam:ListAccessKeys`.
    async fn access_keys(&self, user: &str) -> Result<Vec<ListedKey>, EffectError>;
    /// `iam:GetAccessKeyLastUsed`: when the key was last used, now (the
    /// credential report can be four hours old); `None` if never.
    async fn access_key_last_used(
        &self,
        user: &str,
        access_key_id: &str,
    ) -> Result<Option<DateTime<Utc>>, EffectError>;
}
