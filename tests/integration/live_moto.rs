//! The live path end to end against moto: real SDK calls, IAM state read
//! back after each event, SNS messages read back through a subscribed SQS
//! queue.
//!
//! Needs `python3 -m moto.server` (pip install "moto[server]").

use std::collections::BTreeSet;

use serde_json::Value;
use trailguard::config::Config;
use trailguard::effects::aws::AwsIam;
use trailguard::effects::faults::{FaultyIam, When};
use trailguard::effects::memory::MemoryTrail;
use trailguard::live::{LiveContext, Outcome, handle_event};
use trailguard::remediate::Action;
use trailguard::remediate::{self, Retry, Status};

use crate::support::fixtures::{access_key_created, event, remediate_config_path, with_request};
use crate::support::moto::{ACCOUNT, AlertQueue, Moto};

const READ_ONLY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
const VIEW_ONLY: &str = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess";
const TOPIC_NAME: &str = "trailguard-alerts";

/// moto, a live context on it with every remediation on, and an SQS queue
/// subscribed to the alert topic.
struct Live {
    moto: Moto,
    ctx: LiveContext,
    iam: aws_sdk_iam::Client,
    alerts: AlertQueue,
}

impl Live {
    async fn start() -> Live {
        let moto = Moto::start();
        let sdk = moto.sdk_config().await;
        let alerts = AlertQueue::create(&moto, TOPIC_NAME).await;
        assert_eq!(
            alerts.topic_arn,
            format!("arn:aws:sns:us-east-1:{ACCOUNT}:{TOPIC_NAME}")
        );
        let path = remediate_config_path();
        let config = Config::load(Some(std::path::Path::new(&path)), std::iter::empty()).unwrap();
        let ctx = LiveContext::from_sdk_config(config, &sdk, None)
            .unwrap()
            .with_retry(Retry::quick());
        Live {
            iam: aws_sdk_iam::Client::new(&sdk),
            moto,
            ctx,
            alerts,
        }
    }

    /// The SNS notifications delivered since the last call, read from SQS.
    async fn alerts(&self) -> Vec<Value> {
        self.alerts.drain().await
    }

    async fn handle(&self, event: Value) -> Outcome {
        match handle_event(event, &self.ctx).await {
            Ok(o) => o,
            Err(e) => panic!("{e}: {:#?}", e.outcome()),
        }
    }

    async fn create_user(&self, user: &str) {
        self.iam.create_user().user_name(user).send().await.unwrap();
    }

    async fn attach(&self, user: &str, policy: &str) {
        self.iam
            .attach_user_policy()
            .user_name(user)
            .policy_arn(policy)
            .send()
            .await
            .unwrap();
    }

    async fn view(&self, user: &str) -> UserView {
        view(&self.iam, user).await
    }
}

/// What a user holds, read back from IAM.
#[derive(Debug, PartialEq, Eq)]
struct UserView {
    direct: BTreeSet<String>,
    /// (group, path, attached policies)
    groups: BTreeSet<(String, String, BTreeSet<String>)>,
}

impl UserView {
    fn holds(&self, policy: &str) -> bool {
        self.direct.contains(policy) || self.groups.iter().any(|(_, _, p)| p.contains(policy))
    }
}

async fn view(iam: &aws_sdk_iam::Client, user: &str) -> UserView {
    let direct = iam
        .list_attached_user_policies()
        .user_name(user)
        .send()
        .await
        .unwrap()
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(String::from))
        .collect();
    let mut groups = BTreeSet::new();
    let list = iam
        .list_groups_for_user()
        .user_name(user)
        .send()
        .await
        .unwrap();
    for g in list.groups() {
        let attached = group_policies(iam, g.group_name()).await;
        groups.insert((g.group_name().to_owned(), g.path().to_owned(), attached));
    }
    UserView { direct, groups }
}

async fn group_policies(iam: &aws_sdk_iam::Client, group: &str) -> BTreeSet<String> {
    iam.list_attached_group_policies()
        .group_name(group)
        .send()
        .await
        .unwrap()
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(String::from))
        .collect()
}

fn finding<'a>(outcome: &'a Outcome, rule: &str) -> &'a trailguard::executor::FindingOutcome {
    outcome
        .findings
        .iter()
        .find(|f| f.rule == rule)
        .unwrap_or_else(|| panic!("no {rule} finding in {outcome:#?}"))
}

fn status(outcome: &Outcome, rule: &str) -> Status {
    finding(outcome, rule).remediation.as_ref().unwrap().status
}

fn attr<'a>(alert: &'a Value, name: &str) -> &'a str {
    alert["MessageAttributes"][name]["Value"]
        .as_str()
        .unwrap_or("")
}

#[tokio::test]
async fn move_policy_to_group_end_to_end_then_the_same_event_again() {
    let live = Live::start().await;
    live.create_user("bob").await;
    live.attach("bob", READ_ONLY).await;

    let outcome = live.handle(event("attach-user-policy")).await;
    assert_eq!(status(&outcome, "user-policy-attached"), Status::Done);
    let after = live.view("bob").await;
    assert!(after.direct.is_empty(), "{after:?}");
    let expected: BTreeSet<_> = [(
        "trailguard-read-only".to_string(),
        "/trailguard/".to_string(),
        BTreeSet::from([READ_ONLY.to_string()]),
    )]
    .into();
    assert_eq!(after.groups, expected);

    let alerts = live.alerts().await;
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(
        a["Subject"],
        "trailguard MEDIUM user-policy-attached: user bob (123456789012)"
    );
    assert_eq!(attr(a, "severity"), "medium");
    assert_eq!(attr(a, "rule"), "user-policy-attached");
    assert_eq!(attr(a, "account"), ACCOUNT);
    let body = a["Message"].as_str().unwrap();
    for needle in [
        "Who:           arn:aws:iam::123456789012:user/alice (IAMUser)",
        "Source IP:     203.0.113.7",
        "User agent:    aws-cli/2.17.20",
        "Remediation: move-policy-to-group done",
        "$ aws iam attach-user-policy --user-name bob --policy-arn arn:aws:iam::aws:policy/ReadOnlyAccess",
        "https://us-east-1.console.aws.amazon.com/cloudtrailv2/home?region=us-east-1#/events/8a1f3c55-7d2e-4b0a-9f61-2c3d4e5f6a01",
    ] {
        assert!(body.contains(needle), "missing {needle:?} in\n{body}");
    }

    // At-least-once delivery: the same event again changes nothing.
    let again = live.handle(event("attach-user-policy")).await;
    assert_eq!(status(&again, "user-policy-attached"), Status::Unchanged);
    assert!(again.errors.is_empty());
    assert_eq!(live.view("bob").await, after);
    let alerts = live.alerts().await;
    assert!(
        alerts[0]["Message"]
            .as_str()
            .unwrap()
            .contains("already moved")
    );
}

#[tokio::test]
async fn move_inline_policy_to_group_end_to_end() {
    let live = Live::start().await;
    live.create_user("bob").await;
    let document = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::reports","arn:aws:s3:::reports/*"]}]}"#;
    live.iam
        .put_user_policy()
        .user_name("bob")
        .policy_name("s3-read-reports")
        .policy_document(document)
        .send()
        .await
        .unwrap();

    let outcome = live.handle(event("put-user-policy")).await;
    let r = finding(&outcome, "user-inline-policy")
        .remediation
        .clone()
        .unwrap();
    assert_eq!(r.status, Status::Done, "{r:?}");
    let group = "trailguard-inline-bob-s3-read-reports";
    let user_policies = live
        .iam
        .list_user_policies()
        .user_name("bob")
        .send()
        .await
        .unwrap();
    assert!(user_policies.policy_names().is_empty());
    let copied = live
        .iam
        .get_group_policy()
        .group_name(group)
        .policy_name("s3-read-reports")
        .send()
        .await
        .unwrap();
    let copied = percent_decode(copied.policy_document());
    let same: Value = serde_json::from_str(document).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&copied).unwrap(), same);
    let groups = live.view("bob").await.groups;
    assert!(
        groups
            .iter()
            .any(|(g, p, _)| g == group && p == "/trailguard/")
    );

    // The alert carries the document, so nothing is lost.
    let alerts = live.alerts().await;
    let body = alerts[0]["Message"].as_str().unwrap();
    assert!(
        body.contains("The policy document (kept here so nothing is lost)"),
        "{body}"
    );
    assert!(body.contains("\"arn:aws:s3:::reports/*\""), "{body}");

    let again = live.handle(event("put-user-policy")).await;
    assert_eq!(status(&again, "user-inline-policy"), Status::Unchanged);
}

/// An earlier move put v1 in the dedicated group; bob now has v2 under the
/// same name. Nothing changes, and the alert carries both documents.
#[tokio::test]
async fn move_inline_policy_with_another_version_in_the_group_is_blocked() {
    let live = Live::start().await;
    live.create_user("bob").await;
    let group = "trailguard-inline-bob-s3-read-reports";
    let v1 = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}"#;
    let v2 = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::reports/*"}]}"#;
    live.iam
        .create_group()
        .group_name(group)
        .path("/trailguard/")
        .send()
        .await
        .unwrap();
    live.iam
        .put_group_policy()
        .group_name(group)
        .policy_name("s3-read-reports")
        .policy_document(v1)
        .send()
        .await
        .unwrap();
    live.iam
        .add_user_to_group()
        .group_name(group)
        .user_name("bob")
        .send()
        .await
        .unwrap();
    live.iam
        .put_user_policy()
        .user_name("bob")
        .policy_name("s3-read-reports")
        .policy_document(v2)
        .send()
        .await
        .unwrap();

    let outcome = live.handle(event("put-user-policy")).await;
    let r = finding(&outcome, "user-inline-policy")
        .remediation
        .clone()
        .unwrap();
    assert_eq!(r.status, Status::Blocked, "{r:?}");
    assert!(r.calls.is_empty(), "{r:?}");
    let read = |doc: &str| serde_json::from_str::<Value>(&percent_decode(doc)).unwrap();
    let in_group = live
        .iam
        .get_group_policy()
        .group_name(group)
        .policy_name("s3-read-reports")
        .send()
        .await
        .unwrap();
    assert_eq!(read(in_group.policy_document()), read(v1));
    let on_user = live
        .iam
        .get_user_policy()
        .user_name("bob")
        .policy_name("s3-read-reports")
        .send()
        .await
        .unwrap();
    assert_eq!(read(on_user.policy_document()), read(v2));
    let body = live.alerts().await[0]["Message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(body.contains("with a different document"), "{body}");
    assert!(
        body.contains("s3:GetObject") && body.contains("s3:PutObject"),
        "{body}"
    );
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

#[tokio::test]
async fn deactivate_access_key_end_to_end() {
    let live = Live::start().await;
    live.create_user("bob").await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let k = live
            .iam
            .create_access_key()
            .user_name("bob")
            .send()
            .await
            .unwrap();
        ids.push(k.access_key().unwrap().access_key_id().to_owned());
    }
    let outcome = live.handle(access_key_created("bob", &ids[1])).await;
    assert_eq!(status(&outcome, "access-key-created"), Status::Done);
    let keys = live
        .iam
        .list_access_keys()
        .user_name("bob")
        .send()
        .await
        .unwrap();
    let states: BTreeSet<(String, String)> = keys
        .access_key_metadata()
        .iter()
        .map(|k| {
            (
                k.access_key_id().unwrap().to_owned(),
                k.status().unwrap().as_str().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        states,
        BTreeSet::from([
            (ids[0].clone(), "Active".to_string()),
            (ids[1].clone(), "Inactive".to_string()),
        ]),
        "only that key, deactivated, never deleted"
    );
    let again = live.handle(access_key_created("bob", &ids[1])).await;
    let r = finding(&again, "access-key-created")
        .remediation
        .clone()
        .unwrap();
    assert_eq!(r.status, Status::Unchanged);
    assert!(r.notes[0].contains("already inactive"));
    let gone = live
        .handle(access_key_created("bob", "AKIADELETEDKEY000000"))
        .await;
    let r = finding(&gone, "access-key-created")
        .remediation
        .clone()
        .unwrap();
    assert_eq!(r.status, Status::Unchanged);
    assert!(r.notes[0].contains("no longer exists"), "{r:?}");
}

#[tokio::test]
async fn restore_password_policy_end_to_end() {
    let live = Live::start().await;
    live.iam
        .update_account_password_policy()
        .minimum_password_length(8)
        .send()
        .await
        .unwrap();
    let outcome = live.handle(event("delete-account-password-policy")).await;
    assert_eq!(status(&outcome, "password-policy-weakened"), Status::Done);
    let got = live.iam.get_account_password_policy().send().await.unwrap();
    let p = got.password_policy().unwrap();
    assert_eq!(p.minimum_password_length(), Some(14));
    assert!(p.require_symbols() && p.require_numbers());
    assert!(p.require_uppercase_characters() && p.require_lowercase_characters());
    assert_eq!(p.password_reuse_prevention(), Some(24));
    assert_eq!(p.max_password_age(), Some(90));
    // The account had it off (UpdateAccountPasswordPolicy's default when
    // omitted): turning it on would grant users what they do not hold.
    assert!(!p.allow_users_to_change_password());
    let again = live.handle(event("delete-account-password-policy")).await;
    assert_eq!(
        status(&again, "password-policy-weakened"),
        Status::Unchanged
    );
}

/// The account's policy is stricter than the baseline in some settings
/// (hard expiry on, users barred from changing their passwords, a 30 day
/// maximum age) and weaker in others: the restore raises only the weaker
/// ones, and sends the whole merged policy (IAM resets what is omitted).
#[tokio::test]
async fn restore_password_policy_keeps_the_accounts_stricter_settings() {
    let live = Live::start().await;
    live.iam
        .update_account_password_policy()
        .minimum_password_length(8)
        .max_password_age(30)
        .hard_expiry(true)
        .allow_users_to_change_password(false)
        .send()
        .await
        .unwrap();
    let mut ev = event("delete-account-password-policy");
    ev["detail"]["eventName"] = "UpdateAccountPasswordPolicy".into();
    ev["detail"]["requestParameters"] = serde_json::json!({
        "minimumPasswordLength": 8,
        "maxPasswordAge": 30,
        "hardExpiry": true,
        "allowUsersToChangePassword": false
    });
    let outcome = live.handle(ev.clone()).await;
    assert_eq!(status(&outcome, "password-policy-weakened"), Status::Done);
    let got = live.iam.get_account_password_policy().send().await.unwrap();
    let p = got.password_policy().unwrap();
    assert_eq!(p.minimum_password_length(), Some(14));
    assert!(p.require_symbols() && p.require_numbers());
    assert!(p.require_uppercase_characters() && p.require_lowercase_characters());
    assert_eq!(p.password_reuse_prevention(), Some(24));
    assert_eq!(p.max_password_age(), Some(30), "the shorter age is kept");
    assert_eq!(p.hard_expiry(), Some(true), "hard expiry stays on");
    assert!(
        !p.allow_users_to_change_password(),
        "users stay barred from changing their passwords"
    );
    // Nothing left to raise: the same event again writes nothing.
    let again = live.handle(ev).await;
    let r = finding(&again, "password-policy-weakened")
        .remediation
        .clone()
        .unwrap();
    assert_eq!(r.status, Status::Unchanged, "{r:?}");
    assert!(r.calls.is_empty());
}

/// AttachUserPolicy of AdministratorAccess: the move is blocked before any
/// write (the role may not attach it to a group), the user keeps it, and
/// the grant is alerted by both rules.
#[tokio::test]
async fn an_admin_policy_attached_to_a_user_is_alerted_and_never_moved() {
    const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
    let live = Live::start().await;
    live.create_user("bob").await;
    live.attach("bob", ADMIN).await;
    let before = live.view("bob").await;
    let ev = with_request(event("attach-user-policy"), "policyArn", ADMIN);
    let outcome = live.handle(ev).await;
    let r = finding(&outcome, "user-policy-attached")
        .remediation
        .clone()
        .unwrap();
    assert_eq!(r.status, Status::Blocked, "{r:?}");
    assert!(r.calls.is_empty());
    assert!(r.notes[0].contains("never attaches it to a group"), "{r:?}");
    finding(&outcome, "admin-policy-granted");
    assert_eq!(live.view("bob").await, before);
    let groups = live.iam.list_groups().send().await.unwrap();
    assert!(groups.groups().is_empty(), "no group was created");
    let rules: BTreeSet<String> = live
        .alerts()
        .await
        .iter()
        .map(|a| attr(a, "rule").to_owned())
        .collect();
    assert_eq!(
        rules,
        BTreeSet::from([
            "admin-policy-granted".to_string(),
            "user-policy-attached".to_string()
        ])
    );
}

#[tokio::test]
async fn start_logging_end_to_end() {
    let live = Live::start().await;
    live.moto.create_bucket("trail-logs").await;
    let ct = aws_sdk_cloudtrail::Client::new(&live.moto.sdk_config().await);
    let arn = ct
        .create_trail()
        .name("management-events")
        .s3_bucket_name("trail-logs")
        .send()
        .await
        .unwrap()
        .trail_arn()
        .unwrap()
        .to_owned();
    assert_eq!(
        arn,
        format!("arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/management-events")
    );
    let logging = |ct: aws_sdk_cloudtrail::Client| async move {
        ct.get_trail_status()
            .name("management-events")
            .send()
            .await
            .unwrap()
            .is_logging()
    };
    assert_eq!(logging(ct.clone()).await, Some(false));
    let outcome = live.handle(event("stop-logging")).await;
    assert_eq!(status(&outcome, "cloudtrail-tampered"), Status::Done);
    assert_eq!(logging(ct.clone()).await, Some(true));
    let alerts = live.alerts().await;
    assert_eq!(attr(&alerts[0], "severity"), "critical");
    let again = live.handle(event("stop-logging")).await;
    assert_eq!(status(&again, "cloudtrail-tampered"), Status::Unchanged);
}

#[tokio::test]
async fn user_at_its_group_quota_is_unchanged_and_the_alert_says_why() {
    let live = Live::start().await;
    live.create_user("bob").await;
    live.attach("bob", READ_ONLY).await;
    // moto does not enforce GroupsPerUserQuota (10); trailguard must read it.
    for i in 0..10 {
        let g = format!("team-{i}");
        live.iam.create_group().group_name(&g).send().await.unwrap();
        live.iam
            .add_user_to_group()
            .group_name(&g)
            .user_name("bob")
            .send()
            .await
            .unwrap();
    }
    let before = live.view("bob").await;
    let outcome = live.handle(event("attach-user-policy")).await;
    assert_eq!(status(&outcome, "user-policy-attached"), Status::Blocked);
    assert_eq!(live.view("bob").await, before);
    let no_group = live
        .iam
        .get_group()
        .group_name("trailguard-read-only")
        .send()
        .await;
    assert!(no_group.is_err(), "no group was created");
    let body = live.alerts().await[0]["Message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        body.contains("move-policy-to-group blocked, nothing changed"),
        "{body}"
    );
    assert!(
        body.contains(
            "bob is in 10 groups and the account allows 10 per user (GroupsPerUserQuota)"
        ),
        "{body}"
    );
}

#[tokio::test]
async fn exempt_tagged_user_is_alerted_not_changed() {
    let live = Live::start().await;
    live.create_user("bob").await;
    live.iam
        .tag_user()
        .user_name("bob")
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("trailguard:exempt")
                .value("true")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    live.attach("bob", READ_ONLY).await;
    let before = live.view("bob").await;
    let outcome = live.handle(event("attach-user-policy")).await;
    assert_eq!(status(&outcome, "user-policy-attached"), Status::Exempt);
    assert_eq!(live.view("bob").await, before);
    let body = live.alerts().await[0]["Message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(body.contains("not run: the target is exempt"), "{body}");
    assert!(
        body.contains("user bob carries the exemption tag trailguard:exempt=true"),
        "{body}"
    );
}

/// An exempt principal naming a user with a path: the event only names
/// `breakglass`, so the user's real ARN is read from IAM before any change.
#[tokio::test]
async fn exempt_principal_with_a_path_is_alerted_not_changed() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    iam.create_user()
        .user_name("breakglass")
        .path("/ops/")
        .send()
        .await
        .unwrap();
    iam.attach_user_policy()
        .user_name("breakglass")
        .policy_arn(READ_ONLY)
        .send()
        .await
        .unwrap();
    let config = Config::from_toml(
        &format!(
            "[modes]\nuser-policy-attached = \"remediate\"\n[exemptions]\nprincipals = [\"arn:aws:iam::{ACCOUNT}:user/ops/breakglass\"]"
        ),
        "test",
        std::iter::empty(),
    )
    .unwrap();
    let ctx = LiveContext::from_sdk_config(config, &sdk, None)
        .unwrap()
        .with_retry(Retry::quick());
    let before = view(&iam, "breakglass").await;
    let ev = with_request(event("attach-user-policy"), "userName", "breakglass");
    let outcome = handle_event(ev, &ctx).await.unwrap();
    let r = finding(&outcome, "user-policy-attached")
        .remediation
        .clone()
        .unwrap();
    assert_eq!(r.status, Status::Exempt, "{r:?}");
    assert_eq!(
        r.notes,
        [format!(
            "user arn:aws:iam::{ACCOUNT}:user/ops/breakglass matches exempt principal `arn:aws:iam::{ACCOUNT}:user/ops/breakglass`"
        )]
    );
    assert_eq!(view(&iam, "breakglass").await, before);
}

#[tokio::test]
async fn user_deleted_before_the_event_arrives_is_a_quiet_no_op() {
    let live = Live::start().await;
    let outcome = live.handle(event("attach-user-policy")).await;
    assert!(outcome.errors.is_empty());
    let r = finding(&outcome, "user-policy-attached")
        .remediation
        .clone()
        .unwrap();
    assert_eq!(r.status, Status::Unchanged);
    assert_eq!(r.notes[0], "user bob no longer exists; nothing to change");
    assert!(r.notes[1].starts_with("read again for"), "{r:?}");
    for e in [
        event("put-user-policy"),
        access_key_created("bob", "AKIAEXAMPLEKEYID0001"),
    ] {
        let o = live.handle(e).await;
        assert!(o.errors.is_empty(), "{o:#?}");
        assert_eq!(
            o.findings[0].remediation.as_ref().unwrap().status,
            Status::Unchanged
        );
    }
    let alerts = live.alerts().await;
    assert_eq!(alerts.len(), 3);
    assert!(
        alerts[0]["Message"]
            .as_str()
            .unwrap()
            .contains("user bob no longer exists")
    );
}

#[tokio::test]
async fn a_group_of_that_name_used_for_another_policy_is_left_alone() {
    let live = Live::start().await;
    live.create_user("bob").await;
    live.create_user("dave").await;
    live.attach("bob", READ_ONLY).await;
    live.iam
        .create_group()
        .group_name("trailguard-read-only")
        .path("/trailguard/")
        .send()
        .await
        .unwrap();
    live.iam
        .attach_group_policy()
        .group_name("trailguard-read-only")
        .policy_arn(VIEW_ONLY)
        .send()
        .await
        .unwrap();
    live.iam
        .add_user_to_group()
        .group_name("trailguard-read-only")
        .user_name("dave")
        .send()
        .await
        .unwrap();

    let outcome = live.handle(event("attach-user-policy")).await;
    let r = finding(&outcome, "user-policy-attached")
        .remediation
        .clone()
        .unwrap();
    assert_eq!(r.status, Status::Done, "{r:?}");
    // The foreign group still holds only its own policy and member.
    assert_eq!(
        group_policies(&live.iam, "trailguard-read-only").await,
        BTreeSet::from([VIEW_ONLY.to_string()])
    );
    let members = live
        .iam
        .get_group()
        .group_name("trailguard-read-only")
        .send()
        .await
        .unwrap();
    let names: Vec<_> = members.users().iter().map(|u| u.user_name()).collect();
    assert_eq!(names, ["dave"]);
    // bob got a dedicated group under a deterministic alternative name.
    let bob = live.view("bob").await;
    assert!(bob.direct.is_empty());
    assert_eq!(bob.groups.len(), 1);
    let (name, path, policies) = bob.groups.iter().next().unwrap();
    assert!(
        name.starts_with("trailguard-read-only-")
            && name.len() == "trailguard-read-only-".len() + 8
    );
    assert_eq!(path, "/trailguard/");
    assert_eq!(policies, &BTreeSet::from([READ_ONLY.to_string()]));
    let again = live.handle(event("attach-user-policy")).await;
    assert_eq!(status(&again, "user-policy-attached"), Status::Unchanged);
}

/// The adapter's RemoveUserFromGroup (the inline move takes the user out
/// of the group again when the user's own copy changed meanwhile): done,
/// then NoSuchEntity, which the move reads as "already out".
#[tokio::test]
async fn remove_user_from_group_against_iam() {
    use trailguard::effects::Iam;
    let moto = Moto::start();
    let client = aws_sdk_iam::Client::new(&moto.sdk_config().await);
    client.create_user().user_name("bob").send().await.unwrap();
    client
        .create_group()
        .group_name("tg-read-only")
        .path("/trailguard/")
        .send()
        .await
        .unwrap();
    let iam = AwsIam::new(client.clone());
    iam.add_user_to_group("tg-read-only", "bob").await.unwrap();
    let members = |client: aws_sdk_iam::Client| async move {
        let g = client
            .get_group()
            .group_name("tg-read-only")
            .send()
            .await
            .unwrap();
        g.users()
            .iter()
            .map(|u| u.user_name().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(members(client.clone()).await, ["bob"]);
    iam.remove_user_from_group("tg-read-only", "bob")
        .await
        .unwrap();
    assert!(members(client.clone()).await.is_empty());
    let again = iam
        .remove_user_from_group("tg-read-only", "bob")
        .await
        .unwrap_err();
    assert!(again.is_not_found(), "{again}");
    assert_eq!(again.operation, "iam:RemoveUserFromGroup");
}

/// A fault at every IAM call of move-policy-to-group, before the call and
/// after it took effect (answer lost): the user always still holds the
/// policy, and a retry completes the move. Each case uses its own user and
/// group names, so one moto serves them all.
#[tokio::test]
async fn move_policy_to_group_survives_a_fault_at_every_step() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let client = aws_sdk_iam::Client::new(&sdk);
    let trail = MemoryTrail::default();
    let case = |i: usize, when: &str| {
        let user = format!("user-{i}-{when}");
        let action = Action::MovePolicyToGroup {
            user_name: user.clone(),
            policy_arn: READ_ONLY.into(),
            group_name: format!("tg-{i}-{when}-read-only"),
            group_path: "/trailguard/".into(),
        };
        (user, action)
    };
    let seed = |user: String| {
        let client = client.clone();
        async move {
            client.create_user().user_name(&user).send().await.unwrap();
            client
                .attach_user_policy()
                .user_name(&user)
                .policy_arn(READ_ONLY)
                .send()
                .await
                .unwrap();
        }
    };

    // A clean run counts the calls and gives the state to end in.
    let (user, action) = case(0, "clean");
    seed(user.clone()).await;
    let probe = FaultyIam::new(AwsIam::new(client.clone()));
    let report = run(&probe, &trail, &action).await.unwrap();
    assert_eq!(report.status, Status::Done);
    let calls = probe.calls();
    assert_eq!(
        calls,
        [
            "iam:ListAttachedUserPolicies",
            "iam:ListGroupsForUser",
            "iam:GetPolicy",
            "iam:GetAccountSummary",
            "iam:GetGroup",
            "iam:CreateGroup",
            "iam:AttachGroupPolicy",
            "iam:AddUserToGroup",
            "iam:ListGroupsForUser",
            "iam:ListAttachedGroupPolicies",
            "iam:DetachUserPolicy",
        ]
    );
    let clean = view(&client, &user).await;
    assert!(clean.direct.is_empty() && clean.groups.len() == 1);

    for (i, op) in calls.iter().enumerate() {
        for when in [When::Before, When::After] {
            let tag = format!("{when:?}").to_lowercase();
            let (user, action) = case(i + 1, &tag);
            seed(user.clone()).await;
            let faulty = FaultyIam::new(AwsIam::new(client.clone())).fail_at(i, when);
            let err = run(&faulty, &trail, &action)
                .await
                .expect_err("the injected fault surfaces");
            assert!(err.is_retryable(), "{op} {when:?}: {err}");
            let mid = view(&client, &user).await;
            assert!(
                mid.holds(READ_ONLY),
                "{op} {when:?}: user lost the policy: {mid:?}"
            );

            let retried = run(&AwsIam::new(client.clone()), &trail, &action)
                .await
                .unwrap_or_else(|e| panic!("{op} {when:?}: retry failed: {e}"));
            assert!(
                matches!(retried.status, Status::Done | Status::Unchanged),
                "{op} {when:?}: {retried:?}"
            );
            let end = view(&client, &user).await;
            assert!(end.direct.is_empty(), "{op} {when:?}: {end:?}");
            let expected_group = format!("tg-{}-{tag}-read-only", i + 1);
            let want: BTreeSet<_> = [(
                expected_group,
                "/trailguard/".to_string(),
                BTreeSet::from([READ_ONLY.to_string()]),
            )]
            .into();
            assert_eq!(end.groups, want, "{op} {when:?}");
            // Nothing was done twice: no write the first run completed
            // appears again in the retry.
            if when == When::After && is_write(op) {
                let redone = retried
                    .calls
                    .iter()
                    .any(|c| c.split(' ').next() == Some(op));
                assert!(!redone, "{op} was repeated: {retried:?}");
            }
        }
    }
}

async fn run(
    iam: &dyn trailguard::effects::Iam,
    trail: &MemoryTrail,
    action: &Action,
) -> Result<remediate::Report, remediate::RemediateError> {
    let ctx = remediate::Ctx {
        iam,
        trail,
        region: Some("us-east-1"),
        retry: Retry::quick(),
        sleep: &remediate::TokioSleep,
    };
    remediate::run(action, &ctx).await
}

fn is_write(op: &str) -> bool {
    matches!(
        op,
        "iam:CreateGroup" | "iam:AttachGroupPolicy" | "iam:AddUserToGroup" | "iam:DetachUserPolicy"
    )
}
