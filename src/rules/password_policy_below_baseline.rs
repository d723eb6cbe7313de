//! password-policy-below-baseline (scan): the account has no password
//! policy, or one weaker than the configured baseline.

use chrono::{DateTime, Utc};

use super::Settings;
use super::password_policy_weakened::policy_shortfalls;
use super::{Check, Finding, Rule, Severity, Target};
use crate::inventory::Account;
use crate::remediate::{Action, RESTORE_PASSWORD_POLICY};

pub static RULE: Rule = Rule {
    id: "password-policy-below-baseline",
    severity: Severity::Medium,
    title: "Account password policy missing or below the baseline",
    practice: "Keep a strong password policy",
    controls: &["CIS 1.8", "CIS 1.9", "IAM.7", "IAM.10", "IAM.15", "IAM.16"],
    remediation: Some(&RESTORE_PASSWORD_POLICY),
    on_failure: false,
    check: Check::Inventory(check),
};

pub fn check(account: &Account, config: &Settings, _: DateTime<Utc>) -> Vec<Finding> {
    let base = config.password_policy;
    let summary = match &account.password_policy {
        None => "the account has no password policy (IAM's weak defaults apply)".to_owned(),
        Some(policy) => {
            let gaps = policy_shortfalls(policy, base);
            if gaps.is_empty() {
                return Vec::new();
            }
            format!(
                "the password policy is below the baseline: {}",
                gaps.join(", ")
            )
        }
    };
    vec![
        Finding::new(
            &RULE,
            Target::Account {
                account_id: account.account_id.clone(),
            },
            summary,
        )
        .with_remediation(Some(Action::RestorePasswordPolicy {
            baseline: base.clone(),
        })),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::PasswordBaseline;
    use crate::inventory::testing::*;

    fn with_policy(policy: Option<PasswordBaseline>) -> Inventory {
        Inventory {
            password_policy: policy,
            ..Inventory::default()
        }
    }

    #[test]
    fn a_missing_policy_fires_and_plans_the_whole_baseline() {
        let f = run(check, &[], with_policy(None));
        assert_eq!(
            f[0].summary,
            "the account has no password policy (IAM's weak defaults apply)"
        );
        assert_eq!(
            f[0].remediation,
            Some(Action::RestorePasswordPolicy {
                baseline: PasswordBaseline::default()
            })
        );
    }

    #[test]
    fn the_baseline_passes_and_a_weak_policy_names_its_gaps() {
        assert!(run(check, &[], with_policy(Some(PasswordBaseline::default()))).is_empty());
        let weak = PasswordBaseline {
            minimum_length: 8,
            require_symbols: false,
            max_age_days: 0,
            ..PasswordBaseline::default()
        };
        let f = run(check, &[], with_policy(Some(weak)));
        assert_eq!(
            f[0].summary,
            "the password policy is below the baseline: minimum length 8 < 14, symbols not required, passwords never expire (baseline 90 days)"
        );
    }
}
