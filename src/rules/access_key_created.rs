//! access-key-created: a long-term access key was created for an IAM user.

use super::Settings;
use super::{Check, Declined, Finding, IAM, Rule, Severity, Target, Trigger, Verdict};
use crate::event::{CloudTrailEvent, non_empty_str};
use crate::remediate::{Action, DEACTIVATE_ACCESS_KEY};

pub static RULE: Rule = Rule {
    id: "access-key-created",
    severity: Severity::Medium,
    title: "Access key created for an IAM user",
    practice: "Prefer temporary credentials to long-term access keys",
    controls: &["CIS 1.11"],
    remediation: Some(&DEACTIVATE_ACCESS_KEY),
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
    let key = event.response().and_then(|r| r.get("accessKey"));
    let field = |k: &str| key.and_then(|k2| k2.get(k)).and_then(non_empty_str);
    // Root creating a key for itself is root-access-key-created, whatever
    // name IAM's answer carries (it can name the root user or the account
    // alias): only a user named in the request is an IAM user's key.
    if event.is_root() && event.request_str("userName").is_none() {
        return Err(Declined(
            "root created its own key: root-access-key-created",
        ));
    }
    // Target: what IAM answered, then what was asked, then the caller itself.
    let user = field("userName")
        .or(event.request_str("userName"))
        .or(event.calling_user())
        .ok_or(Declined(
            "no user named in the answer, the request or the caller",
        ))?;
    let key_id = field("accessKeyId");
    let action = key_id.map(|id| Action::DeactivateAccessKey {
        user_name: user.to_owned(),
        access_key_id: id.to_owned(),
    });
    Ok(Finding::new(
        &RULE,
        Target::AccessKey {
            user_name: Some(user.to_owned()),
            access_key_id: key_id.map(String::from),
        },
        format!(
            "access key {} created for {user} by {}",
            key_id.unwrap_or("(id not in event)"),
            event.actor_label()
        ),
    )
    .with_remediation(action))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::*;
    use serde_json::json;

    #[test]
    fn target_is_the_user_in_the_response_then_request_then_caller() {
        let key = |user: Option<&str>| json!({"accessKey": {"accessKeyId": "AKIA1", "status": "Active", "userName": user}});
        let f = fire(
            &RULE,
            iam_call(
                "CreateAccessKey",
                json!({"userName": "bob"}),
                key(Some("carol")),
            ),
        )
        .unwrap();
        assert_eq!(f.target.user_name(), Some("carol"));
        let f = fire(
            &RULE,
            iam_call("CreateAccessKey", json!({"userName": "bob"}), key(None)),
        )
        .unwrap();
        assert_eq!(f.target.user_name(), Some("bob"));
        let f = fire(&RULE, iam_call("CreateAccessKey", json!(null), key(None))).unwrap();
        assert_eq!(f.target.user_name(), Some("alice"));
        assert_eq!(
            f.remediation,
            Some(Action::DeactivateAccessKey {
                user_name: "alice".into(),
                access_key_id: "AKIA1".into()
            })
        );
    }

    #[test]
    fn root_key_for_itself_is_not_this_rule_but_root_for_a_user_is() {
        let mut ev = iam_call(
            "CreateAccessKey",
            json!(null),
            json!({"accessKey": {"accessKeyId": "AKIA1"}}),
        );
        ev["userIdentity"] = json!({"type": "Root", "arn": "arn:aws:iam::1:root"});
        assert!(fire(&RULE, ev.clone()).is_none());
        // IAM's answer may name the root user or the account alias: still
        // root's own key, never an IAM user's to deactivate.
        for name in ["root", "my-account-alias", "Root"] {
            ev["responseElements"]["accessKey"]["userName"] = name.into();
            assert!(fire(&RULE, ev.clone()).is_none(), "{name}");
        }
        ev["requestParameters"] = json!({"userName": "bob"});
        ev["responseElements"]["accessKey"]["userName"] = "bob".into();
        assert_eq!(fire(&RULE, ev).unwrap().target.user_name(), Some("bob"));
    }

    #[test]
    fn no_key_id_means_no_remediation() {
        let f = fire(
            &RULE,
            iam_call("CreateAccessKey", json!({"userName": "bob"}), json!(null)),
        )
        .unwrap();
        assert_eq!(f.remediation, None);
    }
}
