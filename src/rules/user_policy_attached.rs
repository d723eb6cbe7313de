//! user-policy-attached: a managed policy attached directly to a user.

use super::Settings;
use super::{
    Check, Declined, Finding, IAM, Rule, Severity, Target, Trigger, Verdict,
    is_aws_quarantine_managed_policy,
};
use crate::event::CloudTrailEvent;
use crate::remediate::{Action, MOVE_POLICY_TO_GROUP, group_for_policy};

pub static RULE: Rule = Rule {
    id: "user-policy-attached",
    severity: Severity::Medium,
    title: "Managed policy attached directly to a user",
    practice: "Grant permissions through groups, not to users directly",
    controls: &["CIS 1.15", "IAM.2"],
    remediation: Some(&MOVE_POLICY_TO_GROUP),
    on_failure: false,
    check: Check::Event {
        trigger: Trigger::Events {
            source: IAM,
            names: &["AttachUserPolicy"],
        },
        evaluate,
    },
};

fn evaluate(event: &CloudTrailEvent, config: &Settings) -> Verdict {
    let user = event
        .request_str("userName")
        .ok_or(Declined("no userName in the request"))?;
    let policy = event
        .request_str("policyArn")
        .ok_or(Declined("no policyArn in the request"))?;
    // AWS attaches these to quarantine leaked keys; moving them would undo
    // it. Only AWS's own ARNs: a customer policy named like one is a grant.
    if is_aws_quarantine_managed_policy(policy) {
        return Err(Declined(
            "AWS's quarantine policy, attached to contain a leaked key",
        ));
    }
    let action = Action::MovePolicyToGroup {
        user_name: user.to_owned(),
        policy_arn: policy.to_owned(),
        group_name: group_for_policy(config.remediation, policy),
        group_path: config.remediation.group_path.clone(),
    };
    Ok(Finding::new(
        &RULE,
        Target::User {
            user_name: user.to_owned(),
        },
        format!(
            "{policy} attached directly to user {user} by {}",
            event.actor_label()
        ),
    )
    .with_remediation(Some(action)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::*;
    use serde_json::json;

    #[test]
    fn fires_and_plans_a_dedicated_group() {
        let ev = iam_call(
            "AttachUserPolicy",
            json!({"userName": "bob", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
            json!(null),
        );
        let f = fire(&RULE, ev).unwrap();
        assert_eq!(
            f.remediation,
            Some(Action::MovePolicyToGroup {
                user_name: "bob".into(),
                policy_arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
                group_name: "trailguard-read-only".into(),
                group_path: "/trailguard/".into(),
            })
        );
    }

    #[test]
    fn customer_policy_named_like_a_quarantine_policy_fires() {
        for policy in [
            "arn:aws:iam::123456789012:policy/AWSCompromisedKeyQuarantineBackdoor",
            "arn:aws:iam::123456789012:policy/AWSCompromisedKeyQuarantineV2",
            "arn:aws:iam::123456789012:policy/AWSExposedCredentialPolicy_DO_NOT_REMOVE",
        ] {
            let ev = iam_call(
                "AttachUserPolicy",
                json!({"userName": "bob", "policyArn": policy}),
                json!(null),
            );
            let f = fire(&RULE, ev).unwrap_or_else(|| panic!("{policy} hid itself"));
            assert!(f.remediation.is_some());
        }
    }

    #[test]
    fn ignores_quarantine_policies_failures_and_missing_user() {
        for policy in [
            "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2",
            "arn:aws-cn:iam::aws:policy/AWSCompromisedKeyQuarantineV3",
            "arn:aws-us-gov:iam::aws:policy/AWSExposedCredentialPolicy_DO_NOT_REMOVE",
        ] {
            let ev = iam_call(
                "AttachUserPolicy",
                json!({"userName": "bob", "policyArn": policy}),
                json!(null),
            );
            assert!(fire(&RULE, ev).is_none(), "{policy}");
        }
        let mut failed = iam_call(
            "AttachUserPolicy",
            json!({"userName": "bob", "policyArn": "arn:aws:iam::1:policy/p"}),
            json!(null),
        );
        failed["errorCode"] = "AccessDenied".into();
        assert!(fire(&RULE, failed).is_none());
        assert!(
            fire(
                &RULE,
                iam_call(
                    "AttachUserPolicy",
                    json!({"policyArn": "arn:aws:iam::1:policy/p"}),
                    json!(null)
                )
            )
            .is_none()
        );
    }
}
