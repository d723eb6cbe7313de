//! Organisation mode against moto with several accounts: moto's
//! `sts:AssumeRole` answers credentials that act in the role's account, and
//! keeps IAM state per account.

use std::sync::Arc;

use serde_json::Value;
use trailguard::Config;
use trailguard::effects::aws_member::AwsMembers;
use trailguard::effects::{ErrorKind, MemberAccess, MemberTarget};
use trailguard::live::{LiveContext, handle_event};
use trailguard::remediate::Status;

use crate::support::fixtures::event;
use crate::support::http::{Listener, Response};
use crate::support::moto::{ACCOUNT, AlertQueue, Moto};

const B: &str = "222222222222";
const C: &str = "333333333333";
const READ_ONLY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
const TOPIC: &str = "trailguard-org-alerts";

/// An IAM client acting in `account` (through moto's AssumeRole).
async fn iam_in(moto: &Moto, account: &str) -> aws_sdk_iam::Client {
    let sdk = moto.sdk_config().await;
    if account == ACCOUNT {
        return aws_sdk_iam::Client::new(&sdk);
    }
    let provider =
        aws_config::sts::AssumeRoleProvider::builder(format!("arn:aws:iam::{account}:role/setup"))
            .session_name("setup")
            .configure(&sdk)
            .build()
            .await;
    let conf = sdk
        .to_builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(provider),
        )
        .build();
    aws_sdk_iam::Client::new(&conf)
}

/// bob, holding ReadOnlyAccess directly, in `account`.
async fn bob_in(moto: &Moto, account: &str) -> aws_sdk_iam::Client {
    let iam = iam_in(moto, account).await;
    iam.create_user().user_name("bob").send().await.unwrap();
    iam.attach_user_policy()
        .user_name("bob")
        .policy_arn(READ_ONLY)
        .send()
        .await
        .unwrap();
    iam
}

async fn holds_directly(iam: &aws_sdk_iam::Client) -> bool {
    let attached = iam
        .list_attached_user_policies()
        .user_name("bob")
        .send()
        .await
        .unwrap();
    !attached.attached_policies().is_empty()
}

/// The AttachUserPolicy fixture, of `account` (envelope and record).
fn attach_in(account: &str, id: usize) -> Value {
    let mut e = event("attach-user-policy");
    e["account"] = account.into();
    e["detail"]["recipientAccountId"] = account.into();
    e["detail"]["userIdentity"]["accountId"] = account.into();
    e["detail"]["userIdentity"]["arn"] = format!("arn:aws:iam::{account}:user/alice").into();
    e["detail"]["eventID"] = format!("ev-{id}").into();
    e
}

/// The function in moto's default account, remediating, in organisation
/// mode under `org` (the `[organization]` section's lines).
async fn function(moto: &Moto, topic: &str, org: &str) -> (LiveContext, Arc<AwsMembers>) {
    let config = Config::from_toml(
        &format!(
            "[modes]\nuser-policy-attached = \"remediate\"\n[remediation]\npropagation_delay_seconds = 0\n[alerts]\nsns_topic_arn = \"{topic}\"\n[organization]\nmember_role_name = \"trailguard-member\"\n{org}"
        ),
        "org.toml",
        std::iter::empty(),
    )
    .unwrap();
    let sdk = moto.sdk_config().await;
    let ctx = LiveContext::from_sdk_config(config, &sdk, None)
        .unwrap()
        .with_organization(&sdk)
        .await
        .unwrap();
    // The own account is what STS says the function's credentials are.
    assert_eq!(ctx.own_account.as_deref(), Some(ACCOUNT));
    let members = Arc::new(AwsMembers::new(&sdk, "trailguard-member"));
    let own = ctx.own_account.clone();
    let ctx = ctx.with_accounts(own, Some(members.clone() as Arc<dyn MemberAccess>));
    (ctx, members)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_of_member_b_is_remediated_in_b_and_nowhere_else() {
    let moto = Moto::start();
    let queue = AlertQueue::create(&moto, TOPIC).await;
    let (a, b, c) = (
        bob_in(&moto, ACCOUNT).await,
        bob_in(&moto, B).await,
        bob_in(&moto, C).await,
    );
    let (ctx, members) = function(&moto, &queue.topic_arn, "").await;

    let outcome = handle_event(attach_in(B, 1), &ctx).await.unwrap();
    let report = outcome.findings[0].remediation.as_ref().unwrap();
    assert_eq!(report.status, Status::Done, "{report:?}");
    assert!(!holds_directly(&b).await, "not remediated in B");
    let groups = b
        .list_groups_for_user()
        .user_name("bob")
        .send()
        .await
        .unwrap();
    let names: Vec<_> = groups.groups().iter().map(|g| g.group_name()).collect();
    assert_eq!(names, ["trailguard-read-only"]);
    assert!(holds_directly(&a).await, "A changed");
    assert!(holds_directly(&c).await, "C changed");
    assert!(
        a.list_groups().send().await.unwrap().groups().is_empty(),
        "a group was made in A"
    );
    assert_eq!(members.assume_role_calls(), 1);
    // The alert names B.
    let alerts = queue.drain().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["MessageAttributes"]["account"]["Value"], B);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_assume_role_per_account_across_a_hundred_events() {
    let moto = Moto::start();
    let queue = AlertQueue::create(&moto, TOPIC).await;
    let (b, c) = (bob_in(&moto, B).await, bob_in(&moto, C).await);
    let (ctx, members) = function(&moto, &queue.topic_arn, "").await;
    for i in 0..100 {
        let account = if i % 2 == 0 { B } else { C };
        let outcome = handle_event(attach_in(account, i), &ctx).await.unwrap();
        let status = outcome.findings[0].remediation.as_ref().unwrap().status;
        let expected = if i < 2 {
            Status::Done
        } else {
            Status::Unchanged
        };
        assert_eq!(status, expected, "event {i}");
    }
    assert_eq!(members.assume_role_calls(), 2);
    assert!(!holds_directly(&b).await && !holds_directly(&c).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelope_and_record_of_different_accounts_are_rejected_and_nothing_is_done() {
    let moto = Moto::start();
    let queue = AlertQueue::create(&moto, TOPIC).await;
    let (b, c) = (bob_in(&moto, B).await, bob_in(&moto, C).await);
    let (ctx, members) = function(&moto, &queue.topic_arn, "").await;
    let mut forged = attach_in(B, 1);
    forged["detail"]["recipientAccountId"] = C.into();
    let outcome = handle_event(forged, &ctx).await.unwrap();
    assert!(outcome.forged);
    assert!(
        outcome
            .ignored
            .as_deref()
            .unwrap()
            .contains("envelope account `222222222222` disagrees"),
        "{outcome:?}"
    );
    assert!(outcome.findings.is_empty());
    assert!(holds_directly(&b).await && holds_directly(&c).await);
    assert_eq!(members.assume_role_calls(), 0);
    assert!(queue.drain().await.is_empty(), "a forged event was alerted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_outside_the_allow_list_is_alerted_only() {
    let moto = Moto::start();
    let queue = AlertQueue::create(&moto, TOPIC).await;
    let c = bob_in(&moto, C).await;
    let (ctx, members) = function(&moto, &queue.topic_arn, "accounts = [\"222222222222\"]").await;
    let outcome = handle_event(attach_in(C, 1), &ctx).await.unwrap();
    let report = outcome.findings[0].remediation.as_ref().unwrap();
    assert_eq!(report.status, Status::Planned);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("not in organization.accounts")),
        "{report:?}"
    );
    assert!(holds_directly(&c).await);
    assert_eq!(members.assume_role_calls(), 0);
    let alerts = queue.drain().await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["MessageAttributes"]["account"]["Value"], C);
    assert!(
        alerts[0]["Message"]
            .as_str()
            .unwrap()
            .contains("not in organization.accounts"),
        "{}",
        alerts[0]["Message"]
    );
}

/// STS refusing the role (moto assumes any role, so a loopback listener
/// answers as STS does for a role that is missing or does not trust us).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_role_sts_refuses_fails_with_access_denied_not_retried() {
    let sts = Listener::start(|_| Response::aws_error(403, "AccessDenied")).await;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(sts.url(""))
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await;
    let members = AwsMembers::new(&sdk, "trailguard-member");
    let target = MemberTarget {
        account: B,
        partition: "aws",
        region: Some("eu-west-1"),
    };
    let Err(e) = members.account(&target).await else {
        panic!("a refused role opened");
    };
    assert_eq!(e.operation, "sts:AssumeRole", "{e}");
    assert_eq!(e.kind, ErrorKind::AccessDenied, "{e}");
    assert!(!e.is_retryable());
    let requests = sts.requests();
    let body = requests[0].text();
    assert!(body.contains("Action=AssumeRole"), "{body}");
    assert!(
        body.contains("RoleArn=arn%3Aaws%3Aiam%3A%3A222222222222%3Arole%2Ftrailguard-member"),
        "{body}"
    );
    // One name for every use of the cached session, not the first event's.
    assert!(
        body.split('&').any(|p| p == "RoleSessionName=trailguard"),
        "{body}"
    );
    // Not kept: the next event tries again.
    assert!(members.account(&target).await.is_err());
    assert_eq!(members.assume_role_calls(), 2);
}

/// The member access of a function whose STS is a loopback listener
/// answering every call with the STS error `code` (HTTP `status`), without
/// the SDK's retries (one request per `AssumeRole`).
async fn members_refused(status: u16, code: &'static str) -> (Listener, AwsMembers) {
    let sts = Listener::start(move |_| Response::aws_error(status, code)).await;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(sts.url(""))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await;
    (sts, AwsMembers::new(&sdk, "trailguard-member"))
}

/// STS's answer is classified by its error code, as the SDK reports it
/// through the credentials provider, not by the text of the message:
/// throttling is retried, a refusal is not, and the code is STS's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assume_role_errors_are_classified_by_stss_error_code() {
    for (status, code, kind) in [
        (403, "AccessDenied", ErrorKind::AccessDenied),
        (400, "Throttling", ErrorKind::Throttled),
        (400, "ThrottlingException", ErrorKind::Throttled),
        (403, "InvalidClientTokenId", ErrorKind::AccessDenied),
        (400, "PackedPolicyTooLarge", ErrorKind::Invalid),
        (503, "ServiceUnavailable", ErrorKind::Unavailable),
    ] {
        let (sts, members) = members_refused(status, code).await;
        let target = MemberTarget {
            account: B,
            partition: "aws",
            region: Some("us-east-1"),
        };
        let Err(e) = members.account(&target).await else {
            panic!("{code}: a refused role opened");
        };
        assert_eq!(e.operation, "sts:AssumeRole", "{code}: {e}");
        assert_eq!(e.code.as_deref(), Some(code), "{code}: {e}");
        assert_eq!(e.kind, kind, "{code}: {e}");
        assert_eq!(
            e.is_retryable(),
            matches!(kind, ErrorKind::Throttled | ErrorKind::Unavailable),
            "{code}: {e}"
        );
        assert!(e.message.contains(code), "{code}: {e}");
        assert_eq!(sts.requests().len(), 1, "{code}");
    }
}

/// moto's Organizations: the management account (moto's default) creates
/// an account named `name`; its id.
async fn create_account(moto: &Moto, name: &str) -> String {
    let org = aws_sdk_organizations::Client::new(&moto.sdk_config().await);
    let _ = org.create_organization().send().await;
    let created = org
        .create_account()
        .account_name(name)
        .email(format!("{name}@example.com"))
        .send()
        .await
        .unwrap();
    created
        .create_account_status()
        .and_then(|s| s.account_id())
        .expect("moto creates accounts at once")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alert_of_a_member_account_names_it_from_organizations() {
    let moto = Moto::start();
    let queue = AlertQueue::create(&moto, TOPIC).await;
    let prod = create_account(&moto, "Prod").await;
    let own_bob = bob_in(&moto, ACCOUNT).await;
    let prod_bob = bob_in(&moto, &prod).await;
    let config = Config::from_toml(
        &format!(
            "[modes]\nuser-policy-attached = \"remediate\"\n[remediation]\npropagation_delay_seconds = 0\n[alerts]\nsns_topic_arn = \"{}\"\n[organization]\nmember_role_name = \"trailguard-member\"",
            queue.topic_arn
        ),
        "org.toml",
        std::iter::empty(),
    )
    .unwrap();
    let sdk = moto.sdk_config().await;
    // As the Lambda builds it: the member role and the account names.
    let ctx = LiveContext::from_sdk_config(config, &sdk, None)
        .unwrap()
        .with_organization(&sdk)
        .await
        .unwrap();
    let in_prod = handle_event(attach_in(&prod, 1), &ctx).await.unwrap();
    let report = in_prod.findings[0].remediation.as_ref().unwrap();
    assert_eq!(report.status, Status::Done, "{report:?}");
    // Remediated in Prod, through its member role: bob holds the policy
    // through the group only.
    assert!(!holds_directly(&prod_bob).await, "not remediated in Prod");
    let groups = prod_bob
        .list_groups_for_user()
        .user_name("bob")
        .send()
        .await
        .unwrap();
    let names: Vec<_> = groups.groups().iter().map(|g| g.group_name()).collect();
    assert_eq!(names, ["trailguard-read-only"]);
    handle_event(attach_in(ACCOUNT, 2), &ctx).await.unwrap();
    let alerts = queue.drain().await;
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    let member = alerts
        .iter()
        .find(|a| a["MessageAttributes"]["account"]["Value"] == prod.as_str())
        .unwrap();
    assert_eq!(
        member["Subject"],
        format!("trailguard MEDIUM user-policy-attached: user bob ({prod} Prod)")
    );
    assert_eq!(member["MessageAttributes"]["account_name"]["Value"], "Prod");
    assert!(
        member["Message"]
            .as_str()
            .unwrap()
            .contains(&format!("sign in to account {prod} (Prod)"))
    );
    let own = alerts
        .iter()
        .find(|a| a["MessageAttributes"]["account"]["Value"] == ACCOUNT)
        .unwrap();
    assert_eq!(
        own["Subject"],
        format!("trailguard MEDIUM user-policy-attached: user bob ({ACCOUNT})")
    );
    assert!(own["MessageAttributes"].get("account_name").is_none());
    assert!(
        !own["Message"]
            .as_str()
            .unwrap()
            .contains("sign in to account")
    );
    assert!(!holds_directly(&own_bob).await);
}

/// The function as the Lambda builds it in organisation mode, with the
/// scan queue at `queue_url`; remediating the password policy.
/// `organization` adds lines to the config's `[organization]` section.
async fn scanning_function(
    moto: &Moto,
    topic: &str,
    queue_url: &str,
    organization: &str,
) -> (LiveContext, Arc<dyn trailguard::effects::CredentialSource>) {
    let config = Config::from_toml(
        &format!(
            "[modes]\npassword-policy-below-baseline = \"remediate\"\n[alerts]\nsns_topic_arn = \"{topic}\"\n[organization]\nmember_role_name = \"trailguard-member\"\n{organization}"
        ),
        "org.toml",
        std::iter::empty(),
    )
    .unwrap();
    let sdk = moto.sdk_config().await;
    let (ctx, source) = LiveContext::with_credential_source(config, &sdk, None).unwrap();
    let ctx = ctx
        .with_organization(&sdk)
        .await
        .unwrap()
        .with_scan_queue_url(&sdk, Some(queue_url));
    (ctx, source)
}

/// The messages waiting in `url`, as the SQS records of a Lambda event.
async fn take_records(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        if got.messages().is_empty() {
            return out;
        }
        for m in got.messages() {
            out.push(serde_json::json!({
                "messageId": m.message_id().unwrap(),
                "receiptHandle": m.receipt_handle().unwrap(),
                "body": m.body().unwrap(),
                "eventSource": "aws:sqs",
                "awsRegion": "us-east-1",
            }));
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

async fn scan_queue(moto: &Moto) -> (aws_sdk_sqs::Client, String) {
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config().await);
    let url = sqs
        .create_queue()
        .queue_name("trailguard-scans")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    (sqs, url)
}

const SCHEDULED: &str = r#"{"version":"0","id":"s1","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2024-05-01T00:00:00Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/trailguard-CredentialScan"],"detail":{}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scan_fans_out_over_three_accounts_each_with_its_own_summary() {
    let moto = Moto::start();
    let alerts = AlertQueue::create(&moto, TOPIC).await;
    let (x, y) = (
        create_account(&moto, "Prod").await,
        create_account(&moto, "Dev").await,
    );
    let (sqs, url) = scan_queue(&moto).await;
    let (ctx, source) = scanning_function(&moto, &alerts.topic_arn, &url, "").await;

    // The schedule: one message per account, nothing scanned yet.
    let answer = trailguard::lambda::invoke(SCHEDULED, None, &ctx, source.as_ref())
        .await
        .unwrap();
    let mut all = vec![ACCOUNT.to_string(), x.clone(), y.clone()];
    all.sort();
    assert_eq!(answer["dispatched"]["listed_from"], "organizations");
    assert_eq!(answer["dispatched"]["queued"], serde_json::json!(all));
    assert!(alerts.drain().await.is_empty());
    let records = take_records(&sqs, &url).await;
    assert_eq!(records.len(), 3);
    let bodies: Vec<&str> = records
        .iter()
        .map(|r| r["body"].as_str().unwrap())
        .collect();
    assert!(
        bodies.contains(&format!(r#"{{"trailguard":"scan-account","account":"{x}"}}"#).as_str())
    );

    // The queue: one invocation per account (batch size 1).
    for record in &records {
        let event = serde_json::json!({ "Records": [record] }).to_string();
        let answer = trailguard::lambda::invoke(&event, None, &ctx, source.as_ref())
            .await
            .unwrap();
        assert_eq!(answer, serde_json::json!({"batchItemFailures": []}));
    }
    let mut subjects: Vec<String> = alerts
        .drain()
        .await
        .iter()
        .map(|a| a["Subject"].as_str().unwrap().to_owned())
        .collect();
    subjects.sort();
    assert_eq!(subjects.len(), 3, "{subjects:?}");
    for (subject, account) in subjects.iter().zip(&all) {
        assert!(
            subject.starts_with(&format!("trailguard scan {account}: ")),
            "{subjects:?} {all:?}"
        );
    }
    // Each account's password policy restored in that account.
    for account in &all {
        let iam = iam_in(&moto, account).await;
        let policy = iam.get_account_password_policy().send().await.unwrap();
        assert_eq!(
            policy.password_policy().unwrap().minimum_password_length(),
            Some(14),
            "{account}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_whose_role_is_denied_fails_alone_and_is_left_for_the_retry() {
    let moto = Moto::start();
    let alerts = AlertQueue::create(&moto, TOPIC).await;
    let (x, y) = (
        create_account(&moto, "Prod").await,
        create_account(&moto, "Dev").await,
    );
    let (sqs, url) = scan_queue(&moto).await;
    let (ctx, source) = scanning_function(&moto, &alerts.topic_arn, &url, "").await;
    let sdk = moto.sdk_config().await;
    // AssumeRole denied in X, half way through the batch.
    let members: Arc<dyn MemberAccess> = Arc::new(trailguard::effects::faults::DeniedMembers::new(
        Arc::new(AwsMembers::new(&sdk, "trailguard-member")),
        &[x.as_str()],
    ));
    let own = ctx.own_account.clone();
    let ctx = ctx.with_accounts(own, Some(members));
    trailguard::lambda::invoke(SCHEDULED, None, &ctx, source.as_ref())
        .await
        .unwrap();
    let mut records = take_records(&sqs, &url).await;
    records.sort_by_key(|r| r["body"].as_str().unwrap().to_owned());
    let denied = records
        .iter()
        .find(|r| r["body"].as_str().unwrap().contains(&x))
        .unwrap()["messageId"]
        .clone();
    let event = serde_json::json!({ "Records": records }).to_string();
    let answer = trailguard::lambda::invoke(&event, None, &ctx, source.as_ref())
        .await
        .unwrap();
    assert_eq!(
        answer,
        serde_json::json!({"batchItemFailures": [{"itemIdentifier": denied}]})
    );
    let subjects: Vec<String> = alerts
        .drain()
        .await
        .iter()
        .map(|a| a["Subject"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(subjects.iter().all(|s| !s.contains(&x)));
    assert!(subjects.iter().any(|s| s.contains(&y)));
    // A message that is no scan fails too: it ends in the dead-letter queue.
    let odd = serde_json::json!({"Records": [{"messageId": "m-odd", "body": "{}", "eventSource": "aws:sqs"}]});
    let answer = trailguard::lambda::invoke(&odd.to_string(), None, &ctx, source.as_ref())
        .await
        .unwrap();
    assert_eq!(answer["batchItemFailures"][0]["itemIdentifier"], "m-odd");
}

/// An excluded account is neither queued by the dispatcher nor scanned
/// from a message naming it (sent by hand, or queued before the
/// configuration changed): the message fails, nothing is read, changed or
/// alerted there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_excluded_account_is_not_scanned_even_from_a_message_naming_it() {
    let moto = Moto::start();
    let alerts = AlertQueue::create(&moto, TOPIC).await;
    let (x, y) = (
        create_account(&moto, "Prod").await,
        create_account(&moto, "Dev").await,
    );
    let (sqs, url) = scan_queue(&moto).await;
    let (ctx, source) = scanning_function(
        &moto,
        &alerts.topic_arn,
        &url,
        &format!("exclude_accounts = [\"{x}\"]"),
    )
    .await;
    let answer = trailguard::lambda::invoke(SCHEDULED, None, &ctx, source.as_ref())
        .await
        .unwrap();
    let mut allowed = vec![ACCOUNT.to_string(), y.clone()];
    allowed.sort();
    assert_eq!(answer["dispatched"]["queued"], serde_json::json!(allowed));
    assert_eq!(take_records(&sqs, &url).await.len(), 2);

    let body = format!(r#"{{"trailguard":"scan-account","account":"{x}"}}"#);
    let event = serde_json::json!({
        "Records": [{"messageId": "m-x", "eventSource": "aws:sqs", "body": body}]
    });
    let answer = trailguard::lambda::invoke(&event.to_string(), None, &ctx, source.as_ref())
        .await
        .unwrap();
    assert_eq!(
        answer,
        serde_json::json!({"batchItemFailures": [{"itemIdentifier": "m-x"}]})
    );
    assert!(alerts.drain().await.is_empty());
    let policy = iam_in(&moto, &x)
        .await
        .get_account_password_policy()
        .send()
        .await;
    assert!(
        policy.is_err(),
        "the excluded account's password policy was set: {policy:?}"
    );
}

/// `trailguard` against moto, in organisation mode through the environment.
fn cli(moto: &Moto, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(args)
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("TRAILGUARD_MEMBER_ROLE_NAME", "trailguard-member")
        .env("TRAILGUARD_MODES", "user-policy-attached=remediate")
        .env("TRAILGUARD_PROPAGATION_DELAY_SECONDS", "0")
        .env_remove("AWS_PROFILE")
        .env_remove("TRAILGUARD_CONFIG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_scans_every_account_or_one_and_handles_a_members_events() {
    let moto = Moto::start();
    let (x, y) = (
        create_account(&moto, "Prod").await,
        create_account(&moto, "Dev").await,
    );
    let out = cli(&moto, &["scan", "--all-accounts", "--format", "json"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut ids: Vec<&str> = reports
        .iter()
        .map(|r| r["account_id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut all = vec![ACCOUNT, x.as_str(), y.as_str()];
    all.sort();
    assert_eq!(ids, all);

    let out = cli(&moto, &["scan", "--account", &y, "--format", "json"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["account_id"], y.as_str());

    // handle --account: the member's event acted on in that account only.
    let b = bob_in(&moto, &x).await;
    let c = bob_in(&moto, &y).await;
    let events = format!("{}\n{}\n", attach_in(&x, 1), attach_in(&y, 2));
    let out = cli(&moto, &["handle", "--account", &x], Some(&events));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outcomes: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(outcomes[0]["findings"][0]["remediation"]["status"], "done");
    assert_eq!(
        outcomes[1]["findings"][0]["remediation"]["status"],
        "planned"
    );
    assert!(!holds_directly(&b).await);
    assert!(holds_directly(&c).await);

    // Usage errors name the problem.
    for (args, message) in [
        (
            vec!["scan", "--account", "12345"],
            "`12345` is not a 12-digit account id",
        ),
        (
            vec!["handle", "--account", "1"],
            "`1` is not a 12-digit account id",
        ),
    ] {
        let out = cli(&moto, &args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(message));
    }
}

/// Past the SDK's 64 partitions of a shared identity cache: each account
/// keeps its own session (before, 70 accounts evicted each other's and
/// every call assumed its role again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seventy_accounts_keep_their_sessions() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let members = AwsMembers::new(&sdk, "trailguard-member");
    let ids: Vec<String> = (0..70)
        .map(|i| format!("{:012}", 500_000_000_000u64 + i))
        .collect();
    for round in 0..2 {
        for id in &ids {
            let target = MemberTarget {
                account: id,
                partition: "aws",
                region: Some("us-east-1"),
            };
            let effects = members.account(&target).await.unwrap();
            assert_eq!(
                effects.iam.user("nobody").await.unwrap(),
                None,
                "round {round}"
            );
        }
    }
    assert_eq!(members.assume_role_calls(), 70);
}
