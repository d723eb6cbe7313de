//! The Lambda handler: one EventBridge payload in, a small JSON summary out.
//!
//! What the runtime is told decides what Lambda does next:
//! - `Ok`: done. Also for input that is not one CloudTrail event: it is
//!   logged whole and answered, since a retry cannot make it readable.
//! - `Err`: Lambda retries (twice, for async invokes) and then hands the
//!   event to the on-failure destination. Returned when an effect failed in
//!   a way worth a retry (throttling, 5xx, timeouts), and when an alert could
//!   not be delivered at all, so the event is kept in the dead-letter queue
//!   rather than lost. Remediations are idempotent, so a retry is safe.

use serde_json::{Value, json};

use crate::live::{HandleError, LiveContext, Outcome, handle_event};
use crate::scan::{CredentialSource, ScanContext, run_scan};

/// Why an invocation failed (the runtime reports the message).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvocationError(String);

impl From<InvocationError> for lambda_runtime::Diagnostic {
    fn from(e: InvocationError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: "trailguard.EffectFailed".into(),
            error_message: e.0,
        }
    }
}

/// Handles one invocation payload.
pub async fn handle(payload: Value, ctx: &LiveContext) -> Result<Value, InvocationError> {
    // Kept to log the input whole if it cannot be handled.
    let original = payload.clone();
    match handle_event(payload, ctx).await {
        Ok(outcome) => {
            if outcome.event_name.is_none() {
                tracing::warn!(
                    payload = %original,
                    reason = outcome.ignored.as_deref().unwrap_or("no CloudTrail event"),
                    "input ignored"
                );
            }
            Ok(summary(&outcome))
        }
        Err(HandleError::Effects { outcome }) => {
            let alert_lost = outcome.errors.iter().any(|e| e.kind == "alert")
                && !outcome
                    .findings
                    .iter()
                    .any(|f| f.alerts.iter().any(|a| a.status == "sent"));
            let retry = outcome.retryable() || alert_lost;
            for e in &outcome.errors {
                tracing::error!(
                    event_id = outcome.event_id.as_deref().unwrap_or(""),
                    kind = e.kind,
                    retryable = e.retryable,
                    error = %e.message,
                    "effect failed"
                );
            }
            if retry {
                tracing::error!(payload = %original, "failing the invocation so Lambda retries it");
                Err(InvocationError(
                    HandleError::Effects { outcome }.to_string(),
                ))
            } else {
                Ok(summary(&outcome))
            }
        }
        Err(e) => {
            tracing::error!(payload = %original, error = %e, "input is not one CloudTrail event; logged whole, not retried");
            Ok(json!({ "status": "rejected", "error": e.to_string() }))
        }
    }
}

/// Runs the credential scan (a scheduled event). `Err`, so Lambda retries
/// and then keeps the event, when the account could not be read or a
/// remediation or the summary alert failed in a way worth a retry (the
/// remediations are idempotent, so a second scan finishes the work).
pub async fn scan(
    ctx: &LiveContext,
    source: &dyn CredentialSource,
) -> Result<Value, InvocationError> {
    match run_scan(&ScanContext::new(ctx, source), chrono::Utc::now()).await {
        Ok(report) => {
            for e in &report.errors {
                tracing::error!(kind = e.kind, retryable = e.retryable, error = %e.message, "scan effect failed");
            }
            if report.retryable() {
                let first = report
                    .errors
                    .first()
                    .map_or("no alert delivered", |e| e.message.as_str());
                Err(InvocationError(format!("scan: {first}")))
            } else {
                Ok(report.summary_json())
            }
        }
        Err(e) => {
            tracing::error!(error = %e, retryable = e.is_retryable(), "scan failed");
            Err(InvocationError(format!("scan failed: {e}")))
        }
    }
}

/// The invocation's answer: what was found and done, without event details.
pub fn summary(outcome: &Outcome) -> Value {
    let findings: Vec<Value> = outcome
        .findings
        .iter()
        .map(|f| {
            json!({
                "rule": f.rule,
                "severity": f.severity,
                "mode": f.mode,
                "remediation": f.remediation.as_ref().map(|r| r.status),
                "alerts": f.alerts.iter().filter(|a| a.status == "sent").count(),
            })
        })
        .collect();
    json!({
        "status": if outcome.failed() { "partial" } else { "ok" },
        "event_id": outcome.event_id,
        "event_name": outcome.event_name,
        "ignored": outcome.ignored,
        "findings": findings,
        "errors": outcome.errors.len(),
    })
}
