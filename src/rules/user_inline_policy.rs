//! user-inline-policy: an inline policy put directly on a user.

use super::{
    Action, Finding, IAM, MOVE_INLINE_POLICY_TO_GROUP, Rule, Severity, Target, Trigger,
    group_for_inline, is_aws_quarantine_policy,
};
use crate::config::Config;
use crate::event::CloudTrailEvent;

pub static RULE: Rule = Rule {
    id: "user-inline-policy",
    severity: Severity::Medium,
    title: "Inline policy put directly on a user",
    practice: "Grant permissions through groups, not to users directly",
    controls: &["CIS 1.15", "IAM.2"],
    remediation: Some(&MOVE_INLINE_POLICY_TO_GROUP),
    trigger: Trigger::Events {
        source: IAM,
        names: &["PutUserPolicy"],
    },
    on_failure: false,
    evaluate,
};

fn evaluate(event: &CloudTrailEvent, config: &Config) -> Option<Finding> {
    let user = event.request_str("userName")?;
    let policy = event.request_str("policyName")?;
    if is_aws_quarantine_policy(policy) {
        return None;
    }
    let action = Action::MoveInlinePolicyToGroup {
        user_name: user.to_owned(),
        policy_name: policy.to_owned(),
        group_name: group_for_inline(config, user, policy),
        group_path: config.remediation.group_path.clone(),
    };
    Some(
        Finding::new(
            &RULE,
            Target::User {
                user_name: user.to_owned(),
            },
            format!(
                "inline policy {policy} put directly on user {user} by {}",
                event.actor_label()
            ),
        )
        .with_remediation(Some(action)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::*;
    use serde_json::json;

    #[test]
    fn fires_and_plans_a_group_for_that_user_and_policy() {
        let ev = iam_call(
            "PutUserPolicy",
            json!({"userName": "bob", "policyName": "s3-admin", "policyDocument": "{}"}),
            json!(null),
        );
        let f = fire(&RULE, ev).unwrap();
        match f.remediation.unwrap() {
            Action::MoveInlinePolicyToGroup { group_name, .. } => {
                assert_eq!(group_name, "trailguard-inline-bob-s3-admin")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ignores_quarantine_and_null_parameters() {
        let ev = iam_call(
            "PutUserPolicy",
            json!({"userName": "bob", "policyName": "AWSCompromisedKeyQuarantineV3"}),
            json!(null),
        );
        assert!(fire(&RULE, ev).is_none());
        assert!(fire(&RULE, iam_call("PutUserPolicy", json!(null), json!(null))).is_none());
    }
}
