//! root-access-keys-present (scan): the root user has access keys.

use chrono::{DateTime, Utc};

use super::Settings;
use super::{Check, Finding, Rule, Severity, Target};
use crate::inventory::Account;

pub static RULE: Rule = Rule {
    id: "root-access-keys-present",
    severity: Severity::Critical,
    title: "Root user has access keys",
    practice: "Never use the root user; it should have no access keys",
    controls: &["CIS 1.4", "IAM.4"],
    // An IAM role cannot touch the root user's keys.
    remediation: None,
    on_failure: false,
    check: Check::Inventory(check),
};

pub fn check(account: &Account, _: &Settings, _: DateTime<Utc>) -> Vec<Finding> {
    let root = &account.root;
    if root.access_keys_present != Some(true) {
        return Vec::new();
    }
    let keys = match root.active_key_slots.len() {
        0 => "an access key (inactive)".to_owned(),
        1 => "an active access key".to_owned(),
        n => format!("{n} active access keys"),
    };
    vec![Finding::new(
        &RULE,
        Target::RootUser {
            account_id: account.account_id.clone(),
        },
        format!("the root user has {keys}: delete them from its Security credentials page"),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::testing::*;

    #[test]
    fn fires_on_an_active_root_key_in_the_report() {
        let f = run(check, &[ROOT_WITH_KEY], Inventory::default());
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].summary,
            "the root user has an active access key: delete them from its Security credentials page"
        );
    }

    #[test]
    fn the_live_summary_wins_over_the_report() {
        let f = run(
            check,
            &[ROOT_WITH_KEY],
            summary(&[("AccountAccessKeysPresent", 0)]),
        );
        assert!(f.is_empty());
        let f = run(check, &[], summary(&[("AccountAccessKeysPresent", 1)]));
        assert_eq!(
            f[0].summary.split(':').next(),
            Some("the root user has an access key (inactive)")
        );
        assert!(run(check, &[ROOT_CLEAN], Inventory::default()).is_empty());
    }
}
