//! Security Hub against moto: findings imported in ASFF with a
//! deterministic id (one per event and rule, however often delivered),
//! updated when remediated, and the scan's findings archived once resolved.
//!
//! Needs `python3 -m moto.server` (pip install "moto[server]").

use std::path::Path;

use aws_sdk_securityhub::types::{AwsSecurityFinding, ComplianceStatus, RecordState};
use chrono::Utc;
use trailguard::config::Config;
use trailguard::live::{LiveContext, handle_event};
use trailguard::remediate::Retry;
use trailguard::scan::{ScanContext, run_scan};

use crate::support::fixtures::{event, remediate_config_path};
use crate::support::moto::{ACCOUNT, AlertQueue, Moto};

const READ_ONLY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
const HUB_ON: [(&str, &str); 1] = [("TRAILGUARD_SECURITY_HUB", "true")];

fn env() -> Vec<(String, String)> {
    HUB_ON
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn findings(moto: &Moto) -> Vec<AwsSecurityFinding> {
    let hub = aws_sdk_securityhub::Client::new(&moto.sdk_config().await);
    hub.get_findings().send().await.unwrap().findings().to_vec()
}

#[tokio::test]
async fn one_finding_per_event_and_rule_updated_after_remediation() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    iam.create_user().user_name("bob").send().await.unwrap();
    iam.attach_user_policy()
        .user_name("bob")
        .policy_arn(READ_ONLY)
        .send()
        .await
        .unwrap();

    // Alert mode, delivered twice: one finding, failed, active.
    let alerting = Config::from_toml("", "test", env()).unwrap();
    let ctx = LiveContext::from_sdk_config(alerting, &sdk, None).unwrap();
    for _ in 0..2 {
        handle_event(event("attach-user-policy"), &ctx)
            .await
            .unwrap();
    }
    let held = findings(&moto).await;
    assert_eq!(held.len(), 1, "{held:#?}");
    let f = &held[0];
    let id =
        format!("trailguard/{ACCOUNT}/8a1f3c55-7d2e-4b0a-9f61-2c3d4e5f6a01/user-policy-attached");
    assert_eq!(f.id(), Some(id.as_str()));
    assert_eq!(
        f.product_arn(),
        Some(format!("arn:aws:securityhub:us-east-1:{ACCOUNT}:product/{ACCOUNT}/default").as_str())
    );
    assert_eq!(
        f.generator_id(),
        Some("trailguard/event/user-policy-attached")
    );
    assert_eq!(f.aws_account_id(), Some(ACCOUNT));
    assert_eq!(f.severity().unwrap().label().unwrap().as_str(), "MEDIUM");
    let resource = &f.resources()[0];
    assert_eq!(resource.r#type(), Some("AwsIamUser"));
    assert_eq!(
        resource.id(),
        Some(format!("arn:aws:iam::{ACCOUNT}:user/bob").as_str())
    );
    let compliance = f.compliance().unwrap();
    assert_eq!(compliance.status(), Some(&ComplianceStatus::Failed));
    assert_eq!(compliance.related_requirements(), ["CIS 1.15", "IAM.2"]);
    assert_eq!(f.record_state(), Some(&RecordState::Active));
    assert!(
        f.types()
            .iter()
            .any(|t| t.contains("CIS AWS Foundations Benchmark"))
    );
    let text = f
        .remediation()
        .unwrap()
        .recommendation()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        text.contains("move-policy-to-group remediation: planned"),
        "{text}"
    );
    assert!(
        f.source_url()
            .unwrap()
            .contains("8a1f3c55-7d2e-4b0a-9f61-2c3d4e5f6a01")
    );

    // The same event with remediation on: the same finding, updated.
    AlertQueue::create(&moto, "trailguard-alerts").await;
    let remediating = Config::load(Some(Path::new(&remediate_config_path())), env()).unwrap();
    let ctx = LiveContext::from_sdk_config(remediating, &sdk, None)
        .unwrap()
        .with_retry(Retry::quick());
    handle_event(event("attach-user-policy"), &ctx)
        .await
        .unwrap();
    let held = findings(&moto).await;
    assert_eq!(held.len(), 1);
    let f = &held[0];
    assert_eq!(f.id(), Some(id.as_str()));
    assert_eq!(
        f.compliance().unwrap().status(),
        Some(&ComplianceStatus::Passed)
    );
    assert_eq!(f.record_state(), Some(&RecordState::Archived));
    assert_eq!(
        f.product_fields().unwrap()["trailguard/remediation"],
        "move-policy-to-group done"
    );
}

#[tokio::test]
async fn a_scan_finding_no_longer_found_is_archived() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    iam.create_user()
        .user_name("attached")
        .send()
        .await
        .unwrap();
    iam.attach_user_policy()
        .user_name("attached")
        .policy_arn(READ_ONLY)
        .send()
        .await
        .unwrap();
    let config = Config::from_toml("", "test", env()).unwrap();
    let (live, source) = LiveContext::with_credential_source(config, &sdk, None).unwrap();
    let scan = || async {
        run_scan(&ScanContext::new(&live, source.as_ref()), Utc::now())
            .await
            .unwrap()
    };
    let first = scan().await;
    assert!(first.errors.is_empty(), "{:#?}", first.errors);
    let id = format!("trailguard/{ACCOUNT}/scan/user-has-attached-policy/user-attached");
    let active = |all: &[AwsSecurityFinding]| -> Vec<String> {
        all.iter()
            .filter(|f| f.record_state() == Some(&RecordState::Active))
            .filter_map(|f| f.id().map(str::to_owned))
            .collect()
    };
    let before = findings(&moto).await;
    assert!(active(&before).contains(&id), "{:?}", active(&before));

    // Fixed by hand: the next scan archives it, and only it.
    iam.detach_user_policy()
        .user_name("attached")
        .policy_arn(READ_ONLY)
        .send()
        .await
        .unwrap();
    let second = scan().await;
    assert!(second.errors.is_empty(), "{:#?}", second.errors);
    let after = findings(&moto).await;
    assert_eq!(after.len(), before.len(), "updated, not added");
    let f = after.iter().find(|f| f.id() == Some(id.as_str())).unwrap();
    assert_eq!(f.record_state(), Some(&RecordState::Archived));
    assert_eq!(
        f.compliance().unwrap().status(),
        Some(&ComplianceStatus::Passed)
    );
    let mut still: Vec<String> = active(&after);
    still.sort();
    let mut expected: Vec<String> = active(&before).into_iter().filter(|i| *i != id).collect();
    expected.sort();
    assert_eq!(still, expected);
}
