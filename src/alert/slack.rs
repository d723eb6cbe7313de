//! The Slack alert: a Block Kit message for an incoming webhook, and where
//! the webhook URL comes from.
//!
//! Every string that comes from an event (names, user agents, documents) is
//! escaped for Slack's mrkdwn (`&`, `<`, `>`), so it cannot open a link,
//! mention `<!channel>` or break out of a block.

use serde_json::{Value, json};

use super::{Facts, cut, pretty};
use crate::effects::{EffectError, Secret, Secrets, WebhookUrl};
use crate::remediate::Status;

/// Slack's limits: section text 3000, header 150, a field 2000 characters.
const SECTION_MAX: usize = 2900;
const HEADER_MAX: usize = 150;
const FIELD_MAX: usize = 1900;

/// Escapes text for Slack mrkdwn and plain text.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

fn mrkdwn(text: String) -> Value {
    json!({"type": "mrkdwn", "text": text})
}

fn field(label: &str, value: &str) -> Value {
    mrkdwn(cut(&format!("*{label}*\n{}", escape(value)), FIELD_MAX))
}

/// The Block Kit message for one decision.
pub fn message(facts: &Facts) -> Value {
    let d = facts.decision;
    let rule = facts.rule();
    let header = cut(
        &format!(
            "{} {}: {}",
            severity_mark(d.finding.severity.as_str()),
            d.finding.severity.as_str().to_uppercase(),
            facts.title()
        ),
        HEADER_MAX,
    );
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": header}}),
        json!({"type": "section", "text": mrkdwn(cut(&escape(&d.finding.summary), SECTION_MAX))}),
        json!({"type": "section", "fields": [
            field("Who", &facts.who()),
            field("What", &facts.what()),
            field("Target", &d.finding.target.label()),
            field("Account / region", &format!("{} / {}", facts.account(), facts.region())),
            field("When", facts.time()),
            field("Source IP", facts.source_ip()),
            field("User agent", facts.user_agent()),
            field("Rule / mode", &format!("{} / {}", d.finding.rule, d.mode.as_str())),
        ]}),
    ];
    let mut remediation = format!("*Remediation:* {}", escape(&facts.remediation_headline()));
    if let Some(why) = &d.exempt {
        remediation += &format!("\n_Exempt:_ {}", escape(why));
    }
    if let Some(r) = facts.remediation {
        for note in &r.notes {
            remediation += &format!("\n• {}", escape(note));
        }
        if !r.calls.is_empty() {
            remediation += match r.status {
                Status::Planned => "\n_Would call:_",
                Status::Failed => "\n_Calls made before the failure:_",
                _ => "\n_Calls made:_",
            };
        }
        for c in &r.calls {
            remediation += &format!("\n`{}`", code(c));
        }
        if !r.undo.is_empty() {
            remediation += "\n_To undo:_";
            for u in &r.undo {
                remediation += &format!("\n`{}`", code(u));
            }
        }
    }
    blocks.push(json!({"type": "section", "text": mrkdwn(cut(&remediation, SECTION_MAX))}));
    if let Some(doc) = facts.remediation.and_then(|r| r.document.as_deref()) {
        let text = format!("*Policy document moved:*\n```{}```", code(&pretty(doc)));
        blocks.push(json!({"type": "section", "text": mrkdwn(cut(&text, SECTION_MAX))}));
    }
    if let Some(rule) = rule {
        blocks.push(json!({"type": "context", "elements": [mrkdwn(cut(
            &format!(
                "*Best practice:* {} · *Controls:* {}",
                escape(rule.practice),
                escape(&rule.controls.join(", "))
            ),
            FIELD_MAX,
        ))]}));
    }
    if let Some(link) = facts.console_link() {
        blocks.push(json!({"type": "actions", "elements": [{
            "type": "button",
            "text": {"type": "plain_text", "text": "Open the event in CloudTrail"},
            "url": link,
        }]}));
    }
    json!({
        // The notification text, for clients that do not render blocks.
        "text": cut(&escape(&format!(
            "trailguard {}: {} ({})",
            d.finding.severity.as_str(),
            d.finding.summary,
            facts.account()
        )), SECTION_MAX),
        "blocks": blocks,
    })
}

/// Text inside backticks: escaped, with backticks that would end it replaced.
fn code(text: &str) -> String {
    escape(text).replace('`', "'")
}

fn severity_mark(severity: &str) -> &'static str {
    match severity {
        "critical" => "🚨",
        "high" => "🔴",
        "medium" => "🟠",
        _ => "🔵",
    }
}

/// Where the webhook URL comes from.
#[derive(Debug, Clone)]
pub enum WebhookSource {
    /// No Slack alerts.
    None,
    /// A Secrets Manager secret holding the URL (or `{"url": ...}`).
    Secret { arn: String },
    /// The URL itself, read from the environment variable `var` (local use).
    Env { var: String, url: WebhookUrl },
}

/// Why the webhook URL could not be had. Never contains the URL.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WebhookError {
    #[error("cannot read slack webhook secret `{arn}`: {source}")]
    Read {
        arn: String,
        #[source]
        source: EffectError,
    },
    #[error("slack webhook url in `{origin}` {reason}")]
    Invalid {
        origin: String,
        reason: &'static str,
    },
}

impl WebhookError {
    /// A failed secret read may succeed later; a bad URL will not.
    pub fn is_retryable(&self) -> bool {
        matches!(self, WebhookError::Read { source, .. } if source.is_retryable())
    }
}

impl WebhookSource {
    /// The secret ARN wins over the environment variable; `env_value` is the
    /// variable's value, read by the caller.
    pub fn from_config(
        alerts: &crate::config::Alerts,
        env_value: Option<String>,
    ) -> Result<Self, WebhookError> {
        if let Some(arn) = alerts
            .slack_webhook_secret_arn
            .as_deref()
            .filter(|a| !a.is_empty())
        {
            return Ok(WebhookSource::Secret {
                arn: arn.to_owned(),
            });
        }
        match env_value.filter(|v| !v.trim().is_empty()) {
            Some(v) => {
                let var = alerts.slack_webhook_url_env.clone();
                let url =
                    WebhookUrl::parse(Secret::new(v)).map_err(|reason| WebhookError::Invalid {
                        origin: format!("${var}"),
                        reason,
                    })?;
                Ok(WebhookSource::Env { var, url })
            }
            None => Ok(WebhookSource::None),
        }
    }

    /// The URL, reading the secret when it comes from one.
    pub async fn resolve(&self, secrets: &dyn Secrets) -> Result<Option<WebhookUrl>, WebhookError> {
        match self {
            WebhookSource::None => Ok(None),
            WebhookSource::Env { url, .. } => Ok(Some(url.clone())),
            WebhookSource::Secret { arn } => {
                let secret =
                    secrets
                        .secret_string(arn)
                        .await
                        .map_err(|source| WebhookError::Read {
                            arn: arn.clone(),
                            source,
                        })?;
                url_from_secret(&secret)
                    .map(Some)
                    .map_err(|reason| WebhookError::Invalid {
                        origin: arn.clone(),
                        reason,
                    })
            }
        }
    }
}

/// A secret holds the URL itself, or JSON with a `url` or `webhook_url` key.
fn url_from_secret(secret: &Secret) -> Result<WebhookUrl, &'static str> {
    let text = secret.expose().trim();
    if text.starts_with('{') {
        let value: Value = serde_json::from_str(text).map_err(|_| "is not valid JSON")?;
        let url = ["url", "webhook_url", "webhookUrl"]
            .iter()
            .find_map(|k| value.get(*k).and_then(Value::as_str))
            .ok_or("has no `url` key")?;
        return WebhookUrl::parse(Secret::new(url));
    }
    WebhookUrl::parse(Secret::new(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_links_and_mentions() {
        assert_eq!(
            escape("<!channel> & <https://evil|click>"),
            "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;"
        );
    }

    #[test]
    fn secret_may_hold_the_url_or_json() {
        let plain = Secret::new("https://hooks.slack.com/services/A/B/C");
        assert!(url_from_secret(&plain).is_ok());
        let json = Secret::new(r#"{"url": "https://hooks.slack.com/services/A/B/C"}"#);
        assert_eq!(
            url_from_secret(&json).unwrap().expose(),
            "https://hooks.slack.com/services/A/B/C"
        );
        assert!(url_from_secret(&Secret::new("{}")).is_err());
    }

    #[test]
    fn secret_arn_wins_over_the_environment() {
        let alerts = crate::config::Alerts {
            slack_webhook_secret_arn: Some("arn:aws:secretsmanager:us-east-1:1:secret:s".into()),
            ..Default::default()
        };
        let src =
            WebhookSource::from_config(&alerts, Some("https://hooks.slack.com/x".into())).unwrap();
        assert!(matches!(src, WebhookSource::Secret { .. }));
        let alerts = crate::config::Alerts::default();
        let err = WebhookSource::from_config(&alerts, Some("http://evil.example/SECRET".into()))
            .unwrap_err();
        assert!(!err.to_string().contains("SECRET"));
        assert!(matches!(
            WebhookSource::from_config(&alerts, None).unwrap(),
            WebhookSource::None
        ));
    }
}
