//! root-api-call: the root user made an API call (read-only ones included).

use super::Settings;
use super::{Check, Declined, Finding, Rule, SIGNIN, Severity, Target, Trigger, Verdict};
use crate::event::CloudTrailEvent;

pub static RULE: Rule = Rule {
    id: "root-api-call",
    severity: Severity::High,
    title: "Root user made an API call",
    practice: "Never use the root user for everyday tasks",
    controls: &["CIS 1.7", "CloudWatch.1"],
    remediation: None,
    on_failure: false,
    check: Check::Event {
        trigger: Trigger::AnyRootCall,
        evaluate,
    },
};

fn evaluate(event: &CloudTrailEvent, _: &Settings) -> Verdict {
    // Calls an AWS service makes on root's behalf carry `invokedBy`, and
    // service events are not calls at all.
    let invoked_by = event
        .user_identity
        .invoked_by
        .as_deref()
        .is_some_and(|s| !s.is_empty());
    if !event.is_root() {
        return Err(Declined("not called by root"));
    }
    if event.source() == SIGNIN {
        return Err(Declined("a sign-in: root-console-login"));
    }
    if invoked_by {
        return Err(Declined(
            "made by an AWS service on root's behalf (invokedBy)",
        ));
    }
    if event.event_type.as_deref() == Some("AwsServiceEvent") {
        return Err(Declined("a service event, not a call"));
    }
    Ok(Finding::new(
        &RULE,
        Target::RootUser {
            account_id: event.account_id().map(String::from),
        },
        format!(
            "root user called {}:{} from {}",
            event.source().trim_end_matches(".amazonaws.com"),
            event.name(),
            event
                .source_ip_address
                .as_deref()
                .unwrap_or("an unknown address")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::*;
    use serde_json::json;

    fn root_call(extra: serde_json::Value) -> serde_json::Value {
        let mut ev = json!({
            "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets",
            "eventType": "AwsApiCall", "readOnly": true,
            "userIdentity": {"type": "Root", "arn": "arn:aws:iam::111122223333:root"}
        });
        for (k, v) in extra.as_object().unwrap() {
            ev[k] = v.clone();
        }
        ev
    }

    #[test]
    fn fires_on_read_only_root_call() {
        let f = fire(&RULE, root_call(json!({}))).unwrap();
        assert!(f.summary.contains("s3:ListBuckets"));
    }

    /// Each reason to stay silent is said, for `replay --explain`.
    #[test]
    fn says_why_it_declines() {
        let invoked =
            json!({"userIdentity": {"type": "Root", "invokedBy": "support.amazonaws.com"}});
        assert_eq!(
            decline(&RULE, root_call(invoked)),
            "made by an AWS service on root's behalf (invokedBy)"
        );
        assert_eq!(
            decline(&RULE, root_call(json!({"eventType": "AwsServiceEvent"}))),
            "a service event, not a call"
        );
    }

    #[test]
    fn ignores_service_invoked_signin_failed_and_non_root() {
        let invoked =
            json!({"userIdentity": {"type": "Root", "invokedBy": "support.amazonaws.com"}});
        assert!(fire(&RULE, root_call(invoked)).is_none());
        assert!(
            fire(
                &RULE,
                root_call(json!({"eventSource": "signin.amazonaws.com"}))
            )
            .is_none()
        );
        assert!(fire(&RULE, root_call(json!({"eventType": "AwsServiceEvent"}))).is_none());
        assert!(fire(&RULE, root_call(json!({"errorCode": "AccessDenied"}))).is_none());
        assert!(
            fire(
                &RULE,
                root_call(json!({"userIdentity": {"type": "IAMUser"}}))
            )
            .is_none()
        );
    }
}
