//! The trailguard Lambda: EventBridge delivers CloudTrail events, trailguard
//! evaluates, remediates where configured, and alerts; a scheduled event
//! runs the credential scan. With `TRAILGUARD_BACKTEST=true` it is the
//! backtest's function instead, and runs archive batches only.

use lambda_runtime::{LambdaEvent, Runtime, layers::TracingLayer, service_fn};
use trailguard::{Config, lambda, live::LiveContext};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // JSON lines when the function's log format is JSON (AWS_LAMBDA_LOG_FORMAT).
    lambda::log::init();
    // Not UTF-8 is neither `true` nor `false`: refused, not read as unset.
    let backtest = std::env::var_os(lambda::BACKTEST_ENV).map(|v| {
        v.to_str()
            .map(str::to_owned)
            .unwrap_or_else(|| "(not UTF-8)".into())
    });
    if lambda::is_backtest_function(backtest.as_deref())? {
        // The backtest's function: batches only, no live context.
        let handler = service_fn(|event: LambdaEvent<String>| async move {
            lambda::invoke_backtest(&event.payload).await
        });
        return Runtime::new(handler)
            .layer(lambda::RawPayloadLayer)
            .layer(TracingLayer::new())
            .run()
            .await;
    }
    // A bad config fails the cold start, not every event after it.
    let path = std::env::var_os("TRAILGUARD_CONFIG").map(std::path::PathBuf::from);
    let config = Config::load(path.as_deref(), trailguard::config::process_env())?;
    tracing::info!(origin = %config.origin, "configuration loaded");
    let sdk = trailguard::effects::aws_http::lambda_defaults()
        .load()
        .await;
    let slack_env = std::env::var(&config.alerts.slack_webhook_url_env).ok();
    // One IAM client for the remediations and the scan's reads.
    let (ctx, source) = LiveContext::with_credential_source(config, &sdk, slack_env)?;
    let queue = std::env::var("TRAILGUARD_SCAN_QUEUE_URL").ok();
    let ctx = ctx
        .with_organization(&sdk)
        .await?
        .with_scan_queue_url(&sdk, queue.as_deref());
    let (ctx, source) = (&ctx, source.as_ref());
    // The handler gets the payload's text, so that a payload the runtime
    // could not deserialize is still logged and answered (see lambda.rs).
    let handler = service_fn(move |event: LambdaEvent<String>| async move {
        lambda::invoke(&event.payload, Some(event.context.deadline()), ctx, source).await
    });
    Runtime::new(handler)
        .layer(lambda::RawPayloadLayer)
        .layer(TracingLayer::new())
        .run()
        .await
}
