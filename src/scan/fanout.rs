//! The scan across the accounts of an organisation: the dispatcher that
//! sends one message per account to the scan queue, and the scan of one
//! member account through the member role, each with its own summary.
//!
//! SQS rather than a Step Functions Map: the event source mapping brings
//! per-message retries, partial batch failure reporting and a dead-letter
//! queue, so each account's scan gets a whole invocation's deadline and a
//! failed account is retried, then kept, on its own.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ScanContext, ScanError, ScanReport, run_scan};
use crate::effects::{
    AccountLister, CredentialSource, EffectError, ErrorKind, MemberTarget, ScanQueue,
};
use crate::live::LiveContext;

/// The body of one per-account scan message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanAccount {
    /// Always `scan-account`.
    pub trailguard: String,
    pub account: String,
}

impl ScanAccount {
    /// The message for `account`.
    pub fn new(account: &str) -> Self {
        ScanAccount {
            trailguard: "scan-account".into(),
            account: account.into(),
        }
    }

    /// Reads a message body; `None` when it is not a per-account scan.
    pub fn parse(body: &str) -> Option<Self> {
        serde_json::from_str::<ScanAccount>(body)
            .ok()
            .filter(|m| m.trailguard == "scan-account")
            .filter(|m| m.account.len() == 12 && m.account.bytes().all(|b| b.is_ascii_digit()))
    }
}

/// What the dispatcher did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Dispatch {
    /// Where the account list came from: `organizations` or `config`.
    pub listed_from: &'static str,
    /// The accounts a scan was queued for.
    pub queued: Vec<String>,
    /// The accounts the queue did not take.
    pub failed: Vec<String>,
}

/// Why the dispatcher could not queue the scans.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// The accounts could not be listed (and, the call being denied, none
    /// are configured to stand in): only the function's own account was
    /// queued, when it is known and the queue took it.
    #[error(
        "cannot list the accounts: {error}; {}",
        match own.as_deref() {
            Some(a) => format!("only the function's own account ({a}) was queued"),
            None => "no account was queued".to_owned(),
        }
    )]
    List {
        error: EffectError,
        own: Option<String>,
    },
    #[error("cannot queue the scans: {0}")]
    Queue(EffectError),
}

/// SQS takes at most 10 messages per `SendMessageBatch`.
pub const BATCH_MAX: usize = 10;

/// The accounts to scan: `organizations:ListAccounts`' ACTIVE accounts
/// (the configured `accounts` where that call is denied), less
/// `exclude_accounts`, and only `accounts` when set; and always the
/// function's own account, which trailguard guards whatever the lists say,
/// as it does its events. The error, when the accounts could not be listed
/// and none are configured, comes with the own account alone.
pub async fn accounts_to_scan(
    live: &LiveContext,
    lister: &dyn AccountLister,
) -> (Vec<String>, &'static str, Option<EffectError>) {
    let org = &live.config.organization;
    let (mut accounts, from, unlisted) = match lister.active_accounts().await {
        Ok(listed) => (listed, "organizations", None),
        Err(e) if e.kind == ErrorKind::AccessDenied && !org.accounts.is_empty() => {
            tracing::warn!(error = %e, "accounts not listed; scanning organization.accounts");
            (org.accounts.clone(), "config", None)
        }
        Err(e) => (Vec::new(), "own-account", Some(e)),
    };
    accounts.retain(|a| org.refusal(a).is_none());
    accounts.extend(live.own_account.iter().cloned());
    accounts.sort();
    accounts.dedup();
    (accounts, from, unlisted)
}

/// Queues one scan per account, ten to a batch. A batch the queue refuses
/// as a whole fails the dispatch (the schedule's retry queues again; the
/// scans are idempotent); single messages it refuses are reported.
pub async fn dispatch(
    live: &LiveContext,
    lister: &dyn AccountLister,
    queue: &dyn ScanQueue,
) -> Result<Dispatch, DispatchError> {
    let (accounts, listed_from, unlisted) = accounts_to_scan(live, lister).await;
    let mut out = Dispatch {
        listed_from,
        ..Dispatch::default()
    };
    for chunk in accounts.chunks(BATCH_MAX) {
        let bodies: Vec<String> = chunk
            .iter()
            .map(|a| serde_json::to_string(&ScanAccount::new(a)).unwrap_or_default())
            .collect();
        let refused = queue
            .send_batch(&bodies)
            .await
            .map_err(DispatchError::Queue)?;
        for (i, account) in chunk.iter().enumerate() {
            if refused.contains(&i) {
                out.failed.push(account.clone());
            } else {
                out.queued.push(account.clone());
            }
        }
    }
    tracing::info!(
        listed_from,
        queued = out.queued.len(),
        failed = out.failed.len(),
        "scan dispatched"
    );
    match unlisted {
        None => Ok(out),
        // Named only when the queue took it.
        Some(error) => Err(DispatchError::List {
            error,
            own: live.own_account.clone().filter(|a| out.queued.contains(a)),
        }),
    }
}

/// Scans `account`: the function's own through `own_source`, another
/// through the member role (session `trailguard`), acting there and
/// sending the account's own summary.
pub async fn scan_account(
    live: &LiveContext,
    own_source: &dyn CredentialSource,
    account: &str,
    ctx: ScanContext<'_>,
    now: DateTime<Utc>,
) -> Result<ScanReport, ScanError> {
    if live.own_account.as_deref() == Some(account) {
        return run_scan(
            &ScanContext {
                source: own_source,
                ..ctx
            },
            now,
        )
        .await;
    }
    // The dispatcher queues only allowed accounts; a message for another
    // (sent by hand, or queued before the configuration changed) must not
    // scan, nor remediate, an account the configuration keeps out.
    if live.config.organization.enabled()
        && let Some(why) = live.config.organization.refusal(account)
    {
        return Err(ScanError::Refused(why));
    }
    let Some(members) = live.members.as_deref() else {
        return Err(ScanError::NotOrganization(account.to_owned()));
    };
    let partition = live
        .region
        .as_deref()
        .and_then(crate::alert::partition_of_region)
        .unwrap_or("aws");
    let target = MemberTarget {
        account,
        partition,
        region: live.region.as_deref(),
    };
    let effects = members
        .account(&target)
        .await
        .map_err(|source| ScanError::Member {
            account: account.to_owned(),
            source,
        })?;
    let Some(source) = effects.source.as_deref() else {
        return Err(ScanError::Member {
            account: account.to_owned(),
            source: EffectError::new(
                "iam:GetCredentialReport",
                ErrorKind::Other,
                "no reader for the account",
            ),
        });
    };
    let ctx = ScanContext {
        source,
        member: Some((account, partition)),
        ..ctx
    };
    run_scan(&ctx, now).await
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::alert::slack::WebhookSource;
    use crate::config::Config;
    use crate::live::Effects;

    const OWN: &str = "111111111111";

    /// `ListAccounts` answering these accounts, or failing with this kind.
    struct Lister(Result<Vec<&'static str>, ErrorKind>);

    #[async_trait]
    impl AccountLister for Lister {
        async fn active_accounts(&self) -> Result<Vec<String>, EffectError> {
            match &self.0 {
                Ok(accounts) => Ok(accounts.iter().map(|a| a.to_string()).collect()),
                Err(kind) => Err(EffectError::new(
                    "organizations:ListAccounts",
                    *kind,
                    "refused",
                )),
            }
        }
    }

    /// A queue that keeps each message's account, and takes every message
    /// or (`true`) refuses every one.
    #[derive(Default)]
    struct Queue(Mutex<Vec<String>>, bool);

    #[async_trait]
    impl ScanQueue for Queue {
        async fn send_batch(&self, bodies: &[String]) -> Result<Vec<usize>, EffectError> {
            let mut sent = self.0.lock().unwrap();
            sent.extend(
                bodies
                    .iter()
                    .map(|b| ScanAccount::parse(b).unwrap().account),
            );
            Ok(if self.1 {
                (0..bodies.len()).collect()
            } else {
                Vec::new()
            })
        }
    }

    fn live(organization: &str) -> LiveContext {
        let config = Config::from_toml(
            &format!(
                "self_role_arn = \"arn:aws:iam::{OWN}:role/trailguard-fn\"\n\
                 [organization]\nmember_role_name = \"trailguard-member\"\n{organization}"
            ),
            "test",
            std::iter::empty(),
        )
        .unwrap();
        LiveContext::new(config, Effects::in_memory(), WebhookSource::None)
    }

    async fn run(
        organization: &str,
        listed: Result<Vec<&'static str>, ErrorKind>,
    ) -> (Result<Dispatch, DispatchError>, Vec<String>) {
        let queue = Queue::default();
        let out = dispatch(&live(organization), &Lister(listed), &queue).await;
        let sent = queue.0.into_inner().unwrap();
        (out, sent)
    }

    /// The function's own account is scanned whatever the lists say, as
    /// its events are acted on; the others as the configuration allows.
    #[tokio::test]
    async fn the_own_account_is_always_scanned_and_the_others_as_configured() {
        let (a, b, c) = ("222222222222", "333333333333", "444444444444");
        for (organization, listed, expected, from) in [
            ("", Ok(vec![OWN, a, b]), vec![OWN, a, b], "organizations"),
            // Not listed (a management account's view can lag): still ours.
            ("", Ok(vec![a]), vec![OWN, a], "organizations"),
            (
                "exclude_accounts = [\"333333333333\"]",
                Ok(vec![OWN, a, b, c]),
                vec![OWN, a, c],
                "organizations",
            ),
            (
                "accounts = [\"222222222222\"]",
                Ok(vec![OWN, a, b]),
                vec![OWN, a],
                "organizations",
            ),
            (
                "exclude_accounts = [\"111111111111\"]",
                Ok(vec![OWN, a]),
                vec![OWN, a],
                "organizations",
            ),
            (
                "accounts = [\"222222222222\", \"444444444444\"]",
                Err(ErrorKind::AccessDenied),
                vec![OWN, a, c],
                "config",
            ),
        ] {
            let (out, sent) = run(organization, listed).await;
            let out = out.unwrap_or_else(|e| panic!("{organization}: {e}"));
            assert_eq!(out.queued, expected, "{organization}");
            assert_eq!(sent, expected, "{organization}");
            assert_eq!(out.listed_from, from, "{organization}");
            assert!(out.failed.is_empty());
        }
    }

    /// Accounts that cannot be listed, and none configured (or a failure
    /// other than a denial): the own account is still scanned, and the
    /// dispatch fails so that the failure is seen and retried.
    #[tokio::test]
    async fn unlisted_accounts_fail_the_dispatch_after_the_own_account_is_queued() {
        for (organization, kind) in [
            ("", ErrorKind::AccessDenied),
            ("accounts = [\"222222222222\"]", ErrorKind::Throttled),
        ] {
            let (out, sent) = run(organization, Err(kind)).await;
            assert_eq!(sent, [OWN], "{organization}");
            let e = out.unwrap_err();
            assert!(matches!(e, DispatchError::List { .. }), "{e}");
            let message = e.to_string();
            assert!(
                message.starts_with("cannot list the accounts: ")
                    && message
                        .ends_with("; only the function's own account (111111111111) was queued"),
                "{message}"
            );
        }
        // The queue refused the own account too: nothing was queued.
        let queue = Queue(Mutex::default(), true);
        let e = dispatch(&live(""), &Lister(Err(ErrorKind::AccessDenied)), &queue)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("; no account was queued"), "{e}");
    }

    #[test]
    fn the_message_is_the_contracts() {
        let body = serde_json::to_string(&ScanAccount::new("123456789012")).unwrap();
        assert_eq!(
            body,
            r#"{"trailguard":"scan-account","account":"123456789012"}"#
        );
        assert_eq!(
            ScanAccount::parse(&body),
            Some(ScanAccount::new("123456789012"))
        );
        for bad in [
            r#"{"trailguard":"scan","account":"123456789012"}"#,
            r#"{"trailguard":"scan-account","account":"12345"}"#,
            r#"{"trailguard":"scan-account"}"#,
            "not json",
        ] {
            assert_eq!(ScanAccount::parse(bad), None, "{bad}");
        }
    }
}
