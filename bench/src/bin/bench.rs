//! `scripts/bench`: trailguard's benchmarks, printed as Markdown tables.
//!
//! `bench [all|replay|lambda] [options]` (`--help` lists them). The replay
//! part checks that every run found exactly the findings the archive's
//! manifest expects, and fails otherwise: a fast wrong answer is no figure.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde::de::IgnoredAny;
use trailguard_bench::measure::{self, Proc, Spread, Target, Usage, mb};
use trailguard_bench::moto::MotoS3;
use trailguard_bench::runtime_api::{Call, RuntimeApi};
use trailguard_bench::synth::{self, JQ_ROOT_CONSOLE_LOGIN, Manifest, Options};

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The floor's gunzip: flate2 with the backend trailguard is built with
/// (zlib-rs, CPU features detected at run time; see bench/Cargo.toml).
const FLATE: &str = "flate2 zlib-rs";

/// Targets of issue 15: replay on one thread against the parse floor, for
/// `--format summary` and for the formats that print every event or finding.
const FLOOR_RATIO_SUMMARY: f64 = 0.90;
const FLOOR_RATIO_OUTPUT: f64 = 0.80;
/// The zcat | jq comparison keeps issue 6's bar: 70% of a floor 10× jq.
const JQ_FLOOR_RATIO: f64 = 0.70;
/// "Near-linear": 90% of a perfect speed-up per core, for every format.
const SCALING_EFFICIENCY: f64 = 0.90;
const REPLAY_RSS_MB: f64 = 100.0;
const FIRST_POLL_RATIO: f64 = 1.5;
const FIRST_RESPONSE_RATIO: f64 = 2.0;
const LAMBDA_RSS_MB: f64 = 30.0;
const ZIP_MB: f64 = 6.0;

/// The output formats timed by default.
const FORMATS: [&str; 3] = ["summary", "json", "text"];

/// The one-thread target of a format.
fn floor_ratio(format: &str) -> f64 {
    if format == "summary" {
        FLOOR_RATIO_SUMMARY
    } else {
        FLOOR_RATIO_OUTPUT
    }
}

struct Args {
    what: String,
    archive: Option<PathBuf>,
    synth: Options,
    runs: usize,
    jq_runs: usize,
    s3_runs: usize,
    lambda_runs: usize,
    /// The many-jobs replay run for the memory bound (0: none).
    memory_jobs: usize,
    jobs: usize,
    formats: Vec<String>,
    bin_dir: PathBuf,
    lambda_event: PathBuf,
    lambda_env: Vec<(String, String)>,
}

fn parse_args() -> anyhow::Result<Args> {
    let exe = std::env::current_exe()?;
    let mut a = Args {
        what: "all".into(),
        archive: None,
        synth: Options::default(),
        runs: 3,
        jq_runs: 1,
        s3_runs: 1,
        lambda_runs: 15,
        memory_jobs: 16,
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        formats: FORMATS.iter().map(|f| f.to_string()).collect(),
        bin_dir: exe
            .parent()
            .context("no directory for the bench binary")?
            .into(),
        lambda_event: Path::new(REPO).join("events/user-policy-attached.json"),
        lambda_env: Vec::new(),
    };
    let mut args = std::env::args().skip(1).peekable();
    if let Some(first) = args.peek()
        && !first.starts_with('-')
    {
        a.what = args.next().unwrap_or_default();
        ensure!(
            ["all", "replay", "lambda"].contains(&a.what.as_str()),
            "unknown benchmark `{}` (all, replay or lambda)",
            a.what
        );
    }
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            print!("{}", include_str!("bench.txt"));
            std::process::exit(0);
        }
        let value = args
            .next()
            .with_context(|| format!("`{flag}` needs a value"))?;
        let number = || -> anyhow::Result<usize> {
            value
                .parse()
                .with_context(|| format!("`{flag}` wants a number, not `{value}`"))
        };
        match flag.as_str() {
            "--archive" => a.archive = Some(value.clone().into()),
            "--size" => a.synth.size = synth::parse_size(&value).map_err(anyhow::Error::msg)?,
            "--seed" => a.synth.seed = number()? as u64,
            "--runs" => a.runs = number()?.max(1),
            "--jq-runs" => a.jq_runs = number()?,
            "--s3-runs" => a.s3_runs = number()?,
            "--lambda-runs" => a.lambda_runs = number()?.max(1),
            "--memory-jobs" => a.memory_jobs = number()?,
            "--jobs" => a.jobs = number()?.max(1),
            "--bin-dir" => a.bin_dir = value.clone().into(),
            "--formats" => {
                a.formats = value.split(',').map(|f| f.trim().to_owned()).collect();
                for f in &a.formats {
                    ensure!(
                        FORMATS.contains(&f.as_str()),
                        "unknown format `{f}` in --formats (summary, json, text)"
                    );
                }
            }
            "--lambda-event" => a.lambda_event = value.clone().into(),
            "--lambda-env" => {
                let (k, v) = value
                    .split_once('=')
                    .context("--lambda-env wants KEY=VALUE")?;
                a.lambda_env.push((k.into(), v.into()));
            }
            _ => bail!("unknown option `{flag}` (try --help)"),
        }
    }
    Ok(a)
}

fn main() -> anyhow::Result<()> {
    if let Some(code) = measure::trampoline() {
        std::process::exit(code);
    }
    let args = parse_args()?;
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("# trailguard benchmarks\n");
    println!(
        "machine: {cores} cores ({cpu}); load average at start: {}\n",
        measure::load_average()
    );
    if args.what != "lambda" {
        replay(&args)?;
    }
    if args.what != "replay" {
        lambda(&args)?;
    }
    println!("load average at end: {}", measure::load_average());
    Ok(())
}

// Replay -------------------------------------------------------------------

/// The archive to measure: reused when its manifest matches the options.
fn archive(args: &Args) -> anyhow::Result<(PathBuf, Manifest)> {
    let dir = match &args.archive {
        Some(d) => d.clone(),
        None => {
            let target = args.bin_dir.parent().unwrap_or(&args.bin_dir);
            target.join(format!(
                "bench/archive-{}-seed{}",
                args.synth.size, args.synth.seed
            ))
        }
    };
    if let Ok(m) = Manifest::read(&dir)
        && m.generator_version == synth::GENERATOR_VERSION
        && (args.archive.is_some() || m.options == args.synth)
    {
        eprintln!("using the archive in {}", dir.display());
        return Ok((dir, m));
    }
    ensure!(
        args.archive.is_none()
            || !dir.join("AWSLogs").exists()
            || dir.join("manifest.json").exists(),
        "{} has no manifest.json: not an archive this generator wrote",
        dir.display()
    );
    eprintln!(
        "generating a {:.0} MB archive in {} ...",
        mb(args.synth.size),
        dir.display()
    );
    let started = Instant::now();
    let m = synth::generate(&dir, &args.synth, args.jobs, &|done, all| {
        if done % 100 == 0 || done == all {
            eprint!("\r  {done}/{all} files");
        }
    })?;
    eprintln!("\r  done in {:.0} s", started.elapsed().as_secs_f64());
    Ok((dir, m))
}

fn log_files(logs: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(logs)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    files.sort();
    files
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    // SAFETY: clock_gettime writes the timespec it is given.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Gunzips every file (and parses it into `IgnoredAny`) on this thread;
/// answers the wall-clock and CPU time.
fn floor(files: &[PathBuf], parse: bool) -> anyhow::Result<(f64, f64)> {
    let started = Instant::now();
    let cpu = thread_cpu();
    let mut gz = Vec::new();
    let mut json = Vec::new();
    for path in files {
        gz.clear();
        File::open(path)?.read_to_end(&mut gz)?;
        json.clear();
        flate2::read::MultiGzDecoder::new(&gz[..]).read_to_end(&mut json)?;
        if parse {
            serde_json::from_slice::<IgnoredAny>(&json)
                .with_context(|| format!("{} is not JSON", path.display()))?;
        }
    }
    Ok((
        started.elapsed().as_secs_f64(),
        (thread_cpu() - cpu).as_secs_f64(),
    ))
}

/// [`floor`] with parse, gunzipping with libdeflate as replay does (one
/// whole member per file, sized by its trailer): the floor of the same
/// work with replay's inflate.
fn floor_libdeflate(files: &[PathBuf]) -> anyhow::Result<(f64, f64)> {
    let started = Instant::now();
    let cpu = thread_cpu();
    let mut inflate = libdeflater::Decompressor::new();
    let mut gz = Vec::new();
    let mut json = Vec::new();
    for path in files {
        gz.clear();
        File::open(path)?.read_to_end(&mut gz)?;
        let trailer: [u8; 4] = gz[gz.len().saturating_sub(4)..]
            .try_into()
            .with_context(|| format!("{} is not gzip", path.display()))?;
        json.resize(u32::from_le_bytes(trailer) as usize, 0);
        let n = inflate
            .gzip_decompress(&gz, &mut json)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        ensure!(n == json.len(), "{}: a short member", path.display());
        serde_json::from_slice::<IgnoredAny>(&json)
            .with_context(|| format!("{} is not JSON", path.display()))?;
    }
    Ok((
        started.elapsed().as_secs_f64(),
        (thread_cpu() - cpu).as_secs_f64(),
    ))
}

/// What a replay printed at its end.
#[derive(Debug, Default)]
struct Summary {
    events: Option<u64>,
    unreadable: Option<u64>,
    by_rule: BTreeMap<String, u64>,
}

/// Reads the summary trailguard prints after `text` and `summary` output:
/// `N events, N findings, N ignored, N unreadable`, then the
/// `findings by rule:` block.
fn parse_summary(text: &str) -> Summary {
    let mut s = Summary::default();
    let mut in_rules = false;
    for line in text.lines() {
        let words: Vec<&str> = line
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|w| !w.is_empty())
            .collect();
        let number_before = |name: &str| {
            words
                .iter()
                .position(|w| *w == name)
                .and_then(|i| i.checked_sub(1))
                .and_then(|i| words[i].parse().ok())
        };
        if s.events.is_none() && words.contains(&"events") && words.contains(&"findings") {
            s.events = number_before("events");
            s.unreadable = number_before("unreadable");
            continue;
        }
        if line.trim_end().ends_with("findings by rule:") {
            in_rules = true;
            continue;
        }
        if in_rules {
            match words[..] {
                [rule, n] if n.parse::<u64>().is_ok() => {
                    s.by_rule.insert(rule.to_owned(), n.parse().unwrap_or(0));
                }
                _ => in_rules = false,
            }
        }
    }
    s
}

/// How this trailguard binary takes the replay options it may not have yet.
struct ReplayCli {
    jobs: bool,
    summary: bool,
}

fn replay_cli(trailguard: &Path) -> anyhow::Result<ReplayCli> {
    let out = Command::new(trailguard)
        .args(["replay", "--help"])
        .output()
        .with_context(|| format!("cannot run {}", trailguard.display()))?;
    let help = String::from_utf8_lossy(&out.stdout);
    Ok(ReplayCli {
        jobs: help.contains("--jobs"),
        summary: help.contains("summary"),
    })
}

/// The counts of `--format json` output: one line per event, the findings'
/// rules counted from the lines that have any.
fn summary_of_json(out_file: &Path) -> anyhow::Result<Summary> {
    let text = fs::read_to_string(out_file)?;
    let mut s = Summary {
        events: Some(0),
        unreadable: Some(0),
        ..Summary::default()
    };
    let mut events = 0;
    for line in text.lines() {
        events += 1;
        if line.contains(r#""findings":[]"#) {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("a line of {} is not JSON", out_file.display()))?;
        for f in v["findings"].as_array().into_iter().flatten() {
            let rule = f["rule"].as_str().unwrap_or("?").to_owned();
            *s.by_rule.entry(rule).or_default() += 1;
        }
    }
    s.events = Some(events);
    Ok(s)
}

/// The S3 bucket the archive is uploaded to for the S3 replay figure.
const BUCKET: &str = "trailguard-bench";

#[allow(clippy::too_many_arguments)]
fn run_replay(
    trailguard: &Path,
    cli: &ReplayCli,
    format: &str,
    jobs: usize,
    logs: &std::ffi::OsStr,
    out_file: &Path,
    manifest: &Manifest,
    env: &[(&str, String)],
) -> anyhow::Result<Usage> {
    let mut args: Vec<OsString> = vec!["replay".into()];
    if cli.jobs {
        args.extend(["--jobs".into(), jobs.to_string().into()]);
    }
    args.extend(["--format".into(), format.into(), logs.into()]);
    let config_vars: Vec<String> = std::env::vars()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("TRAILGUARD_"))
        .collect();
    let usage = measure::run_clean(
        trailguard,
        &args,
        out_file,
        &out_file.with_extension("stderr"),
        &config_vars,
        env,
    )?;
    let stderr = fs::read_to_string(out_file.with_extension("stderr")).unwrap_or_default();
    ensure!(
        usage.code == Some(0),
        "replay --jobs {jobs} failed ({:?}): {}",
        usage.code,
        stderr.lines().take(5).collect::<Vec<_>>().join("\n")
    );
    // The figures count only if the answer is right.
    let found = if format == "json" {
        summary_of_json(out_file)?
    } else {
        parse_summary(&fs::read_to_string(out_file)?)
    };
    let expected: BTreeMap<String, u64> = manifest
        .findings_by_rule
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(r, n)| (r.clone(), *n))
        .collect();
    ensure!(
        found.by_rule == expected,
        "replay --jobs {jobs} --format {format} found other findings than the manifest expects\n  found:    {:?}\n  expected: {:?}\n  (output in {})",
        found.by_rule,
        expected,
        out_file.display()
    );
    ensure!(
        found.events == Some(manifest.records) && found.unreadable.unwrap_or(0) == 0,
        "replay --jobs {jobs} read {:?} events ({:?} unreadable), the archive holds {}",
        found.events,
        found.unreadable,
        manifest.records
    );
    Ok(usage)
}

/// The principal whose policy `policy generate` is timed on: the scripted
/// role of the archive's first file (bench/src/synth/records/activity.rs).
const POLICY_PRINCIPAL: &str = "arn:aws:iam::111122223333:role/app/report-writer";
/// The actions its policy holds (tests/integration/policy.rs pins which).
const POLICY_ACTIONS: usize = 11;

/// Does this trailguard have `policy generate`?
fn has_policy(trailguard: &Path) -> bool {
    Command::new(trailguard)
        .args(["policy", "generate", "--help"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Times `policy generate` over the archive; its policy must hold the
/// scripted role's actions, or the figure does not count.
fn run_policy(
    trailguard: &Path,
    jobs: usize,
    logs: &Path,
    out_file: &Path,
) -> anyhow::Result<Usage> {
    let report = out_file.with_extension("report.json");
    let args: Vec<OsString> = vec![
        "policy".into(),
        "generate".into(),
        "--principal".into(),
        POLICY_PRINCIPAL.into(),
        "--jobs".into(),
        jobs.to_string().into(),
        "--report".into(),
        report.clone().into(),
        logs.into(),
    ];
    let usage = measure::run_clean(
        trailguard,
        &args,
        out_file,
        &out_file.with_extension("stderr"),
        &[],
        &[],
    )?;
    let stderr = fs::read_to_string(out_file.with_extension("stderr")).unwrap_or_default();
    ensure!(
        usage.code == Some(0),
        "policy generate --jobs {jobs} failed ({:?}): {}",
        usage.code,
        stderr.lines().take(5).collect::<Vec<_>>().join("\n")
    );
    let doc: serde_json::Value = serde_json::from_slice(&fs::read(out_file)?)
        .with_context(|| format!("policy generate printed no JSON ({})", out_file.display()))?;
    let actions = doc["Statement"].as_array().map_or(0, |s| {
        s.iter()
            .map(|s| s["Action"].as_array().map_or(0, Vec::len))
            .sum()
    });
    ensure!(
        actions == POLICY_ACTIONS,
        "policy generate --jobs {jobs} granted {actions} actions, the scripted role used {POLICY_ACTIONS} ({})",
        out_file.display()
    );
    Ok(usage)
}

fn jq_pipeline(logs: &Path) -> Command {
    let script =
        r#"find "$1" -name '*.json.gz' -print0 | sort -z | xargs -0 zcat | jq -c "$2" | wc -l"#;
    let mut cmd = if measure::on_path("taskset") {
        let mut c = Command::new("taskset");
        c.args(["-c", "0", "sh", "-c", script]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    };
    cmd.arg("sh").arg(logs).arg(JQ_ROOT_CONSOLE_LOGIN);
    cmd
}

fn jq_version() -> String {
    Command::new("jq")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|_| "jq".into())
}

struct Row {
    what: String,
    /// Wall-clock seconds.
    secs: Spread,
    /// CPU seconds (user + system).
    cpu: Spread,
    rss: Option<u64>,
}

/// Wall and CPU seconds of repeated runs.
#[derive(Default)]
struct Times {
    wall: Vec<f64>,
    cpu: Vec<f64>,
}

impl Times {
    fn push(&mut self, (wall, cpu): (f64, f64)) {
        self.wall.push(wall);
        self.cpu.push(cpu);
    }
    fn push_usage(&mut self, u: &Usage) {
        self.push((u.wall.as_secs_f64(), (u.user + u.sys).as_secs_f64()));
    }
    fn row(&self, what: String, rss: Option<u64>) -> Row {
        Row {
            what,
            secs: Spread::of(&self.wall),
            cpu: Spread::of(&self.cpu),
            rss,
        }
    }
}

fn replay(args: &Args) -> anyhow::Result<()> {
    let trailguard = args.bin_dir.join("trailguard");
    ensure!(
        trailguard.is_file(),
        "{} not found: build it with `cargo build --release --bin trailguard` (scripts/bench does)",
        trailguard.display()
    );
    let (dir, manifest) = archive(args)?;
    let logs = synth::logs_dir(&dir);
    let files = log_files(&logs);
    ensure!(
        files.len() as u64 == manifest.files,
        "{} holds {} files, its manifest {}",
        logs.display(),
        files.len(),
        manifest.files
    );
    let cli = replay_cli(&trailguard)?;
    let out_file = dir.join("replay-output.txt");
    let jobs_all = if cli.jobs { args.jobs } else { 1 };
    // An older trailguard (compared with --bin-dir) may lack the summary.
    let formats: Vec<&str> = args
        .formats
        .iter()
        .map(String::as_str)
        .filter(|f| cli.summary || *f != "summary")
        .collect();
    ensure!(!formats.is_empty(), "no format to time (--formats)");

    // Warm the page cache: every figure reads the archive from memory.
    floor(&files, false)?;
    let (mut gunzip, mut parse) = (Times::default(), Times::default());
    let mut parse_libdeflate = Times::default();
    // Per format: one thread, all cores, and the peak RSS of each.
    let mut one: Vec<Times> = formats.iter().map(|_| Times::default()).collect();
    let mut all: Vec<Times> = formats.iter().map(|_| Times::default()).collect();
    let mut rss_one = vec![0u64; formats.len()];
    let mut rss_all = vec![0u64; formats.len()];
    let policy = has_policy(&trailguard);
    if !policy {
        eprintln!("skipping policy generate: this trailguard has no `policy` command");
    }
    let policy_out = dir.join("policy-output.json");
    let (mut policy_one, mut policy_all) = (Times::default(), Times::default());
    let mut rss_policy = 0;
    // Interleaved, so that load from elsewhere hits every figure alike.
    for run in 0..args.runs {
        eprintln!(
            "replay run {}/{} (load {})",
            run + 1,
            args.runs,
            measure::load_average()
        );
        gunzip.push(floor(&files, false)?);
        parse.push(floor(&files, true)?);
        parse_libdeflate.push(floor_libdeflate(&files)?);
        for (i, f) in formats.iter().enumerate() {
            let u = run_replay(
                &trailguard,
                &cli,
                f,
                1,
                logs.as_os_str(),
                &out_file,
                &manifest,
                &[],
            )?;
            one[i].push_usage(&u);
            rss_one[i] = rss_one[i].max(u.max_rss);
            if jobs_all > 1 {
                let u = run_replay(
                    &trailguard,
                    &cli,
                    f,
                    jobs_all,
                    logs.as_os_str(),
                    &out_file,
                    &manifest,
                    &[],
                )?;
                all[i].push_usage(&u);
                rss_all[i] = rss_all[i].max(u.max_rss);
            }
        }
        if policy {
            let u = run_policy(&trailguard, 1, &logs, &policy_out)?;
            policy_one.push_usage(&u);
            rss_policy = rss_policy.max(u.max_rss);
            if args.jobs > 1 {
                let u = run_policy(&trailguard, args.jobs, &logs, &policy_out)?;
                policy_all.push_usage(&u);
                rss_policy = rss_policy.max(u.max_rss);
            }
        }
    }
    // The memory bound holds for any --jobs: once more with many, untimed.
    let mut rss_many = vec![0u64; formats.len()];
    let many = if cli.jobs { args.memory_jobs } else { 0 };
    if many > 0 {
        eprintln!(
            "replay --jobs {many}, for memory (load {})",
            measure::load_average()
        );
        for (i, f) in formats.iter().enumerate() {
            let u = run_replay(
                &trailguard,
                &cli,
                f,
                many,
                logs.as_os_str(),
                &out_file,
                &manifest,
                &[],
            )?;
            rss_many[i] = u.max_rss;
        }
    }
    // The JSON output of a large archive is large: not left behind.
    let _ = fs::remove_file(&out_file);
    let mut jq = None;
    let jq_missing: Vec<&str> = ["jq", "zcat", "xargs", "find", "sort", "wc"]
        .into_iter()
        .filter(|p| !measure::on_path(p))
        .collect();
    if !jq_missing.is_empty() {
        eprintln!(
            "skipping the zcat | jq comparison: {} not on PATH",
            jq_missing.join(", ")
        );
    } else if args.jq_runs > 0 {
        let mut times = Times::default();
        for run in 0..args.jq_runs {
            eprintln!(
                "zcat | jq run {}/{} (load {})",
                run + 1,
                args.jq_runs,
                measure::load_average()
            );
            let out = dir.join("jq-output.txt");
            let u = measure::run(jq_pipeline(&logs).stdout(File::create(&out)?))?;
            ensure!(
                u.code == Some(0),
                "the zcat | jq pipeline failed ({:?})",
                u.code
            );
            let n: u64 = fs::read_to_string(&out)?.trim().parse().unwrap_or(u64::MAX);
            ensure!(
                n == manifest.jq_root_console_login,
                "jq selected {n} root console sign-ins, the manifest expects {}",
                manifest.jq_root_console_login
            );
            times.push_usage(&u);
        }
        jq = Some(times);
    }

    let s3 = s3_replay(args, &trailguard, &cli, &dir, &out_file, &manifest)?;

    let mut rows = vec![
        gunzip.row(format!("floor: gunzip only ({FLATE}), 1 thread"), None),
        parse.row(
            format!("floor: gunzip ({FLATE}) + serde_json into IgnoredAny, 1 thread"),
            None,
        ),
        parse_libdeflate.row(
            "floor with replay's gunzip: libdeflate + serde_json into IgnoredAny, 1 thread".into(),
            None,
        ),
    ];
    for (i, f) in formats.iter().enumerate() {
        rows.push(one[i].row(format!("replay --jobs 1 --format {f}"), Some(rss_one[i])));
        if jobs_all > 1 {
            rows.push(all[i].row(
                format!("replay --jobs {jobs_all} --format {f}"),
                Some(rss_all[i]),
            ));
        }
    }
    if policy {
        let what = |jobs| format!("policy generate --jobs {jobs} (one role, report as JSON)");
        rows.push(policy_one.row(what(1), Some(rss_policy)));
        if args.jobs > 1 {
            rows.push(policy_all.row(what(args.jobs), Some(rss_policy)));
        }
    }
    if let Some(jq) = &jq {
        let pin = if measure::on_path("taskset") {
            "pinned to 1 core"
        } else {
            "taskset missing: not pinned"
        };
        rows.push(jq.row(
            format!(
                "zcat \\| {} (root-console-login filter), {pin}",
                jq_version()
            ),
            None,
        ));
    }

    if let Some((jobs, times, rss)) = &s3 {
        rows.push(times.row(
            format!(
                "replay s3://… --jobs {jobs} --format {} (moto S3 on loopback)",
                if cli.summary { "summary" } else { "text" }
            ),
            Some(*rss),
        ));
    }

    println!("## Replay\n");
    println!(
        "archive: {} files, {} records, {:.0} MB of JSON ({:.0} MB gzipped), seed {}, {} findings expected ({} violations in {} records, {:.2}%); every replay run found exactly them.\n",
        manifest.files,
        manifest.records,
        mb(manifest.json_bytes),
        mb(manifest.gzip_bytes),
        manifest.options.seed,
        manifest.findings,
        manifest.violations,
        manifest.records,
        manifest.violations as f64 / manifest.records as f64 * 100.0
    );
    println!(
        "| run | wall time (median, min–max) | CPU time | records/s | MB/s of JSON | peak RSS |"
    );
    println!("|---|---|---|---|---|---|");
    for r in &rows {
        let t = r.secs.median;
        println!(
            "| {} | {} | {:.2} s | {:.0}k | {:.0} | {} |",
            r.what,
            r.secs.show(1.0, "s", 2),
            r.cpu.median,
            manifest.records as f64 / t / 1e3,
            mb(manifest.json_bytes) / t,
            r.rss.map_or("–".into(), |b| format!("{:.1} MB", mb(b)))
        );
    }
    println!();

    let floor_t = Spread::of(&parse.wall).median;
    let floor_cpu = Spread::of(&parse.cpu).median;
    println!("| check | figure | target | verdict |");
    println!("|---|---|---|---|");
    for (i, f) in formats.iter().enumerate() {
        let want = Target::AtLeast(floor_ratio(f));
        let ratio = floor_t / Spread::of(&one[i].wall).median;
        let cpu_ratio = floor_cpu / Spread::of(&one[i].cpu).median;
        println!(
            "| replay --format {f} on 1 thread / parse floor (speed; by CPU time: {cpu_ratio:.2}) | {ratio:.2} | {want} | {} |",
            want.verdict(ratio, "")
        );
    }
    // Replay gunzips with libdeflate, the floor with flate2 as the target
    // defines it: the same ratio against the floor with replay's gunzip.
    let same_t = Spread::of(&parse_libdeflate.wall).median;
    for (i, f) in formats.iter().enumerate() {
        let ratio = same_t / Spread::of(&one[i].wall).median;
        println!(
            "| replay --format {f} on 1 thread / floor with replay's gunzip (libdeflate) | {ratio:.2} | – | for information |"
        );
    }
    for (i, f) in formats.iter().enumerate() {
        if jobs_all > 1 {
            let speedup = Spread::of(&one[i].wall).median / Spread::of(&all[i].wall).median;
            let want = Target::AtLeast(SCALING_EFFICIENCY * jobs_all as f64);
            println!(
                "| replay --format {f}: speed-up on {jobs_all} cores (--jobs {jobs_all} vs 1) | {speedup:.2}× | {want} (near-linear: {:.0}% per core) | {} |",
                SCALING_EFFICIENCY * 100.0,
                want.verdict(speedup, "×")
            );
        } else {
            println!(
                "| replay --format {f}: speed-up on {} cores | – | near-linear | not measured: this trailguard has no `--jobs` |",
                args.jobs
            );
        }
    }
    let one_t = Spread::of(&one[0].wall).median;
    if let Some(jq) = &jq {
        let jq_t = Spread::of(&jq.wall).median;
        let x1 = jq_t / one_t;
        let want1 = JQ_FLOOR_RATIO * 10.0;
        println!(
            "| replay on 1 thread vs zcat \\| jq | {x1:.1}× | {} (70% of a floor 10× jq) | {} |",
            Target::AtLeast(want1),
            Target::AtLeast(want1).verdict(x1, "×")
        );
        if jobs_all > 1 {
            let xn = jq_t / Spread::of(&all[0].wall).median;
            let want = want1 * SCALING_EFFICIENCY * jobs_all as f64;
            println!(
                "| replay on {jobs_all} cores vs zcat \\| jq | {xn:.1}× | {} | {} |",
                Target::AtLeast(want),
                Target::AtLeast(want).verdict(xn, "×")
            );
        }
        println!(
            "| parse floor vs zcat \\| jq (context) | {:.1}× | about 10× (issue 6) | – |",
            jq_t / floor_t
        );
    }
    if let Some((jobs, times, _)) = &s3 {
        let local = if jobs_all > 1 { &all[0] } else { &one[0] };
        let s3_t = Spread::of(&times.wall).median;
        println!(
            "| S3 replay vs local replay of the same archive (context) | {:.0} vs {:.0} MB/s of JSON ({:.1} MB/s of gzip fetched, --jobs {jobs}) | – | – |",
            mb(manifest.json_bytes) / s3_t,
            mb(manifest.json_bytes) / Spread::of(&local.wall).median,
            mb(manifest.gzip_bytes) / s3_t,
        );
    }
    let peak = |v: &[u64]| mb(v.iter().copied().max().unwrap_or(0));
    let rss = mb(rss_one
        .iter()
        .chain(&rss_all)
        .chain(&rss_many)
        .copied()
        .max()
        .unwrap_or(0));
    let mut runs = vec![format!("--jobs 1: {:.1}", peak(&rss_one))];
    if jobs_all > 1 {
        runs.push(format!("--jobs {jobs_all}: {:.1}", peak(&rss_all)));
    }
    if many > 0 {
        runs.push(format!("--jobs {many}: {:.1}", peak(&rss_many)));
    }
    println!(
        "| replay peak RSS over formats {} (MB; {}) | {rss:.1} | < {REPLAY_RSS_MB} | {} |",
        formats.join(", "),
        runs.join(", "),
        Target::AtMost(REPLAY_RSS_MB).verdict(rss, " MB")
    );
    println!();
    Ok(())
}

/// The S3 figure: the archive uploaded to moto's S3 on loopback, then
/// replayed from `s3://` by the same binary, checked against the manifest.
/// `None` when skipped (no moto, or `--s3-runs 0`).
fn s3_replay(
    args: &Args,
    trailguard: &Path,
    cli: &ReplayCli,
    dir: &Path,
    out_file: &Path,
    manifest: &Manifest,
) -> anyhow::Result<Option<(usize, Times, u64)>> {
    if args.s3_runs == 0 {
        return Ok(None);
    }
    if !MotoS3::available() {
        eprintln!("skipping the S3 replay: moto is not installed (pip install \"moto[server]\")");
        return Ok(None);
    }
    let moto = MotoS3::start()?;
    let started = Instant::now();
    let objects = moto.upload(BUCKET, dir)?;
    eprintln!(
        "uploaded {objects} objects to moto in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let env = [
        ("AWS_ENDPOINT_URL", moto.endpoint()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_CONFIG_FILE", "/dev/null".into()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
    ];
    // Objects wait on the network: trailguard's own default for S3.
    let jobs = 4 * args.jobs;
    let url = OsString::from(format!("s3://{BUCKET}/AWSLogs/"));
    let (mut times, mut rss) = (Times::default(), 0);
    for run in 0..args.s3_runs {
        eprintln!(
            "S3 replay run {}/{} (load {})",
            run + 1,
            args.s3_runs,
            measure::load_average()
        );
        let format = if cli.summary { "summary" } else { "text" };
        let u = run_replay(
            trailguard, cli, format, jobs, &url, out_file, manifest, &env,
        )?;
        times.push_usage(&u);
        rss = rss.max(u.max_rss);
    }
    Ok(Some((jobs, times, rss)))
}

// Lambda -------------------------------------------------------------------

struct ColdStart {
    first_poll: Duration,
    response: Duration,
    max_rss: u64,
}

fn lambda_env(api: &str, aws: &Aws) -> Vec<(&'static str, String)> {
    // What the Lambda service sets for a provided.al2023 function as the
    // SAM template configures it, plus dummy credentials and moto's
    // endpoint, so no call can leave the machine.
    vec![
        ("AWS_LAMBDA_RUNTIME_API", api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", "trailguard-bench".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/trailguard/bench".into()),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2024/03/01/[$LATEST]0123456789abcdef".into(),
        ),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
        ("AWS_LAMBDA_LOG_LEVEL", "INFO".into()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_SESSION_TOKEN", "testing".into()),
        ("AWS_ENDPOINT_URL", aws.endpoint.clone()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("_HANDLER", "bootstrap".into()),
        ("LAMBDA_TASK_ROOT", "/var/task".into()),
        ("LANG", "en_US.UTF-8".into()),
        ("TZ", ":UTC".into()),
        ("PATH", "/usr/local/bin:/usr/bin:/bin".into()),
        ("TRAILGUARD_SNS_TOPIC_ARN", aws.topic_arn.clone()),
        (
            "TRAILGUARD_SELF_ROLE_ARN",
            "arn:aws:iam::111122223333:role/trailguard-fn".into(),
        ),
    ]
}

/// Where trailguard-lambda's AWS calls go: moto, with the alert topic.
struct Aws {
    endpoint: String,
    topic_arn: String,
}

/// What a timed answer must say: a quick answer that did something else
/// would make the figure meaningless.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// Anything (the hello-world, an event given with `--lambda-event`).
    Any,
    /// This many alerts sent.
    Alerts(u64),
    /// Handled, with no finding.
    NoFinding,
}

impl Answer {
    /// Why `body` is not the answer expected, if it is not.
    fn mismatch(self, body: &[u8]) -> Option<String> {
        let ok = match self {
            Answer::Any => true,
            Answer::Alerts(want) => alerts_sent(body) == Some(want),
            Answer::NoFinding => no_finding(body),
        };
        (!ok).then(|| {
            format!(
                "answered {} where {self:?} was expected",
                String::from_utf8_lossy(body)
            )
        })
    }
}

/// Whether a trailguard-lambda answer says the event was handled
/// (`"status": "ok"`) and found nothing.
fn no_finding(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|v| v["status"] == "ok" && v["findings"].as_array().is_some_and(Vec::is_empty))
}

/// How many alerts a trailguard-lambda answer says were sent (its
/// `alerts` field), or `None` for an answer without one.
fn alerts_sent(body: &[u8]) -> Option<u64> {
    fn find(v: &serde_json::Value) -> Option<u64> {
        match v {
            serde_json::Value::Object(m) => m
                .get("alerts")
                .and_then(serde_json::Value::as_u64)
                .or_else(|| m.values().find_map(find)),
            serde_json::Value::Array(a) => a.iter().find_map(find),
            _ => None,
        }
    }
    find(&serde_json::from_slice(body).ok()?)
}

fn cold_start(
    bin: &Path,
    payload: &[u8],
    aws: &Aws,
    extra: &[(String, String)],
    log: &Path,
    expect: Answer,
) -> anyhow::Result<ColdStart> {
    let api = RuntimeApi::start(payload.to_vec())?;
    let log_file = File::create(log)?;
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .envs(lambda_env(&api.address(), aws))
        .envs(extra.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file);
    let mut proc = Proc::spawn(&mut cmd)?;
    let started = proc.started();
    let deadline = started + Duration::from_secs(20);
    let (mut first_poll, mut response) = (None, None);
    let outcome = loop {
        if Instant::now() > deadline {
            break Err(anyhow::anyhow!("no second poll within 20 s"));
        }
        match api.next_call(Duration::from_millis(10)) {
            Some((t, Call::Next { n: 1 })) => first_poll = Some(t - started),
            Some((t, Call::Response(body))) => {
                response = Some(t - started);
                // The answer must be the one measured: an alert that was
                // not sent would make a quick answer meaningless.
                if let Some(why) = expect.mismatch(&body) {
                    break Err(anyhow::anyhow!(why));
                }
            }
            Some((_, Call::Next { .. })) => break Ok(()),
            Some((_, Call::Error { init, body })) => {
                break Err(anyhow::anyhow!(
                    "the function reported an {} error: {}",
                    if init { "init" } else { "invocation" },
                    String::from_utf8_lossy(&body)
                ));
            }
            Some((_, Call::ExtensionRegister)) => {}
            None => {
                if let Some(u) = proc.try_wait()? {
                    break Err(anyhow::anyhow!(
                        "exited ({}) {}",
                        u.code
                            .map_or("killed by a signal".into(), |c| format!("code {c}")),
                        if first_poll.is_none() {
                            "before polling the Runtime API"
                        } else {
                            "before polling again"
                        }
                    ));
                }
            }
        }
    };
    // Read before the kill: the kernel's own figure for this process
    // image, which rusage would mix with this benchmark's memory.
    let peak = proc.peak_rss();
    proc.kill()?;
    outcome.with_context(|| format!("{} (log: {})", bin.display(), log.display()))?;
    Ok(ColdStart {
        first_poll: first_poll.context("answered without polling")?,
        response: response.context("polled again without answering")?,
        max_rss: peak.context("no /proc/PID/status to read the peak memory from")?,
    })
}

/// Instructions `bin` runs from its start to its first answer, counted by
/// valgrind's callgrind: a figure the machine's load does not move, beside
/// the timings it does. `None` without valgrind.
fn instructions(
    bin: &Path,
    payload: &[u8],
    aws: &Aws,
    extra: &[(String, String)],
    work: &Path,
) -> anyhow::Result<Option<u64>> {
    if !measure::on_path("valgrind") {
        return Ok(None);
    }
    let api = RuntimeApi::start(payload.to_vec())?;
    let out = work.join("callgrind.out");
    let _ = fs::remove_file(&out);
    let mut cmd = Command::new("valgrind");
    cmd.arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(bin)
        .env_clear()
        .envs(lambda_env(&api.address(), aws))
        .envs(extra.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let proc = Proc::spawn(&mut cmd)?;
    let deadline = Instant::now() + Duration::from_secs(120);
    let answered = loop {
        match api.next_call(Duration::from_millis(50)) {
            // Stopped while it waits for the next event: all it ran is
            // the start and the first answer.
            Some((_, Call::Next { n: 2.. })) => break true,
            Some((_, Call::Error { .. })) => break false,
            _ if Instant::now() > deadline => break false,
            _ => {}
        }
    };
    proc.terminate()?;
    ensure!(answered, "{} under valgrind did not answer", bin.display());
    let text = fs::read_to_string(&out).with_context(|| format!("no {}", out.display()))?;
    let total = text
        .lines()
        .find_map(|l| l.strip_prefix("summary: ").or(l.strip_prefix("totals: ")))
        .and_then(|n| n.trim().parse().ok())
        .context("no instruction total in callgrind's output")?;
    Ok(Some(total))
}

/// Size of the deployment zip of `bin` (as `bootstrap`), and how it was made.
fn zip_size(bin: &Path, work: &Path) -> anyhow::Result<(u64, &'static str)> {
    let dir = work.join("zip");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    fs::copy(bin, dir.join("bootstrap"))?;
    if measure::on_path("zip") {
        let status = Command::new("zip")
            .args(["-9", "-q", "-X", "bootstrap.zip", "bootstrap"])
            .current_dir(&dir)
            .status()?;
        ensure!(status.success(), "zip failed");
        let size = fs::metadata(dir.join("bootstrap.zip"))?.len();
        let _ = fs::remove_dir_all(&dir);
        return Ok((size, "zip -9"));
    }
    // No zip: a zip of one file is its raw deflate stream plus ~100 bytes.
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&fs::read(bin)?)?;
    let size = enc.finish()?.len() as u64 + 2 * 9 + 30 + 46 + 22;
    let _ = fs::remove_dir_all(&dir);
    Ok((size, "deflate -9 estimate (zip not on PATH)"))
}

/// An event no rule alerts on: trailguard-lambda's first response to it,
/// beside the alerting one, tells the function's own time from the alert's
/// (SNS's client, signing, moto's Publish).
const QUIET_EVENT: &str = "events/negative-password-policy-strengthened.json";

fn lambda(args: &Args) -> anyhow::Result<()> {
    let payload = fs::read(&args.lambda_event)
        .with_context(|| format!("cannot read {}", args.lambda_event.display()))?;
    let quiet_event = Path::new(REPO).join(QUIET_EVENT);
    let quiet_payload =
        fs::read(&quiet_event).with_context(|| format!("cannot read {}", quiet_event.display()))?;
    let work = args.bin_dir.parent().unwrap_or(&args.bin_dir).join("bench");
    fs::create_dir_all(&work)?;
    ensure!(
        MotoS3::available(),
        "the Lambda benchmark publishes its alert to moto: `pip install 'moto[server]'` (scripts/test does)"
    );
    let moto = MotoS3::start()?;
    let aws = Aws {
        endpoint: moto.endpoint(),
        topic_arn: moto.create_topic("trailguard-alerts")?,
    };
    // The default event is alerted on, through SNS: the answer must say so.
    let expect = if args.lambda_event.file_name() == Some("user-policy-attached.json".as_ref()) {
        Answer::Alerts(1)
    } else {
        Answer::Any
    };
    let bins = [
        (
            "hello-lambda (bare lambda_runtime)",
            args.bin_dir.join("hello-lambda"),
        ),
        ("trailguard-lambda", args.bin_dir.join("trailguard-lambda")),
    ];
    struct Result_ {
        name: &'static str,
        size: u64,
        zip: (u64, &'static str),
        runs: Vec<ColdStart>,
        error: Option<String>,
    }
    let mut results: Vec<Result_> = Vec::new();
    // trailguard-lambda's cold starts on the event no rule alerts on.
    let mut quiet: Vec<ColdStart> = Vec::new();
    let mut quiet_error = None;
    for (name, bin) in &bins {
        ensure!(
            bin.is_file(),
            "{} not found: build it with `cargo build --release --workspace --bins` (scripts/bench does)",
            bin.display()
        );
        results.push(Result_ {
            name,
            size: fs::metadata(bin)?.len(),
            zip: zip_size(bin, &work)?,
            runs: Vec::new(),
            error: None,
        });
    }
    // Alternate the two so that background load hits both alike.
    for run in 0..args.lambda_runs {
        if run % 5 == 0 {
            eprintln!(
                "lambda run {}/{} (load {})",
                run + 1,
                args.lambda_runs,
                measure::load_average()
            );
        }
        for (r, (_, bin)) in results.iter_mut().zip(&bins) {
            if r.error.is_some() {
                continue;
            }
            let extra: &[(String, String)] = if r.name == "trailguard-lambda" {
                &args.lambda_env
            } else {
                &[]
            };
            let log = work.join(format!(
                "{}.log",
                bin.file_name().and_then(|n| n.to_str()).unwrap_or("lambda")
            ));
            let expect = if r.name == "trailguard-lambda" {
                expect
            } else {
                Answer::Any
            };
            match cold_start(bin, &payload, &aws, extra, &log, expect) {
                Ok(c) => r.runs.push(c),
                Err(e) => r.error = Some(format!("{e:#}")),
            }
            if r.name == "trailguard-lambda" && quiet_error.is_none() {
                match cold_start(bin, &quiet_payload, &aws, extra, &log, Answer::NoFinding) {
                    Ok(c) => quiet.push(c),
                    Err(e) => quiet_error = Some(format!("{e:#}")),
                }
            }
        }
    }

    println!("## Lambda\n");
    println!(
        "against a local Runtime API on loopback, AWS calls to moto (trailguard-lambda publishes its alert to SNS there); event: `{}`; {} runs each, alternating; release profile of Cargo.toml, built for this machine ({}).\n",
        args.lambda_event
            .strip_prefix(REPO)
            .unwrap_or(&args.lambda_event)
            .display(),
        args.lambda_runs,
        std::env::consts::ARCH
    );
    println!(
        "| binary | size | zip | start → first poll (median, min–max) | start → first response | peak RSS, one invocation |"
    );
    println!("|---|---|---|---|---|---|");
    let ms = |v: &[ColdStart], f: fn(&ColdStart) -> Duration| {
        Spread::of(&v.iter().map(|c| f(c).as_secs_f64()).collect::<Vec<_>>())
    };
    for r in &results {
        let (poll, resp, rss) = if r.runs.is_empty() {
            let e = r.error.clone().unwrap_or_default();
            (format!("did not start: {e}"), "–".into(), "–".into())
        } else {
            (
                ms(&r.runs, |c| c.first_poll).show(1e3, "ms", 2),
                ms(&r.runs, |c| c.response).show(1e3, "ms", 2),
                format!(
                    "{:.1} MB",
                    mb(r.runs.iter().map(|c| c.max_rss).max().unwrap_or(0))
                ),
            )
        };
        println!(
            "| {} | {:.2} MB | {:.2} MB ({}) | {poll} | {resp} | {rss} |",
            r.name,
            mb(r.size),
            mb(r.zip.0),
            r.zip.1
        );
    }
    match &quiet_error {
        Some(e) => {
            println!("| trailguard-lambda, `{QUIET_EVENT}` | – | – | did not answer: {e} | – | – |")
        }
        None if !quiet.is_empty() => println!(
            "| trailguard-lambda, `{QUIET_EVENT}` (no alert) | – | – | {} | {} | {:.1} MB |",
            ms(&quiet, |c| c.first_poll).show(1e3, "ms", 2),
            ms(&quiet, |c| c.response).show(1e3, "ms", 2),
            mb(quiet.iter().map(|c| c.max_rss).max().unwrap_or(0))
        ),
        None => {}
    }
    println!();
    let (hello, tg) = (&results[0], &results[1]);
    let counted = bins
        .iter()
        .map(|(name, bin)| {
            let extra: &[(String, String)] = if *name == "trailguard-lambda" {
                &args.lambda_env
            } else {
                &[]
            };
            instructions(bin, &payload, &aws, extra, &work)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let [Some(h), Some(t)] = counted[..] {
        println!(
            "Instructions from start to the first answer (callgrind, one run each; the load does not move them): hello-lambda {:.2} M, trailguard-lambda {:.2} M ({:.1}×).\n",
            h as f64 / 1e6,
            t as f64 / 1e6,
            t as f64 / h as f64
        );
    }
    println!("| check | figure | target | verdict |");
    println!("|---|---|---|---|");
    if !hello.runs.is_empty() && !tg.runs.is_empty() {
        for (what, f, want) in [
            (
                "first poll",
                (|c: &ColdStart| c.first_poll) as fn(&ColdStart) -> Duration,
                FIRST_POLL_RATIO,
            ),
            (
                "first response",
                |c: &ColdStart| c.response,
                FIRST_RESPONSE_RATIO,
            ),
        ] {
            let ratio = ms(&tg.runs, f).median / ms(&hello.runs, f).median;
            println!(
                "| start → {what}, trailguard / hello-world | {ratio:.2}× | {} | {} |",
                Target::AtMost(want),
                Target::AtMost(want).verdict(ratio, "×")
            );
        }
        if !quiet.is_empty() {
            let f = |c: &ColdStart| c.response;
            let ratio = ms(&quiet, f).median / ms(&hello.runs, f).median;
            println!(
                "| start → first response to an event no rule alerts on, trailguard / hello-world | {ratio:.2}× | – | for information: the function's own time, without the alert |"
            );
        }
        let rss = mb(tg.runs.iter().map(|c| c.max_rss).max().unwrap_or(0));
        println!(
            "| trailguard-lambda peak RSS, one invocation (MB) | {rss:.1} | < {LAMBDA_RSS_MB} | {} |",
            Target::AtMost(LAMBDA_RSS_MB).verdict(rss, " MB")
        );
    } else {
        println!(
            "| start, memory | – | first poll ≤ {FIRST_POLL_RATIO}×, first response ≤ {FIRST_RESPONSE_RATIO}× hello-world, < {LAMBDA_RSS_MB} MB | not measured: {} |",
            tg.error
                .as_deref()
                .or(hello.error.as_deref())
                .unwrap_or("no runs")
        );
    }
    let zip = mb(tg.zip.0);
    println!(
        "| trailguard-lambda zip (MB) | {zip:.2} | < {ZIP_MB} | {} |",
        Target::AtMost(ZIP_MB).verdict(zip, " MB")
    );
    println!();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alerts_sent_are_read_from_the_functions_answer() {
        // The shape trailguard-lambda answers an event with (docs/lambda.md).
        let answer = br#"{"status":"ok","event_id":"e","findings":[{"rule":"user-policy-attached","mode":"alert","alerts":1}],"errors":0}"#;
        assert_eq!(alerts_sent(answer), Some(1));
        let none_sent = br#"{"status":"ok","findings":[{"rule":"r","alerts":0}]}"#;
        assert_eq!(alerts_sent(none_sent), Some(0));
        assert_eq!(alerts_sent(br#"{"status":"ok","findings":[]}"#), None);
        assert_eq!(alerts_sent(b"not json"), None);
    }

    #[test]
    fn a_timed_answer_must_say_what_was_expected() {
        let alerted = br#"{"status":"ok","findings":[{"rule":"user-policy-attached","alerts":1}],"errors":0}"#;
        let quiet = br#"{"status":"ok","event_id":"e","ignored":null,"findings":[],"errors":0}"#;
        let partial = br#"{"status":"partial","findings":[],"errors":1}"#;
        assert_eq!(Answer::Alerts(1).mismatch(alerted), None);
        assert!(Answer::Alerts(1).mismatch(quiet).is_some());
        assert_eq!(Answer::NoFinding.mismatch(quiet), None);
        for wrong in [&alerted[..], partial, b"not json", br#"{"status":"ok"}"#] {
            let why = Answer::NoFinding
                .mismatch(wrong)
                .expect("not a quiet answer");
            assert!(why.contains("NoFinding"), "{why}");
        }
        assert_eq!(Answer::Any.mismatch(b"anything"), None);
    }

    #[test]
    fn summary_is_read_from_text_output() {
        let s = parse_summary(
            "x.json#1  iam CreateUser\n\n12 events, 3 findings, 1 ignored, 0 unreadable\n\nfindings by rule:\n  root-api-call                      2\n  cloudtrail-tampered         1\n\ntop actors:\n  3  arn\n",
        );
        assert_eq!(s.events, Some(12));
        assert_eq!(s.unreadable, Some(0));
        assert_eq!(s.by_rule.len(), 2);
        assert_eq!(s.by_rule["root-api-call"], 2);
    }
}
