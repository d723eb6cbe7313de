//! `trailguard replay`: evaluate events offline and report.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use super::{ConfigArg, EXIT_INPUT, Format};
use crate::event::input::{self, InputError};
use crate::replay::{EventReport, Input, Summary, expand, render_event_text};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    config: ConfigArg,
    /// `text` (findings, then counts) or `json` (one object per event, in input order).
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Files, directories (walked recursively) or `-` for stdin.
    #[arg(value_name = "PATH", default_value = "-")]
    paths: Vec<PathBuf>,
}

fn report_error(summary: &mut Summary, err: &InputError) {
    summary.errors += 1;
    eprintln!("trailguard: {err}");
}

pub fn run(args: Args) -> ExitCode {
    let config = match args.config.load() {
        Ok(c) => c,
        Err(e) => return super::config_failure(&e),
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut summary = Summary::default();
    let mut buf = Vec::new();
    let mut write_failed = None;
    for input in expand(&args.paths) {
        let input = match input {
            Ok(i) => i,
            Err(e) => {
                report_error(&mut summary, &e);
                continue;
            }
        };
        let read = match &input {
            Input::File(path) => input::read_file(path, &mut buf),
            Input::Stdin => {
                buf.clear();
                io::stdin()
                    .read_to_end(&mut buf)
                    .and_then(|_| input::gunzip_if_compressed(&mut buf))
                    .map_err(|source| InputError::Read {
                        path: "-".into(),
                        source,
                    })
            }
        };
        if let Err(e) = read {
            report_error(&mut summary, &e);
            continue;
        }
        let name = input.name();
        input::parse(&buf, &name, &mut |located| {
            if write_failed.is_some() {
                return;
            }
            let report = match EventReport::new(located, &config) {
                Ok(r) => r,
                Err(e) => return report_error(&mut summary, &e),
            };
            summary.add(&report);
            let written = match args.format {
                Format::Json => serde_json::to_writer(&mut out, &report)
                    .map_err(io::Error::from)
                    .and_then(|()| out.write_all(b"\n")),
                Format::Text => out.write_all(render_event_text(&report).as_bytes()),
            };
            if let Err(e) = written {
                write_failed = Some(e);
            }
        });
        if write_failed.is_some() {
            break;
        }
    }
    if args.format == Format::Text && write_failed.is_none() {
        let _ = writeln!(out, "\n{}", summary.render_text());
    }
    let flushed = out.flush();
    // A closed pipe (`| head`) is not worth a message.
    if let Some(e) = write_failed.or(flushed.err())
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        eprintln!("trailguard: cannot write output: {e}");
        return ExitCode::from(EXIT_INPUT);
    }
    if summary.errors > 0 {
        ExitCode::from(EXIT_INPUT)
    } else {
        ExitCode::SUCCESS
    }
}
