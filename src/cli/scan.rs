//! `trailguard scan`: the scheduled credential scan, run once against the
//! account the SDK's usual environment points at (`AWS_PROFILE`,
//! `AWS_REGION`, `AWS_ENDPOINT_URL`...): remediates where the config says
//! so and sends the one summary alert, like the Lambda's scheduled run.
//! Logs go to stderr.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{ConfigArg, EXIT_EFFECTS, EXIT_INPUT, EXIT_USAGE, Format};
use crate::live::LiveContext;
use crate::scan::{ReportWait, ScanContext, render_text, run_scan};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    config: ConfigArg,
    /// `text` (findings worst first, then counts) or `json` (one object).
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Change nothing and send nothing: report what remediate mode would do.
    #[arg(long)]
    dry_run: bool,
    /// Measure ages at this time (RFC 3339) instead of now, to preview what
    /// will be stale. A preview: implies `--dry-run`.
    #[arg(long, value_name = "TIME")]
    as_of: Option<DateTime<Utc>>,
    /// Longest wait for IAM to generate the credential report, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    report_wait: u64,
}

pub fn run(args: Args) -> ExitCode {
    let config = match args.config.load() {
        Ok(c) => c,
        Err(e) => return super::config_failure(&e),
    };
    super::handle::init_logs();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("trailguard: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let now = args.as_of.unwrap_or_else(Utc::now);
    let wait = ReportWait {
        timeout: Duration::from_secs(args.report_wait),
        ..ReportWait::default()
    };
    let result = runtime.block_on(async {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        let slack_env = std::env::var(&config.alerts.slack_webhook_url_env).ok();
        // One IAM client for the remediations and the scan's reads.
        let (live, source) = LiveContext::with_credential_source(config, &sdk, slack_env)
            .map_err(|e| (EXIT_USAGE, e.to_string()))?;
        let ctx = ScanContext {
            wait,
            // Ages measured at another time are not the account's: acting
            // on them would deactivate a key seconds old as years old.
            dry_run: args.dry_run || args.as_of.is_some(),
            ..ScanContext::new(&live, source.as_ref())
        };
        run_scan(&ctx, now)
            .await
            .map_err(|e| (EXIT_INPUT, format!("scan failed: {e}")))
    });
    let report = match result {
        Ok(r) => r,
        Err((code, message)) => {
            eprintln!("trailguard: {message}");
            return ExitCode::from(code);
        }
    };
    let mut out = io::stdout().lock();
    let written = match args.format {
        Format::Json => serde_json::to_writer_pretty(&mut out, &report)
            .map_err(io::Error::from)
            .and_then(|()| out.write_all(b"\n")),
        Format::Text => out.write_all(render_text(&report).as_bytes()),
    };
    if let Err(e) = written.and_then(|()| out.flush())
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        eprintln!("trailguard: cannot write output: {e}");
        return ExitCode::from(EXIT_INPUT);
    }
    if report.failed() {
        ExitCode::from(EXIT_EFFECTS)
    } else {
        ExitCode::SUCCESS
    }
}
