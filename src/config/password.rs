//! `[password_policy]`: the baseline a weakened password policy is compared
//! with and restored to, held to IAM's limits.

use super::ConfigError;
use crate::inventory::PasswordBaseline;

/// Checks the baseline against IAM's limits: a restore with a value outside
/// them would fail at the first event instead of at start-up.
pub(super) fn validate(pp: &PasswordBaseline) -> Result<(), ConfigError> {
    if !(6..=128).contains(&pp.minimum_length) {
        return Err(ConfigError::BadValue {
            key: "password_policy.minimum_length".into(),
            value: pp.minimum_length.to_string(),
            reason: "must be between 6 and 128 (IAM's limits)".into(),
        });
    }
    if !(1..=24).contains(&pp.reuse_prevention) {
        return Err(ConfigError::BadValue {
            key: "password_policy.reuse_prevention".into(),
            value: pp.reuse_prevention.to_string(),
            reason: "must be between 1 and 24 (IAM's limits)".into(),
        });
    }
    if pp.max_age_days > 1095 {
        return Err(ConfigError::BadValue {
            key: "password_policy.max_age_days".into(),
            value: pp.max_age_days.to_string(),
            reason: "must be between 1 and 1095, or 0 for never (IAM's limits)".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::parse;

    /// IAM's limits for the baseline: a restore with a value outside them
    /// would fail at the first event instead of at start-up.
    #[test]
    fn password_baseline_ranges_are_checked_naming_the_key() {
        for (setting, bad, good) in [
            ("minimum_length", &[0, 5, 129][..], &[6, 14, 128][..]),
            ("reuse_prevention", &[0, 25], &[1, 24]),
            ("max_age_days", &[1096, 5000], &[0, 1, 90, 1095]),
        ] {
            let key = format!("password_policy.{setting}");
            for v in bad {
                let err = parse(&format!("[password_policy]\n{setting} = {v}"))
                    .unwrap_err()
                    .to_string();
                assert!(
                    err.starts_with(&format!("`{key}`: `{v}` must be between")),
                    "{err}"
                );
            }
            for v in good {
                parse(&format!("[password_policy]\n{setting} = {v}"))
                    .unwrap_or_else(|e| panic!("{key} = {v}: {e}"));
            }
        }
    }
}
