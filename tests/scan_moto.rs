//! The scan against moto: seeded users, keys, MFA, policies and a weak
//! password policy, scanned at injected times.

use aws_sdk_iam::Client;
use chrono::{TimeDelta, Utc};
use trailguard::Config;
use trailguard::scan::aws::IamSource;
use trailguard::scan::{ReportWait, ScanContext, ScanReport, run_scan};

/// A throwaway moto server; replaced by the shared test support once the
/// live path lands on main.
mod moto {
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};

    pub struct Moto {
        child: Child,
        endpoint: String,
    }

    impl Moto {
        pub fn start() -> Moto {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let child = Command::new("python3")
                .args([
                    "-m",
                    "moto.server",
                    "-H",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                ])
                .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("python3 with moto[server] (scripts/test installs it)");
            let deadline = Instant::now() + Duration::from_secs(60);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(Instant::now() < deadline, "moto did not start");
                std::thread::sleep(Duration::from_millis(50));
            }
            Moto {
                child,
                endpoint: format!("http://127.0.0.1:{port}"),
            }
        }

        pub fn iam_client_as(&self, key: &str, secret: &str) -> aws_sdk_iam::Client {
            let conf = aws_sdk_iam::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .endpoint_url(&self.endpoint)
                .credentials_provider(Credentials::new(key, secret, None, None, "test"))
                .build();
            aws_sdk_iam::Client::from_conf(conf)
        }

        pub fn endpoint(&self) -> &str {
            &self.endpoint
        }

        pub fn iam_client(&self) -> aws_sdk_iam::Client {
            self.iam_client_as("testing", "testing")
        }
    }

    impl Drop for Moto {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

use moto::Moto;

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
    moto.iam_client_as(key.access_key_id(), key.secret_access_key())
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

async fn scan(iam: &Client, config: &Config, days_from_now: i64) -> ScanReport {
    let source = IamSource::new(iam.clone());
    let ctx = ScanContext {
        source: &source,
        wait: ReportWait::default(),
    };
    run_scan(&ctx, config, Utc::now() + TimeDelta::days(days_from_now))
        .await
        .unwrap()
}

/// `rule target` for every finding, worst first.
fn found(report: &ScanReport) -> Vec<String> {
    report
        .findings
        .iter()
        .map(|d| {
            let t = &d.finding.target;
            format!("{} {}", d.finding.rule, t.user_name().unwrap_or("-"))
        })
        .collect()
}

#[tokio::test]
async fn scan_finds_what_was_seeded_and_ages_with_the_injected_time() {
    let moto = Moto::start();
    let iam = moto.iam_client();
    seed(&iam, &moto).await;
    let config = Config::default();

    // Tomorrow: nothing is old yet.
    let report = scan(&iam, &config, 1).await;
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
        .find(|d| d.finding.rule == "password-policy-below-baseline")
        .unwrap();
    assert!(
        policy.finding.summary.contains("minimum length 8 < 14"),
        "{}",
        policy.finding.summary
    );

    // In 100 days: both active keys are old and unused, both passwords
    // unused; the inactive key is never mentioned.
    let report = scan(&iam, &config, 100).await;
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
                d.finding.rule == "access-key-unused" && d.finding.target.user_name() == Some(user)
            })
            .unwrap()
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
    let iam = moto.iam_client();
    let report = scan(&iam, &Config::default(), 0).await;
    assert_eq!(
        found(&report),
        ["root-mfa-disabled -", "password-policy-below-baseline -"]
    );
    assert_eq!(report.users, 0);
    let missing = &report.findings[1].finding.summary;
    assert!(missing.contains("no password policy"), "{missing}");
}

#[tokio::test]
async fn the_cli_scans_the_account_the_environment_points_at() {
    let moto = Moto::start();
    let iam = moto.iam_client();
    seed(&iam, &moto).await;
    let as_of = (Utc::now() + TimeDelta::days(100)).to_rfc3339();
    let run = |format: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_trailguard"))
            .args(["scan", "--format", format, "--as-of", &as_of])
            .env("AWS_ENDPOINT_URL", moto.endpoint())
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
        text.contains("remediation deactivate-access-key (would): set access key AKIA"),
        "{text}"
    );
}
