//! The SNS alert: a subject under 100 characters, a body an e-mail reader
//! can act on, and message attributes for subscription filter policies.

use super::{Facts, cut};
use crate::effects::SnsMessage;

/// SNS rejects subjects of 100 characters or more.
pub const SUBJECT_MAX: usize = 99;
/// SNS takes 256 KB; stay well under it.
const BODY_MAX: usize = 200_000;

/// The message for one decision, to `topic_arn`.
pub fn message(topic_arn: &str, facts: &Facts) -> SnsMessage {
    let d = facts.decision;
    let fifo = topic_arn.ends_with(".fifo").then(|| {
        (
            facts.account().to_owned(),
            format!("{}:{}", facts.event_id(), d.finding.rule),
        )
    });
    SnsMessage {
        topic_arn: topic_arn.to_owned(),
        subject: subject(facts),
        body: body(facts),
        attributes: vec![
            ("severity".into(), d.finding.severity.as_str().into()),
            ("rule".into(), d.finding.rule.into()),
            ("account".into(), facts.account().into()),
        ],
        fifo,
    }
}

/// `trailguard HIGH admin-policy-granted: user bob (111122223333)`: printable
/// ASCII only (SNS refuses control characters), under 100 characters.
pub fn subject(facts: &Facts) -> String {
    let d = facts.decision;
    let raw = format!(
        "trailguard {} {}: {} ({})",
        d.finding.severity.as_str().to_uppercase(),
        d.finding.rule,
        d.finding.target.label(),
        facts.account()
    );
    let ascii: String = raw
        .chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect();
    cut(&ascii, SUBJECT_MAX)
}

/// The readable body.
pub fn body(facts: &Facts) -> String {
    let d = facts.decision;
    let rule = facts.rule();
    let mut out = format!("{}\n\n{}\n\n", facts.title(), d.finding.summary);
    let rows: [(&str, String); 12] = [
        (
            "Severity",
            format!("{} (rule {})", d.finding.severity, d.finding.rule),
        ),
        ("Mode", d.mode.as_str().to_owned()),
        ("Who", facts.who()),
        ("What", facts.what()),
        ("Target", d.finding.target.label()),
        ("Account", facts.account().to_owned()),
        ("Region", facts.region().to_owned()),
        ("Time", facts.time().to_owned()),
        ("Source IP", facts.source_ip().to_owned()),
        ("User agent", facts.user_agent().to_owned()),
        ("Best practice", rule.map_or("", |r| r.practice).to_owned()),
        (
            "Controls",
            rule.map(|r| r.controls.join(", ")).unwrap_or_default(),
        ),
    ];
    for (k, v) in rows {
        out += &format!("{:<14} {}\n", format!("{k}:"), one_line(&v));
    }
    if let Some(why) = &d.exempt {
        out += &format!("{:<14} {}\n", "Exempt:", one_line(why));
    }
    out += &format!("\nRemediation: {}\n", facts.remediation_text());
    match facts.console_link() {
        Some(link) => out += &format!("\nThe event in the CloudTrail console:\n{link}\n"),
        None => out += &format!("\nEvent id: {}\n", facts.event_id()),
    }
    out += "\n-- trailguard\n";
    cut(&out, BODY_MAX)
}

/// Event fields are user-controlled: keep each on its line.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
