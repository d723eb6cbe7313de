//! mfa-device-removed: an MFA device was deactivated or deleted.

use super::Settings;
use super::{Check, Finding, IAM, Rule, Severity, Target, Trigger, Verdict};
use crate::event::CloudTrailEvent;

pub static RULE: Rule = Rule {
    id: "mfa-device-removed",
    severity: Severity::High,
    title: "MFA device deactivated or deleted",
    practice: "Require MFA for every user, root included",
    controls: &["CIS 1.5", "CIS 1.10", "IAM.5", "IAM.9"],
    remediation: None,
    on_failure: false,
    check: Check::Event {
        trigger: Trigger::Events {
            source: IAM,
            names: &["DeactivateMFADevice", "DeleteVirtualMFADevice"],
        },
        evaluate,
    },
};

fn evaluate(event: &CloudTrailEvent, _: &Settings) -> Verdict {
    let serial = event.request_str("serialNumber");
    // DeleteVirtualMFADevice names no user; the serial's ARN ends in its name.
    let user = event.request_str("userName").or_else(|| {
        if event.name() == "DeactivateMFADevice" {
            event.calling_user()
        } else {
            None
        }
    });
    let verb = if event.name() == "DeactivateMFADevice" {
        "deactivated"
    } else {
        "deleted"
    };
    Ok(Finding::new(
        &RULE,
        Target::MfaDevice {
            user_name: user.map(String::from),
            serial_number: serial.map(String::from),
        },
        format!(
            "MFA device {} {verb}{} by {}",
            serial.unwrap_or("?"),
            user.map(|u| format!(" for {u}")).unwrap_or_default(),
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
    fn fires_on_deactivate_and_delete() {
        let f = fire(
            &RULE,
            iam_call(
                "DeactivateMFADevice",
                json!({"userName": "bob", "serialNumber": "arn:aws:iam::1:mfa/bob"}),
                json!(null),
            ),
        )
        .unwrap();
        assert_eq!(f.target.user_name(), Some("bob"));
        assert!(
            fire(
                &RULE,
                iam_call(
                    "DeleteVirtualMFADevice",
                    json!({"serialNumber": "arn:aws:iam::1:mfa/x"}),
                    json!(null)
                )
            )
            .is_some()
        );
        assert!(
            fire(
                &RULE,
                iam_call("EnableMFADevice", json!({"userName": "bob"}), json!(null))
            )
            .is_none()
        );
    }
}
