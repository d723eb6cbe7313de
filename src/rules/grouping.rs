//! How an event rule's findings are grouped into fewer alerts: the parts
//! of the event that make a group, and how long its window stays open.
//! The first finding of a group alerts at once; the rest within the window
//! are folded into one follow-up when it closes. The config may override
//! any rule's entry (`[alerts.grouping.RULE]`).

use serde::{Deserialize, Serialize};

use super::Finding;
use crate::event::CloudTrailEvent;

/// A part of the event that tells one group from another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupBy {
    /// The caller's ARN (or principal id, or user name).
    Principal,
    /// The caller's session: its access key id (a console session's
    /// temporary key), else its ARN.
    Session,
    /// The source IP address.
    SourceIp,
    /// What the finding is about (a user, a key, a trail).
    Target,
}

impl GroupBy {
    /// The name in the config and the docs: `source-ip`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Principal => "principal",
            GroupBy::Session => "session",
            GroupBy::SourceIp => "source-ip",
            GroupBy::Target => "target",
        }
    }

    /// This part's value for a finding of `event` (`-` when the event
    /// lacks it, so such findings share a group rather than fail).
    pub fn value(self, event: &CloudTrailEvent, finding: &Finding) -> String {
        let id = &event.user_identity;
        let value = match self {
            GroupBy::Principal => id
                .arn
                .clone()
                .or_else(|| id.principal_id.clone())
                .or_else(|| id.user_name.clone()),
            GroupBy::Session => id.access_key_id.clone().or_else(|| id.arn.clone()),
            GroupBy::SourceIp => event.source_ip_address.clone(),
            GroupBy::Target => Some(finding.target.label()),
        };
        value
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| "-".to_owned())
    }
}

/// A rule's grouping: what makes a group, and its window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grouping {
    pub by: Vec<GroupBy>,
    pub window_minutes: u32,
}

impl Grouping {
    /// `source-ip=203.0.113.7, session=ASIA...`: the group, in messages.
    pub fn label(&self, event: &CloudTrailEvent, finding: &Finding) -> String {
        self.by
            .iter()
            .map(|b| format!("{}={}", b.as_str(), b.value(event, finding)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The registry's grouping of each event rule; a rule not named here is
/// not grouped (each finding alerts: a new access key, a policy moved with
/// its undo commands, a trail stopped, all matter one by one).
pub const DEFAULTS: &[(&str, &[GroupBy], u32)] = &[
    // A root session's calls are one incident, however many.
    ("root-api-call", &[GroupBy::Session, GroupBy::SourceIp], 60),
    // Password guessing from one address.
    ("root-console-login-failed", &[GroupBy::SourceIp], 60),
    // One user's sign-ins from one address: a sign-in from anywhere else
    // (a stolen password) alerts at once.
    (
        "console-login-without-mfa",
        &[GroupBy::Principal, GroupBy::SourceIp],
        60,
    ),
];

/// The registry's grouping of `rule`, if it is grouped.
pub fn default_grouping(rule: &str) -> Option<Grouping> {
    DEFAULTS
        .iter()
        .find(|(id, _, _)| *id == rule)
        .map(|(_, by, window)| Grouping {
            by: by.to_vec(),
            window_minutes: *window,
        })
}

/// The grouping of every event rule as a Markdown table, from this
/// registry: docs/alerts.md holds it, and a test keeps the two equal.
pub fn markdown_table() -> String {
    let mut out = String::from("| rule | grouped by | window |\n|---|---|---|\n");
    for rule in super::registry() {
        if !matches!(rule.check, super::Check::Event { .. }) {
            continue;
        }
        let row = match default_grouping(rule.id) {
            Some(g) => {
                let by: Vec<String> = g.by.iter().map(|b| format!("`{}`", b.as_str())).collect();
                format!(
                    "| `{}` | {} | {} min |\n",
                    rule.id,
                    by.join(", "),
                    g.window_minutes
                )
            }
            None => format!("| `{}` | not grouped | — |\n", rule.id),
        };
        out.push_str(&row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Check, find};

    #[test]
    fn every_default_names_an_event_rule_with_a_window_and_a_key() {
        for (id, by, window) in DEFAULTS {
            let rule = find(id).unwrap_or_else(|| panic!("{id} is not in the registry"));
            assert!(matches!(rule.check, Check::Event { .. }), "{id}");
            assert!(!by.is_empty() && *window > 0, "{id}");
        }
        assert_eq!(default_grouping("access-key-created"), None);
    }

    #[test]
    fn a_sign_in_without_mfa_from_another_address_is_another_group() {
        use crate::rules::testing::{console_login, event, fire};
        let rule = find("console-login-without-mfa").unwrap();
        let grouping = default_grouping(rule.id).unwrap();
        let key = |ip: &str| {
            let mut raw = console_login("IAMUser", "Success", "No");
            raw["sourceIPAddress"] = ip.into();
            let finding = fire(rule, raw.clone()).expect("the rule fires");
            grouping.label(&event(raw), &finding)
        };
        assert_eq!(key("198.51.100.7"), key("198.51.100.7"));
        assert_ne!(key("198.51.100.7"), key("203.0.113.9"));
    }
}
