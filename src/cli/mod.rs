//! The `trailguard` command line: argument parsing and dispatch. Each
//! subcommand lives in its own file and returns its exit code.

mod config_check;
mod handle;
mod inputs;
mod policy;
mod replay;
mod rules;
mod scan;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{Config, ConfigError};

/// Exit code for unreadable input (the rest was still processed).
pub const EXIT_INPUT: u8 = 1;
/// Exit code for usage and config errors.
pub const EXIT_USAGE: u8 = 2;
/// Exit code when a remediation or an alert failed (`trailguard handle`).
pub const EXIT_EFFECTS: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "trailguard",
    version,
    about = "IAM guardrail for AWS: CloudTrail events in, findings, alerts and safe remediations out"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// `--config`, shared by the subcommands that evaluate events.
#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// Config file (TOML); the built-in default when absent.
    #[arg(long, env = "TRAILGUARD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl ConfigArg {
    /// Loads the config with `TRAILGUARD_*` environment overrides.
    pub fn load(&self) -> Result<Config, ConfigError> {
        Config::load(self.config.as_deref(), crate::config::process_env())
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Evaluate events from files, directories (recursively) or `-` (stdin); never calls AWS.
    Replay(replay::Args),
    /// Handle events live, as the Lambda does: remediate and alert through AWS
    /// (the SDK's usual environment, including AWS_ENDPOINT_URL); one JSON outcome per event.
    Handle(handle::Args),
    /// List the rule catalogue.
    Rules(rules::Args),
    /// Scan the account's credentials and direct grants (the credential report,
    /// password policy, users' policies) with the scan rules; calls AWS.
    Scan(scan::Args),
    /// Least privilege from activity: generate a principal's policy from an
    /// archive, or list what it holds but did not use.
    Policy {
        #[command(subcommand)]
        command: policy::Command,
    },
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate a config file (or the built-in default) and print the effective settings.
    Check(config_check::Args),
}

/// Runs the CLI with the process arguments.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Replay(args) => replay::run(args),
        Command::Handle(args) => handle::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Scan(args) => scan::run(args),
        Command::Policy { command } => policy::run(command),
        Command::Config {
            command: ConfigCommand::Check(args),
        } => config_check::run(args),
    }
}

/// Prints a config error and answers the usage exit code.
pub fn config_failure(err: &ConfigError) -> ExitCode {
    eprintln!("trailguard: {err}");
    ExitCode::from(EXIT_USAGE)
}
