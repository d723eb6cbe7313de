//! `trailguard rules`: the catalogue, from the registry.

use std::io::{self, Write};
use std::process::ExitCode;

use serde::Serialize;

use super::Format;
use crate::rules::{self, Rule, Trigger};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

/// A rule as listed: the rule (its remediation included) and its events.
#[derive(Serialize)]
struct Entry<'a> {
    #[serde(flatten)]
    rule: &'a Rule,
    events: Vec<String>,
}

/// The events a rule fires on, as `source:Name` strings.
pub fn trigger_events(rule: &Rule) -> Vec<String> {
    match rule.trigger() {
        None => vec!["the scheduled credential scan".into()],
        Some(Trigger::AnyRootCall) => vec!["any call by the root user".into()],
        Some(t) => t
            .sources()
            .into_iter()
            .flat_map(|(s, names)| {
                let service = s.trim_end_matches(".amazonaws.com");
                names.iter().map(move |n| format!("{service}:{n}"))
            })
            .collect(),
    }
}

pub fn run(args: Args) -> ExitCode {
    let mut out = io::stdout().lock();
    match write_catalogue(&mut out, args.format).and_then(|()| out.flush()) {
        // A reader that stopped early (`| head`) is not an error.
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            eprintln!("trailguard: cannot write output: {e}");
            ExitCode::FAILURE
        }
        _ => ExitCode::SUCCESS,
    }
}

fn write_catalogue(out: &mut impl Write, format: Format) -> io::Result<()> {
    match format {
        Format::Json => {
            let entries: Vec<_> = rules::registry()
                .iter()
                .map(|r| Entry {
                    rule: r,
                    events: trigger_events(r),
                })
                .collect();
            serde_json::to_writer_pretty(&mut *out, &entries)?;
            writeln!(out)
        }
        Format::Text => {
            writeln!(
                out,
                "{:<31} {:<9} {:<28} title",
                "rule", "severity", "remediation"
            )?;
            for r in rules::registry() {
                writeln!(
                    out,
                    "{:<31} {:<9} {:<28} {}",
                    r.id,
                    r.severity.as_str(),
                    r.remediation.map_or("-", |m| m.id),
                    r.title
                )?;
            }
            Ok(())
        }
    }
}
