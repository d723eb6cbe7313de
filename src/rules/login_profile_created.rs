//! login-profile-created: a console password was given to a user.

use super::Settings;
use super::{Check, Declined, Finding, IAM, Rule, Severity, Target, Trigger, Verdict};
use crate::event::CloudTrailEvent;

pub static RULE: Rule = Rule {
    id: "login-profile-created",
    severity: Severity::Medium,
    title: "Console password created for a user",
    practice: "Give each person their own user with MFA; machines need no console password",
    controls: &["CIS 1.10", "IAM.5"],
    remediation: None,
    on_failure: false,
    check: Check::Event {
        trigger: Trigger::Events {
            source: IAM,
            names: &["CreateLoginProfile"],
        },
        evaluate,
    },
};

fn evaluate(event: &CloudTrailEvent, _: &Settings) -> Verdict {
    let user = event
        .request_str("userName")
        .or(event.calling_user())
        .ok_or(Declined("no user named in the request or the caller"))?;
    let reset = event
        .request()
        .and_then(|r| r.get("passwordResetRequired"))
        .and_then(|v| v.as_bool());
    Ok(Finding::new(
        &RULE,
        Target::User {
            user_name: user.to_owned(),
        },
        format!(
            "console password created for {user} by {} (reset required: {})",
            event.actor_label(),
            reset.map_or("unknown".into(), |r| r.to_string())
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::*;
    use serde_json::json;

    #[test]
    fn fires_with_the_user() {
        let f = fire(
            &RULE,
            iam_call(
                "CreateLoginProfile",
                json!({"userName": "bob", "passwordResetRequired": false}),
                json!(null),
            ),
        )
        .unwrap();
        assert_eq!(
            f.target,
            Target::User {
                user_name: "bob".into()
            }
        );
        assert!(f.summary.contains("reset required: false"));
        let mut failed = iam_call(
            "CreateLoginProfile",
            json!({"userName": "bob"}),
            json!(null),
        );
        failed["errorCode"] = "EntityAlreadyExists".into();
        assert!(fire(&RULE, failed).is_none());
    }
}
