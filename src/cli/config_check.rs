//! `trailguard config check`: validate a config and show what takes effect.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::Config;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config file; `TRAILGUARD_CONFIG` or the built-in default when absent.
    #[arg(value_name = "FILE", env = "TRAILGUARD_CONFIG")]
    file: Option<PathBuf>,
}

pub fn run(args: Args) -> ExitCode {
    match Config::load(args.file.as_deref(), crate::config::process_env()) {
        Ok(config) => {
            println!("# effective configuration, from {}", config.origin);
            match toml::to_string_pretty(&config) {
                Ok(text) => print!("{text}"),
                Err(e) => println!("# cannot render: {e}"),
            }
            ExitCode::SUCCESS
        }
        Err(err) => super::config_failure(&err),
    }
}
