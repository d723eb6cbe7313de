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
use crate::scan::fanout::{accounts_to_scan, scan_account};
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
    /// Scan this member account through the member role (organisation mode).
    #[arg(long, value_name = "ID", conflicts_with = "all_accounts")]
    account: Option<String>,
    /// Scan every account of the organisation (organizations:ListAccounts,
    /// else organization.accounts), one after the other, each with its own
    /// summary; `--format json` prints an array of reports.
    #[arg(long)]
    all_accounts: bool,
}

/// `--account ID` must be an account id, and needs organisation mode.
pub(super) fn check_account_arg(
    account: &str,
    config: &crate::config::Config,
) -> Result<(), String> {
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "--account `{account}` is not a 12-digit account id"
        ));
    }
    if !config.organization.enabled() {
        return Err(format!(
            "--account `{account}` needs organisation mode: set organization.member_role_name (or TRAILGUARD_MEMBER_ROLE_NAME)"
        ));
    }
    // As the function would: an account the configuration keeps out is
    // never acted on, whoever asks.
    if let Some(why) = config.organization.refusal(account) {
        return Err(format!("--account: {why}"));
    }
    Ok(())
}

pub fn run(args: Args) -> ExitCode {
    let config = match args.config.load() {
        Ok(c) => c,
        Err(e) => return super::config_failure(&e),
    };
    if let Some(account) = &args.account
        && let Err(message) = check_account_arg(account, &config)
    {
        eprintln!("trailguard: {message}");
        return ExitCode::from(EXIT_USAGE);
    }
    if args.all_accounts && !config.organization.enabled() {
        eprintln!(
            "trailguard: --all-accounts needs organisation mode: set organization.member_role_name (or TRAILGUARD_MEMBER_ROLE_NAME)"
        );
        return ExitCode::from(EXIT_USAGE);
    }
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
    let mut failed_accounts = 0usize;
    let result = runtime.block_on(async {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        let slack_env = std::env::var(&config.alerts.slack_webhook_url_env).ok();
        // One IAM client for the remediations and the scan's reads.
        let (live, source) = LiveContext::with_credential_source(config, &sdk, slack_env)
            .map_err(|e| (EXIT_USAGE, e.to_string()))?;
        let live = live
            .with_organization(&sdk)
            .await
            .map_err(|e| (EXIT_USAGE, e.to_string()))?;
        let ctx = ScanContext {
            wait,
            // Ages measured at another time are not the account's: acting
            // on them would deactivate a key seconds old as years old.
            dry_run: args.dry_run || args.as_of.is_some(),
            ..ScanContext::new(&live, source.as_ref())
        };
        let accounts = if args.all_accounts {
            let Some(lister) = live.lister.as_deref() else {
                return Err((EXIT_USAGE, "no account lister".to_owned()));
            };
            match accounts_to_scan(&live, lister).await {
                (accounts, _, None) => accounts,
                (_, _, Some(e)) => {
                    return Err((EXIT_INPUT, format!("cannot list the accounts: {e}")));
                }
            }
        } else if let Some(account) = &args.account {
            vec![account.clone()]
        } else {
            let report = run_scan(&ctx, now)
                .await
                .map_err(|e| (EXIT_INPUT, format!("scan failed: {e}")))?;
            return Ok(vec![report]);
        };
        let mut reports = Vec::new();
        for account in &accounts {
            match Box::pin(scan_account(&live, source.as_ref(), account, ctx, now)).await {
                Ok(report) => reports.push(report),
                // One account failing does not stop the others.
                Err(e) if args.all_accounts => {
                    eprintln!("trailguard: scan of account {account} failed: {e}");
                    failed_accounts += 1;
                }
                Err(e) => return Err((EXIT_INPUT, format!("scan failed: {e}"))),
            }
        }
        Ok(reports)
    });
    let reports = match result {
        Ok(r) => r,
        Err((code, message)) => {
            eprintln!("trailguard: {message}");
            return ExitCode::from(code);
        }
    };
    let mut out = io::stdout().lock();
    let written = match (args.format, reports.as_slice()) {
        // One account: the one report, as always.
        (Format::Json, [report]) if !args.all_accounts => {
            serde_json::to_writer_pretty(&mut out, report)
                .map_err(io::Error::from)
                .and_then(|()| out.write_all(b"\n"))
        }
        (Format::Json, reports) => serde_json::to_writer_pretty(&mut out, reports)
            .map_err(io::Error::from)
            .and_then(|()| out.write_all(b"\n")),
        (Format::Text, reports) => reports
            .iter()
            .try_for_each(|r| out.write_all(render_text(r).as_bytes())),
    };
    if let Err(e) = written.and_then(|()| out.flush())
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        eprintln!("trailguard: cannot write output: {e}");
        return ExitCode::from(EXIT_INPUT);
    }
    if failed_accounts > 0 {
        ExitCode::from(EXIT_INPUT)
    } else if reports.iter().any(|r| r.failed()) {
        ExitCode::from(EXIT_EFFECTS)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_the_configuration_keeps_out_is_refused() {
        let config = crate::config::Config::from_toml(
            "[organization]\nmember_role_name = \"m\"\nexclude_accounts = [\"444444444444\"]\n",
            "t",
            std::iter::empty(),
        )
        .unwrap();
        assert_eq!(check_account_arg("222222222222", &config), Ok(()));
        assert_eq!(
            check_account_arg("444444444444", &config).unwrap_err(),
            "--account: account `444444444444` is in organization.exclude_accounts: alerted only"
        );
        assert!(
            check_account_arg("4444", &config)
                .unwrap_err()
                .contains("12-digit")
        );
    }
}
