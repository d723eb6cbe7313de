//! access-key-reactivated: an access key was set back to Active.

use super::Settings;
use super::{Check, Declined, Finding, IAM, Rule, Severity, Target, Trigger, Verdict};
use crate::event::CloudTrailEvent;

pub static RULE: Rule = Rule {
    id: "access-key-reactivated",
    severity: Severity::Low,
    title: "Access key reactivated",
    practice: "Rotate and remove credentials; a deactivated key stays off",
    controls: &["CIS 1.14", "IAM.3"],
    remediation: None,
    on_failure: false,
    check: Check::Event {
        trigger: Trigger::Events {
            source: IAM,
            names: &["UpdateAccessKey"],
        },
        evaluate,
    },
};

fn evaluate(event: &CloudTrailEvent, _: &Settings) -> Verdict {
    let status = event
        .request_str("status")
        .ok_or(Declined("no status in the request"))?;
    if !status.eq_ignore_ascii_case("Active") {
        return Err(Declined("the key was set to Inactive, not Active"));
    }
    let user = event.request_str("userName").or(event.calling_user());
    let key = event.request_str("accessKeyId");
    Ok(Finding::new(
        &RULE,
        Target::AccessKey {
            user_name: user.map(String::from),
            access_key_id: key.map(String::from),
        },
        format!(
            "access key {} of {} set to Active by {}",
            key.unwrap_or("?"),
            user.unwrap_or("?"),
            event.actor_label()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::*;
    use serde_json::json;

    #[test]
    fn fires_on_active_only() {
        let f = fire(
            &RULE,
            iam_call(
                "UpdateAccessKey",
                json!({"accessKeyId": "AKIA1", "status": "Active", "userName": "bob"}),
                json!(null),
            ),
        )
        .unwrap();
        assert_eq!(
            f.target,
            Target::AccessKey {
                user_name: Some("bob".into()),
                access_key_id: Some("AKIA1".into())
            }
        );
        assert!(
            fire(
                &RULE,
                iam_call(
                    "UpdateAccessKey",
                    json!({"accessKeyId": "AKIA1", "status": "Inactive"}),
                    json!(null)
                )
            )
            .is_none()
        );
    }
}
