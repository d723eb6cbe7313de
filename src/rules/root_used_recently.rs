//! root-used-recently (scan): the root user signed in or used an access key
//! within `scan.root_recent_days`.

use chrono::{DateTime, Utc};

use super::Settings;
use super::{Check, Finding, Rule, Severity, Target, days_since, within_days};
use crate::inventory::Account;

pub static RULE: Rule = Rule {
    id: "root-used-recently",
    severity: Severity::High,
    title: "Root user used recently",
    practice: "Never use the root user for everyday tasks",
    controls: &["CIS 1.7"],
    remediation: None,
    on_failure: false,
    check: Check::Inventory(check),
};

pub fn check(account: &Account, config: &Settings, now: DateTime<Utc>) -> Vec<Finding> {
    let days = config.scan.root_recent_days;
    let root = &account.root;
    let mut uses: Vec<(String, DateTime<Utc>)> = root
        .password_last_used
        .map(|t| ("signed in to the console".to_owned(), t))
        .into_iter()
        .chain(
            root.keys_last_used
                .iter()
                .map(|(slot, t)| (format!("used access key {slot}"), *t)),
        )
        .filter(|(_, t)| within_days(*t, now, days))
        .collect();
    if uses.is_empty() {
        return Vec::new();
    }
    uses.sort_by_key(|u| std::cmp::Reverse(u.1));
    let what: Vec<_> = uses
        .iter()
        .map(|(what, t)| {
            format!(
                "{what} on {} ({} days ago)",
                t.format("%Y-%m-%d"),
                days_since(*t, now)
            )
        })
        .collect();
    vec![Finding::new(
        &RULE,
        Target::RootUser {
            account_id: account.account_id.clone(),
        },
        format!("the root user {} (within {days} days)", what.join(" and ")),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::testing::*;

    #[test]
    fn fires_on_recent_sign_in_or_key_use_only() {
        // ROOT_WITH_KEY signed in on 2024-04-30; its key was never used.
        let f = run_at(
            check,
            &[ROOT_WITH_KEY],
            Inventory::default(),
            "2024-05-10T00:00:00Z",
        );
        assert_eq!(
            f[0].summary,
            "the root user signed in to the console on 2024-04-30 (9 days ago) (within 90 days)"
        );
        let f = run_at(
            check,
            &[ROOT_WITH_KEY],
            Inventory::default(),
            "2024-09-01T00:00:00Z",
        );
        assert!(f.is_empty());
        let used = ROOT_WITH_KEY.replace(
            "2016-02-01T10:00:00+00:00,N/A,N/A,N/A",
            "2016-02-01T10:00:00+00:00,2024-05-09T12:00:00+00:00,us-east-1,s3",
        );
        let f = run_at(
            check,
            &[&used],
            Inventory::default(),
            "2024-05-10T00:00:00Z",
        );
        assert!(
            f[0].summary.starts_with(
                "the root user used access key 1 on 2024-05-09 (0 days ago) and signed in"
            ),
            "{}",
            f[0].summary
        );
    }
}
