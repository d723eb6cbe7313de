//! The [`CredentialSource`] adapter on `aws-sdk-iam`: the only scan code
//! that sees SDK types.

use async_trait::async_trait;
use aws_sdk_iam::Client;
use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::types::ReportStateType;
use chrono::{DateTime, Utc};

use super::source::{CredentialSource, ReportFetch, ReportState};
use crate::effects::EffectError;
use crate::effects::aws::{classify, list_access_keys};
use crate::inventory::PasswordBaseline;
use crate::inventory::account::{AccountSummary, AttachedPolicy, ListedKey};

/// Reads the account through an IAM client.
#[derive(Debug, Clone)]
pub struct IamSource {
    client: Client,
}

impl IamSource {
    pub fn new(client: Client) -> Self {
        IamSource { client }
    }

    /// From an SDK config (the usual environment, `AWS_ENDPOINT_URL` included).
    pub fn from_conf(sdk: &aws_config::SdkConfig) -> Self {
        IamSource::new(Client::new(sdk))
    }
}

fn time(t: &aws_sdk_iam::primitives::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

fn count(n: Option<i32>) -> u32 {
    n.and_then(|n| u32::try_from(n).ok()).unwrap_or(0)
}

#[async_trait]
impl CredentialSource for IamSource {
    async fn generate_credential_report(&self) -> Result<ReportState, EffectError> {
        const OP: &str = "iam:GenerateCredentialReport";
        let out = self
            .client
            .generate_credential_report()
            .send()
            .await
            .map_err(|e| classify(OP, e))?;
        Ok(match out.state() {
            Some(ReportStateType::Complete) => ReportState::Complete,
            Some(ReportStateType::Started) => ReportState::Started,
            _ => ReportState::InProgress,
        })
    }

    async fn credential_report(&self) -> Result<ReportFetch, EffectError> {
        const OP: &str = "iam:GetCredentialReport";
        match self.client.get_credential_report().send().await {
            Ok(out) => Ok(ReportFetch::Ready {
                content: out
                    .content()
                    .map(|b| b.as_ref().to_vec())
                    .unwrap_or_default(),
                generated: out.generated_time().and_then(time),
            }),
            Err(e) => match e.code() {
                Some("ReportInProgress") => Ok(ReportFetch::InProgress),
                Some("ReportNotPresent") => Ok(ReportFetch::NotPresent),
                Some("ReportExpired") => Ok(ReportFetch::Expired),
                _ => Err(classify(OP, e)),
            },
        }
    }

    async fn password_policy(&self) -> Result<Option<PasswordBaseline>, EffectError> {
        const OP: &str = "iam:GetAccountPasswordPolicy";
        let out = match self.client.get_account_password_policy().send().await {
            Ok(out) => out,
            Err(e) if e.code() == Some("NoSuchEntity") => return Ok(None),
            Err(e) => return Err(classify(OP, e)),
        };
        let Some(p) = out.password_policy() else {
            return Ok(None);
        };
        Ok(Some(PasswordBaseline {
            // IAM's default when unset.
            minimum_length: p.minimum_password_length().map_or(6, |n| count(Some(n))),
            require_uppercase: p.require_uppercase_characters(),
            require_lowercase: p.require_lowercase_characters(),
            require_numbers: p.require_numbers(),
            require_symbols: p.require_symbols(),
            reuse_prevention: count(p.password_reuse_prevention()),
            // `ExpirePasswords` false means no maximum age, whatever the field says.
            max_age_days: if p.expire_passwords() {
                count(p.max_password_age())
            } else {
                0
            },
            allow_users_to_change: p.allow_users_to_change_password(),
            hard_expiry: p.hard_expiry().unwrap_or(false),
        }))
    }

    async fn account_summary(&self) -> Result<AccountSummary, EffectError> {
        const OP: &str = "iam:GetAccountSummary";
        let out = self
            .client
            .get_account_summary()
            .send()
            .await
            .map_err(|e| classify(OP, e))?;
        Ok(AccountSummary(
            out.summary_map()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.as_str().to_owned(), i64::from(*v)))
                .collect(),
        ))
    }

    async fn users(&self) -> Result<Vec<(String, String)>, EffectError> {
        const OP: &str = "iam:ListUsers";
        let users = self
            .client
            .list_users()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify(OP, e))?;
        Ok(users
            .into_iter()
            .map(|u| (u.user_name().to_owned(), u.arn().to_owned()))
            .collect())
    }

    async fn attached_user_policies(&self, user: &str) -> Result<Vec<AttachedPolicy>, EffectError> {
        const OP: &str = "iam:ListAttachedUserPolicies";
        let policies = self
            .client
            .list_attached_user_policies()
            .user_name(user)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify(OP, e))?;
        Ok(policies
            .into_iter()
            .filter_map(|p| {
                Some(AttachedPolicy {
                    name: p.policy_name().unwrap_or_default().to_owned(),
                    arn: p.policy_arn()?.to_owned(),
                })
            })
            .collect())
    }

    async fn user_policy_names(&self, user: &str) -> Result<Vec<String>, EffectError> {
        const OP: &str = "iam:ListUserPolicies";
        self.client
            .list_user_policies()
            .user_name(user)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify(OP, e))
    }

    async fn access_keys(&self, user: &str) -> Result<Vec<ListedKey>, EffectError> {
        Ok(list_access_keys(&self.client, user)
            .await?
            .into_iter()
            .map(|k| ListedKey {
                id: k.id,
                active: k.active,
                created: k.created,
            })
            .collect())
    }

    async fn access_key_last_used(
        &self,
        _user: &str,
        access_key_id: &str,
    ) -> Result<Option<DateTime<Utc>>, EffectError> {
        const OP: &str = "iam:GetAccessKeyLastUsed";
        let out = self
            .client
            .get_access_key_last_used()
            .access_key_id(access_key_id)
            .send()
            .await
            .map_err(|e| classify(OP, e))?;
        Ok(out
            .access_key_last_used()
            .and_then(|u| u.last_used_date())
            .and_then(time))
    }
}
