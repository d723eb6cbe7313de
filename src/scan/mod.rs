//! The scheduled credential scan: the backstop for what the event path
//! missed or never sees (credentials growing old, grants made before
//! trailguard was deployed, events EventBridge dropped).
//!
//! - [`read`] reads the account through the effects' read-only
//!   [`CredentialSource`] (the SDK's IAM adapter, or its in-memory fake in
//!   tests), with the bounded wait for the report. What is read becomes
//!   the inventory model (`crate::inventory`).
//! - [`run_scan`] is the whole scan, as the Lambda's scheduled event and
//!   `trailguard scan` run it: read, then the same pipeline as an event:
//!   the engine (`engine::evaluate_account`), the executor, and one summary
//!   alert (`alert::summary`) through the executor's delivery.

pub mod fanout;
pub mod read;
mod render;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use read::ReportWait;
pub use render::render_text;

use crate::alert::summary::{self, Summary};
use crate::effects::{CredentialSource, EffectError};
use crate::engine::{self, Decision, Diagnostic};
use crate::executor::{self, Delivery, DeliveryStatus, ErrorReport, ExecError, Executor, Origin};
use crate::inventory::ReportError;
use crate::live::LiveContext;
use crate::remediate::{Action, Report, Status};

/// Why a scan could not run.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot read the account: {0}")]
    Source(#[from] EffectError),
    #[error("{0}")]
    Report(#[from] ReportError),
    #[error("credential report not ready after {seconds} s")]
    ReportTimeout { seconds: u64 },
    #[error("the invocation's deadline came before the account was read")]
    Deadline,
    /// The member role of the account to scan could not be assumed.
    #[error("cannot assume the member role of account `{account}`: {source}")]
    Member {
        account: String,
        #[source]
        source: EffectError,
    },
    /// A scan of another account asked of a function not in organisation mode.
    #[error(
        "account `{0}` is not this function's own and organisation mode is off (organization.member_role_name unset)"
    )]
    NotOrganization(String),
    /// A scan of an account the configuration keeps out (excluded, or not
    /// in a non-empty allow-list): nothing is read or changed there.
    #[error("not scanned: {0}")]
    Refused(String),
}

impl ScanError {
    /// Worth running the scan again soon (throttling, 5xx, a slow report).
    pub fn is_retryable(&self) -> bool {
        match self {
            ScanError::Source(e) => e.is_retryable(),
            ScanError::ReportTimeout { .. } | ScanError::Deadline => true,
            ScanError::Member { source, .. } => source.is_retryable(),
            ScanError::Report(_) | ScanError::NotOrganization(_) | ScanError::Refused(_) => false,
        }
    }
}

/// Is this Lambda payload an EventBridge scheduled event (the scan's
/// trigger) rather than a CloudTrail event?
pub fn is_scheduled_event(payload: &serde_json::Value) -> bool {
    use aws_lambda_events::event::eventbridge::EventBridgeEvent;
    use serde::Deserialize;
    EventBridgeEvent::<AnyDetail>::deserialize(payload)
        .is_ok_and(|e| e.source == "aws.events" && e.detail_type == "Scheduled Event")
}

/// An envelope's `detail`, skipped unread: a scheduled event's is `{}`, and
/// a CloudTrail event's need not be copied to be told apart from it.
#[derive(Serialize, serde::Deserialize)]
struct AnyDetail {}

/// What the scan reads the account with, and acts and alerts through.
#[derive(Clone, Copy)]
pub struct ScanContext<'a> {
    /// The config, the remediations' IAM, the alert channels.
    pub live: &'a LiveContext,
    /// Where the account is read from.
    pub source: &'a dyn CredentialSource,
    pub wait: ReportWait,
    /// Plan the remediations, send no alert, change nothing.
    pub dry_run: bool,
    /// When the invocation ends (the Lambda context's deadline): the scan
    /// starts nothing new after [`DEADLINE_MARGIN`] before it, sends its
    /// summary marked partial and fails, so the rest is retried.
    pub deadline: Option<tokio::time::Instant>,
    /// A member account scanned through the member role: its id and
    /// partition. `None`: the function's own account.
    pub member: Option<(&'a str, &'a str)>,
}

/// Time kept before the deadline for the summary alert (SNS, the Slack
/// secret and webhook) and a remediation already under way.
pub const DEADLINE_MARGIN: std::time::Duration = std::time::Duration::from_secs(20);

impl<'a> ScanContext<'a> {
    /// With the default report wait, for real.
    pub fn new(live: &'a LiveContext, source: &'a dyn CredentialSource) -> Self {
        ScanContext {
            live,
            source,
            wait: ReportWait::default(),
            dry_run: false,
            deadline: None,
            member: None,
        }
    }
}

/// One decision of the scan and what became of its remediation.
#[derive(Debug, Clone, Serialize)]
pub struct ScanFinding {
    #[serde(flatten)]
    pub decision: Decision,
    /// What the remediation did, would do, or why it did not run; null for
    /// rules without a remediation.
    pub result: Option<Report>,
}

impl ScanFinding {
    /// The remediation ran and changed something.
    pub fn remediated(&self) -> bool {
        self.result
            .as_ref()
            .is_some_and(|r| r.status == Status::Done)
    }
}

/// What a scan found and did (one JSON object for `trailguard scan --format json`).
#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    pub account_id: Option<String>,
    /// The time ages were measured at.
    pub scanned_at: DateTime<Utc>,
    /// When IAM generated the credential report read.
    pub report_generated_at: Option<DateTime<Utc>>,
    /// IAM users scanned.
    pub users: usize,
    pub dry_run: bool,
    /// The deadline stopped the scan before every remediation ran: the
    /// ones left say so, and the scan is retried.
    pub partial: bool,
    /// Worst first, each with what its remediation did.
    pub findings: Vec<ScanFinding>,
    /// Rules that found something but are off; exempt targets.
    pub diagnostics: Vec<Diagnostic>,
    /// Where the report and the live state disagreed; rows skipped.
    pub notes: Vec<String>,
    /// The summary alert, per channel.
    pub alerts: Vec<Delivery>,
    /// Remediations and alerts that failed.
    pub errors: Vec<ErrorReport>,
}

impl ScanReport {
    /// Did a remediation or an alert fail?
    pub fn failed(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Is running the scan again worth it (and safe: remediations are
    /// idempotent)? Also when no alert could be delivered at all.
    pub fn retryable(&self) -> bool {
        self.errors.iter().any(|e| e.retryable) || crate::executor::alert_lost(&self.alerts)
    }

    /// The distinct actions that ran and changed something (one action can
    /// serve two findings).
    pub fn remediated(&self) -> Vec<&Action> {
        let mut out: Vec<&Action> = Vec::new();
        for f in self.findings.iter().filter(|f| f.remediated()) {
            if let Some(a) = &f.decision.finding.remediation
                && !out.contains(&a)
            {
                out.push(a);
            }
        }
        out
    }

    /// The report as its summary alert reads it.
    pub fn summary(&self) -> Summary<'_> {
        Summary {
            account_id: self.account_id.as_deref(),
            scanned_at: self.scanned_at,
            users: self.users,
            dry_run: self.dry_run,
            partial: self.partial,
            findings: self
                .findings
                .iter()
                .map(|f| summary::Item {
                    decision: &f.decision,
                    result: f.result.as_ref(),
                })
                .collect(),
            notes: &self.notes,
        }
    }

    /// The Lambda's answer: counts, no details.
    pub fn summary_json(&self) -> serde_json::Value {
        let by_rule: serde_json::Map<String, serde_json::Value> = summary::counts(&self.summary())
            .into_iter()
            .map(|(rule, _, n)| (rule.to_owned(), n.into()))
            .collect();
        serde_json::json!({
            "status": if self.failed() || self.partial { "partial" } else { "ok" },
            "kind": "scan",
            "account": self.account_id,
            "findings": self.findings.len(),
            "by_rule": by_rule,
            "remediated": self.remediated().len(),
            "alerts": self.alerts.iter().filter(|a| a.status == DeliveryStatus::Sent).count(),
            "errors": self.errors.len(),
        })
    }
}

/// The whole scan: reads the account, evaluates it at `now` with the
/// config of `ctx.live`, runs the remediations switched on, and sends one
/// summary alert. `Err` when the account could not be read; failed
/// remediations and alerts are in [`ScanReport::errors`].
pub async fn run_scan(ctx: &ScanContext<'_>, now: DateTime<Utc>) -> Result<ScanReport, ScanError> {
    let config = &ctx.live.config;
    let stop_at = ctx
        .deadline
        .map(|d| d.checked_sub(DEADLINE_MARGIN).unwrap_or(d));
    let mut wait = ctx.wait;
    if let Some(stop) = stop_at {
        let left = stop.saturating_duration_since(tokio::time::Instant::now());
        wait.timeout = wait.timeout.min(left);
    }
    let read = read::read_account(ctx.source, wait);
    let mut account = match stop_at {
        Some(stop) => match tokio::time::timeout_at(stop, read).await {
            Ok(Ok(account)) => account,
            // The report wait was cut to the deadline: say so.
            Ok(Err(ScanError::ReportTimeout { .. })) if wait.timeout < ctx.wait.timeout => {
                return Err(ScanError::Deadline);
            }
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(ScanError::Deadline),
        },
        None => read.await?,
    };
    for note in &account.notes {
        tracing::info!(origin = "scan", note = note.as_str(), "scan note");
    }
    // In organisation mode an account is known by the session that reads
    // it (a member's checked by GetCallerIdentity) even when its report and
    // users name none: each account's summary must say whose it is.
    let known = ctx.member.map(|(member, _)| member).or(ctx
        .live
        .own_account
        .as_deref()
        .filter(|_| config.organization.enabled()));
    if let (None, Some(known)) = (&account.account_id, known) {
        account.account_id = Some(known.to_owned());
    }
    let eval = engine::evaluate_account(&account, config, now);
    let origin = Origin::Scan {
        now,
        source: ctx.source,
    };
    let mut exec = Executor::new(ctx.live, origin)
        .dry_run(ctx.dry_run)
        .stop_at(stop_at);
    if let Some((account, partition)) = ctx.member {
        exec = exec.in_member(account, partition);
    }
    let mut findings = Vec::with_capacity(eval.decisions.len());
    for decision in eval.decisions {
        let result = exec.remediation(&decision).await;
        exec.log(&decision, result.as_ref(), &[]);
        let scanned = account.account_id.as_deref().unwrap_or("");
        exec.record_for_hub(&decision, result.as_ref(), scanned);
        findings.push(ScanFinding { decision, result });
    }
    // Without the account id, resolved findings cannot be told apart.
    // Boxed: the SDK's futures would make the scan's own too large for a
    // thread's stack in debug builds.
    Box::pin(exec.import_to_hub(account.account_id.as_deref())).await;
    let (errors, partial) = exec.finish();
    let mut report = ScanReport {
        account_id: account.account_id.clone(),
        scanned_at: now,
        report_generated_at: account.report_generated,
        users: account.users.len(),
        dry_run: ctx.dry_run,
        partial,
        findings,
        diagnostics: eval.diagnostics,
        notes: account.notes,
        alerts: Vec::new(),
        errors: errors.iter().map(ErrorReport::from).collect(),
    };
    let mut errors = Vec::new();
    report.alerts = send_summary(ctx, &report, &mut errors).await;
    report.errors.extend(errors.iter().map(ErrorReport::from));
    let remediated = report.remediated().len();
    tracing::info!(
        origin = "scan",
        account = report.account_id.as_deref().unwrap_or(""),
        findings = report.findings.len(),
        remediated,
        errors = report.errors.len(),
        partial = report.partial,
        "scan done"
    );
    Ok(report)
}

/// Sends the one summary alert of the scan to every configured channel.
/// Nothing is sent for a scan without findings, or in a dry run.
async fn send_summary(
    ctx: &ScanContext<'_>,
    report: &ScanReport,
    errors: &mut Vec<ExecError>,
) -> Vec<Delivery> {
    if report.findings.is_empty() || ctx.dry_run {
        return Vec::new();
    }
    let view = report.summary();
    let out = executor::deliver(
        ctx.live,
        "scan",
        // A scan's summary has no identity to deduplicate on: each scan
        // reports the account as it is then.
        None,
        |topic| summary::sns_message(topic, &view),
        || summary::slack_message(&view),
        errors,
    )
    .await;
    tracing::info!(
        origin = "scan",
        findings = report.findings.len(),
        alerts = executor::channels(&out),
        "scan summary alert"
    );
    out
}

#[cfg(test)]
mod tests;
