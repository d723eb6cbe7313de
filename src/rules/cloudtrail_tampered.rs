//! cloudtrail-tampered: a trail was stopped, deleted, changed, or its event
//! selectors no longer record management write events.

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

/// The services whose write calls trailguard watches: a selector that
/// leaves one of them out no longer records what the rules look at.
const WATCHED_SOURCES: &[&str] = &[
    "iam.amazonaws.com",
    "sts.amazonaws.com",
    "signin.amazonaws.com",
    "cloudtrail.amazonaws.com",
];

/// What a trail's new selectors record of the management events.
#[derive(Debug, PartialEq)]
enum Recorded {
    /// Some selector records management write calls of every watched service.
    Writes,
    /// Management events, but only read calls (`ReadOnly`, `readOnly = true`)
    /// or without a watched service: no IAM change would be logged.
    NoWrites,
    /// No management event at all.
    Nothing,
}

fn list(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    list(v).iter().filter_map(Value::as_str).collect()
}

/// The strongest of what the selectors (basic or advanced) record.
/// CloudTrail's defaults: `readWriteType` All and `includeManagementEvents`
/// true when omitted; an advanced selector without a `readOnly` field
/// records reads and writes.
fn recorded(req: &serde_json::Map<String, Value>) -> Recorded {
    let mut out = Recorded::Nothing;
    for s in list(req.get("eventSelectors")) {
        if !s
            .get("includeManagementEvents")
            .and_then(Value::as_bool)
            .unwrap_or(true)
        {
            continue;
        }
        let writes = s
            .get("readWriteType")
            .and_then(Value::as_str)
            .is_none_or(|t| t != "ReadOnly");
        let excluded = strings(s.get("excludeManagementEventSources"));
        if writes && !excluded.iter().any(|x| WATCHED_SOURCES.contains(x)) {
            return Recorded::Writes;
        }
        out = Recorded::NoWrites;
    }
    for s in list(req.get("advancedEventSelectors")) {
        let fields = list(s.get("fieldSelectors"));
        let field = |name: &'static str| {
            fields
                .iter()
                .filter(move |f| f.get("field").and_then(Value::as_str) == Some(name))
        };
        if !field("eventCategory").any(|f| strings(f.get("equals")).contains(&"Management")) {
            continue;
        }
        // `readOnly` takes `equals` only: ["true"] is reads only.
        let writes = field("readOnly").all(|f| strings(f.get("equals")).contains(&"false"));
        // For a trail's management events `eventSource` takes `notEquals`
        // only; anything else, or leaving out a watched service, is read
        // as leaving the watched services out.
        let sources = field("eventSource").all(|f| {
            f.as_object().is_some_and(|o| {
                o.keys().all(|k| k == "field" || k == "notEquals")
                    && !strings(o.get("notEquals"))
                        .iter()
                        .any(|x| WATCHED_SOURCES.contains(x))
            })
        });
        if writes && sources {
            return Recorded::Writes;
        }
        out = Recorded::NoWrites;
    }
    out
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
            let what = match recorded(req) {
                Recorded::Writes => {
                    return Err(Declined(
                        "the selectors still record management write events",
                    ));
                }
                Recorded::NoWrites => "management write events of IAM, STS, sign-in and CloudTrail",
                Recorded::Nothing => "management events",
            };
            (
                Severity::High,
                format!("event selectors of trail {trail} no longer record {what} ({by})"),
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
    fn selectors_that_keep_only_reads_fire() {
        let summary =
            |req: serde_json::Value| fire(&RULE, ct("PutEventSelectors", req)).map(|f| f.summary);
        let reads = json!({"trailName": "t", "eventSelectors": [{"readWriteType": "ReadOnly"}]});
        assert!(
            summary(reads)
                .unwrap()
                .contains("no longer record management write events"),
        );
        let cases = [
            json!([{"readWriteType": "ReadOnly", "includeManagementEvents": true}]),
            json!([{"readWriteType": "All", "excludeManagementEventSources": ["iam.amazonaws.com"]}]),
            json!([{"readWriteType": "ReadOnly"}, {"includeManagementEvents": false}]),
        ];
        for selectors in cases {
            let req = json!({"trailName": "t", "eventSelectors": selectors});
            assert!(summary(req).is_some(), "{selectors}");
        }
        let management = json!({"field": "eventCategory", "equals": ["Management"]});
        let advanced = [
            json!([{"field": "readOnly", "equals": ["true"]}]),
            json!([{"field": "eventSource", "notEquals": ["iam.amazonaws.com"]}]),
            json!([{"field": "eventSource", "equals": ["kms.amazonaws.com"]}]),
        ];
        for extra in advanced {
            let mut fields = vec![management.clone()];
            fields.extend(extra.as_array().unwrap().iter().cloned());
            let req =
                json!({"trailName": "t", "advancedEventSelectors": [{"fieldSelectors": fields}]});
            assert!(summary(req).is_some(), "{extra}");
        }
        // Writes still recorded: no finding.
        let kept = [
            json!({"eventSelectors": [{"readWriteType": "WriteOnly"}]}),
            json!({"eventSelectors": [{"readWriteType": "ReadOnly"}, {"readWriteType": "WriteOnly"}]}),
            json!({"eventSelectors": [{"excludeManagementEventSources": ["kms.amazonaws.com", "rdsdata.amazonaws.com"]}]}),
            json!({"advancedEventSelectors": [{"fieldSelectors": [management, {"field": "readOnly", "equals": ["false"]}, {"field": "eventSource", "notEquals": ["kms.amazonaws.com"]}]}]}),
        ];
        for req in kept {
            assert_eq!(summary(req.clone()), None, "{req}");
        }
    }

    #[test]
    fn failed_stop_is_ignored() {
        let mut ev = ct("StopLogging", json!({"name": "t"}));
        ev["errorCode"] = "TrailNotFoundException".into();
        assert!(fire(&RULE, ev).is_none());
    }
}
