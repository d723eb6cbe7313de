//! The benchmark's synthetic archive (`bench/`, `scripts/bench`): the same
//! seed gives the same bytes, every rule is represented, and `trailguard
//! replay` finds exactly the findings its manifest expects.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use trailguard_bench::synth::{self, Manifest, Options};

fn small(seed: u64) -> Options {
    Options {
        size: 3 << 20,
        seed,
        violation_share: 0.02,
        near_miss_share: 0.02,
        days: 3,
        ..Options::default()
    }
}

fn generate(dir: &Path, opts: &Options, threads: usize) -> Manifest {
    synth::generate(dir, opts, threads, &|_, _| {}).unwrap()
}

/// Every file under `dir`, relative, with its bytes.
fn contents(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).unwrap().to_owned();
            (rel, std::fs::read(e.path()).unwrap())
        })
        .collect()
}

#[test]
fn same_seed_gives_the_same_archive_whatever_the_thread_count() {
    let (a, b, c) = (tempdir(), tempdir(), tempdir());
    let ma = generate(a.path(), &small(7), 1);
    let mb = generate(b.path(), &small(7), 3);
    assert_eq!(ma, mb);
    assert_eq!(contents(a.path()), contents(b.path()));
    let mc = generate(c.path(), &small(8), 2);
    assert_ne!(ma.findings_by_rule, mc.findings_by_rule);
    assert_ne!(contents(a.path()), contents(c.path()));
}

#[test]
fn archive_is_laid_out_as_s3_delivers_cloudtrail() {
    let dir = tempdir();
    let m = generate(dir.path(), &small(1), 2);
    let logs = synth::logs_dir(dir.path());
    let files: Vec<String> = contents(&logs)
        .into_keys()
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(files.len() as u64, m.files);
    for f in &files {
        // 111122223333/CloudTrail/us-east-1/2024/03/01/111122223333_CloudTrail_us-east-1_20240301T1205Z_<16>.json.gz
        let parts: Vec<&str> = f.split('/').collect();
        assert_eq!(parts.len(), 7, "{f}");
        assert_eq!(parts[1], "CloudTrail");
        let name = parts[6];
        assert!(
            name.starts_with(&format!("{}_CloudTrail_{}_", parts[0], parts[2])),
            "{f}"
        );
        assert!(name.ends_with(".json.gz"), "{f}");
    }
    assert!(m.json_bytes > m.gzip_bytes * 4, "{m:?}");
    let within = m.json_bytes as f64 / m.options.size as f64;
    assert!(
        (0.9..1.1).contains(&within),
        "{} bytes for {}",
        m.json_bytes,
        m.options.size
    );
}

#[test]
fn organization_archive_holds_the_same_files_one_level_down() {
    let (one, org) = (tempdir(), tempdir());
    let m1 = generate(one.path(), &small(5), 2);
    let opts = Options {
        organization: Some("o-a1b2c3d4e5".into()),
        ..small(5)
    };
    let m2 = generate(org.path(), &opts, 2);
    assert_eq!(m1.findings_by_rule, m2.findings_by_rule);
    let one_files = contents(&synth::logs_dir(one.path()));
    let org_files = contents(&synth::logs_dir(org.path()).join("o-a1b2c3d4e5"));
    assert_eq!(one_files, org_files);
    // Nothing else beside the organisation's folder.
    let top: Vec<_> = std::fs::read_dir(synth::logs_dir(org.path()))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(top, ["o-a1b2c3d4e5"]);
    let bad = Options {
        organization: Some("o-../x".into()),
        ..small(5)
    };
    let err = synth::generate(tempdir().path(), &bad, 1, &|_, _| {}).unwrap_err();
    assert!(err.to_string().contains("`o-../x`"), "{err}");
}

#[test]
fn every_event_rule_of_the_catalogue_is_represented() {
    let dir = tempdir();
    let m = generate(dir.path(), &small(42), 2);
    // Scan rules fire on the credential report, never on an event.
    let ids: Vec<&str> = trailguard::rules::registry()
        .iter()
        .filter(|r| r.trigger().is_some())
        .map(|r| r.id)
        .collect();
    let covered: Vec<&str> = m.findings_by_rule.keys().map(String::as_str).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(covered, sorted, "the generator and the catalogue disagree");
    for (rule, n) in &m.findings_by_rule {
        assert!(*n > 0, "no violation of {rule}");
    }
    // A generated archive of one file still covers every rule.
    let tiny = tempdir();
    let m = generate(
        tiny.path(),
        &Options {
            size: 20_000,
            ..small(3)
        },
        1,
    );
    assert!(m.findings_by_rule.values().all(|n| *n > 0), "{m:?}");
}

#[test]
fn replay_finds_exactly_the_manifest() {
    let dir = tempdir();
    let m = generate(dir.path(), &small(42), 2);
    let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(["replay", "--format", "json"])
        .arg(synth::logs_dir(dir.path()))
        .env_remove("TRAILGUARD_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (mut events, mut by_rule, mut by_account, mut by_region, mut by_day) = (
        0u64,
        BTreeMap::<String, u64>::new(),
        BTreeMap::<String, u64>::new(),
        BTreeMap::<String, u64>::new(),
        BTreeMap::<String, u64>::new(),
    );
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let Ok(report) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let Some(findings) = report["findings"].as_array() else {
            continue;
        };
        events += 1;
        for f in findings {
            *by_rule
                .entry(f["rule"].as_str().unwrap().into())
                .or_default() += 1;
            *by_account
                .entry(report["account"].as_str().unwrap().into())
                .or_default() += 1;
            *by_region
                .entry(report["region"].as_str().unwrap().into())
                .or_default() += 1;
            let day = &report["event_time"].as_str().unwrap()[..10];
            *by_day.entry(day.into()).or_default() += 1;
        }
    }
    let nonzero = |m: &BTreeMap<String, u64>| -> BTreeMap<String, u64> {
        m.iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| (k.clone(), *n))
            .collect()
    };
    assert_eq!(events, m.records);
    assert_eq!(by_rule, nonzero(&m.findings_by_rule));
    assert_eq!(by_account, m.findings_by_account);
    assert_eq!(by_region, m.findings_by_region);
    assert_eq!(by_day, m.findings_by_day);
}

/// The `findings` count of `trailguard replay --format summary ARGS`.
fn findings_with(logs: &Path, args: &[&str]) -> u64 {
    let out = Command::new(env!("CARGO_BIN_EXE_trailguard"))
        .args(["replay", "--format", "summary"])
        .args(args)
        .arg(logs)
        .env_remove("TRAILGUARD_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    // "N events, N findings, N ignored, N unreadable"
    let line = text.lines().find(|l| l.contains(" findings,")).unwrap();
    let words: Vec<&str> = line.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    let i = words.iter().position(|w| *w == "findings").unwrap();
    words[i - 1].parse().unwrap()
}

#[test]
fn replay_filters_select_what_the_manifest_counts() {
    let dir = tempdir();
    let m = generate(dir.path(), &small(5), 2);
    let logs = synth::logs_dir(dir.path());
    assert_eq!(findings_with(&logs, &[]), m.findings);
    let (account, n) = m.findings_by_account.iter().nth(1).unwrap();
    assert_eq!(findings_with(&logs, &["--account", account]), *n);
    let (region, n) = m.findings_by_region.iter().last().unwrap();
    assert_eq!(findings_with(&logs, &["--region", region]), *n);
    let (day, n) = m.findings_by_day.iter().last().unwrap();
    let next = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .unwrap()
        .succ_opt()
        .unwrap()
        .to_string();
    assert_eq!(
        findings_with(&logs, &["--since", day, "--until", &next]),
        *n
    );
    for rule in ["root-api-call", "admin-policy-granted"] {
        assert_eq!(
            findings_with(&logs, &["--rule", rule]),
            m.findings_by_rule[rule]
        );
    }
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}
