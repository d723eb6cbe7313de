//! The compiled `trailguard-lambda` binary, end to end: a local Lambda
//! Runtime API hands it EventBridge payloads, moto plays IAM, SNS and SQS.
//!
//! Needs `python3 -m moto.server` (pip install "moto[server]").

use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::support::fixtures::event;
use crate::support::http::{Listener, Response};
use crate::support::moto::{ACCOUNT, AlertQueue, Moto};
use crate::support::runtime_api::{Answer, RuntimeApi};

const TOPIC: &str = "trailguard-alerts";
const SELF_ROLE: &str = "arn:aws:iam::123456789012:role/trailguard-TrailguardFunctionRole";

/// The function process, killed on drop; its stdout (the logs) kept.
pub(crate) struct Function {
    child: Child,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Function {
    pub(crate) fn start(runtime: &RuntimeApi, endpoint: &str, extra: &[(&str, &str)]) -> Function {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("stdout.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trailguard-lambda"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", runtime.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "trailguard")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/trailguard")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("TRAILGUARD_SELF_ROLE_ARN", SELF_ROLE)
            // moto is consistent at once: no propagation wait in tests.
            .env("TRAILGUARD_PROPAGATION_DELAY_SECONDS", "0")
            .env(
                "TRAILGUARD_SNS_TOPIC_ARN",
                format!("arn:aws:sns:us-east-1:{ACCOUNT}:{TOPIC}"),
            )
            .env(
                "TRAILGUARD_MODES",
                "user-policy-attached=remediate,access-key-created=remediate",
            );
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        Function {
            child,
            log,
            _dir: dir,
        }
    }

    pub(crate) fn log_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not a JSON log line: {l}")))
            .collect()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn response(answer: Answer) -> Value {
    match answer {
        Answer::Response(v) => v,
        Answer::Error(e) => panic!("the invocation failed: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_remediates_alerts_and_answers_each_kind_of_input() {
    let moto = Moto::start();
    let iam = moto.iam().await;
    let alerts_queue = AlertQueue::create(&moto, TOPIC).await;
    iam.create_user().user_name("bob").send().await.unwrap();
    iam.attach_user_policy()
        .user_name("bob")
        .policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .send()
        .await
        .unwrap();

    let runtime = RuntimeApi::start().await;
    let function = Function::start(&runtime, &moto.endpoint, &[]);

    // A direct attachment: moved to the dedicated group, alerted.
    let id = runtime.invoke(event("attach-user-policy"));
    let answer = response(runtime.answer(&id).await);
    assert_eq!(answer["status"], "ok", "{answer}");
    assert_eq!(answer["findings"][0]["rule"], "user-policy-attached");
    assert_eq!(answer["findings"][0]["remediation"], "done");
    let attached = iam
        .list_attached_user_policies()
        .user_name("bob")
        .send()
        .await
        .unwrap();
    assert!(
        attached.attached_policies().is_empty(),
        "policy still on the user"
    );
    let groups = iam
        .list_groups_for_user()
        .user_name("bob")
        .send()
        .await
        .unwrap();
    let names: Vec<_> = groups.groups().iter().map(|g| g.group_name()).collect();
    assert_eq!(names, ["trailguard-read-only"]);
    let alerts = alerts_queue.drain().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        alerts[0]["MessageAttributes"]["rule"]["Value"],
        "user-policy-attached"
    );
    assert!(
        alerts[0]["Subject"]
            .as_str()
            .unwrap()
            .contains("user-policy-attached")
    );

    // The same event again (EventBridge delivers at least once): no error.
    let id = runtime.invoke(event("attach-user-policy"));
    let again = response(runtime.answer(&id).await);
    assert_eq!(again["status"], "ok", "{again}");
    assert_eq!(again["findings"][0]["remediation"], "unchanged");

    // Its own fix, as CloudTrail reports it: ignored.
    let mut own = event("attach-user-policy");
    own["detail"]["eventName"] = "AttachGroupPolicy".into();
    own["detail"]["requestParameters"] = json!({"groupName": "trailguard-administrators", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"});
    own["detail"]["userIdentity"] = json!({"type": "AssumedRole",
        "arn": "arn:aws:sts::123456789012:assumed-role/trailguard-TrailguardFunctionRole/trailguard",
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": SELF_ROLE}}});
    let id = runtime.invoke(own);
    let ignored = response(runtime.answer(&id).await);
    assert_eq!(ignored["ignored"], "made by trailguard's own role");
    assert_eq!(ignored["findings"], json!([]));

    // Not a CloudTrail event, and not an event at all: answered, not retried.
    let ec2 = json!({"version": "0", "id": "e1", "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2", "detail": {"instance-id": "i-1", "state": "running"}});
    let id = runtime.invoke(ec2);
    let other = response(runtime.answer(&id).await);
    assert!(
        other["ignored"]
            .as_str()
            .unwrap()
            .starts_with("not a CloudTrail event"),
        "{other}"
    );
    let id = runtime.invoke(json!("hello"));
    let rejected = response(runtime.answer(&id).await);
    assert_eq!(rejected["status"], "rejected");

    // One structured line per decision, and the unreadable inputs logged whole.
    let logs = function.log_lines();
    let decisions: Vec<_> = logs
        .iter()
        .filter(|l| l["fields"]["rule"] == "user-policy-attached")
        .collect();
    assert_eq!(decisions.len(), 2, "{logs:#?}");
    assert!(logs.iter().any(|l| {
        l["fields"]["payload"]
            .as_str()
            .is_some_and(|p| p.contains("EC2 Instance State-change"))
    }));
    assert!(logs.iter().any(|l| l["fields"]["payload"] == "\"hello\""));
    // Delivery is at least once, so the repeat is alerted again (saying
    // nothing changed); the ignored inputs alert nothing.
    let later = alerts_queue.drain().await;
    assert_eq!(later.len(), 1, "{later:?}");
    assert_eq!(
        later[0]["MessageAttributes"]["rule"]["Value"],
        "user-policy-attached"
    );
}

/// The runtime deserializes payloads before any handler runs and fails
/// those it cannot, unlogged, to be retried for nothing. Every payload here
/// is answered (not failed) and logged whole, a large one cut and said so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_the_runtime_cannot_deserialize_is_logged_and_answered() {
    let runtime = RuntimeApi::start().await;
    // No alert channel: the one real event is handled without AWS.
    let function = Function::start(
        &runtime,
        "http://127.0.0.1:9",
        &[("TRAILGUARD_SNS_TOPIC_ARN", "")],
    );
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes();
    let mut big = b"garbage ".repeat(40_000);
    big.extend_from_slice(b"THE-END");
    let mut surrogate = event("create-access-key");
    surrogate["detail"]["eventName"] = "CreateLoginProfile".into();
    let surrogate = surrogate
        .to_string()
        .replace(
            "\"CreateLoginProfile\"",
            "\"CreateLoginProfile\", \"userAgent\": \"cli\\udc00\"",
        )
        .into_bytes();
    for (name, body) in [
        ("garbage", b"not json at all".to_vec()),
        ("empty", Vec::new()),
        ("deep", deep),
        ("big", big),
        ("invalid utf-8", b"{\"a\": \"\xff\"".to_vec()),
    ] {
        let id = runtime.invoke_raw(body);
        let answer = response(runtime.answer(&id).await);
        assert_eq!(answer["status"], "rejected", "{name}: {answer}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .starts_with("`payload` is not valid JSON"),
            "{name}: {answer}"
        );
    }
    // A lone surrogate in one field: the event is still handled.
    let id = runtime.invoke_raw(surrogate);
    let answer = response(runtime.answer(&id).await);
    assert_eq!(answer["event_name"], "CreateLoginProfile", "{answer}");
    assert_eq!(
        answer["findings"][0]["rule"], "login-profile-created",
        "{answer}"
    );

    let logs = function.log_lines();
    let rejected: Vec<_> = logs
        .iter()
        .filter(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("payload is not JSON"))
        })
        .collect();
    assert_eq!(rejected.len(), 5, "{logs:#?}");
    assert_eq!(rejected[0]["fields"]["payload"], "not json at all");
    assert_eq!(rejected[1]["fields"]["payload"], "");
    assert_eq!(rejected[1]["fields"]["payload_truncated"], false);
    let cut = &rejected[3]["fields"];
    assert_eq!(cut["payload_truncated"], true, "{cut}");
    assert_eq!(cut["payload_bytes"], 320_007);
    let logged = cut["payload"].as_str().unwrap();
    assert!(logged.len() <= 64 * 1024 && logged.starts_with("garbage garbage"));
    assert!(!logged.contains("THE-END"));
    assert!(
        rejected[4]["fields"]["payload"]
            .as_str()
            .unwrap()
            .contains('\u{FFFD}'),
        "{}",
        rejected[4]
    );
}

/// Anyone allowed events:PutEvents can post a custom-source event with the
/// CloudTrail detail-type; it is answered, logged whole, never acted on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_event_is_logged_whole_and_not_acted_on() {
    let runtime = RuntimeApi::start().await;
    // Remediation on, and nothing listening: any call would fail the invocation.
    let function = Function::start(&runtime, "http://127.0.0.1:9", &[("AWS_MAX_ATTEMPTS", "1")]);
    let mut forged = event("create-access-key");
    forged["source"] = "custom.security".into();
    let id = runtime.invoke(forged);
    let answer = response(runtime.answer(&id).await);
    assert_eq!(answer["status"], "ok", "{answer}");
    assert_eq!(answer["findings"], json!([]), "{answer}");
    assert_eq!(
        answer["ignored"],
        "forged event: source `custom.security` is not an AWS service (`aws.*`, which only AWS may send)"
    );
    let logs = function.log_lines();
    let line = logs
        .iter()
        .find(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("forged event rejected"))
        })
        .unwrap_or_else(|| panic!("no forged-event line: {logs:#?}"));
    assert_eq!(line["level"], "ERROR");
    assert!(
        line["fields"]["payload"]
            .as_str()
            .unwrap()
            .contains("custom.security")
    );
    assert_eq!(line["fields"]["outcome"], "ignored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_aws_fails_the_invocation_so_lambda_retries() {
    let aws = Listener::start(|_| Response::aws_error(400, "Throttling")).await;
    let runtime = RuntimeApi::start().await;
    let _function = Function::start(&runtime, &aws.url(""), &[("AWS_MAX_ATTEMPTS", "1")]);
    let id = runtime.invoke(event("attach-user-policy"));
    match runtime.answer(&id).await {
        Answer::Error(e) => {
            assert_eq!(e["errorType"], "trailguard.EffectFailed");
            assert!(
                e["errorMessage"].as_str().unwrap().contains("throttled"),
                "{e}"
            );
        }
        Answer::Response(r) => panic!("a throttled remediation must fail the invocation: {r}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_config_fails_the_cold_start() {
    cold_start_fails_with(&[("TRAILGUARD_MODES", "root-login=alert")]).await;
}

/// A misspelt override would otherwise be ignored silently (remediation
/// left on where the operator meant to switch it off).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misspelt_trailguard_variable_fails_the_cold_start() {
    cold_start_fails_with(&[("TRAILGUARD_DEFALT_MODE", "off")]).await;
}

async fn cold_start_fails_with(env: &[(&str, &str)]) {
    let runtime = RuntimeApi::start().await;
    let mut function = Function::start(&runtime, "http://127.0.0.1:9", env);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = function.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running with a bad config"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(!status.success());
    assert_eq!(
        runtime.polls(),
        0,
        "it must not take events with a bad config"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_event_runs_the_credential_scan() {
    let moto = Moto::start();
    let iam = moto.iam().await;
    let alerts_queue = AlertQueue::create(&moto, TOPIC).await;
    iam.create_user().user_name("carol").send().await.unwrap();
    iam.put_user_policy()
        .user_name("carol")
        .policy_name("s3-read")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();

    let runtime = RuntimeApi::start().await;
    let _function = Function::start(
        &runtime,
        &moto.endpoint,
        &[("TRAILGUARD_MODES", "user-has-inline-policy=remediate")],
    );
    let scheduled = json!({"version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event", "source": "aws.events", "account": ACCOUNT,
        "time": "2024-05-10T06:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/trailguard-CredentialScan"],
        "detail": {}});
    let id = runtime.invoke(scheduled);
    let answer = response(runtime.answer(&id).await);
    assert_eq!(answer["kind"], "scan", "{answer}");
    assert_eq!(answer["status"], "ok", "{answer}");
    assert_eq!(answer["by_rule"]["user-has-inline-policy"], 1, "{answer}");
    assert_eq!(answer["remediated"], 1, "{answer}");
    let inline = iam
        .list_user_policies()
        .user_name("carol")
        .send()
        .await
        .unwrap();
    assert!(inline.policy_names().is_empty());
    let alerts = alerts_queue.drain().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["MessageAttributes"]["rule"]["Value"], "scan");
}
