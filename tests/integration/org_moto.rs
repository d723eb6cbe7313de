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
        purpose: "ev-1",
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
    assert!(body.contains("RoleSessionName=trailguard-ev-1"), "{body}");
    // Not kept: the next event tries again.
    assert!(members.account(&target).await.is_err());
    assert_eq!(members.assume_role_calls(), 2);
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
    bob_in(&moto, &prod).await;
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
    handle_event(attach_in(&prod, 1), &ctx).await.unwrap();
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
