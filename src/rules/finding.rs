//! What a rule reports: the finding, what it is about, how bad it is.

use serde::Serialize;

use super::Rule;
use crate::remediate::Action;

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
