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
