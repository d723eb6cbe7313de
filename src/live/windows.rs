//! Closing grouping windows: a periodic sweep (an EventBridge schedule
//! every five minutes invokes the function with [`CLOSE_WINDOWS`]) reads
//! the windows whose time is up, sends each one's follow-up through the
//! one delivery path, and removes the window once it went out. A window
//! whose follow-up fails stays, and the next sweep sends it (each channel
//! once: the follow-up is keyed in the state table like any alert, with
//! its count). A finding counted after the sweep read the window keeps it
//! too: the next sweep sends a follow-up with the new count.
//!
//! Why a sweep: it needs no other event to arrive, no schedule per window
//! (EventBridge Scheduler would need a role to pass and a schedule to clean
//! up for each group), and no wait on DynamoDB's TTL deletes (which may
//! come days late). A follow-up goes out at most five minutes after its
//! window closes.

use chrono::Utc;
use serde::Serialize;
use serde_json::Value;

use super::LiveContext;
use crate::alert::followup;
use crate::effects::EffectError;
use crate::executor::{self, Delivery, ErrorReport, ExecError};
use crate::rules;

/// The payload the schedule sends: `{"trailguard": "close-alert-windows"}`.
pub const CLOSE_WINDOWS: &str = "close-alert-windows";

/// Is this payload the sweep's schedule?
pub fn is_close_windows(payload: &Value) -> bool {
    payload.get("trailguard").and_then(Value::as_str) == Some(CLOSE_WINDOWS)
}

/// What the sweep did with one window.
#[derive(Debug, Clone, Serialize)]
pub struct WindowOutcome {
    pub group: String,
    pub rule: String,
    pub folded: u64,
    /// The follow-up's deliveries (none for a window that folded nothing).
    pub alerts: Vec<Delivery>,
    /// Removed from the table; otherwise the next sweep tries again.
    pub closed: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ErrorReport>,
}

/// Sends the follow-up of every window closed by `now` (seconds since the
/// epoch) and removes those that went out. Without a state table there is
/// no window. `Err` when the windows could not be read.
pub async fn close_windows(ctx: &LiveContext, now: i64) -> Result<Vec<WindowOutcome>, EffectError> {
    let Some(state) = ctx.alert_state.as_deref() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for w in state.due_windows(now).await? {
        let mut errors: Vec<ExecError> = Vec::new();
        let alerts = if w.folded == 0 {
            Vec::new()
        } else {
            let rule = rules::find(&w.rule).map_or("grouping", |r| r.id);
            // The count is in the key: findings counted after a sweep read
            // the window make another follow-up, not one already sent.
            let key = format!("followup#{}#{}#{}", w.key, w.opened_at, w.folded);
            executor::deliver(
                ctx,
                rule,
                Some(&key),
                |topic| followup::sns_message(topic, &w),
                || followup::slack_message(&w),
                &mut errors,
            )
            .await
        };
        let mut closed = false;
        if errors.is_empty() {
            match state.close_window(&w.key, w.opened_at, w.folded).await {
                Ok(removed) => closed = removed,
                Err(e) => {
                    tracing::warn!(group = w.key.as_str(), error = %e, "window not removed: the next sweep finds its follow-up sent")
                }
            }
        }
        tracing::info!(
            group = w.key.as_str(),
            rule = w.rule.as_str(),
            folded = w.folded,
            alerts = executor::channels(&alerts),
            closed,
            "alert window closed"
        );
        out.push(WindowOutcome {
            group: w.key.clone(),
            rule: w.rule.clone(),
            folded: w.folded,
            alerts,
            closed,
            errors: errors.iter().map(ErrorReport::from).collect(),
        });
    }
    Ok(out)
}

/// [`close_windows`] now.
pub async fn close_windows_now(ctx: &LiveContext) -> Result<Vec<WindowOutcome>, EffectError> {
    close_windows(ctx, Utc::now().timestamp()).await
}
