//! root-console-login: the root user signed in to the console.

use super::Settings;
use super::{Check, Declined, Finding, Rule, SIGNIN, Severity, Target, Trigger, Verdict};
use crate::event::CloudTrailEvent;

pub static RULE: Rule = Rule {
    id: "root-console-login",
    severity: Severity::Critical,
    title: "Root user signed in to the console",
    practice: "Never use the root user for everyday tasks",
    controls: &["CIS 1.7", "CloudWatch.1"],
    remediation: None,
    on_failure: false,
    check: Check::Event {
        trigger: Trigger::Events {
            source: SIGNIN,
            names: &["ConsoleLogin"],
        },
        evaluate,
    },
};

fn evaluate(event: &CloudTrailEvent, _: &Settings) -> Verdict {
    if !event.is_root() || event.console_login_result() != Some("Success") {
        return Err(Declined("not a successful root sign-in"));
    }
    let mfa = event
        .additional()
        .and_then(|a| a.get("MFAUsed"))
        .and_then(|v| v.as_str())
        .unwrap_or("unknown");
    Ok(Finding::new(
        &RULE,
        Target::RootUser {
            account_id: event.account_id().map(String::from),
        },
        format!(
            "root user signed in to the console from {} (MFA used: {mfa})",
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

    #[test]
    fn fires_on_successful_root_sign_in() {
        let f = fire(&RULE, console_login("Root", "Success", "No")).unwrap();
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(
            f.target,
            Target::RootUser {
                account_id: Some("111122223333".into())
            }
        );
    }

    #[test]
    fn ignores_failed_root_sign_in_and_iam_users() {
        assert!(fire(&RULE, console_login("Root", "Failure", "No")).is_none());
        assert!(fire(&RULE, console_login("IAMUser", "Success", "No")).is_none());
    }
}
