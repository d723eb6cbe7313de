//! Alerts: what one decision says to people, rendered for SNS (e-mail
//! readable text, filterable attributes) and Slack (Block Kit).
//!
//! Rendering is pure; delivery goes through [`crate::effects::Publisher`]
//! and [`crate::effects::Webhook`].

pub mod slack;
pub mod sns;

use crate::engine::Decision;
use crate::event::CloudTrailEvent;
use crate::remediate::{Report, Status};
use crate::rules::{self, Rule};

/// Everything an alert says about one decision.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub event: &'a CloudTrailEvent,
    pub decision: &'a Decision,
    /// What the remediation did, would do, or why it did not run.
    pub remediation: Option<&'a Report>,
}

impl<'a> Facts<'a> {
    /// The facts of one decision on one event.
    pub fn new(
        event: &'a CloudTrailEvent,
        decision: &'a Decision,
        remediation: Option<&'a Report>,
    ) -> Self {
        Facts {
            event,
            decision,
            remediation,
        }
    }

    /// The registry entry of the rule that fired.
    pub fn rule(&self) -> Option<&'static Rule> {
        rules::find(self.decision.finding.rule)
    }

    /// The rule's title (its id when unknown).
    pub fn title(&self) -> &str {
        self.rule().map_or(self.decision.finding.rule, |r| r.title)
    }

    /// The caller and its identity type.
    pub fn who(&self) -> String {
        let label = self.event.actor_label();
        match self.event.user_identity.kind.as_deref() {
            Some(kind) if !kind.is_empty() && !label.starts_with("root") => {
                format!("{label} ({kind})")
            }
            _ => label,
        }
    }

    /// The API call: `iam.amazonaws.com AttachUserPolicy`.
    pub fn what(&self) -> String {
        format!("{} {}", self.event.source(), self.event.name())
    }

    /// The account id, `unknown` when absent (also for the fields below).
    pub fn account(&self) -> &str {
        self.event.account_id().unwrap_or("unknown")
    }

    /// The region the call was made in.
    pub fn region(&self) -> &str {
        field(&self.event.aws_region)
    }

    /// `eventTime`.
    pub fn time(&self) -> &str {
        field(&self.event.event_time)
    }

    /// `sourceIPAddress`.
    pub fn source_ip(&self) -> &str {
        field(&self.event.source_ip_address)
    }

    /// `userAgent`.
    pub fn user_agent(&self) -> &str {
        field(&self.event.user_agent)
    }

    /// `eventID`.
    pub fn event_id(&self) -> &str {
        field(&self.event.event_id)
    }

    /// The event in the CloudTrail console, when region and id are known.
    pub fn console_link(&self) -> Option<String> {
        console_link(
            self.event.aws_region.as_deref()?,
            self.event.event_id.as_deref()?,
        )
    }

    /// One line on the remediation, for subjects and headings.
    pub fn remediation_headline(&self) -> String {
        let Some(r) = self.remediation else {
            return match self.rule().and_then(|r| r.remediation) {
                Some(spec) => format!("none: the event does not carry what {} needs", spec.id),
                None => "none for this rule".to_owned(),
            };
        };
        match r.status {
            Status::Planned => format!(
                "alert mode, nothing changed; in remediate mode {} would run",
                r.id
            ),
            Status::Exempt => format!("{} not run: the target is exempt", r.id),
            Status::Done => format!("{} done", r.id),
            Status::Unchanged => format!("{}: nothing to change", r.id),
            Status::Blocked => format!("{} blocked, nothing changed", r.id),
            Status::Failed => format!("{} FAILED", r.id),
        }
    }

    /// The remediation in full: headline, notes, calls, undo, document.
    pub fn remediation_text(&self) -> String {
        let mut out = self.remediation_headline();
        let Some(r) = self.remediation else {
            return out;
        };
        for note in &r.notes {
            out += &format!("\n  {note}");
        }
        if !r.calls.is_empty() {
            out += match r.status {
                Status::Planned => "\n  Would call:",
                Status::Failed => "\n  Calls made before the failure:",
                _ => "\n  Calls made:",
            };
            for c in &r.calls {
                out += &format!("\n  - {c}");
            }
        }
        if !r.undo.is_empty() {
            out += "\n  To undo:";
            for u in &r.undo {
                out += &format!("\n  $ {u}");
            }
        }
        if let Some(doc) = &r.document {
            out += "\n  The policy document (kept here so nothing is lost):\n";
            out += &pretty(doc);
        }
        out
    }
}

fn field(v: &Option<String>) -> &str {
    v.as_deref().filter(|s| !s.is_empty()).unwrap_or("unknown")
}

/// A JSON document indented, or as it is when it is not JSON.
pub(crate) fn pretty(document: &str) -> String {
    serde_json::from_str::<serde_json::Value>(document)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| document.to_owned())
}

/// `https://<region>.console.aws.amazon.com/cloudtrailv2/home?region=<region>#/events/<eventID>`;
/// `None` for a region that is not a region name.
pub fn console_link(region: &str, event_id: &str) -> Option<String> {
    let valid_region = !region.is_empty()
        && region.len() <= 32
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid_region || event_id.is_empty() {
        return None;
    }
    let id = percent_encoding::utf8_percent_encode(event_id, ID_ESCAPE);
    Some(format!(
        "https://{region}.console.aws.amazon.com/cloudtrailv2/home?region={region}#/events/{id}"
    ))
}

/// Everything but unreserved characters is escaped in the event id.
const ID_ESCAPE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Cuts `text` to at most `max` characters, marking the cut with `...`.
pub(crate) fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let keep: String = text.chars().take(max.saturating_sub(3)).collect();
    format!("{keep}...")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_link_points_at_the_event_in_its_region() {
        assert_eq!(
            console_link("eu-west-1", "3f5c-11").as_deref(),
            Some(
                "https://eu-west-1.console.aws.amazon.com/cloudtrailv2/home?region=eu-west-1#/events/3f5c-11"
            )
        );
        assert_eq!(console_link("evil.com/x", "1"), None);
        assert!(
            console_link("us-east-1", "a b<")
                .unwrap()
                .ends_with("a%20b%3C")
        );
    }

    #[test]
    fn cut_keeps_short_text_and_marks_long_text() {
        assert_eq!(cut("abc", 5), "abc");
        assert_eq!(cut("abcdefgh", 6), "abc...");
        assert_eq!(cut("ééééééé", 5).chars().count(), 5);
    }
}
