//! Writes a synthetic CloudTrail archive and its manifest.
//!
//! `gen-archive --out DIR [--size 1GiB] [--seed 42] [--violations 0.005]
//! [--near-misses 0.002] [--days 14] [--start 2024-03-01] [--level 1]
//! [--organization o-ID] [--threads N]`

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use trailguard_bench::synth::{self, Options};

fn main() -> anyhow::Result<()> {
    let mut opts = Options::default();
    let mut out: Option<PathBuf> = None;
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!("{}", include_str!("gen-archive.txt"));
            return Ok(());
        }
        let value = args
            .next()
            .with_context(|| format!("`{flag}` needs a value"))?;
        let bad = |what: &str| format!("bad {what} `{value}`");
        match flag.as_str() {
            "--out" => out = Some(value.into()),
            "--size" => opts.size = synth::parse_size(&value).map_err(anyhow::Error::msg)?,
            "--seed" => opts.seed = value.parse().with_context(|| bad("seed"))?,
            "--violations" => opts.violation_share = value.parse().with_context(|| bad("share"))?,
            "--near-misses" => {
                opts.near_miss_share = value.parse().with_context(|| bad("share"))?
            }
            "--days" => opts.days = value.parse().with_context(|| bad("day count"))?,
            "--start" => opts.start = value,
            "--level" => opts.level = value.parse().with_context(|| bad("level"))?,
            "--organization" => opts.organization = Some(value),
            "--threads" => threads = value.parse().with_context(|| bad("thread count"))?,
            _ => bail!("unknown option `{flag}` (try --help)"),
        }
    }
    let out = out.context("--out DIR is required (try --help)")?;
    let started = std::time::Instant::now();
    let manifest = synth::generate(&out, &opts, threads, &|done, all| {
        if done % 64 == 0 || done == all {
            eprint!("\r{done}/{all} files");
            let _ = std::io::stderr().flush();
        }
    })?;
    eprintln!();
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{} files, {} records, {:.1} MB of JSON ({:.1} MB gzipped) in {secs:.1} s; {} findings expected",
        manifest.files,
        manifest.records,
        manifest.json_bytes as f64 / 1e6,
        manifest.gzip_bytes as f64 / 1e6,
        manifest.findings
    );
    println!("{}", synth::Manifest::path(&out).display());
    Ok(())
}
