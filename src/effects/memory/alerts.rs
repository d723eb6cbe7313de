//! The alert channels' fakes: SNS ([`RecordingPublisher`]), the Slack
//! webhook ([`RecordingWebhook`]) and the secret holding its URL
//! ([`MemorySecrets`]).

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::effects::{
    EffectError, ErrorKind, Publisher, Secret, Secrets, SnsMessage, Webhook, WebhookUrl,
};

/// Records published SNS messages; fails with a set error when told to.
#[derive(Debug, Default)]
pub struct RecordingPublisher {
    messages: Mutex<Vec<SnsMessage>>,
    fail: Mutex<Option<EffectError>>,
}

impl RecordingPublisher {
    pub fn messages(&self) -> Vec<SnsMessage> {
        lock(&self.messages).clone()
    }

    /// Every later publish fails with `error` (until set to `None`).
    pub fn fail_with(&self, error: Option<EffectError>) {
        *lock(&self.fail) = error;
    }
}

#[async_trait]
impl Publisher for RecordingPublisher {
    async fn publish(&self, message: &SnsMessage) -> Result<String, EffectError> {
        if let Some(e) = lock(&self.fail).clone() {
            return Err(e);
        }
        let mut list = lock(&self.messages);
        list.push(message.clone());
        Ok(format!("memory-{}", list.len()))
    }
}

/// Records webhook bodies; fails with a set error when told to, and
/// answers a revoked URL as Slack does (404 `no_service`).
#[derive(Debug, Default)]
pub struct RecordingWebhook {
    bodies: Mutex<Vec<serde_json::Value>>,
    fail: Mutex<Option<EffectError>>,
    revoked: Mutex<Vec<WebhookUrl>>,
}

impl RecordingWebhook {
    pub fn bodies(&self) -> Vec<serde_json::Value> {
        lock(&self.bodies).clone()
    }

    pub fn fail_with(&self, error: Option<EffectError>) {
        *lock(&self.fail) = error;
    }

    /// Posts to `url` are refused from now on: the hook was revoked.
    pub fn revoke(&self, url: &str) {
        let url = WebhookUrl::parse(Secret::new(url)).expect("a webhook URL");
        lock(&self.revoked).push(url);
    }
}

#[async_trait]
impl Webhook for RecordingWebhook {
    async fn post_json(
        &self,
        url: &WebhookUrl,
        body: &serde_json::Value,
    ) -> Result<(), EffectError> {
        if let Some(e) = lock(&self.fail).clone() {
            return Err(e);
        }
        if lock(&self.revoked).contains(url) {
            return Err(EffectError {
                operation: "slack:PostMessage",
                kind: ErrorKind::Invalid,
                code: Some(crate::effects::webhook::HOOK_GONE.into()),
                message: "webhook answered 404 (no_service)".into(),
            });
        }
        lock(&self.bodies).push(body.clone());
        Ok(())
    }
}

/// Secrets in memory: ARN -> value.
#[derive(Debug, Default)]
pub struct MemorySecrets {
    values: Mutex<BTreeMap<String, String>>,
}

impl MemorySecrets {
    pub fn with(self, arn: &str, value: &str) -> Self {
        self.set(arn, value);
        self
    }

    /// Gives `arn` a new value: the secret rotated.
    pub fn set(&self, arn: &str, value: &str) {
        lock(&self.values).insert(arn.to_owned(), value.to_owned());
    }
}

#[async_trait]
impl Secrets for MemorySecrets {
    async fn secret_string(&self, secret_arn: &str) -> Result<Secret, EffectError> {
        lock(&self.values)
            .get(secret_arn)
            .map(Secret::new)
            .ok_or_else(|| EffectError {
                operation: "secretsmanager:GetSecretValue",
                kind: ErrorKind::NotFound,
                code: Some("ResourceNotFoundException".into()),
                message: format!("secret `{secret_arn}` not found"),
            })
    }
}
