//! The scan's effects: each decision's remediation through the live path's
//! remediations (or its plan), then one summary alert for the whole scan.
//!
//! The same action can come from two findings (a key both old and unused):
//! it runs once and the second finding points at the first. Remediations
//! are idempotent, so a scan run again after a failure finishes the work.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::time::Instant;

use super::alert;
use super::{ScanContext, ScanReport};
use crate::engine::Decision;
use crate::executor::{self, Channel, Delivery, ExecError};
use crate::live::{ErrorReport, FailureKind};
use crate::remediate::{self, Report, Status};
use crate::rules::{Action, Mode, within_days};

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

fn error_report(e: &ExecError) -> ErrorReport {
    ErrorReport {
        kind: e.kind(),
        message: e.to_string(),
        retryable: e.is_retryable(),
    }
}

/// Rules whose deactivation rests on the credential report's last use,
/// which can be four hours old: re-checked live before acting.
const RECHECK_LAST_USE: [&str; 2] = ["access-key-unused", "access-key-not-rotated"];

/// Why a key must not be deactivated after all: IAM says, now, that it was
/// used within the unused age. `Err` when IAM could not tell (nothing is
/// done then either).
async fn used_recently(
    ctx: &ScanContext<'_>,
    action: &Action,
    now: DateTime<Utc>,
) -> Result<Option<String>, ErrorReport> {
    let Action::DeactivateAccessKey {
        user_name,
        access_key_id,
    } = action
    else {
        return Ok(None);
    };
    let days = ctx.live.config.scan.unused_days;
    match ctx
        .source
        .access_key_last_used(user_name, access_key_id)
        .await
    {
        Ok(Some(t)) if within_days(t, now, days) => Ok(Some(format!(
            "not deactivated: GetAccessKeyLastUsed says it was used at {}, within the unused age ({days} days); the credential report was older",
            t.format("%Y-%m-%d %H:%M UTC")
        ))),
        Ok(_) => Ok(None),
        Err(e) => Err(ErrorReport {
            kind: FailureKind::Remediation,
            message: format!("cannot re-check the last use of access key {access_key_id}: {e}"),
            retryable: e.is_retryable() || e.is_not_found(),
        }),
    }
}

/// Runs (or plans) the remediation of every decision, in order (worst
/// first). From `stop_at` on, no remediation starts: those left are
/// reported as not run, and the flag returned says the scan was partial.
pub(crate) async fn remediate_all(
    ctx: &ScanContext<'_>,
    decisions: Vec<Decision>,
    now: DateTime<Utc>,
    stop_at: Option<Instant>,
    errors: &mut Vec<ErrorReport>,
) -> (Vec<ScanFinding>, bool) {
    let mut ran: Vec<(Action, &'static str, Report)> = Vec::new();
    let mut out = Vec::with_capacity(decisions.len());
    let mut deferred = 0usize;
    for decision in decisions {
        let rule = decision.finding.rule;
        let result = match (&decision.finding.remediation, decision.mode) {
            (None, _) | (Some(_), Mode::Off) => None,
            (Some(action), Mode::Alert) => Some(remediate::plan(action).note(format!(
                "alert mode: nothing was changed; set modes.{rule} = \"remediate\" to apply"
            ))),
            (Some(action), Mode::Remediate) if ctx.dry_run => {
                Some(remediate::plan(action).note("dry run: nothing was changed".to_owned()))
            }
            (Some(action), Mode::Remediate) => Some(match &decision.exempt {
                Some(why) => Report::new(action.id(), Status::Exempt).note(why.clone()),
                None => match ran.iter().find(|(a, _, _)| a == action) {
                    Some((_, first_rule, report)) => {
                        let mut again = Report::new(report.id, report.status);
                        again.notes.push(format!(
                            "the same action as for {first_rule}, run once: {}",
                            report.status.as_str()
                        ));
                        again
                    }
                    None if stop_at.is_some_and(|stop| Instant::now() >= stop) => {
                        deferred += 1;
                        let report = Report::new(action.id(), Status::Failed).note(
                            "not run: the invocation's deadline was near; the scan is retried",
                        );
                        ran.push((action.clone(), rule, report.clone()));
                        report
                    }
                    None => {
                        let recheck = if RECHECK_LAST_USE.contains(&rule) {
                            used_recently(ctx, action, now).await
                        } else {
                            Ok(None)
                        };
                        let report = match recheck {
                            Ok(Some(why)) => Report::new(action.id(), Status::Blocked).note(why),
                            Err(e) => {
                                let report = Report::new(action.id(), Status::Failed)
                                    .note(e.message.clone());
                                errors.push(e);
                                report
                            }
                            Ok(None) => {
                                let mut exec_errors = Vec::new();
                                let report = executor::remediate_unless_exempt(
                                    ctx.live,
                                    None,
                                    "scan",
                                    rule,
                                    action,
                                    &mut exec_errors,
                                )
                                .await;
                                errors.extend(exec_errors.iter().map(error_report));
                                report
                            }
                        };
                        ran.push((action.clone(), rule, report.clone()));
                        report
                    }
                },
            }),
        };
        let f = &decision.finding;
        // As for events: what was done and how to undo it also goes to the
        // log, so a failed summary alert never loses it.
        let (calls, undo, document) = match &result {
            Some(r) => (
                executor::to_json(&r.calls),
                executor::to_json(&r.undo),
                executor::to_json(&r.document),
            ),
            None => ("[]".to_owned(), "[]".to_owned(), "null".to_owned()),
        };
        tracing::info!(
            origin = "scan",
            rule,
            severity = f.severity.as_str(),
            mode = decision.mode.as_str(),
            target = f.target.label(),
            action = f.remediation.as_ref().map_or("none", Action::id),
            outcome = result.as_ref().map_or("none", |r| r.status.as_str()),
            exempt = decision.exempt.as_deref().unwrap_or(""),
            summary = f.summary.as_str(),
            calls,
            undo,
            document,
            "scan finding"
        );
        out.push(ScanFinding { decision, result });
    }
    if deferred > 0 {
        tracing::warn!(
            origin = "scan",
            deferred,
            "deadline near: remediations left for the retry"
        );
        errors.push(ErrorReport {
            kind: FailureKind::Deadline,
            message: format!(
                "the invocation's deadline came before {deferred} remediation{} ran",
                if deferred == 1 { "" } else { "s" }
            ),
            retryable: true,
        });
    }
    (out, deferred > 0)
}

/// Sends the one summary alert of the scan to every configured channel.
/// Nothing is sent for a scan without findings, or in a dry run.
pub(crate) async fn send_summary(
    ctx: &ScanContext<'_>,
    report: &ScanReport,
    errors: &mut Vec<ErrorReport>,
) -> Vec<Delivery> {
    let mut out = Vec::new();
    if report.findings.is_empty() || ctx.dry_run {
        return out;
    }
    let live = ctx.live;
    if let Some(topic) = live.config.alerts.sns_topic_arn.as_deref() {
        let message = alert::sns_message(topic, report);
        out.push(match live.effects.publisher.publish(&message).await {
            Ok(id) => executor::sent(Channel::Sns, Some(id)),
            Err(source) => {
                let d = executor::failed(Channel::Sns, &source.to_string());
                errors.push(error_report(&ExecError::Alert {
                    rule: "scan",
                    channel: Channel::Sns,
                    source,
                }));
                d
            }
        });
    }
    match live.slack_url().await {
        Ok(None) => {}
        Ok(Some(url)) => {
            let body = alert::slack_message(report);
            out.push(match live.effects.webhook.post_json(&url, &body).await {
                Ok(()) => executor::sent(Channel::Slack, None),
                Err(source) => {
                    let d = executor::failed(Channel::Slack, &source.to_string());
                    errors.push(error_report(&ExecError::Alert {
                        rule: "scan",
                        channel: Channel::Slack,
                        source,
                    }));
                    d
                }
            });
        }
        Err(source) => {
            out.push(executor::failed(Channel::Slack, &source.to_string()));
            errors.push(error_report(&ExecError::Webhook {
                rule: "scan",
                source,
            }));
        }
    }
    let channels: Vec<String> = out
        .iter()
        .map(|d| format!("{}:{}", d.channel, d.status))
        .collect();
    tracing::info!(
        origin = "scan",
        findings = report.findings.len(),
        alerts = channels.join(","),
        "scan summary alert"
    );
    out
}
