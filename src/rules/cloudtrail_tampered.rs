//! cloudtrail-tampered: a trail was stopped, deleted, changed, or its event
//! selectors no longer record management events.

use serde_json::Value;

use super::Settings;
use super::{Check, Declined, Finding, Rule, Severity, Target, Trigger, Verdict};
use crate::event::CloudTrailEvent;
use crate::remediate::{Action, START_LOGGING};

pub static RULE: Rule = Rule {
    id: "cloudtrail-tampered",
    severity: Severity::Critical,
    title: "CloudTrail logging stopped, deleted or reduced",
    practice: "Monitor account activity with CloudTrail",
    controls: &["CIS 3.1", "CIS 4.5", "CloudTrail.1", "CloudWatch.5"],
    remediation: Some(&START_LOGGING),
    on_failure: false,
    check: Check::Event {
        trigger: Trigger::Events {
            source: "cloudtrail.amazonaws.com",
            names: &[
                "StopLogging",
                "DeleteTrail",
                "UpdateTrail",
                "PutEventSelectors",
            ],
        },
        evaluate,
    },
};

/// Does any selector still record management events?
fn records_management_events(req: &serde_json::Map<String, Value>) -> bool {
    let list = |k: &str| {
        req.get(k)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    };
    let basic = list("eventSelectors").iter().any(|s| {
        // includeManagementEvents defaults to true when omitted.
        s.get("includeManagementEvents")
            .and_then(Value::as_bool)
            .unwrap_or(true)
    });
    let advanced = list("advancedEventSelectors").iter().any(|s| {
        s.get("fieldSelectors")
            .and_then(Value::as_array)
            .is_some_and(|fields| {
                fields.iter().any(|f| {
                    f.get("field").and_then(Value::as_str) == Some("eventCategory")
                        && f.get("equals")
                            .and_then(Value::as_array)
                            .is_some_and(|v| v.iter().any(|x| x.as_str() == Some("Management")))
                })
            })
    });
    basic || advanced
}

fn evaluate(event: &CloudTrailEvent, _: &Settings) -> Verdict {
    let trail = event
        .request_str("name")
        .or(event.request_str("trailName"))
        .unwrap_or("?")
        .to_owned();
    let by = event.actor_label();
    let (severity, summary, action) = match event.name() {
        "StopLogging" => (
            Severity::Critical,
            format!("logging stopped on trail {trail} by {by}"),
            Some(Action::StartLogging {
                trail: trail.clone(),
            }),
        ),
        "DeleteTrail" => (
            Severity::Critical,
            format!("trail {trail} deleted by {by}"),
            None,
        ),
        "UpdateTrail" => (
            Severity::High,
            format!("trail {trail} updated by {by}"),
            None,
        ),
        "PutEventSelectors" => {
            let req = event.request().ok_or(Declined("no request parameters"))?;
            if records_management_events(req) {
                return Err(Declined("the selectors still record management events"));
            }
            (
                Severity::High,
                format!(
                    "event selectors of trail {trail} no longer record management events ({by})"
                ),
                None,
            )
        }
        _ => return Err(Declined("not a call that stops or changes a trail")),
    };
    Ok(Finding::new(&RULE, Target::Trail { trail }, summary)
        .with_severity(severity)
        .with_remediation(action))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::*;
    use serde_json::json;

    fn ct(name: &str, req: serde_json::Value) -> serde_json::Value {
        let mut ev = iam_call(name, req, json!(null));
        ev["eventSource"] = "cloudtrail.amazonaws.com".into();
        ev
    }

    #[test]
    fn stop_is_critical_and_plans_start_logging() {
        let f = fire(
            &RULE,
            ct(
                "StopLogging",
                json!({"name": "arn:aws:cloudtrail:us-east-1:1:trail/main"}),
            ),
        )
        .unwrap();
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(
            f.remediation,
            Some(Action::StartLogging {
                trail: "arn:aws:cloudtrail:us-east-1:1:trail/main".into()
            })
        );
    }

    #[test]
    fn delete_is_critical_update_is_high_without_remediation() {
        let f = fire(&RULE, ct("DeleteTrail", json!({"name": "main"}))).unwrap();
        assert_eq!((f.severity, f.remediation), (Severity::Critical, None));
        let f = fire(&RULE, ct("UpdateTrail", json!({"name": "main"}))).unwrap();
        assert_eq!(f.severity, Severity::High);
    }

    #[test]
    fn event_selectors_fire_only_without_management_events() {
        let off = json!({"trailName": "t", "eventSelectors": [{"includeManagementEvents": false, "readWriteType": "ReadOnly"}]});
        assert!(fire(&RULE, ct("PutEventSelectors", off)).is_some());
        let on = json!({"trailName": "t", "eventSelectors": [{"includeManagementEvents": true, "readWriteType": "All"}]});
        assert!(fire(&RULE, ct("PutEventSelectors", on)).is_none());
        let adv = json!({"trailName": "t", "advancedEventSelectors": [{"fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}]}]});
        assert!(fire(&RULE, ct("PutEventSelectors", adv)).is_none());
        let data_only = json!({"trailName": "t", "advancedEventSelectors": [{"fieldSelectors": [{"field": "eventCategory", "equals": ["Data"]}]}]});
        assert!(fire(&RULE, ct("PutEventSelectors", data_only)).is_some());
    }

    #[test]
    fn failed_stop_is_ignored() {
        let mut ev = ct("StopLogging", json!({"name": "t"}));
        ev["errorCode"] = "TrailNotFoundException".into();
        assert!(fire(&RULE, ev).is_none());
    }
}
