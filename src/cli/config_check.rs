//! `trailguard config check`: validate a config and show what takes effect.

use std::io::Write;
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
            let text = match toml::to_string_pretty(&config) {
                Ok(text) => text,
                Err(e) => format!("# cannot render: {e}\n"),
            };
            let mut out = std::io::stdout().lock();
            let written = write!(
                out,
                "# effective configuration, from {}\n{text}",
                config.origin
            )
            .and_then(|()| out.flush());
            match written {
                // A reader that stopped early (`| head`) is not an error.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    eprintln!("trailguard: cannot write output: {e}");
                    ExitCode::FAILURE
                }
                _ => ExitCode::SUCCESS,
            }
        }
        Err(err) => super::config_failure(&err),
    }
}
