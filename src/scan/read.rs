//! How the scan reads the account through [`CredentialSource`]: the report
//! with a bounded wait, then the live inventory.

use std::time::Duration;

use super::ScanError;
use crate::effects::{CredentialSource, EffectError, ErrorKind, ReportFetch, ReportState};
use crate::inventory::account::{Account, Inventory, LiveUser};
use crate::inventory::report::CredentialReport;

/// How long to wait for IAM to generate the credential report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportWait {
    /// Between two polls of GenerateCredentialReport.
    pub interval: Duration,
    /// In all; then the scan fails with [`ScanError::ReportTimeout`].
    pub timeout: Duration,
}

impl Default for ReportWait {
    /// Every 2 seconds for up to 2 minutes: a report of a few thousand users
    /// takes seconds.
    fn default() -> Self {
        ReportWait {
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(120),
        }
    }
}

/// The IAM actions the scan's reads need (for the execution role).
pub const PERMISSIONS: [&str; 9] = [
    "iam:GenerateCredentialReport",
    "iam:GetAccessKeyLastUsed",
    "iam:GetAccountPasswordPolicy",
    "iam:GetAccountSummary",
    "iam:GetCredentialReport",
    "iam:ListAccessKeys",
    "iam:ListAttachedUserPolicies",
    "iam:ListUserPolicies",
    "iam:ListUsers",
];

/// Generates (or reuses, when under four hours old) the credential report
/// and downloads it, polling until it is ready or `wait.timeout` passes.
pub async fn fetch_report(
    source: &dyn CredentialSource,
    wait: ReportWait,
) -> Result<CredentialReport, ScanError> {
    let started = tokio::time::Instant::now();
    let mut pause = wait.interval;
    loop {
        // GenerateCredentialReport is idempotent: it answers COMPLETE while a
        // fresh report exists and starts one when it is missing or expired.
        let state = match source.generate_credential_report().await {
            Ok(state) => state,
            // IAM refuses to generate reports too often (another scan, the
            // console): back off, doubling, within the same bounded wait.
            Err(e) if is_limit_exceeded(&e) => {
                if started.elapsed() + pause > wait.timeout {
                    // A rate limit, not a quota: a later scan may get through.
                    return Err(ScanError::Source(EffectError {
                        kind: ErrorKind::Throttled,
                        ..e
                    }));
                }
                tracing::info!(
                    origin = "scan",
                    wait_ms = pause.as_millis() as u64,
                    "credential report generation limited; backing off"
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_BACKOFF);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if state == ReportState::Complete {
            match source.credential_report().await? {
                ReportFetch::Ready { content, generated } => {
                    let mut report = CredentialReport::parse(&content)?;
                    report.generated = generated;
                    return Ok(report);
                }
                // Expired or gone between the two calls: generate again.
                ReportFetch::InProgress | ReportFetch::NotPresent | ReportFetch::Expired => {}
            }
        }
        if started.elapsed() + wait.interval > wait.timeout {
            return Err(ScanError::ReportTimeout {
                seconds: wait.timeout.as_secs(),
            });
        }
        tokio::time::sleep(wait.interval).await;
    }
}

/// The longest pause between two GenerateCredentialReport calls refused
/// with `LimitExceeded`.
const MAX_BACKOFF: Duration = Duration::from_secs(16);

/// IAM's answer to GenerateCredentialReport called too often.
fn is_limit_exceeded(e: &EffectError) -> bool {
    matches!(
        e.code.as_deref(),
        Some("LimitExceeded" | "LimitExceededException")
    )
}

/// Per-user reads in flight at once: fast on large accounts, gentle on
/// IAM's request rate (the SDK retries throttling).
const USER_READS_IN_FLIGHT: usize = 4;

/// Reads users, their direct grants and keys, the summary and the password
/// policy. A user deleted while the scan runs is left out with a note.
pub async fn read_inventory(
    source: &dyn CredentialSource,
) -> Result<(Inventory, Vec<String>), ScanError> {
    use futures_util::stream::{self, StreamExt};

    let summary = source.account_summary().await?;
    let password_policy = source.password_policy().await?;
    let reads: Vec<_> = stream::iter(source.users().await?)
        .map(|(name, arn)| async move {
            let read = async {
                Ok::<_, EffectError>(LiveUser {
                    attached_policies: source.attached_user_policies(&name).await?,
                    inline_policies: source.user_policy_names(&name).await?,
                    access_keys: source.access_keys(&name).await?,
                    name: name.clone(),
                    arn,
                })
            };
            (name.clone(), read.await)
        })
        .buffered(USER_READS_IN_FLIGHT)
        .collect()
        .await;
    let mut notes = Vec::new();
    let mut users = Vec::new();
    for (name, read) in reads {
        match read {
            Ok(user) => users.push(user),
            Err(e) if e.is_not_found() => {
                notes.push(format!("user `{name}` was deleted during the scan"));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok((
        Inventory {
            summary,
            password_policy,
            users,
        },
        notes,
    ))
}

/// The whole account: the report, then the live inventory, joined.
pub async fn read_account(
    source: &dyn CredentialSource,
    wait: ReportWait,
) -> Result<Account, ScanError> {
    let report = fetch_report(source, wait).await?;
    let (inventory, notes) = read_inventory(source).await?;
    let mut account = Account::assemble(report, inventory);
    account.notes.extend(notes);
    Ok(account)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::effects::memory::MemorySource;
    use crate::inventory::testing::{HEADER, ROOT_CLEAN, users};

    fn quick() -> ReportWait {
        ReportWait {
            interval: Duration::from_millis(1),
            timeout: Duration::from_millis(200),
        }
    }

    fn source() -> MemorySource {
        MemorySource::new(format!("{HEADER}\n{ROOT_CLEAN}\n"), users(&["amy", "bob"]))
    }

    #[tokio::test]
    async fn polls_until_the_report_is_complete() {
        let s = source();
        s.generate_states
            .lock()
            .unwrap()
            .extend([ReportState::Started, ReportState::InProgress]);
        let report = fetch_report(&s, quick()).await.unwrap();
        assert!(report.root.is_some());
        assert_eq!(
            s.calls(),
            [
                "iam:GenerateCredentialReport",
                "iam:GenerateCredentialReport",
                "iam:GenerateCredentialReport",
                "iam:GetCredentialReport",
            ]
        );
    }

    #[tokio::test]
    async fn an_expired_or_missing_report_is_generated_again() {
        let s = source();
        s.fetches.lock().unwrap().extend([
            ReportFetch::Expired,
            ReportFetch::NotPresent,
            ReportFetch::InProgress,
        ]);
        fetch_report(&s, quick()).await.unwrap();
        assert_eq!(s.calls().len(), 8);
    }

    #[tokio::test]
    async fn the_wait_is_bounded() {
        let s = source();
        s.generate_states
            .lock()
            .unwrap()
            .extend(std::iter::repeat_n(ReportState::InProgress, 10_000));
        let err = fetch_report(
            &s,
            ReportWait {
                interval: Duration::from_millis(5),
                timeout: Duration::from_millis(30),
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, ScanError::ReportTimeout { .. }));
        assert!(err.is_retryable());
        assert!(s.calls().len() <= 7, "{}", s.calls().len());
    }

    fn limit_exceeded() -> EffectError {
        let mut e = EffectError::new(
            "iam:GenerateCredentialReport",
            ErrorKind::LimitExceeded,
            "Rate exceeded",
        );
        e.code = Some("LimitExceeded".into());
        e
    }

    #[tokio::test]
    async fn limit_exceeded_on_generate_is_retried_with_backoff() {
        // The fake source answers LimitExceeded twice, as IAM does when a
        // report was requested moments ago.
        let s = source();
        s.generate_errors
            .lock()
            .unwrap()
            .extend([limit_exceeded(), limit_exceeded()]);
        let started = std::time::Instant::now();
        let report = fetch_report(&s, quick()).await.unwrap();
        assert!(report.root.is_some());
        assert_eq!(
            s.calls(),
            [
                "iam:GenerateCredentialReport",
                "iam:GenerateCredentialReport",
                "iam:GenerateCredentialReport",
                "iam:GetCredentialReport",
            ]
        );
        // 1 ms, then 2 ms: doubling.
        assert!(started.elapsed() >= Duration::from_millis(3));
    }

    #[tokio::test]
    async fn limit_exceeded_for_good_fails_retryable_within_the_wait() {
        let s = source();
        s.generate_errors
            .lock()
            .unwrap()
            .extend(std::iter::repeat_n(limit_exceeded(), 1000));
        let started = std::time::Instant::now();
        let err = fetch_report(&s, quick()).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(err.is_retryable(), "{err}");
        assert_eq!(
            err.to_string(),
            "cannot read the account: `iam:GenerateCredentialReport` failed (throttled, LimitExceeded): Rate exceeded"
        );
        // Backing off, doubling: a handful of calls, not a tight loop.
        assert!(s.calls().len() < 12, "{}", s.calls().len());
    }

    #[tokio::test]
    async fn the_declared_permissions_are_exactly_the_calls_made() {
        let s = source();
        read_account(&s, quick()).await.unwrap();
        // The re-check before a key is deactivated as unused.
        s.access_key_last_used("amy", "AKIA1").await.unwrap();
        let mut called: Vec<String> = s
            .calls()
            .iter()
            .map(|c| c.split(' ').next().unwrap_or("").to_owned())
            .collect();
        called.sort();
        called.dedup();
        assert_eq!(called, PERMISSIONS);
    }

    #[tokio::test]
    async fn a_user_deleted_mid_scan_is_left_out_with_a_note() {
        let mut s = source();
        s.deleted.push("amy".into());
        let account = read_account(&s, quick()).await.unwrap();
        let names: Vec<_> = account.users.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["bob"]);
        assert!(
            account
                .notes
                .contains(&"user `amy` was deleted during the scan".to_owned()),
            "{:?}",
            account.notes
        );
    }

    #[tokio::test]
    async fn a_denied_read_fails_the_scan_naming_the_action() {
        let mut s = source();
        let mut denied = EffectError::new(
            "iam:GetCredentialReport",
            ErrorKind::AccessDenied,
            "not authorized",
        );
        denied.code = Some("AccessDenied".into());
        s.failure = Some(denied);
        let err = read_account(&s, quick()).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read the account: `iam:GetCredentialReport` failed (access denied, AccessDenied): not authorized"
        );
        assert!(!err.is_retryable());
    }

    #[tokio::test]
    async fn a_garbled_report_is_an_error_not_a_panic() {
        let s = MemorySource::new("user,arn\nbob,x\n", users(&[]));
        let err = read_account(&s, quick()).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "credential report lacks column `user_creation_time`"
        );
    }
}
