//! `trailguard handle`: the Lambda's live path over files, with the SDK's
//! usual configuration (`AWS_PROFILE`, `AWS_REGION`, `AWS_ENDPOINT_URL`...).
//! Prints one JSON outcome per event, in input order; logs go to stderr.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use super::{ConfigArg, EXIT_EFFECTS, EXIT_INPUT, EXIT_USAGE};
use crate::event::input;
use crate::live::{LiveContext, handle_inputs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    config: ConfigArg,
    /// The most held at once, decompressed (256M by default; K, M, G
    /// suffixes): a whole log file, or one unfinished document of JSON
    /// lines; beyond it the input is reported unreadable.
    #[arg(long, value_name = "SIZE", value_parser = input::parse_size,
          default_value_t = input::DEFAULT_MAX_INPUT_BYTES)]
    max_input_size: u64,
    /// Act on the events of this member account through the member role
    /// (organisation mode), as the function would; other accounts' events
    /// are alerted only.
    #[arg(long, value_name = "ID")]
    account: Option<String>,
    /// Files, directories (walked recursively) or `-` for stdin.
    #[arg(value_name = "PATH", default_value = "-")]
    paths: Vec<PathBuf>,
}

pub fn run(args: Args) -> ExitCode {
    let mut config = match args.config.load() {
        Ok(c) => c,
        Err(e) => return super::config_failure(&e),
    };
    if let Some(account) = &args.account {
        if let Err(message) = super::scan::check_account_arg(account, &config) {
            eprintln!("trailguard: {message}");
            return ExitCode::from(EXIT_USAGE);
        }
        config.organization.accounts = vec![account.clone()];
    }
    init_logs();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("trailguard: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    runtime.block_on(async move {
        let ctx = match LiveContext::from_env(config).await {
            Ok(ctx) => ctx,
            Err(e) => {
                eprintln!("trailguard: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
        };
        let (mut input_errors, mut effect_errors) = (0u64, 0u64);
        let stdout = io::stdout();
        let mut out = stdout.lock();
        let mut write_failed = None;
        handle_inputs(&args.paths, args.max_input_size, &ctx, &mut |outcome| {
            if outcome.input_failed() {
                input_errors += 1;
            } else if outcome.failed() {
                effect_errors += 1;
            }
            let line = serde_json::to_string(&outcome).unwrap_or_else(|e| {
                format!(r#"{{"errors":[{{"message":"cannot render outcome: {e}"}}]}}"#)
            });
            if write_failed.is_none() {
                write_failed = writeln!(out, "{line}").and_then(|()| out.flush()).err();
            }
        })
        .await;
        if let Some(e) = write_failed.filter(|e| e.kind() != io::ErrorKind::BrokenPipe) {
            eprintln!("trailguard: cannot write output: {e}");
            return ExitCode::from(EXIT_INPUT);
        }
        if effect_errors > 0 {
            ExitCode::from(EXIT_EFFECTS)
        } else if input_errors > 0 {
            ExitCode::from(EXIT_INPUT)
        } else {
            ExitCode::SUCCESS
        }
    })
}

/// Logs on stderr, `warn` and up unless `RUST_LOG` says otherwise
/// (`RUST_LOG=trailguard=info` shows one line per decision).
pub(super) fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .try_init();
}
