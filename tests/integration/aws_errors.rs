//! How AWS failures reach the caller: the real SDK adapters against a
//! loopback listener that answers with AWS error responses, and against a
//! closed port. Throttling, 5xx and connection failures are worth a retry;
//! access denied and validation errors are not.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use trailguard::config::Config;
use trailguard::live::{LiveContext, handle_event};
use trailguard::remediate::{Retry, Status};

use crate::support::fixtures::event;
use crate::support::http::{Listener, Response};

async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        // One attempt: the SDK's own retry is not what is tested here.
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .load()
        .await
}

fn config() -> Config {
    Config::from_toml(
        "[modes]\nuser-policy-attached = \"remediate\"\n[alerts]\nsns_topic_arn = \"arn:aws:sns:us-east-1:123456789012:trailguard-alerts\"",
        "test",
        std::iter::empty(),
    )
    .unwrap()
}

#[tokio::test]
async fn aws_errors_are_classified_for_retry() {
    for (status, code, retryable) in [
        (403, "AccessDenied", false),
        (400, "ValidationError", false),
        (400, "Throttling", true),
        (503, "ServiceUnavailable", true),
        (500, "InternalFailure", true),
        (409, "ConcurrentModification", true),
        (409, "EntityTemporarilyUnmodifiable", true),
    ] {
        let aws = Listener::start(move |_| Response::aws_error(status, code)).await;
        let ctx = LiveContext::from_sdk_config(config(), &sdk(&aws.url("")).await, None)
            .unwrap()
            .with_retry(Retry::quick());
        let err = handle_event(event("attach-user-policy"), &ctx)
            .await
            .expect_err("every call fails");
        assert_eq!(err.is_retryable(), retryable, "{code}: {err}");
        let outcome = err.outcome().unwrap();
        let f = &outcome.findings[0];
        let report = f.remediation.as_ref().unwrap();
        assert_eq!(report.status, Status::Failed, "{code}");
        assert!(report.calls.is_empty(), "{code}: nothing was changed");
        // Both the remediation and the SNS alert failed, each classified.
        assert_eq!(outcome.errors.len(), 2, "{code}: {:?}", outcome.errors);
        assert!(outcome.errors.iter().all(|e| e.retryable == retryable));
        assert!(
            outcome.errors[0].message.contains(code),
            "{:?}",
            outcome.errors
        );
        assert!(outcome.errors[1].message.contains("`sns:Publish` failed"));
    }
}

#[tokio::test]
async fn an_unreachable_endpoint_is_worth_a_retry() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ctx = LiveContext::from_sdk_config(
        config(),
        &sdk(&format!("http://127.0.0.1:{port}")).await,
        None,
    )
    .unwrap()
    .with_retry(Retry::quick());
    let err = handle_event(event("attach-user-policy"), &ctx)
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
}

/// A dispatch failure (nothing listens) is worth a retry on both paths: the
/// effects' and the scan's reads share one classifier and one error type.
#[tokio::test]
async fn an_unreachable_endpoint_is_transient_for_the_scan_too() {
    use trailguard::effects::CredentialSource;
    use trailguard::effects::aws::AwsIam;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let source = AwsIam::from_conf(&sdk(&format!("http://127.0.0.1:{port}")).await);
    let err = source.account_summary().await.expect_err("nothing listens");
    assert!(err.is_retryable(), "{err}");
}

/// The scan's reads answer the effects' error: the same kind as the live
/// path, and the retry verdict the scan's own kinds gave before (not found;
/// transient for throttling, 5xx and a concurrent change; other).
#[tokio::test]
async fn scan_reads_classify_errors_as_the_live_path_does() {
    use trailguard::effects::CredentialSource;
    use trailguard::effects::ErrorKind;
    use trailguard::effects::aws::AwsIam;
    for (status, code, kind, retryable) in [
        (403, "AccessDenied", ErrorKind::AccessDenied, false),
        (400, "ValidationError", ErrorKind::Invalid, false),
        (404, "NoSuchEntity", ErrorKind::NotFound, false),
        (400, "Throttling", ErrorKind::Throttled, true),
        (503, "SomethingNew", ErrorKind::Unavailable, true),
        (409, "ConcurrentModification", ErrorKind::Unavailable, true),
    ] {
        let aws = Listener::start(move |_| Response::aws_error(status, code)).await;
        let source = AwsIam::from_conf(&sdk(&aws.url("")).await);
        let err = source
            .account_summary()
            .await
            .expect_err("every call fails");
        assert_eq!(err.kind, kind, "{code}: {err}");
        assert_eq!(err.is_retryable(), retryable, "{code}: {err}");
        assert_eq!(err.operation, "iam:GetAccountSummary");
    }
}

/// CloudTrail answers StartLogging with ConflictException while a trail is
/// still being loaded or updated, and says to try again: through the real
/// adapter, the remediation fails as worth a retry (Lambda runs it again).
#[tokio::test]
async fn a_start_logging_conflict_is_worth_a_retry() {
    let aws = Listener::start(|req| {
        let target = req
            .headers
            .iter()
            .find(|(k, _)| k == "x-amz-target")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        if target.ends_with("GetTrailStatus") {
            Response {
                status: 200,
                content_type: "application/x-amz-json-1.1",
                body: r#"{"IsLogging":false}"#.into(),
                headers: Vec::new(),
            }
        } else {
            Response {
                status: 400,
                content_type: "application/x-amz-json-1.1",
                body: r#"{"__type":"ConflictException","Message":"the trail is not ready"}"#.into(),
                headers: Vec::new(),
            }
        }
    })
    .await;
    let config = Config::from_toml(
        "[modes]\ncloudtrail-tampered = \"remediate\"",
        "test",
        std::iter::empty(),
    )
    .unwrap();
    let ctx = LiveContext::from_sdk_config(config, &sdk(&aws.url("")).await, None)
        .unwrap()
        .with_retry(Retry::quick());
    let err = handle_event(event("stop-logging"), &ctx)
        .await
        .expect_err("StartLogging keeps conflicting");
    assert!(err.is_retryable(), "{err}");
    let outcome = err.outcome().unwrap();
    let report = outcome.findings[0].remediation.as_ref().unwrap();
    assert_eq!(report.status, Status::Failed);
    assert!(
        outcome.errors[0].message.contains("ConflictException"),
        "{:?}",
        outcome.errors
    );
    let starts = aws
        .requests()
        .iter()
        .filter(|r| {
            r.headers
                .iter()
                .any(|(k, v)| k == "x-amz-target" && v.ends_with("StartLogging"))
        })
        .count();
    assert_eq!(
        starts,
        Retry::quick().attempts as usize,
        "retried in the run"
    );
}
