//! [`AwsMembers`]: the member role's IAM and CloudTrail in each account,
//! over `sts:AssumeRole` credentials the SDK caches.
//!
//! Per account, one SDK configuration whose credentials provider is the
//! SDK's `AssumeRoleProvider` (the event's partition in the role ARN, the
//! event's region for the regional STS endpoint), and an identity cache of
//! the account's own. The SDK's identity cache keeps the session until
//! shortly before it expires (10 seconds, of a one hour session), for both
//! clients built on it: so the events of one account make one `AssumeRole`
//! an hour, not one per event, however many accounts there are.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use aws_config::identity::IdentityCache;
use aws_config::sts::AssumeRoleProvider;
use aws_config::{Region, SdkConfig};
use aws_credential_types::provider::{
    ProvideCredentials, SharedCredentialsProvider, error::CredentialsError, future,
};
use aws_sdk_iam::error::{DisplayErrorContext, SdkError};
use aws_sdk_sts::operation::assume_role::AssumeRoleError;

use super::aws::{AwsIam, AwsTrail, classify, classify_ref};
use super::lazy::Lazy;
use super::{
    AccountEffects, AccountLister, AccountNames, EffectError, ErrorKind, MemberAccess,
    MemberTarget, ScanQueue,
};

/// The member role of every account, by name (no path).
pub struct AwsMembers {
    base: SdkConfig,
    role_name: String,
    opened: tokio::sync::Mutex<HashMap<String, AccountEffects>>,
    assumed: Arc<AtomicUsize>,
}

impl AwsMembers {
    /// On the function's SDK configuration (its endpoint, retry, timeouts).
    pub fn new(base: &SdkConfig, role_name: &str) -> Self {
        AwsMembers {
            base: base.clone(),
            role_name: role_name.to_owned(),
            opened: tokio::sync::Mutex::new(HashMap::new()),
            assumed: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// How many `sts:AssumeRole` calls were made (benchmarks, tests).
    pub fn assume_role_calls(&self) -> usize {
        self.assumed.load(Ordering::Relaxed)
    }

    /// The member role's ARN in `target`'s account and partition.
    pub fn role_arn(&self, target: &MemberTarget<'_>) -> String {
        format!(
            "arn:{}:iam::{}:role/{}",
            target.partition, target.account, self.role_name
        )
    }
}

/// Counts the calls the identity cache lets through to `AssumeRole`, and
/// keeps the last error, classified, which an SDK call only reports as a
/// dispatch failure.
#[derive(Debug)]
struct Counted {
    inner: AssumeRoleProvider,
    calls: Arc<AtomicUsize>,
    last_error: Arc<std::sync::Mutex<Option<EffectError>>>,
}

impl ProvideCredentials for Counted {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            self.calls.fetch_add(1, Ordering::Relaxed);
            let answer = self.inner.provide_credentials().await;
            if let Err(e) = &answer {
                let mut last = self.last_error.lock().unwrap_or_else(|p| p.into_inner());
                *last = Some(assume_role_error(e));
            }
            answer
        })
    }
}

#[async_trait]
impl MemberAccess for AwsMembers {
    async fn account(&self, target: &MemberTarget<'_>) -> Result<AccountEffects, EffectError> {
        let mut opened = self.opened.lock().await;
        if let Some(effects) = opened.get(target.account) {
            return Ok(effects.clone());
        }
        let region = target
            .region
            .map(|r| Region::new(r.to_owned()))
            .or_else(|| self.base.region().cloned());
        let mut builder = AssumeRoleProvider::builder(self.role_arn(target))
            .session_name(target.session_name())
            .configure(&self.base);
        if let Some(region) = &region {
            builder = builder.region(region.clone());
        }
        let last_error = Arc::new(std::sync::Mutex::new(None));
        let provider = Counted {
            inner: builder.build().await,
            calls: self.assumed.clone(),
            last_error: last_error.clone(),
        };
        // An identity cache of the account's own: the function's is shared
        // by every provider built on its configuration and keeps 64 at
        // most, so beyond 64 accounts their sessions would evict each other
        // and every event would assume its role again.
        let mut sdk = self
            .base
            .to_builder()
            .identity_cache(IdentityCache::lazy().build())
            .credentials_provider(SharedCredentialsProvider::new(provider));
        if let Some(region) = region {
            sdk = sdk.region(region);
        }
        let sdk = sdk.build();
        // The first use assumes the role; it must land in the account it
        // names, or nothing is done there with these credentials.
        let answer = aws_sdk_sts::Client::new(&sdk)
            .get_caller_identity()
            .send()
            .await;
        let identity = answer.map_err(|e| {
            let assumed = last_error.lock().unwrap_or_else(|p| p.into_inner()).take();
            assumed.unwrap_or_else(|| classify("sts:GetCallerIdentity", e))
        })?;
        if identity.account() != Some(target.account) {
            return Err(EffectError::new(
                "sts:AssumeRole",
                ErrorKind::AccessDenied,
                format!(
                    "the session of `{}` acts in account `{}`, not `{}`",
                    self.role_arn(target),
                    identity.account().unwrap_or("?"),
                    target.account
                ),
            ));
        }
        let iam = Arc::new(AwsIam::from_conf(&sdk));
        let effects = AccountEffects {
            iam: iam.clone(),
            trail: Arc::new(AwsTrail::from_conf(&sdk)),
            source: Some(iam),
        };
        opened.insert(target.account.to_owned(), effects.clone());
        Ok(effects)
    }
}

/// An `AssumeRole` failure, classified by STS's answer: the SDK's
/// `AssumeRoleProvider` hands STS's error on as the source of its
/// credentials error (a provider error, or an invalid configuration for a
/// region STS has disabled), so the code and the kind of failure are read
/// from that `SdkError` as from any SDK call's.
fn assume_role_error(e: &CredentialsError) -> EffectError {
    const OP: &str = "sts:AssumeRole";
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(sdk) = s.downcast_ref::<SdkError<AssumeRoleError>>() {
            let mut classified = classify_ref(OP, sdk);
            classified.message = DisplayErrorContext(e).to_string();
            return classified;
        }
        source = s.source();
    }
    match e {
        // The identity cache gave up waiting: a later attempt may answer.
        CredentialsError::ProviderTimedOut(_) => EffectError::new(
            OP,
            ErrorKind::Unavailable,
            DisplayErrorContext(e).to_string(),
        ),
        _ => assume_role_error_from_text(DisplayErrorContext(e).to_string()),
    }
}

/// The last resort, for a credentials error that carries no STS error (a
/// provider of another SDK version, or one that kept only the text):
/// classified by the STS code its message names. An unknown failure is
/// retried.
fn assume_role_error_from_text(message: String) -> EffectError {
    let code = [
        "AccessDenied",
        "ThrottlingException",
        "Throttling",
        "RegionDisabledException",
        "ExpiredToken",
    ]
    .into_iter()
    .find(|c| message.contains(c));
    let kind = match code {
        Some("Throttling" | "ThrottlingException") => ErrorKind::Throttled,
        Some(_) => ErrorKind::AccessDenied,
        None => ErrorKind::Unavailable,
    };
    EffectError {
        operation: "sts:AssumeRole",
        kind,
        code: code.map(str::to_owned),
        message,
    }
}

/// Account names from `organizations:DescribeAccount`, each asked once per
/// process. Where the call is denied (the function is not in the
/// management or a delegated administrator account) it is not asked again.
pub struct AwsAccountNames {
    client: Lazy<aws_sdk_organizations::Client>,
    names: tokio::sync::Mutex<HashMap<String, Option<String>>>,
    denied: std::sync::atomic::AtomicBool,
}

impl AwsAccountNames {
    /// On the function's own SDK configuration, its client built on the
    /// first call.
    pub fn new(sdk: &SdkConfig) -> Self {
        AwsAccountNames {
            client: Lazy::new(sdk, aws_sdk_organizations::Client::new),
            names: tokio::sync::Mutex::new(HashMap::new()),
            denied: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

#[async_trait]
impl AccountNames for AwsAccountNames {
    async fn name(&self, account: &str) -> Option<String> {
        if self.denied.load(Ordering::Relaxed) {
            return None;
        }
        let mut names = self.names.lock().await;
        if let Some(known) = names.get(account) {
            return known.clone();
        }
        match self
            .client
            .get()
            .describe_account()
            .account_id(account)
            .send()
            .await
        {
            Ok(answer) => {
                let name = answer.account().and_then(|a| a.name()).map(str::to_owned);
                names.insert(account.to_owned(), name.clone());
                name
            }
            Err(e) => {
                let e = classify("organizations:DescribeAccount", e);
                if e.kind == ErrorKind::AccessDenied
                    || e.code.as_deref() == Some("AWSOrganizationsNotInUseException")
                {
                    self.denied.store(true, Ordering::Relaxed);
                } else if e.code.as_deref() == Some("AccountNotFoundException") {
                    names.insert(account.to_owned(), None);
                }
                tracing::warn!(account, error = %e, "account name not read; alerts give the id only");
                None
            }
        }
    }
}

/// The organisation's accounts, from `organizations:ListAccounts`.
pub struct AwsAccountLister {
    client: Lazy<aws_sdk_organizations::Client>,
}

impl AwsAccountLister {
    /// On the function's own SDK configuration, its client built on the
    /// first call.
    pub fn new(sdk: &SdkConfig) -> Self {
        AwsAccountLister {
            client: Lazy::new(sdk, aws_sdk_organizations::Client::new),
        }
    }
}

#[async_trait]
impl AccountLister for AwsAccountLister {
    async fn active_accounts(&self) -> Result<Vec<String>, EffectError> {
        let mut out = Vec::new();
        let mut pages = self.client.get().list_accounts().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("organizations:ListAccounts", e))?;
            out.extend(
                page.accounts()
                    .iter()
                    .filter(|a| {
                        a.state().map(|s| s.as_str()) == Some("ACTIVE")
                            || (a.state().is_none()
                                && a.status().map(|s| s.as_str()) == Some("ACTIVE"))
                    })
                    .filter_map(|a| a.id().map(str::to_owned)),
            );
        }
        Ok(out)
    }
}

/// The SQS queue of per-account scans.
pub struct AwsScanQueue {
    client: Lazy<aws_sdk_sqs::Client>,
    url: String,
}

impl AwsScanQueue {
    /// The queue at `url`, on the function's SDK configuration, its client
    /// built on the first call.
    pub fn new(sdk: &SdkConfig, url: &str) -> Self {
        AwsScanQueue {
            client: Lazy::new(sdk, aws_sdk_sqs::Client::new),
            url: url.to_owned(),
        }
    }
}

#[async_trait]
impl ScanQueue for AwsScanQueue {
    async fn send_batch(&self, bodies: &[String]) -> Result<Vec<usize>, EffectError> {
        let mut entries = Vec::with_capacity(bodies.len());
        for (i, body) in bodies.iter().enumerate() {
            let entry = aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(body)
                .build()
                .map_err(|e| {
                    EffectError::new("sqs:SendMessage", ErrorKind::Invalid, e.to_string())
                })?;
            entries.push(entry);
        }
        let answer = self
            .client
            .get()
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| classify("sqs:SendMessage", e))?;
        Ok(answer
            .failed()
            .iter()
            .filter_map(|f| f.id().parse().ok())
            .collect())
    }
}

/// The function's own account (`sts:GetCallerIdentity`), once at start in
/// organisation mode when no `self_role_arn` names it.
pub async fn own_account(sdk: &SdkConfig) -> Result<String, EffectError> {
    let answer = aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| classify("sts:GetCallerIdentity", e))?;
    answer.account().map(str::to_owned).ok_or_else(|| {
        EffectError::new(
            "sts:GetCallerIdentity",
            ErrorKind::Other,
            "the answer names no account",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assume_role_errors_without_an_sts_error_are_classified_by_their_text() {
        let denied = assume_role_error_from_text(
            "AccessDenied: User: arn:aws:sts::1:assumed-role/x is not authorized".into(),
        );
        assert_eq!(denied.kind, ErrorKind::AccessDenied);
        assert!(!denied.is_retryable());
        let throttled = assume_role_error_from_text("ThrottlingException: Rate exceeded".into());
        assert!(throttled.is_retryable());
        assert_eq!(throttled.code.as_deref(), Some("ThrottlingException"));
        assert!(assume_role_error_from_text("Throttling: Rate exceeded".into()).is_retryable());
        assert!(assume_role_error_from_text("connection refused".into()).is_retryable());
    }

    #[test]
    fn a_provider_that_timed_out_is_worth_a_retry() {
        let e = assume_role_error(&CredentialsError::provider_timed_out(
            std::time::Duration::from_secs(5),
        ));
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert!(e.is_retryable());
    }
}
