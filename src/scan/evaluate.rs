//! The pure part of the scan: the assembled account, the config and the
//! time of the scan in, decisions out, worst first. No I/O, no clock.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::engine::{Decision, Diagnostic};
use crate::inventory::account::Account;
use crate::rules::{self, Finding, Mode, Target};

/// The scan's verdict on the account, before anything is executed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScanEvaluation {
    /// Worst first: by severity, then catalogue order, then target.
    pub decisions: Vec<Decision>,
    /// Rules that found something but are off; remediations skipped for
    /// an exemption.
    pub diagnostics: Vec<Diagnostic>,
}

/// Runs every scan rule over the account.
pub fn evaluate(account: &Account, config: &Config, now: DateTime<Utc>) -> ScanEvaluation {
    let mut out = ScanEvaluation::default();
    for (rule, check) in rules::scan_checks() {
        let findings = check(account, &config.rule_settings(), now);
        if findings.is_empty() {
            continue;
        }
        let mode = config.mode(rule);
        if mode == Mode::Off {
            out.diagnostics.push(Diagnostic {
                rule: rule.id,
                note: format!("{} found, but the rule is off", plural(findings.len())),
            });
            continue;
        }
        for finding in findings {
            let exempt = exemption(&finding, account, config);
            if let Some(why) = &exempt
                && mode == Mode::Remediate
                && finding.remediation.is_some()
            {
                out.diagnostics.push(Diagnostic {
                    rule: rule.id,
                    note: format!("{}: not remediated: {why}", finding.target.label()),
                });
            }
            out.decisions.push(Decision {
                finding,
                mode,
                exempt,
            });
        }
    }
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

fn plural(n: usize) -> String {
    if n == 1 {
        "1 finding".to_owned()
    } else {
        format!("{n} findings")
    }
}

/// Why a finding's target must not be changed, if it is exempt. The
/// exemption tag, and the principals against the user's ARN as GetUser
/// answers it, are checked again when the remediation runs.
fn exemption(finding: &Finding, account: &Account, config: &Config) -> Option<String> {
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

    fn rules_of(eval: &ScanEvaluation) -> Vec<&'static str> {
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
        let eval = evaluate(&account, &Config::default(), now());
        assert!(eval.decisions.is_empty(), "{:?}", eval.decisions);
    }

    #[test]
    fn decisions_come_worst_first() {
        let mut inv = policies("zed", &["arn:aws:iam::aws:policy/ReadOnlyAccess"], &[]);
        inv.users.push(live_user("amy"));
        let rows = [ROOT_WITH_KEY, &user_row("amy", true, false) as &str];
        let eval = evaluate(&account(&rows, inv), &Config::default(), now());
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
        let eval = evaluate(&account(&[ROOT_WITH_KEY], inv), &c, now());
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
