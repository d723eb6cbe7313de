//! The execution role grants exactly the IAM and CloudTrail actions of the
//! remediations the mode parameters switch on, in every mode combination,
//! scoped as IAM allows.

use std::collections::BTreeSet;

use serde_json::Value;
use trailguard::rules;

use super::cfn::{ACCOUNT, ROLE_ARN, Stack, strings};
use super::{every_mode_combination, main_template, mode_parameters, role_statements};

/// The IAM and CloudTrail actions the role allows.
fn allowed_guarded_actions(statements: &[Value]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for s in statements {
        if s["Effect"] != "Allow" {
            continue;
        }
        assert!(s["NotAction"].is_null(), "no NotAction in an Allow: {s}");
        for action in strings(&s["Action"]) {
            let service = action.split(':').next().unwrap_or("").to_ascii_lowercase();
            assert!(action != "*", "no Allow of every action: {s}");
            if service == "iam" || service == "cloudtrail" {
                assert!(
                    !action.contains('*'),
                    "no wildcard actions: `{action}` in {s}"
                );
                out.insert(action);
            }
        }
    }
    out
}

#[test]
fn the_role_grants_exactly_what_the_enabled_remediations_declare() {
    let template = main_template();
    let params = mode_parameters(template);
    let combos = every_mode_combination();
    assert_eq!(combos.len(), 2usize.pow(params.len() as u32));
    for (combo, schedule) in combos.iter().flat_map(|c| [(c, "rate(1 day)"), (c, "off")]) {
        let mut overrides: Vec<(&str, &str)> =
            combo.iter().map(|(p, m)| (p.as_str(), *m)).collect();
        overrides.push(("ScanSchedule", schedule));
        let stack = Stack::new(template, &overrides);
        let granted = allowed_guarded_actions(&role_statements(&stack));
        let mut needed = BTreeSet::new();
        let mut enabled = Vec::new();
        if schedule != "off" {
            enabled.push("credential-scan");
            needed.extend(
                trailguard::scan::read::PERMISSIONS
                    .iter()
                    .map(|p| p.to_string()),
            );
        }
        for rule in rules::registry() {
            let Some(spec) = rule.remediation else {
                continue;
            };
            if stack.param(&params[rule.id]) == "remediate" {
                enabled.push(spec.id);
                needed.extend(spec.permissions.iter().map(|p| p.to_string()));
            }
        }
        let extra: Vec<_> = granted.difference(&needed).collect();
        let missing: Vec<_> = needed.difference(&granted).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "remediations on: {enabled:?}\n  granted but not declared in the registry: {extra:?}\n  \
             declared in the registry but not granted: {missing:?}"
        );
    }
}

/// The IAM resource type each remediation action acts on, from the AWS
/// Service Authorization Reference. An action missing here must be added
/// after checking there.
pub(super) fn resource_kind(action: &str) -> &'static str {
    match action {
        "iam:AddUserToGroup"
        | "iam:AttachGroupPolicy"
        | "iam:CreateGroup"
        | "iam:DeleteGroupPolicy"
        | "iam:DetachGroupPolicy"
        | "iam:GetGroup"
        | "iam:GetGroupPolicy"
        | "iam:ListAttachedGroupPolicies"
        | "iam:ListGroupPolicies"
        | "iam:PutGroupPolicy"
        | "iam:RemoveUserFromGroup" => "group",
        "iam:DeleteUserPolicy"
        | "iam:DetachUserPolicy"
        | "iam:GetAccessKeyLastUsed"
        | "iam:GetUser"
        | "iam:GetUserPolicy"
        | "iam:ListAccessKeys"
        | "iam:ListAttachedUserPolicies"
        | "iam:ListGroupsForUser"
        | "iam:ListUserPolicies"
        | "iam:ListUserTags"
        | "iam:UpdateAccessKey" => "user",
        "iam:GenerateCredentialReport"
        | "iam:GetAccountPasswordPolicy"
        | "iam:GetAccountSummary"
        | "iam:GetCredentialReport"
        | "iam:ListUsers"
        | "iam:ListAccountAliases"
        | "iam:UpdateAccountPasswordPolicy" => "account",
        "cloudtrail:GetTrail" | "cloudtrail:GetTrailStatus" | "cloudtrail:StartLogging" => "trail",
        "iam:GetPolicy" => "policy",
        other => panic!(
            "`{other}` is not in resource_kind(): look up its resource type in the \
             Service Authorization Reference and add it"
        ),
    }
}

#[test]
fn remediation_permissions_are_scoped_to_the_group_path_and_to_users() {
    let template = main_template();
    let all_on: Vec<(String, &str)> = mode_parameters(template)
        .into_values()
        .map(|p| (p, "remediate"))
        .collect();
    let overrides: Vec<(&str, &str)> = all_on.iter().map(|(p, m)| (p.as_str(), *m)).collect();
    let stack = Stack::new(template, &overrides);
    let group_path_scoped: BTreeSet<&str> = trailguard::remediate::remediations()
        .iter()
        .filter(|r| r.scoped_to_group_path)
        .flat_map(|r| r.permissions.iter().copied())
        .collect();
    let path = stack.param("GroupPath");
    for s in role_statements(&stack) {
        if s["Effect"] != "Allow" {
            continue;
        }
        let resources = strings(&s["Resource"]);
        for action in strings(&s["Action"]) {
            if !(action.starts_with("iam:") || action.starts_with("cloudtrail:")) {
                continue;
            }
            let expected: Vec<String> = match resource_kind(&action) {
                "group" if group_path_scoped.contains(action.as_str()) => {
                    vec![format!("arn:aws:iam::{ACCOUNT}:group{path}*")]
                }
                "group" => vec![format!("arn:aws:iam::{ACCOUNT}:group/*")],
                "user" => vec![format!("arn:aws:iam::{ACCOUNT}:user/*")],
                "account" => vec!["*".to_owned()],
                "trail" => vec![format!("arn:aws:cloudtrail:*:{ACCOUNT}:trail/*")],
                // The account's own managed policies and AWS managed ones.
                "policy" => vec![
                    format!("arn:aws:iam::{ACCOUNT}:policy/*"),
                    "arn:aws:iam::aws:policy/*".to_owned(),
                ],
                _ => unreachable!(),
            };
            assert_eq!(resources, expected, "resource of `{action}`");
            if action == "iam:AttachGroupPolicy" {
                // Checked for every mode combination in
                // the_guardrails_hold_in_every_mode_combination.
                assert!(s["Condition"].is_object(), "`{action}` is conditioned");
            } else {
                assert!(s["Condition"].is_null(), "`{action}` is unconditional");
            }
        }
    }
    assert!(
        path.len() > 1,
        "GroupPath `/` would scope the group actions to every group"
    );
}

#[test]
fn the_role_may_never_change_itself() {
    let stack = Stack::new(main_template(), &[]);
    let denies_self = role_statements(&stack).iter().any(|s| {
        s["Effect"] == "Deny"
            && s["Condition"].is_null()
            && strings(&s["Action"]).contains(&"iam:*".to_owned())
            && strings(&s["Resource"]).contains(&ROLE_ARN.to_owned())
    });
    assert!(
        denies_self,
        "an unconditional Deny of iam:* on the role's own ARN"
    );
}
