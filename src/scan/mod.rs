//! The scheduled credential scan: the backstop for what the event path
//! missed or never sees (credentials growing old, grants made before
//! trailguard was deployed, events EventBridge dropped).
//!
//! - [`report`] parses the IAM credential report; [`account`] joins it with
//!   the live IAM state into an [`Account`]; [`evaluate()`] runs the scan
//!   rules of the registry over it at an injected time. All pure.
//! - [`source`] is the narrow read-only trait the scan reads IAM through,
//!   with the bounded wait for the report; [`aws`] its SDK adapter,
//!   [`memory`] an in-memory one for tests.
//! - [`run_scan`] is the whole scan, as the Lambda's scheduled event and
//!   `trailguard scan` run it.

pub mod account;
pub mod aws;
mod evaluate;
pub mod memory;
mod render;
pub mod report;
pub mod source;
#[cfg(test)]
pub(crate) mod testing;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use account::{Account, Inventory, KeyUsage};
pub use evaluate::{ScanEvaluation, evaluate};
pub use render::{counts, headline, render_text};
pub use report::{CredentialReport, ReportError, Stamp};
pub use source::{CredentialSource, ReportWait, SourceError};

use crate::config::Config;
use crate::engine::{Decision, Diagnostic};

/// Why a scan could not run.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot read the account: {0}")]
    Source(#[from] SourceError),
    #[error("{0}")]
    Report(#[from] ReportError),
    #[error("credential report not ready after {seconds} s")]
    ReportTimeout { seconds: u64 },
}

impl ScanError {
    /// Worth running the scan again soon (throttling, 5xx, a slow report).
    pub fn is_retryable(&self) -> bool {
        match self {
            ScanError::Source(e) => e.kind == source::SourceErrorKind::Transient,
            ScanError::ReportTimeout { .. } => true,
            ScanError::Report(_) => false,
        }
    }
}

/// Is this Lambda payload an EventBridge scheduled event (the scan's
/// trigger) rather than a CloudTrail event?
pub fn is_scheduled_event(payload: &serde_json::Value) -> bool {
    payload.get("detail-type").and_then(|v| v.as_str()) == Some("Scheduled Event")
        && payload.get("source").and_then(|v| v.as_str()) == Some("aws.events")
}

/// What the scan reads the account with.
#[derive(Clone, Copy)]
pub struct ScanContext<'a> {
    pub source: &'a dyn CredentialSource,
    pub wait: ReportWait,
}

/// What a scan found (one JSON object for `trailguard scan --format json`).
#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    pub account_id: Option<String>,
    /// The time ages were measured at.
    pub scanned_at: DateTime<Utc>,
    /// When IAM generated the credential report read.
    pub report_generated_at: Option<DateTime<Utc>>,
    /// IAM users scanned.
    pub users: usize,
    /// Worst first.
    pub findings: Vec<Decision>,
    pub diagnostics: Vec<Diagnostic>,
    /// Where the report and the live state disagreed; rows skipped.
    pub notes: Vec<String>,
}

/// Reads the account and evaluates it at `now`.
pub async fn run_scan(
    ctx: &ScanContext<'_>,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<ScanReport, ScanError> {
    let account = source::read_account(ctx.source, ctx.wait).await?;
    let eval = evaluate(&account, config, now);
    for note in &account.notes {
        tracing::info!(note = note.as_str(), "scan note");
    }
    for d in &eval.decisions {
        let f = &d.finding;
        tracing::info!(
            rule = f.rule,
            severity = f.severity.as_str(),
            mode = d.mode.as_str(),
            target = f.target.label(),
            action = f.remediation.as_ref().map_or("none", |a| a.id()),
            exempt = d.exempt.as_deref().unwrap_or(""),
            summary = f.summary.as_str(),
            "scan finding"
        );
    }
    Ok(ScanReport {
        account_id: account.account_id.clone(),
        scanned_at: now,
        report_generated_at: account.report_generated,
        users: account.users.len(),
        findings: eval.decisions,
        diagnostics: eval.diagnostics,
        notes: account.notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::memory::MemorySource;
    use crate::scan::testing::*;

    fn quick() -> ReportWait {
        ReportWait {
            interval: std::time::Duration::from_millis(1),
            timeout: std::time::Duration::from_millis(100),
        }
    }

    #[test]
    fn scheduled_events_are_recognised() {
        let scheduled = serde_json::json!({
            "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2024-05-10T06:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/trailguard-scan"], "detail": {}
        });
        assert!(is_scheduled_event(&scheduled));
        let mut cloudtrail = scheduled.clone();
        cloudtrail["detail-type"] = "AWS API Call via CloudTrail".into();
        cloudtrail["source"] = "aws.iam".into();
        assert!(!is_scheduled_event(&cloudtrail));
        assert!(!is_scheduled_event(&serde_json::json!([1])));
    }

    #[tokio::test]
    async fn run_scan_reads_evaluates_and_reports_worst_first() {
        let mut inv = policies("bob", &["arn:aws:iam::aws:policy/ReadOnlyAccess"], &[]);
        inv.password_policy = Some(crate::config::PasswordBaseline::default());
        let source = MemorySource::new(
            format!(
                "{HEADER}\n{ROOT_WITH_KEY}\n{}\n",
                user_row("bob", true, false)
            ),
            inv,
        );
        let ctx = ScanContext {
            source: &source,
            wait: quick(),
        };
        let report = run_scan(&ctx, &Config::default(), now()).await.unwrap();
        let rules: Vec<_> = report.findings.iter().map(|d| d.finding.rule).collect();
        assert_eq!(
            rules,
            [
                "root-access-keys-present",
                "root-mfa-disabled",
                "root-used-recently",
                "user-console-without-mfa",
                "user-has-attached-policy",
            ]
        );
        assert_eq!(report.account_id.as_deref(), Some("111122223333"));
        let text = render_text(&report);
        assert!(
            text.starts_with(
                "scan of account 111122223333 at 2024-05-10 00:00:00 UTC: 5 findings (2 critical, 2 high, 1 medium), 1 user\n"
            ),
            "{text}"
        );
        assert!(text.contains(
            "CRITICAL root-access-keys-present       [alert] the root user has an active access key"
        ), "{text}");
        assert!(
            text.contains("\nfindings by rule:\n  root-access-keys-present       critical     1\n"),
            "{text}"
        );
    }
}
