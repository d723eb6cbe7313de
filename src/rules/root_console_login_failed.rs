//! root-console-login-failed: a failed sign-in as the root user.

use super::Settings;
use super::{Check, Declined, Finding, Rule, SIGNIN, Severity, Target, Trigger, Verdict};
use crate::event::CloudTrailEvent;

pub static RULE: Rule = Rule {
    id: "root-console-login-failed",
    severity: Severity::High,
    title: "Failed root user console sign-in",
    practice: "Never use the root user; protect it with MFA",
    controls: &["CIS 1.7", "CloudWatch.1"],
    remediation: None,
    on_failure: true,
    check: Check::Event {
        trigger: Trigger::Events {
            source: SIGNIN,
            names: &["ConsoleLogin"],
        },
        evaluate,
    },
};

fn evaluate(event: &CloudTrailEvent, _: &Settings) -> Verdict {
    if !event.is_root() || event.console_login_result() != Some("Failure") {
        return Err(Declined("not a failed root sign-in"));
    }
    Ok(Finding::new(
        &RULE,
        Target::RootUser {
            account_id: event.account_id().map(String::from),
        },
        format!(
            "failed root sign-in from {}: {}",
            event
                .source_ip_address
                .as_deref()
                .unwrap_or("an unknown address"),
            event.error_message.as_deref().unwrap_or("no reason given")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::*;

    #[test]
    fn fires_on_failed_root_sign_in() {
        let mut ev = console_login("Root", "Failure", "No");
        ev["errorMessage"] = "Failed authentication".into();
        let f = fire(&RULE, ev).unwrap();
        assert!(f.summary.contains("Failed authentication"));
    }

    #[test]
    fn ignores_success_and_iam_user_failures() {
        assert!(fire(&RULE, console_login("Root", "Success", "No")).is_none());
        assert!(fire(&RULE, console_login("IAMUser", "Failure", "No")).is_none());
    }
}
