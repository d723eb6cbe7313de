//! `[alerts]`: where alerts go. The Slack webhook URL is a credential, so
//! no error of this section ever repeats it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::rules::grouping::{GroupBy, Grouping, default_grouping};
use crate::rules::{self, Check};

/// The longest grouping window: a day.
pub const MAX_WINDOW_MINUTES: u32 = 24 * 60;

/// `[alerts.grouping.RULE]`: a rule's grouping, over the registry's.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GroupingOverride {
    /// The parts of the event that make a group.
    pub by: Option<Vec<GroupBy>>,
    /// The window; 0 = not grouped.
    pub window_minutes: Option<u32>,
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
    /// DynamoDB table recording the alerts sent, so each finding is alerted
    /// once per channel; unset, no deduplication.
    #[serde(default)]
    pub state_table: Option<String>,
    /// Per rule id, overrides of the registry's grouping (which needs the
    /// state table).
    #[serde(default)]
    pub grouping: BTreeMap<String, GroupingOverride>,
    /// Import every finding into AWS Security Hub (ASFF).
    #[serde(default)]
    pub security_hub: bool,
}

impl Alerts {
    /// The grouping `rule` runs with: the registry's, as overridden here;
    /// `None` when not grouped.
    pub fn grouping(&self, rule: &str) -> Option<Grouping> {
        let base = default_grouping(rule);
        let Some(o) = self.grouping.get(rule) else {
            return base;
        };
        let window_minutes = o
            .window_minutes
            .or(base.as_ref().map(|g| g.window_minutes))?;
        let by = o.by.clone().or(base.map(|g| g.by))?;
        (window_minutes > 0 && !by.is_empty()).then_some(Grouping { by, window_minutes })
    }
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
            state_table: None,
            grouping: BTreeMap::new(),
            security_hub: false,
        }
    }
}

/// Checks the `[alerts]` keys: the SNS topic first, then the Slack keys.
pub(super) fn validate(alerts: &Alerts) -> Result<(), ConfigError> {
    if let Some(arn) = &alerts.sns_topic_arn
        && !arn.starts_with("arn:")
    {
        return Err(ConfigError::BadValue {
            key: "alerts.sns_topic_arn".into(),
            value: redact_urls(arn),
            reason: "is not an SNS topic ARN".into(),
        });
    }
    check_slack_keys(alerts)?;
    check_state_table(alerts)?;
    check_grouping(alerts)
}

/// Each `[alerts.grouping.RULE]` names an event rule (the scan's findings
/// are already summarised) and ends with a key and a window of at most a day.
fn check_grouping(alerts: &Alerts) -> Result<(), ConfigError> {
    for (id, o) in &alerts.grouping {
        let key = format!("alerts.grouping.{id}");
        let Some(rule) = rules::find(id) else {
            return Err(ConfigError::UnknownRule { key });
        };
        if !matches!(rule.check, Check::Event { .. }) {
            return Err(ConfigError::BadValue {
                key,
                value: id.clone(),
                reason: "is a scan rule; the scan sends one summary, never grouped".into(),
            });
        }
        if let Some(w) = o.window_minutes
            && w > MAX_WINDOW_MINUTES
        {
            return Err(ConfigError::BadValue {
                key: format!("{key}.window_minutes"),
                value: w.to_string(),
                reason: format!("is more than {MAX_WINDOW_MINUTES} minutes (a day)"),
            });
        }
        let window = o
            .window_minutes
            .or(default_grouping(id).map(|g| g.window_minutes));
        let by = o.by.clone().or(default_grouping(id).map(|g| g.by));
        if window.is_some_and(|w| w > 0) && by.as_ref().is_none_or(|b| b.is_empty()) {
            return Err(ConfigError::BadValue {
                key: format!("{key}.by"),
                value: "[]".into(),
                reason: "is empty: name what makes a group (principal, session, source-ip, target)"
                    .into(),
            });
        }
        if by.is_some() && window.is_none() {
            return Err(ConfigError::BadValue {
                key: format!("{key}.window_minutes"),
                value: "unset".into(),
                reason: "is needed: the rule has no window in the registry".into(),
            });
        }
    }
    Ok(())
}

/// A DynamoDB table name: 3 to 255 of `a-z A-Z 0-9 _ - .`.
fn check_state_table(alerts: &Alerts) -> Result<(), ConfigError> {
    let Some(table) = &alerts.state_table else {
        return Ok(());
    };
    let valid = (3..=255).contains(&table.len())
        && table
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if valid {
        return Ok(());
    }
    Err(ConfigError::BadValue {
        key: "alerts.state_table".into(),
        value: redact_urls(table),
        reason: "is not a DynamoDB table name (3 to 255 of a-z, A-Z, 0-9, `_`, `-`, `.`)".into(),
    })
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
pub(super) fn redact_urls(message: &str) -> String {
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
mod tests {
    use crate::config::{Config, parse};

    const URL: &str = "https://hooks.slack.com/services/T0/B0/SECRETxyz";

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

    #[test]
    fn grouping_is_the_registrys_as_the_config_overrides_it() {
        use crate::rules::grouping::GroupBy;
        let c = parse("").unwrap();
        let g = c.alerts.grouping("root-api-call").unwrap();
        assert_eq!(g.by, [GroupBy::Session, GroupBy::SourceIp]);
        assert_eq!(g.window_minutes, 60);
        assert_eq!(c.alerts.grouping("access-key-created"), None);
        let c = parse(
            "[alerts.grouping.root-api-call]\nwindow_minutes = 15\n\
             [alerts.grouping.console-login-without-mfa]\nwindow_minutes = 0\n\
             [alerts.grouping.access-key-reactivated]\nby = [\"target\"]\nwindow_minutes = 30",
        )
        .unwrap();
        assert_eq!(
            c.alerts.grouping("root-api-call").unwrap().window_minutes,
            15
        );
        assert_eq!(c.alerts.grouping("console-login-without-mfa"), None);
        let g = c.alerts.grouping("access-key-reactivated").unwrap();
        assert_eq!((g.by, g.window_minutes), (vec![GroupBy::Target], 30));
        for (text, needle) in [
            (
                "[alerts.grouping.no-such-rule]\nwindow_minutes = 5",
                "unknown rule id `alerts.grouping.no-such-rule`",
            ),
            (
                "[alerts.grouping.access-key-unused]\nwindow_minutes = 5",
                "is a scan rule",
            ),
            (
                "[alerts.grouping.root-api-call]\nwindow_minutes = 1441",
                "`alerts.grouping.root-api-call.window_minutes`: `1441` is more than 1440 minutes",
            ),
            (
                "[alerts.grouping.root-api-call]\nby = []",
                "`alerts.grouping.root-api-call.by`: `[]` is empty",
            ),
            (
                "[alerts.grouping.access-key-created]\nby = [\"target\"]",
                "window_minutes`: `unset` is needed",
            ),
            (
                "[alerts.grouping.root-api-call]\nby = [\"ip\"]",
                "unknown variant `ip`",
            ),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn security_hub_is_opt_in_from_the_file_or_the_environment() {
        assert!(!parse("").unwrap().alerts.security_hub);
        assert!(
            parse("[alerts]\nsecurity_hub = true")
                .unwrap()
                .alerts
                .security_hub
        );
        let env = |v: &str| [("TRAILGUARD_SECURITY_HUB".to_owned(), v.to_owned())];
        assert!(
            Config::from_toml("", "t", env("TRUE"))
                .unwrap()
                .alerts
                .security_hub
        );
        assert!(
            !Config::from_toml("[alerts]\nsecurity_hub = true", "t", env("false"))
                .unwrap()
                .alerts
                .security_hub
        );
        let err = Config::from_toml("", "t", env("yes"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "`TRAILGUARD_SECURITY_HUB`: `yes` is not `true` or `false`"
        );
    }

    #[test]
    fn the_state_table_is_a_table_name_from_the_file_or_the_environment() {
        assert_eq!(parse("").unwrap().alerts.state_table, None);
        let c = parse("[alerts]\nstate_table = \"trailguard-state\"").unwrap();
        assert_eq!(c.alerts.state_table.as_deref(), Some("trailguard-state"));
        let env = [(
            "TRAILGUARD_STATE_TABLE".to_owned(),
            "ops.state_1".to_owned(),
        )];
        let c = Config::from_toml("", "t", env).unwrap();
        assert_eq!(c.alerts.state_table.as_deref(), Some("ops.state_1"));
        for bad in ["ab", "my table", "arn:aws:dynamodb:us-east-1:1:table/x"] {
            let err = parse(&format!("[alerts]\nstate_table = \"{bad}\""))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("`alerts.state_table`: `")
                    && err.contains("is not a DynamoDB table name"),
                "{err}"
            );
        }
    }
}
