//! console-login-without-mfa: an IAM user signed in with a password alone.

use super::Settings;
use super::{Check, Declined, Finding, Rule, SIGNIN, Severity, Target, Trigger, Verdict};
use crate::event::{CloudTrailEvent, IdentityType};

pub static RULE: Rule = Rule {
    id: "console-login-without-mfa",
    severity: Severity::High,
    title: "IAM user signed in without MFA",
    practice: "Require MFA for every human user",
    controls: &["CIS 1.10", "IAM.5", "CloudWatch.3"],
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
    if event.identity_type() != Some(&IdentityType::IamUser)
        || event.console_login_result() != Some("Success")
    {
        return Err(Declined("not a successful IAM user sign-in"));
    }
    let extra = event
        .additional()
        .ok_or(Declined("no additionalEventData to tell MFA use"))?;
    let no_mfa = extra
        .get("MFAUsed")
        .and_then(|v| v.as_str())
        .is_some_and(|v| v.eq_ignore_ascii_case("no"));
    // SAML federation authenticates (and enforces MFA) at the identity provider.
    let saml = extra.get("SamlProviderArn").is_some_and(|v| !v.is_null());
    if saml {
        return Err(Declined(
            "SAML federation: MFA is enforced at the identity provider",
        ));
    }
    if !no_mfa {
        return Err(Declined("MFA was used"));
    }
    let user = event.calling_user().unwrap_or("unknown user").to_owned();
    Ok(Finding::new(
        &RULE,
        Target::User {
            user_name: user.clone(),
        },
        format!(
            "{user} signed in to the console without MFA from {}",
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
    fn fires_on_password_only_sign_in_in_any_case() {
        for mfa in ["No", "NO", "no"] {
            let f = fire(&RULE, console_login("IAMUser", "Success", mfa)).unwrap();
            assert_eq!(
                f.target,
                Target::User {
                    user_name: "alice".into()
                }
            );
        }
    }

    #[test]
    fn ignores_mfa_saml_failed_and_root() {
        assert!(fire(&RULE, console_login("IAMUser", "Success", "Yes")).is_none());
        assert!(fire(&RULE, console_login("IAMUser", "Failure", "No")).is_none());
        assert!(fire(&RULE, console_login("Root", "Success", "No")).is_none());
        let mut saml = console_login("IAMUser", "Success", "No");
        saml["additionalEventData"]["SamlProviderArn"] = "arn:aws:iam::1:saml-provider/okta".into();
        assert!(fire(&RULE, saml).is_none());
    }
}
