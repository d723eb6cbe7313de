//! user-has-inline-policy (scan): an inline policy on a user, whenever and
//! however it got there.

use chrono::{DateTime, Utc};

use super::Settings;
use super::{Check, Finding, Rule, Severity, Target, is_quarantine_policy_name};
use crate::inventory::Account;
use crate::remediate::{Action, MOVE_INLINE_POLICY_TO_GROUP, group_for_inline};

pub static RULE: Rule = Rule {
    id: "user-has-inline-policy",
    severity: Severity::Medium,
    title: "IAM user with an inline policy",
    practice: "Grant permissions through groups, not to users directly",
    controls: &["CIS 1.15", "IAM.2"],
    remediation: Some(&MOVE_INLINE_POLICY_TO_GROUP),
    on_failure: false,
    check: Check::Inventory(check),
};

pub fn check(account: &Account, config: &Settings, _: DateTime<Utc>) -> Vec<Finding> {
    let mut out = Vec::new();
    for user in &account.users {
        for name in &user.inline_policies {
            // An inline policy is never AWS managed and the scan does not
            // know who put it, so no name is excepted. One named like an AWS
            // quarantine is reported but never moved: if AWS did put it
            // there, moving it would undo the quarantine.
            let (summary, action) = if is_quarantine_policy_name(name) {
                (
                    format!(
                        "user {} has inline policy {name}, named like an AWS quarantine policy: check its document, it is not moved",
                        user.name
                    ),
                    None,
                )
            } else {
                (
                    format!("user {} has inline policy {name}", user.name),
                    Some(Action::MoveInlinePolicyToGroup {
                        user_name: user.name.clone(),
                        policy_name: name.clone(),
                        group_name: group_for_inline(config.remediation, &user.name, name),
                        group_path: config.remediation.group_path.clone(),
                    }),
                )
            };
            out.push(
                Finding::new(
                    &RULE,
                    Target::User {
                        user_name: user.name.clone(),
                    },
                    summary,
                )
                .with_remediation(action),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::testing::*;

    #[test]
    fn each_inline_policy_is_a_finding_with_a_group_of_its_own() {
        let inv = policies("bob", &[], &["s3-access"]);
        let f = run(check, &[], inv);
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].remediation,
            Some(Action::MoveInlinePolicyToGroup {
                user_name: "bob".into(),
                policy_name: "s3-access".into(),
                group_name: "trailguard-inline-bob-s3-access".into(),
                group_path: "/trailguard/".into(),
            })
        );
    }

    #[test]
    fn quarantine_named_inline_policies_are_reported_never_hidden_never_moved() {
        let inv = policies(
            "bob",
            &[],
            &[
                "AWSExposedCredentialPolicy_DO_NOT_REMOVE",
                "AWSCompromisedKeyQuarantineV9",
            ],
        );
        let f = run(check, &[], inv);
        assert_eq!(f.len(), 2, "{f:?}");
        for finding in &f {
            assert_eq!(finding.remediation, None);
            assert!(
                finding
                    .summary
                    .contains("named like an AWS quarantine policy")
            );
        }
    }
}
