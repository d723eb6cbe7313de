//! deactivate-access-key: the one access key the event names is set
//! Inactive. Never deleted: a deactivated key can be turned back on, a
//! deleted one cannot.

use super::dispatch::Ctx;
use super::report::{Recorder, RemediateError, Report, Status, sh, user_gone};
use super::retry::{Seen, patiently};
use super::spec::RemediationSpec;
use crate::effects::{EffectError, Iam};

/// Its contract: what it changes and the exact IAM permissions it needs.
pub static SPEC: RemediationSpec = RemediationSpec {
    id: "deactivate-access-key",
    summary: "Set the one access key the finding names (an event or the scan) to Inactive (never deleted)",
    permissions: &["iam:GetUser", "iam:ListAccessKeys", "iam:UpdateAccessKey"],
    scoped_to_group_path: false,
};

const ID: &str = SPEC.id;

pub(super) fn plan(user: &str, key_id: &str) -> (Vec<String>, Vec<String>) {
    (
        vec![format!(
            "iam:UpdateAccessKey UserName={user} AccessKeyId={key_id} Status=Inactive (if active)"
        )],
        vec!["the key is deactivated, never deleted".to_owned()],
    )
}

/// What the first read found: is the key active?
async fn first_read(iam: &dyn Iam, user: &str, key_id: &str) -> Result<Seen<bool>, EffectError> {
    let keys = match iam.access_keys(user).await {
        Err(e) if e.is_not_found() => return Ok(Seen::Absent(user_gone(ID, user))),
        other => other?,
    };
    Ok(match keys.iter().find(|k| k.id == key_id) {
        Some(k) => Seen::Present(k.active),
        None => Seen::Absent(Report::new(ID, Status::Unchanged).note(format!(
            "access key {key_id} of {user} no longer exists (deleted); nothing to deactivate"
        ))),
    })
}

pub(super) async fn run(user: &str, key_id: &str, ctx: &Ctx<'_>) -> Result<Report, RemediateError> {
    let mut rec = Recorder::new(ID);
    // A key created seconds before the event may not be listed yet.
    let first = patiently(ctx, || first_read(ctx.iam, user, key_id))
        .await
        .map_err(|e| rec.fail(e))?;
    match first {
        Seen::Absent(report) => return Ok(report),
        Seen::Present(false) => {
            rec.note(format!("access key {key_id} of {user} is already inactive"));
            return Ok(rec.finish(Status::Unchanged));
        }
        Seen::Present(true) => {}
    }
    match ctx.iam.deactivate_access_key(user, key_id).await {
        Ok(()) => rec.call(
            format!("iam:UpdateAccessKey UserName={user} AccessKeyId={key_id} Status=Inactive"),
            Some(format!(
                "aws iam update-access-key --user-name {} --access-key-id {} --status Active",
                sh(user),
                sh(key_id)
            )),
        ),
        Err(e) if e.is_not_found() => {
            rec.note(format!(
                "access key {key_id} of {user} was deleted meanwhile; nothing to deactivate"
            ));
            return Ok(rec.finish(Status::Unchanged));
        }
        Err(e) => return Err(rec.fail(e)),
    }
    rec.note(format!(
        "access key {key_id} of {user} is now Inactive (not deleted)"
    ));
    Ok(rec.finish(Status::Done))
}
