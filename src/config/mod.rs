//! Typed, validated configuration.
//!
//! Read once at start-up from a TOML file (or the built-in default), then
//! overridden by `TRAILGUARD_*` environment variables; every error names the
//! key it is about. The core never reads the environment itself: callers pass
//! the variables in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::inventory::PasswordBaseline;
use crate::remediate::GroupNaming;
use crate::rules::{self, Mode, Rule, ScanSettings, Settings};

mod alerts;
mod env;
mod exemptions;
mod modes;
mod organization;
mod password;
mod remediation;
mod scan;

pub use alerts::Alerts;
pub use env::{ENV_VARS, process_env};
pub use exemptions::Exemptions;
pub use organization::Organization;
pub use remediation::MAX_PROPAGATION_DELAY_SECONDS;

use alerts::redact_urls;
use env::{apply_env, suggestion_text};
use exemptions::RawExemptions;

/// The config a deployment runs with when it names no file.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// A configuration problem, naming the key and the offending value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config `{path}`: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("config `{origin}` is not valid: {message}")]
    Syntax { origin: String, message: String },
    #[error("unknown rule id `{key}` in [modes] (see `trailguard rules`)")]
    UnknownRule { key: String },
    #[error("`{key}` = `{value}`: expected \"off\", \"alert\" or \"remediate\"")]
    BadMode { key: String, value: String },
    #[error("`{key}` = \"remediate\": rule `{rule}` has no remediation")]
    NoRemediation { key: String, rule: String },
    #[error("`{key}`: `{value}` {reason}")]
    BadValue {
        key: String,
        value: String,
        reason: String,
    },
    #[error("unknown environment variable `{name}`{}", suggestion_text(.suggestion))]
    UnknownEnv {
        name: String,
        suggestion: Option<&'static str>,
    },
}

/// The config file as written; unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    self_role_arn: Option<String>,
    #[serde(default)]
    modes: BTreeMap<String, String>,
    #[serde(default)]
    exemptions: RawExemptions,
    #[serde(default)]
    alerts: Alerts,
    #[serde(default)]
    password_policy: PasswordBaseline,
    #[serde(default)]
    remediation: GroupNaming,
    #[serde(default)]
    scan: ScanSettings,
    #[serde(default)]
    organization: Organization,
}

/// The validated configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// Where this config came from (a path, `built-in default`, plus env).
    pub origin: String,
    /// trailguard's own execution role; its events are ignored.
    pub self_role_arn: Option<String>,
    pub default_mode: Mode,
    /// The effective mode of every rule in the registry.
    pub modes: BTreeMap<&'static str, Mode>,
    pub exemptions: Exemptions,
    pub alerts: Alerts,
    pub password_policy: PasswordBaseline,
    pub remediation: GroupNaming,
    pub scan: ScanSettings,
    /// Organisation mode; unset, the one account the function runs in.
    #[serde(skip_serializing_if = "Organization::is_unset")]
    pub organization: Organization,
}

impl Default for Config {
    fn default() -> Self {
        Config::from_toml(DEFAULT_TOML, "built-in default", std::iter::empty())
            .expect("the built-in default config is valid")
    }
}

impl Config {
    /// What the rules are evaluated with, borrowed from this config.
    pub fn rule_settings(&self) -> Settings<'_> {
        Settings {
            password_policy: &self.password_policy,
            remediation: &self.remediation,
            scan: &self.scan,
        }
    }

    /// Reads a config file, or the built-in default when `path` is `None`,
    /// then applies `TRAILGUARD_*` overrides from `env`.
    pub fn load<I>(path: Option<&std::path::Path>, env: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                Config::from_toml(&text, &path.display().to_string(), env)
            }
            None => Config::from_toml(DEFAULT_TOML, "built-in default", env),
        }
    }

    /// Parses and validates TOML text, then applies environment overrides.
    pub fn from_toml<I>(text: &str, origin: &str, env: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let mut raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            origin: origin.to_owned(),
            message: redact_urls(&e.to_string()),
        })?;
        let overridden = apply_env(&mut raw, env)?;
        let origin = if overridden.is_empty() {
            origin.to_owned()
        } else {
            format!("{origin} + env {}", overridden.join(", "))
        };
        validate(raw, origin)
    }

    /// The mode a rule of the registry runs in (validation gave every one
    /// a mode). A rule built outside the registry was never configured, so
    /// it is off.
    pub fn mode(&self, rule: &Rule) -> Mode {
        self.modes.get(rule.id).copied().unwrap_or(Mode::Off)
    }

    /// The mode of the rule with this id; an id not in the registry is an
    /// error, never silently off.
    pub fn mode_of(&self, id: &str) -> Result<Mode, ConfigError> {
        let rule = rules::find(id).ok_or_else(|| ConfigError::UnknownRule { key: id.into() })?;
        Ok(self.mode(rule))
    }
}

/// Checks each section in turn; the first problem found is the error, in
/// the order the sections have always been checked (a config with several
/// problems keeps reporting the same one).
fn validate(mut raw: RawConfig, origin: String) -> Result<Config, ConfigError> {
    let (default_mode, modes) = modes::resolve(&raw.modes)?;
    exemptions::check_principals(&raw.exemptions)?;
    if let Some(arn) = &raw.self_role_arn
        && !(arn.starts_with("arn:") && arn.contains(":role/"))
    {
        return Err(ConfigError::BadValue {
            key: "self_role_arn".into(),
            value: arn.clone(),
            reason: "is not an IAM role ARN".into(),
        });
    }
    alerts::validate(&raw.alerts)?;
    remediation::validate(&raw.remediation)?;
    password::validate(&raw.password_policy)?;
    scan::validate(&raw.scan)?;
    organization::validate(&mut raw.organization)?;
    let exemptions = exemptions::build(raw.exemptions)?;
    Ok(Config {
        origin,
        self_role_arn: raw.self_role_arn,
        default_mode,
        modes,
        exemptions,
        alerts: raw.alerts,
        password_policy: raw.password_policy,
        remediation: raw.remediation,
        scan: raw.scan,
        organization: raw.organization,
    })
}

/// A config from TOML text alone, for the tests of every section.
#[cfg(test)]
fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(text, "test.toml", std::iter::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_default_alerts_on_every_rule() {
        let c = Config::default();
        assert_eq!(c.modes.len(), rules::registry().len());
        assert!(c.modes.values().all(|m| *m == Mode::Alert));
    }

    #[test]
    fn design_example_config_is_accepted() {
        let c = parse(
            r#"
            [modes]
            default = "alert"
            user-policy-attached = "remediate"
            [exemptions]
            principals = ["arn:aws:iam::111122223333:role/BreakGlass"]
            users = ["breakglass-*"]
            tag = "trailguard:exempt"
            [alerts]
            sns_topic_arn = "arn:aws:sns:us-east-1:111122223333:trailguard-alerts"
            slack_webhook_secret_arn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:trailguard-slack"
            "#,
        )
        .unwrap();
        assert_eq!(c.mode_of("user-policy-attached").unwrap(), Mode::Remediate);
        assert_eq!(c.mode_of("root-console-login").unwrap(), Mode::Alert);
        assert_eq!(c.exemptions.user("breakglass-ops"), Some("breakglass-*"));
        assert_eq!(c.exemptions.user("alice"), None);
        assert!(
            c.exemptions
                .principal("arn:aws:iam::111122223333:role/BreakGlass")
                .is_some()
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            (
                "[password_policy]\nminimum_length = 4",
                "password_policy.minimum_length",
            ),
            (
                "[remediation]\ngroup_path = \"trailguard\"",
                "remediation.group_path",
            ),
            ("[exemptions]\nusers = [\"a[\"]", "exemptions.users"),
            ("self_role_arn = \"trailguard\"", "self_role_arn"),
            ("[scan]\nunused_days = 0", "scan.unused_days"),
            (
                "[remediation]\npropagation_delay_seconds = 121",
                "remediation.propagation_delay_seconds",
            ),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(&format!("`{key}`")), "{err}");
        }
    }
}
