//! admin-policy-granted: full administrator access granted to anyone.

use super::Settings;
use super::{
    Check, Declined, Finding, IAM, Rule, Severity, Target, Trigger, Verdict, aws_managed_policy,
};
use crate::event::{CloudTrailEvent, policy};

pub static RULE: Rule = Rule {
    id: "admin-policy-granted",
    severity: Severity::High,
    title: "Full administrator access granted",
    practice: "Grant least privilege: start from job-function policies and shrink",
    controls: &["CIS 1.16", "IAM.1"],
    remediation: None,
    on_failure: false,
    check: Check::Event {
        trigger: Trigger::Events {
            source: IAM,
            names: &[
                "AttachUserPolicy",
                "AttachGroupPolicy",
                "AttachRolePolicy",
                "PutUserPolicy",
                "PutGroupPolicy",
                "PutRolePolicy",
                "CreatePolicy",
                "CreatePolicyVersion",
            ],
        },
        evaluate,
    },
};

/// AWS managed policies that amount to full control of the account.
const ADMIN_MANAGED: [&str; 2] = ["AdministratorAccess", "IAMFullAccess"];

fn principal(event: &CloudTrailEvent) -> Option<Target> {
    let name = |k| event.request_str(k).map(String::from);
    if let Some(user_name) = name("userName") {
        Some(Target::User { user_name })
    } else if let Some(group_name) = name("groupName") {
        Some(Target::Group { group_name })
    } else {
        name("roleName").map(|role_name| Target::Role { role_name })
    }
}

fn evaluate(event: &CloudTrailEvent, _: &Settings) -> Verdict {
    let by = event.actor_label();
    if event.name().starts_with("Attach") {
        let arn = event
            .request_str("policyArn")
            .ok_or(Declined("no policyArn in the request"))?;
        // AWS managed policies live in the `aws` account of every partition;
        // a customer policy of the same name is judged by its document.
        let name = aws_managed_policy(arn).ok_or(Declined(
            "a customer managed policy: its grants are judged when it is created",
        ))?;
        if !ADMIN_MANAGED.contains(&name) {
            return Err(Declined("the AWS managed policy is not admin-equivalent"));
        }
        let target = principal(event).ok_or(Declined("no user, group or role in the request"))?;
        let summary = format!("{name} attached to {} by {by}", target.label());
        return Ok(Finding::new(&RULE, target, summary));
    }
    let text = event
        .request_str("policyDocument")
        .ok_or(Declined("no policyDocument in the request"))?;
    let doc =
        policy::decode(text).map_err(|_| Declined("the policy document is not valid JSON"))?;
    let grant = policy::admin_grant(&doc).ok_or(Declined(
        "the policy does not allow every action (or iam:*) on every resource",
    ))?;
    let (target, what) = match event.name() {
        "CreatePolicy" | "CreatePolicyVersion" => {
            let p = event
                .request_str("policyArn")
                .or(event.request_str("policyName"))
                .ok_or(Declined("no policyArn or policyName in the request"))?;
            (
                Target::Policy {
                    policy: p.to_owned(),
                },
                format!("managed policy {p}"),
            )
        }
        _ => {
            let t = principal(event).ok_or(Declined("no user, group or role in the request"))?;
            let label = format!(
                "inline policy {} on {}",
                event.request_str("policyName").unwrap_or("?"),
                t.label()
            );
            (t, label)
        }
    };
    Ok(Finding::new(
        &RULE,
        target,
        format!("{what} allows {grant} ({} by {by})", event.name()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::*;
    use serde_json::json;

    const ADMIN_DOC: &str =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

    #[test]
    fn fires_on_admin_managed_policy_to_user_group_or_role() {
        for (name, key) in [
            ("AttachUserPolicy", "userName"),
            ("AttachGroupPolicy", "groupName"),
            ("AttachRolePolicy", "roleName"),
        ] {
            for p in [
                "arn:aws:iam::aws:policy/AdministratorAccess",
                "arn:aws-cn:iam::aws:policy/AdministratorAccess",
                "arn:aws-us-gov:iam::aws:policy/IAMFullAccess",
                "arn:aws-cn:iam::aws:policy/IAMFullAccess",
            ] {
                let ev = iam_call(name, json!({key: "x", "policyArn": p}), json!(null));
                assert!(fire(&RULE, ev).is_some(), "{name} {p}");
            }
        }
    }

    #[test]
    fn fires_on_documents_allowing_everything() {
        for (name, req) in [
            (
                "PutRolePolicy",
                json!({"roleName": "r", "policyName": "p", "policyDocument": ADMIN_DOC}),
            ),
            (
                "CreatePolicy",
                json!({"policyName": "p", "policyDocument": ADMIN_DOC}),
            ),
            (
                "CreatePolicyVersion",
                json!({"policyArn": "arn:aws:iam::1:policy/p", "policyDocument": ADMIN_DOC}),
            ),
        ] {
            let f = fire(&RULE, iam_call(name, req, json!(null)));
            assert!(f.is_some(), "{name}");
        }
    }

    #[test]
    fn fires_on_documents_that_reword_admin() {
        let doc =
            r#"{"Statement":[{"Effect":"Allow","NotAction":"iam:ListUsers","Resource":"*"}]}"#;
        let req = json!({"userName": "bob", "policyName": "p", "policyDocument": doc});
        let f = fire(&RULE, iam_call("PutUserPolicy", req, json!(null))).unwrap();
        assert!(
            f.summary.starts_with(
                "inline policy p on user bob allows every action but its NotAction on *"
            ),
            "{}",
            f.summary
        );
        let doc = r#"{"Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"arn:*"}]}"#;
        let req = json!({"policyName": "p", "policyDocument": doc});
        let f = fire(&RULE, iam_call("CreatePolicy", req, json!(null))).unwrap();
        assert!(
            f.summary.contains("allows iam:* on every ARN"),
            "{}",
            f.summary
        );
    }

    #[test]
    fn ignores_customer_policy_named_like_admin_and_scoped_or_broken_documents() {
        for p in [
            "arn:aws:iam::111122223333:policy/AdministratorAccess",
            "arn:aws-cn:iam::111122223333:policy/IAMFullAccess",
            // Not a partition, whatever the account field says.
            "arn:xaws:iam::aws:policy/AdministratorAccess",
            "arn:aws:iam::notaws:policy/AdministratorAccess",
        ] {
            let ev = iam_call(
                "AttachUserPolicy",
                json!({"userName": "x", "policyArn": p}),
                json!(null),
            );
            assert!(fire(&RULE, ev).is_none(), "{p}");
        }
        let ev = iam_call(
            "AttachRolePolicy",
            json!({"roleName": "x", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
            json!(null),
        );
        assert!(fire(&RULE, ev).is_none());
        for doc in [
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
            "{",
        ] {
            let ev = iam_call(
                "CreatePolicy",
                json!({"policyName": "p", "policyDocument": doc}),
                json!(null),
            );
            assert!(fire(&RULE, ev).is_none(), "{doc}");
        }
    }
}
