//! The scan against moto: seeded users, keys, MFA, policies and a weak
//! password policy, scanned at injected times.

use aws_sdk_iam::Client;
use chrono::{TimeDelta, Utc};
use trailguard::Config;
use trailguard::live::LiveContext;
use trailguard::remediate::Status;
use trailguard::scan::{ScanContext, ScanReport, run_scan};

use crate::support::moto::{AlertQueue, Moto};

/// An IAM client signing with the given key (moto records its use).
fn iam_as(moto: &Moto, key: &str, secret: &str) -> Client {
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .region(aws_sdk_iam::config::Region::new("us-east-1"))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            key, secret, None, None, "test",
        ))
        .build();
    Client::from_conf(conf)
}

const READ_ONLY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
const S3_READ: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

/// Users: `stale` (a key never used), `used` (a key used once), `idle`
/// (an inactive key), `nomfa` and `withmfa` (console passwords),
/// `attached` (ReadOnlyAccess), `inline` (an inline policy); a password
/// policy of length 8 and nothing else.
async fn seed(iam: &Client, moto: &Moto) {
    for user in [
        "stale", "used", "idle", "nomfa", "withmfa", "attached", "inline",
    ] {
        iam.create_user().user_name(user).send().await.unwrap();
    }
    iam.create_access_key()
        .user_name("stale")
        .send()
        .await
        .unwrap();
    let key = iam
        .create_access_key()
        .user_name("used")
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap();
    // One call signed with the key: moto records its last use.
    iam_as(moto, key.access_key_id(), key.secret_access_key())
        .list_users()
        .send()
        .await
        .unwrap();
    let idle = iam
        .create_access_key()
        .user_name("idle")
        .send()
        .await
        .unwrap();
    iam.update_access_key()
        .user_name("idle")
        .access_key_id(idle.access_key().unwrap().access_key_id())
        .status(aws_sdk_iam::types::StatusType::Inactive)
        .send()
        .await
        .unwrap();
    for user in ["nomfa", "withmfa"] {
        iam.create_login_profile()
            .user_name(user)
            .password("Correct-Horse-Battery-9")
            .send()
            .await
            .unwrap();
    }
    let device = iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name("withmfa")
        .send()
        .await
        .unwrap();
    iam.enable_mfa_device()
        .user_name("withmfa")
        .serial_number(device.virtual_mfa_device().unwrap().serial_number())
        .authentication_code1("123456")
        .authentication_code2("654321")
        .send()
        .await
        .unwrap();
    iam.attach_user_policy()
        .user_name("attached")
        .policy_arn(READ_ONLY)
        .send()
        .await
        .unwrap();
    iam.put_user_policy()
        .user_name("inline")
        .policy_name("s3-read")
        .policy_document(S3_READ)
        .send()
        .await
        .unwrap();
    iam.update_account_password_policy()
        .minimum_password_length(8)
        .send()
        .await
        .unwrap();
}

async fn scan(moto: &Moto, config: &str, days_from_now: i64) -> ScanReport {
    let config = Config::from_toml(config, "test", std::iter::empty()).unwrap();
    let sdk = moto.sdk_config().await;
    let (live, source) = LiveContext::with_credential_source(config, &sdk, None).unwrap();
    run_scan(
        &ScanContext::new(&live, source.as_ref()),
        Utc::now() + TimeDelta::days(days_from_now),
    )
    .await
    .unwrap()
}

/// `rule target` for every finding, worst first.
fn found(report: &ScanReport) -> Vec<String> {
    report
        .findings
        .iter()
        .map(|d| {
            let t = &d.decision.finding.target;
            format!(
                "{} {}",
                d.decision.finding.rule,
                t.user_name().unwrap_or("-")
            )
        })
        .collect()
}

#[tokio::test]
async fn scan_finds_what_was_seeded_and_ages_with_the_injected_time() {
    let moto = Moto::start();
    let iam = moto.iam().await;
    seed(&iam, &moto).await;

    // Tomorrow: nothing is old yet.
    let report = scan(&moto, "", 1).await;
    assert_eq!(
        found(&report),
        [
            // moto never reports MFA for root.
            "root-mfa-disabled -",
            "user-console-without-mfa nomfa",
            "user-has-attached-policy attached",
            "user-has-inline-policy inline",
            "password-policy-below-baseline -",
        ]
    );
    assert_eq!(report.account_id.as_deref(), Some("123456789012"));
    assert_eq!(report.users, 7);
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    let policy = report
        .findings
        .iter()
        .find(|d| d.decision.finding.rule == "password-policy-below-baseline")
        .unwrap();
    assert!(
        policy
            .decision
            .finding
            .summary
            .contains("minimum length 8 < 14"),
        "{}",
        policy.decision.finding.summary
    );

    // In 100 days: both active keys are old and unused, both passwords
    // unused; the inactive key is never mentioned.
    let report = scan(&moto, "", 100).await;
    let found = found(&report);
    for expected in [
        "access-key-not-rotated stale",
        "access-key-not-rotated used",
        "access-key-unused stale",
        "access-key-unused used",
        "password-unused nomfa",
        "password-unused withmfa",
    ] {
        assert!(
            found.contains(&expected.to_owned()),
            "{expected}: {found:?}"
        );
    }
    assert!(!found.iter().any(|f| f.ends_with(" idle")), "{found:?}");
    assert_eq!(found.len(), 11, "{found:?}");
    let unused = |user: &str| {
        report
            .findings
            .iter()
            .find(|d| {
                d.decision.finding.rule == "access-key-unused"
                    && d.decision.finding.target.user_name() == Some(user)
            })
            .unwrap()
            .decision
            .finding
            .summary
            .clone()
    };
    assert!(
        unused("stale").contains("never used since its creation"),
        "{}",
        unused("stale")
    );
    assert!(
        unused("used").contains(" last used on "),
        "{}",
        unused("used")
    );
}

#[tokio::test]
async fn an_empty_account_has_only_the_account_wide_findings() {
    let moto = Moto::start();
    let report = scan(&moto, "", 0).await;
    assert_eq!(
        found(&report),
        ["root-mfa-disabled -", "password-policy-below-baseline -"]
    );
    assert_eq!(report.users, 0);
    let missing = &report.findings[1].decision.finding.summary;
    assert!(missing.contains("no password policy"), "{missing}");
}

#[tokio::test]
async fn the_cli_scans_the_account_the_environment_points_at() {
    let moto = Moto::start();
    let iam = moto.iam().await;
    seed(&iam, &moto).await;
    let as_of = (Utc::now() + TimeDelta::days(100)).to_rfc3339();
    let run = |format: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_trailguard"))
            .args(["scan", "--format", format, "--as-of", &as_of])
            .env("AWS_ENDPOINT_URL", &moto.endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .env_remove("TRAILGUARD_CONFIG")
            .output()
            .unwrap()
    };
    let out = run("json");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["findings"].as_array().unwrap().len(), 11);
    assert_eq!(report["findings"][0]["rule"], "root-mfa-disabled");
    assert_eq!(report["findings"][0]["mode"], "alert");
    let out = run("text");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("scan of account 123456789012 at "),
        "{text}"
    );
    assert!(
        text.contains("11 findings (1 critical, 1 high, 9 medium)"),
        "{text}"
    );
    assert!(
        text.contains("remediation deactivate-access-key planned: set access key AKIA"),
        "{text}"
    );
    assert!(out.status.success());
}

#[tokio::test]
async fn remediate_mode_fixes_the_account_and_sends_one_summary() {
    let moto = Moto::start();
    let iam = moto.iam().await;
    seed(&iam, &moto).await;
    let alerts = AlertQueue::create(&moto, "trailguard-alerts").await;
    let config = format!(
        "[modes]\n\
         access-key-not-rotated = \"remediate\"\n\
         access-key-unused = \"remediate\"\n\
         user-has-attached-policy = \"remediate\"\n\
         user-has-inline-policy = \"remediate\"\n\
         password-policy-below-baseline = \"remediate\"\n\
         [remediation]\npropagation_delay_seconds = 0\n\
         [alerts]\nsns_topic_arn = \"{}\"",
        alerts.topic_arn
    );
    let report = scan(&moto, &config, 100).await;
    assert!(!report.failed(), "{:?}", report.errors);
    let done: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.result.as_ref().is_some_and(|r| r.status == Status::Done))
        .map(|f| f.decision.finding.rule)
        .collect();
    assert_eq!(
        done,
        [
            "access-key-not-rotated",
            "access-key-not-rotated",
            // The same deactivations, run once.
            "access-key-unused",
            "access-key-unused",
            "user-has-attached-policy",
            "user-has-inline-policy",
            "password-policy-below-baseline",
        ]
    );

    // Keys deactivated, never deleted.
    for user in ["stale", "used", "idle"] {
        let keys = iam.list_access_keys().user_name(user).send().await.unwrap();
        let keys = keys.access_key_metadata();
        assert_eq!(keys.len(), 1, "{user}");
        assert_eq!(keys[0].status().unwrap().as_str(), "Inactive", "{user}");
    }
    // Direct grants moved to dedicated groups.
    let attached = iam
        .list_attached_user_policies()
        .user_name("attached")
        .send()
        .await
        .unwrap();
    assert!(attached.attached_policies().is_empty());
    let group = iam
        .list_attached_group_policies()
        .group_name("trailguard-read-only")
        .send()
        .await
        .unwrap();
    assert_eq!(group.attached_policies()[0].policy_arn(), Some(READ_ONLY));
    let inline = iam
        .list_user_policies()
        .user_name("inline")
        .send()
        .await
        .unwrap();
    assert!(inline.policy_names().is_empty());
    let groups = iam
        .list_groups_for_user()
        .user_name("inline")
        .send()
        .await
        .unwrap();
    let group = groups.groups()[0].group_name();
    let moved = iam
        .get_group_policy()
        .group_name(group)
        .policy_name("s3-read")
        .send()
        .await
        .unwrap();
    assert!(
        moved.policy_document().contains("s3%3AGetObject")
            || moved.policy_document().contains("s3:GetObject")
    );
    // The whole baseline written back.
    let policy = iam.get_account_password_policy().send().await.unwrap();
    let policy = policy.password_policy().unwrap();
    assert_eq!(policy.minimum_password_length(), Some(14));
    assert_eq!(policy.password_reuse_prevention(), Some(24));
    assert!(policy.require_symbols());

    // One summary message for the whole scan.
    let messages = alerts.drain().await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let subject = messages[0]["Subject"].as_str().unwrap();
    assert_eq!(
        subject,
        "trailguard scan 123456789012: 11 findings (1 critical, 1 high, 9 medium)"
    );
    let body = messages[0]["Message"].as_str().unwrap();
    assert!(
        body.contains("\nRemediation:\n  done: set access key "),
        "{body}"
    );
    assert!(
        body.contains("done: restore the account password policy to the baseline"),
        "{body}"
    );
    assert_eq!(
        messages[0]["MessageAttributes"]["rule"]["Value"], "scan",
        "{messages:?}"
    );

    // Scanned again: only what has no remediation is left.
    let report = scan(&moto, &config, 100).await;
    let left: Vec<_> = found(&report);
    assert_eq!(
        left,
        [
            "root-mfa-disabled -",
            "user-console-without-mfa nomfa",
            "password-unused nomfa",
            "password-unused withmfa",
        ]
    );
    assert_eq!(alerts.drain().await.len(), 1);
}

/// `trailguard scan` with the SDK environment pointed at moto.
fn cli_scan(moto: &Moto, args: &[&str], config: Option<&std::path::Path>) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_trailguard"));
    cmd.arg("scan")
        .args(args)
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("TRAILGUARD_CONFIG");
    if let Some(path) = config {
        cmd.arg("--config").arg(path);
    }
    cmd.output().unwrap()
}

#[tokio::test]
async fn as_of_is_a_preview_and_changes_nothing_even_in_remediate_mode() {
    let moto = Moto::start();
    let iam = moto.iam().await;
    seed(&iam, &moto).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("trailguard.toml");
    std::fs::write(
        &config,
        "[modes]\naccess-key-not-rotated = \"remediate\"\naccess-key-unused = \"remediate\"\nuser-has-attached-policy = \"remediate\"\n",
    )
    .unwrap();
    // Keys created seconds ago, scanned "in 100 days": they look 100 days old.
    let as_of = (Utc::now() + TimeDelta::days(100)).to_rfc3339();
    let out = cli_scan(
        &moto,
        &["--format", "json", "--as-of", &as_of],
        Some(&config),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["dry_run"], true);
    let not_rotated = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "access-key-not-rotated")
        .unwrap();
    assert_eq!(not_rotated["result"]["status"], "planned");
    for user in ["stale", "used"] {
        let keys = iam.list_access_keys().user_name(user).send().await.unwrap();
        let status = keys.access_key_metadata()[0].status().unwrap().as_str();
        assert_eq!(
            status, "Active",
            "{user}'s key was deactivated by a preview"
        );
    }
    let attached = iam
        .list_attached_user_policies()
        .user_name("attached")
        .send()
        .await
        .unwrap();
    assert_eq!(attached.attached_policies().len(), 1);
}

#[tokio::test]
async fn customer_policies_named_like_aws_quarantine_policies_are_found() {
    let moto = Moto::start();
    let iam = moto.iam().await;
    iam.create_user().user_name("mallory").send().await.unwrap();
    let backdoor = iam
        .create_policy()
        .policy_name("AWSCompromisedKeyQuarantineBackdoor")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let backdoor_arn = backdoor.policy().unwrap().arn().unwrap().to_owned();
    iam.attach_user_policy()
        .user_name("mallory")
        .policy_arn(&backdoor_arn)
        .send()
        .await
        .unwrap();
    iam.put_user_policy()
        .user_name("mallory")
        .policy_name("AWSCompromisedKeyQuarantineV9")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let config =
        "[modes]\nuser-has-attached-policy = \"remediate\"\nuser-has-inline-policy = \"remediate\"";
    let report = scan(&moto, config, 0).await;
    let found = found(&report);
    assert!(
        found.contains(&"user-has-attached-policy mallory".to_owned()),
        "{found:?}"
    );
    assert!(
        found.contains(&"user-has-inline-policy mallory".to_owned()),
        "{found:?}"
    );
    // The customer policy is moved like any other; the inline one named
    // like an AWS quarantine is reported and left where it is.
    let attached = iam
        .list_attached_user_policies()
        .user_name("mallory")
        .send()
        .await
        .unwrap();
    assert!(attached.attached_policies().is_empty());
    let inline = iam
        .list_user_policies()
        .user_name("mallory")
        .send()
        .await
        .unwrap();
    assert_eq!(inline.policy_names(), ["AWSCompromisedKeyQuarantineV9"]);
}
