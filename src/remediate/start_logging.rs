//! start-logging: a trail whose logging was stopped starts logging again,
//! in the trail's home region: the region of its ARN when the event names
//! it by ARN, else the region of the StopLogging event (StopLogging, like
//! StartLogging, must be called in the home region). A retryable failure
//! (CloudTrail's ConflictException included) is retried in the run, then
//! returned as worth a retry of the event. A status that reads as logging
//! does not stop it: a read right after StopLogging may predate it, and
//! StartLogging on a logging trail changes nothing.

use super::dispatch::Ctx;
use super::report::{Recorder, RemediateError, Report, Status, sh};
use super::spec::RemediationSpec;

/// Its contract: what it changes and the exact IAM permissions it needs.
pub static SPEC: RemediationSpec = RemediationSpec {
    id: "start-logging",
    summary: "Start logging again on the trail that was stopped",
    permissions: &["cloudtrail:GetTrailStatus", "cloudtrail:StartLogging"],
    scoped_to_group_path: false,
};

const ID: &str = SPEC.id;

pub(super) fn plan(trail: &str) -> (Vec<String>, Vec<String>) {
    (
        vec![format!("cloudtrail:StartLogging Name={trail}")],
        Vec::new(),
    )
}

pub(super) async fn run(trail: &str, ctx: &Ctx<'_>) -> Result<Report, RemediateError> {
    let mut rec = Recorder::new(ID);
    if trail.is_empty() || trail == "?" {
        rec.note("the event does not name the trail; nothing to start");
        return Ok(rec.finish(Status::Blocked));
    }
    let home = home_region(trail).or(ctx.region);
    match ctx
        .trail
        .is_logging(home, trail)
        .await
        .map_err(|e| rec.fail(e))?
    {
        None => {
            rec.note(format!("trail {trail} no longer exists; nothing to start"));
            return Ok(rec.finish(Status::Unchanged));
        }
        Some(true) => {
            // Called all the same: this read may predate the StopLogging.
            start(trail, home, ctx, &mut rec).await?;
            rec.call(format!("cloudtrail:StartLogging Name={trail}"), None);
            rec.note(format!(
                "trail {trail} read as logging; StartLogging was called all the same, \
                 as a status read right after StopLogging may predate it"
            ));
            return Ok(rec.finish(Status::Unchanged));
        }
        Some(false) => {}
    }
    start(trail, home, ctx, &mut rec).await?;
    let region = home
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

/// StartLogging in `home`. A retryable answer (CloudTrail's
/// ConflictException for a trail it has not finished loading, throttling)
/// is tried again here first: every second the trail stays stopped is
/// unlogged.
async fn start(
    trail: &str,
    home: Option<&str>,
    ctx: &Ctx<'_>,
    rec: &mut Recorder,
) -> Result<(), RemediateError> {
    let mut attempt = 1;
    loop {
        match ctx.trail.start_logging(home, trail).await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_retryable() && attempt < ctx.retry.attempts => {
                ctx.sleep.sleep(ctx.retry.delay(attempt)).await;
                attempt += 1;
            }
            Err(e) => return Err(rec.fail(e)),
        }
    }
}

/// The region of a trail ARN (`arn:aws:cloudtrail:<region>:<account>:trail/<name>`).
fn home_region(trail: &str) -> Option<&str> {
    let mut parts = trail.strip_prefix("arn:")?.split(':');
    let (_partition, service, region) = (parts.next()?, parts.next()?, parts.next()?);
    (service == "cloudtrail" && !region.is_empty()).then_some(region)
}

#[cfg(test)]
mod tests {
    use super::home_region;

    #[test]
    fn home_region_comes_from_the_trail_arn() {
        assert_eq!(
            home_region("arn:aws:cloudtrail:eu-west-1:111122223333:trail/main"),
            Some("eu-west-1")
        );
        assert_eq!(home_region("main"), None);
    }
}
