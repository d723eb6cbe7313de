//! The plan a rule makes for a finding: which remediation, with every
//! parameter it will use, so a dry-run reports exactly what a run does.

use serde::Serialize;

use super::{
    deactivate_access_key, move_inline_policy_to_group, move_policy_to_group,
    restore_password_policy, start_logging,
};
use crate::inventory::PasswordBaseline;

/// A remediation planned for a finding, with every parameter it will use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    MovePolicyToGroup {
        user_name: String,
        policy_arn: String,
        group_name: String,
        group_path: String,
    },
    MoveInlinePolicyToGroup {
        user_name: String,
        policy_name: String,
        group_name: String,
        group_path: String,
    },
    DeactivateAccessKey {
        user_name: String,
        access_key_id: String,
    },
    RestorePasswordPolicy {
        baseline: PasswordBaseline,
    },
    StartLogging {
        trail: String,
    },
}

impl Action {
    /// The remediation id of the registry this action belongs to.
    pub fn id(&self) -> &'static str {
        match self {
            Action::MovePolicyToGroup { .. } => move_policy_to_group::SPEC.id,
            Action::MoveInlinePolicyToGroup { .. } => move_inline_policy_to_group::SPEC.id,
            Action::DeactivateAccessKey { .. } => deactivate_access_key::SPEC.id,
            Action::RestorePasswordPolicy { .. } => restore_password_policy::SPEC.id,
            Action::StartLogging { .. } => start_logging::SPEC.id,
        }
    }

    /// One line saying what the action would do.
    pub fn describe(&self) -> String {
        match self {
            Action::MovePolicyToGroup {
                user_name,
                policy_arn,
                group_name,
                ..
            } => format!(
                "attach {policy_arn} to group {group_name}, add {user_name} to it, then detach it from {user_name}"
            ),
            Action::MoveInlinePolicyToGroup {
                user_name,
                policy_name,
                group_name,
                ..
            } => format!(
                "copy inline policy {policy_name} of {user_name} to group {group_name}, add {user_name} to it, then delete it from {user_name}"
            ),
            Action::DeactivateAccessKey {
                user_name,
                access_key_id,
            } => format!("set access key {access_key_id} of {user_name} to Inactive"),
            Action::RestorePasswordPolicy { .. } => {
                "restore the account password policy to the baseline".to_owned()
            }
            Action::StartLogging { trail } => format!("start logging on trail {trail}"),
        }
    }
}
