//! Security Hub on the wire: trailguard's own `BatchImportFindings` and
//! `GetFindings` requests against the ones `aws-sdk-securityhub` sends for
//! the same findings (the adapter trailguard had before), both caught by a
//! loopback listener; pages followed; errors read and retried as the SDK
//! does.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_securityhub::types::{
    AwsSecurityFinding, AwsSecurityFindingFilters, Compliance, ComplianceStatus, Partition,
    Recommendation, RecordState, Remediation, Resource, Severity, SeverityLabel, StringFilter,
    StringFilterComparison,
};
use serde_json::{Value, json};
use trailguard::effects::aws_hub::AwsHub;
use trailguard::effects::{ErrorKind, FindingsHub, HubFinding};

use crate::support::http::{Listener, Request, Response};

const REGION: &str = "eu-west-1";

async fn sdk(endpoint: &str, attempts: u32) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            "AKIDTEST",
            "secret",
            Some("session-token".to_owned()),
            None,
            "test",
        ))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(attempts)
                .with_initial_backoff(Duration::from_millis(1)),
        )
        .load()
        .await
}

fn json_answer(status: u16, body: &str) -> Response {
    Response {
        status,
        content_type: "application/json",
        body: body.to_owned(),
        headers: Vec::new(),
    }
}

fn finding(n: u32, archived: bool) -> HubFinding {
    HubFinding {
        id: format!("trailguard/111122223333/event-{n}/user-policy-attached"),
        generator_id: "trailguard/event/user-policy-attached".to_owned(),
        account: "111122223333".to_owned(),
        partition: "aws".to_owned(),
        types: vec![
            "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark".to_owned(),
        ],
        created_at: "2026-12-02T10:00:00Z".to_owned(),
        updated_at: "2026-12-02T10:05:00Z".to_owned(),
        severity: "MEDIUM".to_owned(),
        title: "Policy attached to user \"bob\"".to_owned(),
        description: "A managed policy was attached\ndirectly to a user.".to_owned(),
        recommendation: "Move the policy to a group.".to_owned(),
        resources: vec![(
            "AwsIamUser".to_owned(),
            "arn:aws:iam::111122223333:user/bob".to_owned(),
        )],
        passed: archived,
        requirements: if archived {
            vec![]
        } else {
            vec!["CIS 1.15".to_owned(), "IAM.2".to_owned()]
        },
        archived,
        fields: vec![
            ("trailguard/rule".to_owned(), "user-policy-attached".to_owned()),
            ("trailguard/event".to_owned(), format!("event-{n}")),
        ],
        source_url: n.is_multiple_of(2).then(|| format!("https://example.com/event-{n}")),
    }
}

/// The finding as the SDK adapter built it (trailguard's, before).
fn sdk_finding(f: &HubFinding) -> AwsSecurityFinding {
    AwsSecurityFinding::builder()
        .schema_version("2018-10-08")
        .id(&f.id)
        .product_arn(format!(
            "arn:{}:securityhub:{REGION}:{}:product/{}/default",
            f.partition, f.account, f.account
        ))
        .generator_id(&f.generator_id)
        .aws_account_id(&f.account)
        .region(REGION)
        .set_types(Some(f.types.clone()))
        .created_at(&f.created_at)
        .updated_at(&f.updated_at)
        .severity(
            Severity::builder()
                .label(SeverityLabel::from(f.severity.as_str()))
                .build(),
        )
        .title(&f.title)
        .description(&f.description)
        .remediation(
            Remediation::builder()
                .recommendation(Recommendation::builder().text(&f.recommendation).build())
                .build(),
        )
        .set_resources(Some(
            f.resources
                .iter()
                .map(|(kind, id)| {
                    Resource::builder()
                        .r#type(kind)
                        .id(id)
                        .partition(Partition::from(f.partition.as_str()))
                        .region(REGION)
                        .build()
                })
                .collect(),
        ))
        .compliance(
            Compliance::builder()
                .status(if f.passed {
                    ComplianceStatus::Passed
                } else {
                    ComplianceStatus::Failed
                })
                .set_related_requirements(Some(f.requirements.clone()))
                .build(),
        )
        .record_state(if f.archived {
            RecordState::Archived
        } else {
            RecordState::Active
        })
        .set_product_fields(Some(f.fields.iter().cloned().collect()))
        .set_source_url(f.source_url.clone())
        .build()
}

fn header<'a>(r: &'a Request, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `securityhub` in region `eu-west-1`, as the SDK signs: the credential
/// scope of the SigV4 `Authorization` header and the session token beside it.
fn assert_signed_as_the_sdk(ours: &Request, theirs: &Request) {
    let scope = |r: &Request| {
        let auth = header(r, "authorization").expect("signed");
        assert!(auth.starts_with("AWS4-HMAC-SHA256 "), "{auth}");
        let credential = auth
            .split(", ")
            .find_map(|p| p.strip_prefix("AWS4-HMAC-SHA256 Credential="))
            .expect("a credential")
            .to_owned();
        let signed = auth
            .split(", ")
            .find_map(|p| p.strip_prefix("SignedHeaders="))
            .expect("signed headers")
            .to_owned();
        // Scope without its date: AKID/DATE/REGION/SERVICE/aws4_request.
        let parts: Vec<&str> = credential.split('/').collect();
        (
            format!("{}/{}/{}/{}", parts[0], parts[2], parts[3], parts[4]),
            signed,
        )
    };
    let (our_scope, our_signed) = scope(ours);
    let (their_scope, _) = scope(theirs);
    assert_eq!(our_scope, "AKIDTEST/eu-west-1/securityhub/aws4_request");
    assert_eq!(our_scope, their_scope);
    for h in ["content-type", "host", "x-amz-date", "x-amz-security-token"] {
        assert!(
            our_signed.split(';').any(|s| s == h),
            "{h} not signed: {our_signed}"
        );
    }
    assert_eq!(header(ours, "x-amz-security-token"), Some("session-token"));
    assert!(header(ours, "x-amz-date").is_some());
}

fn assert_same_request(ours: &Request, theirs: &Request) {
    assert_eq!(ours.method, "POST");
    assert_eq!((&ours.method, &ours.path), (&theirs.method, &theirs.path));
    assert_eq!(header(ours, "content-type"), header(theirs, "content-type"));
    assert_eq!(ours.json(), theirs.json(), "the bodies differ");
    assert_signed_as_the_sdk(ours, theirs);
}

#[tokio::test]
async fn the_import_is_the_request_the_sdk_sends() {
    let aws = Listener::start(|_| {
        json_answer(
            200,
            r#"{"FailedCount":1,"SuccessCount":2,"FailedFindings":[{"Id":"trailguard/111122223333/event-2/user-policy-attached","ErrorCode":"InvalidInput","ErrorMessage":"Finding is too old"}]}"#,
        )
    })
    .await;
    let conf = sdk(&aws.url(""), 1).await;
    let batch = [finding(1, false), finding(2, true), finding(3, false)];

    let failed = AwsHub::from_conf(&conf).import(&batch).await.unwrap();
    assert_eq!(
        failed,
        [(
            batch[1].id.clone(),
            "InvalidInput: Finding is too old".to_owned()
        )]
    );
    aws_sdk_securityhub::Client::new(&conf)
        .batch_import_findings()
        .set_findings(Some(batch.iter().map(sdk_finding).collect()))
        .send()
        .await
        .unwrap();

    let requests = aws.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].path, "/findings/import");
    assert_same_request(&requests[0], &requests[1]);
    let body = requests[0].json();
    assert_eq!(body["Findings"].as_array().unwrap().len(), 3);
    assert_eq!(body["Findings"][1]["RecordState"], "ARCHIVED");
    assert!(body["Findings"][0].get("SourceUrl").is_none());
}

#[tokio::test]
async fn the_read_is_the_request_the_sdk_sends_and_follows_every_page() {
    let page = |findings: Vec<Value>, token: Option<&str>| {
        let mut page = json!({ "Findings": findings });
        if let Some(t) = token {
            page["NextToken"] = json!(t);
        }
        page.to_string()
    };
    let asff = async |f: &HubFinding| -> Value {
        let mut v = sdk_json(sdk_finding(f)).await;
        // Security Hub adds its own fields to what it stores.
        v["ProductFields"]["aws/securityhub/ProductName"] = json!("Default");
        v["WorkflowState"] = json!("NEW");
        v["Workflow"] = json!({ "Status": "NEW" });
        v
    };
    let mine = [finding(1, false), finding(2, false)];
    let mut elsewhere = finding(3, false);
    elsewhere.account = "444455556666".to_owned();
    let first = page(
        vec![asff(&mine[0]).await, asff(&elsewhere).await],
        Some("page-2"),
    );
    let second = page(vec![asff(&mine[1]).await], None);
    let aws = Listener::start(move |req| {
        let token = req.json().get("NextToken").cloned();
        match token {
            None => json_answer(200, &first),
            Some(t) if t == "page-2" => json_answer(200, &second),
            Some(_) => json_answer(400, r#"{"__type":"InvalidInputException"}"#),
        }
    })
    .await;
    let conf = sdk(&aws.url(""), 1).await;

    let found = AwsHub::from_conf(&conf)
        .active("111122223333", "trailguard/event/")
        .await
        .unwrap();
    // Read back as written, with the fields Security Hub added kept.
    let expected: Vec<HubFinding> = mine
        .iter()
        .map(|f| {
            let mut f = f.clone();
            f.fields.push((
                "aws/securityhub/ProductName".to_owned(),
                "Default".to_owned(),
            ));
            f.fields.sort();
            f
        })
        .collect();
    assert_eq!(found, expected, "the other account's finding is dropped");

    let filter = |value: &str, comparison| {
        StringFilter::builder()
            .comparison(comparison)
            .value(value)
            .build()
    };
    aws_sdk_securityhub::Client::new(&conf)
        .get_findings()
        .filters(
            AwsSecurityFindingFilters::builder()
                .aws_account_id(filter("111122223333", StringFilterComparison::Equals))
                .record_state(filter("ACTIVE", StringFilterComparison::Equals))
                .generator_id(filter("trailguard/event/", StringFilterComparison::Prefix))
                .build(),
        )
        .max_results(100)
        .send()
        .await
        .unwrap();

    let requests = aws.requests();
    assert_eq!(requests.len(), 3, "two pages, then the SDK's one");
    assert_eq!(requests[0].path, "/findings");
    assert_same_request(&requests[0], &requests[2]);
    assert_eq!(requests[1].json()["NextToken"], "page-2");
    let mut second = requests[1].json();
    second.as_object_mut().unwrap().remove("NextToken");
    assert_eq!(second, requests[0].json(), "the same filters on every page");
}

/// The SDK's `AwsSecurityFinding` as Security Hub's JSON: what the SDK
/// sends for it, caught from a request.
async fn sdk_json(finding: AwsSecurityFinding) -> Value {
    let aws = Listener::start(|_| json_answer(200, r#"{"FailedFindings":[]}"#)).await;
    let conf = sdk(&aws.url(""), 1).await;
    aws_sdk_securityhub::Client::new(&conf)
        .batch_import_findings()
        .findings(finding)
        .send()
        .await
        .unwrap();
    aws.requests()[0].json()["Findings"][0].clone()
}

#[tokio::test]
async fn errors_are_read_and_retried_as_the_sdk_does() {
    use aws_sdk_securityhub::error::ProvideErrorMetadata;
    // (status, body, the code and kind trailguard reports)
    let cases = [
        (
            429,
            r#"{"__type":"TooManyRequestsException","message":"Rate exceeded"}"#,
            Some("TooManyRequestsException"),
            ErrorKind::Throttled,
        ),
        (
            429,
            r#"{"code":"LimitExceededException","Message":"Too many findings"}"#,
            Some("LimitExceededException"),
            ErrorKind::LimitExceeded,
        ),
        (
            503,
            r#"{"__type":"com.amazonaws.securityhub#InternalException:http://internal.amazon.com/","Message":"oops"}"#,
            Some("InternalException"),
            ErrorKind::Unavailable,
        ),
        (
            403,
            r#"{"__type":"AccessDeniedException","Message":"not authorized to perform securityhub:BatchImportFindings"}"#,
            Some("AccessDeniedException"),
            ErrorKind::AccessDenied,
        ),
        (400, "not JSON", None, ErrorKind::Invalid),
        (
            200,
            r#"{"FailedFindings":"not a list"}"#,
            None,
            ErrorKind::Other,
        ),
    ];
    for (status, body, code, kind) in cases {
        let ours = Listener::start(move |_| json_answer(status, body)).await;
        let err = AwsHub::from_conf(&sdk(&ours.url(""), 3).await)
            .import(&[finding(1, false)])
            .await
            .expect_err("every call fails");
        assert_eq!(err.operation, "securityhub:BatchImportFindings");
        assert_eq!(err.code.as_deref(), code, "{status} {body}: {err}");
        assert_eq!(err.kind, kind, "{status} {body}: {err}");
        if status == 200 {
            assert!(err.message.contains("not what was asked"), "{err}");
        }

        let theirs = Listener::start(move |_| json_answer(status, body)).await;
        let sdk_err = aws_sdk_securityhub::Client::new(&sdk(&theirs.url(""), 3).await)
            .batch_import_findings()
            .findings(sdk_finding(&finding(1, false)))
            .send()
            .await
            .expect_err("every call fails");
        if status != 200 {
            assert_eq!(sdk_err.code(), code, "{status} {body}");
            if let Some(m) = sdk_err.message() {
                assert_eq!(err.message, m, "{status} {body}");
            }
        }
        assert_eq!(
            ours.requests().len(),
            theirs.requests().len(),
            "{status} {body}: attempts"
        );
    }
}

#[tokio::test]
async fn a_next_token_answered_twice_is_an_error_not_a_loop() {
    let aws = Listener::start(|_| json_answer(200, r#"{"Findings":[],"NextToken":"again"}"#)).await;
    let err = AwsHub::from_conf(&sdk(&aws.url(""), 1).await)
        .active("111122223333", "trailguard/scan/")
        .await
        .expect_err("the same token twice");
    assert_eq!(err.operation, "securityhub:GetFindings");
    assert!(err.message.contains("`again`"), "{err}");
    assert_eq!(aws.requests().len(), 2);
}
