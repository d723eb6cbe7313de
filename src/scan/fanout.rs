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
    #[error("cannot list the accounts: {0}; and organization.accounts is empty")]
    List(EffectError),
    #[error("cannot queue the scans: {0}")]
    Queue(EffectError),
}

/// SQS takes at most 10 messages per `SendMessageBatch`.
pub const BATCH_MAX: usize = 10;

/// The accounts to scan: `organizations:ListAccounts`' ACTIVE accounts
/// (the configured `accounts` where that call is denied), less
/// `exclude_accounts`, and only `accounts` when set.
pub async fn accounts_to_scan(
    live: &LiveContext,
    lister: &dyn AccountLister,
) -> Result<(Vec<String>, &'static str), DispatchError> {
    let org = &live.config.organization;
    let (mut accounts, from) = match lister.active_accounts().await {
        Ok(listed) => (listed, "organizations"),
        Err(e) if e.kind == ErrorKind::AccessDenied && !org.accounts.is_empty() => {
            tracing::warn!(error = %e, "accounts not listed; scanning organization.accounts");
            (org.accounts.clone(), "config")
        }
        Err(e) => return Err(DispatchError::List(e)),
    };
    accounts.retain(|a| !org.exclude_accounts.contains(a));
    if !org.accounts.is_empty() {
        accounts.retain(|a| org.accounts.contains(a));
    }
    accounts.sort();
    accounts.dedup();
    Ok((accounts, from))
}

/// Queues one scan per account, ten to a batch. A batch the queue refuses
/// as a whole fails the dispatch (the schedule's retry queues again; the
/// scans are idempotent); single messages it refuses are reported.
pub async fn dispatch(
    live: &LiveContext,
    lister: &dyn AccountLister,
    queue: &dyn ScanQueue,
) -> Result<Dispatch, DispatchError> {
    let (accounts, listed_from) = accounts_to_scan(live, lister).await?;
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
    Ok(out)
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
    use super::*;

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
