//! `trailguard policy`: the policy generated from the synthetic archive's
//! scripted activity (bench/src/synth/records/activity.rs) holds exactly
//! the expected actions and resources; denied, failed and unmapped calls
//! stay out; a large policy is merged under IAM's size limit; `unused`
//! lists exactly what a known policy grants and the activity did not use,
//! from files and from IAM (moto). Every generated document is checked
//! for IAM validity against the action table.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use trailguard::policy::ActionTable;
use trailguard::policy::document::MANAGED_POLICY_MAX_CHARS;
use trailguard::policy::table::wildcard_match;
use trailguard_bench::synth::{self, Options};

use crate::support::moto::Moto;

const ROLE: &str = "arn:aws:iam::111122223333:role/app/report-writer";
const USER: &str = "arn:aws:iam::111122223333:user/etl-loader";

fn archive() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        size: 2 << 20,
        seed: 13,
        days: 2,
        ..Options::default()
    };
    synth::generate(dir.path(), &opts, 2, &|_, _| {}).unwrap();
    dir
}

fn trailguard(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trailguard"));
    for (k, _) in std::env::vars() {
        if k.starts_with("TRAILGUARD_") || k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

/// Each action of a document with the resources its statements grant it on.
fn grants(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in doc["Statement"].as_array().unwrap() {
        for a in s["Action"].as_array().unwrap() {
            let resources = s["Resource"].as_array().unwrap();
            out.entry(a.as_str().unwrap().to_owned())
                .or_default()
                .extend(resources.iter().map(|r| r.as_str().unwrap().to_owned()));
        }
    }
    out
}

fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (a, r) in pairs {
        out.entry(a.to_string()).or_default().insert(r.to_string());
    }
    out
}

/// What IAM checks of a managed policy, and what the action table can
/// tell: the grammar, every action (or wildcard) known, every resource an
/// ARN of a type the statement's services define, and the size limit.
fn assert_valid_iam_policy(doc: &Value) {
    let table = ActionTable::embedded();
    let top: BTreeSet<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(top, BTreeSet::from(["Statement", "Version"]), "{doc}");
    assert_eq!(doc["Version"], "2012-10-17");
    let statements = doc["Statement"].as_array().unwrap();
    assert!(!statements.is_empty());
    let mut sids = BTreeSet::new();
    for s in statements {
        let sid = s["Sid"].as_str().unwrap();
        assert!(sid.chars().all(|c| c.is_ascii_alphanumeric()), "{sid}");
        assert!(sids.insert(sid), "duplicate Sid {sid}");
        assert_eq!(s["Effect"], "Allow");
        let actions: Vec<&str> = s["Action"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert!(!actions.is_empty());
        let mut sorted = actions.clone();
        sorted.sort();
        assert_eq!(actions, sorted, "actions sorted");
        let mut services = BTreeSet::new();
        for a in &actions {
            assert!(!table.expand(a).is_empty(), "unknown action {a}");
            services.insert(a.split_once(':').unwrap().0);
        }
        for r in s["Resource"].as_array().unwrap() {
            let r = r.as_str().unwrap();
            if r == "*" {
                continue;
            }
            let known = services.iter().any(|svc| {
                table
                    .service(svc)
                    .unwrap()
                    .resource_types
                    .values()
                    .any(|pattern| {
                        let glob = pattern_to_glob(pattern);
                        wildcard_match(&glob.to_ascii_lowercase(), &r.to_ascii_lowercase())
                    })
            });
            assert!(known, "resource {r} is of no type of {services:?}");
        }
    }
    let compact = serde_json::to_string(doc).unwrap();
    assert!(
        compact.len() <= MANAGED_POLICY_MAX_CHARS,
        "{} characters",
        compact.len()
    );
}

/// `arn:${Partition}:s3:::${BucketName}/${ObjectName}` → `arn:*:s3:::*/*`.
fn pattern_to_glob(pattern: &str) -> String {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        out.push('*');
        rest = rest[start..].split_once('}').map_or("", |(_, r)| r);
    }
    out.push_str(rest);
    out
}

#[test]
fn generated_policy_holds_exactly_the_scripted_actions_and_resources() {
    let dir = archive();
    let report = dir.path().join("report.json");
    let logs = synth::logs_dir(dir.path());
    let out = trailguard(
        &[
            "policy",
            "generate",
            "--principal",
            ROLE,
            "--report",
            report.to_str().unwrap(),
            logs.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json(&out.stdout);
    assert_valid_iam_policy(&doc);
    let k = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    assert_eq!(
        grants(&doc),
        expect(&[
            ("cloudwatch:PutMetricData", "*"),
            (
                "dynamodb:PutItem",
                "arn:aws:dynamodb:us-east-1:111122223333:table/report-index"
            ),
            (
                "iam:PassRole",
                "arn:aws:iam::111122223333:role/report-archive-exec"
            ),
            ("kms:Decrypt", k),
            (
                "lambda:CreateFunction",
                "arn:aws:lambda:us-east-1:111122223333:function:report-archive"
            ),
            (
                "lambda:UpdateFunctionCode",
                "arn:aws:lambda:us-east-1:111122223333:function:report-render"
            ),
            ("s3:GetObject", "arn:aws:s3:::reports-raw/2024/*"),
            ("s3:ListBucket", "arn:aws:s3:::reports-raw"),
            ("s3:PutObject", "arn:aws:s3:::reports-out/daily/*"),
            (
                "sns:Publish",
                "arn:aws:sns:us-east-1:111122223333:report-ready"
            ),
            (
                "sqs:ReceiveMessage",
                "arn:aws:sqs:us-east-1:111122223333:report-jobs"
            ),
        ])
    );
    let report = json(&std::fs::read(report).unwrap());
    let calls = |key: &str| -> Vec<String> {
        report[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["call"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        calls("denied"),
        ["ec2:TerminateInstances", "s3:DeleteBucket"]
    );
    assert_eq!(calls("unmapped"), ["s3:FrobnicateBucket"]);
    assert_eq!(calls("no_permission"), ["sts:GetCallerIdentity"]);
    assert_eq!(
        report["denied"][0]["reason"],
        "Client.UnauthorizedOperation"
    );
    assert_eq!(report["actions"].as_array().unwrap().len(), 11);
    assert_eq!(report["actions"][0]["count"], 1);
    assert!(
        report["period"]["count"].as_u64().unwrap() > 1000,
        "{}",
        report["period"]
    );
    assert!(
        report["period"]["first"].as_str().unwrap() < report["period"]["last"].as_str().unwrap()
    );
    assert!(report["merged"].as_array().unwrap().is_empty());
}

#[test]
fn a_user_gets_only_its_successful_calls() {
    let dir = archive();
    let logs = synth::logs_dir(dir.path());
    let out = trailguard(
        &[
            "policy",
            "generate",
            "--principal",
            USER,
            logs.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json(&out.stdout);
    assert_valid_iam_policy(&doc);
    assert_eq!(
        grants(&doc),
        expect(&[
            (
                "dynamodb:Query",
                "arn:aws:dynamodb:us-east-1:111122223333:table/etl-state"
            ),
            ("s3:GetObject", "arn:aws:s3:::etl-in/*"),
            ("ses:SendEmail", "*"),
        ])
    );
    // The report on stderr names the throttled call apart.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("failed, not granted (1):"), "{stderr}");
    assert!(
        stderr.contains("ProvisionedThroughputExceededException"),
        "{stderr}"
    );
}

#[test]
fn nobody_matching_is_an_error_with_nothing_on_stdout() {
    let dir = archive();
    let logs = synth::logs_dir(dir.path());
    let out = trailguard(
        &[
            "policy",
            "generate",
            "--principal",
            "arn:aws:iam::111122223333:user/nobody",
            logs.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no successful call by `arn:aws:iam::111122223333:user/nobody`")
    );
    let bad = trailguard(
        &[
            "policy",
            "generate",
            "--principal",
            "alice",
            logs.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("`alice` is not a principal ARN"));
}

/// One successful call per action of `pattern`, by `arn`, as JSON lines.
fn calls_file(dir: &Path, pattern: &str, arn: &str, account: &str) -> std::path::PathBuf {
    let mut text = String::new();
    for a in ActionTable::embedded().expand(pattern) {
        let event = serde_json::json!({
            "eventSource": format!("{}.amazonaws.com", a.service),
            "eventName": a.name,
            "eventTime": "2024-05-01T10:00:00Z",
            "awsRegion": "us-east-1",
            "recipientAccountId": account,
            "userIdentity": {"type": "IAMUser", "arn": arn},
            "requestParameters": null,
        });
        text.push_str(&event.to_string());
        text.push('\n');
    }
    let path = dir.join("calls.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_policy_over_the_size_limit_is_merged_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let arn = "arn:aws:iam::111122223333:user/inventory";
    let calls = calls_file(dir.path(), "ec2:*", arn, "111122223333");
    let report = dir.path().join("r.json");
    let out = trailguard(
        &[
            "policy",
            "generate",
            "--principal",
            arn,
            "--report",
            report.to_str().unwrap(),
            calls.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json(&out.stdout);
    assert_valid_iam_policy(&doc);
    let report = json(&std::fs::read(report).unwrap());
    let ec2 = ActionTable::embedded().expand("ec2:*");
    let unmerged: usize = ec2.iter().map(|a| a.full_name().len() + 3).sum();
    assert!(unmerged > MANAGED_POLICY_MAX_CHARS, "{unmerged}");
    assert_eq!(report["actions"].as_array().unwrap().len(), ec2.len());
    assert!(grants(&doc).contains_key("ec2:Describe*"), "{doc}");
    let merged = report["merged"].as_array().unwrap();
    assert!(
        merged[0].as_str().unwrap().starts_with("ec2: "),
        "{merged:?}"
    );
}

const HELD: &str = r#"{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "sqs:ReceiveMessage",
     "sqs:DeleteMessage", "kms:Decrypt", "iam:PassRole", "iam:AttachUserPolicy"], "Resource": "*"}]}"#;

fn unused_names(report: &Value) -> Vec<String> {
    report["unused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            format!(
                "{} {}",
                u["level"].as_str().unwrap(),
                u["action"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn unused_lists_exactly_what_a_known_policy_grants_and_was_not_used() {
    let dir = archive();
    let logs = synth::logs_dir(dir.path());
    let policy = dir.path().join("held.json");
    std::fs::write(&policy, HELD).unwrap();
    let out = trailguard(
        &[
            "policy",
            "unused",
            "--principal",
            ROLE,
            "--policy",
            policy.to_str().unwrap(),
            "--format",
            "json",
            logs.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out.stdout);
    assert_eq!(
        unused_names(&report),
        [
            "permissions-management iam:AttachUserPolicy",
            "write s3:DeleteObject",
            "write sqs:DeleteMessage"
        ]
    );
    assert_eq!(
        (report["granted"].as_u64(), report["used"].as_u64()),
        (Some(8), Some(5))
    );
    assert!(report["unused_services"].as_array().unwrap().is_empty());
    assert_valid_iam_policy(&report["suggested_policy"]);
    let text = trailguard(
        &[
            "policy",
            "unused",
            "--principal",
            ROLE,
            "--policy",
            policy.to_str().unwrap(),
            logs.to_str().unwrap(),
        ],
        &[],
    );
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("granted 8 actions, used 5, unused 3"),
        "{text}"
    );
    assert!(
        text.find("iam:AttachUserPolicy").unwrap() < text.find("s3:DeleteObject").unwrap(),
        "{text}"
    );
}

#[test]
fn unused_refuses_a_file_that_is_no_policy_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "[1, 2]").unwrap();
    let out = trailguard(
        &[
            "policy",
            "unused",
            "--principal",
            ROLE,
            "--policy",
            bad.to_str().unwrap(),
            "-",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "policy `{}` is not a policy document",
            bad.display()
        )),
        "{stderr}"
    );
}

#[tokio::test]
async fn unused_live_reads_a_roles_and_a_users_policies_from_iam() {
    let moto = Moto::start();
    let iam = moto.iam().await;
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    iam.create_role()
        .role_name("worker")
        .path("/app/")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name("worker")
        .policy_name("queue")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:ReceiveMessage","sqs:DeleteMessage"],"Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let managed = iam
        .create_policy()
        .policy_name("buckets")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:DeleteObject"],"Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let managed_arn = managed.policy().unwrap().arn().unwrap().to_owned();
    iam.attach_role_policy()
        .role_name("worker")
        .policy_arn(&managed_arn)
        .send()
        .await
        .unwrap();
    iam.create_user().user_name("dana").send().await.unwrap();
    iam.create_group()
        .group_name("readers")
        .send()
        .await
        .unwrap();
    iam.add_user_to_group()
        .group_name("readers")
        .user_name("dana")
        .send()
        .await
        .unwrap();
    iam.attach_group_policy()
        .group_name("readers")
        .policy_arn(&managed_arn)
        .send()
        .await
        .unwrap();
    iam.put_user_policy()
        .user_name("dana")
        .policy_name("own")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:AttachUserPolicy","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let account = crate::support::moto::ACCOUNT;
    let role_session = format!("arn:aws:sts::{account}:assumed-role/worker/run-1");
    let user_arn = format!("arn:aws:iam::{account}:user/dana");
    let mut lines = String::new();
    for (arn, source, name) in [
        (role_session.as_str(), "sqs", "ReceiveMessage"),
        (role_session.as_str(), "s3", "GetObject"),
        (user_arn.as_str(), "s3", "GetObject"),
    ] {
        lines.push_str(&serde_json::json!({
            "eventSource": format!("{source}.amazonaws.com"), "eventName": name,
            "eventTime": "2024-05-01T10:00:00Z", "awsRegion": "us-east-1", "recipientAccountId": account,
            "userIdentity": {"type": "AssumedRole", "arn": arn}
        }).to_string());
        lines.push('\n');
    }
    let activity = dir.path().join("activity.jsonl");
    std::fs::write(&activity, lines).unwrap();
    let env = [
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/dev/null"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
    ];
    let role_arn = format!("arn:aws:iam::{account}:role/app/worker");
    let out = trailguard(
        &[
            "policy",
            "unused",
            "--live",
            "--principal",
            &role_arn,
            "--format",
            "json",
            activity.to_str().unwrap(),
        ],
        &env,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out.stdout);
    assert_eq!(
        unused_names(&report),
        ["write s3:DeleteObject", "write sqs:DeleteMessage"]
    );
    let policies: Vec<&str> = report["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(
        policies,
        [format!("attached:{managed_arn}").as_str(), "inline:queue"]
    );

    let out = trailguard(
        &[
            "policy",
            "unused",
            "--live",
            "--principal",
            &user_arn,
            "--format",
            "json",
            activity.to_str().unwrap(),
        ],
        &env,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out.stdout);
    assert_eq!(
        unused_names(&report),
        [
            "permissions-management iam:AttachUserPolicy",
            "write s3:DeleteObject"
        ]
    );
    assert_eq!(report["unused_services"], serde_json::json!(["iam"]));
    let policies: Vec<&str> = report["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(
        policies,
        [
            format!("group:readers:attached:{managed_arn}").as_str(),
            "inline:own"
        ]
    );

    // A glob names no one IAM can be asked about.
    let out = trailguard(
        &[
            "policy",
            "unused",
            "--live",
            "--principal",
            "arn:aws:iam::123456789012:user/*",
            activity.to_str().unwrap(),
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("names no IAM user or role"));
}

#[test]
fn the_readme_lists_every_permission_live_needs() {
    let readme = include_str!("../../README.md");
    let docs = include_str!("../../docs/policy.md");
    for p in trailguard::effects::held::READ_PERMISSIONS {
        assert!(readme.contains(&format!("`{p}`")), "README lacks {p}");
        assert!(docs.contains(p), "docs/policy.md lacks {p}");
    }
}

/// The same archive read from S3 (moto, path-style) gives the same policy
/// and the same actions in the report as the local files.
#[test]
fn policy_generate_reads_an_s3_archive_as_it_reads_local_files() {
    let dir = archive();
    let logs = synth::logs_dir(dir.path());
    let local = trailguard(
        &[
            "policy",
            "generate",
            "--principal",
            ROLE,
            logs.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        local.status.success(),
        "{}",
        String::from_utf8_lossy(&local.stderr)
    );

    let moto = crate::support::moto::Moto::start();
    let uploaded = crate::s3_replay::upload(&moto, dir.path());
    assert!(uploaded > 1, "{uploaded} objects");
    let url = format!("s3://{}/AWSLogs/", crate::s3_replay::BUCKET);
    let remote = crate::s3_replay::trailguard(
        &moto,
        &[
            "policy",
            "generate",
            "--principal",
            ROLE,
            "--jobs",
            "3",
            &url,
        ],
    );
    assert!(
        remote.status.success(),
        "{}",
        String::from_utf8_lossy(&remote.stderr)
    );
    assert_eq!(json(&remote.stdout), json(&local.stdout));
    assert_eq!(
        String::from_utf8_lossy(&remote.stdout),
        String::from_utf8_lossy(&local.stdout),
        "the document is deterministic whatever the source"
    );
}
