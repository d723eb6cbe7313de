//! access-key-unused (scan): an active access key not used for longer than
//! `scan.unused_days`; a key never used counts from its creation.

use chrono::{DateTime, Utc};

use super::Settings;
use super::{Check, Finding, Rule, Severity, Target, days_since, within_days};
use crate::inventory::{Account, KeyUsage};
use crate::remediate::{Action, DEACTIVATE_ACCESS_KEY};

pub static RULE: Rule = Rule {
    id: "access-key-unused",
    severity: Severity::Medium,
    title: "Access key unused for longer than the unused age",
    practice: "Remove credentials nobody uses",
    controls: &["CIS 1.12", "IAM.8", "IAM.22"],
    remediation: Some(&DEACTIVATE_ACCESS_KEY),
    on_failure: false,
    check: Check::Inventory(check),
};

pub fn check(account: &Account, config: &Settings, now: DateTime<Utc>) -> Vec<Finding> {
    let days = config.scan.unused_days;
    let mut out = Vec::new();
    for user in &account.users {
        for key in &user.access_keys {
            let (since, what) = match (key.usage, key.created) {
                (KeyUsage::Used(t), _) => (t, "last used"),
                (KeyUsage::Never, Some(created)) => (created, "never used since its creation"),
                // Usage not known (the key is newer than the report): never
                // call it unused.
                _ => continue,
            };
            if within_days(since, now, days) {
                continue;
            }
            out.push(
                Finding::new(
                    &RULE,
                    Target::AccessKey {
                        user_name: Some(user.name.clone()),
                        access_key_id: Some(key.id.clone()),
                    },
                    format!(
                        "access key {} of {} {what} on {}, {} days ago (unused age {days} days)",
                        key.id,
                        user.name,
                        since.format("%Y-%m-%d"),
                        days_since(since, now)
                    ),
                )
                .with_remediation(Some(Action::DeactivateAccessKey {
                    user_name: user.name.clone(),
                    access_key_id: key.id.clone(),
                })),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::testing::*;

    #[test]
    fn never_used_keys_count_from_creation_and_used_keys_from_last_use() {
        // In the report: key 1 created 2023-01-01 and used 2024-01-01,
        // key 2 created 2024-04-01 and never used.
        let row = keys_row(
            "bob",
            ("2023-01-01T00:00:00+00:00", "2024-01-01T00:00:00+00:00"),
            ("2024-04-01T00:00:00+00:00", "N/A"),
        );
        let inv = keys(&[
            ("bob", "AKIA1", true, "2023-01-01T00:00:00Z"),
            ("bob", "AKIA2", true, "2024-04-01T00:00:00Z"),
        ]);
        let f = run(check, &[&row], inv.clone());
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].summary,
            "access key AKIA1 of bob last used on 2024-01-01, 130 days ago (unused age 90 days)"
        );
        let f = run_at(check, &[&row], inv, "2024-08-01T00:00:00Z");
        assert_eq!(f.len(), 2);
        assert_eq!(
            f[1].summary,
            "access key AKIA2 of bob never used since its creation on 2024-04-01, 122 days ago (unused age 90 days)"
        );
    }

    #[test]
    fn keys_the_report_does_not_cover_are_not_called_unused() {
        let inv = keys(&[("bob", "AKIA9", true, "2020-01-01T00:00:00Z")]);
        assert!(run(check, &[], inv).is_empty());
    }
}
