//! backtest-bench: the throughput of the backtest's batch handler per
//! Lambda-second. The compiled `trailguard-lambda`, pinned to one core (one
//! vCPU, what Lambda gives 1,769 MB), is handed batches of a synthetic
//! archive's keys uploaded to moto's S3 on loopback, as the Distributed Map
//! hands them, one fresh process per batch (a cold start each, the
//! pessimistic case); beside it, `trailguard replay --jobs 1` of the same
//! files from disk on the same core. Prints a Markdown table
//! (docs/backtest.md). Run through `scripts/bench backtest`.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};
use trailguard_bench::measure::{self, Proc, mb};
use trailguard_bench::moto::MotoS3;
use trailguard_bench::runtime_api::{Call, RuntimeApi};
use trailguard_bench::synth::{self, Manifest, Options};

const ARCHIVE_BUCKET: &str = "trailguard-bench";
const RESULTS_BUCKET: &str = "trailguard-bench-results";

struct Args {
    archive: Option<PathBuf>,
    synth: Options,
    batch: usize,
    cpu: String,
    bin_dir: PathBuf,
}

fn parse_args() -> anyhow::Result<Args> {
    let exe = std::env::current_exe()?;
    let mut a = Args {
        archive: None,
        synth: Options {
            size: 256 << 20,
            ..Options::default()
        },
        batch: 25,
        cpu: "0".into(),
        bin_dir: exe.parent().context("no directory for this binary")?.into(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!(
                "usage: backtest-bench [--size SIZE] [--seed N] [--archive DIR] [--batch N] [--cpu LIST] [--bin-dir DIR]\n\
                 defaults: --size 256MiB --batch 25 --cpu 0 (taskset's list: the one core both runs get)"
            );
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
            "--batch" => a.batch = number()?.max(1),
            "--cpu" => a.cpu = value.clone(),
            "--bin-dir" => a.bin_dir = value.clone().into(),
            _ => bail!("unknown option `{flag}` (try --help)"),
        }
    }
    Ok(a)
}

/// The archive, generated once under target/bench/ and reused.
fn archive(args: &Args) -> anyhow::Result<(PathBuf, Manifest)> {
    let dir = args.archive.clone().unwrap_or_else(|| {
        let target = args.bin_dir.parent().unwrap_or(&args.bin_dir);
        target.join(format!(
            "bench/archive-{}-seed{}",
            args.synth.size, args.synth.seed
        ))
    });
    if let Ok(m) = Manifest::read(&dir)
        && m.generator_version == synth::GENERATOR_VERSION
        && (args.archive.is_some() || m.options == args.synth)
    {
        return Ok((dir, m));
    }
    eprintln!(
        "generating a {:.0} MB archive in {} ...",
        mb(args.synth.size),
        dir.display()
    );
    let m = synth::generate(&dir, &args.synth, 2, &|_, _| {})?;
    Ok((dir, m))
}

/// Every key under the archive, in S3's (byte) order, as the item reader lists them.
fn keys(dir: &Path) -> anyhow::Result<Vec<(String, u64)>> {
    let mut keys = Vec::new();
    for entry in walkdir::WalkDir::new(synth::logs_dir(dir)) {
        let entry = entry?;
        if entry.file_type().is_file() {
            let key = entry
                .path()
                .strip_prefix(dir)?
                .to_string_lossy()
                .into_owned();
            keys.push((key, entry.metadata()?.len()));
        }
    }
    keys.sort();
    Ok(keys)
}

/// The environment Lambda gives the function, its endpoint moto.
fn lambda_env(api: &str, endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_LAMBDA_RUNTIME_API", api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", "trailguard-backtest".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1769".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/trailguard/bench".into()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench".into()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_ENDPOINT_URL", endpoint.into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("PATH", "/usr/local/bin:/usr/bin:/bin".into()),
    ]
}

/// One batch, one cold process: (init, invocation) durations and the answer.
fn invoke(
    args: &Args,
    endpoint: &str,
    payload: &Value,
    log: &Path,
) -> anyhow::Result<(Duration, Duration, Value)> {
    let api = RuntimeApi::start(serde_json::to_vec(payload)?)?;
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", &args.cpu])
        .arg(args.bin_dir.join("trailguard-lambda"))
        .env_clear()
        .envs(lambda_env(&api.address(), endpoint))
        .stdin(Stdio::null())
        .stdout(File::create(log)?)
        .stderr(Stdio::inherit());
    let proc = Proc::spawn(&mut cmd)?;
    let started = proc.started();
    let deadline = started + Duration::from_secs(900);
    let mut polled = None;
    let outcome = loop {
        if Instant::now() > deadline {
            break Err(anyhow::anyhow!("no answer within 900 s"));
        }
        match api.next_call(Duration::from_millis(50)) {
            Some((t, Call::Next { n: 1 })) => polled = Some(t),
            Some((t, Call::Response(body))) => {
                let polled = polled.context("answered before polling")?;
                break Ok((polled - started, t - polled, serde_json::from_slice(&body)?));
            }
            Some((_, Call::Error { body, .. })) => {
                break Err(anyhow::anyhow!(
                    "the batch failed: {}",
                    String::from_utf8_lossy(&body)
                ));
            }
            _ => {}
        }
    };
    proc.kill()?;
    outcome.with_context(|| format!("log: {}", log.display()))
}

fn main() -> anyhow::Result<()> {
    if let Some(code) = measure::trampoline() {
        std::process::exit(code);
    }
    let args = parse_args()?;
    let lambda = args.bin_dir.join("trailguard-lambda");
    let trailguard = args.bin_dir.join("trailguard");
    ensure!(
        lambda.is_file() && trailguard.is_file(),
        "build the release binaries first (scripts/bench does)"
    );
    ensure!(
        MotoS3::available(),
        "moto is not installed (pip install \"moto[server]\")"
    );
    let (dir, manifest) = archive(&args)?;
    let keys = keys(&dir)?;
    let stored: u64 = keys.iter().map(|(_, s)| s).sum();
    let work = args.bin_dir.parent().unwrap_or(&args.bin_dir).join("bench");
    fs::create_dir_all(&work)?;

    // Local files, one core: what the engine reads when nothing waits on S3.
    let started = Instant::now();
    let local = Command::new("taskset")
        .args(["-c", &args.cpu])
        .arg(&trailguard)
        .args([
            "replay",
            "--jobs",
            "1",
            "--format",
            "summary",
            "--no-progress",
        ])
        .arg(synth::logs_dir(&dir))
        .stdout(Stdio::null())
        .status()?;
    let local_s = started.elapsed().as_secs_f64();
    ensure!(local.success(), "the local replay failed");

    let moto = MotoS3::start()?;
    moto.upload(ARCHIVE_BUCKET, &dir)?;
    moto.create_bucket(RESULTS_BUCKET)?;
    let (mut init, mut busy, mut events, mut findings, mut errors) =
        (Duration::ZERO, Duration::ZERO, 0, 0, 0);
    let batches = keys.chunks(args.batch).count();
    for (i, batch) in keys.chunks(args.batch).enumerate() {
        let items: Vec<Value> = batch
            .iter()
            .map(|(k, s)| json!({"Key": k, "Size": s}))
            .collect();
        let payload = json!({
            "BatchInput": {"trailguard": "replay-batch", "bucket": ARCHIVE_BUCKET,
                           "results": format!("s3://{RESULTS_BUCKET}/bench/")},
            "Items": items,
        });
        let (i_t, b_t, answer) = invoke(
            &args,
            &moto.endpoint(),
            &payload,
            &work.join("backtest-lambda.log"),
        )?;
        ensure!(answer["status"] == "ok", "batch {i}: {answer}");
        eprintln!("batch {}/{batches}: {:.2} s", i + 1, b_t.as_secs_f64());
        init += i_t;
        busy += b_t;
        events += answer["events"].as_u64().unwrap_or(0);
        findings += answer["findings"].as_u64().unwrap_or(0);
        errors += answer["errors"].as_u64().unwrap_or(0);
    }
    ensure!(
        events == manifest.records,
        "{events} events read, the archive has {}",
        manifest.records
    );
    ensure!(errors == 0, "{errors} unreadable objects");

    let json_mb = mb(manifest.json_bytes);
    let busy_s = busy.as_secs_f64();
    println!("## Backtest batches\n");
    println!(
        "archive: {} files, {:.0} MB of JSON ({:.0} MB gzipped), {} events, {findings} findings; \
         {batches} batches of {} keys; one core (taskset -c {}), load average {}\n",
        manifest.files,
        json_mb,
        mb(stored),
        manifest.records,
        args.batch,
        args.cpu,
        measure::load_average()
    );
    println!("| run | seconds | MB of JSON per second | GB of JSON per Lambda-hour |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| batch handler, moto S3 on loopback, {batches} invocations (their cold starts, {:.2} s in all, not counted) | {busy_s:.1} | {:.1} | {:.0} |",
        init.as_secs_f64(),
        json_mb / busy_s,
        json_mb / busy_s * 3600.0 / 1000.0
    );
    println!(
        "| `trailguard replay --jobs 1`, local files | {local_s:.1} | {:.1} | {:.0} |",
        json_mb / local_s,
        json_mb / local_s * 3600.0 / 1000.0
    );
    println!("\nload average at end: {}", measure::load_average());
    Ok(())
}
