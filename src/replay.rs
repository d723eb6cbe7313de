//! Offline replay: events from files through the engine into reports.
//! Never calls AWS.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Config;
use crate::engine::{self, Decision, Diagnostic};
use crate::event::Actor;
use crate::event::input::{InputError, Item, Located};
use crate::rules::Severity;

/// What replay says about one input event (one JSON object per event).
#[derive(Debug, Clone, Serialize)]
pub struct EventReport {
    /// Where the event came from: `path#index`.
    pub location: String,
    pub event_id: Option<String>,
    pub event_name: Option<String>,
    pub event_source: Option<String>,
    pub event_time: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub actor: Actor,
    /// Why the whole event was ignored, or null.
    pub ignored: Option<String>,
    pub findings: Vec<Decision>,
    pub diagnostics: Vec<Diagnostic>,
}

impl EventReport {
    /// Evaluates one parsed item; errors are handed back untouched.
    pub fn new(located: Located, config: &Config) -> Result<Self, InputError> {
        let location = located.location;
        match located.item? {
            Item::CloudTrail { event, envelope } => {
                let eval = engine::evaluate(&event, config);
                let region = event
                    .aws_region
                    .clone()
                    .or_else(|| envelope.as_ref().and_then(|e| e.region.clone()));
                Ok(EventReport {
                    location,
                    event_id: event.event_id.clone(),
                    actor: event.actor(),
                    account: event.account_id().map(String::from),
                    event_name: event.event_name.clone(),
                    event_source: event.event_source.clone(),
                    event_time: event.event_time.clone(),
                    region,
                    ignored: eval.ignored,
                    findings: eval.decisions,
                    diagnostics: eval.diagnostics,
                })
            }
            Item::Other(envelope) => Ok(EventReport {
                location,
                event_id: envelope.id.clone(),
                event_name: None,
                event_source: envelope.source.clone(),
                event_time: envelope.time.clone(),
                account: envelope.account.clone(),
                region: envelope.region.clone(),
                actor: Actor {
                    kind: None,
                    arn: None,
                },
                ignored: Some(format!(
                    "not a CloudTrail event (detail-type `{}`)",
                    envelope.detail_type.as_deref().unwrap_or("none")
                )),
                findings: Vec::new(),
                diagnostics: Vec::new(),
            }),
        }
    }
}

/// One input named on the command line, expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    File(PathBuf),
}

impl Input {
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "-".into(),
            Input::File(p) => p.display().to_string(),
        }
    }
}

/// File names a directory walk picks up (named files are always read).
fn looks_like_events(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    !name.starts_with('.')
        && [
            ".json",
            ".json.gz",
            ".jsonl",
            ".ndjson",
            ".jsonl.gz",
            ".ndjson.gz",
        ]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// Expands paths: `-` is stdin, directories are walked recursively in name
/// order. A path that does not exist is an error naming it.
pub fn expand(paths: &[PathBuf]) -> Vec<Result<Input, InputError>> {
    let mut out = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            out.push(Ok(Input::Stdin));
        } else if path.is_dir() {
            for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
                match entry {
                    Ok(e) if e.file_type().is_file() && looks_like_events(e.path()) => {
                        out.push(Ok(Input::File(e.into_path())))
                    }
                    Ok(_) => {}
                    Err(e) => out.push(Err(InputError::Read {
                        path: e.path().map_or_else(
                            || path.display().to_string(),
                            |p| p.display().to_string(),
                        ),
                        source: e
                            .into_io_error()
                            .unwrap_or_else(|| std::io::Error::other("filesystem loop")),
                    })),
                }
            }
        } else if path.exists() {
            out.push(Ok(Input::File(path.clone())));
        } else {
            out.push(Err(InputError::Read {
                path: path.display().to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file or directory",
                ),
            }));
        }
    }
    out
}

/// Counts over a whole replay.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Summary {
    pub events: u64,
    pub ignored: u64,
    pub errors: u64,
    pub findings: u64,
    pub by_rule: BTreeMap<&'static str, u64>,
    pub by_severity: BTreeMap<Severity, u64>,
    pub by_actor: BTreeMap<String, u64>,
    pub by_day: BTreeMap<String, u64>,
}

impl Summary {
    pub fn add(&mut self, report: &EventReport) {
        self.events += 1;
        if report.ignored.is_some() {
            self.ignored += 1;
        }
        for d in &report.findings {
            self.findings += 1;
            *self.by_rule.entry(d.finding.rule).or_default() += 1;
            *self.by_severity.entry(d.finding.severity).or_default() += 1;
            let actor = report.actor.arn.clone().unwrap_or_else(|| {
                report
                    .actor
                    .kind
                    .clone()
                    .unwrap_or_else(|| "unknown".into())
            });
            *self.by_actor.entry(actor).or_default() += 1;
            let day = report
                .event_time
                .as_deref()
                .and_then(|t| t.get(..10))
                .unwrap_or("unknown");
            *self.by_day.entry(day.to_owned()).or_default() += 1;
        }
    }

    pub fn merge(&mut self, other: Summary) {
        self.events += other.events;
        self.ignored += other.ignored;
        self.errors += other.errors;
        self.findings += other.findings;
        for (k, v) in other.by_rule {
            *self.by_rule.entry(k).or_default() += v;
        }
        for (k, v) in other.by_severity {
            *self.by_severity.entry(k).or_default() += v;
        }
        for (k, v) in other.by_actor {
            *self.by_actor.entry(k).or_default() += v;
        }
        for (k, v) in other.by_day {
            *self.by_day.entry(k).or_default() += v;
        }
    }

    /// The actors with the most findings, most first (ties by name).
    pub fn top_actors(&self, n: usize) -> Vec<(&str, u64)> {
        let mut actors: Vec<_> = self
            .by_actor
            .iter()
            .map(|(a, c)| (a.as_str(), *c))
            .collect();
        actors.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        actors.truncate(n);
        actors
    }

    pub fn render_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} events, {} findings, {} ignored, {} unreadable",
            self.events, self.findings, self.ignored, self.errors
        );
        if !self.by_severity.is_empty() {
            let _ = writeln!(s, "\nfindings by severity:");
            for (sev, n) in self.by_severity.iter().rev() {
                let _ = writeln!(s, "  {:<9} {n:>8}", sev.as_str());
            }
        }
        if !self.by_rule.is_empty() {
            let _ = writeln!(s, "\nfindings by rule:");
            for (rule, n) in &self.by_rule {
                let _ = writeln!(s, "  {rule:<27} {n:>8}");
            }
        }
        if !self.by_actor.is_empty() {
            let _ = writeln!(s, "\ntop actors:");
            for (actor, n) in self.top_actors(10) {
                let _ = writeln!(s, "  {n:>8}  {actor}");
            }
        }
        if self.by_day.len() > 1 {
            let _ = writeln!(s, "\nfindings by day:");
            for (day, n) in &self.by_day {
                let _ = writeln!(s, "  {day}  {n:>8}");
            }
        }
        s
    }
}

/// A readable block for one event with findings; empty when it has none.
pub fn render_event_text(report: &EventReport) -> String {
    let mut s = String::new();
    if report.findings.is_empty() {
        return s;
    }
    let _ = writeln!(
        s,
        "{}  {} {}  by {}",
        report.location,
        report.event_source.as_deref().unwrap_or("?"),
        report.event_name.as_deref().unwrap_or("?"),
        report
            .actor
            .arn
            .as_deref()
            .or(report.actor.kind.as_deref())
            .unwrap_or("unknown caller"),
    );
    for d in &report.findings {
        let f = &d.finding;
        let _ = writeln!(
            s,
            "  {:<8} {:<26} [{}] {}",
            f.severity.as_str().to_uppercase(),
            f.rule,
            d.mode.as_str(),
            f.summary
        );
        if let Some(action) = &f.remediation {
            let verb = if d.remediates() { "will" } else { "would" };
            let _ = writeln!(
                s,
                "           remediation {} ({verb}): {}",
                action.id(),
                action.describe()
            );
        }
        if let Some(why) = &d.exempt {
            let _ = writeln!(s, "           exempt: {why}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::input::parse;

    fn reports(text: &str) -> Vec<EventReport> {
        let mut out = Vec::new();
        parse(text.as_bytes(), "t", &mut |l| {
            out.push(EventReport::new(l, &Config::default()).unwrap())
        });
        out
    }

    #[test]
    fn non_cloudtrail_event_is_reported_as_ignored() {
        let r =
            reports(r#"{"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}"#);
        assert_eq!(
            r[0].ignored.as_deref(),
            Some("not a CloudTrail event (detail-type `Scheduled Event`)")
        );
        assert!(r[0].findings.is_empty());
    }

    #[test]
    fn summary_counts_rules_severities_actors_days() {
        let r = reports(
            r#"{"eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin", "eventTime": "2024-01-02T03:04:05Z",
                "userIdentity": {"type": "Root", "arn": "arn:aws:iam::1:root"}, "responseElements": {"ConsoleLogin": "Success"}}"#,
        );
        let mut s = Summary::default();
        s.add(&r[0]);
        assert_eq!(s.by_rule.get("root-console-login"), Some(&1));
        assert_eq!(s.by_severity.get(&Severity::Critical), Some(&1));
        assert_eq!(s.top_actors(1), [("arn:aws:iam::1:root", 1)]);
        assert_eq!(s.by_day.get("2024-01-02"), Some(&1));
        assert!(render_event_text(&r[0]).contains("CRITICAL root-console-login"));
    }

    #[test]
    fn missing_path_is_an_error_naming_it() {
        let out = expand(&[PathBuf::from("/no/such/thing.json")]);
        let err = out[0].as_ref().unwrap_err().to_string();
        assert!(err.contains("`/no/such/thing.json`"), "{err}");
    }
}
