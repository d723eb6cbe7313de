//! `trailguard handle` end to end: the binary, configured only through the
//! environment the SDK reads (`AWS_ENDPOINT_URL` pointing at moto), prints
//! one JSON outcome per event and exits by what happened.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::support::fixtures::remediate_config_path;
use crate::support::moto::Moto;
use serde_json::Value;

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/live/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn trailguard(moto: &Moto, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trailguard"));
    for (k, _) in std::env::vars() {
        if k.starts_with("TRAILGUARD_") || k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .args(args)
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        pipe.write_all(bytes).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn handle_remediates_through_the_sdk_environment_and_prints_json() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    iam.create_user().user_name("bob").send().await.unwrap();
    iam.attach_user_policy()
        .user_name("bob")
        .policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .send()
        .await
        .unwrap();
    aws_sdk_sns::Client::new(&sdk)
        .create_topic()
        .name("trailguard-alerts")
        .send()
        .await
        .unwrap();
    let config = remediate_config_path();

    let out = trailguard(
        &moto,
        &[
            "handle",
            "--config",
            &config,
            &fixture("attach-user-policy"),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outcomes = lines(&out);
    assert_eq!(outcomes.len(), 1);
    let o = &outcomes[0];
    assert_eq!(o["event_name"], "AttachUserPolicy");
    assert_eq!(o["findings"][0]["rule"], "user-policy-attached");
    assert_eq!(o["findings"][0]["remediation"]["status"], "done");
    assert_eq!(o["findings"][0]["alerts"][0]["channel"], "sns");
    assert_eq!(o["findings"][0]["alerts"][0]["status"], "sent");
    assert_eq!(o["errors"], Value::Array(vec![]));
    let direct = iam
        .list_attached_user_policies()
        .user_name("bob")
        .send()
        .await
        .unwrap();
    assert!(direct.attached_policies().is_empty());

    // The same event again, from stdin: nothing to do, no error.
    let event = std::fs::read(fixture("attach-user-policy")).unwrap();
    let out = trailguard(&moto, &["handle", "--config", &config, "-"], Some(&event));
    assert!(out.status.success());
    assert_eq!(
        lines(&out)[0]["findings"][0]["remediation"]["status"],
        "unchanged"
    );

    // A missing file is an input error (exit 1), reported as an outcome.
    let out = trailguard(
        &moto,
        &["handle", "--config", &config, "/nonexistent.json"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(lines(&out)[0]["errors"][0]["kind"], "input");
}

#[tokio::test]
async fn handle_exits_3_when_an_alert_cannot_be_sent() {
    let moto = Moto::start();
    // No topic created: SNS answers NotFound.
    let out = trailguard(
        &moto,
        &[
            "handle",
            "--config",
            &remediate_config_path(),
            &fixture("stop-logging"),
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let o = &lines(&out)[0];
    let kinds: Vec<_> = o["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"alert"), "{o}");
}
