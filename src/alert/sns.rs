//! The SNS alert: a subject under 100 characters, a body an e-mail reader
//! can act on, and message attributes for subscription filter policies.
//!
//! Event text in the body has its control characters escaped (`\r\n`
//! shown, not obeyed): a forged line must not pass for one of trailguard's.

use super::text::{cut_bytes, escape_controls};
use super::{Facts, cut};
use crate::effects::SnsMessage;

/// SNS rejects subjects of 100 characters or more.
pub const SUBJECT_MAX: usize = 99;
/// SNS takes 262,144 bytes of UTF-8 (not characters), subject and message
/// attributes included; the body stays well under it, in bytes.
pub const BODY_MAX_BYTES: usize = 200_000;

/// The message for one decision, to `topic_arn`.
pub fn message(topic_arn: &str, facts: &Facts) -> SnsMessage {
    let d = facts.decision;
    // A failed remediation's alert and the one of the retry that completes
    // it are two messages (the state table keeps them apart the same way):
    // one id would let SNS drop the second within its five minutes.
    let failed = facts
        .remediation
        .is_some_and(|r| r.status == crate::remediate::Status::Failed);
    let fifo = topic_arn.ends_with(".fifo").then(|| {
        let id = format!("{}:{}", facts.event_id(), d.finding.rule);
        (
            facts.account().to_owned(),
            deduplication_id(if failed { format!("{id}:failed") } else { id }),
        )
    });
    let mut attributes: Vec<(String, String)> = vec![
        ("severity".into(), d.finding.severity.as_str().into()),
        ("rule".into(), d.finding.rule.into()),
        ("account".into(), facts.account().into()),
    ];
    if let Some(name) = facts.account_name() {
        attributes.push(("account_name".into(), name.into()));
    }
    SnsMessage {
        topic_arn: topic_arn.to_owned(),
        subject: subject(facts),
        body: body(facts),
        attributes,
        fifo,
    }
}

/// A FIFO topic's `MessageDeduplicationId`: SNS takes at most 128
/// characters, letters, digits and ASCII punctuation only, so a longer id
/// (a group key holds ARNs) or one with anything else (a space, as in the
/// source IP `AWS Internal`) is sent as its SHA-256, in hex.
pub fn deduplication_id(id: String) -> String {
    if id.len() <= DEDUPLICATION_ID_MAX && id.bytes().all(|b| b.is_ascii_graphic()) {
        return id;
    }
    super::sha256_hex(&id)
}

/// SNS's limit on a `MessageDeduplicationId`.
pub const DEDUPLICATION_ID_MAX: usize = 128;

/// `trailguard HIGH admin-policy-granted: user bob (111122223333)`: printable
/// ASCII only (SNS refuses control characters), under 100 characters.
pub fn subject(facts: &Facts) -> String {
    let d = facts.decision;
    let raw = format!(
        "trailguard {} {}: {} ({})",
        d.finding.severity.as_str().to_uppercase(),
        d.finding.rule,
        d.finding.target.label(),
        match facts.account_name() {
            Some(name) => format!("{} {name}", facts.account()),
            None => facts.account().to_owned(),
        }
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
    let mut out = format!(
        "{}\n\n{}\n\n",
        facts.title(),
        escape_controls(&d.finding.summary)
    );
    let rows: [(&str, String); 12] = [
        (
            "Severity",
            format!("{} (rule {})", d.finding.severity, d.finding.rule),
        ),
        ("Mode", d.mode.as_str().to_owned()),
        ("Who", facts.who()),
        ("What", facts.what()),
        ("Target", d.finding.target.label()),
        ("Account", facts.account_label()),
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
        Some(link) => {
            out += &format!("\nThe event in the CloudTrail console:\n{link}\n");
            if let Some(note) = facts.console_account_note() {
                out += &format!("{}\n", one_line(&note));
            }
        }
        None => out += &format!("\nEvent id: {}\n", escape_controls(facts.event_id())),
    }
    out += "\n-- trailguard\n";
    cut_bytes(&out, BODY_MAX_BYTES)
}

/// Event fields are user-controlled: keep each on its line.
fn one_line(s: &str) -> String {
    escape_controls(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::testing::{decision, event_with};

    #[test]
    fn a_failed_remediation_and_its_completion_are_two_fifo_messages() {
        use crate::remediate::{Report, Status};
        let event = event_with("eventID", "e-1");
        let d = decision("bob", "bob got a policy");
        let topic = "arn:aws:sns:us-east-1:1:t.fifo";
        let id = |status| {
            let report = Report::new("move-policy-to-group", status);
            message(topic, &Facts::new(&event, &d, Some(&report)))
                .fifo
                .unwrap()
                .1
        };
        assert_eq!(id(Status::Done), "e-1:user-policy-attached");
        assert_eq!(id(Status::Failed), "e-1:user-policy-attached:failed");
        assert!(
            message("arn:aws:sns:us-east-1:1:t", &Facts::new(&event, &d, None))
                .fifo
                .is_none()
        );
    }

    #[test]
    fn a_long_deduplication_id_is_hashed_to_fit() {
        let short = "x".repeat(DEDUPLICATION_ID_MAX);
        assert_eq!(deduplication_id(short.clone()), short);
        let long = format!("{short}y");
        let hashed = deduplication_id(long.clone());
        assert_eq!(hashed.len(), 64);
        assert!(hashed.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(hashed, deduplication_id(long));
        assert_ne!(hashed, deduplication_id(format!("{short}z")));
        let spaced = deduplication_id("group#1#root-api-call#s#AWS Internal#1#2".into());
        assert_eq!(spaced.len(), 64);
        let punctuated = "group#1:rule/a@b.c!~".to_owned();
        assert_eq!(deduplication_id(punctuated.clone()), punctuated);
    }

    #[test]
    fn another_accounts_alert_names_it_and_says_where_the_console_opens() {
        let event = event_with("eventID", "e-1");
        let d = decision("bob", "bob got a policy");
        let own = message("arn:aws:sns:us-east-1:1:t", &Facts::new(&event, &d, None));
        let named = Facts::new(&event, &d, None).in_other_account(Some("Prod"));
        let m = message("arn:aws:sns:us-east-1:1:t", &named);
        assert_eq!(
            m.subject,
            "trailguard MEDIUM user-policy-attached: user bob (111122223333 Prod)"
        );
        assert_eq!(m.attributes[..3], own.attributes[..]);
        assert_eq!(m.attributes[3], ("account_name".into(), "Prod".into()));
        assert!(
            m.body.contains("Account:       111122223333 (Prod)\n"),
            "{}",
            m.body
        );
        assert!(
            m.body
                .contains("sign in to account 111122223333 (Prod) (or switch role into it) first.")
        );
        assert!(!own.body.contains("sign in to account"));
        // No name from Organizations: the id alone, the note still there.
        let unnamed = message(
            "arn:aws:sns:us-east-1:1:t",
            &Facts::new(&event, &d, None).in_other_account(None),
        );
        assert_eq!(unnamed.subject, own.subject);
        assert_eq!(unnamed.attributes, own.attributes);
        assert!(
            unnamed
                .body
                .contains("sign in to account 111122223333 (or switch")
        );
    }

    /// A 150,000-character user agent of 3-byte characters is 450,000 bytes:
    /// a cap that counted characters let it through.
    #[test]
    fn body_is_capped_in_bytes_on_a_character_boundary() {
        let event = event_with("userAgent", &"€".repeat(150_000));
        let d = decision("bob", "bob got a policy");
        let body = body(&Facts::new(&event, &d, None));
        assert!(body.len() <= BODY_MAX_BYTES, "{} bytes", body.len());
        assert!(body.len() < 262_144);
        assert!(body.ends_with("€..."), "cut on a character boundary");
    }

    #[test]
    fn event_text_cannot_forge_lines_in_body_or_subject() {
        let forged = "evil\r\n\r\nSeverity:      low\u{0}\u{1b}[2J\u{85}";
        let event = event_with("userAgent", forged);
        let d = decision(forged, &format!("user {forged} got a policy"));
        let facts = Facts::new(&event, &d, None);
        let body = body(&facts);
        assert!(
            !body.contains('\r') && !body.contains('\0') && !body.contains('\u{1b}'),
            "{body:?}"
        );
        assert!(!body.contains('\u{85}'), "{body:?}");
        // Every line that starts like one of ours is ours: the forged
        // `Severity:` row stays inside the line it came in.
        assert_eq!(
            body.lines().filter(|l| l.starts_with("Severity:")).count(),
            1,
            "{body}"
        );
        assert!(body.contains("evil\\r\\n\\r\\nSeverity:      low\\0\\u{1b}[2J"));
        let subject = subject(&facts);
        assert!(
            subject.chars().all(|c| (' '..='~').contains(&c)),
            "{subject:?}"
        );
        assert!(subject.chars().count() < 100);
    }
}
