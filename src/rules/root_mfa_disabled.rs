//! root-mfa-disabled (scan): the root user has no MFA device.

use chrono::{DateTime, Utc};

use super::Settings;
use super::{Check, Finding, Rule, Severity, Target};
use crate::inventory::Account;

pub static RULE: Rule = Rule {
    id: "root-mfa-disabled",
    severity: Severity::Critical,
    title: "Root user without MFA",
    practice: "MFA for every user, root included",
    controls: &["CIS 1.5", "IAM.9"],
    remediation: None,
    on_failure: false,
    check: Check::Inventory(check),
};

pub fn check(account: &Account, _: &Settings, _: DateTime<Utc>) -> Vec<Finding> {
    if account.root.mfa_enabled != Some(false) {
        return Vec::new();
    }
    vec![Finding::new(
        &RULE,
        Target::RootUser {
            account_id: account.account_id.clone(),
        },
        "the root user has no MFA device: assign one (a hardware key, ideally)".to_owned(),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::testing::*;

    #[test]
    fn fires_from_the_summary_or_the_root_row() {
        assert_eq!(
            run(check, &[], summary(&[("AccountMFAEnabled", 0)])).len(),
            1
        );
        assert!(run(check, &[], summary(&[("AccountMFAEnabled", 1)])).is_empty());
        assert_eq!(run(check, &[ROOT_WITH_KEY], Inventory::default()).len(), 1);
        assert!(run(check, &[ROOT_CLEAN], Inventory::default()).is_empty());
        // Nothing known: no finding.
        assert!(run(check, &[], Inventory::default()).is_empty());
    }
}
