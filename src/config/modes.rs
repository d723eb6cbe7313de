//! `[modes]`: each rule of the registry's mode, from the default and the
//! rules named.

use std::collections::BTreeMap;

use super::ConfigError;
use crate::rules::{self, Mode};

/// The default mode and the effective mode of every rule in the registry.
pub(super) fn resolve(
    raw: &BTreeMap<String, String>,
) -> Result<(Mode, BTreeMap<&'static str, Mode>), ConfigError> {
    let default_mode = match raw.get("default") {
        Some(v) => parse_mode("modes.default", v)?,
        None => Mode::Alert,
    };
    let mut modes = BTreeMap::new();
    for rule in rules::registry() {
        // A default of "remediate" means "where a remediation exists".
        let mode = match default_mode {
            Mode::Remediate if rule.remediation.is_none() => Mode::Alert,
            m => m,
        };
        modes.insert(rule.id, mode);
    }
    for (key, value) in raw {
        if key == "default" {
            continue;
        }
        let full_key = format!("modes.{key}");
        let rule = rules::find(key).ok_or_else(|| ConfigError::UnknownRule { key: key.clone() })?;
        let mode = parse_mode(&full_key, value)?;
        if mode == Mode::Remediate && rule.remediation.is_none() {
            return Err(ConfigError::NoRemediation {
                key: full_key,
                rule: key.clone(),
            });
        }
        modes.insert(rule.id, mode);
    }
    Ok((default_mode, modes))
}

fn parse_mode(key: &str, value: &str) -> Result<Mode, ConfigError> {
    match value {
        "off" => Ok(Mode::Off),
        "alert" => Ok(Mode::Alert),
        "remediate" => Ok(Mode::Remediate),
        _ => Err(ConfigError::BadMode {
            key: key.to_owned(),
            value: value.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError, parse};
    use crate::rules::{self, Mode};

    #[test]
    fn unknown_rule_id_names_the_key() {
        let err = parse("[modes]\nroot-login = \"alert\"").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown rule id `root-login` in [modes] (see `trailguard rules`)"
        );
    }

    #[test]
    fn asking_the_mode_of_an_unknown_rule_id_is_an_error() {
        let c = Config::default();
        assert!(matches!(
            c.mode_of("root-login"),
            Err(ConfigError::UnknownRule { key }) if key == "root-login"
        ));
        let rule = rules::find("root-api-call").unwrap();
        assert_eq!(c.mode(rule), Mode::Alert);
    }

    #[test]
    fn bad_mode_and_unknown_keys_are_errors() {
        let err = parse("[modes]\nroot-api-call = \"block\"").unwrap_err();
        assert!(err.to_string().contains("`modes.root-api-call` = `block`"));
        let err = parse("[alerts]\nsns_topic = \"x\"").unwrap_err();
        assert!(
            err.to_string().contains("unknown field `sns_topic`"),
            "{err}"
        );
    }

    #[test]
    fn remediate_on_a_rule_without_remediation_is_an_error() {
        let err = parse("[modes]\nroot-console-login = \"remediate\"").unwrap_err();
        assert!(matches!(err, ConfigError::NoRemediation { .. }));
    }

    #[test]
    fn default_remediate_only_applies_where_a_remediation_exists() {
        let c = parse("[modes]\ndefault = \"remediate\"\nroot-api-call = \"off\"").unwrap();
        assert_eq!(c.mode_of("access-key-created").unwrap(), Mode::Remediate);
        assert_eq!(c.mode_of("root-console-login").unwrap(), Mode::Alert);
        assert_eq!(c.mode_of("root-api-call").unwrap(), Mode::Off);
    }
}
