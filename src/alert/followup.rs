//! The follow-up of a grouping window: how many findings of a group were
//! folded while it was open, by call, with the first and last times. Sent
//! when the window closes, once the first finding had its own alert.
//!
//! Everything from the account (the group's label, call names, times) is
//! escaped as in the other alerts: control characters shown, Slack's
//! `& < >` made entities; and cut to SNS's and Slack's limits.

use std::fmt::Write;

use serde_json::{Value, json};

use super::cut;
use super::slack::{cut_escaped, escape, mrkdwn};
use super::sns::{BODY_MAX_BYTES, SUBJECT_MAX};
use super::text::{cut_bytes, escape_controls};
use crate::effects::{SnsMessage, Window};
use crate::rules;

/// How many calls the follow-up names before `…`.
pub const CALLS_MAX: usize = 20;
const SLACK_SECTION_MAX: usize = 2900;
const SLACK_HEADER_MAX: usize = 150;

/// The account a window's key names (`group#ACCOUNT#RULE#...`).
pub fn account(w: &Window) -> &str {
    w.key.split('#').nth(1).unwrap_or("")
}

/// `23 more root-api-call findings: s3:CreateBucket ×3, iam:CreateUser ×1`.
pub fn headline(w: &Window) -> String {
    let mut calls: Vec<String> = w
        .calls
        .iter()
        .take(CALLS_MAX)
        .map(|(call, n)| format!("{call} ×{n}"))
        .collect();
    if w.calls.len() > CALLS_MAX {
        calls.push("…".into());
    }
    format!(
        "{} more {} finding{}: {}",
        w.folded,
        w.rule,
        if w.folded == 1 { "" } else { "s" },
        calls.join(", ")
    )
}

fn severity(w: &Window) -> &'static str {
    rules::find(&w.rule).map_or("high", |r| r.severity.as_str())
}

fn window_minutes(w: &Window) -> i64 {
    (w.closes_at - w.opened_at) / 60
}

/// `trailguard HIGH root-api-call: 23 more in 60 min (123456789012)`:
/// printable ASCII, under 100 characters.
pub fn subject(w: &Window) -> String {
    let raw = format!(
        "trailguard {} {}: {} more in {} min ({})",
        severity(w).to_uppercase(),
        w.rule,
        w.folded,
        window_minutes(w),
        account(w)
    );
    let ascii: String = raw
        .chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect();
    cut(&ascii, SUBJECT_MAX)
}

/// The e-mail body.
pub fn body(w: &Window) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}", escape_controls(&headline(w)));
    let _ = writeln!(s);
    let _ = writeln!(s, "Group:   {}", escape_controls(&w.label));
    let _ = writeln!(s, "Account: {}", escape_controls(account(w)));
    let _ = writeln!(
        s,
        "Window:  {} minutes, after the first finding's alert",
        window_minutes(w)
    );
    let _ = writeln!(s, "First:   {}", escape_controls(&w.first_time));
    let _ = writeln!(s, "Last:    {}", escape_controls(&w.last_time));
    let _ = writeln!(s, "\nBy call:");
    for (call, n) in &w.calls {
        let _ = writeln!(s, "  {} ×{n}", escape_controls(call));
    }
    let _ = writeln!(
        s,
        "\nEvery finding is in the decision log, one line each (rule {}).",
        w.rule
    );
    s += "\n-- trailguard\n";
    cut_bytes(&s, BODY_MAX_BYTES)
}

/// The SNS message, with the attributes of the rule's own alerts.
pub fn sns_message(topic_arn: &str, w: &Window) -> SnsMessage {
    let fifo = topic_arn.ends_with(".fifo").then(|| {
        let id = format!("{}#{}#{}", w.key, w.opened_at, w.folded);
        (account(w).to_owned(), super::sns::deduplication_id(id))
    });
    SnsMessage {
        topic_arn: topic_arn.to_owned(),
        subject: subject(w),
        body: body(w),
        attributes: vec![
            ("severity".into(), severity(w).into()),
            ("rule".into(), w.rule.clone()),
            ("account".into(), account(w).into()),
        ],
        fifo,
    }
}

/// The Block Kit message; every string from the account is escaped.
pub fn slack_message(w: &Window) -> Value {
    let header = cut(
        &format!("trailguard: {}", escape_controls(&headline(w))),
        SLACK_HEADER_MAX,
    );
    let mut calls = String::from("*By call*");
    for (call, n) in w.calls.iter().take(CALLS_MAX) {
        calls += &format!("\n• `{}` ×{n}", escape(call));
    }
    if w.calls.len() > CALLS_MAX {
        calls += &format!("\n_… and {} more calls_", w.calls.len() - CALLS_MAX);
    }
    let facts = format!(
        "*Group* {}\n*Account* {}\n*First* {}\n*Last* {}",
        escape(&w.label),
        escape(account(w)),
        escape(&w.first_time),
        escape(&w.last_time)
    );
    json!({
        "text": cut_escaped(&escape(&headline(w)), SLACK_SECTION_MAX),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": header}},
            {"type": "section", "text": mrkdwn(cut_escaped(&facts, SLACK_SECTION_MAX))},
            {"type": "section", "text": mrkdwn(cut_escaped(&calls, SLACK_SECTION_MAX))},
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(calls: Vec<(String, u64)>, label: &str) -> Window {
        Window {
            key: "group#123456789012#root-api-call#ASIAX#203.0.113.7".into(),
            rule: "root-api-call".into(),
            label: label.into(),
            opened_at: 1_000_000,
            closes_at: 1_003_600,
            folded: calls.iter().map(|(_, n)| n).sum(),
            calls,
            first_time: "2026-12-01T10:00:05Z".into(),
            last_time: "2026-12-01T10:58:40Z".into(),
        }
    }

    #[test]
    fn a_fifo_follow_up_of_a_long_group_key_fits_snss_limit() {
        let mut w = window(vec![("signin:ConsoleLogin".into(), 1)], "principal=x");
        w.key = format!(
            "group#123456789012#console-login-without-mfa#arn:aws:iam::123456789012:user/{}/{}#203.0.113.7",
            "p".repeat(200),
            "u".repeat(64)
        );
        let (group, id) = sns_message("arn:aws:sns:us-east-1:123456789012:t.fifo", &w)
            .fifo
            .unwrap();
        assert_eq!(group, "123456789012");
        assert!(id.len() <= crate::alert::sns::DEDUPLICATION_ID_MAX, "{id}");
        let short = sns_message(
            "arn:aws:sns:us-east-1:123456789012:t.fifo",
            &window(vec![], "x"),
        );
        assert_eq!(
            short.fifo.unwrap().1,
            "group#123456789012#root-api-call#ASIAX#203.0.113.7#1000000#0"
        );
    }

    #[test]
    fn the_follow_up_counts_by_call_with_the_first_and_last_times() {
        let w = window(
            vec![("s3:CreateBucket".into(), 3), ("iam:CreateUser".into(), 1)],
            "session=ASIAX, source-ip=203.0.113.7",
        );
        assert_eq!(
            headline(&w),
            "4 more root-api-call findings: s3:CreateBucket ×3, iam:CreateUser ×1"
        );
        let m = sns_message("arn:aws:sns:us-east-1:123456789012:t", &w);
        assert_eq!(
            m.subject,
            "trailguard HIGH root-api-call: 4 more in 60 min (123456789012)"
        );
        for needle in [
            "Group:   session=ASIAX, source-ip=203.0.113.7",
            "First:   2026-12-01T10:00:05Z",
            "Last:    2026-12-01T10:58:40Z",
            "  s3:CreateBucket ×3",
        ] {
            assert!(m.body.contains(needle), "{needle:?} in\n{}", m.body);
        }
        assert!(
            m.attributes
                .contains(&("rule".into(), "root-api-call".into()))
        );
        assert!(m.attributes.contains(&("severity".into(), "high".into())));
    }

    #[test]
    fn text_from_the_account_is_escaped_and_cut_to_the_limits() {
        let hostile = "<!channel> & <https://evil.example|click>\r\nFirst:   forged";
        let calls: Vec<(String, u64)> = (0..400)
            .map(|i| (format!("svc:Call{i}<b>{}", "x".repeat(2000)), 1))
            .collect();
        let w = window(calls, hostile);
        let m = sns_message("arn:aws:sns:us-east-1:123456789012:t", &w);
        assert!(m.subject.len() < 100);
        assert!(m.subject.chars().all(|c| (' '..='~').contains(&c)));
        assert!(m.body.len() <= BODY_MAX_BYTES, "{}", m.body.len());
        assert!(!m.body.contains("\r\nFirst:   forged"));
        assert!(m.body.contains("\\r\\nFirst:   forged"));
        let slack = slack_message(&w);
        crate::alert::slack::assert_mrkdwn_verbatim(&slack);
        let text = slack.to_string();
        assert!(!text.contains("<!channel>") && !text.contains("<https://"));
        assert!(text.contains("&lt;!channel&gt; &amp;"));
        for block in slack["blocks"].as_array().unwrap() {
            let t = block["text"]["text"].as_str().unwrap();
            let max = if block["type"] == "header" { 150 } else { 3000 };
            assert!(t.chars().count() <= max, "{} chars", t.chars().count());
        }
    }
}
