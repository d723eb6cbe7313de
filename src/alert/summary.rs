//! The summary alert of many findings (the scan's): counts per rule, the
//! worst findings first, what was remediated. Rendered for SNS (e-mail
//! readable) and Slack (Block Kit). Pure; delivered by the executor's
//! `deliver`, as an event's alerts are.

use std::fmt::Write as _;

use serde_json::{Value, json};

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::alert::cut;
use crate::alert::slack::escape;
use crate::effects::SnsMessage;
use crate::engine::Decision;
use crate::remediate::{Action, Report, Status};
use crate::rules::{self, Severity};

/// What a summary says: the findings, worst first, with what their
/// remediations did, and where and when they were found.
#[derive(Debug, Clone)]
pub struct Summary<'a> {
    /// The account, when known.
    pub account_id: Option<&'a str>,
    /// The time ages were measured at.
    pub scanned_at: DateTime<Utc>,
    /// IAM users scanned.
    pub users: usize,
    /// Planned only: nothing was changed.
    pub dry_run: bool,
    /// The deadline stopped the work before every remediation ran.
    pub partial: bool,
    pub findings: Vec<Item<'a>>,
    /// Where the inputs disagreed; rows skipped.
    pub notes: &'a [String],
}

/// One finding of a summary.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    pub decision: &'a Decision,
    /// What its remediation did, would do, or why it did not run.
    pub result: Option<&'a Report>,
}

/// Findings per rule, in catalogue order, with the rule's severity.
pub fn counts(report: &Summary<'_>) -> Vec<(&'static str, Severity, usize)> {
    let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &report.findings {
        *by_rule.entry(f.decision.finding.rule).or_default() += 1;
    }
    rules::registry()
        .iter()
        .filter_map(|r| by_rule.get(r.id).map(|n| (r.id, r.severity, *n)))
        .collect()
}

/// `3 findings (1 critical, 2 medium)`, or `no findings`.
pub fn headline(report: &Summary<'_>) -> String {
    let n = report.findings.len();
    if n == 0 {
        return "no findings".to_owned();
    }
    let mut per: BTreeMap<std::cmp::Reverse<Severity>, usize> = BTreeMap::new();
    for d in &report.findings {
        *per.entry(std::cmp::Reverse(d.decision.finding.severity))
            .or_default() += 1;
    }
    let parts: Vec<_> = per
        .iter()
        .map(|(s, n)| format!("{n} {}", s.0.as_str()))
        .collect();
    format!(
        "{n} finding{} ({})",
        if n == 1 { "" } else { "s" },
        parts.join(", ")
    )
}

/// Findings listed one by one; the rest are counted.
pub const WORST_MAX: usize = 20;
/// SNS rejects subjects of 100 characters or more.
const SUBJECT_MAX: usize = 99;
const BODY_MAX: usize = 200_000;
const SLACK_SECTION_MAX: usize = 2900;
const SLACK_HEADER_MAX: usize = 150;

/// Said in every alert of a scan the deadline cut short.
const PARTIAL: &str =
    "PARTIAL: the invocation's deadline came before every remediation ran; the scan is retried.";

fn account<'a>(report: &Summary<'a>) -> &'a str {
    report.account_id.unwrap_or("unknown")
}

/// The worst severity found, for filter policies.
pub fn worst(report: &Summary<'_>) -> Option<Severity> {
    report
        .findings
        .iter()
        .map(|f| f.decision.finding.severity)
        .max()
}

/// `trailguard scan 111122223333: 3 findings (1 critical, 2 medium)`,
/// printable ASCII under 100 characters.
pub fn subject(report: &Summary<'_>) -> String {
    let partial = if report.partial { " (partial)" } else { "" };
    let raw = format!(
        "trailguard scan {}{partial}: {}",
        account(report),
        headline(report)
    );
    let ascii: String = raw
        .chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect();
    cut(&ascii, SUBJECT_MAX)
}

/// Each distinct remediation that ran or was refused, with its finding:
/// an action shared by two findings is listed once.
fn remediations<'a>(report: &'a Summary<'a>) -> Vec<(&'a Action, &'a Item<'a>)> {
    let mut out: Vec<(&'a Action, &'a Item<'a>)> = Vec::new();
    for f in &report.findings {
        let (Some(action), Some(result)) = (&f.decision.finding.remediation, &f.result) else {
            continue;
        };
        if result.status == Status::Planned || out.iter().any(|(a, _)| *a == action) {
            continue;
        }
        out.push((action, f));
    }
    out
}

/// Remediations that would run with the rule in remediate mode.
fn planned(report: &Summary<'_>) -> (usize, Vec<&'static str>) {
    let mut actions: Vec<&Action> = Vec::new();
    let mut rules: Vec<&'static str> = Vec::new();
    for f in &report.findings {
        let (Some(action), Some(result)) = (&f.decision.finding.remediation, &f.result) else {
            continue;
        };
        if result.status != Status::Planned {
            continue;
        }
        if !actions.contains(&action) {
            actions.push(action);
        }
        if !rules.contains(&f.decision.finding.rule) {
            rules.push(f.decision.finding.rule);
        }
    }
    (actions.len(), rules)
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The remediation lines: `done: set access key ... to Inactive`.
fn remediation_lines(report: &Summary<'_>) -> Vec<String> {
    let mut lines: Vec<String> = remediations(report)
        .into_iter()
        .map(|(action, f)| {
            let result = f.result.as_ref().map_or("none", |r| r.status.as_str());
            let mut line = format!("{result}: {}", action.describe());
            if let Some(note) = f
                .result
                .as_ref()
                .filter(|r| r.status != Status::Done)
                .and_then(|r| r.notes.first())
            {
                line += &format!(" ({note})");
            }
            one_line(&line)
        })
        .collect();
    let (n, rules) = planned(report);
    if n > 0 {
        let what = if report.dry_run {
            "dry run: would run"
        } else {
            "in alert mode: would run in remediate mode"
        };
        lines.push(format!(
            "{what}: {n} remediation{} ({})",
            if n == 1 { "" } else { "s" },
            rules.join(", ")
        ));
    }
    lines
}

/// The e-mail readable body.
pub fn body(report: &Summary<'_>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "trailguard credential scan of account {} at {}",
        account(report),
        report.scanned_at.format("%Y-%m-%d %H:%M UTC")
    );
    let _ = writeln!(
        s,
        "{} across {} IAM user{}.",
        headline(report),
        report.users,
        if report.users == 1 { "" } else { "s" }
    );
    if report.partial {
        let _ = writeln!(s, "{PARTIAL}");
    }
    let _ = writeln!(s, "\nFindings by rule:");
    for (rule, severity, n) in counts(report) {
        let title = rules::find(rule).map_or("", |r| r.title);
        let _ = writeln!(s, "  {:<8} {rule:<30} {n:>4}  {title}", severity.as_str());
    }
    let _ = writeln!(s, "\nWorst first:");
    for (i, f) in report.findings.iter().take(WORST_MAX).enumerate() {
        let d = &f.decision;
        let _ = writeln!(
            s,
            "  {:>2}. {} {}: {}",
            i + 1,
            d.finding.severity.as_str().to_uppercase(),
            d.finding.rule,
            one_line(&d.finding.summary)
        );
    }
    if report.findings.len() > WORST_MAX {
        let _ = writeln!(
            s,
            "  ... and {} more: `trailguard scan` and the function's log list them all.",
            report.findings.len() - WORST_MAX
        );
    }
    let _ = writeln!(s, "\nRemediation:");
    let lines = remediation_lines(report);
    if lines.is_empty() {
        let _ = writeln!(s, "  none: no finding has a remediation.");
    }
    for line in lines {
        let _ = writeln!(s, "  {line}");
    }
    if !report.notes.is_empty() {
        let _ = writeln!(s, "\nNotes:");
        for note in report.notes.iter().take(WORST_MAX) {
            let _ = writeln!(s, "  {}", one_line(note));
        }
    }
    s += "\n-- trailguard\n";
    // SNS counts bytes, not characters.
    crate::alert::text::cut_bytes(&s, BODY_MAX)
}

/// The SNS message: attributes `severity` (the worst found), `rule`
/// (`scan`) and `account`, for subscription filter policies.
pub fn sns_message(topic_arn: &str, report: &Summary<'_>) -> SnsMessage {
    let fifo = topic_arn.ends_with(".fifo").then(|| {
        (
            account(report).to_owned(),
            format!("scan:{}", report.scanned_at.timestamp()),
        )
    });
    SnsMessage {
        topic_arn: topic_arn.to_owned(),
        subject: subject(report),
        body: body(report),
        attributes: vec![
            (
                "severity".into(),
                worst(report).map_or("low", Severity::as_str).into(),
            ),
            ("rule".into(), "scan".into()),
            ("account".into(), account(report).into()),
        ],
        fifo,
    }
}

fn section(text: String) -> Value {
    json!({"type": "section", "text": crate::alert::slack::mrkdwn(crate::alert::slack::cut_escaped(&text, SLACK_SECTION_MAX))})
}

/// The Block Kit message. Every string from the account is escaped.
pub fn slack_message(report: &Summary<'_>) -> Value {
    let header = cut(
        &format!(
            "trailguard scan{}: {}",
            if report.partial { " (partial)" } else { "" },
            headline(report)
        ),
        SLACK_HEADER_MAX,
    );
    let mut by_rule = String::from("*Findings by rule*");
    for (rule, severity, n) in counts(report) {
        by_rule += &format!("\n`{rule}` {} × {n}", severity.as_str());
    }
    let mut worst = String::from("*Worst first*");
    for f in report.findings.iter().take(WORST_MAX) {
        let d = &f.decision.finding;
        worst += &format!(
            "\n• *{}* `{}` {}",
            d.severity.as_str().to_uppercase(),
            d.rule,
            escape(&one_line(&d.summary))
        );
    }
    if report.findings.len() > WORST_MAX {
        worst += &format!("\n_… and {} more_", report.findings.len() - WORST_MAX);
    }
    let mut remediation = String::from("*Remediation*");
    if report.partial {
        remediation += &format!("\n{}", escape(PARTIAL));
    }
    let lines = remediation_lines(report);
    if lines.is_empty() {
        remediation += "\nnone: no finding has a remediation";
    }
    for line in lines {
        remediation += &format!("\n• {}", escape(&line));
    }
    json!({
        "text": crate::alert::slack::cut_escaped(&escape(&subject(report)), SLACK_SECTION_MAX),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": header}},
            section(by_rule),
            section(worst),
            section(remediation),
            {"type": "context", "elements": [crate::alert::slack::mrkdwn(escape(&format!(
                "account {} · scanned {} · {} IAM users",
                account(report),
                report.scanned_at.format("%Y-%m-%d %H:%M UTC"),
                report.users
            )))]},
        ],
    })
}
