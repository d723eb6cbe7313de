//! Known activity for least privilege (`trailguard policy`): the scripted
//! calls of two principals that make no other call in the archive, so the
//! policy generated for each is known in advance. The first file holds the
//! whole script once; none of its calls fires a rule.

use super::Ctx;
use super::call::Call;
use super::principals::{AGENT_BOTO, Role, Who};

/// The scripted role (`arn:aws:iam::ACCOUNT:role/app/report-writer`).
pub(super) const REPORT_WRITER: Role = Role {
    name: "report-writer",
    path: "/app/",
    sessions: &["report-writer-7f3a"],
    agents: &[AGENT_BOTO],
};

/// The scripted user (`arn:aws:iam::ACCOUNT:user/etl-loader`).
pub const ETL_USER: &str = "etl-loader";

/// One scripted call: by the role (`true`) or the user, source, name,
/// request parameters (with `{account}` and `{region}` filled in) and error code.
type Scripted = (
    bool,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);

/// The script, in the order it is written.
pub const SCRIPT: &[Scripted] = &[
    (
        true,
        "s3.amazonaws.com",
        "GetObject",
        r#"{"bucketName":"reports-raw","key":"2024/03/orders.csv","Host":"reports-raw.s3.amazonaws.com"}"#,
        None,
    ),
    (
        true,
        "s3.amazonaws.com",
        "ListObjectsV2",
        r#"{"bucketName":"reports-raw","list-type":"2","prefix":"2024/"}"#,
        None,
    ),
    (
        true,
        "s3.amazonaws.com",
        "PutObject",
        r#"{"bucketName":"reports-out","key":"daily/report.pdf"}"#,
        None,
    ),
    (
        true,
        "dynamodb.amazonaws.com",
        "PutItem",
        r#"{"tableName":"report-index"}"#,
        None,
    ),
    (
        true,
        "sqs.amazonaws.com",
        "ReceiveMessage",
        r#"{"queueUrl":"https://sqs.{region}.amazonaws.com/{account}/report-jobs"}"#,
        None,
    ),
    (
        true,
        "kms.amazonaws.com",
        "Decrypt",
        r#"{"keyId":"arn:aws:kms:{region}:{account}:key/1234abcd-12ab-34cd-56ef-1234567890ab","encryptionAlgorithm":"SYMMETRIC_DEFAULT"}"#,
        None,
    ),
    (true, "sts.amazonaws.com", "GetCallerIdentity", "null", None),
    (
        true,
        "lambda.amazonaws.com",
        "UpdateFunctionCode20150331v2",
        r#"{"functionName":"report-render","publish":true}"#,
        None,
    ),
    (
        true,
        "lambda.amazonaws.com",
        "CreateFunction20150331",
        r#"{"functionName":"report-archive","role":"arn:aws:iam::{account}:role/report-archive-exec","runtime":"python3.12"}"#,
        None,
    ),
    (
        true,
        "monitoring.amazonaws.com",
        "PutMetricData",
        r#"{"namespace":"Reports"}"#,
        None,
    ),
    (
        true,
        "sns.amazonaws.com",
        "Publish",
        r#"{"topicArn":"arn:aws:sns:{region}:{account}:report-ready"}"#,
        None,
    ),
    (
        true,
        "s3.amazonaws.com",
        "DeleteBucket",
        r#"{"bucketName":"reports-raw"}"#,
        Some("AccessDenied"),
    ),
    (
        true,
        "ec2.amazonaws.com",
        "TerminateInstances",
        r#"{"instancesSet":{"items":[{"instanceId":"i-0abc"}]}}"#,
        Some("Client.UnauthorizedOperation"),
    ),
    (
        true,
        "s3.amazonaws.com",
        "FrobnicateBucket",
        r#"{"bucketName":"reports-raw"}"#,
        None,
    ),
    (
        false,
        "s3.amazonaws.com",
        "GetObject",
        r#"{"bucketName":"etl-in","key":"batch.json"}"#,
        None,
    ),
    (
        false,
        "email.amazonaws.com",
        "SendEmail",
        r#"{"source":"etl@example.com"}"#,
        None,
    ),
    (
        false,
        "dynamodb.amazonaws.com",
        "Query",
        r#"{"tableName":"etl-state"}"#,
        None,
    ),
    (
        false,
        "dynamodb.amazonaws.com",
        "Query",
        r#"{"tableName":"etl-state"}"#,
        Some("ProvisionedThroughputExceededException"),
    ),
];

/// Writes the `i`th scripted call.
pub fn scripted(ctx: &mut Ctx, i: usize, out: &mut String) {
    let (by_role, source, name, request, error) = SCRIPT[i % SCRIPT.len()];
    let who = if by_role {
        Who::Role(&REPORT_WRITER, 0)
    } else {
        Who::User(ETL_USER)
    };
    let read_only = name.starts_with("Get") || name.starts_with("List") || name == "Query";
    let request = request
        .replace("{account}", ctx.account)
        .replace("{region}", ctx.region);
    let mut call = Call::new(who, source, name, read_only).request(request);
    if let Some(code) = error {
        call = call.error(code, format!("scripted {code}"));
    }
    call.write(ctx, out);
}
