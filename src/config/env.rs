//! The `TRAILGUARD_*` environment: the variables trailguard knows, the
//! overrides they apply to the file, and the "did you mean" for a typo.

use super::{ConfigError, RawConfig};

/// Every `TRAILGUARD_*` variable trailguard reads. Any other is a typo and
/// fails the start: a misspelt override silently ignored would leave, say,
/// remediation on where the operator switched it off. Add new variables
/// here (and, for config overrides, to `apply_env`).
pub const ENV_VARS: &[&str] = &[
    // Read by the binaries, not overrides.
    "TRAILGUARD_CONFIG",
    "TRAILGUARD_SLACK_WEBHOOK_URL",
    // The queue of per-account scans (organisation mode): the scheduled
    // scan dispatches to it instead of scanning.
    "TRAILGUARD_SCAN_QUEUE_URL",
    // Config overrides (see `apply_env`).
    "TRAILGUARD_DEFAULT_MODE",
    "TRAILGUARD_MODES",
    "TRAILGUARD_SELF_ROLE_ARN",
    "TRAILGUARD_EXEMPT_PRINCIPALS",
    "TRAILGUARD_EXEMPT_USERS",
    "TRAILGUARD_EXEMPT_TAG",
    "TRAILGUARD_SNS_TOPIC_ARN",
    "TRAILGUARD_SLACK_WEBHOOK_SECRET_ARN",
    "TRAILGUARD_STATE_TABLE",
    "TRAILGUARD_SECURITY_HUB",
    "TRAILGUARD_GROUP_PREFIX",
    "TRAILGUARD_GROUP_PATH",
    "TRAILGUARD_PROPAGATION_DELAY_SECONDS",
    "TRAILGUARD_SCAN_KEY_ROTATION_DAYS",
    "TRAILGUARD_SCAN_UNUSED_DAYS",
    "TRAILGUARD_SCAN_ROOT_RECENT_DAYS",
    "TRAILGUARD_MEMBER_ROLE_NAME",
    "TRAILGUARD_ACCOUNTS",
    "TRAILGUARD_EXCLUDE_ACCOUNTS",
    // Read by the test harness only (the moto server's interpreter).
    "TRAILGUARD_PYTHON",
];

/// The process environment, for [`Config::load`](super::Config::load).
/// Unlike `std::env::vars`, never panics: a variable whose name or value is
/// not UTF-8 is passed on lossily (an unknown `TRAILGUARD_` name is still
/// reported, and no known variable holds such a value).
pub fn process_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect()
}

/// Environment overrides; returns the names of the variables applied.
/// Empty values are ignored (CloudFormation passes unset parameters as "").
pub(super) fn apply_env<I>(raw: &mut RawConfig, env: I) -> Result<Vec<String>, ConfigError>
where
    I: IntoIterator<Item = (String, String)>,
{
    let mut applied = Vec::new();
    let list = |v: &str| -> Vec<String> {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    for (key, value) in env {
        check_env_name(&key, &raw.alerts.slack_webhook_url_env)?;
        let value = value.trim();
        if !key.starts_with("TRAILGUARD_") || value.is_empty() {
            continue;
        }
        match key.as_str() {
            "TRAILGUARD_DEFAULT_MODE" => {
                raw.modes.insert("default".into(), value.into());
            }
            "TRAILGUARD_MODES" => {
                for pair in list(value) {
                    let Some((rule, mode)) = pair.split_once('=') else {
                        return Err(ConfigError::BadValue {
                            key,
                            value: pair,
                            reason: "is not `rule-id=mode`".into(),
                        });
                    };
                    raw.modes.insert(rule.trim().into(), mode.trim().into());
                }
            }
            "TRAILGUARD_SELF_ROLE_ARN" => raw.self_role_arn = Some(value.into()),
            "TRAILGUARD_EXEMPT_PRINCIPALS" => raw.exemptions.principals = list(value),
            "TRAILGUARD_EXEMPT_USERS" => raw.exemptions.users = list(value),
            "TRAILGUARD_EXEMPT_TAG" => raw.exemptions.tag = Some(value.into()),
            "TRAILGUARD_SNS_TOPIC_ARN" => raw.alerts.sns_topic_arn = Some(value.into()),
            "TRAILGUARD_SLACK_WEBHOOK_SECRET_ARN" => {
                raw.alerts.slack_webhook_secret_arn = Some(value.into())
            }
            "TRAILGUARD_STATE_TABLE" => raw.alerts.state_table = Some(value.into()),
            "TRAILGUARD_SECURITY_HUB" => {
                raw.alerts.security_hub = match value.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(ConfigError::BadValue {
                            key,
                            value: value.into(),
                            reason: "is not `true` or `false`".into(),
                        });
                    }
                }
            }
            "TRAILGUARD_MEMBER_ROLE_NAME" => raw.organization.member_role_name = Some(value.into()),
            "TRAILGUARD_ACCOUNTS" => raw.organization.accounts = list(value),
            "TRAILGUARD_EXCLUDE_ACCOUNTS" => raw.organization.exclude_accounts = list(value),
            "TRAILGUARD_GROUP_PREFIX" => raw.remediation.group_prefix = value.into(),
            "TRAILGUARD_GROUP_PATH" => raw.remediation.group_path = value.into(),
            "TRAILGUARD_PROPAGATION_DELAY_SECONDS" => {
                raw.remediation.propagation_delay_seconds =
                    value.parse().map_err(|_| ConfigError::BadValue {
                        key: key.clone(),
                        value: value.into(),
                        reason: "is not a number of seconds".into(),
                    })?;
            }
            "TRAILGUARD_SCAN_KEY_ROTATION_DAYS"
            | "TRAILGUARD_SCAN_UNUSED_DAYS"
            | "TRAILGUARD_SCAN_ROOT_RECENT_DAYS" => {
                let days: u32 = value.parse().map_err(|_| ConfigError::BadValue {
                    key: key.clone(),
                    value: value.into(),
                    reason: "is not a number of days".into(),
                })?;
                match key.as_str() {
                    "TRAILGUARD_SCAN_KEY_ROTATION_DAYS" => raw.scan.key_rotation_days = days,
                    "TRAILGUARD_SCAN_UNUSED_DAYS" => raw.scan.unused_days = days,
                    _ => raw.scan.root_recent_days = days,
                }
            }
            _ => continue,
        }
        applied.push(key);
    }
    applied.sort();
    Ok(applied)
}

/// The tail of an unknown-variable error: the closest known name, or the
/// whole list when none is close.
pub(super) fn suggestion_text(suggestion: &Option<&'static str>) -> String {
    match suggestion {
        Some(known) => format!(" (did you mean `{known}`?)"),
        None => format!(" (known: {})", ENV_VARS.join(", ")),
    }
}

/// Rejects a `TRAILGUARD_*` variable that is neither in [`ENV_VARS`] nor
/// the one `alerts.slack_webhook_url_env` names.
fn check_env_name(name: &str, slack_env: &str) -> Result<(), ConfigError> {
    if !name.starts_with("TRAILGUARD_") || ENV_VARS.contains(&name) || name == slack_env {
        return Ok(());
    }
    let suggestion = ENV_VARS
        .iter()
        .map(|known| (edit_distance(name, known), *known))
        .min()
        // Close means a third of the part after the prefix, or one edit.
        .filter(|(d, known)| *d <= (known.len() - "TRAILGUARD_".len()).div_ceil(3).max(1))
        .map(|(_, known)| known);
    Err(ConfigError::UnknownEnv {
        name: name.to_owned(),
        suggestion,
    })
}

/// Levenshtein distance, for the "did you mean" of a misspelt variable.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, DEFAULT_TOML};
    use crate::rules::Mode;

    #[test]
    fn environment_overrides_the_file() {
        let env = [
            (
                "TRAILGUARD_MODES".to_string(),
                "access-key-created=remediate, root-api-call=off".to_string(),
            ),
            (
                "TRAILGUARD_EXEMPT_USERS".to_string(),
                "ops-*,ci".to_string(),
            ),
            ("TRAILGUARD_SNS_TOPIC_ARN".to_string(), "".to_string()),
            ("HOME".to_string(), "/root".to_string()),
            ("TRAILGUARD_SCAN_UNUSED_DAYS".to_string(), "45".to_string()),
        ];
        let c = Config::from_toml(DEFAULT_TOML, "default", env).unwrap();
        assert_eq!(c.mode_of("access-key-created").unwrap(), Mode::Remediate);
        assert_eq!(c.mode_of("root-api-call").unwrap(), Mode::Off);
        assert_eq!(c.exemptions.users, ["ops-*", "ci"]);
        assert_eq!(c.alerts.sns_topic_arn, None);
        assert!(c.origin.contains("TRAILGUARD_MODES"));
        assert_eq!(c.scan.unused_days, 45);
        assert_eq!(c.scan.key_rotation_days, 90);
        let bad = [(
            "TRAILGUARD_SCAN_UNUSED_DAYS".to_string(),
            "ninety".to_string(),
        )];
        let err = Config::from_toml(DEFAULT_TOML, "default", bad).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`TRAILGUARD_SCAN_UNUSED_DAYS`: `ninety` is not a number of days"
        );
    }

    #[test]
    fn the_organisation_variables_override_the_section() {
        let env = [
            (
                "TRAILGUARD_MEMBER_ROLE_NAME".to_string(),
                "trailguard-member".to_string(),
            ),
            (
                "TRAILGUARD_ACCOUNTS".to_string(),
                "111111111111, 222222222222".to_string(),
            ),
            ("TRAILGUARD_EXCLUDE_ACCOUNTS".to_string(), String::new()),
            (
                "TRAILGUARD_SCAN_QUEUE_URL".to_string(),
                "http://127.0.0.1:1/q".to_string(),
            ),
        ];
        let c = Config::from_toml(DEFAULT_TOML, "default", env).unwrap();
        assert!(c.organization.enabled());
        assert_eq!(c.organization.accounts, ["111111111111", "222222222222"]);
        assert!(c.organization.exclude_accounts.is_empty());
        let bad = [("TRAILGUARD_EXCLUDE_ACCOUNTS".to_string(), "1,2".to_string())];
        let err = Config::from_toml(DEFAULT_TOML, "default", bad).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`organization.exclude_accounts`: `1` is not a 12-digit account id"
        );
    }

    #[test]
    fn a_misspelt_variable_is_rejected_naming_the_closest_known_one() {
        let env = [(
            "TRAILGUARD_MODE".to_string(),
            "root-api-call=off".to_string(),
        )];
        let err = Config::from_toml(DEFAULT_TOML, "default", env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown environment variable `TRAILGUARD_MODE` (did you mean `TRAILGUARD_MODES`?)"
        );
        // Even empty: the typo is the problem, not the value.
        let env = [("TRAILGUARD_SNS_TOPIC".to_string(), String::new())];
        let err = Config::from_toml(DEFAULT_TOML, "default", env).unwrap_err();
        assert!(
            err.to_string()
                .contains("did you mean `TRAILGUARD_SNS_TOPIC_ARN`?"),
            "{err}"
        );
        let env = [("TRAILGUARD_XYZZY".to_string(), "1".to_string())];
        let err = Config::from_toml(DEFAULT_TOML, "default", env).unwrap_err();
        assert!(
            err.to_string().contains("(known: TRAILGUARD_CONFIG,"),
            "{err}"
        );
    }

    #[test]
    fn every_known_variable_and_the_configured_slack_variable_are_accepted() {
        let env = ENV_VARS
            .iter()
            .filter(|k| !k.contains("DAYS") && !k.contains("MODE") && !k.ends_with("_ARN"))
            .map(|k| (k.to_string(), String::new()))
            .chain([
                ("TRAILGUARD_HOOK".to_string(), "x".to_string()),
                ("OTHER_PREFIX_TYPO".to_string(), "x".to_string()),
            ]);
        Config::from_toml(
            "[alerts]\nslack_webhook_url_env = \"TRAILGUARD_HOOK\"",
            "t",
            env,
        )
        .unwrap();
        // The built-in default does not name TRAILGUARD_HOOK.
        let env = [("TRAILGUARD_HOOK".to_string(), "x".to_string())];
        assert!(Config::from_toml(DEFAULT_TOML, "default", env).is_err());
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("TRAILGUARD_MODE", "TRAILGUARD_MODES"), 1);
        assert_eq!(edit_distance("abc", "acb"), 2);
        assert_eq!(edit_distance("", "ab"), 2);
    }
}
