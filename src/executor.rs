//! The executor: turns each decision of the engine into effects.
//!
//! For each decision, in order: the remediation (in remediate mode, unless
//! the target is exempt by config, or by its real ARN or exemption tag read
//! from the user), or its plan (in alert mode); then the alert, which says what was
//! done or would have been. An alert is sent even when the remediation
//! failed, so people hear of the finding; the failure is still returned, so
//! the caller retries (every remediation is idempotent, so a retry never
//! does anything twice; alerts are at least once).

mod context;

use serde::Serialize;

use crate::alert::slack::WebhookError;
use crate::alert::{self, Facts};
use crate::effects::EffectError;
use crate::engine::{Decision, Evaluation};
use crate::event::CloudTrailEvent;
use crate::remediate::{self, Action, RemediateError, Report, Seen, Status};
use crate::rules::{Mode, Severity, Target};

pub use context::{Effects, LiveContext, LiveError};

/// What failed while handling an event or running the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The input could not be read or parsed.
    Input,
    Remediation,
    ExemptionCheck,
    Alert,
    /// The invocation's deadline came before the work was done.
    Deadline,
}

impl FailureKind {
    /// The name in outputs and logs: `input`, `exemption-check`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Input => "input",
            FailureKind::Remediation => "remediation",
            FailureKind::ExemptionCheck => "exemption-check",
            FailureKind::Alert => "alert",
            FailureKind::Deadline => "deadline",
        }
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened for one decision.
#[derive(Debug, Clone, Serialize)]
pub struct FindingOutcome {
    pub rule: &'static str,
    pub severity: Severity,
    pub mode: Mode,
    pub target: Target,
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exempt: Option<String>,
    /// The remediation the rule planned, with its parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// What it did, would do, or why it did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<Report>,
    pub alerts: Vec<Delivery>,
}

/// Where an alert goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sns,
    Slack,
}

impl Channel {
    /// The name in outputs and logs: `sns`, `slack`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sns => "sns",
            Channel::Slack => "slack",
        }
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an alert went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Sent,
    Failed,
}

impl DeliveryStatus {
    /// The name in outputs and logs: `sent`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
        }
    }
}

impl std::fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One alert sent, or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub channel: Channel,
    pub status: DeliveryStatus,
    /// The SNS message id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Was an alert due and none of its channels took it? Then nobody was told,
/// and the invocation must fail so Lambda retries: the one rule for events
/// (judged per finding) and for the scan's summary.
pub fn alert_lost(deliveries: &[Delivery]) -> bool {
    !deliveries.is_empty() && deliveries.iter().all(|d| d.status != DeliveryStatus::Sent)
}

/// A failed effect of one decision.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ExecError {
    #[error("rule `{rule}`: {source}")]
    Remediation {
        rule: &'static str,
        #[source]
        source: RemediateError,
    },
    #[error("rule `{rule}`: exemption check failed: {source}")]
    ExemptionCheck {
        rule: &'static str,
        #[source]
        source: EffectError,
    },
    #[error("rule `{rule}`: {channel} alert not sent: {source}")]
    Alert {
        rule: &'static str,
        channel: Channel,
        #[source]
        source: EffectError,
    },
    #[error("rule `{rule}`: slack alert not sent: {source}")]
    Webhook {
        rule: &'static str,
        #[source]
        source: WebhookError,
    },
}

impl ExecError {
    /// Which effect failed.
    pub fn kind(&self) -> FailureKind {
        match self {
            ExecError::Remediation { .. } => FailureKind::Remediation,
            ExecError::ExemptionCheck { .. } => FailureKind::ExemptionCheck,
            ExecError::Alert { .. } | ExecError::Webhook { .. } => FailureKind::Alert,
        }
    }

    /// Worth handling the event again (throttling, 5xx, timeouts, IAM
    /// catching up); access denied and invalid requests are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            ExecError::Remediation { source, .. } => source.is_retryable(),
            ExecError::ExemptionCheck { source, .. } | ExecError::Alert { source, .. } => {
                source.is_retryable()
            }
            ExecError::Webhook { source, .. } => source.is_retryable(),
        }
    }
}

/// Everything the executor did for one event.
#[derive(Debug, Clone, Default)]
pub struct Execution {
    pub findings: Vec<FindingOutcome>,
    pub errors: Vec<ExecError>,
}

/// Runs the effects of every decision of one event.
pub async fn execute(ctx: &LiveContext, event: &CloudTrailEvent, eval: &Evaluation) -> Execution {
    let mut out = Execution::default();
    for decision in &eval.decisions {
        let outcome = execute_one(ctx, event, decision, &mut out.errors).await;
        out.findings.push(outcome);
    }
    out
}

async fn execute_one(
    ctx: &LiveContext,
    event: &CloudTrailEvent,
    decision: &Decision,
    errors: &mut Vec<ExecError>,
) -> FindingOutcome {
    let finding = &decision.finding;
    let rule = finding.rule;
    let remediation = match (&finding.remediation, decision.mode) {
        (None, _) | (Some(_), Mode::Off) => None,
        (Some(action), Mode::Alert) => Some(remediate::plan(action).note(format!(
            "alert mode: nothing was changed; set modes.{rule} = \"remediate\" to apply"
        ))),
        (Some(action), Mode::Remediate) => Some(match &decision.exempt {
            Some(why) => Report::new(action.id(), Status::Exempt).note(why.clone()),
            None => {
                remediate_unless_exempt(
                    ctx,
                    event.aws_region.as_deref(),
                    event.event_id.as_deref().unwrap_or(""),
                    rule,
                    action,
                    errors,
                )
                .await
            }
        }),
    };

    let facts = Facts::new(event, decision, remediation.as_ref());
    let mut alerts = Vec::new();
    if let Some(topic) = ctx.config.alerts.sns_topic_arn.as_deref() {
        let message = alert::sns::message(topic, &facts);
        alerts.push(match ctx.effects.publisher.publish(&message).await {
            Ok(id) => sent(Channel::Sns, Some(id)),
            Err(source) => {
                let d = failed(Channel::Sns, &source.to_string());
                errors.push(ExecError::Alert {
                    rule,
                    channel: Channel::Sns,
                    source,
                });
                d
            }
        });
    }
    match ctx.slack_url().await {
        Ok(None) => {}
        Ok(Some(url)) => {
            let body = alert::slack::message(&facts);
            alerts.push(match ctx.effects.webhook.post_json(&url, &body).await {
                Ok(()) => sent(Channel::Slack, None),
                Err(source) => {
                    let d = failed(Channel::Slack, &source.to_string());
                    errors.push(ExecError::Alert {
                        rule,
                        channel: Channel::Slack,
                        source,
                    });
                    d
                }
            });
        }
        Err(source) => {
            alerts.push(failed(Channel::Slack, &source.to_string()));
            errors.push(ExecError::Webhook { rule, source });
        }
    }

    let status = remediation.as_ref().map_or("none", |r| r.status.as_str());
    let channels: Vec<String> = alerts
        .iter()
        .map(|d| format!("{}:{}", d.channel, d.status))
        .collect();
    // What was done and how to undo it, also in the log: when the alert
    // fails, the retry finds the work done and would otherwise lose the undo
    // commands and the moved document. (No secrets in a report.)
    let (calls, undo, document) = match &remediation {
        Some(r) => (to_json(&r.calls), to_json(&r.undo), to_json(&r.document)),
        None => ("[]".to_owned(), "[]".to_owned(), "null".to_owned()),
    };
    tracing::info!(
        event_id = event.event_id.as_deref().unwrap_or(""),
        event_name = event.name(),
        rule,
        mode = decision.mode.as_str(),
        action = finding.remediation.as_ref().map_or("none", Action::id),
        outcome = status,
        alerts = channels.join(","),
        calls,
        undo,
        document,
        "decision"
    );
    FindingOutcome {
        rule,
        severity: finding.severity,
        mode: decision.mode,
        target: finding.target.clone(),
        summary: finding.summary.clone(),
        exempt: decision.exempt.clone(),
        action: finding.remediation.clone(),
        remediation,
        alerts,
    }
}

/// The user an action changes, whose exemptions must be checked first.
fn target_user(action: &Action) -> Option<&str> {
    match action {
        Action::MovePolicyToGroup { user_name, .. }
        | Action::MoveInlinePolicyToGroup { user_name, .. }
        | Action::DeactivateAccessKey { user_name, .. } => Some(user_name),
        Action::RestorePasswordPolicy { .. } | Action::StartLogging { .. } => None,
    }
}

/// Runs the remediation unless the user it changes, as IAM describes it now,
/// is exempt. The engine could only match principals against an ARN built
/// from the user name, which misses users with a path (`user/ops/name`) and
/// other partitions; GetUser answers the real ARN, and the tags, in one read.
/// `region` is the event's (a trail's home region); `origin` names what
/// asked for it in the log (an event id, or `scan`). Shared with the
/// scheduled scan.
pub(crate) async fn remediate_unless_exempt(
    ctx: &LiveContext,
    region: Option<&str>,
    origin: &str,
    rule: &'static str,
    action: &Action,
    errors: &mut Vec<ExecError>,
) -> Report {
    let id = action.id();
    let rctx = remediate::Ctx {
        iam: ctx.effects.iam.as_ref(),
        trail: ctx.effects.trail.as_ref(),
        region,
        retry: ctx.retry,
        sleep: ctx.sleep.as_ref(),
    };
    let ex = &ctx.config.exemptions;
    let check = ex.tag.is_some() || !ex.principals.is_empty();
    if let Some(user) = target_user(action).filter(|_| check) {
        // A user created seconds before the event may not be readable yet.
        let read = remediate::patiently(&rctx, || async {
            Ok(match rctx.iam.user(user).await? {
                Some(info) => Seen::Present(info),
                None => Seen::Absent(remediate::user_gone(id, user)),
            })
        });
        match read.await {
            Ok(Seen::Absent(report)) => return report,
            Ok(Seen::Present(info)) => {
                if let Some(pattern) = ex.principal(&info.arn) {
                    return Report::new(id, Status::Exempt).note(format!(
                        "user {} matches exempt principal `{pattern}`",
                        info.arn
                    ));
                }
                // IAM tag keys on a user are unique regardless of case, so
                // `Trailguard:Exempt` is the same tag as `trailguard:exempt`.
                let tagged = ex.tag.as_deref().and_then(|tag| {
                    info.tags.iter().find(|(k, v)| {
                        k.to_lowercase() == tag.to_lowercase()
                            && v.trim().eq_ignore_ascii_case("true")
                    })
                });
                if let Some((k, v)) = tagged {
                    return Report::new(id, Status::Exempt)
                        .note(format!("user {user} carries the exemption tag {k}={v}"));
                }
            }
            Err(source) => {
                let report = Report::new(id, Status::Failed).note(format!(
                    "could not read user {user} to check its exemptions, so nothing was changed: {source}"
                ));
                errors.push(ExecError::ExemptionCheck { rule, source });
                return report;
            }
        }
    }
    match remediate::run(action, &rctx).await {
        Ok(report) => report,
        Err(source) => {
            let report = (*source.report).clone();
            tracing::warn!(
                event_id = origin,
                rule,
                action = id,
                retryable = source.is_retryable(),
                error = %source,
                "remediation failed"
            );
            errors.push(ExecError::Remediation { rule, source });
            report
        }
    }
}

/// A value as one line of JSON, for a log field.
pub(crate) fn to_json(value: &impl Serialize) -> String {
    // Lists of strings and an optional string cannot fail to serialize.
    serde_json::to_string(value).unwrap_or_default()
}

pub(crate) fn sent(channel: Channel, id: Option<String>) -> Delivery {
    Delivery {
        channel,
        status: DeliveryStatus::Sent,
        id,
        error: None,
    }
}

pub(crate) fn failed(channel: Channel, error: &str) -> Delivery {
    Delivery {
        channel,
        status: DeliveryStatus::Failed,
        id: None,
        error: Some(error.to_owned()),
    }
}

#[cfg(test)]
mod tests;
