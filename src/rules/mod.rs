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

pub mod grouping;
mod settings;

#[cfg(test)]
pub(crate) mod testing;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::event::CloudTrailEvent;
use crate::inventory::Account;
use crate::remediate::{Action, RemediationSpec};

pub use password_policy_weakened::policy_shortfalls;
pub use settings::{ScanSettings, Settings};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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

/// The events a rule looks at, for dispatch and for the EventBridge pattern.
#[derive(Debug, Clone, Copy)]
pub enum Trigger {
    /// These event names of one event source (`iam.amazonaws.com`).
    Events {
        source: &'static str,
        names: &'static [&'static str],
    },
    /// Several sources, each with its names.
    Sources(&'static [(&'static str, &'static [&'static str])]),
    /// Any event whose caller is the root user.
    AnyRootCall,
}

impl Trigger {
    /// Could this trigger match the event? (The rule then decides.)
    pub fn matches(&self, event: &CloudTrailEvent) -> bool {
        match self {
            Trigger::Events { source, names } => {
                event.source() == *source && names.contains(&event.name())
            }
            Trigger::Sources(list) => list
                .iter()
                .any(|(s, names)| event.source() == *s && names.contains(&event.name())),
            Trigger::AnyRootCall => event.is_root(),
        }
    }

    /// `(eventSource, eventNames)` pairs; empty for [`Trigger::AnyRootCall`].
    pub fn sources(&self) -> Vec<(&'static str, &'static [&'static str])> {
        match self {
            Trigger::Events { source, names } => vec![(*source, *names)],
            Trigger::Sources(list) => list.to_vec(),
            Trigger::AnyRootCall => Vec::new(),
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

/// What a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Target {
    Account {
        account_id: Option<String>,
    },
    RootUser {
        account_id: Option<String>,
    },
    User {
        user_name: String,
    },
    AccessKey {
        user_name: Option<String>,
        access_key_id: Option<String>,
    },
    Group {
        group_name: String,
    },
    Role {
        role_name: String,
    },
    Policy {
        policy: String,
    },
    MfaDevice {
        user_name: Option<String>,
        serial_number: Option<String>,
    },
    Trail {
        trail: String,
    },
    Service {
        service: String,
        resource: Option<String>,
    },
}

impl Target {
    /// The IAM user the finding is about, when there is one.
    pub fn user_name(&self) -> Option<&str> {
        match self {
            Target::User { user_name } => Some(user_name),
            Target::AccessKey { user_name, .. } | Target::MfaDevice { user_name, .. } => {
                user_name.as_deref()
            }
            _ => None,
        }
    }

    /// A short label for alerts.
    pub fn label(&self) -> String {
        match self {
            Target::Account { account_id } => {
                format!("account {}", account_id.as_deref().unwrap_or("?"))
            }
            Target::RootUser { account_id } => {
                format!("root user of {}", account_id.as_deref().unwrap_or("?"))
            }
            Target::User { user_name } => format!("user {user_name}"),
            Target::AccessKey {
                user_name,
                access_key_id,
            } => format!(
                "access key {} of {}",
                access_key_id.as_deref().unwrap_or("?"),
                user_name.as_deref().unwrap_or("?")
            ),
            Target::Group { group_name } => format!("group {group_name}"),
            Target::Role { role_name } => format!("role {role_name}"),
            Target::Policy { policy } => format!("policy {policy}"),
            Target::MfaDevice {
                user_name,
                serial_number,
            } => format!(
                "MFA device {} of {}",
                serial_number.as_deref().unwrap_or("?"),
                user_name.as_deref().unwrap_or("?")
            ),
            Target::Trail { trail } => format!("trail {trail}"),
            Target::Service { service, resource } => match resource {
                Some(r) => format!("{service} {r}"),
                None => service.clone(),
            },
        }
    }
}

/// A rule's verdict on one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    pub target: Target,
    pub summary: String,
    /// The remediation this rule would run, with its parameters.
    pub remediation: Option<Action>,
}

impl Finding {
    /// A finding of `rule` at its registered severity.
    pub fn new(rule: &Rule, target: Target, summary: String) -> Self {
        Finding {
            rule: rule.id,
            severity: rule.severity,
            target,
            summary,
            remediation: None,
        }
    }

    pub fn with_remediation(mut self, action: Option<Action>) -> Self {
        self.remediation = action;
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }
}

/// AWS partitions (the second field of an ARN) where AWS managed policies
/// live in the account `aws`.
pub const PARTITIONS: [&str; 8] = [
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

/// The path and name (`job-function/ViewOnlyAccess`) of an AWS managed
/// policy ARN, in any partition; `None` for any other ARN. Only the account
/// `aws` holds AWS managed policies: a customer can create a policy of the
/// same name in their own account, never there.
pub fn aws_managed_policy(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(':')?;
    let path = rest.strip_prefix("iam::aws:policy/")?;
    (PARTITIONS.contains(&partition) && !path.is_empty()).then_some(path)
}

/// Is this the name of one of the policies AWS puts on a user to quarantine
/// exposed credentials (`AWSCompromisedKeyQuarantine`, `...V2`, `...V3`...,
/// `AWSExposedCredentialPolicy_DO_NOT_REMOVE`)? The name alone proves
/// nothing: anyone can give a policy of their own such a name.
pub fn is_quarantine_policy_name(name: &str) -> bool {
    name == "AWSExposedCredentialPolicy_DO_NOT_REMOVE"
        || name
            .strip_prefix("AWSCompromisedKeyQuarantine")
            .is_some_and(|v| {
                v.is_empty()
                    || v.strip_prefix('V')
                        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
}

/// Is this ARN an AWS managed quarantine policy (account `aws`, path `/`,
/// any partition)? These are never moved: moving one would undo AWS's
/// quarantine of a leaked key. A customer policy of the same name is not.
pub fn is_aws_quarantine_managed_policy(arn: &str) -> bool {
    aws_managed_policy(arn).is_some_and(is_quarantine_policy_name)
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

/// The scan rules and their checks, in catalogue order.
pub fn scan_checks() -> impl Iterator<Item = (&'static Rule, ScanCheck)> {
    REGISTRY.iter().filter_map(|rule| match rule.check {
        Check::Inventory(check) => Some((*rule, check)),
        Check::Event { .. } => None,
    })
}

/// Every rule (event and scan), in catalogue order.
pub fn registry() -> &'static [&'static Rule] {
    REGISTRY
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

    #[test]
    fn quarantine_policies_are_aws_managed_arns_in_every_partition() {
        for arn in [
            "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine",
            "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2",
            "arn:aws-cn:iam::aws:policy/AWSCompromisedKeyQuarantineV3",
            "arn:aws-us-gov:iam::aws:policy/AWSExposedCredentialPolicy_DO_NOT_REMOVE",
        ] {
            assert!(is_aws_quarantine_managed_policy(arn), "{arn}");
        }
        for arn in [
            // A customer's policy named like AWS's: the name proves nothing.
            "arn:aws:iam::123456789012:policy/AWSCompromisedKeyQuarantineBackdoor",
            "arn:aws:iam::123456789012:policy/AWSCompromisedKeyQuarantineV2",
            "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineBackdoor",
            "arn:aws:iam::aws:policy/some/path/AWSCompromisedKeyQuarantineV2",
            "arn:evil:iam::aws:policy/AWSCompromisedKeyQuarantineV2",
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            // A bare name is no ARN.
            "AWSCompromisedKeyQuarantineV2",
            "AWSExposedCredentialPolicy_DO_NOT_REMOVE",
        ] {
            assert!(!is_aws_quarantine_managed_policy(arn), "{arn}");
        }
    }

    #[test]
    fn quarantine_names_are_the_documented_ones_only() {
        for name in [
            "AWSCompromisedKeyQuarantine",
            "AWSCompromisedKeyQuarantineV2",
            "AWSCompromisedKeyQuarantineV12",
            "AWSExposedCredentialPolicy_DO_NOT_REMOVE",
        ] {
            assert!(is_quarantine_policy_name(name), "{name}");
        }
        for name in [
            "AWSCompromisedKeyQuarantineBackdoor",
            "AWSCompromisedKeyQuarantineV",
            "AWSCompromisedKeyQuarantineV9x",
            "awscompromisedkeyquarantinev2",
            "AWSExposedCredentialPolicy_DO_NOT_REMOVE2",
        ] {
            assert!(!is_quarantine_policy_name(name), "{name}");
        }
    }
}
