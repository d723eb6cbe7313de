//! The Slack alert: a Block Kit message for an incoming webhook, and where
//! the webhook URL comes from.
//!
//! Every string that comes from an event (names, user agents, documents) is
//! escaped for Slack's mrkdwn (`&`, `<`, `>`), so it cannot open a link,
//! mention `<!channel>` or break out of a block, and every mrkdwn text is
//! `verbatim`, so a bare URL or `@channel` in it stays text.

use serde_json::{Value, json};

use super::text::escape_controls;
use super::{Facts, cut, pretty};
use crate::effects::{EffectError, Secret, Secrets, WebhookUrl};
use crate::remediate::Status;
use crate::rules::Severity;

/// Slack's Block Kit limits: section text 3000, header 150, a field 2000
/// characters, a button's URL 3000 (a message over any of them is refused
/// whole, so every text is cut to fit and an over-long link is dropped).
const SECTION_MAX: usize = 2900;
const HEADER_MAX: usize = 150;
const FIELD_MAX: usize = 1900;
const BUTTON_URL_MAX: usize = 3000;

/// Escapes text for Slack mrkdwn and plain text; control characters are
/// shown escaped too (see [`escape_controls`]), so a CR/LF in an event
/// cannot start a line of its own that reads like one of the alert's.
pub fn escape(text: &str) -> String {
    let text = escape_controls(text);
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

/// Cuts escaped text to at most `max` characters without splitting an
/// entity: `&lt;` cut to `&l` would show as text. Every `&` in escaped text
/// starts an entity, so a cut after an `&` with no `;` backs up to it.
pub fn cut_escaped(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut = cut(text, max);
    let kept = &cut[..cut.len() - "...".len()];
    match kept.rfind('&') {
        Some(amp) if !kept[amp..].contains(';') => format!("{}...", &kept[..amp]),
        _ => cut,
    }
}

/// A mrkdwn text object, `verbatim`: Slack turns no bare URL into a link
/// and parses no `@channel`, `@here` or `#channel` written as plain text (an
/// IAM user name may hold `@`); the escaped `<`, `>` and `&` already keep
/// out its explicit `<...>` syntax.
pub(crate) fn mrkdwn(text: String) -> Value {
    json!({"type": "mrkdwn", "text": text, "verbatim": true})
}

fn field(label: &str, value: &str) -> Value {
    mrkdwn(cut_escaped(
        &format!("*{label}*\n{}", escape(value)),
        FIELD_MAX,
    ))
}

/// Every mrkdwn text object of a message is verbatim ([`mrkdwn`]).
#[cfg(test)]
pub(crate) fn assert_mrkdwn_verbatim(message: &Value) {
    match message {
        Value::Object(o) => {
            if o.get("type").and_then(Value::as_str) == Some("mrkdwn") {
                assert_eq!(o.get("verbatim"), Some(&Value::Bool(true)), "{message}");
            }
            o.values().for_each(assert_mrkdwn_verbatim);
        }
        Value::Array(a) => a.iter().for_each(assert_mrkdwn_verbatim),
        _ => {}
    }
}

/// The Block Kit message for one decision.
pub fn message(facts: &Facts) -> Value {
    let d = facts.decision;
    let rule = facts.rule();
    let header = cut(
        &format!(
            "{} {}: {}",
            severity_mark(d.finding.severity),
            d.finding.severity.as_str().to_uppercase(),
            facts.title()
        ),
        HEADER_MAX,
    );
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": header}}),
        json!({"type": "section", "text": mrkdwn(cut_escaped(&escape(&d.finding.summary), SECTION_MAX))}),
        json!({"type": "section", "fields": [
            field("Who", &facts.who()),
            field("What", &facts.what()),
            field("Target", &d.finding.target.label()),
            field("Account / region", &format!("{} / {}", facts.account_label(), facts.region())),
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
    blocks.push(json!({"type": "section", "text": mrkdwn(cut_escaped(&remediation, SECTION_MAX))}));
    if let Some(doc) = facts.remediation.and_then(|r| r.document.as_deref()) {
        // Cut inside the code block, so its closing fence survives.
        const HEADING: &str = "*Policy document moved:*\n``````";
        // The pretty document's line breaks are its own: kept.
        let lines: Vec<String> = pretty(doc).split('\n').map(code).collect();
        let doc = cut_escaped(&lines.join("\n"), SECTION_MAX - HEADING.len());
        let text = format!("*Policy document moved:*\n```{doc}```");
        blocks.push(json!({"type": "section", "text": mrkdwn(text)}));
    }
    if let Some(rule) = rule {
        blocks.push(json!({"type": "context", "elements": [mrkdwn(cut_escaped(
            &format!(
                "*Best practice:* {} · *Controls:* {}",
                escape(rule.practice),
                escape(&rule.controls.join(", "))
            ),
            FIELD_MAX,
        ))]}));
    }
    match facts.console_link() {
        Some(link) if link.chars().count() <= BUTTON_URL_MAX => {
            blocks.push(json!({"type": "actions", "elements": [{
                "type": "button",
                "text": {"type": "plain_text", "text": "Open the event in CloudTrail"},
                "url": link,
            }]}));
            if let Some(note) = facts.console_account_note() {
                blocks.push(json!({"type": "context", "elements": [mrkdwn(cut_escaped(&escape(&note), FIELD_MAX))]}));
            }
        }
        // No button rather than no alert: the event id, cut, says where to look.
        Some(_) => blocks.push(json!({"type": "context", "elements": [mrkdwn(cut_escaped(
            &format!("*Event id:* {}", escape(facts.event_id())),
            FIELD_MAX,
        ))]})),
        None => {}
    }
    json!({
        // The notification text, for clients that do not render blocks.
        "text": cut_escaped(&escape(&format!(
            "trailguard {}: {} ({})",
            d.finding.severity.as_str(),
            d.finding.summary,
            facts.account_label()
        )), SECTION_MAX),
        "blocks": blocks,
    })
}

/// Text inside backticks: escaped, with backticks that would end it replaced.
fn code(text: &str) -> String {
    escape(text).replace('`', "'")
}

fn severity_mark(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "🚨",
        Severity::High => "🔴",
        Severity::Medium => "🟠",
        Severity::Low => "🔵",
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
    use crate::alert::testing::{decision, event_with};

    #[test]
    fn another_accounts_message_names_it_and_says_where_the_console_opens() {
        let event = event_with("eventID", "e-1");
        let d = decision("bob", "bob got a policy");
        let own = message(&Facts::new(&event, &d, None)).to_string();
        let other = message(&Facts::new(&event, &d, None).in_other_account(Some("Prod")));
        let text = other.to_string();
        assert!(text.contains("111122223333 (Prod) / us-east-1"), "{text}");
        assert!(
            other["text"]
                .as_str()
                .unwrap()
                .ends_with("(111122223333 (Prod))")
        );
        assert!(text.contains("sign in to account 111122223333 (Prod)"));
        assert!(!own.contains("sign in to account") && !own.contains("Prod"));
    }

    /// Every text of the message within Block Kit's limits, and every `&`
    /// in it the start of a whole entity.
    fn assert_valid_block_kit(message: &Value) {
        fn whole_entities(text: &str) {
            for (i, _) in text.match_indices('&') {
                let rest = &text[i..];
                assert!(
                    ["&amp;", "&lt;", "&gt;"]
                        .iter()
                        .any(|e| rest.starts_with(e)),
                    "half an entity at {i}: {:?}",
                    &rest[..rest.len().min(8)]
                );
            }
        }
        let chars = |v: &Value| v.as_str().unwrap().chars().count();
        whole_entities(message["text"].as_str().unwrap());
        for block in message["blocks"].as_array().unwrap() {
            match block["type"].as_str().unwrap() {
                "header" => assert!(chars(&block["text"]["text"]) <= 150),
                "section" => {
                    if let Some(text) = block.get("text") {
                        assert!(chars(&text["text"]) <= 3000);
                        whole_entities(text["text"].as_str().unwrap());
                    }
                    for f in block["fields"].as_array().into_iter().flatten() {
                        assert!(chars(&f["text"]) <= 2000);
                        whole_entities(f["text"].as_str().unwrap());
                    }
                }
                "context" => {
                    for e in block["elements"].as_array().unwrap() {
                        assert!(chars(&e["text"]) <= 3000);
                        whole_entities(e["text"].as_str().unwrap());
                    }
                }
                "actions" => {
                    for e in block["elements"].as_array().unwrap() {
                        assert!(chars(&e["url"]) <= 3000, "button url over 3000");
                    }
                }
                other => panic!("unexpected block {other}"),
            }
        }
    }

    /// `<` escapes to `&lt;`: a cut by characters after escaping left `&l`.
    #[test]
    fn long_escaped_text_is_cut_on_entity_boundaries() {
        for n in [2895, 2896, 2897, 2898, 5000] {
            let angles = "<".repeat(n);
            let event = event_with("userAgent", &angles);
            let d = decision("bob", &angles);
            let message = message(&Facts::new(&event, &d, None));
            assert_valid_block_kit(&message);
        }
        assert_eq!(cut_escaped("ab&lt;cd", 6), "ab...");
        assert_eq!(cut_escaped("ab&lt;cd", 9), "ab&lt;cd");
        assert_eq!(cut_escaped("&lt;&lt;&lt;", 10), "&lt;...");
    }

    /// Slack refuses a whole message whose button URL is over 3,000
    /// characters; an event id of 3,000 characters made one.
    #[test]
    fn an_over_long_console_link_drops_the_button_not_the_alert() {
        let event = event_with("eventID", &"a".repeat(3000));
        let d = decision("bob", "bob got a policy");
        let long = message(&Facts::new(&event, &d, None));
        assert_valid_block_kit(&long);
        let blocks = long["blocks"].as_array().unwrap();
        assert!(blocks.iter().all(|b| b["type"] != "actions"));
        let last = blocks.last().unwrap()["elements"][0]["text"]
            .as_str()
            .unwrap();
        assert!(last.starts_with("*Event id:* aaaa"), "{last}");

        let event = event_with("eventID", "8a1f3c55");
        let short = message(&Facts::new(&event, &d, None));
        assert_eq!(
            short["blocks"].as_array().unwrap().last().unwrap()["type"],
            "actions"
        );
    }

    #[test]
    fn escape_neutralises_links_and_mentions() {
        assert_eq!(
            escape("<!channel> & <https://evil|click>"),
            "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;"
        );
    }

    #[test]
    fn mentions_and_urls_written_as_plain_text_stay_text() {
        // IAM user names may hold `@`; user agents may hold URLs.
        let event = event_with("userAgent", "@channel https://evil.example/x");
        let d = decision("@here", "@here got a policy");
        let message = message(&Facts::new(&event, &d, None));
        assert!(message.to_string().contains("@here got a policy"));
        assert_mrkdwn_verbatim(&message);
        let mrkdwn_objects = message.to_string().matches(r#""type":"mrkdwn""#).count();
        assert!(mrkdwn_objects >= 5, "{mrkdwn_objects}");
    }

    #[test]
    fn event_line_breaks_cannot_forge_lines_in_slack() {
        let forged = "curl\n*Remediation:* nothing to do\r\u{1b}";
        let event = event_with("userAgent", forged);
        let d = decision("bob", "bob got a policy");
        let message = message(&Facts::new(&event, &d, None));
        let fields = message["blocks"][2]["fields"].as_array().unwrap();
        let agent = fields
            .iter()
            .map(|f| f["text"].as_str().unwrap())
            .find(|t| t.starts_with("*User agent*"))
            .unwrap();
        assert_eq!(
            agent,
            "*User agent*\ncurl\\n*Remediation:* nothing to do\\r\\u{1b}"
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
