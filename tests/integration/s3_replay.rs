//! `trailguard replay s3://...` against moto's S3 (server mode, path-style
//! addressing), on archives from the bench generator in the one-account and
//! the organisation-trail layouts: the same output as a local replay of the
//! same files, byte for byte; the listing pruned by the key layout; a
//! corrupt object, a throttled GET and a body cut short each reported or
//! retried while the rest goes on.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use aws_config::Region;
use aws_sdk_s3::config::Credentials;
use trailguard::config::Config;
use trailguard::effects::ErrorKind;
use trailguard::effects::faults::FaultyStore;
use trailguard::effects::s3::AwsS3;
use trailguard::event::archive::{Prune, S3Url};
use trailguard::event::input::DEFAULT_MAX_INPUT_BYTES;
use trailguard::replay::{self, Backoff, Filter, Objects, Options, OutputFormat, S3Source};
use trailguard_bench::synth::{self, Options as SynthOptions};

use crate::support::moto::{ACCESS_KEY, Moto, REGION};

pub(crate) const BUCKET: &str = "trail-archive";

pub(crate) fn s3_config(moto: &Moto) -> aws_sdk_s3::Config {
    aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .region(Region::new(REGION))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(Credentials::new(ACCESS_KEY, ACCESS_KEY, None, None, "moto"))
        .force_path_style(true)
        .build()
}

/// Creates the bucket and uploads every file under `root`, keyed by its
/// path relative to `root`.
pub(crate) fn upload(moto: &Moto, root: &Path) -> usize {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = aws_sdk_s3::Client::from_conf(s3_config(moto));
    runtime.block_on(async {
        client.create_bucket().bucket(BUCKET).send().await.unwrap();
        let mut n = 0;
        for entry in walkdir::WalkDir::new(root) {
            let entry = entry.unwrap();
            // The generator's manifest is no log; the rest is as a trail leaves it.
            if !entry.file_type().is_file() || entry.file_name() == "manifest.json" {
                continue;
            }
            let key = entry.path().strip_prefix(root).unwrap().to_str().unwrap();
            client
                .put_object()
                .bucket(BUCKET)
                .key(key)
                .body(std::fs::read(entry.path()).unwrap().into())
                .send()
                .await
                .unwrap();
            n += 1;
        }
        n
    })
}

pub(crate) fn archive(size: u64, days: u32, organization: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let opts = SynthOptions {
        size,
        seed: 11,
        days,
        violation_share: 0.02,
        organization: organization.map(str::to_owned),
        ..SynthOptions::default()
    };
    synth::generate(dir.path(), &opts, 2, &|_, _| {}).unwrap();
    // What else a trail's bucket holds: a digest, CloudTrail's own check
    // file, the generator's manifest.
    let logs = synth::logs_dir(dir.path());
    let account = match organization {
        Some(org) => logs.join(org).join("111122223333"),
        None => logs.join("111122223333"),
    };
    let digest = account.join("CloudTrail-Digest/us-east-1/2024/03/01");
    std::fs::create_dir_all(&digest).unwrap();
    std::fs::write(
        digest
            .join("111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20240301T010000Z.json.gz"),
        "not json: never read",
    )
    .unwrap();
    std::fs::write(account.join("CloudTrail/ConfigWritabilityCheckFile"), "").unwrap();
    dir
}

pub(crate) fn trailguard(moto: &Moto, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trailguard"));
    for (k, _) in std::env::vars() {
        if k.starts_with("TRAILGUARD_") || k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.args(args)
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .unwrap()
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn s3_replay_prints_the_same_bytes_as_the_local_replay_of_the_same_files() {
    let moto = Moto::start();
    let dir = archive(2 << 20, 3, None);
    upload(&moto, dir.path());
    let logs = synth::logs_dir(dir.path());
    let local = trailguard(
        &moto,
        &[
            "replay",
            "--format",
            "json",
            "--jobs",
            "3",
            logs.to_str().unwrap(),
        ],
    );
    assert!(local.status.success(), "{}", text(&local.stderr));
    let url = format!("s3://{BUCKET}/AWSLogs/");
    let remote = trailguard(&moto, &["replay", "--format", "json", "--jobs", "5", &url]);
    assert!(remote.status.success(), "{}", text(&remote.stderr));
    let expected = text(&local.stdout).replace(&format!("{}/", logs.display()), &url);
    let got = text(&remote.stdout);
    assert!(got.lines().count() > 1000, "{} events", got.lines().count());
    assert!(got == expected, "the S3 replay differs from the local one");
    // One job or many, the same bytes.
    let one = trailguard(&moto, &["replay", "--format", "json", "--jobs", "1", &url]);
    assert!(text(&one.stdout) == got);
    // The summary counts the same events and findings.
    let local = trailguard(
        &moto,
        &["replay", "--format", "summary", logs.to_str().unwrap()],
    );
    let remote = trailguard(&moto, &["replay", "--format", "summary", &url]);
    let first = |o: &Output| text(&o.stdout).lines().nth(1).unwrap().to_owned();
    assert_eq!(first(&local), first(&remote));
    assert!(
        first(&remote).ends_with(" 0 unreadable"),
        "{}",
        first(&remote)
    );
}

fn options(jobs: usize, filter: Filter) -> Options {
    Options {
        jobs,
        format: OutputFormat::Json,
        filter,
        progress: false,
        max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
    }
}

fn day(text: &str) -> chrono::DateTime<chrono::Utc> {
    trailguard::replay::parse_time_bound(text).unwrap()
}

#[test]
fn filters_prune_an_organisation_archive_to_the_folders_that_can_match() {
    let moto = Moto::start();
    let org = "o-a1b2c3d4e5";
    let dir = archive(12 << 20, 6, Some(org));
    let uploaded = upload(&moto, dir.path());
    let store = FaultyStore::new(AwsS3::new(s3_config(&moto)).unwrap());
    let source = S3Source {
        store: &store,
        backoff: Backoff::default(),
    };
    let filter = Filter {
        since: Some(day("2024-03-02")),
        until: Some(day("2024-03-03")),
        accounts: vec!["111122223333".into()],
        regions: vec!["us-east-1".into()],
        ..Filter::default()
    };
    let prune = Prune {
        since: filter.since,
        until: filter.until,
        accounts: filter.accounts.clone(),
        regions: filter.regions.clone(),
    };
    let url = S3Url::parse(&format!("s3://{BUCKET}/")).unwrap().unwrap();
    let objects = Objects::new(source, url, prune);
    let mut out = Vec::new();
    let opts = options(3, filter.clone());
    let summary = replay::run_stream(
        objects,
        None,
        Some(&source),
        &Config::default(),
        &opts,
        &mut out,
        &mut |e| panic!("{e}"),
    )
    .unwrap();
    // The bucket, the AWSLogs folder, then the day and the next one (for
    // late deliveries): no other account, region, year or month.
    let day_folder =
        |d: &str| format!("AWSLogs/{org}/111122223333/CloudTrail/us-east-1/2024/03/{d}/");
    assert_eq!(
        store.listed(),
        [
            "".to_owned(),
            "AWSLogs/".into(),
            day_folder("02"),
            day_folder("03")
        ]
    );
    // Read: the day's files, and the next day's delivered in its first hour.
    let mut expected: Vec<String> = walkdir::WalkDir::new(dir.path().join(day_folder("02")))
        .into_iter()
        .chain(walkdir::WalkDir::new(dir.path().join(day_folder("03"))))
        // A day without files has no folder.
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            e.path()
                .strip_prefix(dir.path())
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .filter(|k| k.contains("/03/02/") || k.contains("_20240303T00"))
        .collect();
    expected.sort();
    let mut got = store.got();
    got.sort();
    assert!(!got.is_empty());
    assert_eq!(got, expected);
    assert!(
        got.len() * 4 < uploaded,
        "{} of {uploaded} objects read",
        got.len()
    );

    // What the local replay of the whole archive finds with the same filters.
    let logs = synth::logs_dir(dir.path());
    let inputs: Vec<_> = trailguard::event::paths::expand(std::slice::from_ref(&logs))
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let mut local = Vec::new();
    let local_summary = replay::run(&inputs, &Config::default(), &opts, &mut local, &mut |e| {
        panic!("{e}")
    })
    .unwrap();
    assert!(summary.events > 0);
    assert_eq!(
        (summary.events, summary.findings),
        (local_summary.events, local_summary.findings)
    );
    let local = text(&local).replace(
        &format!("{}/", logs.display()),
        &format!("s3://{BUCKET}/AWSLogs/"),
    );
    assert!(
        text(&out) == local,
        "the pruned S3 replay differs from the local one"
    );
}

#[test]
fn unreadable_objects_are_reported_by_key_and_the_rest_is_replayed() {
    let moto = Moto::start();
    let dir = archive(8 << 20, 1, None);
    let logs = synth::logs_dir(dir.path());
    let mut keys: Vec<String> = walkdir::WalkDir::new(&logs)
        .sort_by_file_name()
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file() && e.path().to_str().unwrap().ends_with(".json.gz"))
        .filter(|e| !e.path().to_str().unwrap().contains("Digest"))
        .map(|e| {
            e.path()
                .strip_prefix(dir.path())
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(keys.len() > 8, "{keys:?}");
    // A corrupt object: gzip's magic, then garbage.
    let corrupt = keys.remove(3);
    std::fs::write(
        dir.path().join(&corrupt),
        b"\x1f\x8b\x08\x00garbage, not deflate",
    )
    .unwrap();
    upload(&moto, dir.path());
    let (throttled_once, throttled_always, cut) =
        (keys[1].clone(), keys[5].clone(), keys[7].clone());
    let store = FaultyStore::new(AwsS3::new(s3_config(&moto)).unwrap())
        .fail_get(&throttled_once, 2, ErrorKind::Throttled)
        .fail_get(&throttled_always, 100, ErrorKind::Throttled)
        .cut_body(&cut);
    let source = S3Source {
        store: &store,
        backoff: Backoff {
            attempts: 3,
            first_delay: Duration::from_millis(1),
        },
    };
    let url = S3Url::parse(&format!("s3://{BUCKET}/AWSLogs"))
        .unwrap()
        .unwrap();
    let objects = Objects::new(source, url, Prune::default());
    let mut errors = Vec::new();
    let mut out = Vec::new();
    let summary = replay::run_stream(
        objects,
        None,
        Some(&source),
        &Config::default(),
        &options(4, Filter::default()),
        &mut out,
        &mut |e| errors.push(e.to_string()),
    )
    .unwrap();
    assert_eq!(errors.len(), 3, "{errors:#?}");
    let url = |k: &str| format!("`s3://{BUCKET}/{k}`");
    assert!(errors[0].contains(&url(&corrupt)), "{errors:#?}");
    assert!(
        errors
            .iter()
            .any(|e| e.contains(&url(&throttled_always)) && e.contains("SlowDown")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains(&url(&cut)) && e.contains("connection reset")),
        "{errors:#?}"
    );
    assert_eq!(summary.errors, 3);
    let got = store.got();
    let tries = |k: &String| got.iter().filter(|g| *g == k).count();
    assert_eq!(
        (
            tries(&throttled_once),
            tries(&throttled_always),
            tries(&cut)
        ),
        (3, 3, 3)
    );

    // Every other object was replayed: the same events as a local replay
    // of the archive without the three.
    for k in [&corrupt, &throttled_always, &cut] {
        std::fs::remove_file(dir.path().join(k)).unwrap();
    }
    let inputs: Vec<_> = trailguard::event::paths::expand(std::slice::from_ref(&logs))
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let mut local = Vec::new();
    let local_summary = replay::run(
        &inputs,
        &Config::default(),
        &options(1, Filter::default()),
        &mut local,
        &mut |e| panic!("{e}"),
    )
    .unwrap();
    assert!(local_summary.events > 0);
    assert_eq!(summary.events, local_summary.events);
    let local = text(&local).replace(
        &format!("{}/", logs.display()),
        &format!("s3://{BUCKET}/AWSLogs/"),
    );
    assert!(text(&out) == local);
}

#[test]
fn a_missing_bucket_is_one_clear_error() {
    let moto = Moto::start();
    // Mixed with a local folder, which is still replayed.
    let events = concat!(env!("CARGO_MANIFEST_DIR"), "/events");
    let out = trailguard(
        &moto,
        &[
            "replay",
            "--format",
            "summary",
            events,
            "s3://no-such-bucket/AWSLogs/",
        ],
    );
    let alone = trailguard(&moto, &["replay", "--format", "summary", events]);
    assert!(alone.status.success());
    // The same events and findings; the bucket counts as one unreadable input.
    let expected = text(&alone.stdout).replacen(" 0 unreadable", " 1 unreadable", 1);
    assert_eq!(text(&out.stdout), expected);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cannot read `s3://no-such-bucket/AWSLogs/`: cannot list it: the bucket does not exist (NoSuchBucket)"),
        "{stderr}"
    );
    let bad = trailguard(&moto, &["replay", "s3://"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("`s3://` is not an S3 URL: no bucket name"));
}

#[test]
fn a_denied_listing_is_one_error_and_a_throttled_one_is_retried() {
    let moto = Moto::start();
    let dir = archive(2 << 20, 2, None);
    upload(&moto, dir.path());
    let run = |store: &FaultyStore<AwsS3>| {
        let source = S3Source {
            store,
            backoff: Backoff {
                attempts: 3,
                first_delay: Duration::from_millis(1),
            },
        };
        let url = S3Url::parse(&format!("s3://{BUCKET}/AWSLogs/"))
            .unwrap()
            .unwrap();
        let objects = Objects::new(source, url, Prune::default());
        let mut errors = Vec::new();
        let summary = replay::run_stream(
            objects,
            None,
            Some(&source),
            &Config::default(),
            &options(2, Filter::default()),
            &mut std::io::sink(),
            &mut |e| errors.push(e.to_string()),
        )
        .unwrap();
        (summary, errors)
    };
    // Denied on one account's folder: said once, nothing else listed.
    let denied = "AWSLogs/444455556666/CloudTrail/";
    let store = FaultyStore::new(AwsS3::new(s3_config(&moto)).unwrap())
        .fail_list(denied, ErrorKind::AccessDenied);
    let (_, errors) = run(&store);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with(&format!(
            "cannot read `s3://{BUCKET}/{denied}`: cannot list it: access denied (AccessDenied)"
        )),
        "{errors:#?}"
    );
    assert_eq!(store.listed().iter().filter(|p| *p == denied).count(), 1);
    assert_eq!(store.listed().last().map(String::as_str), Some(denied));
    // Throttled every time on a region: reported after three attempts, the
    // other folders replayed.
    let slow = "AWSLogs/111122223333/CloudTrail/us-east-1/";
    let store = FaultyStore::new(AwsS3::new(s3_config(&moto)).unwrap())
        .fail_list(slow, ErrorKind::Throttled);
    let (summary, errors) = run(&store);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].contains(slow) && errors[0].contains("SlowDown"),
        "{errors:#?}"
    );
    assert_eq!(store.listed().iter().filter(|p| *p == slow).count(), 3);
    // Every event outside the throttled folder, and none inside it: as
    // many as a local replay of the archive without that folder reads.
    std::fs::remove_dir_all(dir.path().join(slow)).unwrap();
    let logs = synth::logs_dir(dir.path());
    let inputs: Vec<_> = trailguard::event::paths::expand(std::slice::from_ref(&logs))
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let local = replay::run(
        &inputs,
        &Config::default(),
        &options(1, Filter::default()),
        &mut std::io::sink(),
        &mut |e| panic!("{e}"),
    )
    .unwrap();
    assert_eq!(summary.events, local.events);
    // The generator's seed fixes the archive: a replay that reads nothing
    // anywhere, or the local one too, is caught by the number itself.
    assert_eq!(summary.events, 1310);
}
