//! Incoming webhooks (Slack) over HTTPS with reqwest.
//!
//! The URL is a credential. reqwest puts the URL in its error messages, so
//! every error is stripped of it (`without_url`) before it is turned into an
//! [`EffectError`]; nothing here logs.

use std::time::Duration;

use async_trait::async_trait;

use super::{EffectError, ErrorKind, Webhook, WebhookUrl};

const OP: &str = "slack:PostMessage";

/// Posts JSON with a shared HTTP client and a bounded timeout.
///
/// The client (and the root certificates it loads) is built on first use:
/// a deployment without Slack never pays for it at cold start.
#[derive(Debug, Default)]
pub struct HttpWebhook {
    client: tokio::sync::OnceCell<reqwest::Client>,
}

impl HttpWebhook {
    /// A client with a 10 s timeout; redirects are not followed (a webhook
    /// that redirects is misconfigured, and the URL must not travel on).
    pub fn new() -> Result<Self, EffectError> {
        Ok(HttpWebhook::default())
    }

    async fn client(&self) -> Result<&reqwest::Client, EffectError> {
        self.client
            .get_or_try_init(|| async {
                reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(|e| {
                        EffectError::new(OP, ErrorKind::Other, e.without_url().to_string())
                    })
            })
            .await
    }
}

#[async_trait]
impl Webhook for HttpWebhook {
    async fn post_json(
        &self,
        url: &WebhookUrl,
        body: &serde_json::Value,
    ) -> Result<(), EffectError> {
        let response = self
            .client()
            .await?
            .post(url.expose())
            .json(body)
            .send()
            .await
            .map_err(|e| {
                let kind = if e.is_timeout() || e.is_connect() || e.is_request() {
                    ErrorKind::Unavailable
                } else {
                    ErrorKind::Other
                };
                EffectError::new(OP, kind, e.without_url().to_string())
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        // Slack answers errors with a short text such as `invalid_payload`.
        let text: String = response
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
        let mut err = EffectError::new(
            OP,
            ErrorKind::from_code(None, Some(status.as_u16())),
            format!("webhook answered {status}: {text}"),
        );
        // Slack's 404/410 mean a revoked hook or an archived channel, not a
        // missing entity trailguard could wait for.
        if err.kind == ErrorKind::NotFound {
            err.kind = ErrorKind::Invalid;
        }
        Err(err)
    }
}
