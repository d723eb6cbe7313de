//! The trailguard Lambda: EventBridge delivers CloudTrail events, trailguard
//! evaluates, remediates where configured, and alerts.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use trailguard::{Config, lambda, live::LiveContext};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // JSON lines when the function's log format is JSON (AWS_LAMBDA_LOG_FORMAT).
    lambda_runtime::tracing::init_default_subscriber();
    // A bad config fails the cold start, not every event after it.
    let path = std::env::var_os("TRAILGUARD_CONFIG").map(std::path::PathBuf::from);
    let config = Config::load(path.as_deref(), std::env::vars())?;
    tracing::info!(origin = %config.origin, "configuration loaded");
    let ctx = LiveContext::from_env(config).await?;
    let ctx = &ctx;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        lambda::handle(event.payload, ctx).await
    }))
    .await
}
