//! user-inline-policy: an inline policy put directly on a user.

use super::Settings;
use super::{
    Check, Declined, Finding, IAM, Rule, Severity, Target, Trigger, Verdict,
    is_quarantine_policy_name,
};
use crate::event::{CloudTrailEvent, IdentityType};
use crate::remediate::{Action, MOVE_INLINE_POLICY_TO_GROUP, group_for_inline};

pub static RULE: Rule = Rule {
    id: "user-inline-policy",
    severity: Severity::Medium,
    title: "Inline policy put directly on a user",
    practice: "Grant permissions through groups, not to users directly",
    controls: &["CIS 1.15", "IAM.2"],
    remediation: Some(&MOVE_INLINE_POLICY_TO_GROUP),
    on_failure: false,
    check: Check::Event {
        trigger: Trigger::Events {
            source: IAM,
            names: &["PutUserPolicy"],
        },
        evaluate,
    },
};

fn evaluate(event: &CloudTrailEvent, config: &Settings) -> Verdict {
    let user = event
        .request_str("userName")
        .ok_or(Declined("no userName in the request"))?;
    let policy = event
        .request_str("policyName")
        .ok_or(Declined("no policyName in the request"))?;
    let quarantine_name = is_quarantine_policy_name(policy);
    // An inline policy is never AWS managed: its name proves nothing. Only
    // AWS itself, acting as a service, is trusted to put a quarantine.
    if quarantine_name && put_by_aws(event) {
        return Err(Declined("AWS put its own quarantine policy"));
    }
    let mut summary = format!(
        "inline policy {policy} put directly on user {user} by {}",
        event.actor_label()
    );
    let action = if quarantine_name {
        // Named like AWS's quarantine but not put by AWS as a service: it
        // may still be a real quarantine, which moving would undo, or a
        // grant hiding behind the name. Alerted, never moved.
        summary.push_str(
            "; named like an AWS quarantine policy but not put by an AWS service: check its document, it is not moved",
        );
        None
    } else {
        Some(Action::MoveInlinePolicyToGroup {
            user_name: user.to_owned(),
            policy_name: policy.to_owned(),
            group_name: group_for_inline(config.remediation, user, policy),
            group_path: config.remediation.group_path.clone(),
        })
    };
    Ok(Finding::new(
        &RULE,
        Target::User {
            user_name: user.to_owned(),
        },
        summary,
    )
    .with_remediation(action))
}

/// Was the call made by AWS itself: CloudTrail's `AWSService` identity,
/// naming the service principal (`*.amazonaws.com`) that acted? Not
/// `invokedBy` alone: a user's console session (`signin.amazonaws.com`) or
/// CloudFormation stack (`cloudformation.amazonaws.com`) carries one too,
/// with the customer's own permissions.
fn put_by_aws(event: &CloudTrailEvent) -> bool {
    event.identity_type() == Some(&IdentityType::AwsService)
        && event
            .user_identity
            .invoked_by
            .as_deref()
            .is_some_and(|by| by.ends_with(".amazonaws.com") && by.len() > ".amazonaws.com".len())
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

    const IAM_STAR: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#;

    fn quarantine_named(name: &str) -> serde_json::Value {
        iam_call(
            "PutUserPolicy",
            json!({"userName": "bob", "policyName": name, "policyDocument": IAM_STAR}),
            json!(null),
        )
    }

    #[test]
    fn ignores_quarantine_put_by_an_aws_service_and_null_parameters() {
        let mut ev = quarantine_named("AWSCompromisedKeyQuarantineV3");
        ev["userIdentity"] = json!({"type": "AWSService", "invokedBy": "iam.amazonaws.com"});
        assert!(fire(&RULE, ev).is_none());
        assert!(fire(&RULE, iam_call("PutUserPolicy", json!(null), json!(null))).is_none());
    }

    #[test]
    fn quarantine_name_put_by_a_customer_fires_and_is_never_moved() {
        for name in [
            "AWSCompromisedKeyQuarantineV9",
            "AWSExposedCredentialPolicy_DO_NOT_REMOVE",
        ] {
            // An IAM user, a console session and a CloudFormation stack all
            // act with the customer's permissions, whatever `invokedBy` says.
            for identity in [
                json!({"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice", "userName": "alice"}),
                json!({"type": "Root", "arn": "arn:aws:iam::111122223333:root", "invokedBy": "signin.amazonaws.com"}),
                json!({"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/r/s", "invokedBy": "cloudformation.amazonaws.com"}),
                json!({"type": "AWSService"}),
                json!({"type": "AWSService", "invokedBy": "AWS Internal"}),
            ] {
                let mut ev = quarantine_named(name);
                ev["userIdentity"] = identity.clone();
                let f =
                    fire(&RULE, ev).unwrap_or_else(|| panic!("{name} by {identity} hid itself"));
                assert_eq!(f.remediation, None, "{name} by {identity}");
                assert!(f.summary.contains("named like an AWS quarantine policy"));
            }
        }
        // Any other name is moved as usual.
        let f = fire(
            &RULE,
            quarantine_named("AWSCompromisedKeyQuarantineBackdoor"),
        )
        .unwrap();
        assert!(f.remediation.is_some());
    }
}
