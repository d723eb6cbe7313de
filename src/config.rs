//! Typed, validated configuration.
//!
//! Read once at start-up from a TOML file (or the built-in default), then
//! overridden by `TRAILGUARD_*` environment variables; every error names the
//! key it is about. The core never reads the environment itself: callers pass
//! the variables in.

use std::collections::BTreeMap;

use globset::{GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::inventory::PasswordBaseline;
use crate::remediate::GroupNaming;
use crate::rules::{self, Mode, Rule, ScanSettings, Settings};

/// The config a deployment runs with when it names no file.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

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

fn suggestion_text(suggestion: &Option<&'static str>) -> String {
    match suggestion {
        Some(known) => format!(" (did you mean `{known}`?)"),
        None => format!(" (known: {})", ENV_VARS.join(", ")),
    }
}

/// Every `TRAILGUARD_*` variable trailguard reads. Any other is a typo and
/// fails the start: a misspelt override silently ignored would leave, say,
/// remediation on where the operator switched it off. Add new variables
/// here (and, for config overrides, to `apply_env`).
pub const ENV_VARS: &[&str] = &[
    // Read by the binaries, not overrides.
    "TRAILGUARD_CONFIG",
    "TRAILGUARD_SLACK_WEBHOOK_URL",
    // Config overrides (see `apply_env`).
    "TRAILGUARD_DEFAULT_MODE",
    "TRAILGUARD_MODES",
    "TRAILGUARD_SELF_ROLE_ARN",
    "TRAILGUARD_EXEMPT_PRINCIPALS",
    "TRAILGUARD_EXEMPT_USERS",
    "TRAILGUARD_EXEMPT_TAG",
    "TRAILGUARD_SNS_TOPIC_ARN",
    "TRAILGUARD_SLACK_WEBHOOK_SECRET_ARN",
    "TRAILGUARD_GROUP_PREFIX",
    "TRAILGUARD_GROUP_PATH",
    "TRAILGUARD_PROPAGATION_DELAY_SECONDS",
    "TRAILGUARD_SCAN_KEY_ROTATION_DAYS",
    "TRAILGUARD_SCAN_UNUSED_DAYS",
    "TRAILGUARD_SCAN_ROOT_RECENT_DAYS",
    // Read by the test harness only (the moto server's interpreter).
    "TRAILGUARD_PYTHON",
];

/// The process environment, for [`Config::load`]. Unlike
/// `std::env::vars`, never panics: a variable whose name or value is not
/// UTF-8 is passed on lossily (an unknown `TRAILGUARD_` name is still
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
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExemptions {
    #[serde(default)]
    principals: Vec<String>,
    #[serde(default)]
    users: Vec<String>,
    #[serde(default)]
    tag: Option<String>,
}

/// Where alerts go.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Alerts {
    pub sns_topic_arn: Option<String>,
    /// Secrets Manager secret holding the Slack incoming-webhook URL.
    pub slack_webhook_secret_arn: Option<String>,
    /// Environment variable holding the webhook URL directly (local use).
    #[serde(default = "default_slack_env")]
    pub slack_webhook_url_env: String,
}

fn default_slack_env() -> String {
    "TRAILGUARD_SLACK_WEBHOOK_URL".into()
}

impl Default for Alerts {
    /// No alerts, and the webhook URL variable's usual name (a derived
    /// default left it empty when the file had no `[alerts]` table).
    fn default() -> Self {
        Alerts {
            sns_topic_arn: None,
            slack_webhook_secret_arn: None,
            slack_webhook_url_env: default_slack_env(),
        }
    }
}

/// The `[alerts]` keys that name where the Slack webhook URL is. The URL is a
/// credential and is easily pasted into the wrong key, so these errors never
/// repeat the value.
fn check_slack_keys(alerts: &Alerts) -> Result<(), ConfigError> {
    let redacted = |key: &str, reason: &str| ConfigError::BadValue {
        key: key.into(),
        value: "<value not shown>".into(),
        reason: reason.into(),
    };
    if let Some(arn) = alerts.slack_webhook_secret_arn.as_deref()
        && !arn.is_empty()
    {
        let parts: Vec<&str> = arn.splitn(7, ':').collect();
        let valid = parts.len() == 7
            && parts[0] == "arn"
            && parts[2] == "secretsmanager"
            && parts[5] == "secret"
            && parts.iter().all(|p| !p.is_empty())
            && !arn.contains(char::is_whitespace);
        if !valid {
            return Err(redacted(
                "alerts.slack_webhook_secret_arn",
                "is not a Secrets Manager secret ARN \
                 (`arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME`)",
            ));
        }
    }
    let var = &alerts.slack_webhook_url_env;
    let valid_var = var
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_var {
        return Err(redacted(
            "alerts.slack_webhook_url_env",
            "is not an environment variable name (it names the variable \
             that holds the url, it is not the url)",
        ));
    }
    Ok(())
}

/// A TOML error quotes the offending line; a webhook URL on it (in a
/// misspelt key, say) must not reach the logs with it.
fn redact_urls(message: &str) -> String {
    message
        .split_inclusive(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .map(|word| match word.find("://") {
            Some(_) => {
                let end = word
                    .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
                    .unwrap_or(word.len());
                format!("<url not shown>{}", &word[end..])
            }
            None => word.to_owned(),
        })
        .collect()
}

/// The `[alerts]` checks: a webhook URL in any key never comes back in the
/// error.
#[cfg(test)]
mod alerts_tests {
    use super::*;

    const URL: &str = "https://hooks.slack.com/services/T0/B0/SECRETxyz";

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, "test.toml", std::iter::empty())
    }

    #[test]
    fn the_webhook_variable_has_its_name_without_an_alerts_table() {
        let c = parse("").unwrap();
        assert_eq!(
            c.alerts.slack_webhook_url_env,
            "TRAILGUARD_SLACK_WEBHOOK_URL"
        );
        let c = parse("[alerts]\nslack_webhook_url_env = \"MY_HOOK\"").unwrap();
        assert_eq!(c.alerts.slack_webhook_url_env, "MY_HOOK");
    }

    #[test]
    fn a_url_in_the_wrong_key_is_refused_without_being_shown() {
        for text in [
            format!("[alerts]\nslack_webhook_secret_arn = \"{URL}\""),
            format!("[alerts]\nslack_webhook_url_env = \"{URL}\""),
            format!("[alerts]\nsns_topic_arn = \"{URL}\""),
            // Unknown key and bad syntax: TOML quotes the line in its error.
            format!("[alerts]\nslack_webhook_url = \"{URL}\""),
            format!("[alerts]\nslack_webhook_secret_arn = {URL}"),
        ] {
            let err = parse(&text).unwrap_err().to_string();
            assert!(
                !err.contains("SECRETxyz") && !err.contains("hooks.slack"),
                "{err}"
            );
            assert!(
                err.contains("alerts") || err.contains("slack_webhook"),
                "{err}"
            );
        }
        let env = [(
            "TRAILGUARD_SLACK_WEBHOOK_SECRET_ARN".to_owned(),
            URL.to_owned(),
        )];
        let err = Config::from_toml("", "test.toml", env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not a Secrets Manager secret ARN"), "{err}");
        assert!(!err.contains("SECRETxyz"), "{err}");
    }

    #[test]
    fn secret_arns_of_every_partition_are_accepted() {
        for arn in [
            "arn:aws:secretsmanager:us-east-1:111122223333:secret:trailguard-slack-AbCdEf",
            "arn:aws-us-gov:secretsmanager:us-gov-west-1:111122223333:secret:s",
            "arn:aws-cn:secretsmanager:cn-north-1:111122223333:secret:s",
            "arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/slack/hook-AbCdEf",
        ] {
            let text = format!("[alerts]\nslack_webhook_secret_arn = \"{arn}\"");
            assert!(parse(&text).is_ok(), "{arn}");
        }
        assert!(parse("[alerts]\nslack_webhook_secret_arn = \"\"").is_ok());
    }
}

/// The largest `remediation.propagation_delay_seconds`: the wait must fit
/// in the function's timeout with the rest of the event's work.
pub const MAX_PROPAGATION_DELAY_SECONDS: u64 = 120;

/// Who and what is never changed (only alerted on).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Exemptions {
    pub principals: Vec<String>,
    pub users: Vec<String>,
    pub tag: Option<String>,
    #[serde(skip)]
    principal_set: GlobSet,
    #[serde(skip)]
    user_set: GlobSet,
}

impl Exemptions {
    /// The first exempt principal pattern an ARN matches.
    pub fn principal(&self, arn: &str) -> Option<&str> {
        let hit = self.principal_set.matches(arn);
        hit.first().map(|&i| self.principals[i].as_str())
    }

    /// The first exempt user-name glob a user name matches.
    pub fn user(&self, user_name: &str) -> Option<&str> {
        let hit = self.user_set.matches(user_name);
        hit.first().map(|&i| self.users[i].as_str())
    }
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

/// Environment overrides; returns the names of the variables applied.
/// Empty values are ignored (CloudFormation passes unset parameters as "").
fn apply_env<I>(raw: &mut RawConfig, env: I) -> Result<Vec<String>, ConfigError>
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

fn glob_set(key: &str, patterns: &[String]) -> Result<GlobSet, ConfigError> {
    let mut builder = GlobSetBuilder::new();
    for p in patterns {
        // IAM names (users, roles) are unique case-insensitively, and IAM
        // accepts any case of a name in a request: match as IAM does.
        let glob = globset::GlobBuilder::new(p)
            .literal_separator(false)
            .case_insensitive(true)
            .build()
            .map_err(|e| ConfigError::BadValue {
                key: key.to_owned(),
                value: p.clone(),
                reason: format!("is not a valid glob: {}", e.kind()),
            })?;
        builder.add(glob);
    }
    builder.build().map_err(|e| ConfigError::BadValue {
        key: key.to_owned(),
        value: patterns.join(","),
        reason: e.to_string(),
    })
}

fn validate(raw: RawConfig, origin: String) -> Result<Config, ConfigError> {
    let default_mode = match raw.modes.get("default") {
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
    for (key, value) in &raw.modes {
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

    for p in &raw.exemptions.principals {
        if !p.starts_with("arn:") {
            return Err(ConfigError::BadValue {
                key: "exemptions.principals".into(),
                value: p.clone(),
                reason: "is not an ARN (or an ARN glob)".into(),
            });
        }
    }
    if let Some(arn) = &raw.self_role_arn
        && !(arn.starts_with("arn:") && arn.contains(":role/"))
    {
        return Err(ConfigError::BadValue {
            key: "self_role_arn".into(),
            value: arn.clone(),
            reason: "is not an IAM role ARN".into(),
        });
    }
    if let Some(arn) = &raw.alerts.sns_topic_arn
        && !arn.starts_with("arn:")
    {
        return Err(ConfigError::BadValue {
            key: "alerts.sns_topic_arn".into(),
            value: redact_urls(arn),
            reason: "is not an SNS topic ARN".into(),
        });
    }
    check_slack_keys(&raw.alerts)?;
    let naming = &raw.remediation;
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
    let pp = &raw.password_policy;
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

    for (key, days) in [
        ("scan.key_rotation_days", raw.scan.key_rotation_days),
        ("scan.unused_days", raw.scan.unused_days),
        ("scan.root_recent_days", raw.scan.root_recent_days),
    ] {
        if !(1..=3650).contains(&days) {
            return Err(ConfigError::BadValue {
                key: key.into(),
                value: days.to_string(),
                reason: "must be between 1 and 3650 days".into(),
            });
        }
    }

    let exemptions = Exemptions {
        principal_set: glob_set("exemptions.principals", &raw.exemptions.principals)?,
        user_set: glob_set("exemptions.users", &raw.exemptions.users)?,
        principals: raw.exemptions.principals,
        users: raw.exemptions.users,
        tag: raw.exemptions.tag.filter(|t| !t.is_empty()),
    };
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, "test.toml", std::iter::empty())
    }

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
