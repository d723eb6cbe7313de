//! What the executor acts through, built once per process (a Lambda cold
//! start, a CLI run) and shared by every event and scan.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

use crate::alert::slack::{WebhookError, WebhookSource};
use crate::config::Config;
use crate::effects::aws::{AwsIam, AwsSecrets, AwsSns, AwsTrail};
use crate::effects::aws_hub::AwsHub;
use crate::effects::aws_member::{AwsAccountLister, AwsAccountNames, AwsMembers, AwsScanQueue};
use crate::effects::aws_state::DynamoAlertState;
use crate::effects::webhook::HttpWebhook;
use crate::effects::{
    AccountEffects, AccountLister, AccountNames, AlertState, CredentialSource, FindingsHub, Iam,
    MemberAccess, Publisher, ScanQueue, Secrets, TrailControl, Webhook, WebhookUrl,
};
use crate::remediate::{Retry, Sleep, TokioSleep};

/// The effects the executor uses.
#[derive(Clone)]
pub struct Effects {
    pub iam: Arc<dyn Iam>,
    pub trail: Arc<dyn TrailControl>,
    pub publisher: Arc<dyn Publisher>,
    pub webhook: Arc<dyn Webhook>,
    pub secrets: Arc<dyn Secrets>,
}

impl Effects {
    /// The real adapters, on one SDK configuration.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig) -> Self {
        Self::around_iam(Arc::new(AwsIam::from_conf(sdk)), sdk)
    }

    /// In-memory adapters that record what they are asked (tests).
    #[cfg(test)]
    pub(crate) fn in_memory() -> Self {
        use crate::effects::memory::{
            MemoryIam, MemorySecrets, MemoryTrail, RecordingPublisher, RecordingWebhook,
        };
        Effects {
            iam: Arc::new(MemoryIam::default()),
            trail: Arc::new(MemoryTrail::default()),
            publisher: Arc::new(RecordingPublisher::default()),
            webhook: Arc::new(RecordingWebhook::default()),
            secrets: Arc::new(MemorySecrets::default()),
        }
    }

    /// The real adapters, with `iam` as the IAM one.
    fn around_iam(iam: Arc<AwsIam>, sdk: &aws_config::SdkConfig) -> Self {
        Effects {
            iam,
            trail: Arc::new(AwsTrail::from_conf(sdk)),
            publisher: Arc::new(AwsSns::from_conf(sdk)),
            webhook: Arc::new(HttpWebhook::new()),
            secrets: Arc::new(AwsSecrets::from_conf(sdk)),
        }
    }
}

/// Why the live context could not be built.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    /// Organisation mode must know the function's own account.
    #[error(
        "cannot tell the function's own account (organisation mode needs it; or set self_role_arn): {0}"
    )]
    OwnAccount(crate::effects::EffectError),
}

/// Built once per process (a Lambda cold start, a CLI run) and shared by
/// every event.
pub struct LiveContext {
    pub config: Config,
    pub effects: Effects,
    pub slack: WebhookSource,
    pub retry: Retry,
    /// How remediations wait (tokio's timer; a recording clock in tests).
    pub sleep: Arc<dyn Sleep>,
    /// The alert state table (`alerts.state_table`): each finding alerted
    /// once per channel. `None`: no deduplication.
    pub alert_state: Option<Arc<dyn AlertState>>,
    /// AWS Security Hub (`alerts.security_hub`), where every finding is
    /// imported; `None`: off.
    pub hub: Option<Arc<dyn FindingsHub>>,
    /// The region the SDK acts in (the function's): the partition of what
    /// the scan imports into Security Hub.
    pub region: Option<String>,
    /// The account the function runs in; `None` when unknown (a CLI run
    /// with no role of its own configured), which acts as always.
    pub own_account: Option<String>,
    /// The member role's effects in other accounts (organisation mode).
    pub members: Option<Arc<dyn MemberAccess>>,
    /// The names of other accounts, for their alerts (organisation mode).
    pub account_names: Option<Arc<dyn AccountNames>>,
    /// The organisation's accounts, for the scan's fan-out.
    pub lister: Option<Arc<dyn AccountLister>>,
    /// The queue of per-account scans (`TRAILGUARD_SCAN_QUEUE_URL`): with
    /// it, the scheduled scan dispatches instead of scanning.
    pub scan_queue: Option<Arc<dyn ScanQueue>>,
    /// The webhook URL, read from Secrets Manager on first use and kept.
    slack_url: OnceCell<Option<WebhookUrl>>,
    /// The URL read again after Slack refused the first as gone.
    rotated_slack_url: std::sync::Mutex<Option<WebhookUrl>>,
}

impl LiveContext {
    /// A context on explicit effects (tests, other runtimes); the
    /// propagation delay is the config's.
    pub fn new(config: Config, effects: Effects, slack: WebhookSource) -> Self {
        let retry = Retry {
            propagation_delay: Duration::from_secs(config.remediation.propagation_delay_seconds),
            ..Retry::default()
        };
        // The role's account is the function's: the template sets the ARN.
        let own_account = config
            .self_role_arn
            .as_deref()
            .and_then(account_of_arn)
            .map(str::to_owned);
        LiveContext {
            config,
            effects,
            slack,
            retry,
            sleep: Arc::new(TokioSleep),
            alert_state: None,
            hub: None,
            region: None,
            own_account,
            members: None,
            account_names: None,
            lister: None,
            scan_queue: None,
            slack_url: OnceCell::new(),
            rotated_slack_url: std::sync::Mutex::default(),
        }
    }

    /// With the SDK's usual configuration from the environment (including
    /// `AWS_ENDPOINT_URL`), and the Slack URL from the environment variable
    /// the config names when no secret is configured.
    pub async fn from_env(config: Config) -> Result<Self, LiveError> {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        let env_url = std::env::var(&config.alerts.slack_webhook_url_env).ok();
        Self::from_sdk_config(config, &sdk, env_url)?
            .with_organization(&sdk)
            .await
    }

    /// In organisation mode, the member role of each account (through
    /// `sts:AssumeRole`, cached per account), and the function's own
    /// account: its role's, else `sts:GetCallerIdentity`'s answer. In the
    /// one-account mode, unchanged.
    pub async fn with_organization(
        mut self,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Self, LiveError> {
        let Some(role) = self.config.organization.member_role_name.clone() else {
            return Ok(self);
        };
        if self.own_account.is_none() {
            let own = crate::effects::aws_member::own_account(sdk)
                .await
                .map_err(LiveError::OwnAccount)?;
            self.own_account = Some(own);
        }
        self.members = Some(Arc::new(AwsMembers::new(sdk, &role)));
        self.account_names = Some(Arc::new(AwsAccountNames::new(sdk)));
        self.lister = Some(Arc::new(AwsAccountLister::new(sdk)));
        Ok(self)
    }

    /// Dispatches the scheduled scan to the queue at `url` (organisation
    /// mode; an empty URL is none, as CloudFormation passes it).
    pub fn with_scan_queue_url(mut self, sdk: &aws_config::SdkConfig, url: Option<&str>) -> Self {
        if let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) {
            self.scan_queue = Some(Arc::new(AwsScanQueue::new(sdk, url)));
        }
        self
    }

    /// With an explicit SDK configuration; `slack_env_value` is the value of
    /// the variable named by `alerts.slack_webhook_url_env`, if set.
    pub fn from_sdk_config(
        config: Config,
        sdk: &aws_config::SdkConfig,
        slack_env_value: Option<String>,
    ) -> Result<Self, LiveError> {
        let slack = WebhookSource::from_config(&config.alerts, slack_env_value)?;
        let effects = Effects::from_sdk_config(sdk);
        Ok(Self::new(config, effects, slack).with_state_table(sdk))
    }

    /// As [`Self::from_sdk_config`], and its IAM adapter as the scan's
    /// credential source: the remediations and the scan's reads share one
    /// IAM client.
    pub fn with_credential_source(
        config: Config,
        sdk: &aws_config::SdkConfig,
        slack_env_value: Option<String>,
    ) -> Result<(Self, Arc<dyn CredentialSource>), LiveError> {
        let slack = WebhookSource::from_config(&config.alerts, slack_env_value)?;
        let iam = Arc::new(AwsIam::from_conf(sdk));
        let effects = Effects::around_iam(iam.clone(), sdk);
        Ok((Self::new(config, effects, slack).with_state_table(sdk), iam))
    }

    /// The DynamoDB state table the config names, if any, and Security Hub
    /// when the config turns it on.
    fn with_state_table(mut self, sdk: &aws_config::SdkConfig) -> Self {
        self.region = sdk.region().map(|r| r.to_string());
        if self.config.alerts.security_hub {
            self = self.with_hub(Arc::new(AwsHub::from_conf(sdk)));
        }
        let Some(table) = self.config.alerts.state_table.clone() else {
            return self;
        };
        self.with_alert_state(Arc::new(DynamoAlertState::from_conf(sdk, table)))
    }

    /// The account the function runs in, and how it reaches the others
    /// (organisation mode).
    pub fn with_accounts(
        mut self,
        own_account: Option<String>,
        members: Option<Arc<dyn MemberAccess>>,
    ) -> Self {
        self.own_account = own_account;
        self.members = members;
        self
    }

    /// Names other accounts in alerts through `names` (tests, other
    /// runtimes).
    pub fn with_account_names(mut self, names: Arc<dyn AccountNames>) -> Self {
        self.account_names = Some(names);
        self
    }

    /// The effects of the function's own account.
    pub fn own_effects(&self) -> AccountEffects {
        AccountEffects {
            iam: self.effects.iam.clone(),
            trail: self.effects.trail.clone(),
            source: None,
        }
    }

    /// Imports every finding into `hub` (tests, other runtimes).
    pub fn with_hub(mut self, hub: Arc<dyn FindingsHub>) -> Self {
        self.hub = Some(hub);
        self
    }

    /// Deduplicates alerts through `state` (tests, other runtimes).
    pub fn with_alert_state(mut self, state: Arc<dyn AlertState>) -> Self {
        self.alert_state = Some(state);
        self
    }

    /// How long remediations wait for IAM to show their writes (all of
    /// it, the config's propagation delay included).
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// The Slack webhook URL, if Slack alerts are configured. A failed read
    /// is not kept, so the next event tries again.
    pub async fn slack_url(&self) -> Result<Option<WebhookUrl>, WebhookError> {
        let rotated = self
            .rotated_slack_url
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(rotated) = rotated {
            return Ok(Some(rotated));
        }
        self.slack_url
            .get_or_try_init(|| self.slack.resolve(self.effects.secrets.as_ref()))
            .await
            .cloned()
    }

    /// The webhook URL read again from its secret, when Slack said the URL
    /// `gone` is gone ([`crate::effects::webhook::HOOK_GONE`]): `Some` new URL,
    /// kept for the rest of this context, when the secret now holds
    /// another one (it was rotated after this context read it).
    pub async fn rotated_slack_url(&self, gone: &WebhookUrl) -> Option<WebhookUrl> {
        let fresh = self.slack.resolve(self.effects.secrets.as_ref()).await;
        match fresh {
            Ok(Some(url)) if url != *gone => {
                *self
                    .rotated_slack_url
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Some(url.clone());
                Some(url)
            }
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, "slack webhook secret unreadable after the hook was refused");
                None
            }
        }
    }
}

/// The account of an ARN (`arn:aws:iam::111122223333:role/x`), if it
/// names one.
pub fn account_of_arn(arn: &str) -> Option<&str> {
    let account = arn.strip_prefix("arn:")?.split(':').nth(3)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_propagation_delay_is_the_configs() {
        let effects = || Effects {
            iam: Arc::new(crate::effects::memory::MemoryIam::default()),
            trail: Arc::new(crate::effects::memory::MemoryTrail::default()),
            publisher: Arc::new(crate::effects::memory::RecordingPublisher::default()),
            webhook: Arc::new(crate::effects::memory::RecordingWebhook::default()),
            secrets: Arc::new(crate::effects::memory::MemorySecrets::default()),
        };
        let ctx = LiveContext::new(Config::default(), effects(), WebhookSource::None);
        assert_eq!(ctx.retry.propagation_delay, Duration::from_secs(10));
        assert_eq!(ctx.retry.absent_budget, Duration::from_secs(30));
        let config = Config::from_toml(
            "[remediation]\npropagation_delay_seconds = 3",
            "test",
            std::iter::empty(),
        )
        .unwrap();
        let ctx = LiveContext::new(config, effects(), WebhookSource::None);
        assert_eq!(ctx.retry.propagation_delay, Duration::from_secs(3));
    }
}
