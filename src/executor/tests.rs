//! The executor with in-memory effects: modes, exemptions, alerts, errors.

use std::sync::Arc;

use serde_json::json;

use crate::alert::slack::WebhookSource;
use crate::config::Config;
use crate::effects::faults::{FaultyIam, When};
use crate::effects::memory::{
    IamState, MemoryIam, MemorySecrets, MemoryTrail, RecordingPublisher, RecordingWebhook,
};
use crate::effects::{EffectError, ErrorKind, Iam, Secret, WebhookUrl};
use crate::executor::{Channel, Delivery, DeliveryStatus, alert_lost};
use crate::live::{Effects, HandleError, LiveContext, handle_event};
use crate::remediate::{Retry, Status};
use crate::rules::testing::iam_call;

const TOPIC: &str = "arn:aws:sns:us-east-1:111122223333:trailguard-alerts";
const READ_ONLY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";

struct Harness {
    ctx: LiveContext,
    published: Arc<RecordingPublisher>,
    webhook: Arc<RecordingWebhook>,
}

fn harness(config: &str, iam: Arc<dyn Iam>, slack: bool) -> Harness {
    let config = Config::from_toml(config, "test", std::iter::empty()).unwrap();
    let published = Arc::new(RecordingPublisher::default());
    let webhook = Arc::new(RecordingWebhook::default());
    let effects = Effects {
        iam,
        trail: Arc::new(MemoryTrail::default()),
        publisher: published.clone(),
        webhook: webhook.clone(),
        secrets: Arc::new(MemorySecrets::default()),
    };
    let source = if slack {
        WebhookSource::Env {
            var: "TRAILGUARD_SLACK_WEBHOOK_URL".into(),
            url: WebhookUrl::parse(Secret::new("https://hooks.slack.com/services/T/B/SECRET"))
                .unwrap(),
        }
    } else {
        WebhookSource::None
    };
    Harness {
        ctx: LiveContext::new(config, effects, source).with_retry(Retry::quick()),
        published,
        webhook,
    }
}

fn attach_event(user: &str) -> serde_json::Value {
    let mut ev = iam_call(
        "AttachUserPolicy",
        json!({"userName": user, "policyArn": READ_ONLY}),
        json!(null),
    );
    ev["sourceIPAddress"] = "203.0.113.7".into();
    ev["userAgent"] = "aws-cli/2.15 <!channel> & friends".into();
    json!({
        "version": "0",
        "id": "7f3c",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.iam",
        "account": "111122223333",
        "region": "us-east-1",
        "detail": ev,
    })
}

fn bob_with_policy(tag: Option<(&str, &str)>) -> IamState {
    let mut s = IamState::default();
    let u = s.user("bob");
    u.attached.insert(READ_ONLY.into());
    if let Some((k, v)) = tag {
        u.tags.push((k.into(), v.into()));
    }
    s
}

const REMEDIATE: &str = "[modes]\nuser-policy-attached = \"remediate\"\n[exemptions]\ntag = \"trailguard:exempt\"\n[alerts]\nsns_topic_arn = \"arn:aws:sns:us-east-1:111122223333:trailguard-alerts\"";

#[tokio::test]
async fn alert_mode_states_the_plan_and_changes_nothing() {
    let iam = Arc::new(MemoryIam::new(bob_with_policy(None)));
    let h = harness(
        &format!("[alerts]\nsns_topic_arn = \"{TOPIC}\""),
        iam.clone(),
        false,
    );
    let outcome = handle_event(attach_event("bob"), &h.ctx).await.unwrap();
    assert!(
        iam.calls().is_empty(),
        "alert mode reads nothing: {:?}",
        iam.calls()
    );
    let f = &outcome.findings[0];
    assert_eq!(f.rule, "user-policy-attached");
    let r = f.remediation.as_ref().unwrap();
    assert_eq!(r.status, Status::Planned);
    assert_eq!(f.alerts[0].status, DeliveryStatus::Sent);

    let msgs = h.published.messages();
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(
        m.subject,
        "trailguard MEDIUM user-policy-attached: user bob (111122223333)"
    );
    assert_eq!(
        m.attributes,
        [
            ("severity".to_string(), "medium".to_string()),
            ("rule".to_string(), "user-policy-attached".to_string()),
            ("account".to_string(), "111122223333".to_string()),
        ]
    );
    for needle in [
        "Who:           arn:aws:iam::111122223333:user/alice (IAMUser)",
        "What:          iam.amazonaws.com AttachUserPolicy",
        "Target:        user bob",
        "Region:        us-east-1",
        "Time:          2024-05-01T10:00:00Z",
        "Source IP:     203.0.113.7",
        "Best practice: Grant permissions through groups, not to users directly",
        "Controls:      CIS 1.15, IAM.2",
        "alert mode, nothing changed; in remediate mode move-policy-to-group would run",
        "Would call:",
        "https://us-east-1.console.aws.amazon.com/cloudtrailv2/home?region=us-east-1#/events/e-1",
    ] {
        assert!(m.body.contains(needle), "missing {needle:?} in\n{}", m.body);
    }
}

#[tokio::test]
async fn remediate_mode_moves_the_policy_and_the_alert_says_how_to_undo() {
    let iam = Arc::new(MemoryIam::new(bob_with_policy(None)));
    let h = harness(REMEDIATE, iam.clone(), false);
    let outcome = handle_event(attach_event("bob"), &h.ctx).await.unwrap();
    let r = outcome.findings[0].remediation.as_ref().unwrap();
    assert_eq!(r.status, Status::Done);
    assert!(!iam.state().users["bob"].attached.contains(READ_ONLY));
    let body = &h.published.messages()[0].body;
    assert!(body.contains("move-policy-to-group done"), "{body}");
    assert!(
        body.contains("$ aws iam attach-user-policy --user-name bob"),
        "{body}"
    );
}

#[tokio::test]
async fn exemption_tag_on_the_user_means_alert_only() {
    let iam = Arc::new(MemoryIam::new(bob_with_policy(Some((
        "trailguard:exempt",
        "True",
    )))));
    let h = harness(REMEDIATE, iam.clone(), false);
    let outcome = handle_event(attach_event("bob"), &h.ctx).await.unwrap();
    let r = outcome.findings[0].remediation.as_ref().unwrap();
    assert_eq!(r.status, Status::Exempt);
    assert_eq!(iam.calls(), ["iam:GetUser"]);
    assert!(iam.history().is_empty());
    let body = &h.published.messages()[0].body;
    assert!(body.contains("not run: the target is exempt"), "{body}");
    assert!(
        body.contains("carries the exemption tag trailguard:exempt=True"),
        "{body}"
    );
}

/// IAM treats tag keys on a user as case-insensitive (`Trailguard:Exempt`
/// and `trailguard:exempt` cannot both exist), so the config's key matches
/// in any case.
#[tokio::test]
async fn exemption_tag_key_matches_in_any_case() {
    let iam = Arc::new(MemoryIam::new(bob_with_policy(Some((
        "TrailGuard:EXEMPT",
        "true",
    )))));
    let h = harness(REMEDIATE, iam.clone(), false);
    let outcome = handle_event(attach_event("bob"), &h.ctx).await.unwrap();
    let r = outcome.findings[0].remediation.as_ref().unwrap();
    assert_eq!(r.status, Status::Exempt, "{r:?}");
    assert!(iam.history().is_empty());
    assert_eq!(
        r.notes,
        ["user bob carries the exemption tag TrailGuard:EXEMPT=true"]
    );
}

/// The engine can only build `arn:aws:iam::<account>:user/<name>`; a user
/// with a path, or in another partition, is matched on the ARN GetUser
/// answers, before anything changes.
#[tokio::test]
async fn exempt_principal_matches_the_users_real_arn_with_its_path_or_partition() {
    for arn in [
        "arn:aws:iam::111122223333:user/ops/breakglass",
        "arn:aws-cn:iam::111122223333:user/breakglass",
    ] {
        let mut s = IamState::default();
        let u = s.user("breakglass");
        u.arn = Some(arn.into());
        u.attached.insert(READ_ONLY.into());
        let iam = Arc::new(MemoryIam::new(s));
        let config = format!(
            "[modes]\nuser-policy-attached = \"remediate\"\n[exemptions]\nprincipals = [\"{arn}\"]\n[alerts]\nsns_topic_arn = \"{TOPIC}\""
        );
        let h = harness(&config, iam.clone(), false);
        let outcome = handle_event(attach_event("breakglass"), &h.ctx)
            .await
            .unwrap();
        let f = &outcome.findings[0];
        assert_eq!(f.exempt, None, "the engine cannot see the path: {arn}");
        let r = f.remediation.as_ref().unwrap();
        assert_eq!(r.status, Status::Exempt, "{arn}: {r:?}");
        assert_eq!(
            r.notes,
            [format!("user {arn} matches exempt principal `{arn}`")]
        );
        assert_eq!(iam.calls(), ["iam:GetUser"]);
        assert!(iam.history().is_empty());
        let body = &h.published.messages()[0].body;
        assert!(body.contains("not run: the target is exempt"), "{body}");
    }
}

/// Without a tag or principals to check, nothing is read before the
/// remediation.
#[tokio::test]
async fn no_exemption_to_check_means_no_user_read() {
    let iam = Arc::new(MemoryIam::new(bob_with_policy(None)));
    let config = format!(
        "[modes]\nuser-policy-attached = \"remediate\"\n[alerts]\nsns_topic_arn = \"{TOPIC}\""
    );
    let h = harness(&config, iam.clone(), false);
    let outcome = handle_event(attach_event("bob"), &h.ctx).await.unwrap();
    assert_eq!(
        outcome.findings[0].remediation.as_ref().unwrap().status,
        Status::Done
    );
    assert!(!iam.calls().contains(&"iam:GetUser"), "{:?}", iam.calls());
}

#[tokio::test]
async fn a_failed_remediation_is_still_alerted_and_classified() {
    for (kind, retryable) in [
        (ErrorKind::AccessDenied, false),
        (ErrorKind::Throttled, true),
    ] {
        // Call 0 is the tag read; fail the next (the first remediation read).
        let iam = Arc::new(
            FaultyIam::new(MemoryIam::new(bob_with_policy(None))).fail_at_with(
                1,
                When::Before,
                kind,
            ),
        );
        let h = harness(REMEDIATE, iam.clone(), false);
        let err = handle_event(attach_event("bob"), &h.ctx).await.unwrap_err();
        assert_eq!(err.is_retryable(), retryable, "{kind:?}: {err}");
        let outcome = err.outcome().unwrap();
        assert_eq!(
            outcome.findings[0].remediation.as_ref().unwrap().status,
            Status::Failed
        );
        assert_eq!(outcome.findings[0].alerts[0].status, DeliveryStatus::Sent);
        assert!(
            h.published.messages()[0]
                .body
                .contains("move-policy-to-group FAILED")
        );
        assert_eq!(iam.inner().state(), bob_with_policy(None));
    }
}

#[tokio::test]
async fn a_failed_alert_is_a_retryable_error() {
    let iam = Arc::new(MemoryIam::new(bob_with_policy(None)));
    let h = harness(REMEDIATE, iam, false);
    h.published.fail_with(Some(EffectError::new(
        "sns:Publish",
        ErrorKind::Unavailable,
        "503",
    )));
    let err = handle_event(attach_event("bob"), &h.ctx).await.unwrap_err();
    assert!(err.is_retryable());
    assert!(err.to_string().contains("sns alert not sent"), "{err}");
    // The retry finds the work done and alerts.
    h.published.fail_with(None);
    let outcome = handle_event(attach_event("bob"), &h.ctx).await.unwrap();
    assert_eq!(
        outcome.findings[0].remediation.as_ref().unwrap().status,
        Status::Unchanged
    );
    assert_eq!(h.published.messages().len(), 1);
}

#[tokio::test]
async fn slack_gets_escaped_blocks() {
    let iam = Arc::new(MemoryIam::new(bob_with_policy(None)));
    let h = harness("", iam, true);
    handle_event(attach_event("bob"), &h.ctx).await.unwrap();
    let bodies = h.webhook.bodies();
    assert_eq!(bodies.len(), 1);
    let text = bodies[0].to_string();
    assert!(!text.contains("<!channel>"), "{text}");
    assert!(
        text.contains("aws-cli/2.15 &lt;!channel&gt; &amp; friends"),
        "{text}"
    );
    assert_eq!(bodies[0]["blocks"][0]["type"], "header");
    let link = bodies[0]["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "actions")
        .unwrap();
    assert_eq!(
        link["elements"][0]["url"],
        "https://us-east-1.console.aws.amazon.com/cloudtrailv2/home?region=us-east-1#/events/e-1"
    );
}

#[tokio::test]
async fn a_rotated_slack_webhook_is_read_again_when_slack_refuses_the_old_one() {
    const ARN: &str = "arn:aws:secretsmanager:us-east-1:111122223333:secret:slack";
    const OLD: &str = "https://hooks.slack.com/services/T/B/OLD";
    const NEW: &str = "https://hooks.slack.com/services/T/B/NEW";
    let config = Config::from_toml(
        "[alerts]\nsns_topic_arn = \"arn:aws:sns:us-east-1:111122223333:trailguard-alerts\"",
        "test",
        std::iter::empty(),
    )
    .unwrap();
    let published = Arc::new(RecordingPublisher::default());
    let webhook = Arc::new(RecordingWebhook::default());
    let secrets = Arc::new(MemorySecrets::default().with(ARN, OLD));
    let effects = Effects {
        iam: Arc::new(MemoryIam::new(bob_with_policy(None))),
        trail: Arc::new(MemoryTrail::default()),
        publisher: published.clone(),
        webhook: webhook.clone(),
        secrets: secrets.clone(),
    };
    let source = WebhookSource::Secret { arn: ARN.into() };
    let ctx = LiveContext::new(config, effects, source).with_retry(Retry::quick());
    let slack = |o: &crate::live::Outcome| o.findings[0].alerts[1].status;

    let first = handle_event(attach_event("bob"), &ctx).await.unwrap();
    assert_eq!(slack(&first), DeliveryStatus::Sent);
    // Rotated: the old hook is revoked, the secret holds the new one.
    webhook.revoke(OLD);
    secrets.set(ARN, NEW);
    let second = handle_event(attach_event("alice"), &ctx).await.unwrap();
    assert_eq!(slack(&second), DeliveryStatus::Sent, "{second:?}");
    assert!(second.errors.is_empty(), "{:?}", second.errors);
    assert_eq!(webhook.bodies().len(), 2);
    // Revoked without a new secret: refused, said, SNS still sent.
    webhook.revoke(NEW);
    let err = handle_event(attach_event("carol"), &ctx).await.unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    let third = err.outcome().unwrap();
    assert_eq!(slack(third), DeliveryStatus::Failed);
    assert_eq!(third.findings[0].alerts[0].status, DeliveryStatus::Sent);
    assert_eq!(webhook.bodies().len(), 2);
    assert_eq!(published.messages().len(), 3);
}

#[tokio::test]
async fn non_cloudtrail_payloads_are_ignored_and_log_files_are_refused() {
    let h = harness("", Arc::new(MemoryIam::default()), false);
    let other =
        json!({"detail-type": "Scheduled Event", "source": "aws.events", "id": "x", "detail": {}});
    let outcome = handle_event(other, &h.ctx).await.unwrap();
    assert!(outcome.ignored.unwrap().contains("Scheduled Event"));
    let two = json!({"Records": [{"eventName": "A"}, {"eventName": "B"}]});
    let err = handle_event(two, &h.ctx).await.unwrap_err();
    assert!(matches!(err, HandleError::NotOneEvent { found: 2 }));
    assert!(!err.is_retryable());
}

/// A user created seconds before the event may be missing from the first
/// GetUser (IAM is eventually consistent; moto is not, so the in-memory IAM
/// models it): the exemption read is repeated, and its tag still counts.
#[tokio::test]
async fn the_exemption_read_waits_for_a_user_iam_does_not_show_yet() {
    for (tag, expected) in [
        (Some(("trailguard:exempt", "true")), Status::Exempt),
        (None, Status::Done),
    ] {
        let iam = Arc::new(MemoryIam::eventually(
            IamState::default(),
            bob_with_policy(tag),
            2,
        ));
        let h = harness(REMEDIATE, iam.clone(), false);
        let outcome = handle_event(attach_event("bob"), &h.ctx).await.unwrap();
        let r = outcome.findings[0].remediation.as_ref().unwrap();
        assert_eq!(r.status, expected, "{r:?}");
        assert_eq!(
            iam.calls().iter().filter(|c| **c == "iam:GetUser").count(),
            3
        );
        if expected == Status::Exempt {
            assert!(iam.history().is_empty());
        }
    }
}

/// One rule decides when an alert counts as lost, for events and the scan.
#[test]
fn an_alert_is_lost_when_no_channel_took_it() {
    let delivery = |channel, status| Delivery {
        channel,
        status,
        id: None,
        error: None,
    };
    assert!(!alert_lost(&[]), "no alert due: nothing lost");
    assert!(alert_lost(&[delivery(
        Channel::Sns,
        DeliveryStatus::Failed
    )]));
    assert!(alert_lost(&[
        delivery(Channel::Sns, DeliveryStatus::Failed),
        delivery(Channel::Slack, DeliveryStatus::Failed),
    ]));
    assert!(!alert_lost(&[
        delivery(Channel::Sns, DeliveryStatus::Failed),
        delivery(Channel::Slack, DeliveryStatus::Sent),
    ]));
}

/// Exactly once per finding and channel, with a state table.
mod once {
    use super::*;
    use crate::effects::memory::MemoryAlertState;
    use crate::effects::{AlertState, Claim, ClaimTimes, Fold, Member};

    const ALERTS: &str = "[alerts]\nsns_topic_arn = \"arn:aws:sns:us-east-1:111122223333:trailguard-alerts\"\nstate_table = \"trailguard-state\"";

    fn with_state() -> (Harness, Arc<MemoryAlertState>) {
        let iam = Arc::new(MemoryIam::new(bob_with_policy(None)));
        let mut h = harness(ALERTS, iam, true);
        let state = Arc::new(MemoryAlertState::default());
        h.ctx = h.ctx.with_alert_state(state.clone());
        (h, state)
    }

    fn statuses(outcome: &crate::live::Outcome) -> Vec<(Channel, DeliveryStatus)> {
        outcome.findings[0]
            .alerts
            .iter()
            .map(|d| (d.channel, d.status))
            .collect()
    }

    #[tokio::test]
    async fn the_same_event_three_times_alerts_each_channel_once() {
        let (h, state) = with_state();
        let first = handle_event(attach_event("bob"), &h.ctx).await.unwrap();
        assert_eq!(
            statuses(&first),
            [
                (Channel::Sns, DeliveryStatus::Sent),
                (Channel::Slack, DeliveryStatus::Sent)
            ]
        );
        for _ in 0..2 {
            let again = handle_event(attach_event("bob"), &h.ctx).await.unwrap();
            assert_eq!(
                statuses(&again),
                [
                    (Channel::Sns, DeliveryStatus::AlreadySent),
                    (Channel::Slack, DeliveryStatus::AlreadySent)
                ]
            );
            assert!(again.errors.is_empty());
        }
        assert_eq!(h.published.messages().len(), 1);
        assert_eq!(h.webhook.bodies().len(), 1);
        let id = attach_event("bob")["detail"]["eventID"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            state.sent(),
            [
                format!("alert#{id}#user-policy-attached#slack"),
                format!("alert#{id}#user-policy-attached#sns"),
            ]
        );
        assert!(
            state
                .calls()
                .iter()
                .all(|op| crate::effects::alert_state::PERMISSIONS.contains(op)),
            "{:?}",
            state.calls()
        );
        let now = chrono::Utc::now().timestamp();
        for (_, expires) in state.expiries() {
            assert!((expires - now - 7 * 24 * 3600).abs() < 60, "{expires}");
        }
    }

    /// Remediate mode with a state table and Slack, AddUserToGroup
    /// throttled `throttled` times before it works.
    fn remediating_with_state(throttled: usize) -> (Harness, Arc<MemoryAlertState>) {
        let iam = Arc::new(
            FaultyIam::new(MemoryIam::new(bob_with_policy(None))).fail_first(
                "iam:AddUserToGroup",
                throttled,
                ErrorKind::Throttled,
            ),
        );
        let config = format!("{REMEDIATE}\nstate_table = \"trailguard-state\"");
        let mut h = harness(&config, iam, true);
        let state = Arc::new(MemoryAlertState::default());
        h.ctx = h.ctx.with_alert_state(state.clone());
        (h, state)
    }

    #[tokio::test]
    async fn a_retry_that_completes_a_failed_remediation_is_alerted_again() {
        let (h, state) = remediating_with_state(1);
        let status = |o: &crate::live::Outcome| o.findings[0].remediation.as_ref().unwrap().status;
        let err = handle_event(attach_event("bob"), &h.ctx).await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
        assert_eq!(status(err.outcome().unwrap()), Status::Failed);
        // The retry completes the move: its alert tells so, with the undo.
        let retry = handle_event(attach_event("bob"), &h.ctx).await.unwrap();
        assert_eq!(status(&retry), Status::Done);
        assert_eq!(
            statuses(&retry),
            [
                (Channel::Sns, DeliveryStatus::Sent),
                (Channel::Slack, DeliveryStatus::Sent)
            ]
        );
        let bodies: Vec<String> = h
            .published
            .messages()
            .iter()
            .map(|m| m.body.clone())
            .collect();
        assert_eq!(bodies.len(), 2);
        assert!(
            bodies[0].contains("move-policy-to-group FAILED"),
            "{}",
            bodies[0]
        );
        assert!(!bodies[1].contains("FAILED"), "{}", bodies[1]);
        assert!(bodies[1].contains("aws iam "), "the undo: {}", bodies[1]);
        assert_eq!(h.webhook.bodies().len(), 2);
        // Later deliveries find both sent.
        let again = handle_event(attach_event("bob"), &h.ctx).await.unwrap();
        assert_eq!(
            statuses(&again),
            [
                (Channel::Sns, DeliveryStatus::AlreadySent),
                (Channel::Slack, DeliveryStatus::AlreadySent)
            ]
        );
        assert_eq!(h.published.messages().len(), 2);
        let id = attach_event("bob")["detail"]["eventID"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            state.sent(),
            [
                format!("alert#{id}#user-policy-attached#failed#slack"),
                format!("alert#{id}#user-policy-attached#failed#sns"),
                format!("alert#{id}#user-policy-attached#slack"),
                format!("alert#{id}#user-policy-attached#sns"),
            ]
        );
    }

    #[tokio::test]
    async fn a_remediation_that_fails_again_is_not_alerted_again() {
        let (h, _) = remediating_with_state(2);
        for _ in 0..2 {
            assert!(handle_event(attach_event("bob"), &h.ctx).await.is_err());
        }
        assert_eq!(h.published.messages().len(), 1);
    }

    #[tokio::test]
    async fn a_retry_after_slack_failed_sends_only_slack() {
        let (h, _) = with_state();
        h.webhook.fail_with(Some(EffectError::new(
            "slack:PostMessage",
            ErrorKind::Unavailable,
            "503",
        )));
        let err = handle_event(attach_event("bob"), &h.ctx).await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
        assert_eq!(
            statuses(err.outcome().unwrap()),
            [
                (Channel::Sns, DeliveryStatus::Sent),
                (Channel::Slack, DeliveryStatus::Failed)
            ]
        );
        h.webhook.fail_with(None);
        let retry = handle_event(attach_event("bob"), &h.ctx).await.unwrap();
        assert_eq!(
            statuses(&retry),
            [
                (Channel::Sns, DeliveryStatus::AlreadySent),
                (Channel::Slack, DeliveryStatus::Sent)
            ]
        );
        assert_eq!(h.published.messages().len(), 1);
        assert_eq!(h.webhook.bodies().len(), 1);
    }

    #[tokio::test]
    async fn an_unreachable_table_still_alerts() {
        let (h, state) = with_state();
        state.down(true);
        for _ in 0..2 {
            let outcome = handle_event(attach_event("bob"), &h.ctx).await.unwrap();
            assert_eq!(
                statuses(&outcome),
                [
                    (Channel::Sns, DeliveryStatus::Sent),
                    (Channel::Slack, DeliveryStatus::Sent)
                ]
            );
        }
        // Twice: an alert twice beats an alert lost.
        assert_eq!(h.published.messages().len(), 2);
        assert_eq!(h.webhook.bodies().len(), 2);
        assert!(state.sent().is_empty());
    }

    #[tokio::test]
    async fn a_claim_held_by_another_delivery_fails_retryably_and_sends_nothing() {
        let (h, state) = with_state();
        let id = attach_event("bob")["detail"]["eventID"]
            .as_str()
            .unwrap()
            .to_owned();
        let now = chrono::Utc::now().timestamp();
        let times = ClaimTimes {
            now,
            lease_until: now + 120,
            expires_at: now + 3600,
        };
        for channel in ["sns", "slack"] {
            let key = format!("alert#{id}#user-policy-attached#{channel}");
            assert_eq!(state.claim(&key, times).await.unwrap(), Claim::Won);
        }
        let err = handle_event(attach_event("bob"), &h.ctx).await.unwrap_err();
        assert!(err.is_retryable());
        assert!(
            err.to_string()
                .contains("another delivery of this finding is sending it"),
            "{err}"
        );
        assert!(h.published.messages().is_empty());
        assert!(h.webhook.bodies().is_empty());
    }

    #[tokio::test]
    async fn without_a_table_every_delivery_alerts_as_before() {
        let iam = Arc::new(MemoryIam::new(bob_with_policy(None)));
        let h = harness(
            &format!("[alerts]\nsns_topic_arn = \"{TOPIC}\""),
            iam,
            false,
        );
        for _ in 0..3 {
            handle_event(attach_event("bob"), &h.ctx).await.unwrap();
        }
        assert_eq!(h.published.messages().len(), 3);
    }

    #[test]
    fn an_alert_sent_before_is_not_lost() {
        let d = |channel, status| Delivery {
            channel,
            status,
            id: None,
            error: None,
        };
        assert!(!alert_lost(&[d(Channel::Sns, DeliveryStatus::AlreadySent)]));
        assert!(!alert_lost(&[
            d(Channel::Sns, DeliveryStatus::AlreadySent),
            d(Channel::Slack, DeliveryStatus::Failed)
        ]));
    }

    /// A CloudTrail call by alice, as an EventBridge envelope with its own id.
    fn trail_call(name: &str, id: &str) -> serde_json::Value {
        let mut ev = iam_call(name, json!({"name": "main"}), json!(null));
        ev["eventSource"] = "cloudtrail.amazonaws.com".into();
        ev["eventID"] = id.into();
        json!({
            "version": "0",
            "id": id,
            "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.cloudtrail",
            "account": "111122223333",
            "region": "us-east-1",
            "detail": ev,
        })
    }

    const GROUP_TRAILS: &str =
        "\n[alerts.grouping.cloudtrail-tampered]\nby = [\"principal\"]\nwindow_minutes = 60";

    fn grouped(config: &str) -> (Harness, Arc<MemoryAlertState>) {
        let iam = Arc::new(MemoryIam::new(IamState::default()));
        let mut h = harness(&format!("{ALERTS}{config}"), iam, false);
        let state = Arc::new(MemoryAlertState::default());
        h.ctx = h.ctx.with_alert_state(state.clone());
        (h, state)
    }

    #[tokio::test]
    async fn a_finding_more_severe_than_its_groups_first_alerts_at_once() {
        let (h, _) = grouped(GROUP_TRAILS);
        let status = |o: &crate::live::Outcome| o.findings[0].alerts[0].status;
        let first = handle_event(trail_call("UpdateTrail", "e-1"), &h.ctx)
            .await
            .unwrap();
        assert_eq!(status(&first), DeliveryStatus::Sent);
        let same = handle_event(trail_call("UpdateTrail", "e-2"), &h.ctx)
            .await
            .unwrap();
        assert_eq!(status(&same), DeliveryStatus::Grouped);
        // StopLogging is critical, the group's first was high.
        let worse = handle_event(trail_call("StopLogging", "e-3"), &h.ctx)
            .await
            .unwrap();
        assert_eq!(worse.findings[0].severity, crate::rules::Severity::Critical);
        assert_eq!(status(&worse), DeliveryStatus::Sent);
        let subjects: Vec<String> = h
            .published
            .messages()
            .into_iter()
            .map(|m| m.subject)
            .collect();
        assert_eq!(subjects.len(), 2, "{subjects:?}");
        assert!(
            subjects[1].starts_with("trailguard CRITICAL"),
            "{subjects:?}"
        );
    }

    /// Two deliveries of one grouped finding at once: the duplicate meets
    /// the first's claim before the first decided. Alerting then would be
    /// one alert too many (the first folds it); it waits for the decision.
    #[tokio::test]
    async fn a_duplicate_of_a_finding_being_grouped_waits_for_the_first_decision() {
        let (h, state) = grouped(GROUP_TRAILS);
        let status = |o: &crate::live::Outcome| o.findings[0].alerts[0].status;
        let opened = handle_event(trail_call("UpdateTrail", "e-1"), &h.ctx)
            .await
            .unwrap();
        assert_eq!(status(&opened), DeliveryStatus::Sent);
        let gate = state.hold_next_fold();
        let first = handle_event(trail_call("UpdateTrail", "e-2"), &h.ctx);
        let duplicate = async {
            while state.undecided().is_empty() {
                tokio::task::yield_now().await;
            }
            let answer = handle_event(trail_call("UpdateTrail", "e-2"), &h.ctx).await;
            gate.notify_one();
            answer
        };
        let (first, duplicate) = tokio::join!(first, duplicate);
        assert_eq!(status(&first.unwrap()), DeliveryStatus::Grouped);
        let Err(e) = duplicate else {
            panic!("the duplicate did not wait: {duplicate:?}");
        };
        let outcome = e.outcome().expect("an outcome");
        assert!(outcome.retryable(), "{outcome:?}");
        assert_eq!(status(outcome), DeliveryStatus::Failed);
        assert!(
            outcome.findings[0].alerts[0]
                .error
                .as_deref()
                .is_some_and(|m| m.contains("another delivery of this finding")),
            "{outcome:?}"
        );
        // Lambda's retry finds the decision.
        let retry = handle_event(trail_call("UpdateTrail", "e-2"), &h.ctx)
            .await
            .unwrap();
        assert_eq!(status(&retry), DeliveryStatus::Grouped);
        assert_eq!(h.published.messages().len(), 1);
    }

    /// A first delivery that died between its claim and its decision keeps
    /// its duplicates waiting for the claim's lease only.
    #[tokio::test]
    async fn a_claim_whose_delivery_died_is_taken_over_after_its_lease() {
        let state = MemoryAlertState::default();
        let member = |now: i64| Member {
            group: "group#111122223333#cloudtrail-tampered#alice",
            finding: "alert#e-2#cloudtrail-tampered",
            rule: "cloudtrail-tampered",
            label: "alice",
            severity: 2,
            call: "cloudtrail:UpdateTrail",
            time: "2024-03-01T00:00:00Z",
            now,
            lease_until: now + crate::executor::CLAIM_LEASE_SECONDS,
            closes_at: now + 3600,
            expires_at: now + 7200,
        };
        let _gate = state.hold_next_fold();
        // The first delivery claims, then dies (its future dropped).
        let first = member(1_000);
        tokio::select! {
            _ = state.fold(&first) => panic!("the held fold decided"),
            () = async {
                while state.undecided().is_empty() {
                    tokio::task::yield_now().await;
                }
            } => {}
        }
        let lease_until = 1_000 + crate::executor::CLAIM_LEASE_SECONDS;
        assert_eq!(
            state.fold(&member(lease_until)).await.unwrap(),
            Fold::InFlight { lease_until }
        );
        assert_eq!(
            state.fold(&member(lease_until + 1)).await.unwrap(),
            Fold::AlertNow
        );
        assert!(state.undecided().is_empty());
        // Decided once: every later delivery answers the same.
        assert_eq!(
            state.fold(&member(lease_until + 2)).await.unwrap(),
            Fold::AlertNow
        );
    }

    #[tokio::test]
    async fn a_remediated_finding_is_never_folded() {
        let (h, _) = grouped(&format!(
            "{GROUP_TRAILS}\n[modes]\ncloudtrail-tampered = \"remediate\""
        ));
        for id in ["e-1", "e-2"] {
            let o = handle_event(trail_call("StopLogging", id), &h.ctx)
                .await
                .unwrap();
            assert_eq!(o.findings[0].alerts[0].status, DeliveryStatus::Sent);
        }
        assert_eq!(h.published.messages().len(), 2);
    }

    #[tokio::test]
    async fn with_the_table_down_a_grouped_finding_alerts_on_its_own() {
        let (h, state) = grouped(GROUP_TRAILS);
        state.down(true);
        for id in ["e-1", "e-2"] {
            let o = handle_event(trail_call("UpdateTrail", id), &h.ctx)
                .await
                .unwrap();
            assert_eq!(o.findings[0].alerts[0].status, DeliveryStatus::Sent);
        }
        assert_eq!(h.published.messages().len(), 2);
    }
}

/// Security Hub: one finding per (event, rule), updated by a later state,
/// imported in batches of 100 with throttling retried.
mod hub {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::effects::memory::MemoryHub;
    use crate::remediate::Sleep;

    /// Records the waits instead of waiting.
    #[derive(Default)]
    struct NoWait(Mutex<Vec<Duration>>);

    #[async_trait::async_trait]
    impl Sleep for NoWait {
        async fn sleep(&self, d: Duration) {
            self.0.lock().unwrap().push(d);
        }
    }

    fn with_hub(config: &str, iam: Arc<dyn Iam>) -> (Harness, Arc<MemoryHub>, Arc<NoWait>) {
        let mut h = harness(config, iam, false);
        let hub = Arc::new(MemoryHub::default());
        let waits = Arc::new(NoWait::default());
        h.ctx = h.ctx.with_hub(hub.clone());
        h.ctx.sleep = waits.clone();
        (h, hub, waits)
    }

    #[tokio::test]
    async fn a_finding_is_imported_once_per_event_and_rule_then_updated_when_remediated() {
        let iam = Arc::new(MemoryIam::new(bob_with_policy(None)));
        let (h, hub, _) = with_hub(
            &format!("[alerts]\nsns_topic_arn = \"{TOPIC}\""),
            iam.clone(),
        );
        handle_event(attach_event("bob"), &h.ctx).await.unwrap();
        handle_event(attach_event("bob"), &h.ctx).await.unwrap();
        let held = hub.findings();
        assert_eq!(held.len(), 1, "{held:#?}");
        let (id, f) = held.iter().next().unwrap();
        assert_eq!(id, "trailguard/111122223333/e-1/user-policy-attached");
        assert_eq!(f.generator_id, "trailguard/event/user-policy-attached");
        assert_eq!(f.severity, "MEDIUM");
        assert_eq!(
            f.resources,
            [(
                "AwsIamUser".to_owned(),
                "arn:aws:iam::111122223333:user/bob".to_owned()
            )]
        );
        assert_eq!(f.requirements, ["CIS 1.15", "IAM.2"]);
        assert!(!f.passed && !f.archived);
        assert!(
            f.recommendation
                .contains("move-policy-to-group remediation: planned"),
            "{}",
            f.recommendation
        );

        // The same event handled in remediate mode: the same finding, fixed.
        let (h, hub2, _) = with_hub(REMEDIATE, iam);
        handle_event(attach_event("bob"), &h.ctx).await.unwrap();
        let f = &hub2.findings()[id];
        assert!(f.passed && f.archived, "{f:#?}");
        assert!(f.fields.contains(&(
            "trailguard/remediation".into(),
            "move-policy-to-group done".into()
        )));
    }

    #[tokio::test]
    async fn batches_hold_at_most_a_hundred_and_throttling_is_retried() {
        let (h, hub, waits) = with_hub("", Arc::new(MemoryIam::default()));
        hub.throttle(2);
        let findings: Vec<crate::effects::HubFinding> = (0..250)
            .map(|i| crate::effects::HubFinding {
                id: format!("f-{i:03}"),
                generator_id: "trailguard/event/root-api-call".into(),
                account: "111122223333".into(),
                partition: "aws".into(),
                types: vec![],
                created_at: String::new(),
                updated_at: String::new(),
                severity: "HIGH".into(),
                title: String::new(),
                description: String::new(),
                recommendation: String::new(),
                resources: vec![],
                passed: false,
                requirements: vec![],
                archived: false,
                fields: vec![],
                source_url: None,
            })
            .collect();
        let mut errors = Vec::new();
        super::super::import_batches(&h.ctx, hub.as_ref(), &findings, &mut errors).await;
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(hub.batches(), [100, 100, 50]);
        assert_eq!(hub.findings().len(), 250);
        assert_eq!(
            *waits.0.lock().unwrap(),
            [Duration::from_secs(1), Duration::from_secs(2)]
        );
        // Throttled past every attempt: reported, retryable.
        hub.throttle(10);
        super::super::import_batches(&h.ctx, hub.as_ref(), &findings[..1], &mut errors).await;
        assert_eq!(errors.len(), 1);
        assert!(errors[0].is_retryable());
        assert!(
            errors[0]
                .to_string()
                .starts_with("security hub import of 1 finding failed"),
            "{}",
            errors[0]
        );
    }
}

/// The executor across accounts: where an event's remediation runs, and
/// why it does not.
mod accounts {
    use std::sync::Arc;

    use serde_json::json;

    use crate::alert::slack::WebhookSource;
    use crate::config::Config;
    use crate::effects::MemberAccess;
    use crate::effects::memory::{
        IamState, MemoryAccountNames, MemoryIam, MemoryMembers, MemorySecrets, MemoryTrail,
        RecordingPublisher, RecordingWebhook,
    };
    use crate::executor::FailureKind;
    use crate::live::{Effects, HandleError, LiveContext, handle_event};
    use crate::remediate::{Retry, Status};
    use crate::rules::testing::iam_call;

    const READ_ONLY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    const OWN: &str = "111111111111";
    const B: &str = "222222222222";
    const C: &str = "333333333333";
    const REMEDIATE: &str = "self_role_arn = \"arn:aws:iam::111111111111:role/trailguard\"\n[modes]\nuser-policy-attached = \"remediate\"\n";

    fn bob() -> Arc<MemoryIam> {
        let mut s = IamState::default();
        s.user("bob").attached.insert(READ_ONLY.into());
        Arc::new(MemoryIam::new(s))
    }

    struct World {
        ctx: LiveContext,
        own: Arc<MemoryIam>,
        b: Arc<MemoryIam>,
        c: Arc<MemoryIam>,
        members: Arc<MemoryMembers>,
        published: Arc<RecordingPublisher>,
    }

    /// The function's own account and members B and C (each with bob holding
    /// ReadOnlyAccess directly), under `extra` config.
    fn world(extra: &str) -> World {
        let config =
            Config::from_toml(&format!("{REMEDIATE}{extra}"), "t", std::iter::empty()).unwrap();
        let (own, b, c) = (bob(), bob(), bob());
        let members = Arc::new(
            MemoryMembers::default()
                .with_account(B, b.clone(), Arc::new(MemoryTrail::default()))
                .with_account(C, c.clone(), Arc::new(MemoryTrail::default())),
        );
        let published = Arc::new(RecordingPublisher::default());
        let effects = Effects {
            iam: own.clone(),
            trail: Arc::new(MemoryTrail::default()),
            publisher: published.clone(),
            webhook: Arc::new(RecordingWebhook::default()),
            secrets: Arc::new(MemorySecrets::default()),
        };
        let ctx = LiveContext::new(config, effects, WebhookSource::None)
            .with_retry(Retry::quick())
            .with_accounts(
                Some(OWN.into()),
                Some(members.clone() as Arc<dyn MemberAccess>),
            );
        World {
            ctx,
            own,
            b,
            c,
            members,
            published,
        }
    }

    fn attach_in(account: &str) -> serde_json::Value {
        let mut ev = iam_call(
            "AttachUserPolicy",
            json!({"userName": "bob", "policyArn": READ_ONLY}),
            json!(null),
        );
        ev["recipientAccountId"] = account.into();
        ev["eventID"] = "ev-1".into();
        json!({"version": "0", "id": "e", "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.iam", "account": account, "region": "us-east-1", "detail": ev})
    }

    fn has_policy(iam: &MemoryIam) -> bool {
        iam.state().users["bob"].attached.contains(READ_ONLY)
    }

    #[tokio::test]
    async fn the_own_accounts_event_acts_with_the_own_credentials() {
        let w = world("[organization]\nmember_role_name = \"trailguard-member\"");
        let outcome = handle_event(attach_in(OWN), &w.ctx).await.unwrap();
        let r = outcome.findings[0].remediation.as_ref().unwrap();
        assert_eq!(r.status, Status::Done, "{r:?}");
        assert!(!has_policy(&w.own));
        assert!(has_policy(&w.b) && has_policy(&w.c));
        assert!(w.members.assumed().is_empty());
    }

    #[tokio::test]
    async fn a_member_accounts_event_is_remediated_there_through_the_member_role_only() {
        let w = world("[organization]\nmember_role_name = \"trailguard-member\"");
        let outcome = handle_event(attach_in(B), &w.ctx).await.unwrap();
        let r = outcome.findings[0].remediation.as_ref().unwrap();
        assert_eq!(r.status, Status::Done, "{r:?}");
        assert!(!has_policy(&w.b), "not remediated in B");
        assert!(
            has_policy(&w.own) && has_policy(&w.c),
            "changed another account"
        );
        assert!(w.own.calls().is_empty(), "{:?}", w.own.calls());
        // A later event of B: the session is cached for an hour, so its
        // name must be as true of this event as of the first.
        let mut later = attach_in(B);
        later["detail"]["eventID"] = "ev-2".into();
        handle_event(later, &w.ctx).await.unwrap();
        assert_eq!(
            w.members.assumed(),
            [
                (B.to_string(), "trailguard".to_string()),
                (B.to_string(), "trailguard".to_string())
            ]
        );
    }

    #[tokio::test]
    async fn another_account_is_alerted_only_in_the_one_account_mode() {
        let w = world("");
        let outcome = handle_event(attach_in(B), &w.ctx).await.unwrap();
        let r = outcome.findings[0].remediation.as_ref().unwrap();
        assert_eq!(r.status, Status::Planned);
        assert!(
            r.notes.iter().any(|n| n.contains("`222222222222`")
                && n.contains("organisation mode is off")
                && n.contains("nothing was changed")),
            "{r:?}"
        );
        assert!(has_policy(&w.own) && has_policy(&w.b));
        assert!(w.own.calls().is_empty() && w.b.calls().is_empty());
        assert!(w.members.assumed().is_empty());
    }

    #[tokio::test]
    async fn accounts_outside_the_allow_list_or_excluded_are_alerted_only() {
        let w = world(
            "[organization]\nmember_role_name = \"trailguard-member\"\naccounts = [\"222222222222\"]\nexclude_accounts = [\"222222222222\"]",
        );
        for (account, why) in [
            (B, "organization.exclude_accounts"),
            (C, "not in organization.accounts"),
        ] {
            let outcome = handle_event(attach_in(account), &w.ctx).await.unwrap();
            let r = outcome.findings[0].remediation.as_ref().unwrap();
            assert_eq!(r.status, Status::Planned, "{account}");
            assert!(r.notes.iter().any(|n| n.contains(why)), "{r:?}");
        }
        assert!(has_policy(&w.b) && has_policy(&w.c));
        assert!(w.members.assumed().is_empty());
    }

    #[tokio::test]
    async fn a_member_role_that_cannot_be_assumed_fails_that_event_and_changes_nothing() {
        let w = world("[organization]\nmember_role_name = \"trailguard-member\"");
        let mut event = attach_in("444444444444");
        event["detail"]["eventID"] = "ev-4".into();
        let Err(HandleError::Effects { outcome }) = handle_event(event, &w.ctx).await else {
            panic!("an unassumable role must fail the event");
        };
        let r = outcome.findings[0].remediation.as_ref().unwrap();
        assert_eq!(r.status, Status::Failed);
        assert!(
            r.notes[0].contains("member role of account 444444444444 was not assumed"),
            "{r:?}"
        );
        assert_eq!(outcome.errors[0].kind, FailureKind::Remediation);
        assert!(!outcome.errors[0].retryable, "access denied is not retried");
        // The next account's event is not affected.
        handle_event(attach_in(C), &w.ctx).await.unwrap();
        assert!(!has_policy(&w.c));
    }

    #[tokio::test]
    async fn alerts_of_another_account_name_it_and_the_own_accounts_are_unchanged() {
        let mut w = world(
            "[alerts]\nsns_topic_arn = \"arn:aws:sns:us-east-1:111111111111:t\"\n[organization]\nmember_role_name = \"trailguard-member\"",
        );
        let names = MemoryAccountNames([(B.to_string(), "Prod".to_string())].into());
        w.ctx = w.ctx.with_account_names(Arc::new(names));
        handle_event(attach_in(OWN), &w.ctx).await.unwrap();
        handle_event(attach_in(B), &w.ctx).await.unwrap();
        handle_event(attach_in(C), &w.ctx).await.unwrap();
        let subjects: Vec<_> = w
            .published
            .messages()
            .into_iter()
            .map(|m| m.subject)
            .collect();
        assert_eq!(
            subjects,
            [
                "trailguard MEDIUM user-policy-attached: user bob (111111111111)",
                "trailguard MEDIUM user-policy-attached: user bob (222222222222 Prod)",
                "trailguard MEDIUM user-policy-attached: user bob (333333333333)",
            ]
        );
        let bodies: Vec<_> = w.published.messages().into_iter().map(|m| m.body).collect();
        assert!(!bodies[0].contains("sign in to account"));
        assert!(bodies[1].contains("sign in to account 222222222222 (Prod)"));
        assert!(bodies[2].contains("sign in to account 333333333333 "));
    }
}
