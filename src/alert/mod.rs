//! Alerts: what one decision says to people, rendered for SNS (e-mail
//! readable text, filterable attributes) and Slack (Block Kit).
//!
//! Rendering is pure; delivery goes through [`crate::effects::Publisher`]
//! and [`crate::effects::Webhook`].

pub mod asff;
pub mod followup;
pub mod slack;
pub mod sns;
pub mod summary;
pub mod text;

use crate::engine::Decision;
use crate::event::{CloudTrailEvent, IdentityType};
use crate::remediate::{Report, Status};
use crate::rules::{self, Rule};
use text::{escape_controls, escape_controls_by_line};

/// Everything an alert says about one decision.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub event: &'a CloudTrailEvent,
    pub decision: &'a Decision,
    /// What the remediation did, would do, or why it did not run.
    pub remediation: Option<&'a Report>,
    /// Set when the event is of another account than the function's own
    /// (organisation mode): that account's name, where Organizations gave it.
    pub other_account: Option<Option<&'a str>>,
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
            other_account: None,
        }
    }

    /// The event is of another account than the function's own, named
    /// `name` in the organisation when known.
    pub fn in_other_account(mut self, name: Option<&'a str>) -> Self {
        self.other_account = Some(name);
        self
    }

    /// The account's name in the organisation, when known.
    pub fn account_name(&self) -> Option<&'a str> {
        self.other_account.flatten().filter(|n| !n.is_empty())
    }

    /// The account id, and its name when known: `222222222222 (Prod)`.
    pub fn account_label(&self) -> String {
        match self.account_name() {
            Some(name) => format!("{} ({name})", self.account()),
            None => self.account().to_owned(),
        }
    }

    /// For an event of another account: where the console link opens.
    /// A console URL cannot choose the account; it opens in the one the
    /// reader is signed in to.
    pub fn console_account_note(&self) -> Option<String> {
        self.other_account?;
        Some(format!(
            "The console opens in the account you are signed in to: sign in to account {} (or switch role into it) first.",
            self.account_label()
        ))
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
        match self
            .event
            .user_identity
            .kind
            .as_ref()
            .map(IdentityType::as_str)
        {
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

    /// The event in the CloudTrail console of its partition, when region and
    /// id are known and the caller's ARNs are of the region's partition (a
    /// record that mixes partitions gets no link rather than a wrong one).
    pub fn console_link(&self) -> Option<String> {
        let region = self.event.aws_region.as_deref()?;
        let partition = partition_of_region(region)?;
        let mixed = self
            .event
            .principal_arns()
            .filter_map(|arn| arn.strip_prefix("arn:")?.split(':').next())
            .any(|p| p != partition);
        if mixed {
            return None;
        }
        console_link(region, self.event.event_id.as_deref()?)
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

    /// The remediation in full: headline, notes, calls, undo, document, for
    /// a plain-text reader (SNS e-mail): event text in it cannot break lines.
    pub fn remediation_text(&self) -> String {
        let mut out = self.remediation_headline();
        let Some(r) = self.remediation else {
            return out;
        };
        for note in &r.notes {
            out += &format!("\n  {}", escape_controls(note));
        }
        if !r.calls.is_empty() {
            out += match r.status {
                Status::Planned => "\n  Would call:",
                Status::Failed => "\n  Calls made before the failure:",
                _ => "\n  Calls made:",
            };
            for c in &r.calls {
                out += &format!("\n  - {}", escape_controls(c));
            }
        }
        if !r.undo.is_empty() {
            out += "\n  To undo:";
            for u in &r.undo {
                out += &format!("\n  $ {}", escape_controls(u));
            }
        }
        if let Some(doc) = &r.document {
            out += "\n  The policy document (kept here so nothing is lost):\n";
            out += &plain_document(doc);
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

/// A policy document for a plain-text reader: JSON pretty-printed with
/// whatever is unsafe inside its lines escaped; anything else escaped whole.
pub(crate) fn plain_document(document: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(document)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
    {
        // serde_json escapes C0 controls in strings; the line breaks left
        // are its own.
        Some(pretty) => escape_controls_by_line(&pretty),
        None => escape_controls(document).into_owned(),
    }
}

/// The SHA-256 of `text`, in lowercase hex: an id made to fit where the
/// text would not (SNS deduplication ids, Security Hub finding ids).
pub(crate) fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    use std::fmt::Write as _;
    Sha256::digest(text.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// The partition of a region name (`aws`, `aws-cn`, `aws-us-gov`), by its
/// prefix; `None` for a string that is not a region name, and for the
/// isolated partitions (`us-iso-east-1`, ...), whose consoles are not public.
pub fn partition_of_region(region: &str) -> Option<&'static str> {
    let valid = !region.is_empty()
        && region.len() <= 32
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return None;
    }
    if region.split('-').any(|part| part.starts_with("iso")) {
        None
    } else if region.starts_with("cn-") {
        Some("aws-cn")
    } else if region.starts_with("us-gov-") {
        Some("aws-us-gov")
    } else {
        Some("aws")
    }
}

/// The event in the CloudTrail console of the region's partition:
/// `https://<region>.console.aws.amazon.com/cloudtrailv2/home?region=<region>#/events/<eventID>`,
/// `https://console.amazonaws-us-gov.com/cloudtrail/home?...` (GovCloud) or
/// `https://console.amazonaws.cn/cloudtrail/home?...` (China); `None` for a
/// region that is not a region name or has no public console.
pub fn console_link(region: &str, event_id: &str) -> Option<String> {
    let partition = partition_of_region(region)?;
    if event_id.is_empty() {
        return None;
    }
    let id = percent_encoding::utf8_percent_encode(event_id, ID_ESCAPE);
    let home = match partition {
        "aws-us-gov" => "https://console.amazonaws-us-gov.com/cloudtrail/home".to_owned(),
        "aws-cn" => "https://console.amazonaws.cn/cloudtrail/home".to_owned(),
        _ => format!("https://{region}.console.aws.amazon.com/cloudtrailv2/home"),
    };
    Some(format!("{home}?region={region}#/events/{id}"))
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

/// Decisions and events for the renderers' tests.
#[cfg(test)]
pub(crate) mod testing {
    use crate::engine::Decision;
    use crate::event::CloudTrailEvent;
    use crate::rules::{self, Finding, Mode, Target};

    /// A `user-policy-attached` alert on `user` saying `summary`.
    pub fn decision(user: &str, summary: &str) -> Decision {
        let rule = rules::find("user-policy-attached").expect("a registered rule");
        Decision {
            finding: Finding::new(
                rule,
                Target::User {
                    user_name: user.to_owned(),
                },
                summary.to_owned(),
            ),
            mode: Mode::Alert,
            exempt: None,
        }
    }

    /// An AttachUserPolicy record in us-east-1 whose `field` (a top-level
    /// key) is `value`.
    pub fn event_with(field: &str, value: &str) -> CloudTrailEvent {
        let mut raw = serde_json::json!({
            "eventVersion": "1.08",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice",
                             "accountId": "111122223333", "userName": "alice"},
            "eventTime": "2024-05-01T12:00:00Z",
            "eventSource": "iam.amazonaws.com",
            "eventName": "AttachUserPolicy",
            "awsRegion": "us-east-1",
            "sourceIPAddress": "203.0.113.7",
            "userAgent": "aws-cli/2",
            "eventID": "8a1f3c55",
            "recipientAccountId": "111122223333",
        });
        raw[field] = value.into();
        CloudTrailEvent::from_json(&raw.to_string()).expect("a valid record")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sha256_hex_is_the_digest_in_lowercase_hex() {
        assert_eq!(
            super::sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

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
    fn console_link_uses_the_console_of_the_regions_partition() {
        assert_eq!(
            console_link("us-gov-west-1", "e1").as_deref(),
            Some(
                "https://console.amazonaws-us-gov.com/cloudtrail/home?region=us-gov-west-1#/events/e1"
            )
        );
        assert_eq!(
            console_link("cn-northwest-1", "e1").as_deref(),
            Some("https://console.amazonaws.cn/cloudtrail/home?region=cn-northwest-1#/events/e1")
        );
        assert_eq!(console_link("us-iso-east-1", "e1"), None);
        assert_eq!(console_link("us-isob-east-1", "e1"), None);
        assert_eq!(partition_of_region("eu-west-1"), Some("aws"));
    }

    fn facts_link(region: &str, arn: &str) -> Option<String> {
        let event = CloudTrailEvent::from_json(&format!(
            r#"{{"awsRegion": "{region}", "eventID": "e1", "userIdentity": {{"type": "IAMUser", "arn": "{arn}"}}}}"#
        ))
        .unwrap();
        let decision = testing::decision("bob", "summary");
        Facts::new(&event, &decision, None).console_link()
    }

    #[test]
    fn facts_link_follows_the_event_partition_and_refuses_mixed_ones() {
        assert!(
            facts_link("cn-north-1", "arn:aws-cn:iam::111122223333:user/alice")
                .unwrap()
                .starts_with("https://console.amazonaws.cn/")
        );
        assert!(
            facts_link(
                "us-gov-east-1",
                "arn:aws-us-gov:iam::111122223333:user/alice"
            )
            .unwrap()
            .starts_with("https://console.amazonaws-us-gov.com/")
        );
        assert!(
            facts_link("eu-west-1", "arn:aws:iam::111122223333:user/alice")
                .unwrap()
                .starts_with("https://eu-west-1.console.aws.amazon.com/")
        );
        assert_eq!(
            facts_link("us-east-1", "arn:aws-cn:iam::111122223333:user/alice"),
            None
        );
    }

    #[test]
    fn plain_document_escapes_what_json_leaves_raw() {
        // DEL and C1 controls are not escaped by serde_json.
        let doc = r#"{"Sid": "a\u007f\u009b31m"}"#;
        let out = plain_document(doc);
        assert!(
            !out.chars().any(|c| c == '\u{7f}' || c == '\u{9b}'),
            "{out}"
        );
        assert!(out.contains("a\\u{7f}\\u{9b}31m"), "{out}");
        let raw = plain_document("not json\r\n-- trailguard");
        assert_eq!(raw, "not json\\r\\n-- trailguard");
    }

    #[test]
    fn cut_keeps_short_text_and_marks_long_text() {
        assert_eq!(cut("abc", 5), "abc");
        assert_eq!(cut("abcdefgh", 6), "abc...");
        assert_eq!(cut("ééééééé", 5).chars().count(), 5);
    }
}
