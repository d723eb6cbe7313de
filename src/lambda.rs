//! The Lambda handler: one EventBridge payload in, a small JSON summary out.
//!
//! What the runtime is told decides what Lambda does next:
//! - `Ok`: done. Also for input that is not one CloudTrail event, that is
//!   not JSON at all, or that is forged: it is logged whole (up to
//!   [`LOG_PAYLOAD_MAX`] bytes, the cut said) and answered `rejected` or
//!   `ok` with the reason, since a retry cannot make it readable or true.
//! - `Err`: Lambda retries (twice, for async invokes) and then hands the
//!   event to the on-failure destination. Returned when an effect failed in
//!   a way worth a retry (throttling, 5xx, timeouts), and when some finding
//!   could not be alerted on any channel, so the event is kept in the
//!   dead-letter queue rather than lost. Remediations are idempotent, so a retry is safe.
//!
//! The runtime deserializes the payload into the handler's type before the
//! handler runs, and fails the invocation (without the payload) when it
//! cannot. [`RawPayloadLayer`] hands the handler the payload's text instead,
//! so every payload reaches [`invoke`], parseable or not.

pub mod log;

use std::task;

use lambda_runtime::LambdaInvocation;
use lambda_runtime::tower::{Layer, Service};
use serde_json::{Value, json};

use crate::effects::CredentialSource;
use crate::event::input;
use crate::executor::DeliveryStatus;
use crate::live::{HandleError, LiveContext, Outcome, handle_event};
use crate::scan::{self, ScanContext, run_scan};

/// The most bytes of a payload one log line carries.
pub const LOG_PAYLOAD_MAX: usize = 64 * 1024;

/// A payload as logged: whole up to [`LOG_PAYLOAD_MAX`] bytes, else cut at
/// a character boundary, and whether it was cut.
pub fn loggable(text: &str) -> (&str, bool) {
    if text.len() <= LOG_PAYLOAD_MAX {
        return (text, false);
    }
    let mut end = LOG_PAYLOAD_MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

/// Turns each invocation's body into a JSON string holding the body's text
/// (invalid UTF-8 replaced by U+FFFD), which the runtime always
/// deserializes, so a handler over `LambdaEvent<String>` sees every
/// payload as it came: garbage, empty, too deep, or fine.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawPayloadLayer;

impl<S> Layer<S> for RawPayloadLayer {
    type Service = RawPayload<S>;
    fn layer(&self, inner: S) -> RawPayload<S> {
        RawPayload(inner)
    }
}

/// The service of [`RawPayloadLayer`].
#[derive(Debug, Clone)]
pub struct RawPayload<S>(S);

impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for RawPayload<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut task::Context<'_>) -> task::Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut req: LambdaInvocation) -> S::Future {
        req.body = raw_body_as_json_string(&req.body).into();
        self.0.call(req)
    }
}

/// The body's text as a JSON string (what [`RawPayloadLayer`] hands on).
pub fn raw_body_as_json_string(body: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(body);
    serde_json::to_vec(&*text).expect("a string always serializes")
}

/// Handles one invocation from its payload's text: the scheduled scan, or
/// one event. A payload that is not JSON is logged (bounded) and answered
/// `rejected`, never failed: it would not parse on a retry either, and
/// retries would only delay the events behind it. `deadline` (the
/// invocation's, in Lambda) bounds the scan.
pub async fn invoke(
    raw: &str,
    deadline: Option<std::time::SystemTime>,
    ctx: &LiveContext,
    source: &dyn CredentialSource,
) -> Result<Value, InvocationError> {
    let payload = match input::value_from_str(raw, "payload") {
        Ok(v) => v,
        Err(e) => {
            let (payload, payload_truncated) = loggable(raw);
            tracing::error!(
                payload,
                payload_bytes = raw.len(),
                payload_truncated,
                error = %e,
                "payload is not JSON; logged whole, answered, not retried"
            );
            return Ok(json!({ "status": "rejected", "error": e.to_string() }));
        }
    };
    if crate::live::is_close_windows(&payload) {
        return close_windows(ctx).await;
    }
    if scan::is_scheduled_event(&payload) {
        if let (Some(lister), Some(queue)) = (&ctx.lister, &ctx.scan_queue) {
            return dispatch_scans(ctx, lister.as_ref(), queue.as_ref()).await;
        }
        return scan_until(ctx, source, deadline).await;
    }
    if crate::replay::batch::is_batch(&payload) {
        // Only the backtest function reads archives (its role may, this
        // one's may not): a batch here is misrouted, or someone probing.
        let (payload, payload_truncated) = loggable(raw);
        tracing::error!(
            payload,
            payload_truncated,
            "a backtest batch reached the live function; logged, answered, not run"
        );
        return Ok(json!({ "status": "rejected", "error": BATCH_REFUSED }));
    }
    // The scan queue's batches reach the function only in organisation mode.
    if ctx.config.organization.enabled()
        && let Some(records) = sqs_records(&payload)
    {
        return Ok(scan_batch(&records, deadline, ctx, source).await);
    }
    handle_logged(payload, Some(raw), ctx).await
}

/// The scheduled scan in organisation mode: one message per account to
/// the scan queue. `Err` (retried) when a scan could not be queued.
async fn dispatch_scans(
    ctx: &LiveContext,
    lister: &dyn crate::effects::AccountLister,
    queue: &dyn crate::effects::ScanQueue,
) -> Result<Value, InvocationError> {
    match scan::fanout::dispatch(ctx, lister, queue).await {
        Ok(d) if d.failed.is_empty() => Ok(json!({ "status": "ok", "dispatched": d })),
        Ok(d) => Err(InvocationError::effect(format!(
            "scan queue refused the scans of {} account{}: {}",
            d.failed.len(),
            if d.failed.len() == 1 { "" } else { "s" },
            d.failed.join(", ")
        ))),
        Err(e) => {
            tracing::error!(error = %e, "scan not dispatched");
            Err(InvocationError::effect(e.to_string()))
        }
    }
}

/// One record of an SQS batch: its message id and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsRecord {
    pub message_id: String,
    pub body: String,
}

/// The records of an SQS event (every record from `aws:sqs`, with a
/// message id and a body), or `None` for any other payload.
pub fn sqs_records(payload: &Value) -> Option<Vec<SqsRecord>> {
    let records = payload.get("Records")?.as_array()?;
    if records.is_empty() {
        return None;
    }
    records
        .iter()
        .map(|r| {
            (r.get("eventSource")?.as_str()? == "aws:sqs").then_some(())?;
            Some(SqsRecord {
                message_id: r.get("messageId")?.as_str()?.to_owned(),
                body: r.get("body")?.as_str()?.to_owned(),
            })
        })
        .collect()
}

/// Scans the account of each record (the scan queue's batch), each with
/// its own summary alert, and answers the failed ones as
/// `batchItemFailures`: the queue retries them, then keeps them in its
/// dead-letter queue. A body that is not a per-account scan fails too, so
/// it ends in the dead-letter queue rather than being lost.
pub async fn scan_batch(
    records: &[SqsRecord],
    deadline: Option<std::time::SystemTime>,
    ctx: &LiveContext,
    source: &dyn CredentialSource,
) -> Value {
    let deadline = deadline.map(|d| {
        let left = d
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default();
        tokio::time::Instant::now() + left
    });
    let mut failures = Vec::new();
    for record in records {
        let Some(message) = scan::fanout::ScanAccount::parse(&record.body) else {
            let (body, body_truncated) = loggable(&record.body);
            tracing::error!(
                message_id = record.message_id.as_str(),
                body,
                body_truncated,
                "queue message is not a per-account scan; left for the dead-letter queue"
            );
            failures.push(json!({ "itemIdentifier": record.message_id }));
            continue;
        };
        let scan_ctx = ScanContext {
            deadline,
            ..ScanContext::new(ctx, source)
        };
        let result = Box::pin(scan::fanout::scan_account(
            ctx,
            source,
            &message.account,
            scan_ctx,
            chrono::Utc::now(),
        ))
        .await;
        let failed = match &result {
            Ok(report) => {
                for e in &report.errors {
                    tracing::error!(
                        account = message.account.as_str(),
                        kind = e.kind.as_str(),
                        retryable = e.retryable,
                        error = %e.message,
                        "scan effect failed"
                    );
                }
                report.retryable()
            }
            Err(e) => {
                tracing::error!(account = message.account.as_str(), error = %e, "account scan failed");
                true
            }
        };
        if failed {
            failures.push(json!({ "itemIdentifier": record.message_id }));
        }
    }
    json!({ "batchItemFailures": failures })
}

/// Closes the grouping windows whose time is up (the sweep's schedule).
/// `Err`, so the invocation is retried, when the windows cannot be read or
/// a follow-up was not sent; the next sweep would send it anyway.
async fn close_windows(ctx: &LiveContext) -> Result<Value, InvocationError> {
    match crate::live::close_windows_now(ctx).await {
        Ok(windows) => {
            let failed = windows.iter().filter(|w| !w.closed).count();
            if failed > 0 {
                return Err(InvocationError::effect(format!(
                    "{failed} alert window{} not closed: follow-up not sent",
                    if failed == 1 { "" } else { "s" }
                )));
            }
            Ok(json!({ "status": "ok", "windows": windows }))
        }
        Err(e) => {
            tracing::error!(error = %e, "alert windows not read");
            Err(InvocationError::effect(format!("alert windows: {e}")))
        }
    }
}

/// The environment variable that makes the function the backtest's
/// (`templates/backtest.yaml` sets it to `true`): it then runs backtest
/// batches and nothing else ([`invoke_backtest`]), and without it never
/// runs one ([`invoke`]).
pub const BACKTEST_ENV: &str = "TRAILGUARD_BACKTEST";

/// What the live function answers a backtest batch.
pub const BATCH_REFUSED: &str = "a backtest batch runs only in the backtest function (TRAILGUARD_BACKTEST=true, templates/backtest.yaml)";

/// Is this process the backtest function ([`BACKTEST_ENV`] is `true`)?
/// Any other value than `true` or `false` is an error that names it.
pub fn is_backtest_function(value: Option<&str>) -> Result<bool, String> {
    match value {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(format!(
            "{BACKTEST_ENV} is `{other}`; it takes `true` or `false`"
        )),
    }
}

/// The backtest function's handler: a backtest batch is run, anything
/// else fails as bad input (never retried) after being logged, for
/// nothing but the backtest's state machine should invoke it.
pub async fn invoke_backtest(raw: &str) -> Result<Value, InvocationError> {
    let payload = input::value_from_str(raw, "payload").ok();
    match payload {
        Some(payload) if crate::replay::batch::is_batch(&payload) => replay_batch(payload).await,
        _ => {
            let (payload, payload_truncated) = loggable(raw);
            tracing::error!(
                payload,
                payload_truncated,
                "not a backtest batch; the backtest function runs nothing else"
            );
            Err(InvocationError {
                message: "not a backtest batch: the backtest function runs nothing else".into(),
                error_type: crate::replay::batch::BAD_INPUT,
            })
        }
    }
}

/// Runs a backtest batch (docs/backtest.md) with replay's semantics: S3
/// reads and writes only. `Err` when the input is invalid or the results
/// could not be stored, so the map's child fails rather than leaving a
/// batch missing from the merge; its `errorType` (the batch error's) says
/// whether the state machine retries it.
async fn replay_batch(payload: Value) -> Result<Value, InvocationError> {
    use crate::replay::batch;
    // The S3 adapter blocks on a runtime of its own.
    let run = tokio::task::spawn_blocking(move || batch::run_payload(&payload));
    match run.await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => {
            tracing::error!(error = %e, error_type = e.error_type(), "backtest batch failed");
            Err(InvocationError {
                message: e.to_string(),
                error_type: e.error_type(),
            })
        }
        // A panic: the same batch would panic again.
        Err(e) => Err(InvocationError {
            message: format!("backtest batch: {e}"),
            error_type: batch::FAILED,
        }),
    }
}

/// Why an invocation failed: the message the runtime reports, and the
/// `errorType` a Step Functions `Retry` or `Catch` matches on.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct InvocationError {
    message: String,
    error_type: &'static str,
}

/// The `errorType` of an effect that failed in a way worth a retry.
pub const EFFECT_FAILED: &str = "trailguard.EffectFailed";

impl InvocationError {
    /// An effect failed in a way worth a retry ([`EFFECT_FAILED`]).
    fn effect(message: String) -> Self {
        InvocationError {
            message,
            error_type: EFFECT_FAILED,
        }
    }

    /// The `errorType` the runtime reports.
    pub fn error_type(&self) -> &'static str {
        self.error_type
    }
}

impl From<InvocationError> for lambda_runtime::Diagnostic {
    fn from(e: InvocationError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.error_type.into(),
            error_message: e.message,
        }
    }
}

/// Handles one invocation payload.
pub async fn handle(payload: Value, ctx: &LiveContext) -> Result<Value, InvocationError> {
    handle_logged(payload, None, ctx).await
}

/// [`handle`], logging `raw` (else the payload re-serialized) whenever the
/// payload must be logged whole.
async fn handle_logged(
    payload: Value,
    raw: Option<&str>,
    ctx: &LiveContext,
) -> Result<Value, InvocationError> {
    // Kept to log the input whole if it cannot be handled.
    let original = match raw {
        Some(raw) => raw.to_owned(),
        None => payload.to_string(),
    };
    let (logged, payload_truncated) = loggable(&original);
    let payload_bytes = original.len();
    match handle_event(payload, ctx).await {
        Ok(outcome) => {
            if outcome.forged {
                // Never acted on and not alerted (docs/lambda.md, "Forged
                // events"): a forged event reaching the code means a direct
                // invocation or a rule without the `aws.*` source filter;
                // this line is the one to raise an alarm on.
                tracing::error!(
                    event_id = outcome.event_id.as_deref().unwrap_or(""),
                    event_name = outcome.event_name.as_deref().unwrap_or(""),
                    outcome = "ignored",
                    reason = outcome.ignored.as_deref().unwrap_or(""),
                    payload = logged,
                    payload_bytes,
                    payload_truncated,
                    "forged event rejected; logged whole, not acted on"
                );
            } else if outcome.event_name.is_none() {
                tracing::warn!(
                    payload = logged,
                    payload_bytes,
                    payload_truncated,
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
                .any(|f| crate::executor::alert_lost(&f.alerts));
            let retry = outcome.retryable() || alert_lost;
            for e in &outcome.errors {
                tracing::error!(
                    event_id = outcome.event_id.as_deref().unwrap_or(""),
                    kind = e.kind.as_str(),
                    retryable = e.retryable,
                    error = %e.message,
                    "effect failed"
                );
            }
            if retry {
                tracing::error!(
                    payload = logged,
                    payload_bytes,
                    payload_truncated,
                    "failing the invocation so Lambda retries it"
                );
                Err(InvocationError::effect(
                    HandleError::Effects { outcome }.to_string(),
                ))
            } else {
                Ok(summary(&outcome))
            }
        }
        Err(e) => {
            tracing::error!(
                payload = logged,
                payload_bytes,
                payload_truncated,
                error = %e,
                "input is not one CloudTrail event; logged whole, not retried"
            );
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
                tracing::error!(kind = e.kind.as_str(), retryable = e.retryable, error = %e.message, "scan effect failed");
            }
            if report.retryable() {
                let first = report
                    .errors
                    .first()
                    .map_or("no alert delivered", |e| e.message.as_str());
                Err(InvocationError::effect(format!("scan: {first}")))
            } else {
                Ok(report.summary_json())
            }
        }
        Err(e) => {
            tracing::error!(error = %e, retryable = e.is_retryable(), "scan failed");
            Err(InvocationError::effect(format!("scan failed: {e}")))
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
                "alerts": f.alerts.iter().filter(|a| a.status == DeliveryStatus::Sent).count(),
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
    use crate::effects::memory::{MemoryIam, MemorySource, RecordingPublisher};
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
            publisher,
            ..Effects::in_memory()
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
        assert!(err.message.contains("sns alert not sent"), "{err}");
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

    fn context_with(iam: Arc<MemoryIam>, sns: Arc<RecordingPublisher>, modes: &str) -> LiveContext {
        let config = Config::from_toml(
            &format!(
                "[modes]\n{modes}\n[alerts]\nsns_topic_arn = \"arn:aws:sns:us-east-1:111122223333:trailguard-alerts\""
            ),
            "test",
            std::iter::empty(),
        )
        .unwrap();
        let effects = Effects {
            iam,
            publisher: sns,
            ..Effects::in_memory()
        };
        // Short waits: a key the in-memory IAM does not hold would otherwise
        // be read again for the whole 30 s budget.
        LiveContext::new(config, effects, WebhookSource::None)
            .with_retry(crate::remediate::Retry::quick())
    }

    fn key_created(source: &str, account: &str) -> String {
        json!({
            "version": "0", "id": "f1", "detail-type": "AWS API Call via CloudTrail",
            "source": source, "account": account, "region": "us-east-1",
            "detail": iam_call(
                "CreateAccessKey",
                json!({"userName": "bob"}),
                json!({"accessKey": {"accessKeyId": "AKIAVICTIM0000000001", "userName": "bob", "status": "Active"}}),
            ),
        })
        .to_string()
    }

    /// Anyone allowed events:PutEvents on the default bus can post this; AWS
    /// only refuses them the `aws.*` sources. Nothing is called, nothing
    /// alerted (memory adapters: moto cannot show who may PutEvents).
    #[tokio::test]
    async fn a_forged_event_is_answered_ignored_and_nothing_is_done() {
        let source = MemorySource::default();
        for (src, account) in [("custom.iam", "111122223333"), ("aws.iam", "999999999999")] {
            let iam = Arc::new(MemoryIam::default());
            let sns = Arc::new(RecordingPublisher::default());
            let ctx = context_with(
                iam.clone(),
                sns.clone(),
                "access-key-created = \"remediate\"",
            );
            let answer = invoke(&key_created(src, account), None, &ctx, &source)
                .await
                .unwrap();
            assert_eq!(answer["status"], "ok", "{answer}");
            assert_eq!(answer["findings"], json!([]), "{answer}");
            assert!(
                answer["ignored"]
                    .as_str()
                    .unwrap()
                    .starts_with("forged event: "),
                "{answer}"
            );
            assert!(iam.calls().is_empty(), "{:?}", iam.calls());
            assert!(sns.messages().is_empty());
        }
        // The genuine event is acted on.
        let iam = Arc::new(MemoryIam::default());
        let sns = Arc::new(RecordingPublisher::default());
        let ctx = context_with(
            iam.clone(),
            sns.clone(),
            "access-key-created = \"remediate\"",
        );
        let answer = invoke(&key_created("aws.iam", "111122223333"), None, &ctx, &source)
            .await
            .unwrap();
        assert_eq!(
            answer["findings"][0]["rule"], "access-key-created",
            "{answer}"
        );
        assert!(!iam.calls().is_empty());
    }

    /// The live function never runs a batch; the backtest function runs
    /// nothing else.
    #[tokio::test]
    async fn batches_run_in_the_backtest_function_only() {
        let sns = Arc::new(RecordingPublisher::default());
        let ctx = context(sns.clone());
        let batch = json!({
            "BatchInput": {"trailguard": crate::replay::batch::MARKER, "bucket": "trail",
                           "results": "s3://out/run/"},
            "Items": [{"Key": "AWSLogs/x.json.gz"}],
        })
        .to_string();
        let answer = invoke(&batch, None, &ctx, &MemorySource::default())
            .await
            .unwrap();
        assert_eq!(
            answer,
            json!({"status": "rejected", "error": BATCH_REFUSED})
        );
        assert!(sns.messages().is_empty());

        for raw in [
            key_created("aws.iam", "111122223333"),
            "hello".into(),
            String::new(),
        ] {
            let e = invoke_backtest(&raw).await.unwrap_err();
            assert_eq!(e.error_type(), crate::replay::batch::BAD_INPUT, "{raw}");
            assert!(e.to_string().starts_with("not a backtest batch"), "{e}");
        }

        assert_eq!(is_backtest_function(None), Ok(false));
        assert_eq!(is_backtest_function(Some("false")), Ok(false));
        assert_eq!(is_backtest_function(Some("true")), Ok(true));
        let e = is_backtest_function(Some("yes")).unwrap_err();
        assert_eq!(
            e,
            "TRAILGUARD_BACKTEST is `yes`; it takes `true` or `false`"
        );
    }

    /// Garbage, nothing, JSON too deep for any parser: answered, not failed
    /// (a retry cannot make them parse).
    #[tokio::test]
    async fn a_payload_that_is_not_json_is_answered_rejected_not_failed() {
        let ctx = context(Arc::new(RecordingPublisher::default()));
        let source = MemorySource::default();
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        for raw in ["hello", "", "{\"detail-type\": ", deep.as_str()] {
            let answer = invoke(raw, None, &ctx, &source).await.unwrap();
            assert_eq!(answer["status"], "rejected", "{answer}");
            let error = answer["error"].as_str().unwrap();
            assert!(
                error.starts_with("`payload` is not valid JSON: "),
                "{error}"
            );
        }
    }

    #[tokio::test]
    async fn a_lone_surrogate_in_one_field_does_not_drop_the_event() {
        let sns = Arc::new(RecordingPublisher::default());
        let ctx = context(sns.clone());
        let raw = admin_attached().to_string().replace(
            "\"eventName\"",
            "\"userAgent\": \"aws-cli\\ud800\", \"eventName\"",
        );
        assert!(raw.contains("\\ud800"));
        let answer = invoke(&raw, None, &ctx, &MemorySource::default())
            .await
            .unwrap();
        assert_eq!(answer["status"], "ok", "{answer}");
        assert_eq!(answer["findings"].as_array().unwrap().len(), 2, "{answer}");
    }

    #[test]
    fn the_raw_payload_layer_hands_on_any_body_as_a_json_string() {
        for body in [
            &b"hello"[..],
            b"",
            b"{\"a\": \"\\ud800\"}",
            b"bad \xff utf-8",
        ] {
            let wrapped = raw_body_as_json_string(body);
            let text: String = serde_json::from_slice(&wrapped).unwrap();
            assert_eq!(text, String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn logged_payloads_are_cut_at_the_cap_on_a_character_boundary() {
        assert_eq!(loggable("{}"), ("{}", false));
        let big = "é".repeat(LOG_PAYLOAD_MAX);
        let (cut, truncated) = loggable(&big);
        assert!(truncated);
        assert!(cut.len() <= LOG_PAYLOAD_MAX && cut.len() > LOG_PAYLOAD_MAX - 2);
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

    /// The sweep's schedule closes grouping windows; it is not a scan
    /// (which would send a summary) nor an event.
    #[tokio::test]
    async fn the_sweeps_schedule_closes_windows_and_is_not_taken_for_a_scan() {
        let sns = Arc::new(RecordingPublisher::default());
        let state = Arc::new(crate::effects::memory::MemoryAlertState::default());
        let ctx = context(sns.clone()).with_alert_state(state.clone());
        let raw = r#"{"trailguard": "close-alert-windows"}"#;
        let answer = invoke(raw, None, &ctx, &MemorySource::default())
            .await
            .unwrap();
        assert_eq!(answer, json!({"status": "ok", "windows": []}));
        assert_eq!(state.calls(), ["dynamodb:Scan"]);
        assert!(sns.messages().is_empty());
    }
}
