//! The scan's effects: each decision's remediation through the live path's
//! remediations (or its plan), then one summary alert for the whole scan.
//!
//! The same action can come from two findings (a key both old and unused):
//! it runs once and the second finding points at the first. Remediations
//! are idempotent, so a scan run again after a failure finishes the work.

use serde::Serialize;

use super::alert;
use super::{ScanContext, ScanReport};
use crate::engine::Decision;
use crate::executor::{self, Delivery, ExecError};
use crate::live::ErrorReport;
use crate::remediate::{self, Report, Status};
use crate::rules::{Action, Mode};

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

/// Runs (or plans) the remediation of every decision, in order (worst first).
pub(crate) async fn remediate_all(
    ctx: &ScanContext<'_>,
    decisions: Vec<Decision>,
    errors: &mut Vec<ErrorReport>,
) -> Vec<ScanFinding> {
    let mut ran: Vec<(Action, &'static str, Report)> = Vec::new();
    let mut out = Vec::with_capacity(decisions.len());
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
                    None => {
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
    out
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
            Ok(id) => executor::sent("sns", Some(id)),
            Err(source) => {
                let d = executor::failed("sns", &source.to_string());
                errors.push(error_report(&ExecError::Alert {
                    rule: "scan",
                    channel: "sns",
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
                Ok(()) => executor::sent("slack", None),
                Err(source) => {
                    let d = executor::failed("slack", &source.to_string());
                    errors.push(error_report(&ExecError::Alert {
                        rule: "scan",
                        channel: "slack",
                        source,
                    }));
                    d
                }
            });
        }
        Err(source) => {
            out.push(executor::failed("slack", &source.to_string()));
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
