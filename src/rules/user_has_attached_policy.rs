//! user-has-attached-policy (scan): a managed policy attached directly to a
//! user, whenever and however it got there.

use chrono::{DateTime, Utc};

use super::Settings;
use super::{Check, Finding, Rule, Severity, Target, is_aws_quarantine_managed_policy};
use crate::inventory::Account;
use crate::remediate::{Action, MOVE_POLICY_TO_GROUP, group_for_policy};

pub static RULE: Rule = Rule {
    id: "user-has-attached-policy",
    severity: Severity::Medium,
    title: "IAM user with a managed policy attached directly",
    practice: "Grant permissions through groups, not to users directly",
    controls: &["CIS 1.15", "IAM.2"],
    remediation: Some(&MOVE_POLICY_TO_GROUP),
    on_failure: false,
    check: Check::Inventory(check),
};

pub fn check(account: &Account, config: &Settings, _: DateTime<Utc>) -> Vec<Finding> {
    let mut out = Vec::new();
    for user in &account.users {
        for policy in &user.attached_policies {
            // AWS attaches these to quarantine leaked keys; moving them would
            // undo it. Only AWS's own ARNs: a customer policy named like one
            // is a grant like any other.
            if is_aws_quarantine_managed_policy(&policy.arn) {
                continue;
            }
            out.push(
                Finding::new(
                    &RULE,
                    Target::User {
                        user_name: user.name.clone(),
                    },
                    format!("{} is attached directly to user {}", policy.arn, user.name),
                )
                .with_remediation(Some(Action::MovePolicyToGroup {
                    user_name: user.name.clone(),
                    policy_arn: policy.arn.clone(),
                    group_name: group_for_policy(config.remediation, &policy.arn),
                    group_path: config.remediation.group_path.clone(),
                })),
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
    fn each_policy_is_a_finding_with_its_dedicated_group() {
        let inv = policies(
            "bob",
            &[
                "arn:aws:iam::aws:policy/ReadOnlyAccess",
                "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2",
            ],
            &[],
        );
        let f = run(check, &[], inv);
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].remediation,
            Some(Action::MovePolicyToGroup {
                user_name: "bob".into(),
                policy_arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
                group_name: "trailguard-read-only".into(),
                group_path: "/trailguard/".into(),
            })
        );
    }

    #[test]
    fn a_customer_policy_named_like_a_quarantine_policy_is_found() {
        let backdoor = "arn:aws:iam::123456789012:policy/AWSCompromisedKeyQuarantineBackdoor";
        let inv = policies(
            "bob",
            &[
                backdoor,
                "arn:aws-us-gov:iam::aws:policy/AWSCompromisedKeyQuarantineV2",
            ],
            &[],
        );
        let f = run(check, &[], inv);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].summary.starts_with(backdoor), "{}", f[0].summary);
        assert!(f[0].remediation.is_some());
    }
}
