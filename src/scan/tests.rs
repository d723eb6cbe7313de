//! The whole scan with in-memory IAM reads and effects: modes, the summary
//! alert, remediation through the live path, dry runs, exemptions, errors.

use std::sync::Arc;

use super::*;
use crate::alert::slack::WebhookSource;
use crate::config::Config;
use crate::effects::memory::MemorySource;
use crate::effects::memory::{
    IamState, MemoryIam, MemorySecrets, MemoryTrail, RecordingPublisher, RecordingWebhook,
};
use crate::effects::{AccessKey, EffectError, ErrorKind};
use crate::inventory::PasswordBaseline;
use crate::inventory::account::AccountSummary;
use crate::inventory::testing::*;
use crate::live::{Effects, FailureKind};
use crate::remediate::{Retry, Status};

const TOPIC: &str = "arn:aws:sns:us-east-1:111122223333:trailguard-alerts";
const READ_ONLY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";

fn quick() -> ReportWait {
    ReportWait {
        interval: std::time::Duration::from_millis(1),
        timeout: std::time::Duration::from_millis(100),
    }
}

struct Harness {
    live: LiveContext,
    iam: Arc<MemoryIam>,
    published: Arc<RecordingPublisher>,
    source: MemorySource,
}

impl Harness {
    async fn scan(&self, dry_run: bool) -> ScanReport {
        let ctx = ScanContext {
            live: &self.live,
            source: &self.source,
            wait: quick(),
            dry_run,
            deadline: None,
            member: None,
        };
        run_scan(&ctx, now()).await.unwrap()
    }

    /// For real, ending at `deadline`.
    async fn scan_until(&self, deadline: tokio::time::Instant) -> Result<ScanReport, ScanError> {
        let ctx = ScanContext {
            live: &self.live,
            source: &self.source,
            wait: quick(),
            dry_run: false,
            deadline: Some(deadline),
            member: None,
        };
        run_scan(&ctx, now()).await
    }
}

/// Root with a key; bob: console without MFA, ReadOnlyAccess attached, a
/// key from 2023 last used 2024-01-01; a baseline password policy. The
/// same account in the report, the read inventory and the effects' IAM.
fn harness(modes: &str, tag: Option<(&str, &str)>) -> Harness {
    let config = Config::from_toml(
        &format!("{modes}\n[alerts]\nsns_topic_arn = \"{TOPIC}\""),
        "test",
        std::iter::empty(),
    )
    .unwrap();
    let bob = keys_row(
        "bob",
        ("2023-01-01T00:00:00+00:00", "2024-01-01T00:00:00+00:00"),
        ("N/A", "N/A"),
    )
    .replacen(",true,N/A,N/A,", ",false,N/A,N/A,", 1);
    let mut inv = policies("bob", &[READ_ONLY], &[]);
    inv.users[0].access_keys = keys(&[("bob", "AKIABOB", true, "2023-01-01T00:00:00Z")]).users[0]
        .access_keys
        .clone();
    inv.password_policy = Some(PasswordBaseline::default());
    let source = MemorySource::new(format!("{HEADER}\n{ROOT_WITH_KEY}\n{bob}\n"), inv);

    let mut state = IamState::default();
    let u = state.user("bob");
    u.attached.insert(READ_ONLY.into());
    u.keys.push(AccessKey {
        id: "AKIABOB".into(),
        active: true,
    });
    if let Some((k, v)) = tag {
        u.tags.push((k.into(), v.into()));
    }
    let iam = Arc::new(MemoryIam::new(state));
    let published = Arc::new(RecordingPublisher::default());
    let effects = Effects {
        iam: iam.clone(),
        trail: Arc::new(MemoryTrail::default()),
        publisher: published.clone(),
        webhook: Arc::new(RecordingWebhook::default()),
        secrets: Arc::new(MemorySecrets::default()),
    };
    let live = LiveContext::new(config, effects, WebhookSource::None).with_retry(Retry::quick());
    Harness {
        live,
        iam,
        published,
        source,
    }
}

fn rules_of(report: &ScanReport) -> Vec<&'static str> {
    report
        .findings
        .iter()
        .map(|f| f.decision.finding.rule)
        .collect()
}

#[tokio::test]
async fn alert_mode_changes_nothing_and_sends_one_summary() {
    let h = harness("", None);
    let report = h.scan(false).await;
    assert_eq!(
        rules_of(&report),
        [
            "root-access-keys-present",
            "root-mfa-disabled",
            "root-used-recently",
            "access-key-not-rotated",
            "access-key-unused",
            "user-has-attached-policy",
        ]
    );
    assert!(!report.failed());
    assert_eq!(h.iam.calls(), Vec::<&str>::new());
    let messages = h.published.messages();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(
        m.subject,
        "trailguard scan 111122223333: 6 findings (2 critical, 1 high, 3 medium)"
    );
    assert!(
        m.attributes
            .contains(&("severity".into(), "critical".into()))
    );
    assert!(m.attributes.contains(&("rule".into(), "scan".into())));
    assert!(
        m.body.contains(
            "  critical root-access-keys-present          1  Root user has access keys\n"
        ),
        "{}",
        m.body
    );
    assert!(
        m.body
            .contains("\nWorst first:\n   1. CRITICAL root-access-keys-present: ")
    );
    assert!(
        m.body.contains(
            "in alert mode: would run in remediate mode: 2 remediations (access-key-not-rotated, access-key-unused, user-has-attached-policy)"
        ),
        "{}",
        m.body
    );
    assert_eq!(report.alerts.len(), 1);
    assert_eq!(report.alerts[0].status, DeliveryStatus::Sent);
    let planned = report.findings[3].result.as_ref().unwrap();
    assert_eq!(planned.status, Status::Planned);
}

#[tokio::test]
async fn remediate_mode_deactivates_the_key_once_and_moves_the_policy() {
    let h = harness(
        "[modes]\naccess-key-not-rotated = \"remediate\"\naccess-key-unused = \"remediate\"\nuser-has-attached-policy = \"remediate\"",
        None,
    );
    let report = h.scan(false).await;
    assert!(!report.failed(), "{:?}", report.errors);
    let state = h.iam.state();
    let bob = &state.users["bob"];
    assert!(!bob.keys[0].active);
    assert!(bob.attached.is_empty());
    assert!(
        state.groups["trailguard-read-only"]
            .attached
            .contains(READ_ONLY)
    );
    assert_eq!(
        h.iam
            .calls()
            .iter()
            .filter(|c| **c == "iam:UpdateAccessKey")
            .count(),
        1
    );
    let status = |rule: &str| {
        let f = report
            .findings
            .iter()
            .find(|f| f.decision.finding.rule == rule)
            .unwrap();
        f.result.clone().unwrap()
    };
    assert_eq!(status("access-key-not-rotated").status, Status::Done);
    let second = status("access-key-unused");
    assert_eq!(
        second.notes,
        ["the same action as for access-key-not-rotated, run once: done"]
    );
    assert_eq!(status("user-has-attached-policy").status, Status::Done);
    let body = &h.published.messages()[0].body;
    assert!(
        body.contains("\nRemediation:\n  done: set access key AKIABOB of bob to Inactive\n  done: attach arn:aws:iam::aws:policy/ReadOnlyAccess to group trailguard-read-only"),
        "{body}"
    );
    assert_eq!(report.summary_json()["remediated"], 2);

    // The next scan finds the key inactive and the policy gone.
    let mut h2 = h;
    h2.source.inventory.users[0].access_keys[0].active = false;
    h2.source.inventory.users[0].attached_policies.clear();
    let report = h2.scan(false).await;
    assert_eq!(
        rules_of(&report),
        [
            "root-access-keys-present",
            "root-mfa-disabled",
            "root-used-recently"
        ]
    );
}

const KEY_RULES_REMEDIATE: &str = "[modes]\naccess-key-not-rotated = \"remediate\"\naccess-key-unused = \"remediate\"\nuser-has-attached-policy = \"remediate\"";

#[tokio::test]
async fn a_key_used_after_the_report_is_not_deactivated() {
    // The report (up to four hours old) says 2024-01-01; the fake source's
    // GetAccessKeyLastUsed says an hour before the scan.
    let mut h = harness(KEY_RULES_REMEDIATE, None);
    h.source
        .last_used
        .insert("AKIABOB".into(), "2024-05-09T23:00:00Z".parse().unwrap());
    let report = h.scan(false).await;
    assert!(!report.failed(), "{:?}", report.errors);
    assert!(h.iam.state().users["bob"].keys[0].active);
    assert!(!h.iam.calls().contains(&"iam:UpdateAccessKey"));
    assert!(
        h.source
            .calls()
            .contains(&"iam:GetAccessKeyLastUsed bob".to_owned())
    );
    for rule in ["access-key-not-rotated", "access-key-unused"] {
        let f = report
            .findings
            .iter()
            .find(|f| f.decision.finding.rule == rule)
            .unwrap();
        let result = f.result.as_ref().unwrap();
        assert_eq!(result.status, Status::Blocked, "{rule}");
    }
    let first = report
        .findings
        .iter()
        .find(|f| f.decision.finding.rule == "access-key-not-rotated")
        .unwrap();
    assert_eq!(
        first.result.as_ref().unwrap().notes,
        [
            "not deactivated: GetAccessKeyLastUsed says it was used at 2024-05-09 23:00 UTC, within the unused age (90 days); the credential report was older"
        ]
    );
    // Other remediations run as usual.
    assert!(h.iam.state().users["bob"].attached.is_empty());
}

#[tokio::test]
async fn a_key_last_used_long_ago_is_deactivated_after_the_recheck() {
    let mut h = harness(KEY_RULES_REMEDIATE, None);
    h.source
        .last_used
        .insert("AKIABOB".into(), "2024-01-01T00:00:00Z".parse().unwrap());
    let report = h.scan(false).await;
    assert!(!report.failed(), "{:?}", report.errors);
    assert!(!h.iam.state().users["bob"].keys[0].active);
}

#[tokio::test]
async fn a_failed_recheck_leaves_the_key_alone_and_asks_for_a_retry() {
    struct NoLastUse(MemorySource);
    #[async_trait::async_trait]
    impl CredentialSource for NoLastUse {
        async fn generate_credential_report(
            &self,
        ) -> Result<crate::effects::ReportState, EffectError> {
            self.0.generate_credential_report().await
        }
        async fn credential_report(&self) -> Result<crate::effects::ReportFetch, EffectError> {
            self.0.credential_report().await
        }
        async fn password_policy(&self) -> Result<Option<PasswordBaseline>, EffectError> {
            self.0.password_policy().await
        }
        async fn account_summary(&self) -> Result<AccountSummary, EffectError> {
            self.0.account_summary().await
        }
        async fn users(&self) -> Result<Vec<(String, String)>, EffectError> {
            self.0.users().await
        }
        async fn attached_user_policies(
            &self,
            user: &str,
        ) -> Result<Vec<crate::inventory::account::AttachedPolicy>, EffectError> {
            self.0.attached_user_policies(user).await
        }
        async fn user_policy_names(&self, user: &str) -> Result<Vec<String>, EffectError> {
            self.0.user_policy_names(user).await
        }
        async fn access_keys(
            &self,
            user: &str,
        ) -> Result<Vec<crate::inventory::account::ListedKey>, EffectError> {
            self.0.access_keys(user).await
        }
        async fn access_key_last_used(
            &self,
            _: &str,
            _: &str,
        ) -> Result<Option<chrono::DateTime<chrono::Utc>>, EffectError> {
            Err(EffectError::new(
                "iam:GetAccessKeyLastUsed",
                ErrorKind::Throttled,
                "Rate exceeded",
            ))
        }
    }
    let mut h = harness(KEY_RULES_REMEDIATE, None);
    let source = NoLastUse(std::mem::take(&mut h.source));
    let ctx = ScanContext {
        live: &h.live,
        source: &source,
        wait: quick(),
        dry_run: false,
        deadline: None,
        member: None,
    };
    let report = run_scan(&ctx, now()).await.unwrap();
    assert!(h.iam.state().users["bob"].keys[0].active);
    assert!(report.retryable());
    assert!(
        report.errors[0]
            .message
            .starts_with("cannot re-check the last use of access key AKIABOB"),
        "{:?}",
        report.errors
    );
}

#[tokio::test]
async fn the_deadline_stops_remediations_sends_a_partial_summary_and_asks_for_a_retry() {
    // The fake source's GetAccessKeyLastUsed takes 1.5 s, and the scan has
    // one second before its margin: the first remediation (the key) runs,
    // the next (the policy move) is left for the retry.
    let mut h = harness(KEY_RULES_REMEDIATE, None);
    h.source.last_used_delay = std::time::Duration::from_millis(1500);
    let deadline =
        tokio::time::Instant::now() + DEADLINE_MARGIN + std::time::Duration::from_secs(1);
    let report = h.scan_until(deadline).await.unwrap();
    assert!(report.partial);
    assert!(report.retryable());
    assert!(!h.iam.state().users["bob"].keys[0].active);
    assert!(h.iam.state().users["bob"].attached.contains(READ_ONLY));
    let moved = report
        .findings
        .iter()
        .find(|f| f.decision.finding.rule == "user-has-attached-policy")
        .unwrap();
    let result = moved.result.as_ref().unwrap();
    assert_eq!(result.status, Status::Failed);
    assert_eq!(
        result.notes,
        ["not run: the invocation's deadline was near; the scan is retried"]
    );
    assert_eq!(report.errors.last().unwrap().kind, FailureKind::Deadline);
    assert_eq!(report.summary_json()["status"], "partial");
    // The summary is still sent, marked partial.
    let messages = h.published.messages();
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0]
            .subject
            .starts_with("trailguard scan 111122223333 (partial): "),
        "{}",
        messages[0].subject
    );
    assert!(
        messages[0]
            .body
            .contains("PARTIAL: the invocation's deadline")
    );
}

#[tokio::test]
async fn the_lambda_fails_a_scan_its_deadline_cut_short_so_it_is_retried() {
    let mut h = harness(KEY_RULES_REMEDIATE, None);
    h.source.last_used_delay = std::time::Duration::from_millis(1500);
    let deadline =
        std::time::SystemTime::now() + DEADLINE_MARGIN + std::time::Duration::from_secs(1);
    let err = crate::lambda::scan_until(&h.live, &h.source, Some(deadline))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("the invocation's deadline came before 1 remediation ran"),
        "{err}"
    );
    // Without a deadline the same scan finishes.
    let mut h = harness(KEY_RULES_REMEDIATE, None);
    h.source.last_used_delay = std::time::Duration::from_millis(1);
    let answer = crate::lambda::scan_until(&h.live, &h.source, None)
        .await
        .unwrap();
    assert_eq!(answer["status"], "ok", "{answer}");
}

#[tokio::test]
async fn the_deadline_bounds_the_wait_for_the_report() {
    let h = harness("", None);
    h.source
        .generate_states
        .lock()
        .unwrap()
        .extend(std::iter::repeat_n(
            crate::effects::ReportState::InProgress,
            100_000,
        ));
    let ctx = ScanContext {
        live: &h.live,
        source: &h.source,
        // A report wait far longer than the invocation has left.
        wait: ReportWait {
            interval: std::time::Duration::from_millis(10),
            timeout: std::time::Duration::from_secs(600),
        },
        member: None,
        dry_run: false,
        deadline: Some(
            tokio::time::Instant::now() + DEADLINE_MARGIN + std::time::Duration::from_millis(200),
        ),
    };
    let started = std::time::Instant::now();
    let err = run_scan(&ctx, now()).await.unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(err.is_retryable(), "{err}");
    assert!(matches!(err, ScanError::Deadline), "{err}");
}

#[tokio::test]
async fn a_dry_run_plans_and_sends_nothing() {
    let h = harness("[modes]\nuser-has-attached-policy = \"remediate\"", None);
    let report = h.scan(true).await;
    assert!(report.dry_run);
    assert!(h.published.messages().is_empty());
    assert!(report.alerts.is_empty());
    assert!(h.iam.calls().is_empty());
    let f = report
        .findings
        .iter()
        .find(|f| f.decision.finding.rule == "user-has-attached-policy")
        .unwrap();
    let result = f.result.as_ref().unwrap();
    assert_eq!(result.status, Status::Planned);
    assert!(
        result
            .notes
            .contains(&"dry run: nothing was changed".to_owned())
    );
    assert!(render_text(&report).contains(
        "remediation move-policy-to-group planned: attach arn:aws:iam::aws:policy/ReadOnlyAccess"
    ));
}

#[tokio::test]
async fn a_user_with_the_exemption_tag_is_alerted_not_changed() {
    let h = harness(
        "[modes]\nuser-has-attached-policy = \"remediate\"\n[exemptions]\ntag = \"trailguard:exempt\"",
        Some(("trailguard:exempt", "true")),
    );
    let report = h.scan(false).await;
    let f = report
        .findings
        .iter()
        .find(|f| f.decision.finding.rule == "user-has-attached-policy")
        .unwrap();
    assert_eq!(f.result.as_ref().unwrap().status, Status::Exempt);
    assert!(h.iam.state().users["bob"].attached.contains(READ_ONLY));
    assert!(h.published.messages()[0].body.contains("exempt: attach"));
}

#[tokio::test]
async fn a_clean_account_sends_no_alert() {
    let h = harness("", None);
    let mut h = h;
    h.source.report = format!("{HEADER}\n{ROOT_CLEAN}\n");
    h.source.inventory.users.clear();
    h.source.inventory.summary =
        AccountSummary([("AccountMFAEnabled".to_owned(), 1)].into_iter().collect());
    let report = h.scan(false).await;
    assert!(report.findings.is_empty(), "{:?}", rules_of(&report));
    assert!(h.published.messages().is_empty());
    assert_eq!(report.summary_json()["findings"], 0);
}

#[tokio::test]
async fn a_lost_alert_makes_the_scan_worth_a_retry() {
    let h = harness("", None);
    h.published.fail_with(Some(EffectError::new(
        "sns:Publish",
        ErrorKind::Throttled,
        "Rate exceeded",
    )));
    let report = h.scan(false).await;
    assert!(report.failed());
    assert!(report.retryable());
    assert_eq!(report.errors[0].kind, FailureKind::Alert);
    assert_eq!(report.alerts[0].status, DeliveryStatus::Failed);
    assert_eq!(report.summary_json()["status"], "partial");
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
async fn the_text_report_lists_findings_worst_first_then_counts() {
    let h = harness("", None);
    let report = h.scan(true).await;
    let text = render_text(&report);
    assert!(
        text.starts_with(
            "scan of account 111122223333 at 2024-05-10 00:00:00 UTC: 6 findings (2 critical, 1 high, 3 medium), 1 user\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "CRITICAL root-access-keys-present       [alert] the root user has an active access key"
        ),
        "{text}"
    );
    assert!(
        text.contains("\nfindings by rule:\n  root-access-keys-present       critical     1\n")
    );
}
