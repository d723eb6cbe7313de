//! The Lambda handler: one EventBridge payload in, a small JSON summary out.
//!
//! What the runtime is told decides what Lambda does next:
//! - `Ok`: done. Also for input that is not one CloudTrail event: it is
//!   logged whole and answered, since a retry cannot make it readable.
//! - `Err`: Lambda retries (twice, for async invokes) and then hands the
//!   event to the on-failure destination. Returned when an effect failed in
//!   a way worth a retry (throttling, 5xx, timeouts), and when some finding
//!   could not be alerted on any channel, so the event is kept in the
//!   dead-letter queue rather than lost. Remediations are idempotent, so a retry is safe.

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
            // Judged per finding: one finding alerted does not tell anyone
            // of another whose every alert failed.
            let alert_lost = outcome
                .findings
                .iter()
                .any(|f| !f.alerts.is_empty() && f.alerts.iter().all(|a| a.status != "sent"));
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
    scan_until(ctx, source, None).await
}

/// [`scan`] bounded by the invocation's deadline (the Lambda context's):
/// a scan the deadline cuts short sends its summary marked partial and
/// fails the invocation, so Lambda's retry finishes the work.
pub async fn scan_until(
    ctx: &LiveContext,
    source: &dyn CredentialSource,
    deadline: Option<std::time::SystemTime>,
) -> Result<Value, InvocationError> {
    let deadline = deadline.map(|d| {
        let left = d
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default();
        tokio::time::Instant::now() + left
    });
    let scan_ctx = ScanContext {
        deadline,
        ..ScanContext::new(ctx, source)
    };
    match run_scan(&scan_ctx, chrono::Utc::now()).await {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;
    use serde_json::json;

    use super::*;
    use crate::alert::slack::WebhookSource;
    use crate::config::Config;
    use crate::effects::memory::{
        MemoryIam, MemorySecrets, MemoryTrail, RecordingPublisher, RecordingWebhook,
    };
    use crate::effects::{EffectError, ErrorKind, Publisher, SnsMessage};
    use crate::live::Effects;
    use crate::rules::testing::iam_call;

    /// SNS that refuses, for good (a key policy denying the topic, say), the
    /// alerts of one rule and publishes the others.
    struct RefusesRule(&'static str, RecordingPublisher);

    #[async_trait]
    impl Publisher for RefusesRule {
        async fn publish(&self, message: &SnsMessage) -> Result<String, EffectError> {
            if message.subject.contains(self.0) {
                return Err(EffectError::new(
                    "sns:Publish",
                    ErrorKind::AccessDenied,
                    "kms key denies the topic",
                ));
            }
            self.1.publish(message).await
        }
    }

    fn context(publisher: Arc<dyn Publisher>) -> LiveContext {
        let config = Config::from_toml(
            "[alerts]\nsns_topic_arn = \"arn:aws:sns:us-east-1:111122223333:trailguard-alerts\"",
            "test",
            std::iter::empty(),
        )
        .unwrap();
        let effects = Effects {
            iam: Arc::new(MemoryIam::default()),
            trail: Arc::new(MemoryTrail::default()),
            publisher,
            webhook: Arc::new(RecordingWebhook::default()),
            secrets: Arc::new(MemorySecrets::default()),
        };
        LiveContext::new(config, effects, WebhookSource::None)
    }

    /// AdministratorAccess attached to bob: two findings,
    /// user-policy-attached and admin-policy-granted.
    fn admin_attached() -> Value {
        json!({
            "version": "0",
            "id": "7f3c",
            "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.iam",
            "account": "111122223333",
            "region": "us-east-1",
            "detail": iam_call(
                "AttachUserPolicy",
                json!({"userName": "bob", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
                json!(null),
            ),
        })
    }

    /// One finding alerted, the other's only alert refused for good: that
    /// finding would be heard of by no one, so the invocation fails and the
    /// event goes to the dead-letter queue after Lambda's retries.
    #[tokio::test]
    async fn a_finding_whose_every_alert_failed_fails_the_invocation() {
        let sns = Arc::new(RefusesRule(
            "admin-policy-granted",
            RecordingPublisher::default(),
        ));
        let ctx = context(sns.clone());
        let err = handle(admin_attached(), &ctx).await.unwrap_err();
        assert!(err.0.contains("sns alert not sent"), "{err}");
        // The other finding was alerted.
        let sent = sns.1.messages();
        assert_eq!(sent.len(), 1);
        assert!(sent[0].subject.contains("user-policy-attached"));
    }

    #[tokio::test]
    async fn every_alert_refused_fails_the_invocation() {
        let sns = Arc::new(RecordingPublisher::default());
        sns.fail_with(Some(EffectError::new(
            "sns:Publish",
            ErrorKind::AccessDenied,
            "kms key denies the topic",
        )));
        let ctx = context(sns);
        assert!(handle(admin_attached(), &ctx).await.is_err());
    }

    #[tokio::test]
    async fn every_finding_alerted_is_ok() {
        let sns = Arc::new(RecordingPublisher::default());
        let ctx = context(sns.clone());
        let answer = handle(admin_attached(), &ctx).await.unwrap();
        assert_eq!(answer["status"], "ok");
        assert_eq!(answer["findings"].as_array().unwrap().len(), 2);
        assert_eq!(sns.messages().len(), 2);
    }
}
