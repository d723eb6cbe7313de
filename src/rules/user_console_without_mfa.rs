//! user-console-without-mfa (scan): an IAM user with a console password and
//! no MFA device.

use chrono::{DateTime, Utc};

use super::Settings;
use super::{Check, Finding, Rule, Severity, Target};
use crate::inventory::Account;

pub static RULE: Rule = Rule {
    id: "user-console-without-mfa",
    severity: Severity::High,
    title: "IAM user with a console password and no MFA",
    practice: "MFA for every user",
    controls: &["CIS 1.10", "IAM.5"],
    remediation: None,
    on_failure: false,
    check: Check::Inventory(check),
};

pub fn check(account: &Account, _: &Settings, _: DateTime<Utc>) -> Vec<Finding> {
    account
        .users
        .iter()
        .filter(|u| {
            u.console
                .as_ref()
                .is_some_and(|c| c.password_enabled && c.mfa_active == Some(false))
        })
        .map(|u| {
            Finding::new(
                &RULE,
                Target::User {
                    user_name: u.name.clone(),
                },
                format!("user {} can sign in to the console without MFA", u.name),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::testing::*;

    #[test]
    fn fires_on_password_without_mfa_only() {
        let rows = [
            &user_row("nomfa", true, false) as &str,
            &user_row("withmfa", true, true),
            &user_row("keysonly", false, false),
        ];
        let f = run(check, &rows, users(&["nomfa", "withmfa", "keysonly"]));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].target.user_name(), Some("nomfa"));
    }
}
