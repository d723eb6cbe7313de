//! The effects on the AWS SDK: the only module that sees SDK types.
//!
//! Every SDK error becomes an [`EffectError`] classified by its service code
//! and HTTP status, so callers decide retries without knowing the SDK. The
//! SDK's own retry (standard mode: throttling and 5xx, three attempts) runs
//! first; what reaches us has outlived it.

use super::lazy::Lazy;
use async_trait::async_trait;
use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::{ReportStateType, StatusType, SummaryKeyType};
use chrono::{DateTime, Utc};

use super::{
    AccessKey, CredentialSource, EffectError, ErrorKind, GroupInfo, GroupRef, Iam, PolicyInfo,
    Publisher, Quotas, ReportFetch, ReportState, Secret, Secrets, SnsMessage, TrailControl,
    UserInfo,
};
use crate::inventory::PasswordBaseline;
use crate::inventory::account::{AccountSummary, AttachedPolicy, ListedKey};

/// Turns any SDK error into an [`EffectError`] for `operation`: the one
/// classifier of SDK errors, for the effects and the scan's reads alike.
pub(crate) fn classify<E>(operation: &'static str, err: SdkError<E>) -> EffectError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    classify_ref(operation, &err)
}

/// [`classify`] of an SDK error held by reference (one found as the source
/// of another error, such as a credentials provider's).
pub(crate) fn classify_ref<E>(operation: &'static str, err: &SdkError<E>) -> EffectError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().map(str::to_owned);
    let kind = match err {
        SdkError::ServiceError(_) => ErrorKind::from_code(code.as_deref(), status),
        // The request never got an answer (no connection, a timeout, a
        // reply cut short): a later attempt may get one, so retry.
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) | SdkError::DispatchFailure(_) => {
            ErrorKind::Unavailable
        }
        SdkError::ConstructionFailure(_) => ErrorKind::Invalid,
        _ => ErrorKind::from_code(code.as_deref(), status),
    };
    let message = match err.message() {
        Some(m) if !m.is_empty() => m.to_owned(),
        _ => DisplayErrorContext(err).to_string(),
    };
    EffectError {
        operation,
        kind,
        code,
        message,
    }
}

/// Every item of every page a list request answers, its failure
/// classified as `$op`. A macro because each paginator is its own type,
/// and the stream type they share is not exported by the SDK.
macro_rules! every_item {
    ($op:expr, $request:expr) => {
        $request
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| classify($op, e))
    };
}

/// Every access key of `user` (all pages): the one listing, for the
/// deactivation and the scan alike. A key without an id is skipped.
async fn list_access_keys(
    client: &aws_sdk_iam::Client,
    user: &str,
) -> Result<Vec<ListedKey>, EffectError> {
    let list = every_item!(
        "iam:ListAccessKeys",
        client.list_access_keys().user_name(user)
    )?;
    Ok(list
        .iter()
        .filter_map(|k| {
            Some(ListedKey {
                id: k.access_key_id()?.to_owned(),
                active: k.status() == Some(&StatusType::Active),
                created: k.create_date().and_then(time),
            })
        })
        .collect())
}

/// Every managed policy attached to `user` (all pages), for the
/// remediations (their ARNs) and the scan alike. One without an ARN is
/// skipped.
async fn list_attached_user_policies(
    client: &aws_sdk_iam::Client,
    user: &str,
) -> Result<Vec<AttachedPolicy>, EffectError> {
    let list = every_item!(
        "iam:ListAttachedUserPolicies",
        client.list_attached_user_policies().user_name(user)
    )?;
    Ok(list
        .into_iter()
        .filter_map(|p| {
            Some(AttachedPolicy {
                name: p.policy_name().unwrap_or_default().to_owned(),
                arn: p.policy_arn()?.to_owned(),
            })
        })
        .collect())
}

/// `GetAccountSummary`'s map, for the quotas and the scan alike.
async fn read_summary(client: &aws_sdk_iam::Client) -> Result<AccountSummary, EffectError> {
    let out = client
        .get_account_summary()
        .send()
        .await
        .map_err(|e| classify("iam:GetAccountSummary", e))?;
    Ok(AccountSummary(
        out.summary_map()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str().to_owned(), i64::from(*v)))
            .collect(),
    ))
}

/// The account's password policy, `None` when it has none: the one reading,
/// for the restoring remediation and the scan alike.
async fn read_password_policy(
    client: &aws_sdk_iam::Client,
) -> Result<Option<PasswordBaseline>, EffectError> {
    let out = client
        .get_account_password_policy()
        .send()
        .await
        .map_err(|e| classify("iam:GetAccountPasswordPolicy", e));
    Ok(none_if_missing(out)?.and_then(|o| {
        let p = o.password_policy()?;
        Some(PasswordBaseline {
            // IAM's default when unset.
            minimum_length: p
                .minimum_password_length()
                .map_or(6, |n| non_negative(Some(n))),
            require_uppercase: p.require_uppercase_characters(),
            require_lowercase: p.require_lowercase_characters(),
            require_numbers: p.require_numbers(),
            require_symbols: p.require_symbols(),
            reuse_prevention: non_negative(p.password_reuse_prevention()),
            // `ExpirePasswords` false means no maximum age, whatever the field says.
            max_age_days: if p.expire_passwords() {
                non_negative(p.max_password_age())
            } else {
                0
            },
            allow_users_to_change: p.allow_users_to_change_password(),
            hard_expiry: p.hard_expiry().unwrap_or(false),
        })
    }))
}

fn time(t: &aws_sdk_iam::primitives::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

/// `Ok(None)` for a not-found error, the error otherwise.
fn none_if_missing<T>(result: Result<T, EffectError>) -> Result<Option<T>, EffectError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// IAM returns policy documents URL-encoded (RFC 3986); events do not.
fn url_decoded(document: &str) -> String {
    if document.trim_start().starts_with('{') {
        return document.to_owned();
    }
    percent_encoding::percent_decode_str(document)
        .decode_utf8_lossy()
        .into_owned()
}

fn non_negative(v: Option<i32>) -> u32 {
    v.and_then(|v| u32::try_from(v).ok()).unwrap_or(0)
}

/// IAM on the AWS SDK.
#[derive(Debug, Clone)]
pub struct AwsIam {
    client: Lazy<aws_sdk_iam::Client>,
}

impl AwsIam {
    /// The adapter on an IAM client.
    pub fn new(client: aws_sdk_iam::Client) -> Self {
        AwsIam {
            client: Lazy::built(client),
        }
    }

    /// On an SDK config (the usual environment, `AWS_ENDPOINT_URL` included),
    /// its client built on the first call.
    pub fn from_conf(sdk: &aws_config::SdkConfig) -> Self {
        AwsIam {
            client: Lazy::new(sdk, aws_sdk_iam::Client::new),
        }
    }
}

#[async_trait]
impl Iam for AwsIam {
    async fn quotas(&self) -> Result<Quotas, EffectError> {
        let summary = read_summary(self.client.get()).await?;
        let get = |key: SummaryKeyType, default: u32| {
            summary
                .0
                .get(key.as_str())
                .and_then(|v| u32::try_from(*v).ok())
                .unwrap_or(default)
        };
        let d = Quotas::default();
        Ok(Quotas {
            groups_per_user: get(SummaryKeyType::GroupsPerUserQuota, d.groups_per_user),
            policies_per_group: get(
                SummaryKeyType::AttachedPoliciesPerGroupQuota,
                d.policies_per_group,
            ),
            groups: get(SummaryKeyType::Groups, d.groups),
            groups_quota: get(SummaryKeyType::GroupsQuota, d.groups_quota),
        })
    }

    async fn user(&self, user: &str) -> Result<Option<UserInfo>, EffectError> {
        const OP: &str = "iam:GetUser";
        let out = self
            .client
            .get()
            .get_user()
            .user_name(user)
            .send()
            .await
            .map_err(|e| classify(OP, e));
        let Some(out) = none_if_missing(out)? else {
            return Ok(None);
        };
        let u = out.user().ok_or_else(|| {
            EffectError::new(
                OP,
                ErrorKind::Other,
                format!("no user in the answer for `{user}`"),
            )
        })?;
        Ok(Some(UserInfo {
            arn: u.arn().to_owned(),
            tags: u
                .tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect(),
        }))
    }

    async fn attached_user_policies(&self, user: &str) -> Result<Vec<String>, EffectError> {
        Ok(list_attached_user_policies(self.client.get(), user)
            .await?
            .into_iter()
            .map(|p| p.arn)
            .collect())
    }

    async fn groups_for_user(&self, user: &str) -> Result<Vec<GroupRef>, EffectError> {
        let list = every_item!(
            "iam:ListGroupsForUser",
            self.client.get().list_groups_for_user().user_name(user)
        )?;
        Ok(list
            .iter()
            .map(|g| GroupRef {
                name: g.group_name().to_owned(),
                path: g.path().to_owned(),
            })
            .collect())
    }

    async fn group(&self, group: &str) -> Result<Option<GroupInfo>, EffectError> {
        const OP: &str = "iam:GetGroup";
        let pages = self
            .client
            .get()
            .get_group()
            .group_name(group)
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| classify(OP, e));
        let Some(pages) = none_if_missing(pages)? else {
            return Ok(None);
        };
        let path = pages
            .first()
            .and_then(|p| p.group())
            .map(|g| g.path().to_owned())
            .unwrap_or_else(|| "/".to_owned());
        let members = pages
            .iter()
            .flat_map(|p| p.users())
            .map(|u| u.user_name().to_owned())
            .collect();
        Ok(Some(GroupInfo {
            name: group.to_owned(),
            path,
            members,
        }))
    }

    async fn attached_group_policies(&self, group: &str) -> Result<Vec<String>, EffectError> {
        let list = every_item!(
            "iam:ListAttachedGroupPolicies",
            self.client
                .get()
                .list_attached_group_policies()
                .group_name(group)
        )?;
        Ok(list
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_owned))
            .collect())
    }

    async fn group_policy_names(&self, group: &str) -> Result<Vec<String>, EffectError> {
        every_item!(
            "iam:ListGroupPolicies",
            self.client.get().list_group_policies().group_name(group)
        )
    }

    async fn policy(&self, policy_arn: &str) -> Result<PolicyInfo, EffectError> {
        let out = self
            .client
            .get()
            .get_policy()
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(|e| classify("iam:GetPolicy", e))?;
        // A policy without the flag is an ordinary, attachable one.
        let attachable = out.policy().is_none_or(|p| p.is_attachable());
        Ok(PolicyInfo { attachable })
    }

    async fn create_group(&self, group: &str, path: &str) -> Result<(), EffectError> {
        self.client
            .get()
            .create_group()
            .group_name(group)
            .path(path)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("iam:CreateGroup", e))
    }

    async fn attach_group_policy(&self, group: &str, policy_arn: &str) -> Result<(), EffectError> {
        self.client
            .get()
            .attach_group_policy()
            .group_name(group)
            .policy_arn(policy_arn)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("iam:AttachGroupPolicy", e))
    }

    async fn add_user_to_group(&self, group: &str, user: &str) -> Result<(), EffectError> {
        self.client
            .get()
            .add_user_to_group()
            .group_name(group)
            .user_name(user)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("iam:AddUserToGroup", e))
    }

    async fn remove_user_from_group(&self, group: &str, user: &str) -> Result<(), EffectError> {
        self.client
            .get()
            .remove_user_from_group()
            .group_name(group)
            .user_name(user)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("iam:RemoveUserFromGroup", e))
    }

    async fn detach_user_policy(&self, user: &str, policy_arn: &str) -> Result<(), EffectError> {
        self.client
            .get()
            .detach_user_policy()
            .user_name(user)
            .policy_arn(policy_arn)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("iam:DetachUserPolicy", e))
    }

    async fn user_policy(&self, user: &str, name: &str) -> Result<Option<String>, EffectError> {
        let out = self
            .client
            .get()
            .get_user_policy()
            .user_name(user)
            .policy_name(name)
            .send()
            .await
            .map_err(|e| classify("iam:GetUserPolicy", e));
        Ok(none_if_missing(out)?.map(|o| url_decoded(o.policy_document())))
    }

    async fn group_policy(&self, group: &str, name: &str) -> Result<Option<String>, EffectError> {
        let out = self
            .client
            .get()
            .get_group_policy()
            .group_name(group)
            .policy_name(name)
            .send()
            .await
            .map_err(|e| classify("iam:GetGroupPolicy", e));
        Ok(none_if_missing(out)?.map(|o| url_decoded(o.policy_document())))
    }

    async fn put_group_policy(
        &self,
        group: &str,
        name: &str,
        document: &str,
    ) -> Result<(), EffectError> {
        self.client
            .get()
            .put_group_policy()
            .group_name(group)
            .policy_name(name)
            .policy_document(document)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("iam:PutGroupPolicy", e))
    }

    async fn delete_user_policy(&self, user: &str, name: &str) -> Result<(), EffectError> {
        self.client
            .get()
            .delete_user_policy()
            .user_name(user)
            .policy_name(name)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("iam:DeleteUserPolicy", e))
    }

    async fn access_keys(&self, user: &str) -> Result<Vec<AccessKey>, EffectError> {
        Ok(list_access_keys(self.client.get(), user)
            .await?
            .into_iter()
            .map(|k| AccessKey {
                id: k.id,
                active: k.active,
            })
            .collect())
    }

    async fn deactivate_access_key(&self, user: &str, key_id: &str) -> Result<(), EffectError> {
        self.client
            .get()
            .update_access_key()
            .user_name(user)
            .access_key_id(key_id)
            .status(StatusType::Inactive)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("iam:UpdateAccessKey", e))
    }

    async fn password_policy(&self) -> Result<Option<PasswordBaseline>, EffectError> {
        read_password_policy(self.client.get()).await
    }

    async fn update_password_policy(&self, policy: &PasswordBaseline) -> Result<(), EffectError> {
        let positive = |v: u32| i32::try_from(v).ok().filter(|v| *v > 0);
        // Zero means "none" for these two; IAM wants them omitted, not 0.
        self.client
            .get()
            .update_account_password_policy()
            .minimum_password_length(i32::try_from(policy.minimum_length).unwrap_or(128))
            .require_uppercase_characters(policy.require_uppercase)
            .require_lowercase_characters(policy.require_lowercase)
            .require_numbers(policy.require_numbers)
            .require_symbols(policy.require_symbols)
            .set_password_reuse_prevention(positive(policy.reuse_prevention))
            .set_max_password_age(positive(policy.max_age_days))
            .allow_users_to_change_password(policy.allow_users_to_change)
            .hard_expiry(policy.hard_expiry)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("iam:UpdateAccountPasswordPolicy", e))
    }
}

/// The scan's reads, on the same client as the remediations.
#[async_trait]
impl CredentialSource for AwsIam {
    async fn generate_credential_report(&self) -> Result<ReportState, EffectError> {
        let out = self
            .client
            .get()
            .generate_credential_report()
            .send()
            .await
            .map_err(|e| classify("iam:GenerateCredentialReport", e))?;
        Ok(match out.state() {
            Some(ReportStateType::Complete) => ReportState::Complete,
            Some(ReportStateType::Started) => ReportState::Started,
            _ => ReportState::InProgress,
        })
    }

    async fn credential_report(&self) -> Result<ReportFetch, EffectError> {
        match self.client.get().get_credential_report().send().await {
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
                _ => Err(classify("iam:GetCredentialReport", e)),
            },
        }
    }

    async fn password_policy(&self) -> Result<Option<PasswordBaseline>, EffectError> {
        read_password_policy(self.client.get()).await
    }

    async fn account_summary(&self) -> Result<AccountSummary, EffectError> {
        read_summary(self.client.get()).await
    }

    async fn users(&self) -> Result<Vec<(String, String)>, EffectError> {
        let users = every_item!("iam:ListUsers", self.client.get().list_users())?;
        Ok(users
            .into_iter()
            .map(|u| (u.user_name().to_owned(), u.arn().to_owned()))
            .collect())
    }

    async fn attached_user_policies(&self, user: &str) -> Result<Vec<AttachedPolicy>, EffectError> {
        list_attached_user_policies(self.client.get(), user).await
    }

    async fn user_policy_names(&self, user: &str) -> Result<Vec<String>, EffectError> {
        every_item!(
            "iam:ListUserPolicies",
            self.client.get().list_user_policies().user_name(user)
        )
    }

    async fn access_keys(&self, user: &str) -> Result<Vec<ListedKey>, EffectError> {
        list_access_keys(self.client.get(), user).await
    }

    async fn access_key_last_used(
        &self,
        _user: &str,
        access_key_id: &str,
    ) -> Result<Option<DateTime<Utc>>, EffectError> {
        let out = self
            .client
            .get()
            .get_access_key_last_used()
            .access_key_id(access_key_id)
            .send()
            .await
            .map_err(|e| classify("iam:GetAccessKeyLastUsed", e))?;
        Ok(out
            .access_key_last_used()
            .and_then(|u| u.last_used_date())
            .and_then(time))
    }
}

/// A CloudTrail error: as [`classify`], except that `ConflictException` is
/// worth a retry. CloudTrail answers it for a trail it has not finished
/// loading or updating, and documents "wait, then try again"; elsewhere in
/// AWS the same code can mean a lasting conflict, so only here.
fn classify_trail<E>(operation: &'static str, err: SdkError<E>) -> EffectError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mut e = classify(operation, err);
    if e.code.as_deref() == Some("ConflictException") {
        e.kind = ErrorKind::Unavailable;
    }
    e
}

/// CloudTrail on the AWS SDK. Calls go to the trail's home region when the
/// caller names it (StartLogging must be called there).
#[derive(Debug, Clone)]
pub struct AwsTrail {
    client: Lazy<aws_sdk_cloudtrail::Client>,
}

impl AwsTrail {
    /// The adapter on a CloudTrail client.
    pub fn new(client: aws_sdk_cloudtrail::Client) -> Self {
        AwsTrail {
            client: Lazy::built(client),
        }
    }

    /// On an SDK config, its CloudTrail client built on the first call.
    pub fn from_conf(sdk: &aws_config::SdkConfig) -> Self {
        AwsTrail {
            client: Lazy::new(sdk, aws_sdk_cloudtrail::Client::new),
        }
    }

    fn region_override(region: Option<&str>) -> aws_sdk_cloudtrail::config::Builder {
        let mut b = aws_sdk_cloudtrail::config::Builder::default();
        if let Some(r) = region {
            b = b.region(aws_sdk_cloudtrail::config::Region::new(r.to_owned()));
        }
        b
    }
}

#[async_trait]
impl TrailControl for AwsTrail {
    async fn is_logging(
        &self,
        region: Option<&str>,
        trail: &str,
    ) -> Result<Option<bool>, EffectError> {
        let out = self
            .client
            .get()
            .get_trail_status()
            .name(trail)
            .customize()
            .config_override(Self::region_override(region))
            .send()
            .await
            .map_err(|e| classify_trail("cloudtrail:GetTrailStatus", e));
        Ok(none_if_missing(out)?.map(|o| o.is_logging().unwrap_or(false)))
    }

    async fn start_logging(&self, region: Option<&str>, trail: &str) -> Result<(), EffectError> {
        self.client
            .get()
            .start_logging()
            .name(trail)
            .customize()
            .config_override(Self::region_override(region))
            .send()
            .await
            .map(drop)
            .map_err(|e| classify_trail("cloudtrail:StartLogging", e))
    }
}

/// SNS on the AWS SDK.
#[derive(Debug, Clone)]
pub struct AwsSns {
    client: Lazy<aws_sdk_sns::Client>,
}

impl AwsSns {
    /// The adapter on an SNS client.
    pub fn new(client: aws_sdk_sns::Client) -> Self {
        AwsSns {
            client: Lazy::built(client),
        }
    }

    /// On an SDK config, its SNS client built on the first call.
    pub fn from_conf(sdk: &aws_config::SdkConfig) -> Self {
        AwsSns {
            client: Lazy::new(sdk, aws_sdk_sns::Client::new),
        }
    }
}

#[async_trait]
impl Publisher for AwsSns {
    async fn publish(&self, message: &SnsMessage) -> Result<String, EffectError> {
        const OP: &str = "sns:Publish";
        let mut req = self
            .client
            .get()
            .publish()
            .topic_arn(&message.topic_arn)
            .subject(&message.subject)
            .message(&message.body);
        for (key, value) in &message.attributes {
            let attr = aws_sdk_sns::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| EffectError::new(OP, ErrorKind::Invalid, e.to_string()))?;
            req = req.message_attributes(key, attr);
        }
        if let Some((group, dedup)) = &message.fifo {
            req = req.message_group_id(group).message_deduplication_id(dedup);
        }
        let out = req.send().await.map_err(|e| classify(OP, e))?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }
}

/// Secrets Manager on the AWS SDK.
#[derive(Debug, Clone)]
pub struct AwsSecrets {
    client: Lazy<aws_sdk_secretsmanager::Client>,
}

impl AwsSecrets {
    /// The adapter on a Secrets Manager client.
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        AwsSecrets {
            client: Lazy::built(client),
        }
    }

    /// On an SDK config, its Secrets Manager client built on the first call.
    pub fn from_conf(sdk: &aws_config::SdkConfig) -> Self {
        AwsSecrets {
            client: Lazy::new(sdk, aws_sdk_secretsmanager::Client::new),
        }
    }
}

#[async_trait]
impl Secrets for AwsSecrets {
    async fn secret_string(&self, secret_arn: &str) -> Result<Secret, EffectError> {
        const OP: &str = "secretsmanager:GetSecretValue";
        let out = self
            .client
            .get()
            .get_secret_value()
            .secret_id(secret_arn)
            .send()
            .await
            .map_err(|e| classify(OP, e))?;
        out.secret_string().map(Secret::new).ok_or_else(|| {
            EffectError::new(
                OP,
                ErrorKind::Invalid,
                format!("secret `{secret_arn}` holds no string"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_iam::error::ConnectorError;
    use aws_sdk_iam::operation::get_user::GetUserError;

    #[test]
    fn a_request_that_got_no_answer_is_worth_a_retry() {
        for connector in [
            ConnectorError::user("no connection".into()),
            ConnectorError::io("connection refused".into()),
            ConnectorError::timeout("connect timeout".into()),
            ConnectorError::other("reset".into(), None),
        ] {
            let err = SdkError::<GetUserError>::dispatch_failure(connector);
            let e = classify("iam:GetUser", err);
            assert_eq!(e.kind, ErrorKind::Unavailable, "{e}");
            assert!(e.is_retryable());
        }
    }

    #[test]
    fn url_encoded_documents_are_decoded_and_plain_ones_kept() {
        assert_eq!(
            url_decoded("%7B%22Version%22%3A%222012-10-17%22%7D"),
            r#"{"Version":"2012-10-17"}"#
        );
        assert_eq!(url_decoded(r#" {"a": "%41"}"#), r#" {"a": "%41"}"#);
    }
}
