//! The remediations' contracts: what each does and the exact IAM
//! permissions it needs. Rules name them, the CLI listing and the SAM
//! template's permission check read them, and `remediate/` runs them; they
//! sit with the rules because rules (below `remediate`) refer to them.

use serde::Serialize;

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

pub static MOVE_POLICY_TO_GROUP: RemediationSpec = RemediationSpec {
    id: "move-policy-to-group",
    summary: "Attach the managed policy to a group dedicated to it, add the user, verify, then detach it from the user",
    permissions: &[
        "iam:AddUserToGroup",
        "iam:AttachGroupPolicy",
        "iam:CreateGroup",
        "iam:DetachUserPolicy",
        "iam:GetAccountSummary",
        "iam:GetGroup",
        "iam:GetPolicy",
        "iam:GetUser",
        "iam:ListAttachedGroupPolicies",
        "iam:ListAttachedUserPolicies",
        "iam:ListGroupPolicies",
        "iam:ListGroupsForUser",
    ],
    scoped_to_group_path: true,
};

pub static MOVE_INLINE_POLICY_TO_GROUP: RemediationSpec = RemediationSpec {
    id: "move-inline-policy-to-group",
    summary: "Copy the user's current inline policy to a group dedicated to that user and policy, add the user, verify, then delete it from the user",
    permissions: &[
        "iam:AddUserToGroup",
        "iam:CreateGroup",
        "iam:DeleteUserPolicy",
        "iam:GetAccountSummary",
        "iam:GetGroup",
        "iam:GetGroupPolicy",
        "iam:GetUser",
        "iam:GetUserPolicy",
        "iam:ListAttachedGroupPolicies",
        "iam:ListGroupPolicies",
        "iam:ListGroupsForUser",
        "iam:PutGroupPolicy",
    ],
    scoped_to_group_path: true,
};

pub static DEACTIVATE_ACCESS_KEY: RemediationSpec = RemediationSpec {
    id: "deactivate-access-key",
    summary: "Set the one access key the finding names (an event or the scan) to Inactive (never deleted)",
    permissions: &["iam:GetUser", "iam:ListAccessKeys", "iam:UpdateAccessKey"],
    scoped_to_group_path: false,
};

pub static RESTORE_PASSWORD_POLICY: RemediationSpec = RemediationSpec {
    id: "restore-password-policy",
    summary: "Write the whole baseline password policy in one UpdateAccountPasswordPolicy call",
    permissions: &[
        "iam:GetAccountPasswordPolicy",
        "iam:UpdateAccountPasswordPolicy",
    ],
    scoped_to_group_path: false,
};

pub static START_LOGGING: RemediationSpec = RemediationSpec {
    id: "start-logging",
    summary: "Start logging again on the trail that was stopped",
    permissions: &["cloudtrail:GetTrailStatus", "cloudtrail:StartLogging"],
    scoped_to_group_path: false,
};

/// Every remediation, in a stable order.
pub fn remediations() -> [&'static RemediationSpec; 5] {
    [
        &MOVE_POLICY_TO_GROUP,
        &MOVE_INLINE_POLICY_TO_GROUP,
        &DEACTIVATE_ACCESS_KEY,
        &RESTORE_PASSWORD_POLICY,
        &START_LOGGING,
    ]
}
