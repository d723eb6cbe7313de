//! The alert lifecycle against moto: each finding alerted once per channel
//! through the DynamoDB state table (created with the contract's schema),
//! SNS read back through a subscribed SQS queue, Slack on a loopback
//! listener.
//!
//! Needs `python3 -m moto.server` (pip install "moto[server]").

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};
use serde_json::Value;
use trailguard::config::Config;
use trailguard::effects::aws_state::DynamoAlertState;
use trailguard::executor::DeliveryStatus;
use trailguard::live::{LiveContext, Outcome, handle_event};

use crate::support::fixtures::event;
use crate::support::http::{Listener, Response};
use crate::support::moto::{AlertQueue, Moto};

const TABLE: &str = "trailguard-state";

/// Creates the state table as an operator would: one string partition key
/// `pk`, no sort key, on demand, TTL on `expires_at`.
async fn create_state_table(moto: &Moto) -> aws_sdk_dynamodb::Client {
    let ddb = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    ddb.create_table()
        .table_name(TABLE)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    ddb.update_time_to_live()
        .table_name(TABLE)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expires_at")
                .enabled(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    ddb
}

/// moto with a topic, a queue on it and the state table; Slack on a
/// loopback listener that fails its first `slack_failures` posts.
struct Stage {
    moto: Moto,
    alerts: AlertQueue,
    slack: Listener,
    ddb: aws_sdk_dynamodb::Client,
}

impl Stage {
    async fn start(slack_failures: usize) -> Stage {
        Self::on(Moto::start(), slack_failures).await
    }

    async fn on(moto: Moto, slack_failures: usize) -> Stage {
        let alerts = AlertQueue::create(&moto, "trailguard-alerts").await;
        let ddb = create_state_table(&moto).await;
        let seen = AtomicUsize::new(0);
        let slack = Listener::start(move |_| {
            if seen.fetch_add(1, Ordering::SeqCst) < slack_failures {
                Response {
                    status: 503,
                    content_type: "text/plain",
                    body: "unavailable".into(),
                    headers: Vec::new(),
                }
            } else {
                Response::ok("ok")
            }
        })
        .await;
        Stage {
            moto,
            alerts,
            slack,
            ddb,
        }
    }

    /// A live context on moto with the alerts configured, and the state
    /// table when `table` is set.
    async fn ctx(&self, table: bool) -> LiveContext {
        let mut text = format!("[alerts]\nsns_topic_arn = \"{}\"\n", self.alerts.topic_arn);
        if table {
            text.push_str(&format!("state_table = \"{TABLE}\"\n"));
        }
        let config = Config::from_toml(&text, "test", std::iter::empty()).unwrap();
        let sdk = self.moto.sdk_config().await;
        LiveContext::from_sdk_config(config, &sdk, Some(self.slack.url("/hook"))).unwrap()
    }

    fn slack_posts(&self) -> usize {
        self.slack.requests().len()
    }
}

fn statuses(outcome: &Outcome) -> Vec<(String, DeliveryStatus)> {
    outcome
        .findings
        .iter()
        .flat_map(|f| f.alerts.iter())
        .map(|d| (d.channel.to_string(), d.status))
        .collect()
}

async fn handle(ctx: &LiveContext, event: Value) -> Result<Outcome, Box<Outcome>> {
    handle_event(event, ctx)
        .await
        .map_err(|e| Box::new(e.outcome().expect("an outcome").clone()))
}

#[tokio::test]
async fn the_same_event_three_times_alerts_each_channel_once() {
    let stage = Stage::start(0).await;
    let ctx = stage.ctx(true).await;
    let first = handle(&ctx, event("attach-user-policy")).await.unwrap();
    assert_eq!(
        statuses(&first),
        [
            ("sns".into(), DeliveryStatus::Sent),
            ("slack".into(), DeliveryStatus::Sent)
        ]
    );
    for _ in 0..2 {
        let again = handle(&ctx, event("attach-user-policy")).await.unwrap();
        assert_eq!(
            statuses(&again),
            [
                ("sns".into(), DeliveryStatus::AlreadySent),
                ("slack".into(), DeliveryStatus::AlreadySent)
            ]
        );
    }
    assert_eq!(stage.alerts.drain().await.len(), 1);
    assert_eq!(stage.slack_posts(), 1);

    // The table holds one item per channel, marked sent, with its TTL.
    let items = stage.ddb.scan().table_name(TABLE).send().await.unwrap();
    let mut keys: Vec<String> = items
        .items()
        .iter()
        .map(|i| {
            assert_eq!(i["status"].as_s().unwrap(), "sent");
            let expires: i64 = i["expires_at"].as_n().unwrap().parse().unwrap();
            assert!(expires > chrono::Utc::now().timestamp() + 6 * 24 * 3600);
            i["pk"].as_s().unwrap().clone()
        })
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "alert#8a1f3c55-7d2e-4b0a-9f61-2c3d4e5f6a01#user-policy-attached#slack",
            "alert#8a1f3c55-7d2e-4b0a-9f61-2c3d4e5f6a01#user-policy-attached#sns",
        ]
    );
}

#[tokio::test]
async fn concurrent_duplicates_then_their_retries_alert_each_channel_once() {
    // moto serving one request at a time, so its conditional writes are
    // atomic as DynamoDB's are; the deliveries still run concurrently.
    let stage = Stage::on(Moto::start_serial(), 0).await;
    let ctx = stage.ctx(true).await;
    let (a, b, c) = tokio::join!(
        handle(&ctx, event("attach-user-policy")),
        handle(&ctx, event("attach-user-policy")),
        handle(&ctx, event("attach-user-policy")),
    );
    // A duplicate that met another's claim fails retryably; Lambda retries
    // it, and the retry finds the alert sent.
    for outcome in [a, b, c] {
        if let Err(failed) = outcome {
            assert!(failed.retryable(), "{failed:#?}");
            let retry = handle(&ctx, event("attach-user-policy")).await.unwrap();
            assert_eq!(statuses(&retry).len(), 2, "{retry:#?}");
            assert!(
                statuses(&retry)
                    .iter()
                    .all(|(_, s)| *s == DeliveryStatus::AlreadySent),
                "{retry:#?}"
            );
        }
    }
    assert_eq!(stage.alerts.drain().await.len(), 1);
    assert_eq!(stage.slack_posts(), 1);
}

#[tokio::test]
async fn a_retry_after_sns_succeeded_and_slack_failed_sends_only_slack() {
    let stage = Stage::start(1).await;
    let ctx = stage.ctx(true).await;
    let failed = handle(&ctx, event("attach-user-policy")).await.unwrap_err();
    assert!(failed.retryable());
    assert_eq!(
        statuses(&failed),
        [
            ("sns".into(), DeliveryStatus::Sent),
            ("slack".into(), DeliveryStatus::Failed)
        ]
    );
    let retry = handle(&ctx, event("attach-user-policy")).await.unwrap();
    assert_eq!(
        statuses(&retry),
        [
            ("sns".into(), DeliveryStatus::AlreadySent),
            ("slack".into(), DeliveryStatus::Sent)
        ]
    );
    assert_eq!(stage.alerts.drain().await.len(), 1);
    // The failed post, then the retry's.
    assert_eq!(stage.slack_posts(), 2);
}

#[tokio::test]
async fn the_state_table_unreachable_still_alerts() {
    let stage = Stage::start(0).await;
    // DynamoDB on a loopback port where nothing listens.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let sdk = stage.moto.sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(format!("http://127.0.0.1:{port}"))
            .build(),
    );
    let ctx = stage
        .ctx(true)
        .await
        .with_alert_state(Arc::new(DynamoAlertState::new(ddb, TABLE)));
    for _ in 0..2 {
        let outcome = handle(&ctx, event("attach-user-policy")).await.unwrap();
        assert_eq!(
            statuses(&outcome),
            [
                ("sns".into(), DeliveryStatus::Sent),
                ("slack".into(), DeliveryStatus::Sent)
            ]
        );
    }
    // An alert twice beats an alert lost.
    assert_eq!(stage.alerts.drain().await.len(), 2);
    assert_eq!(stage.slack_posts(), 2);
}

#[tokio::test]
async fn without_a_state_table_each_delivery_alerts_as_before() {
    let stage = Stage::start(0).await;
    let ctx = stage.ctx(false).await;
    for _ in 0..2 {
        handle(&ctx, event("attach-user-policy")).await.unwrap();
    }
    assert_eq!(stage.alerts.drain().await.len(), 2);
}

/// The 60 root calls of one session from one address: 40 CreateBucket,
/// 15 CreateUser, 5 DescribeInstances, each its own event.
fn root_calls() -> Vec<Value> {
    let text = std::fs::read_to_string(format!(
        "{}/events/root-api-call.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let base: Value = serde_json::from_str(&text).unwrap();
    (0..60)
        .map(|i| {
            let mut e = base.clone();
            let (source, name) = match i {
                0..40 => ("s3.amazonaws.com", "CreateBucket"),
                40..55 => ("iam.amazonaws.com", "CreateUser"),
                _ => ("ec2.amazonaws.com", "DescribeInstances"),
            };
            let d = &mut e["detail"];
            d["eventSource"] = source.into();
            d["eventName"] = name.into();
            d["eventID"] = format!("00000000-0000-4000-8000-{i:012}").into();
            d["eventTime"] = format!("2026-12-01T10:{i:02}:00Z").into();
            d["userIdentity"]["accessKeyId"] = "ASIAROOTSESSION".into();
            e
        })
        .collect()
}

#[tokio::test]
async fn sixty_root_calls_give_one_alert_then_one_follow_up_when_the_window_closes() {
    let stage = Stage::start(0).await;
    let ctx = stage.ctx(true).await;
    let calls = root_calls();
    let mut statuses_seen = Vec::new();
    for e in &calls {
        let outcome = handle(&ctx, e.clone()).await.unwrap();
        statuses_seen.push(statuses(&outcome));
    }
    // A duplicate delivery of a folded call is not counted twice.
    let again = handle(&ctx, calls[7].clone()).await.unwrap();
    assert!(
        statuses(&again)
            .iter()
            .all(|(_, s)| *s == DeliveryStatus::Grouped)
    );
    assert!(
        statuses_seen[0]
            .iter()
            .all(|(_, s)| *s == DeliveryStatus::Sent)
    );
    assert!(
        statuses_seen[1..]
            .iter()
            .flatten()
            .all(|(_, s)| *s == DeliveryStatus::Grouped)
    );
    let first = stage.alerts.drain().await;
    assert_eq!(first.len(), 1);
    assert_eq!(stage.slack_posts(), 1);

    // No further event: the sweep alone closes the window once its hour is
    // up, and not before.
    let now = chrono::Utc::now().timestamp();
    let early = trailguard::live::close_windows(&ctx, now + 60)
        .await
        .unwrap();
    assert!(early.is_empty());
    let closed = trailguard::live::close_windows(&ctx, now + 3700)
        .await
        .unwrap();
    assert_eq!(closed.len(), 1);
    assert!(closed[0].closed);
    assert_eq!(closed[0].folded, 59);
    let follow_up = stage.alerts.drain().await;
    assert_eq!(follow_up.len(), 1);
    let body = follow_up[0]["Message"].as_str().unwrap();
    assert!(
        body.starts_with(
            "59 more root-api-call findings: s3:CreateBucket ×39, iam:CreateUser ×15, ec2:DescribeInstances ×5"
        ),
        "{body}"
    );
    assert!(body.contains("First:   2026-12-01T10:01:00Z"), "{body}");
    assert!(body.contains("Last:    2026-12-01T10:59:00Z"), "{body}");
    assert!(
        body.contains("Group:   session=ASIAROOTSESSION, source-ip=100.100.100.100"),
        "{body}"
    );
    assert_eq!(
        follow_up[0]["Subject"],
        "trailguard HIGH root-api-call: 59 more in 60 min (123456789012)"
    );
    let slack = stage.slack.requests();
    assert_eq!(slack.len(), 2);
    assert!(slack[1].text().contains("59 more root-api-call findings"));

    // The window is gone: the next sweep sends nothing, and the next call
    // opens a new window with an alert of its own.
    let later = trailguard::live::close_windows(&ctx, now + 7200)
        .await
        .unwrap();
    assert!(later.is_empty());
}

#[tokio::test]
async fn a_follow_up_that_fails_is_sent_by_the_next_sweep_once_per_channel() {
    // Slack fails the follow-up once (the first alert is its first post).
    let stage = Stage::start(0).await;
    let ctx = stage.ctx(true).await;
    for e in root_calls().into_iter().take(3) {
        handle(&ctx, e).await.unwrap();
    }
    stage.alerts.drain().await;
    let now = chrono::Utc::now().timestamp();
    // SNS down for the first sweep: a topic that does not exist.
    let broken = {
        let text = format!(
            "[alerts]\nsns_topic_arn = \"{}-gone\"\nstate_table = \"{TABLE}\"\n",
            stage.alerts.topic_arn
        );
        let config = Config::from_toml(&text, "test", std::iter::empty()).unwrap();
        LiveContext::from_sdk_config(
            config,
            &stage.moto.sdk_config().await,
            Some(stage.slack.url("/hook")),
        )
        .unwrap()
    };
    let first = trailguard::live::close_windows(&broken, now + 3700)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert!(!first[0].closed, "{first:#?}");
    assert_eq!(stage.slack_posts(), 2, "slack took the follow-up");
    let retry = trailguard::live::close_windows(&ctx, now + 3800)
        .await
        .unwrap();
    assert!(retry[0].closed, "{retry:#?}");
    let statuses: Vec<_> = retry[0].alerts.iter().map(|d| d.status).collect();
    assert_eq!(
        statuses,
        [DeliveryStatus::Sent, DeliveryStatus::AlreadySent]
    );
    let sns = stage.alerts.drain().await;
    assert_eq!(sns.len(), 1);
    assert!(
        sns[0]["Message"]
            .as_str()
            .unwrap()
            .starts_with("2 more root-api-call findings")
    );
    assert_eq!(stage.slack_posts(), 2);
}

/// A finding counted after the sweep read its window (the count's write
/// late, the sweep early) keeps the window: DynamoDB refuses the delete
/// of a window whose count moved, and the next sweep sends a follow-up
/// with the new count, not one already sent.
#[tokio::test]
async fn a_finding_counted_after_the_sweep_read_its_window_is_in_the_next_follow_up() {
    use trailguard::effects::AlertState;
    let stage = Stage::start(0).await;
    let ctx = stage.ctx(true).await;
    let calls = root_calls();
    for e in calls.iter().take(3) {
        handle(&ctx, e.clone()).await.unwrap();
    }
    stage.alerts.drain().await;
    let state = DynamoAlertState::new(stage.ddb.clone(), TABLE);
    let now = chrono::Utc::now().timestamp();
    let due = state.due_windows(now + 3700).await.unwrap();
    assert_eq!(due.len(), 1);
    let read = &due[0];
    assert_eq!(read.folded, 2);
    // The fourth call is counted while the window is still open.
    handle(&ctx, calls[3].clone()).await.unwrap();
    // The sweep that read 2 may not remove a window that counts 3.
    assert!(
        !state
            .close_window(&read.key, read.opened_at, 2)
            .await
            .unwrap()
    );
    let swept = trailguard::live::close_windows(&ctx, now + 3700)
        .await
        .unwrap();
    assert_eq!(swept.len(), 1);
    assert_eq!(swept[0].folded, 3);
    assert!(swept[0].closed, "{swept:#?}");
    let sns = stage.alerts.drain().await;
    assert_eq!(sns.len(), 1);
    assert!(
        sns[0]["Message"]
            .as_str()
            .unwrap()
            .starts_with("3 more root-api-call findings"),
        "{sns:?}"
    );
}

/// The DynamoDB adapter's answer to a duplicate of a grouped finding whose
/// first delivery claimed it and has not decided (its item written by hand,
/// as that delivery left it): in flight while the claim's lease runs,
/// taken over after it, and the same for a claim without a lease.
#[tokio::test]
async fn a_grouped_finding_claimed_and_undecided_is_in_flight_until_its_lease_ends() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use trailguard::effects::{AlertState, Fold, Member};

    let moto = Moto::start();
    let ddb = create_state_table(&moto).await;
    let state = DynamoAlertState::new(ddb.clone(), TABLE);
    let member = |finding: &'static str, now: i64| Member {
        group: "group#111122223333#cloudtrail-tampered#alice",
        finding,
        rule: "cloudtrail-tampered",
        label: "alice",
        severity: 2,
        call: "cloudtrail:UpdateTrail",
        time: "2024-03-01T00:00:00Z",
        now,
        lease_until: now + trailguard::executor::CLAIM_LEASE_SECONDS,
        closes_at: now + 3600,
        expires_at: now + 7200,
    };
    let claim = |finding: &str, lease: Option<i64>| {
        let mut put = ddb
            .put_item()
            .table_name(TABLE)
            .item("pk", AttributeValue::S(format!("{finding}#group")))
            .item("status", AttributeValue::S("claimed".into()))
            .item("expires_at", AttributeValue::N("9999999999".into()));
        if let Some(lease) = lease {
            put = put.item("lease_until", AttributeValue::N(lease.to_string()));
        }
        put.send()
    };
    let now = 1_000_000;
    // The group's window is open: its first finding alerted.
    assert_eq!(
        state
            .fold(&member("alert#e-1#cloudtrail-tampered", now))
            .await
            .unwrap(),
        Fold::AlertNow
    );
    // e-2's first delivery claimed it and has not decided.
    let lease_until = now + 120;
    claim("alert#e-2#cloudtrail-tampered", Some(lease_until))
        .await
        .unwrap();
    let e2 = "alert#e-2#cloudtrail-tampered";
    assert_eq!(
        state.fold(&member(e2, now + 1)).await.unwrap(),
        Fold::InFlight { lease_until }
    );
    assert_eq!(
        state.fold(&member(e2, lease_until)).await.unwrap(),
        Fold::InFlight { lease_until }
    );
    // The lease ran out: that delivery died; this one decides, once.
    assert_eq!(
        state.fold(&member(e2, lease_until + 1)).await.unwrap(),
        Fold::Folded
    );
    assert_eq!(
        state.fold(&member(e2, lease_until + 2)).await.unwrap(),
        Fold::Folded
    );
    // A claim written before claims had a lease is taken over at once.
    let e3 = "alert#e-3#cloudtrail-tampered";
    claim(e3, None).await.unwrap();
    assert_eq!(
        state.fold(&member(e3, now + 2)).await.unwrap(),
        Fold::Folded
    );
}
