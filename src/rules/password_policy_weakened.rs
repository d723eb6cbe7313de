//! password-policy-weakened: the account password policy was deleted or set
//! below the baseline.

use serde_json::{Map, Value};

use super::Settings;
use super::{Check, Declined, Finding, IAM, Rule, Severity, Target, Trigger, Verdict};
use crate::event::CloudTrailEvent;
use crate::inventory::PasswordBaseline;
use crate::remediate::{Action, RESTORE_PASSWORD_POLICY};

pub static RULE: Rule = Rule {
    id: "password-policy-weakened",
    severity: Severity::High,
    title: "Account password policy deleted or weakened",
    practice: "Keep a strong password policy",
    controls: &["CIS 1.8", "CIS 1.9", "IAM.7", "IAM.10", "IAM.15", "IAM.16"],
    remediation: Some(&RESTORE_PASSWORD_POLICY),
    on_failure: false,
    check: Check::Event {
        trigger: Trigger::Events {
            source: IAM,
            names: &["DeleteAccountPasswordPolicy", "UpdateAccountPasswordPolicy"],
        },
        evaluate,
    },
};

fn number(req: &Map<String, Value>, key: &str) -> Option<u64> {
    match req.get(key)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn flag(req: &Map<String, Value>, key: &str) -> bool {
    match req.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// How a requested policy falls short of the baseline. UpdateAccountPasswordPolicy
/// resets every omitted field to its default, so an omitted field counts as off.
pub fn shortfalls(req: &Map<String, Value>, base: &PasswordBaseline) -> Vec<String> {
    let requested = PasswordBaseline {
        minimum_length: number(req, "minimumPasswordLength").map_or(8, saturate),
        require_uppercase: flag(req, "requireUppercaseCharacters"),
        require_lowercase: flag(req, "requireLowercaseCharacters"),
        require_numbers: flag(req, "requireNumbers"),
        require_symbols: flag(req, "requireSymbols"),
        reuse_prevention: number(req, "passwordReusePrevention").map_or(0, saturate),
        max_age_days: number(req, "maxPasswordAge").map_or(0, saturate),
        allow_users_to_change: flag(req, "allowUsersToChangePassword"),
        hard_expiry: flag(req, "hardExpiry"),
    };
    policy_shortfalls(&requested, base)
}

fn saturate(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// How a password policy (as set in the account, `max_age_days` 0 meaning
/// passwords never expire) falls short of the baseline, one phrase per gap.
/// Shared by this rule and the scheduled scan's `password-policy-below-baseline`.
pub fn policy_shortfalls(policy: &PasswordBaseline, base: &PasswordBaseline) -> Vec<String> {
    let mut out = Vec::new();
    let length = policy.minimum_length;
    if length < base.minimum_length {
        out.push(format!("minimum length {length} < {}", base.minimum_length));
    }
    for (has, wanted, label) in [
        (
            policy.require_uppercase,
            base.require_uppercase,
            "uppercase",
        ),
        (
            policy.require_lowercase,
            base.require_lowercase,
            "lowercase",
        ),
        (policy.require_numbers, base.require_numbers, "numbers"),
        (policy.require_symbols, base.require_symbols, "symbols"),
    ] {
        if wanted && !has {
            out.push(format!("{label} not required"));
        }
    }
    let reuse = policy.reuse_prevention;
    if reuse < base.reuse_prevention {
        out.push(format!(
            "reuse prevention {reuse} < {}",
            base.reuse_prevention
        ));
    }
    if base.max_age_days > 0 {
        match policy.max_age_days {
            0 => out.push(format!(
                "passwords never expire (baseline {} days)",
                base.max_age_days
            )),
            days if days > base.max_age_days => {
                out.push(format!("maximum age {days} > {} days", base.max_age_days))
            }
            _ => {}
        }
    }
    out
}

fn evaluate(event: &CloudTrailEvent, config: &Settings) -> Verdict {
    let base = config.password_policy;
    let summary = if event.name() == "DeleteAccountPasswordPolicy" {
        format!("account password policy deleted by {}", event.actor_label())
    } else {
        let empty = Map::new();
        let gaps = shortfalls(event.request().unwrap_or(&empty), base);
        if gaps.is_empty() {
            return Err(Declined("the new policy meets the baseline"));
        }
        format!(
            "password policy set below the baseline by {}: {}",
            event.actor_label(),
            gaps.join(", ")
        )
    };
    Ok(Finding::new(
        &RULE,
        Target::Account {
            account_id: event.account_id().map(String::from),
        },
        summary,
    )
    .with_remediation(Some(Action::RestorePasswordPolicy {
        baseline: base.clone(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::*;
    use serde_json::json;

    fn strong() -> serde_json::Value {
        json!({"minimumPasswordLength": 14, "requireSymbols": true, "requireNumbers": true,
               "requireUppercaseCharacters": true, "requireLowercaseCharacters": true,
               "allowUsersToChangePassword": true, "maxPasswordAge": 90, "passwordReusePrevention": 24})
    }

    #[test]
    fn fires_on_delete_and_plans_the_full_baseline() {
        let f = fire(
            &RULE,
            iam_call("DeleteAccountPasswordPolicy", json!(null), json!(null)),
        )
        .unwrap();
        assert_eq!(
            f.remediation,
            Some(Action::RestorePasswordPolicy {
                baseline: PasswordBaseline::default()
            })
        );
    }

    #[test]
    fn baseline_policy_is_fine_and_each_weakening_fires() {
        assert!(
            fire(
                &RULE,
                iam_call("UpdateAccountPasswordPolicy", strong(), json!(null))
            )
            .is_none()
        );
        for (key, value, gap) in [
            ("minimumPasswordLength", json!(8), "minimum length 8 < 14"),
            ("requireSymbols", json!(false), "symbols not required"),
            (
                "passwordReusePrevention",
                json!(5),
                "reuse prevention 5 < 24",
            ),
            ("maxPasswordAge", json!(365), "maximum age 365 > 90 days"),
            ("maxPasswordAge", json!(null), "passwords never expire"),
        ] {
            let mut req = strong();
            req[key] = value;
            let f = fire(
                &RULE,
                iam_call("UpdateAccountPasswordPolicy", req, json!(null)),
            )
            .unwrap();
            assert!(f.summary.contains(gap), "{}", f.summary);
        }
    }

    #[test]
    fn omitted_fields_count_as_reset() {
        let f = fire(
            &RULE,
            iam_call(
                "UpdateAccountPasswordPolicy",
                json!({"minimumPasswordLength": 20}),
                json!(null),
            ),
        )
        .unwrap();
        assert!(f.summary.contains("uppercase not required"));
    }
}
