//! The organisation backtest's batch handler end to end: the compiled
//! `trailguard-lambda` is handed batches of keys as a Distributed Map's
//! item reader and item batcher make them, reads an organisation-trail
//! archive from moto's S3 and writes its results there; `replay --merge`
//! of those results prints what a replay of the same archive prints, byte
//! for byte, in every format. Nothing is remediated or alerted.

use std::path::Path;
use std::process::Output;

use aws_sdk_s3::primitives::DateTimeFormat;
use serde_json::{Value, json};

use crate::lambda_e2e::Function;
use crate::s3_replay::{BUCKET, archive, s3_config, text, trailguard, upload};
use crate::support::moto::{AlertQueue, Moto};
use crate::support::runtime_api::{Answer, RuntimeApi};

const RESULTS: &str = "backtest-results";
const ORG: &str = "o-a1b2c3d4e5";
/// Small, so that the archive makes many batches.
const BATCH_SIZE: usize = 3;
const CONFIG: &str =
    "[modes]\nuser-policy-attached = \"remediate\"\naccess-key-created = \"remediate\"\n";

/// Every key under `prefix`, in S3's order, as the S3 `ListObjectsV2` item
/// reader hands them to the map.
async fn item_reader(client: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for o in page.unwrap().contents() {
            items.push(json!({
                "Etag": o.e_tag(),
                "Key": o.key(),
                "LastModified": o.last_modified().unwrap().fmt(DateTimeFormat::DateTime).unwrap(),
                "Size": o.size(),
                "StorageClass": "STANDARD",
            }));
        }
    }
    items
}

/// Copies every object under `prefix` into `dir` (an `aws s3 sync`).
async fn download(client: &aws_sdk_s3::Client, prefix: &str, dir: &Path) {
    let objects = client
        .list_objects_v2()
        .bucket(RESULTS)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    for o in objects.contents() {
        let key = o.key().unwrap();
        let body = client.get_object().bucket(RESULTS).key(key).send().await;
        let bytes = body.unwrap().body.collect().await.unwrap().into_bytes();
        let path = dir.join(&key[prefix.len()..]);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

#[test]
fn lambda_batches_merge_into_the_report_of_a_replay_of_the_same_archive() {
    let moto = Moto::start();
    let dir = archive(12 << 20, 6, Some(ORG));
    // A log file that is no gzip: reported with its key, the rest read.
    let corrupt = format!(
        "AWSLogs/{ORG}/111122223333/CloudTrail/us-east-1/2024/03/02/111122223333_CloudTrail_us-east-1_20240302T1200Z_corrupt.json.gz"
    );
    let path = dir.path().join(&corrupt);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, b"\x1f\x8bnot gzip after all").unwrap();
    // What the generator wrote, and the findings it expects there: counted
    // as it writes each violation, not by trailguard. The config below
    // turns two rules to remediate, which changes no finding's count.
    let manifest = trailguard_bench::synth::Manifest::read(dir.path()).unwrap();
    let uploaded = upload(&moto, dir.path());
    let config = dir.path().join("backtest.toml");
    std::fs::write(&config, CONFIG).unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = aws_sdk_s3::Client::from_conf(s3_config(&moto));
    rt.block_on(client.create_bucket().bucket(RESULTS).send())
        .unwrap();
    // The function's own alert topic: nothing may reach it.
    let alerts = rt.block_on(AlertQueue::create(&moto, "trailguard-alerts"));
    let items = rt.block_on(item_reader(&client, BUCKET, "AWSLogs/"));
    // The log files, the digest, the writability check file and the
    // corrupt file: every key uploaded.
    assert_eq!(items.len(), uploaded);
    assert_eq!(items.len() as u64, manifest.files + 3);

    let runtime = rt.block_on(RuntimeApi::start());
    let function = {
        let _entered = rt.enter();
        Function::start(&runtime, &moto.endpoint, &[("TRAILGUARD_BACKTEST", "true")])
    };
    let batch_input = json!({
        "trailguard": "replay-batch",
        "bucket": BUCKET,
        "results": format!("s3://{RESULTS}/run-1"),
        "config": CONFIG,
    });
    let (mut handed, mut errors, mut unreadable, mut findings, mut events) =
        (0, 0, Vec::new(), 0, 0);
    let mut ids = std::collections::BTreeSet::new();
    for batch in items.chunks(BATCH_SIZE) {
        let id = runtime.invoke(json!({"BatchInput": batch_input, "Items": batch}));
        let answer = match rt.block_on(runtime.answer(&id)) {
            Answer::Response(v) => v,
            Answer::Error(e) => panic!("the batch failed: {e}"),
        };
        assert_eq!(answer["status"], "ok", "{answer}");
        handed += answer["items"].as_u64().unwrap();
        errors += answer["errors"].as_u64().unwrap();
        findings += answer["findings"].as_u64().unwrap();
        events += answer["events"].as_u64().unwrap();
        unreadable.extend(answer["unreadable"].as_array().unwrap().clone());
        ids.insert(answer["batch"].as_str().unwrap().to_owned());
    }
    assert_eq!(handed as usize, items.len());
    assert_eq!(ids.len(), items.len().div_ceil(BATCH_SIZE));
    assert_eq!(errors, 1);
    assert_eq!(unreadable, [json!(format!("s3://{BUCKET}/{corrupt}"))]);
    // Every record the generator wrote is read once (the corrupt file holds
    // none), and every finding it planted is found.
    assert_eq!(events, manifest.records);
    assert_eq!(findings, manifest.findings);
    assert!(findings > 0);

    // A log file's item (the listing starts with the digests, not read).
    let log_file = items
        .iter()
        .find(|i| {
            i["Key"]
                .as_str()
                .is_some_and(|k| k.contains("/CloudTrail/us-"))
        })
        .expect("a log file");
    // A bad config, or a results or archive bucket that does not exist,
    // fails the invocation naming the field or the bucket, as bad input:
    // the state machine does not retry it.
    for (bucket, results, config, expected) in [
        (
            BUCKET,
            format!("s3://{RESULTS}/run-2"),
            "[modes]\nno-such-rule = \"alert\"",
            "batch input `config`: ".to_owned(),
        ),
        (
            BUCKET,
            "s3://no-such-results-bucket/run-2".to_owned(),
            CONFIG,
            "cannot write `s3://no-such-results-bucket/run-2/batches/".to_owned(),
        ),
        (
            "no-such-archive",
            format!("s3://{RESULTS}/run-2"),
            CONFIG,
            "cannot read the archive `s3://no-such-archive/`: the bucket does not exist (NoSuchBucket)"
                .to_owned(),
        ),
    ] {
        let id = runtime.invoke(json!({
            "BatchInput": {"trailguard": "replay-batch", "bucket": bucket,
                           "results": results, "config": config},
            "Items": [log_file],
        }));
        match rt.block_on(runtime.answer(&id)) {
            Answer::Error(e) => {
                let message = e["errorMessage"].as_str().unwrap_or_default();
                assert!(message.starts_with(&expected), "{e}");
                assert_eq!(e["errorType"], "trailguard.BadInput", "{e}");
            }
            Answer::Response(v) => panic!("bad input was answered: {v}"),
        }
    }

    // A backtest with a batch killed after its start (a timeout, out of
    // memory): only its marker is left. Another batch completes beside it.
    let run3 = json!({"trailguard": "replay-batch", "bucket": BUCKET,
                      "results": format!("s3://{RESULTS}/run-3"), "config": CONFIG});
    let mut died = String::new();
    for batch in [&items[..BATCH_SIZE], &items[BATCH_SIZE..2 * BATCH_SIZE]] {
        let id = runtime.invoke(json!({"BatchInput": run3, "Items": batch}));
        match rt.block_on(runtime.answer(&id)) {
            Answer::Response(v) if died.is_empty() => died = v["batch"].as_str().unwrap().into(),
            Answer::Response(_) => {}
            Answer::Error(e) => panic!("the batch failed: {e}"),
        }
    }
    for file in ["events.jsonl.gz", "findings.txt", "summary.json"] {
        let key = format!("run-3/batches/{died}/{file}");
        rt.block_on(client.delete_object().bucket(RESULTS).key(key).send())
            .unwrap();
    }

    // Anything but a batch fails as bad input, and is not evaluated: the
    // backtest function runs batches only.
    let event = json!({
        "version": "0", "id": "e1", "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.iam", "account": "111122223333", "region": "us-east-1",
        "detail": {"eventVersion": "1.08", "eventSource": "iam.amazonaws.com",
                   "eventName": "CreateAccessKey", "recipientAccountId": "111122223333",
                   "userIdentity": {"type": "IAMUser", "userName": "alice"},
                   "requestParameters": {"userName": "bob"},
                   "responseElements": {"accessKey": {"accessKeyId": "AKIAEXAMPLE", "userName": "bob", "status": "Active"}}},
    });
    match rt.block_on(runtime.answer(&runtime.invoke(event))) {
        Answer::Error(e) => {
            assert_eq!(e["errorType"], "trailguard.BadInput", "{e}");
            assert!(
                e["errorMessage"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("not a backtest batch")),
                "{e}"
            );
        }
        Answer::Response(v) => panic!("an event was answered by the backtest function: {v}"),
    }

    // Replay semantics: nothing alerted, nothing remediated (moving a
    // policy onto a group would have made one).
    assert!(rt.block_on(alerts.drain()).is_empty());
    let iam = rt.block_on(moto.iam());
    let groups = rt.block_on(iam.list_groups().send()).unwrap();
    assert!(groups.groups().is_empty(), "{:?}", groups.groups());
    drop(function);

    let results = format!("s3://{RESULTS}/run-1");
    let archive_url = format!("s3://{BUCKET}/AWSLogs/");
    let copy = tempfile::tempdir().unwrap();
    rt.block_on(download(&client, "run-1/", copy.path()));
    let config = config.to_str().unwrap();
    for format in ["json", "text", "summary", "html"] {
        let replayed = trailguard(
            &moto,
            &[
                "replay",
                "--config",
                config,
                "--format",
                format,
                &archive_url,
            ],
        );
        let merged = trailguard(&moto, &["replay", "--merge", &results, "--format", format]);
        let from_copy = trailguard(
            &moto,
            &[
                "replay",
                "--merge",
                copy.path().to_str().unwrap(),
                "--format",
                format,
            ],
        );
        for (what, out) in [("merged", &merged), ("merged from a copy", &from_copy)] {
            assert_eq!(
                out.status.code(),
                Some(1),
                "{what} {format}: {}",
                text(&out.stderr)
            );
            assert!(
                text(&out.stderr).contains(&corrupt),
                "{what} {format}: {}",
                text(&out.stderr)
            );
            assert!(
                out.stdout == replayed.stdout,
                "{what} {format} differs from the replay:\n{}",
                diff_head(&replayed, out)
            );
        }
        assert!(!merged.stdout.is_empty());
    }
    // The summary counts every event of the archive once.
    let summary = trailguard(
        &moto,
        &["replay", "--merge", &results, "--format", "summary"],
    );
    let first = text(&summary.stdout).lines().nth(1).unwrap().to_owned();
    assert!(first.ends_with(", 1 unreadable"), "{first}");

    // The batch that died is reported with each of its keys, and the
    // merge fails; the batch that completed is merged.
    let out = trailguard(
        &moto,
        &[
            "replay",
            "--merge",
            &format!("s3://{RESULTS}/run-3"),
            "--format",
            "json",
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("trailguard: batch `{died}` failed (or is still running): started, but cannot read `s3://{RESULTS}/run-3/batches/{died}/summary.json`")),
        "{stderr}"
    );
    let lost: Vec<String> = items[..BATCH_SIZE]
        .iter()
        .map(|i| format!("  s3://{BUCKET}/{}", i["Key"].as_str().unwrap()))
        .collect();
    let listed: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("  s3://"))
        .collect();
    assert_eq!(listed, lost, "{stderr}");
    assert!(!out.stdout.is_empty());
}

/// The first line where two outputs differ, for a failure message.
fn diff_head(a: &Output, b: &Output) -> String {
    let (a, b) = (text(&a.stdout), text(&b.stdout));
    for (n, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {n}:\n- {x}\n+ {y}");
        }
    }
    format!("{} lines against {}", a.lines().count(), b.lines().count())
}

#[test]
fn merge_without_results_is_one_clear_error() {
    let moto = Moto::start();
    let empty = tempfile::tempdir().unwrap();
    let out = trailguard(
        &moto,
        &["replay", "--merge", empty.path().to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim_end(),
        format!(
            "trailguard: no batch results under `{}` (expected `batches/ID/summary.json`)",
            empty.path().display()
        )
    );
    let out = trailguard(&moto, &["replay", "--merge", "s3://no-such-bucket/run"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .contains("cannot list the batches under `s3://no-such-bucket/run/batches/`"),
        "{}",
        text(&out.stderr)
    );
}

/// The live function never runs a batch: its role reads no archive, and a
/// batch it took would write wherever the payload said. It answers
/// `rejected` and writes nothing.
#[test]
fn the_live_function_refuses_a_backtest_batch() {
    let moto = Moto::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = aws_sdk_s3::Client::from_conf(s3_config(&moto));
    rt.block_on(client.create_bucket().bucket(RESULTS).send())
        .unwrap();
    let runtime = rt.block_on(RuntimeApi::start());
    let function = {
        let _entered = rt.enter();
        Function::start(&runtime, &moto.endpoint, &[])
    };
    let batch = json!({
        "BatchInput": {"trailguard": "replay-batch", "bucket": BUCKET,
                       "results": format!("s3://{RESULTS}/run-1"), "config": CONFIG},
        "Items": [{"Key": "AWSLogs/x.json.gz", "Size": 10}],
    });
    match rt.block_on(runtime.answer(&runtime.invoke(batch))) {
        Answer::Response(v) => {
            assert_eq!(v["status"], "rejected", "{v}");
            assert_eq!(v["error"], trailguard::lambda::BATCH_REFUSED, "{v}");
        }
        Answer::Error(e) => panic!("the batch failed instead of being refused: {e}"),
    }
    let listed = rt
        .block_on(client.list_objects_v2().bucket(RESULTS).send())
        .unwrap();
    assert!(listed.contents().is_empty(), "{:?}", listed.contents());
    assert!(
        function.log_lines().iter().any(|l| l["fields"]["message"]
            == "a backtest batch reached the live function; logged, answered, not run"),
        "{:?}",
        function.log_lines()
    );
}
