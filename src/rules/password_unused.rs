//! password-unused (scan): a console password not used for longer than
//! `scan.unused_days`; a password never used counts from when it was set.

use chrono::{DateTime, Utc};

use super::Settings;
use super::{Check, Finding, Rule, Severity, Target, days_since, within_days};
use crate::inventory::{Account, Stamp};

pub static RULE: Rule = Rule {
    id: "password-unused",
    severity: Severity::Medium,
    title: "Console password unused for longer than the unused age",
    practice: "Remove credentials nobody uses",
    controls: &["CIS 1.12", "IAM.8", "IAM.22"],
    // Deleting a login profile cannot be undone: alert only.
    remediation: None,
    on_failure: false,
    check: Check::Inventory(check),
};

pub fn check(account: &Account, config: &Settings, now: DateTime<Utc>) -> Vec<Finding> {
    let days = config.scan.unused_days;
    let mut out = Vec::new();
    for user in &account.users {
        let Some(console) = user.console.as_ref().filter(|c| c.password_enabled) else {
            continue;
        };
        let (since, what) = match console.password_last_used {
            Stamp::At(t) => (t, "last used"),
            _ => match console.password_last_changed.at().or(console.user_created) {
                Some(t) => (t, "never used since it was set"),
                None => continue,
            },
        };
        if within_days(since, now, days) {
            continue;
        }
        out.push(Finding::new(
            &RULE,
            Target::User {
                user_name: user.name.clone(),
            },
            format!(
                "console password of {} {what} on {}, {} days ago (unused age {days} days)",
                user.name,
                since.format("%Y-%m-%d"),
                days_since(since, now)
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::testing::*;

    #[test]
    fn unused_and_never_used_passwords_fire() {
        // user_row: created and password set 2024-01-01, last used per arg.
        let used_long_ago = password_row("ann", "2024-01-15T00:00:00+00:00");
        let used_lately = password_row("ben", "2024-05-01T00:00:00+00:00");
        let never = password_row("cat", "no_information");
        let f = run(
            check,
            &[&used_long_ago, &used_lately, &never],
            users(&["ann", "ben", "cat"]),
        );
        let summaries: Vec<_> = f.iter().map(|f| f.summary.as_str()).collect();
        assert_eq!(
            summaries,
            [
                "console password of ann last used on 2024-01-15, 116 days ago (unused age 90 days)",
                "console password of cat never used since it was set on 2024-01-01, 130 days ago (unused age 90 days)",
            ]
        );
    }
}
