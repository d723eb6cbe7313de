//! The one log line per decision keeps what a remediation did and how to
//! undo it, so an event whose alert failed (and that is retried, finding
//! the work done) never loses the undo commands or a moved document.
//!
//! Its own test binary with one test: the JSON subscriber is the global one,
//! set before any log site is first used. (A subscriber scoped to one
//! thread can miss lines while other tests run: tracing caches whether a
//! log site is wanted on its first use, from whichever thread.)

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use trailguard::alert::slack::WebhookSource;
use trailguard::config::Config;
use trailguard::effects::memory::{
    IamState, MemoryIam, MemorySecrets, MemoryTrail, RecordingPublisher, RecordingWebhook,
};
use trailguard::effects::{EffectError, ErrorKind};
use trailguard::live::{Effects, LiveContext, handle_event};
use trailguard::remediate::{Retry, Status};

use support::fixtures::event;

const READ_ONLY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:trailguard-alerts";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    /// The `decision` lines logged for the event `event_id`.
    fn decisions(&self, event_id: &str) -> Vec<Value> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|l| l["fields"]["message"] == "decision")
            .filter(|l| l["fields"]["event_id"] == event_id)
            .collect()
    }
}

fn context(config: &str, iam: IamState, publisher: Arc<RecordingPublisher>) -> LiveContext {
    let config = Config::from_toml(config, "test", std::iter::empty()).unwrap();
    let effects = Effects {
        iam: Arc::new(MemoryIam::new(iam)),
        trail: Arc::new(MemoryTrail::default()),
        publisher,
        webhook: Arc::new(RecordingWebhook::default()),
        secrets: Arc::new(MemorySecrets::default()),
    };
    LiveContext::new(config, effects, WebhookSource::None).with_retry(Retry::quick())
}

/// A field of the line holding JSON text, read back.
fn json_field(line: &Value, name: &str) -> Value {
    let text = line["fields"][name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {line}"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{name} is not JSON ({e}): {text}"))
}

#[tokio::test]
async fn the_decision_log_line_carries_the_calls_undo_and_document() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .finish(),
    )
    .unwrap();

    // A moved managed policy whose SNS alert failed.
    let mut bob = IamState::default();
    bob.user("bob").attached.insert(READ_ONLY.into());
    let sns = Arc::new(RecordingPublisher::default());
    sns.fail_with(Some(EffectError::new(
        "sns:Publish",
        ErrorKind::Unavailable,
        "503",
    )));
    let ctx = context(
        &format!(
            "[modes]\nuser-policy-attached = \"remediate\"\n[alerts]\nsns_topic_arn = \"{TOPIC}\""
        ),
        bob,
        sns,
    );
    let mut attach = event("attach-user-policy");
    attach["detail"]["eventID"] = "log-attach".into();
    let err = handle_event(attach, &ctx).await.unwrap_err();
    let report = err.outcome().unwrap().findings[0]
        .remediation
        .clone()
        .unwrap();
    assert_eq!(report.status, Status::Done, "{report:?}");
    assert!(
        report.undo[0].starts_with("aws iam attach-user-policy --user-name bob"),
        "{report:?}"
    );
    let lines = capture.decisions("log-attach");
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let line = &lines[0];
    assert_eq!(json_field(line, "calls"), json!(report.calls));
    assert_eq!(json_field(line, "undo"), json!(report.undo));
    assert_eq!(json_field(line, "document"), json!(null));
    assert_eq!(line["fields"]["alerts"], "sns:failed");

    // A moved inline policy: its document is logged too.
    let document = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    let mut bob = IamState::default();
    bob.user("bob")
        .inline
        .insert("s3-read-reports".into(), document.into());
    let ctx = context(
        "[modes]\nuser-inline-policy = \"remediate\"",
        bob,
        Arc::new(RecordingPublisher::default()),
    );
    let mut put = event("put-user-policy");
    put["detail"]["eventID"] = "log-put".into();
    let outcome = handle_event(put, &ctx).await.unwrap();
    let report = outcome.findings[0].remediation.clone().unwrap();
    assert_eq!(report.status, Status::Done, "{report:?}");
    let lines = capture.decisions("log-put");
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(json_field(&lines[0], "document"), json!(document));
    assert_eq!(json_field(&lines[0], "undo"), json!(report.undo));

    // Grouped root calls: one line per finding, alerted or folded.
    let state = Arc::new(trailguard::effects::memory::MemoryAlertState::default());
    let sns = Arc::new(RecordingPublisher::default());
    let ctx = context(
        &format!("[alerts]\nsns_topic_arn = \"{TOPIC}\"\nstate_table = \"trailguard-state\""),
        IamState::default(),
        sns.clone(),
    )
    .with_alert_state(state);
    let root: Value = serde_json::from_str(include_str!("../events/root-api-call.json")).unwrap();
    for i in 0..3 {
        let mut call = root.clone();
        call["detail"]["eventID"] = format!("log-root-{i}").into();
        handle_event(call, &ctx).await.unwrap();
    }
    let alerts: Vec<Value> = (0..3)
        .map(|i| {
            let lines = capture.decisions(&format!("log-root-{i}"));
            assert_eq!(lines.len(), 1, "{lines:#?}");
            assert_eq!(lines[0]["fields"]["rule"], "root-api-call");
            lines[0]["fields"]["alerts"].clone()
        })
        .collect();
    assert_eq!(alerts, ["sns:sent", "sns:grouped", "sns:grouped"]);
    assert_eq!(sns.messages().len(), 1);
}
