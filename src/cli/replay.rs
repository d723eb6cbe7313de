//! `trailguard replay`: evaluate events offline and report.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};

use super::inputs::Archive;
use super::{ConfigArg, EXIT_INPUT, EXIT_USAGE};
use crate::event::archive::{Prune, S3Url};
use crate::event::input;
use crate::event::paths::expand;
use crate::replay::merge::Results;
use crate::replay::{self, Filter, Options, OutputFormat, parse_time_bound};
use crate::rules;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// Events with findings, then counts.
    Text,
    /// One JSON object per event, in input order.
    Json,
    /// Only the counts.
    Summary,
    /// One self-contained HTML page: charts and a findings table.
    Html,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    config: ConfigArg,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Files processed at once; default: every core (four per core when
    /// reading from S3, where objects wait on the network). At most four
    /// per core are, and the files being read and the output waiting for
    /// its turn stay within 32 MiB (a larger file is read alone).
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
    /// Only events at or after this time (2024-05-01 or RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_time_bound)]
    since: Option<DateTime<Utc>>,
    /// Only events before this time (2024-06-01 or RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_time_bound)]
    until: Option<DateTime<Utc>>,
    /// Only events of this account (repeatable).
    #[arg(long, value_name = "ID")]
    account: Vec<String>,
    /// Only events of this region (repeatable).
    #[arg(long, value_name = "REGION")]
    region: Vec<String>,
    /// Only findings of this rule (repeatable).
    #[arg(long, value_name = "RULE_ID")]
    rule: Vec<String>,
    /// The most one input may hold once decompressed (256M by default; K, M,
    /// G suffixes); a larger input is reported unreadable, not read.
    #[arg(long, value_name = "SIZE", value_parser = input::parse_size,
          default_value_t = input::DEFAULT_MAX_INPUT_BYTES)]
    max_input_size: u64,
    /// Also say, per event, which rules looked at it and declined, and why
    /// (diagnostics `declined: ...`).
    #[arg(long)]
    explain: bool,
    /// Never draw a progress bar (none is drawn when stderr is not a terminal).
    #[arg(long)]
    no_progress: bool,
    /// Fold a backtest's batch results (`s3://RESULTS/PREFIX` or a local
    /// copy of it) into one report instead of replaying PATHs; the batches
    /// applied their own config and filters (docs/backtest.md).
    #[arg(long, value_name = "RESULTS")]
    merge: Option<PathBuf>,
    /// Files, directories (walked recursively), `s3://BUCKET/PREFIX` URLs
    /// (listed recursively, pruned by CloudTrail's key layout), or `-`
    /// for stdin.
    #[arg(value_name = "PATH", default_value = "-")]
    paths: Vec<PathBuf>,
}

pub fn run(args: Args) -> ExitCode {
    if let Some(results) = &args.merge {
        return merge(&args, results);
    }
    let config = match args.config.load() {
        Ok(c) => c,
        Err(e) => return super::config_failure(&e),
    };
    let mut rule_ids = Vec::new();
    for id in &args.rule {
        match rules::find(id) {
            Some(r) => rule_ids.push(r.id),
            None => {
                eprintln!("trailguard: unknown rule id `{id}` in --rule (see `trailguard rules`)");
                return ExitCode::from(EXIT_USAGE);
            }
        }
    }
    let archive = match Archive::open(&args.paths) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("trailguard: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let from_s3 = archive.reads_s3();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = args
        .jobs
        .unwrap_or(if from_s3 { 4 * cores } else { cores })
        .max(1);
    let opts = Options {
        jobs,
        format: match args.format {
            Format::Text => OutputFormat::Text,
            Format::Json => OutputFormat::Json,
            Format::Summary => OutputFormat::Summary,
            Format::Html => OutputFormat::Html,
        },
        filter: Filter {
            since: args.since,
            until: args.until,
            accounts: args.account,
            regions: args.region,
            rules: rule_ids,
            explain: args.explain,
        },
        progress: !args.no_progress && io::stderr().is_terminal(),
        max_input_bytes: args.max_input_size,
    };

    let mut errors = 0u64;
    let mut report_error = |e: &dyn std::fmt::Display| {
        errors += 1;
        eprintln!("trailguard: {e}");
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let result = if let Some(source) = archive.source() {
        let prune = Prune {
            since: opts.filter.since,
            until: opts.filter.until,
            accounts: opts.filter.accounts.clone(),
            regions: opts.filter.regions.clone(),
        };
        let inputs = archive.inputs(Some(source), &prune, &mut report_error);
        replay::run_stream(
            inputs,
            None,
            Some(&source),
            &config,
            &opts,
            &mut out,
            &mut |e| report_error(e),
        )
    } else {
        let mut inputs = Vec::new();
        for input in expand(&args.paths) {
            match input {
                Ok(i) => inputs.push(i),
                Err(e) => report_error(&e),
            }
        }
        replay::run(&inputs, &config, &opts, &mut out, &mut |e| report_error(e))
    };
    let result = result.and_then(|summary| {
        if matches!(opts.format, OutputFormat::Text | OutputFormat::Summary) {
            writeln!(out, "\n{}", summary.render_text())?;
        }
        out.flush()
    });
    match result {
        // A closed pipe (`| head`) is not worth a message.
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            eprintln!("trailguard: cannot write output: {e}");
            return ExitCode::from(EXIT_INPUT);
        }
        _ => {}
    }
    if errors > 0 {
        ExitCode::from(EXIT_INPUT)
    } else {
        ExitCode::SUCCESS
    }
}

/// `--merge`: the batches' outputs, in a local replay's order and format.
fn merge(args: &Args, results: &std::path::Path) -> ExitCode {
    let filtered = args.since.is_some()
        || args.until.is_some()
        || !args.account.is_empty()
        || !args.region.is_empty()
        || !args.rule.is_empty()
        || args.explain
        || args.paths != [PathBuf::from("-")];
    if filtered {
        eprintln!("trailguard: --merge takes no PATH and no filter: the batches applied theirs");
        return ExitCode::from(EXIT_USAGE);
    }
    let archive = match Archive::open(std::slice::from_ref(&results.to_path_buf())) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("trailguard: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let location = match (results.to_str().and_then(S3Url::parse), archive.source()) {
        (Some(Ok(mut url)), Some(source)) => {
            if !url.prefix.is_empty() && !url.prefix.ends_with('/') {
                url.prefix.push('/');
            }
            Results::S3 {
                source,
                bucket: url.bucket,
                prefix: url.prefix,
            }
        }
        _ => Results::Dir(results.to_path_buf()),
    };
    let format = match args.format {
        Format::Text => OutputFormat::Text,
        Format::Json => OutputFormat::Json,
        Format::Summary => OutputFormat::Summary,
        Format::Html => OutputFormat::Html,
    };
    let mut errors = 0u64;
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let merged = replay::merge::merge(&location, format, args.max_input_size, &mut out, &mut |e| {
        errors += 1;
        eprintln!("trailguard: {e}");
    });
    let written = match merged {
        Ok(summary) => (|| {
            if matches!(format, OutputFormat::Text | OutputFormat::Summary) {
                writeln!(out, "\n{}", summary.render_text())?;
            }
            out.flush()
        })(),
        Err(replay::merge::MergeError::Output(e)) => Err(e),
        Err(e) => {
            eprintln!("trailguard: {e}");
            return ExitCode::from(EXIT_INPUT);
        }
    };
    match written {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            eprintln!("trailguard: cannot write output: {e}");
            ExitCode::from(EXIT_INPUT)
        }
        _ if errors > 0 => ExitCode::from(EXIT_INPUT),
        _ => ExitCode::SUCCESS,
    }
}
