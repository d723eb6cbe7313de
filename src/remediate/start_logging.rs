//! start-logging: a trail whose logging was stopped starts logging again,
//! in the trail's home region (the region of the StopLogging event).

use super::{Ctx, Recorder, RemediateError, Report, Status, sh};
use crate::rules::START_LOGGING;

const ID: &str = START_LOGGING.id;

pub(super) fn plan(trail: &str) -> (Vec<String>, Vec<String>) {
    (
        vec![format!(
            "cloudtrail:StartLogging Name={trail} (if not logging)"
        )],
        Vec::new(),
    )
}

pub(super) async fn run(trail: &str, ctx: &Ctx<'_>) -> Result<Report, RemediateError> {
    let mut rec = Recorder::new(ID);
    if trail.is_empty() || trail == "?" {
        rec.note("the event does not name the trail; nothing to start");
        return Ok(rec.finish(Status::Blocked));
    }
    match ctx
        .trail
        .is_logging(ctx.region, trail)
        .await
        .map_err(|e| rec.fail(e))?
    {
        None => {
            rec.note(format!("trail {trail} no longer exists; nothing to start"));
            return Ok(rec.finish(Status::Unchanged));
        }
        Some(true) => {
            rec.note(format!("trail {trail} is already logging"));
            return Ok(rec.finish(Status::Unchanged));
        }
        Some(false) => {}
    }
    ctx.trail
        .start_logging(ctx.region, trail)
        .await
        .map_err(|e| rec.fail(e))?;
    let region = ctx
        .region
        .map(|r| format!(" --region {}", sh(r)))
        .unwrap_or_default();
    rec.call(
        format!("cloudtrail:StartLogging Name={trail}"),
        Some(format!(
            "aws cloudtrail stop-logging --name {}{region}",
            sh(trail)
        )),
    );
    rec.note(format!("trail {trail} is logging again"));
    Ok(rec.finish(Status::Done))
}
