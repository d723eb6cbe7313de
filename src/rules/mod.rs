//! The rule catalogue: pure functions from an event and the config to a
//! finding, and the registry that declares each rule's contract.
//!
//! The registry is the one source for the catalogue: the engine, the CLI's
//! `rules` listing, the README table and the SAM template's permission and
//! event-pattern checks all read it. Rule ids are a public contract.

mod access_key_created;
mod access_key_not_rotated;
mod access_key_reactivated;
mod access_key_unused;
mod admin_policy_granted;
mod cloudtrail_tampered;
mod console_login_without_mfa;
mod login_profile_created;
mod mfa_device_removed;
mod monitoring_disabled;
mod password_policy_below_baseline;
mod password_policy_weakened;
mod password_unused;
mod root_access_key_created;
mod root_access_keys_present;
mod root_api_call;
mod root_console_login;
mod root_console_login_failed;
mod root_mfa_disabled;
mod root_used_recently;
mod user_console_without_mfa;
mod user_has_attached_policy;
mod user_has_inline_policy;
mod user_inline_policy;
mod user_policy_attached;

mod finding;
pub mod grouping;
mod policies;
mod settings;
mod trigger;

#[cfg(test)]
pub(crate) mod testing;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::event::CloudTrailEvent;
use crate::inventory::Account;
use crate::remediate::RemediationSpec;

pub use finding::{Finding, Severity, Target};
pub use password_policy_weakened::policy_shortfalls;
pub use policies::{
    PARTITIONS, aws_managed_policy, is_aws_quarantine_managed_policy, is_quarantine_policy_name,
};
pub use settings::{ScanSettings, Settings};
pub use trigger::{Trigger, Triggers};

/// What a rule does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Off,
    Alert,
    Remediate,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Alert => "alert",
            Mode::Remediate => "remediate",
        }
    }
}

/// A rule's contract and its function.
#[derive(Serialize)]
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    pub title: &'static str,
    /// The best practice it enforces.
    pub practice: &'static str,
    /// CIS AWS Foundations Benchmark and AWS Security Hub controls.
    pub controls: &'static [&'static str],
    pub remediation: Option<&'static RemediationSpec>,
    /// Does the rule look at failed calls (for rules about failures)?
    #[serde(skip)]
    pub on_failure: bool,
    /// What the rule looks at, and its function.
    #[serde(skip)]
    pub check: Check,
}

/// What a rule checks: one event, or the account inventory the scheduled
/// scan reads. Both are pure, like every rule. Only an event rule has a
/// trigger: the scan hands every inventory rule the whole account.
#[derive(Clone, Copy)]
pub enum Check {
    /// The events the trigger matches, each with the settings: a finding,
    /// or why the rule declined.
    Event {
        trigger: Trigger,
        evaluate: fn(&CloudTrailEvent, &Settings) -> Verdict,
    },
    /// The assembled account, the settings and the time of the scan: its
    /// findings.
    Inventory(ScanCheck),
}

/// Why an event rule that looked at an event (its trigger matched) did not
/// fire. `replay --explain` lists these beside the diagnostics, so a
/// rule that stays silent can be asked why, as a decision carries its
/// reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Declined(pub &'static str);

/// An event rule's answer: it fires, or it declines with a reason.
pub type Verdict = Result<Finding, Declined>;

impl Rule {
    /// The events the rule looks at; `None` for a rule of the scan.
    pub fn trigger(&self) -> Option<Trigger> {
        match self.check {
            Check::Event { trigger, .. } => Some(trigger),
            Check::Inventory(_) => None,
        }
    }
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

// Registry ----------------------------------------------------------------

/// Every rule, in catalogue order: the order is a public contract (the
/// listing, the README table, the golden tables). A new rule is one line.
static REGISTRY: &[&Rule] = &[
    &root_console_login::RULE,
    &root_console_login_failed::RULE,
    &root_api_call::RULE,
    &root_access_key_created::RULE,
    &console_login_without_mfa::RULE,
    &user_policy_attached::RULE,
    &user_inline_policy::RULE,
    &admin_policy_granted::RULE,
    &access_key_created::RULE,
    &access_key_reactivated::RULE,
    &mfa_device_removed::RULE,
    &login_profile_created::RULE,
    &password_policy_weakened::RULE,
    &cloudtrail_tampered::RULE,
    &monitoring_disabled::RULE,
    // Found by the scheduled credential scan.
    &root_access_keys_present::RULE,
    &root_mfa_disabled::RULE,
    &root_used_recently::RULE,
    &user_console_without_mfa::RULE,
    &access_key_not_rotated::RULE,
    &access_key_unused::RULE,
    &password_unused::RULE,
    &user_has_attached_policy::RULE,
    &user_has_inline_policy::RULE,
    &password_policy_below_baseline::RULE,
];

/// A scan rule's check: the assembled account, the settings and the time of
/// the scan in, its findings out. Pure, like an event rule.
pub type ScanCheck = fn(&Account, &Settings, DateTime<Utc>) -> Vec<Finding>;

/// Every rule (event and scan), in catalogue order.
pub fn registry() -> &'static [&'static Rule] {
    REGISTRY
}

/// The triggers of every event rule of the registry, as one.
pub fn triggers() -> &'static Triggers {
    static TRIGGERS: std::sync::OnceLock<Triggers> = std::sync::OnceLock::new();
    TRIGGERS.get_or_init(|| Triggers::of(REGISTRY.iter().filter_map(|rule| rule.trigger())))
}

/// The rule with this id.
pub fn find(id: &str) -> Option<&'static Rule> {
    REGISTRY.iter().copied().find(|r| r.id == id)
}

// Helpers shared by rules --------------------------------------------------

pub(crate) const IAM: &str = "iam.amazonaws.com";

/// Did `t` happen within the last `days` days before `now`?
pub(crate) fn within_days(t: DateTime<Utc>, now: DateTime<Utc>, days: u32) -> bool {
    now.signed_duration_since(t) <= TimeDelta::days(i64::from(days))
}

/// Whole days from `t` to `now` (0 for a time in the future).
pub(crate) fn days_since(t: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    now.signed_duration_since(t).num_days().max(0)
}
pub(crate) const SIGNIN: &str = "signin.amazonaws.com";

#[cfg(test)]
mod tests {
    use super::*;

    /// The combined triggers answer what asking each rule answers: for
    /// every source and name any rule names, each name under every
    /// source, names no rule names, and callers root or not.
    #[test]
    fn the_combined_triggers_answer_as_every_rule_asked() {
        let mut sources = vec!["", "s3.amazonaws.com", "IAM.amazonaws.com"];
        let mut names = vec!["", "GetObject", "attachuserpolicy", "ConsoleLogin "];
        for rule in registry() {
            for (source, list) in rule.trigger().map(|t| t.sources()).unwrap_or_default() {
                sources.push(source);
                names.extend_from_slice(list);
            }
        }
        let mut fired = 0;
        for source in &sources {
            for name in &names {
                for root in [false, true] {
                    let each = registry().iter().any(|rule| {
                        rule.trigger()
                            .is_some_and(|t| t.matches_fields(source, name, root))
                    });
                    assert_eq!(
                        triggers().any(source, name, root),
                        each,
                        "{source} {name} {root}"
                    );
                    fired += usize::from(each);
                }
            }
        }
        // Both answers were given, many times.
        assert!(
            fired > 50 && fired < sources.len() * names.len() * 2,
            "{fired}"
        );
    }

    #[test]
    fn registry_ids_are_the_public_catalogue() {
        let ids: Vec<_> = registry().iter().map(|r| r.id).collect();
        assert_eq!(
            ids,
            [
                "root-console-login",
                "root-console-login-failed",
                "root-api-call",
                "root-access-key-created",
                "console-login-without-mfa",
                "user-policy-attached",
                "user-inline-policy",
                "admin-policy-granted",
                "access-key-created",
                "access-key-reactivated",
                "mfa-device-removed",
                "login-profile-created",
                "password-policy-weakened",
                "cloudtrail-tampered",
                "monitoring-disabled",
                "root-access-keys-present",
                "root-mfa-disabled",
                "root-used-recently",
                "user-console-without-mfa",
                "access-key-not-rotated",
                "access-key-unused",
                "password-unused",
                "user-has-attached-policy",
                "user-has-inline-policy",
                "password-policy-below-baseline",
            ]
        );
    }

    #[test]
    fn remediations_are_the_ones_the_catalogue_names() {
        let with: Vec<_> = registry()
            .iter()
            .filter_map(|r| r.remediation.map(|m| (r.id, m.id)))
            .collect();
        assert_eq!(
            with,
            [
                ("user-policy-attached", "move-policy-to-group"),
                ("user-inline-policy", "move-inline-policy-to-group"),
                ("access-key-created", "deactivate-access-key"),
                ("password-policy-weakened", "restore-password-policy"),
                ("cloudtrail-tampered", "start-logging"),
                ("access-key-not-rotated", "deactivate-access-key"),
                ("access-key-unused", "deactivate-access-key"),
                ("user-has-attached-policy", "move-policy-to-group"),
                ("user-has-inline-policy", "move-inline-policy-to-group"),
                ("password-policy-below-baseline", "restore-password-policy"),
            ]
        );
    }
}
