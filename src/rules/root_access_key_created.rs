//! root-access-key-created: the root user created an access key for itself.

use super::Settings;
use super::{Check, Declined, Finding, IAM, Rule, Severity, Target, Trigger, Verdict};
use crate::event::CloudTrailEvent;

pub static RULE: Rule = Rule {
    id: "root-access-key-created",
    severity: Severity::Critical,
    title: "Access key created for the root user",
    practice: "The root user has no access keys",
    controls: &["CIS 1.4", "IAM.4"],
    // An IAM role cannot touch the root user's keys: alert only.
    remediation: None,
    on_failure: false,
    check: Check::Event {
        trigger: Trigger::Events {
            source: IAM,
            names: &["CreateAccessKey"],
        },
        evaluate,
    },
};

fn evaluate(event: &CloudTrailEvent, _: &Settings) -> Verdict {
    if !event.is_root() {
        return Err(Declined("not called by root"));
    }
    if event.request_str("userName").is_some() {
        return Err(Declined(
            "root created a key for an IAM user: access-key-created",
        ));
    }
    let key = event
        .response()
        .and_then(|r| r.get("accessKey"))
        .and_then(|k| k.get("accessKeyId"))
        .and_then(|v| v.as_str())
        .map(String::from);
    Ok(Finding::new(
        &RULE,
        Target::AccessKey {
            user_name: None,
            access_key_id: key.clone(),
        },
        format!(
            "root user created root access key {}; delete it from the root user's security credentials",
            key.as_deref().unwrap_or("(id not in event)")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::*;
    use serde_json::json;

    fn root_create(request: serde_json::Value) -> serde_json::Value {
        let mut ev = iam_call(
            "CreateAccessKey",
            request,
            json!({"accessKey": {"accessKeyId": "AKIAROOT", "status": "Active"}}),
        );
        ev["userIdentity"] = json!({"type": "Root", "arn": "arn:aws:iam::111122223333:root"});
        ev
    }

    #[test]
    fn fires_when_root_creates_its_own_key() {
        let f = fire(&RULE, root_create(serde_json::Value::Null)).unwrap();
        assert_eq!(
            f.target,
            Target::AccessKey {
                user_name: None,
                access_key_id: Some("AKIAROOT".into())
            }
        );
    }

    #[test]
    fn fires_whatever_user_name_the_response_carries() {
        let mut ev = root_create(serde_json::Value::Null);
        ev["responseElements"]["accessKey"]["userName"] = "my-account-alias".into();
        assert!(fire(&RULE, ev).is_some());
    }

    #[test]
    fn ignores_root_creating_a_key_for_a_user_and_user_calls() {
        assert!(fire(&RULE, root_create(json!({"userName": "bob"}))).is_none());
        assert!(fire(&RULE, iam_call("CreateAccessKey", json!({}), json!({}))).is_none());
    }
}
