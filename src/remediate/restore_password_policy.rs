//! restore-password-policy: the account password policy is written in full
//! in one UpdateAccountPasswordPolicy call (IAM resets every omitted field).
//!
//! What is written is, field by field, the stricter of the account's
//! current policy and the baseline (see [`strongest`]), and always the whole
//! policy: restoring must never weaken any setting. When the current policy
//! already is at least as strict everywhere, nothing is written; that read
//! is made again for a while first (IAM is eventually consistent, and the
//! weakening that triggered the remediation may not show at once).

use super::dispatch::Ctx;
use super::report::{Recorder, RemediateError, Report, Status};
use super::retry::{Seen, patiently};
use super::spec::RemediationSpec;
use crate::inventory::PasswordBaseline;

/// Its contract: what it changes and the exact IAM permissions it needs.
pub static SPEC: RemediationSpec = RemediationSpec {
    id: "restore-password-policy",
    summary: "Write the whole baseline password policy in one UpdateAccountPasswordPolicy call",
    permissions: &[
        "iam:GetAccountPasswordPolicy",
        "iam:UpdateAccountPasswordPolicy",
    ],
    scoped_to_group_path: false,
};

const ID: &str = SPEC.id;

pub(super) fn plan(baseline: &PasswordBaseline) -> (Vec<String>, Vec<String>) {
    (
        vec![format!(
            "iam:UpdateAccountPasswordPolicy {} (settings already stricter are kept; nothing is written if every one is)",
            describe(baseline)
        )],
        Vec::new(),
    )
}

/// Field by field, the stricter of the current policy and the baseline:
/// the longer minimum length; each character class required if either
/// requires it; the larger reuse prevention; the shorter maximum age, where
/// 0 (never expires) is the weakest; hard expiry on if either has it on;
/// users allowed to change their own password only if both allow it.
///
/// Why "not allowed" is the stricter for the last one: allowing it grants
/// every IAM user `iam:ChangePassword` on their own password, and a
/// remediation never grants what principals do not hold now. An account
/// that turned it off (administrators reset passwords) keeps it off.
pub fn strongest(current: Option<&PasswordBaseline>, base: &PasswordBaseline) -> PasswordBaseline {
    let Some(cur) = current else {
        return base.clone();
    };
    // 0 means "never expires": any positive age is stricter.
    let max_age_days = match (cur.max_age_days, base.max_age_days) {
        (0, b) => b,
        (c, 0) => c,
        (c, b) => c.min(b),
    };
    PasswordBaseline {
        minimum_length: cur.minimum_length.max(base.minimum_length),
        require_uppercase: cur.require_uppercase || base.require_uppercase,
        require_lowercase: cur.require_lowercase || base.require_lowercase,
        require_numbers: cur.require_numbers || base.require_numbers,
        require_symbols: cur.require_symbols || base.require_symbols,
        reuse_prevention: cur.reuse_prevention.max(base.reuse_prevention),
        max_age_days,
        allow_users_to_change: cur.allow_users_to_change && base.allow_users_to_change,
        hard_expiry: cur.hard_expiry || base.hard_expiry,
    }
}

/// The policy as AWS CLI arguments.
fn cli_args(p: &PasswordBaseline) -> String {
    let flag = |on: bool, name: &str| {
        if on {
            format!(" --{name}")
        } else {
            format!(" --no-{name}")
        }
    };
    let mut out = format!("--minimum-password-length {}", p.minimum_length);
    out += &flag(p.require_uppercase, "require-uppercase-characters");
    out += &flag(p.require_lowercase, "require-lowercase-characters");
    out += &flag(p.require_numbers, "require-numbers");
    out += &flag(p.require_symbols, "require-symbols");
    out += &flag(p.allow_users_to_change, "allow-users-to-change-password");
    if p.reuse_prevention > 0 {
        out += &format!(" --password-reuse-prevention {}", p.reuse_prevention);
    }
    if p.max_age_days > 0 {
        out += &format!(" --max-password-age {}", p.max_age_days);
    }
    out += &flag(p.hard_expiry, "hard-expiry");
    out
}

fn describe(p: &PasswordBaseline) -> String {
    let yes = |b: bool| if b { "yes" } else { "no" };
    format!(
        "MinimumPasswordLength={} RequireUppercase={} RequireLowercase={} RequireNumbers={} RequireSymbols={} PasswordReusePrevention={} MaxPasswordAge={} AllowUsersToChangePassword={} HardExpiry={}",
        p.minimum_length,
        yes(p.require_uppercase),
        yes(p.require_lowercase),
        yes(p.require_numbers),
        yes(p.require_symbols),
        if p.reuse_prevention == 0 {
            "none".to_owned()
        } else {
            p.reuse_prevention.to_string()
        },
        if p.max_age_days == 0 {
            "never".to_owned()
        } else {
            format!("{}d", p.max_age_days)
        },
        yes(p.allow_users_to_change),
        yes(p.hard_expiry),
    )
}

pub(super) async fn run(
    baseline: &PasswordBaseline,
    ctx: &Ctx<'_>,
) -> Result<Report, RemediateError> {
    let mut rec = Recorder::new(ID);
    // A policy that already meets the baseline is read again for a while:
    // the remediation runs because a weaker one was written (or found), and
    // a read right after that write may predate it.
    let read = || async {
        let current = ctx.iam.password_policy().await?;
        let target = strongest(current.as_ref(), baseline);
        if current.as_ref() == Some(&target) {
            return Ok(Seen::Absent(Report::new(ID, Status::Unchanged).note(
                "the password policy already meets the baseline: every setting is at least as strict",
            )));
        }
        Ok(Seen::Present((current, target)))
    };
    let (current, target) = match patiently(ctx, read).await.map_err(|e| rec.fail(e))? {
        Seen::Present(found) => found,
        Seen::Absent(report) => return Ok(report),
    };
    ctx.iam
        .update_password_policy(&target)
        .await
        .map_err(|e| rec.fail(e))?;
    let undo = match &current {
        Some(p) => format!("aws iam update-account-password-policy {}", cli_args(p)),
        None => "aws iam delete-account-password-policy".to_owned(),
    };
    rec.call(
        format!("iam:UpdateAccountPasswordPolicy {}", describe(&target)),
        Some(undo),
    );
    rec.note(match &current {
        Some(p) => format!("password policy restored; it was {}", describe(p)),
        None => "the account had no password policy; the baseline is set".to_owned(),
    });
    Ok(rec.finish(Status::Done))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stricter_current_settings_are_kept() {
        let base = PasswordBaseline::default();
        let cur = PasswordBaseline {
            minimum_length: 20,
            require_symbols: false,
            max_age_days: 30,
            reuse_prevention: 5,
            ..base.clone()
        };
        let s = strongest(Some(&cur), &base);
        assert_eq!(s.minimum_length, 20);
        assert!(s.require_symbols);
        assert_eq!(s.max_age_days, 30);
        assert_eq!(s.reuse_prevention, 24);
        let never = PasswordBaseline {
            max_age_days: 0,
            ..base.clone()
        };
        assert_eq!(strongest(Some(&never), &base).max_age_days, 90);
        assert_eq!(strongest(None, &base), base);
    }

    #[test]
    fn the_stricter_of_current_and_baseline_is_taken_field_by_field() {
        let base = PasswordBaseline::default();
        let lax = PasswordBaseline {
            minimum_length: 6,
            require_uppercase: false,
            require_lowercase: false,
            require_numbers: false,
            require_symbols: false,
            reuse_prevention: 0,
            max_age_days: 0,
            allow_users_to_change: true,
            hard_expiry: false,
        };
        assert_eq!(strongest(Some(&lax), &base), base);
        let strict = PasswordBaseline {
            minimum_length: 30,
            max_age_days: 7,
            allow_users_to_change: false,
            hard_expiry: true,
            ..base.clone()
        };
        assert_eq!(strongest(Some(&strict), &base), strict);
        // Against a baseline that would weaken these two, the account's win.
        let permissive_base = PasswordBaseline {
            allow_users_to_change: true,
            hard_expiry: false,
            max_age_days: 0,
            ..base.clone()
        };
        let s = strongest(Some(&strict), &permissive_base);
        assert!(s.hard_expiry && !s.allow_users_to_change);
        assert_eq!(s.max_age_days, 7);
    }
}
