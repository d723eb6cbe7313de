//! The remediations' contracts: what each changes and the exact IAM
//! permissions it needs. Each remediation declares its own beside its code;
//! rules name them, and the CLI listing and the SAM template's permission
//! check read them.

use serde::Serialize;

use super::{
    deactivate_access_key, move_inline_policy_to_group, move_policy_to_group,
    restore_password_policy, start_logging,
};

/// A remediation's contract: what it does and the permissions it needs.
#[derive(Debug, Serialize)]
pub struct RemediationSpec {
    pub id: &'static str,
    pub summary: &'static str,
    /// IAM actions the execution role needs for it, exactly.
    pub permissions: &'static [&'static str],
    /// Whether IAM lets these permissions be scoped to trailguard's group path.
    pub scoped_to_group_path: bool,
}

/// Every remediation, in a stable order. A new remediation is one line.
static REMEDIATIONS: &[&RemediationSpec] = &[
    &move_policy_to_group::SPEC,
    &move_inline_policy_to_group::SPEC,
    &deactivate_access_key::SPEC,
    &restore_password_policy::SPEC,
    &start_logging::SPEC,
];

/// Every remediation, in a stable order.
pub fn remediations() -> &'static [&'static RemediationSpec] {
    REMEDIATIONS
}

/// Is this CloudTrail call (`eventSource`, `eventName`) one a remediation
/// makes: `iam.amazonaws.com` and `UpdateAccessKey` for
/// `iam:UpdateAccessKey`? Only such calls of trailguard's member role are
/// taken for its own.
pub fn makes_call(event_source: &str, event_name: &str) -> bool {
    let Some(service) = event_source.strip_suffix(".amazonaws.com") else {
        return false;
    };
    remediations()
        .iter()
        .flat_map(|r| r.permissions)
        .any(|p| p.split_once(':') == Some((service, event_name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remediation_calls_are_known_by_source_and_name() {
        assert!(makes_call("iam.amazonaws.com", "UpdateAccessKey"));
        assert!(makes_call("iam.amazonaws.com", "AttachGroupPolicy"));
        assert!(makes_call("cloudtrail.amazonaws.com", "StartLogging"));
        for (source, name) in [
            ("iam.amazonaws.com", "AttachUserPolicy"),
            ("iam.amazonaws.com", "CreateAccessKey"),
            ("cloudtrail.amazonaws.com", "UpdateAccessKey"),
            ("iam", "UpdateAccessKey"),
            ("iam.amazonaws.com.evil", "UpdateAccessKey"),
            ("", ""),
        ] {
            assert!(!makes_call(source, name), "{source} {name}");
        }
    }
}
