//! `trailguard policy`: the policy a principal's activity needed
//! (`generate`), and what it holds but did not use (`unused`). The archive
//! is read as `trailguard replay` reads it.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};

use super::inputs::Archive;
use super::{EXIT_EFFECTS, EXIT_INPUT, EXIT_USAGE, Format};
use crate::effects::held::{AwsHeldPolicies, HeldPolicies};
use crate::event::archive::Prune;
use crate::event::input;
use crate::policy::report::{GenerateReport, UnusedReport};
use crate::policy::{
    self, ActionTable, Collected, Held, Principals, ReadOptions, compare, generate,
};
use crate::replay::{Filter, parse_time_bound};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the IAM policy a principal's successful calls needed (stdout:
    /// the document alone); the report goes to stderr, or `--report FILE`.
    Generate(GenerateArgs),
    /// List what a principal is granted (policy files, or `--live` from IAM)
    /// but did not use, and the generated policy as its replacement.
    Unused(UnusedArgs),
}

/// The archive and whose activity to read in it.
#[derive(Debug, clap::Args)]
pub struct ActivityArgs {
    /// The principal: a role (every session of it), a user, or a glob of
    /// ARNs (repeatable).
    #[arg(long, value_name = "ARN", required = true)]
    principal: Vec<String>,
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
    /// Files processed at once; default: every core.
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
    /// The most one input may hold once decompressed (K, M, G suffixes).
    #[arg(long, value_name = "SIZE", value_parser = input::parse_size,
          default_value_t = input::DEFAULT_MAX_INPUT_BYTES)]
    max_input_size: u64,
    /// Files, directories (walked recursively), `s3://BUCKET/PREFIX` URLs
    /// or `-` for stdin.
    #[arg(value_name = "PATH", default_value = "-")]
    paths: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    activity: ActivityArgs,
    /// Write the report as JSON to this file instead of text to stderr.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("held").required(true).args(["policy", "live"]))]
pub struct UnusedArgs {
    #[command(flatten)]
    activity: ActivityArgs,
    /// A policy document the principal holds (repeatable).
    #[arg(long, value_name = "FILE")]
    policy: Vec<PathBuf>,
    /// Read what the principal holds from IAM (read-only calls; the SDK's
    /// usual environment, `AWS_ENDPOINT_URL` included).
    #[arg(long)]
    live: bool,
    /// `text` or `json` (one object, the suggested policy included).
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

/// Runs a `policy` subcommand.
pub fn run(command: Command) -> ExitCode {
    match command {
        Command::Generate(args) => run_generate(args),
        Command::Unused(args) => run_unused(args),
    }
}

/// Reads the archive; `Err` is the exit code of a usage error, already said.
fn read_activity(args: &ActivityArgs) -> Result<(Principals, Collected), ExitCode> {
    let principals = Principals::new(&args.principal).map_err(|e| {
        eprintln!("trailguard: {e}");
        ExitCode::from(EXIT_USAGE)
    })?;
    let opts = ReadOptions {
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1),
        filter: Filter {
            since: args.since,
            until: args.until,
            accounts: args.account.clone(),
            regions: args.region.clone(),
            ..Filter::default()
        },
        max_input_bytes: args.max_input_size,
    };
    let archive = Archive::open(&args.paths).map_err(|e| {
        eprintln!("trailguard: {e}");
        ExitCode::from(EXIT_USAGE)
    })?;
    let prune = Prune {
        since: args.since,
        until: args.until,
        accounts: args.account.clone(),
        regions: args.region.clone(),
    };
    let source = archive.source();
    let mut errors = 0u64;
    let inputs = archive.inputs(source, &prune, &mut |e| {
        errors += 1;
        eprintln!("trailguard: {e}");
    });
    let mut collected = policy::collect(
        inputs,
        source.as_ref(),
        &principals,
        ActionTable::embedded(),
        &opts,
        &mut |e| eprintln!("trailguard: {e}"),
    );
    collected.errors += errors;
    Ok((principals, collected))
}

fn exit(errors: u64) -> ExitCode {
    if errors > 0 {
        ExitCode::from(EXIT_INPUT)
    } else {
        ExitCode::SUCCESS
    }
}

fn run_generate(args: GenerateArgs) -> ExitCode {
    let (principals, collected) = match read_activity(&args.activity) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let table = ActionTable::embedded();
    let generated = generate(&collected.activity, table);
    let report = GenerateReport::new(
        &principals.given,
        &collected.activity,
        &generated,
        &table.source,
        collected.errors,
    );
    match &args.report {
        Some(path) => {
            let json = serde_json::to_vec_pretty(&report).expect("reports serialize");
            if let Err(e) = std::fs::write(path, json) {
                eprintln!("trailguard: cannot write report `{}`: {e}", path.display());
                return ExitCode::from(EXIT_INPUT);
            }
        }
        None => eprint!("{}", report.render_text()),
    }
    if generated.document.statement.is_empty() {
        eprintln!(
            "trailguard: no successful call by `{}` in the input: no policy to write",
            principals.given.join("`, `")
        );
        return ExitCode::from(EXIT_INPUT);
    }
    let text = serde_json::to_string_pretty(&generated.document).expect("documents serialize");
    if let Err(e) = writeln!(io::stdout().lock(), "{text}")
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        eprintln!("trailguard: cannot write output: {e}");
        return ExitCode::from(EXIT_INPUT);
    }
    exit(collected.errors)
}

/// What the principal holds: the files, or IAM's answer.
fn held(args: &UnusedArgs) -> Result<Vec<Held>, (u8, String)> {
    if !args.live {
        return args
            .policy
            .iter()
            .map(|path| {
                let name = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|source| {
                    policy::PolicyError::ReadPolicy {
                        path: name.clone(),
                        source,
                    }
                });
                text.and_then(|t| policy::read_policy(&name, &t))
                    .map_err(|e| (EXIT_USAGE, e.to_string()))
            })
            .collect();
    }
    let [arn] = args.activity.principal.as_slice() else {
        return Err((
            EXIT_USAGE,
            "--live reads one principal: give one --principal".into(),
        ));
    };
    let holder = policy::holder_of(arn).map_err(|e| (EXIT_USAGE, e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| (EXIT_USAGE, format!("cannot start the async runtime: {e}")))?;
    let docs = runtime
        .block_on(async {
            let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .load()
                .await;
            AwsHeldPolicies::from_conf(&sdk)
                .held_policies(&holder)
                .await
        })
        .map_err(|e| (EXIT_EFFECTS, e.to_string()))?;
    docs.iter()
        .map(|d| {
            policy::read_policy(&d.name, &d.document).map_err(|e| (EXIT_EFFECTS, e.to_string()))
        })
        .collect()
}

fn run_unused(args: UnusedArgs) -> ExitCode {
    let held = match held(&args) {
        Ok(h) => h,
        Err((code, message)) => {
            eprintln!("trailguard: {message}");
            return ExitCode::from(code);
        }
    };
    let (principals, collected) = match read_activity(&args.activity) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let table = ActionTable::embedded();
    let unused = compare(&held, &collected.activity, table);
    let generated = generate(&collected.activity, table);
    let names: Vec<String> = held.iter().map(|h| h.name.clone()).collect();
    let report = UnusedReport {
        principals: &principals.given,
        period: &collected.activity.period,
        policies: &names,
        unused: &unused,
        suggested_policy: &generated.document,
    };
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&report).expect("reports serialize") + "\n",
        Format::Text => report.render_text(),
    };
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes())
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        eprintln!("trailguard: cannot write output: {e}");
        return ExitCode::from(EXIT_INPUT);
    }
    exit(collected.errors)
}
