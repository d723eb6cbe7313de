//! `[remediation]`: how the groups that hold policies moved off users are
//! named, and how long to wait for IAM to propagate a grant.

use super::ConfigError;
use crate::remediate::GroupNaming;

/// The largest `remediation.propagation_delay_seconds`: the wait must fit
/// in the function's timeout with the rest of the event's work.
pub const MAX_PROPAGATION_DELAY_SECONDS: u64 = 120;

/// Checks the group prefix and path against IAM's name rules, and the
/// propagation delay against the function's timeout.
pub(super) fn validate(naming: &GroupNaming) -> Result<(), ConfigError> {
    let valid_name = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
    };
    if !valid_name(&naming.group_prefix) || naming.group_prefix.len() > 64 {
        return Err(ConfigError::BadValue {
            key: "remediation.group_prefix".into(),
            value: naming.group_prefix.clone(),
            reason: "must be at most 64 characters of letters, digits and +=,.@_-".into(),
        });
    }
    let path = &naming.group_path;
    if !(path.starts_with('/') && path.ends_with('/'))
        || path.len() > 512
        || !path.chars().all(|c| c == '/' || valid_name(&c.to_string()))
    {
        return Err(ConfigError::BadValue {
            key: "remediation.group_path".into(),
            value: path.clone(),
            reason: "must begin and end with `/` (an IAM path such as `/trailguard/`)".into(),
        });
    }
    if naming.propagation_delay_seconds > MAX_PROPAGATION_DELAY_SECONDS {
        return Err(ConfigError::BadValue {
            key: "remediation.propagation_delay_seconds".into(),
            value: naming.propagation_delay_seconds.to_string(),
            reason: format!(
                "must be between 0 and {MAX_PROPAGATION_DELAY_SECONDS} seconds (it must fit in the function's timeout)"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, DEFAULT_TOML, parse};

    #[test]
    fn propagation_delay_comes_from_the_file_or_the_environment() {
        assert_eq!(Config::default().remediation.propagation_delay_seconds, 10);
        let c = parse("[remediation]\npropagation_delay_seconds = 0").unwrap();
        assert_eq!(c.remediation.propagation_delay_seconds, 0);
        let env = [(
            "TRAILGUARD_PROPAGATION_DELAY_SECONDS".to_string(),
            "25".to_string(),
        )];
        let c = Config::from_toml(DEFAULT_TOML, "default", env).unwrap();
        assert_eq!(c.remediation.propagation_delay_seconds, 25);
        assert!(c.origin.contains("TRAILGUARD_PROPAGATION_DELAY_SECONDS"));
        let bad = [(
            "TRAILGUARD_PROPAGATION_DELAY_SECONDS".to_string(),
            "10s".to_string(),
        )];
        let err = Config::from_toml(DEFAULT_TOML, "default", bad).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`TRAILGUARD_PROPAGATION_DELAY_SECONDS`: `10s` is not a number of seconds"
        );
    }
}
