//! user-has-inline-policy (scan): an inline policy on a user, whenever and
//! however it got there.

use chrono::{DateTime, Utc};

use super::{
    Action, Finding, MOVE_INLINE_POLICY_TO_GROUP, Rule, Severity, Target, Trigger,
    group_for_inline, is_aws_quarantine_policy, no_event,
};
use crate::config::Config;
use crate::scan::Account;

pub static RULE: Rule = Rule {
    id: "user-has-inline-policy",
    severity: Severity::Medium,
    title: "IAM user with an inline policy",
    practice: "Grant permissions through groups, not to users directly",
    controls: &["CIS 1.15", "IAM.2"],
    remediation: Some(&MOVE_INLINE_POLICY_TO_GROUP),
    trigger: Trigger::Scan,
    on_failure: false,
    evaluate: no_event,
};

pub fn check(account: &Account, config: &Config, _: DateTime<Utc>) -> Vec<Finding> {
    let mut out = Vec::new();
    for user in &account.users {
        for name in &user.inline_policies {
            if is_aws_quarantine_policy(name) {
                continue;
            }
            out.push(
                Finding::new(
                    &RULE,
                    Target::User {
                        user_name: user.name.clone(),
                    },
                    format!("user {} has inline policy {name}", user.name),
                )
                .with_remediation(Some(Action::MoveInlinePolicyToGroup {
                    user_name: user.name.clone(),
                    policy_name: name.clone(),
                    group_name: group_for_inline(config, &user.name, name),
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
    use crate::scan::testing::*;

    #[test]
    fn each_inline_policy_is_a_finding_with_a_group_of_its_own() {
        let inv = policies(
            "bob",
            &[],
            &["s3-access", "AWSExposedCredentialPolicy_DO_NOT_REMOVE"],
        );
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
}
