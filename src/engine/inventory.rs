//! What only the account subject has: its findings come worst first, and
//! its exemptions are matched against the users' ARNs as IAM listed them.

use chrono::{DateTime, Utc};

use super::{Decision, Evaluation, Subject, evaluate_subject};
use crate::config::Config;
use crate::inventory::account::Account;
use crate::rules::{self, Finding, Target};

/// Runs every inventory rule over the account, as read at `now`: the
/// decisions worst first (by severity, then catalogue order, then target).
pub fn evaluate_account(account: &Account, config: &Config, now: DateTime<Utc>) -> Evaluation {
    let mut out = evaluate_subject(Subject::Account { account, now }, config);
    // Stable: equal severities keep catalogue order.
    out.decisions.sort_by(|a, b| {
        b.finding
            .severity
            .cmp(&a.finding.severity)
            .then_with(|| catalogue_index(a).cmp(&catalogue_index(b)))
            .then_with(|| a.finding.target.label().cmp(&b.finding.target.label()))
    });
    out
}

fn catalogue_index(d: &Decision) -> usize {
    rules::registry()
        .iter()
        .position(|r| r.id == d.finding.rule)
        .unwrap_or(usize::MAX)
}

/// Why a finding's target must not be changed, if it is exempt. The
/// exemption tag, and the principals against the user's ARN as GetUser
/// answers it, are checked again when the remediation runs.
pub(super) fn exemption(finding: &Finding, account: &Account, config: &Config) -> Option<String> {
    let ex = &config.exemptions;
    if let Target::RootUser { .. } = finding.target {
        let arn = account.root_arn()?;
        return ex
            .principal(&arn)
            .map(|p| format!("{arn} matches exempt principal `{p}`"));
    }
    let user = finding.target.user_name()?;
    if let Some(pattern) = ex.user(user) {
        return Some(format!("user {user} matches exempt user glob `{pattern}`"));
    }
    let arn = match account.user(user) {
        Some(u) => u.arn.clone(),
        None => format!(
            "arn:aws:iam::{}:user/{user}",
            account.account_id.as_deref()?
        ),
    };
    ex.principal(&arn)
        .map(|p| format!("user {arn} matches exempt principal `{p}`"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::testing::*;
    use crate::rules::Mode;

    fn rules_of(eval: &Evaluation) -> Vec<&'static str> {
        eval.decisions.iter().map(|d| d.finding.rule).collect()
    }

    #[test]
    fn an_empty_account_with_a_baseline_policy_has_no_findings() {
        let account = account(
            &[ROOT_CLEAN],
            Inventory {
                password_policy: Some(crate::inventory::PasswordBaseline::default()),
                ..Inventory::default()
            },
        );
        let eval = evaluate_account(&account, &Config::default(), now());
        assert!(eval.decisions.is_empty(), "{:?}", eval.decisions);
    }

    #[test]
    fn decisions_come_worst_first() {
        let mut inv = policies("zed", &["arn:aws:iam::aws:policy/ReadOnlyAccess"], &[]);
        inv.users.push(live_user("amy"));
        let rows = [ROOT_WITH_KEY, &user_row("amy", true, false) as &str];
        let eval = evaluate_account(&account(&rows, inv), &Config::default(), now());
        assert_eq!(
            rules_of(&eval),
            [
                "root-access-keys-present",
                "root-mfa-disabled",
                "root-used-recently",
                "user-console-without-mfa",
                "user-has-attached-policy",
                "password-policy-below-baseline",
            ]
        );
        assert!(eval.decisions.iter().all(|d| d.mode == Mode::Alert));
    }

    #[test]
    fn modes_and_exemptions_come_from_the_config() {
        let c = config(
            "[modes]\nroot-mfa-disabled = \"off\"\nuser-has-attached-policy = \"remediate\"\n\
             [exemptions]\nusers = [\"break*\"]\nprincipals = [\"arn:aws:iam::111122223333:user/ops/*\"]",
        );
        let mut inv = policies("bob", &["arn:aws:iam::aws:policy/ReadOnlyAccess"], &[]);
        for name in ["breakglass", "opsy"] {
            let mut u = live_user(name);
            u.attached_policies = inv.users[0].attached_policies.clone();
            if name == "opsy" {
                u.arn = "arn:aws:iam::111122223333:user/ops/opsy".into();
            }
            inv.users.push(u);
        }
        let eval = evaluate_account(&account(&[ROOT_WITH_KEY], inv), &c, now());
        assert!(!rules_of(&eval).contains(&"root-mfa-disabled"));
        assert_eq!(
            eval.diagnostics[0].note,
            "1 finding found, but the rule is off"
        );
        let attached: Vec<_> = eval
            .decisions
            .iter()
            .filter(|d| d.finding.rule == "user-has-attached-policy")
            .map(|d| (d.finding.target.user_name().unwrap(), d.remediates()))
            .collect();
        assert_eq!(
            attached,
            [("bob", true), ("breakglass", false), ("opsy", false)]
        );
        assert_eq!(eval.diagnostics.len(), 3, "{:?}", eval.diagnostics);
        assert!(
            eval.diagnostics[2]
                .note
                .contains("exempt principal `arn:aws:iam::111122223333:user/ops/*`")
        );
    }
}
