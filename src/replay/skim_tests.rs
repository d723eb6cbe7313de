//! Replay with the skim against replay without it: the same output, the
//! same counts, the same errors, over the corpus, the benchmark's
//! synthetic archive, hand-made edge cases and generated records.

use std::path::Path;

use proptest::prelude::*;

use super::*;
use crate::config::Organization;

/// `path` replayed with and without the skim: each time the summary, the
/// errors and the output (the page, for HTML); and how many records the
/// skim left unread.
fn both(
    path: &Path,
    config: &Config,
    format: OutputFormat,
    rules: &[&'static str],
) -> (String, String, usize) {
    let opts = Options {
        jobs: 1,
        format,
        filter: Filter {
            rules: rules.to_vec(),
            ..Filter::default()
        },
        progress: false,
        max_input_bytes: input::DEFAULT_MAX_INPUT_BYTES,
    };
    let skim = skim_for(config, &opts).expect("no filter reads a field");
    let input = Input::File(path.to_owned());
    let show = |chunk: Chunk| {
        let page = match format {
            OutputFormat::Html => html::render(&chunk.summary, &chunk.page),
            _ => String::new(),
        };
        format!(
            "{:?}\n{:?}\n{}\n{page}",
            chunk.summary,
            chunk.errors,
            String::from_utf8_lossy(&chunk.output)
        )
    };
    let run = |skim: Option<&Skim>| {
        show(process_input(
            &input,
            config,
            &opts,
            skim,
            None,
            &mut Vec::new(),
            Vec::new(),
        ))
    };
    let mut inert = 0;
    read_records(
        &input,
        None,
        &mut Vec::new(),
        opts.max_input_bytes,
        Some(&skim),
        &mut |r| inert += usize::from(matches!(r, Record::Inert { .. })),
    )
    .unwrap();
    (run(Some(&skim)), run(None), inert)
}

/// The configurations whose verdicts the skim must keep: none, trailguard's
/// own role, the organisation's member role besides, and roles named like
/// the ends of the skim's patterns.
fn configs() -> Vec<Config> {
    let own = Config {
        self_role_arn: Some("arn:aws:iam::111122223333:role/path/trailguard-fn".into()),
        ..Config::default()
    };
    let org = Config {
        organization: Organization {
            member_role_name: Some("TrailguardMember".into()),
            ..Organization::default()
        },
        ..own.clone()
    };
    // Role names that begin where the skim's own patterns begin.
    let named_like_patterns = Config {
        self_role_arn: Some("arn:aws:iam::111122223333:role/ntName".into()),
        organization: Organization {
            member_role_name: Some("orCode".into()),
            ..Organization::default()
        },
        ..Config::default()
    };
    vec![Config::default(), own, org, named_like_patterns]
}

/// Asserts that skimming changes nothing for `path`, in every format the
/// skim serves, with and without a rule filter; the most records left
/// unread under any of the configurations.
fn assert_same(path: &Path) -> usize {
    let mut inert = 0;
    for config in configs() {
        for format in [
            OutputFormat::Summary,
            OutputFormat::Text,
            OutputFormat::Html,
        ] {
            for rules in [&[][..], &["root-api-call", "user-policy-attached"]] {
                let (skimmed, read, unread) = both(path, &config, format, rules);
                assert_eq!(skimmed, read, "{} {format:?} {rules:?}", path.display());
                inert = inert.max(unread);
            }
        }
    }
    inert
}

#[test]
fn the_json_format_and_field_filters_read_every_record() {
    let config = Config::default();
    let mut opts = Options {
        jobs: 1,
        format: OutputFormat::Text,
        filter: Filter::default(),
        progress: false,
        max_input_bytes: input::DEFAULT_MAX_INPUT_BYTES,
    };
    assert!(skim_for(&config, &opts).is_some());
    opts.filter.rules = vec!["root-api-call"];
    assert!(skim_for(&config, &opts).is_some());
    opts.filter.regions = vec!["eu-west-1".into()];
    assert!(skim_for(&config, &opts).is_none());
    opts.filter = Filter {
        since: Some(Utc::now()),
        ..Filter::default()
    };
    assert!(skim_for(&config, &opts).is_none());
    opts.filter = Filter {
        accounts: vec!["1".into()],
        ..Filter::default()
    };
    assert!(skim_for(&config, &opts).is_none());
    opts.filter = Filter::default();
    opts.format = OutputFormat::Json;
    assert!(skim_for(&config, &opts).is_none());
}

#[test]
fn skimming_the_corpus_changes_nothing() {
    // Every corpus record in one pretty-printed log file (`"key": value`,
    // with spaces, as CloudTrail's own files are not).
    let mut records = Vec::new();
    for dir in std::fs::read_dir("tests/corpus").unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&dir).unwrap() {
            let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            if value.get("eventName").is_some() {
                records.push(value);
            }
        }
    }
    assert!(records.len() > 20, "{}", records.len());
    let log = serde_json::to_string_pretty(&serde_json::json!({ "Records": records })).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corpus.json");
    std::fs::write(&path, log).unwrap();
    let inert = assert_same(&path);
    // Most corpus records are ones rules look at; some are not.
    assert!(inert > 0 && inert < records.len(), "{inert}");
}

#[test]
fn skimming_the_synthetic_archive_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let opts = trailguard_bench::synth::Options {
        size: 2 << 20,
        seed: 11,
        violation_share: 0.03,
        near_miss_share: 0.03,
        days: 2,
        ..trailguard_bench::synth::Options::default()
    };
    let manifest = trailguard_bench::synth::generate(dir.path(), &opts, 2, &|_, _| {}).unwrap();
    let mut inert = 0;
    let mut files = 0;
    for entry in walkdir::WalkDir::new(dir.path()) {
        let entry = entry.unwrap();
        if entry.path().to_string_lossy().ends_with(".json.gz") {
            inert += assert_same(entry.path());
            files += 1;
        }
    }
    assert_eq!(files as u64, manifest.files);
    // Nearly every record is one no rule looks at.
    assert!(inert as u64 * 10 > manifest.records * 8, "{inert}");
    assert!((inert as u64) < manifest.records);
}

/// A log file of `records` (JSON texts) in a temporary file.
fn log_file(dir: &tempfile::TempDir, name: &str, records: &[&str]) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, format!("{{\"Records\": [{}]}}", records.join(",\n"))).unwrap();
    path
}

const QUIET: &str = r#"{"eventSource": "s3.amazonaws.com", "eventName": "GetObject", "eventTime": "2024-03-01T00:00:00Z",
    "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/app/s"}, "recipientAccountId": "1"}"#;

#[test]
fn skimming_changes_nothing_in_files_that_go_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let root = r#"{"eventSource": "s3.amazonaws.com", "eventName": "ListBuckets", "userIdentity": {"type": "Root", "arn": "arn:aws:iam::1:root"}}"#;
    let attach = r#"{"eventSource": "iam.amazonaws.com", "eventName": "AttachUserPolicy",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/bob"},
        "requestParameters": {"userName": "bob", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}}"#;
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        // A record a rule looks at whose view fails (a duplicated field):
        // the file stops there, as without the skim.
        (
            "duplicate.json",
            vec![
                QUIET,
                r#"{"eventName": "CreateAccessKey", "eventName": "X"}"#,
                QUIET,
                root,
            ],
            "",
        ),
        // A lone surrogate in a record the skim marks (`\u`): read again
        // with it replaced, as without the skim.
        (
            "surrogate.json",
            vec![
                QUIET,
                r#"{"eventName": "GetObject", "userAgent": "a\ud800b"}"#,
                attach,
            ],
            "",
        ),
        // Entries that are not records.
        (
            "entries.json",
            vec![QUIET, "3", "null", "[1, {}]", r#""x""#, root],
            "",
        ),
        // A syntax error half way: records before it are handed on.
        (
            "syntax.json",
            vec![QUIET, attach, r#"{"eventName": tru}"#, QUIET],
            "",
        ),
        // Odd but valid: values of other types, escapes, errors.
        (
            "odd.json",
            vec![
                r#"{"eventName": 7, "userIdentity": "x"}"#,
                r#"{"eventName": null, "errorCode": ""}"#,
                r#"{"eventName": "Attach\u0055serPolicy", "eventSource": "iam.amazonaws.com"}"#,
                r#"{"eventName": "Describe\/Things", "errorCode": "AccessDenied"}"#,
                r#"{"event\u004eame": "ConsoleLogin", "eventSource": "signin.amazonaws.com"}"#,
                r#"{"eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin",
                    "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/a"},
                    "additionalEventData": {"MFAUsed": "No"}, "responseElements": {"ConsoleLogin": "Success"}}"#,
                r#"{"requestParameters": {"eventName": "CreateAccessKey"}, "eventName": "PutObject"}"#,
                QUIET,
            ],
            "",
        ),
        // Trailguard's own calls and its member role's.
        (
            "own.json",
            vec![
                r#"{"eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances", "recipientAccountId": "111122223333",
                    "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/trailguard-fn/s",
                      "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/path/trailguard-fn"}}}}"#,
                r#"{"eventSource": "iam.amazonaws.com", "eventName": "CreateGroup", "recipientAccountId": "444455556666",
                    "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::444455556666:assumed-role/TrailguardMember/trailguard",
                      "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::444455556666:role/TrailguardMember"}}}}"#,
                r#"{"eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances",
                    "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:role/ntName"}}"#,
                r#"{"eventSource": "iam.amazonaws.com", "eventName": "CreateGroup", "errorCode": "EntityAlreadyExists",
                    "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::444455556666:assumed-role/TrailguardMember/other"}}"#,
                QUIET,
            ],
            "",
        ),
        // Trailing bytes after the log file's object.
        ("trailing.json", vec![QUIET, root], "x"),
    ];
    for (name, records, trailer) in cases {
        let path = log_file(&dir, name, &records);
        if !trailer.is_empty() {
            let mut text = std::fs::read_to_string(&path).unwrap();
            text.push_str(trailer);
            std::fs::write(&path, text).unwrap();
        }
        let inert = assert_same(&path);
        assert!(inert > 0, "{name}: the skim left nothing unread");
    }
}

/// What the skim does not read, it cannot find wrong: a record with a
/// duplicated field that no rule, self check or failed-call count looks
/// at (under either of its values) is counted as an event, where reading
/// it reports it as an error. Either way the records after it are read.
/// A record a rule may look at is always read (above).
#[test]
fn a_duplicated_field_in_a_record_no_rule_looks_at_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_file(
        &dir,
        "dup.json",
        &[
            r#"{"eventName": "GetObject", "eventName": "PutObject"}"#,
            QUIET,
        ],
    );
    let (skimmed, read, inert) = both(&path, &Config::default(), OutputFormat::Summary, &[]);
    assert_eq!(inert, 2);
    assert!(
        skimmed.contains("events: 2,") && !skimmed.contains("duplicate field"),
        "{skimmed}"
    );
    assert!(
        read.contains("events: 1,") && read.contains("duplicate field"),
        "{read}"
    );
}

/// A record from parts that matter to the verdict, each spelled in one of
/// several ways.
fn record() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec![
        "\"GetObject\"",
        "\"ListUsers\"",
        "\"CreateAccessKey\"",
        "\"ConsoleLogin\"",
        "\"StopLogging\"",
        "\"DeleteDetector\"",
        "\"CreateGroup\"",
        "\"Create\\u0041ccessKey\"",
        "7",
        "null",
        "\"\"",
    ]);
    let source = prop::sample::select(vec![
        "iam.amazonaws.com",
        "s3.amazonaws.com",
        "cloudtrail.amazonaws.com",
        "guardduty.amazonaws.com",
        "signin.amazonaws.com",
    ]);
    let kind = prop::sample::select(vec!["Root", "IAMUser", "AssumedRole", "root", "Ro\\u006ft"]);
    let role = prop::sample::select(vec!["app", "trailguard-fn", "TrailguardMember"]);
    let account = prop::sample::select(vec!["111122223333", "444455556666", ""]);
    let error = prop::sample::select(vec![
        "",
        r#", "errorCode": "AccessDenied""#,
        r#", "errorCode": """#,
        r#", "errorCode": null"#,
        r#", "errorMessage": "errorCode""#,
    ]);
    let space = prop::sample::select(vec!["", " ", "\n  "]);
    (name, source, kind, role, account, error, space).prop_map(
        |(name, source, kind, role, account, error, sp)| {
            format!(
                r#"{{"eventName"{sp}:{sp}{name}, "eventSource": "{source}", "recipientAccountId": "{account}",
                "userIdentity": {{"type": "{kind}", "arn": "arn:aws:sts::{account}:assumed-role/{role}/trailguard",
                  "sessionContext": {{"sessionIssuer": {{"arn": "arn:aws:iam::{account}:role/{role}"}}}}}}{error}}}"#
            )
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn skimmed_replay_is_unskimmed_replay(records in prop::collection::vec(record(), 1..12)) {
        let dir = tempfile::tempdir().unwrap();
        let refs: Vec<&str> = records.iter().map(String::as_str).collect();
        let path = log_file(&dir, "log.json", &refs);
        for config in configs() {
            for rules in [&[][..], &["root-api-call"]] {
                let (skimmed, read, _) = both(&path, &config, OutputFormat::Text, rules);
                prop_assert_eq!(skimmed, read);
            }
        }
    }
}
