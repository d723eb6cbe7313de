//! monitoring-disabled: AWS Config, GuardDuty, Security Hub or IAM Access
//! Analyzer switched off.

use serde_json::Value;

use super::Settings;
use super::{Check, Declined, Finding, Rule, Severity, Target, Trigger, Verdict};
use crate::event::CloudTrailEvent;

pub static RULE: Rule = Rule {
    id: "monitoring-disabled",
    severity: Severity::High,
    title: "Security monitoring disabled",
    practice: "Monitor account activity (CloudTrail, Config, GuardDuty)",
    controls: &[
        "CIS 1.20",
        "CIS 3.5",
        "CIS 4.9",
        "Config.1",
        "CloudWatch.9",
        "GuardDuty.1",
        "IAM.28",
    ],
    remediation: None,
    on_failure: false,
    check: Check::Event {
        trigger: Trigger::Sources(&[
            (
                "config.amazonaws.com",
                &[
                    "StopConfigurationRecorder",
                    "DeleteConfigurationRecorder",
                    "DeleteDeliveryChannel",
                ],
            ),
            (
                "guardduty.amazonaws.com",
                &["DeleteDetector", "UpdateDetector"],
            ),
            ("securityhub.amazonaws.com", &["DisableSecurityHub"]),
            ("access-analyzer.amazonaws.com", &["DeleteAnalyzer"]),
        ]),
        evaluate,
    },
};

fn evaluate(event: &CloudTrailEvent, _: &Settings) -> Verdict {
    let req = |k: &str| event.request_str(k);
    let (service, resource) = match event.name() {
        "UpdateDetector" => {
            // Only an update that switches the detector off.
            let enable = event.request().and_then(|r| r.get("enable"));
            let disabled = match enable {
                Some(Value::Bool(b)) => !b,
                Some(Value::String(s)) => s.eq_ignore_ascii_case("false"),
                _ => false,
            };
            if !disabled {
                return Err(Declined("the detector update does not disable it"));
            }
            ("GuardDuty", req("detectorId"))
        }
        "DeleteDetector" => ("GuardDuty", req("detectorId")),
        "DisableSecurityHub" => ("Security Hub", None),
        "DeleteAnalyzer" => ("IAM Access Analyzer", req("analyzerName")),
        "DeleteDeliveryChannel" => ("AWS Config", req("deliveryChannelName")),
        _ => ("AWS Config", req("configurationRecorderName")),
    };
    Ok(Finding::new(
        &RULE,
        Target::Service {
            service: service.to_owned(),
            resource: resource.map(String::from),
        },
        format!("{service}: {} by {}", event.name(), event.actor_label()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::*;
    use serde_json::json;

    fn call(source: &str, name: &str, req: serde_json::Value) -> serde_json::Value {
        let mut ev = iam_call(name, req, json!(null));
        ev["eventSource"] = source.into();
        ev
    }

    #[test]
    fn fires_for_each_service() {
        for (source, name) in [
            ("config.amazonaws.com", "StopConfigurationRecorder"),
            ("config.amazonaws.com", "DeleteConfigurationRecorder"),
            ("config.amazonaws.com", "DeleteDeliveryChannel"),
            ("guardduty.amazonaws.com", "DeleteDetector"),
            ("securityhub.amazonaws.com", "DisableSecurityHub"),
            ("access-analyzer.amazonaws.com", "DeleteAnalyzer"),
        ] {
            assert!(
                fire(&RULE, call(source, name, json!({}))).is_some(),
                "{name}"
            );
        }
    }

    #[test]
    fn guardduty_update_fires_only_when_disabling() {
        assert!(
            fire(
                &RULE,
                call(
                    "guardduty.amazonaws.com",
                    "UpdateDetector",
                    json!({"detectorId": "d", "enable": false})
                )
            )
            .is_some()
        );
        assert!(
            fire(
                &RULE,
                call(
                    "guardduty.amazonaws.com",
                    "UpdateDetector",
                    json!({"detectorId": "d", "enable": true})
                )
            )
            .is_none()
        );
        assert!(
            fire(
                &RULE,
                call(
                    "guardduty.amazonaws.com",
                    "UpdateDetector",
                    json!({"detectorId": "d", "findingPublishingFrequency": "SIX_HOURS"})
                )
            )
            .is_none()
        );
        assert!(
            fire(
                &RULE,
                call(
                    "config.amazonaws.com",
                    "PutConfigurationRecorder",
                    json!({})
                )
            )
            .is_none()
        );
    }
}
