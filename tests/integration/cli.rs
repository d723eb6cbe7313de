//! The `trailguard` binary as users run it.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn trailguard(args: &[&str]) -> Output {
    trailguard_stdin(args, None)
}

fn trailguard_stdin(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(args)
        .current_dir(ROOT)
        .env_remove("TRAILGUARD_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(stdin.unwrap_or_default()).unwrap();
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// One sample's decisions in `events/expected.tsv` notation.
fn notation(report: &serde_json::Value) -> String {
    let mut d: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let exempt = if f["exempt"].is_null() { "" } else { ":exempt" };
            format!(
                "{}:{}{exempt}",
                f["rule"].as_str().unwrap(),
                f["mode"].as_str().unwrap()
            )
        })
        .collect();
    d.sort();
    if !d.is_empty() {
        d.join(" ")
    } else if report["ignored"].is_null() {
        "-".into()
    } else {
        "ignored".into()
    }
}

#[test]
fn replay_of_the_samples_matches_their_expected_decisions_under_both_configs() {
    let table = std::fs::read_to_string(Path::new(ROOT).join("events/expected.tsv")).unwrap();
    let rows: Vec<Vec<&str>> = table
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').collect())
        .collect();
    for (column, extra) in [(1, vec![]), (2, vec!["--config", "events/trailguard.toml"])] {
        let mut args = vec!["replay", "--format", "json"];
        args.extend(extra.iter().copied());
        args.push("events/");
        let out = trailguard(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let reports = json_lines(&out);
        assert_eq!(reports.len(), rows.len(), "one JSON object per sample");
        for (report, row) in reports.iter().zip(&rows) {
            let file = report["location"].as_str().unwrap();
            assert_eq!(file, format!("events/{}#0", row[0]), "input order");
            assert_eq!(
                notation(report),
                row[column],
                "{file} with config column {column}"
            );
        }
    }
}

#[test]
fn json_report_has_the_documented_fields() {
    let out = trailguard(&[
        "replay",
        "--format",
        "json",
        "events/user-policy-attached.json",
    ]);
    let r = &json_lines(&out)[0];
    for key in [
        "event_id",
        "event_name",
        "event_source",
        "actor",
        "ignored",
        "findings",
    ] {
        assert!(r.get(key).is_some(), "missing {key}");
    }
    assert_eq!(r["actor"]["type"], "AssumedRole");
    let f = &r["findings"][0];
    assert_eq!(f["rule"], "user-policy-attached");
    assert_eq!(f["severity"], "medium");
    assert_eq!(f["mode"], "alert");
    assert_eq!(
        f["target"],
        serde_json::json!({"kind": "user", "user_name": "new-user"})
    );
    assert_eq!(f["remediation"]["action"], "move-policy-to-group");
    assert_eq!(f["remediation"]["group_name"], "trailguard-read-only");
    assert!(f["summary"].as_str().unwrap().contains("ReadOnlyAccess"));
}

#[test]
fn unreadable_input_is_reported_with_its_path_and_the_rest_still_processed() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.json");
    std::fs::write(&bad, "{\"Records\": [").unwrap();
    let bad = bad.to_str().unwrap();
    let out = trailguard(&[
        "replay",
        "--format",
        "json",
        bad,
        "/no/such/file.json",
        "events/root-console-login.json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("`{bad}#0` is not valid JSON")),
        "{stderr}"
    );
    assert!(stderr.contains("`/no/such/file.json`"), "{stderr}");
    let reports = json_lines(&out);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["findings"][0]["rule"], "root-console-login");
}

#[test]
fn config_errors_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[modes]\nroot-login = \"alert\"\n").unwrap();
    let out = trailguard(&["replay", "--config", cfg.to_str().unwrap(), "events/"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown rule id `root-login`"));
    let out = trailguard(&["config", "check", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let out = trailguard(&["replay", "--format", "yaml", "events/"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_misspelt_trailguard_variable_exits_2_naming_it_and_the_closest_known_one() {
    for args in [
        &["replay", "events/"][..],
        &["handle", "/nonexistent.json"],
        &["config", "check"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
            .args(args)
            .current_dir(ROOT)
            .env_remove("TRAILGUARD_CONFIG")
            .env("TRAILGUARD_DEFALT_MODE", "off")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(
                "unknown environment variable `TRAILGUARD_DEFALT_MODE` (did you mean `TRAILGUARD_DEFAULT_MODE`?)"
            ),
            "{args:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// JSON lines with a truncated line and a line of invalid UTF-8 among
/// good ones.
fn jsonl_with_bad_lines(dir: &Path) -> String {
    let good = |name: &str| {
        let v: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(Path::new(ROOT).join("events").join(name)).unwrap(),
        )
        .unwrap();
        v.to_string()
    };
    let mut bytes = Vec::new();
    bytes.extend_from_slice(good("root-console-login.json").as_bytes());
    bytes.extend_from_slice(
        b"\n{\"detail-type\": \"AWS API Call via CloudTrail\", \"detail\": {\"eventName\"\n",
    );
    bytes.extend_from_slice(good("mfa-device-removed.json").as_bytes());
    bytes.extend_from_slice(b"\n{\"eventName\": \"Bad\xff\"}\n");
    bytes.extend_from_slice(good("login-profile-created.json").as_bytes());
    bytes.push(b'\n');
    let path = dir.join("events.jsonl");
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

#[test]
fn a_bad_json_line_is_reported_by_line_and_the_later_lines_still_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let path = jsonl_with_bad_lines(dir.path());
    let out = trailguard(&["replay", "--format", "json", &path]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("`{path}#L2` is not valid JSON")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("`{path}#L4` is not valid JSON")),
        "{stderr}"
    );
    let rules: Vec<_> = json_lines(&out)
        .iter()
        .map(|r| r["findings"][0]["rule"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        rules,
        [
            "root-console-login",
            "mfa-device-removed",
            "login-profile-created"
        ]
    );
}

#[test]
fn handle_reports_a_bad_json_line_and_handles_the_later_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = jsonl_with_bad_lines(dir.path());
    // Alert mode with no alert channel: nothing reaches AWS.
    let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(["handle", &path])
        .current_dir(ROOT)
        .env_remove("TRAILGUARD_CONFIG")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outcomes = json_lines(&out);
    let summary: Vec<String> = outcomes
        .iter()
        .map(|o| match o["errors"][0]["kind"].as_str() {
            Some(kind) => format!(
                "{kind} {}",
                o["location"].as_str().unwrap().rsplit('/').next().unwrap()
            ),
            None => o["findings"][0]["rule"].as_str().unwrap().to_owned(),
        })
        .collect();
    assert_eq!(
        summary,
        [
            "root-console-login",
            "input events.jsonl#L2",
            "mfa-device-removed",
            "input events.jsonl#L4",
            "login-profile-created"
        ]
    );
}

/// `handle -` on a pipe that stays open acts on each line as it arrives:
/// the first outcome is printed while the second line is not even written.
#[test]
fn handle_acts_on_each_line_of_an_open_pipe_as_it_arrives() {
    use std::io::BufRead;
    let line = |name: &str| {
        let text = std::fs::read_to_string(Path::new(ROOT).join("events").join(name)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        format!("{v}\n")
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(["handle", "-"])
        .current_dir(ROOT)
        .env_remove("TRAILGUARD_CONFIG")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stdout).lines() {
            let _ = tx.send(l.unwrap());
        }
    });
    stdin
        .write_all(line("root-console-login.json").as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    let first = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("no outcome for the first line while the pipe is open");
    assert!(first.contains("root-console-login"), "{first}");
    stdin
        .write_all(line("mfa-device-removed.json").as_bytes())
        .unwrap();
    drop(stdin);
    let second = rx.recv_timeout(std::time::Duration::from_secs(60)).unwrap();
    assert!(second.contains("mfa-device-removed"), "{second}");
    assert!(child.wait().unwrap().success());
}

/// The forged samples: reported ignored with the reason, in replay's and
/// handle's JSON alike; handle, with the key's remediation on, calls nothing
/// (the endpoint is closed: any call would be an error).
#[test]
fn forged_envelopes_are_reported_ignored_by_replay_and_handle() {
    let samples = [
        "events/negative-forged-custom-source.json",
        "events/negative-forged-account-mismatch.json",
    ];
    let replay = trailguard(&["replay", "--format", "json", samples[0], samples[1]]);
    assert!(replay.status.success());
    let handle = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(["handle", samples[0], samples[1]])
        .current_dir(ROOT)
        .env_remove("TRAILGUARD_CONFIG")
        .env("TRAILGUARD_MODES", "access-key-created=remediate")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert!(
        handle.status.success(),
        "{}",
        String::from_utf8_lossy(&handle.stderr)
    );
    for out in [&replay, &handle] {
        let reports = json_lines(out);
        assert_eq!(reports.len(), 2);
        assert_eq!(
            reports[0]["ignored"],
            "forged event: source `custom.security` is not an AWS service (`aws.*`, which only AWS may send)"
        );
        assert_eq!(
            reports[1]["ignored"],
            "forged event: envelope account `111122223333` disagrees with the record's recipientAccountId `946986569305`"
        );
        for r in reports {
            assert_eq!(r["findings"], serde_json::json!([]));
        }
    }
}

#[test]
fn an_input_over_the_size_cap_is_an_error_and_the_rest_still_replayed() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    // 2 MB of gzip that inflates to 2 GiB would otherwise be held whole.
    let bomb = dir.path().join("bomb.json.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let spaces = vec![b' '; 1 << 20];
    for _ in 0..4 {
        gz.write_all(&spaces).unwrap();
    }
    std::fs::write(&bomb, gz.finish().unwrap()).unwrap();
    let bomb = bomb.display().to_string();
    for cmd in ["replay", "handle"] {
        let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
            .args([
                cmd,
                "--max-input-size",
                "1M",
                &bomb,
                "events/root-console-login.json",
            ])
            .current_dir(ROOT)
            .env_remove("TRAILGUARD_CONFIG")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            all.contains(&format!(
                "`{bomb}` is larger than 1048576 bytes once decompressed"
            )),
            "{cmd}: {all}"
        );
        assert!(all.contains("root-console-login"), "{cmd}: {all}");
    }
    let out = trailguard(&["replay", "--max-input-size", "lots", "events/"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_digest_file_named_on_the_command_line_is_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let digest = dir.path().join("digest.json");
    std::fs::write(
        &digest,
        r#"{"awsAccountId": "111122223333", "digestStartTime": "2024-05-01T00:00:00Z", "digestEndTime": "2024-05-01T01:00:00Z", "logFiles": [{"s3Object": "x", "hashValue": "ab"}], "previousDigestSignature": null}"#,
    )
    .unwrap();
    let out = trailguard(&["replay", "--format", "summary", digest.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("0 events, 0 findings, 0 ignored, 0 unreadable"),
        "{text}"
    );
    assert!(
        text.contains("CloudTrail digest files skipped: 1"),
        "{text}"
    );
}

#[test]
fn gzipped_log_file_from_stdin_keeps_record_order() {
    let records: Vec<serde_json::Value> = [
        "root-console-login.json",
        "access-key-created.json",
        "cloudtrail-stop-logging.json",
    ]
    .iter()
    .map(|f| {
        let text = std::fs::read_to_string(Path::new(ROOT).join("events").join(f)).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["detail"].clone()
    })
    .collect();
    let log = serde_json::json!({"Records": records}).to_string();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(log.as_bytes()).unwrap();
    let out = trailguard_stdin(
        &["replay", "--format", "json", "-"],
        Some(&gz.finish().unwrap()),
    );
    assert!(out.status.success());
    let rules: Vec<_> = json_lines(&out)
        .iter()
        .map(|r| r["findings"][0]["rule"].clone())
        .collect();
    assert_eq!(
        rules,
        [
            "root-console-login",
            "access-key-created",
            "cloudtrail-tampered"
        ]
    );
}

#[test]
fn text_report_lists_findings_then_counts() {
    let out = trailguard(&["replay", "events/"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("CRITICAL root-console-login"));
    assert!(text.contains("remediation move-policy-to-group (would)"));
    let summary = text.split("findings by rule:").nth(1).unwrap();
    assert!(summary.contains("user-policy-attached"));
    assert!(text.contains("findings by severity:"));
}

/// Any JSON value, refused when an object repeats a key (serde_json's own
/// `Value` keeps the last one silently).
struct NoDuplicateKeys;

impl<'de> serde::Deserialize<'de> for NoDuplicateKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoDuplicateKeys)
    }
}

impl<'de> serde::de::Visitor<'de> for NoDuplicateKeys {
    type Value = NoDuplicateKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_unit<E>(self) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<NoDuplicateKeys>()?.is_some() {}
        Ok(self)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!("duplicate key `{key}`")));
            }
            map.next_value::<NoDuplicateKeys>()?;
        }
        Ok(self)
    }
}

#[test]
fn rules_listing_writes_each_key_once() {
    let out = trailguard(&["rules", "--format", "json"]);
    assert!(out.status.success());
    serde_json::from_slice::<NoDuplicateKeys>(&out.stdout).unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    // One `remediation` per rule (null or the spec, which has no such key).
    assert_eq!(
        text.matches("\"remediation\":").count(),
        trailguard::rules::registry().len()
    );
    // The checker itself refuses a repeated key.
    assert!(serde_json::from_str::<NoDuplicateKeys>(r#"[{"a": {"b": 1, "b": 2}}]"#).is_err());
}

#[test]
fn rules_listing_comes_from_the_registry() {
    let out = trailguard(&["rules", "--format", "json"]);
    let rules: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rules.len(), trailguard::rules::registry().len());
    let scan = rules
        .iter()
        .find(|r| r["id"] == "access-key-unused")
        .unwrap();
    assert_eq!(scan["events"][0], "the scheduled credential scan");
    let attached = rules
        .iter()
        .find(|r| r["id"] == "user-policy-attached")
        .unwrap();
    assert_eq!(attached["remediation"]["id"], "move-policy-to-group");
    assert!(
        attached["remediation"]["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "iam:DetachUserPolicy")
    );
    assert!(
        attached["controls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "IAM.2")
    );
    let text = trailguard(&["rules"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("cloudtrail-tampered"));
}

#[test]
fn config_check_prints_effective_settings_with_env_overrides() {
    let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(["config", "check", "events/trailguard.toml"])
        .current_dir(ROOT)
        .env("TRAILGUARD_MODES", "root-api-call=off")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("user-policy-attached = \"remediate\""),
        "{text}"
    );
    assert!(text.contains("root-api-call = \"off\""), "{text}");
    assert!(text.contains("TRAILGUARD_MODES"), "{text}");
}

/// An archive laid out as S3 delivers it, with files of varied sizes so that
/// parallel workers finish out of order.
fn write_archive(dir: &Path) -> usize {
    let samples: Vec<serde_json::Value> = std::fs::read_dir(Path::new(ROOT).join("events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(p).unwrap()).unwrap()
        })
        .filter_map(|v| v.get("detail").cloned())
        .collect();
    let mut n = 0;
    for day in 1..=3 {
        let folder = dir.join(format!(
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/0{day}"
        ));
        std::fs::create_dir_all(&folder).unwrap();
        for file in 0..7 {
            let count = 1 + (file * 37 + day * 11) % 60;
            let records: Vec<_> = (0..count)
                .map(|i| {
                    let mut r = samples[(i + file + day) % samples.len()].clone();
                    r["eventTime"] = format!("2024-05-0{day}T{:02}:00:00Z", file).into();
                    r["eventID"] = format!("{day}-{file}-{i}").into();
                    r
                })
                .collect();
            n += records.len();
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(
                serde_json::json!({ "Records": records })
                    .to_string()
                    .as_bytes(),
            )
            .unwrap();
            let name =
                format!("111122223333_CloudTrail_us-east-1_2024050{day}T{file:02}00Z_x.json.gz");
            std::fs::write(folder.join(name), gz.finish().unwrap()).unwrap();
        }
    }
    n
}

#[test]
fn parallel_replay_of_an_archive_keeps_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let records = write_archive(dir.path());
    let root = dir.path().to_str().unwrap();
    let one = trailguard(&["replay", "--format", "json", "--jobs", "1", root]);
    let four = trailguard(&["replay", "--format", "json", "--jobs", "4", root]);
    assert!(one.status.success() && four.status.success());
    assert_eq!(json_lines(&one).len(), records);
    assert!(
        one.stdout == four.stdout,
        "parallel output differs from sequential"
    );
    let ids: Vec<_> = json_lines(&four)
        .iter()
        .map(|r| r["event_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids[0], "1-0-0");
    assert_eq!(ids.last().unwrap(), &format!("3-6-{}", (6 * 37 + 33) % 60));
}

#[test]
fn filters_select_time_account_region_and_rule() {
    let dir = tempfile::tempdir().unwrap();
    write_archive(dir.path());
    let root = dir.path().to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["replay", "--format", "json"];
        args.extend_from_slice(extra);
        args.push(root);
        json_lines(&trailguard(&args))
    };
    let day2 = run(&["--since", "2024-05-02", "--until", "2024-05-03T00:00:00Z"]);
    assert!(!day2.is_empty());
    assert!(
        day2.iter()
            .all(|r| r["event_time"].as_str().unwrap().starts_with("2024-05-02"))
    );
    let mfa = run(&["--rule", "console-login-without-mfa"]);
    assert!(!mfa.is_empty());
    assert!(mfa.iter().all(|r| {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["rule"] == "console-login-without-mfa")
    }));
    assert!(run(&["--region", "eu-west-3"]).is_empty());
    let by_account = run(&["--account", "111122223333"]);
    assert!(!by_account.is_empty());
    assert!(by_account.iter().all(|r| r["account"] == "111122223333"));
    let summary = trailguard(&[
        "replay",
        "--format",
        "summary",
        "--rule",
        "root-console-login",
        root,
    ]);
    let text = String::from_utf8_lossy(&summary.stdout);
    assert!(
        text.contains("findings by rule:\n  root-console-login"),
        "{text}"
    );
    assert!(!text.contains("access-key-created"), "{text}");
    let bad = trailguard(&["replay", "--since", "yesterday", root]);
    assert_eq!(bad.status.code(), Some(2));
}

/// `trailguard rules | head -1` and the like: a reader that stops early is
/// the end of the output, not a panic. The pipe is closed before the child
/// writes anything, so every write meets a broken pipe.
#[test]
fn a_reader_that_stops_early_is_no_panic() {
    for args in [
        &["rules"][..],
        &["rules", "--format", "json"],
        &["config", "check", "events/trailguard.toml"],
        &["replay", "--format", "json", "events/"],
    ] {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .expect("trailguard runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(out.status.code().is_some(), "{args:?}: killed: {stderr}");
    }
}

/// `--explain` adds, per event, the rules that looked and declined, in the
/// JSON diagnostics and the text; without it the outputs say nothing of them.
#[test]
fn explain_says_which_rules_looked_and_declined() {
    let sample = "events/negative-quarantine-policy-attached-by-aws.json";
    let plain = json_lines(&trailguard(&["replay", "--format", "json", sample]));
    assert_eq!(
        plain[0]["diagnostics"],
        serde_json::json!([]),
        "{}",
        plain[0]
    );
    let explained = trailguard(&["replay", "--format", "json", "--explain", sample]);
    assert!(explained.status.success());
    let report = &json_lines(&explained)[0];
    assert_eq!(report["findings"], serde_json::json!([]));
    assert_eq!(
        report["diagnostics"],
        serde_json::json!([
            {"rule": "user-policy-attached",
             "note": "declined: AWS's quarantine policy, attached to contain a leaked key"},
            {"rule": "admin-policy-granted",
             "note": "declined: the AWS managed policy is not admin-equivalent"},
        ])
    );
    let text = trailguard(&["replay", "--explain", sample]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("NOTE     user-policy-attached       declined: AWS's quarantine policy"),
        "{text}"
    );
    let quiet = trailguard(&["replay", sample]);
    assert!(!String::from_utf8_lossy(&quiet.stdout).contains("declined"));
}

#[test]
fn account_options_need_organisation_mode() {
    for args in [
        &["scan", "--account", "222222222222"][..],
        &["scan", "--all-accounts"][..],
        &["handle", "--account", "222222222222", "-"][..],
    ] {
        let out = trailguard(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("needs organisation mode"), "{err}");
    }
}
