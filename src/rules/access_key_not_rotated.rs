//! access-key-not-rotated (scan): an active access key older than
//! `scan.key_rotation_days`.

use chrono::{DateTime, Utc};

use super::Settings;
use super::{Check, Finding, Rule, Severity, Target, days_since, within_days};
use crate::inventory::Account;
use crate::remediate::{Action, DEACTIVATE_ACCESS_KEY};

pub static RULE: Rule = Rule {
    id: "access-key-not-rotated",
    severity: Severity::Medium,
    title: "Access key not rotated within the rotation age",
    practice: "Rotate credentials regularly",
    controls: &["CIS 1.14", "IAM.3"],
    remediation: Some(&DEACTIVATE_ACCESS_KEY),
    on_failure: false,
    check: Check::Inventory(check),
};

pub fn check(account: &Account, config: &Settings, now: DateTime<Utc>) -> Vec<Finding> {
    let days = config.scan.key_rotation_days;
    let mut out = Vec::new();
    for user in &account.users {
        for key in &user.access_keys {
            let Some(created) = key.created else { continue };
            if within_days(created, now, days) {
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
                        "access key {} of {} was created on {}, {} days ago (rotation age {days} days)",
                        key.id,
                        user.name,
                        created.format("%Y-%m-%d"),
                        days_since(created, now)
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
    fn fires_on_old_active_keys_and_plans_their_deactivation() {
        let inv = keys(&[
            ("old", "AKIAOLD", true, "2024-01-01T00:00:00Z"),
            ("old", "AKIAOFF", false, "2020-01-01T00:00:00Z"),
            ("fresh", "AKIANEW", true, "2024-04-01T00:00:00Z"),
        ]);
        let f = run(check, &[], inv);
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].summary,
            "access key AKIAOLD of old was created on 2024-01-01, 130 days ago (rotation age 90 days)"
        );
        assert_eq!(
            f[0].remediation,
            Some(Action::DeactivateAccessKey {
                user_name: "old".into(),
                access_key_id: "AKIAOLD".into()
            })
        );
    }

    #[test]
    fn the_age_comes_from_the_config() {
        let inv = keys(&[("u", "AKIA1", true, "2024-04-01T00:00:00Z")]);
        let c = config("[scan]\nkey_rotation_days = 30");
        assert_eq!(run_with(check, &[], inv, NOW, &c).len(), 1);
    }
}
