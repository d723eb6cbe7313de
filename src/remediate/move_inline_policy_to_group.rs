//! move-inline-policy-to-group: a user's inline policy becomes an inline
//! policy of a group dedicated to that user and policy.
//!
//! The document copied is the user's current one (GetUserPolicy), not the
//! event's copy, which may be stale. The user's policy is deleted last, and
//! only if it still equals what was copied; the report carries the document.
//! A dedicated group already holding another document under that name (an
//! earlier move of an older version) blocks the move: nothing changes, and
//! the report carries both documents for a human to choose.

use super::dispatch::Ctx;
use super::group_move::{
    GroupFacts, already_gone, choose_group, join_and_verify, member_candidates, same_name, withdraw,
};
use super::groups::alternative_name;
use super::report::{Recorder, RemediateError, Report, Status, sh, user_gone};
use super::retry::{Seen, patiently, retry_not_found};
use super::spec::RemediationSpec;
use crate::effects::{EffectError, ErrorKind, GroupRef, Iam, same_document};

/// Its contract: what it changes and the exact IAM permissions it needs.
pub static SPEC: RemediationSpec = RemediationSpec {
    id: "move-inline-policy-to-group",
    summary: "Copy the user's current inline policy to a group dedicated to that user and policy, add the user, verify, then delete it from the user",
    permissions: &[
        "iam:AddUserToGroup",
        "iam:CreateGroup",
        "iam:DeleteUserPolicy",
        "iam:GetAccountSummary",
        "iam:GetGroup",
        "iam:GetGroupPolicy",
        "iam:GetUser",
        "iam:GetUserPolicy",
        "iam:ListAttachedGroupPolicies",
        "iam:ListGroupPolicies",
        "iam:ListGroupsForUser",
        "iam:PutGroupPolicy",
        "iam:RemoveUserFromGroup",
    ],
    scoped_to_group_path: true,
};

const ID: &str = SPEC.id;

/// A group dedicated to one user's inline policy: at trailguard's path, no
/// managed policies, no other inline policy, no other member.
fn dedicated(facts: &GroupFacts, policy_name: &str, user: &str, path: &str) -> bool {
    facts.info.path == path
        && facts.attached.is_empty()
        && facts.inline.iter().all(|n| n == policy_name)
        && facts.info.members.iter().all(|m| same_name(m, user))
}

/// What the first reads found.
enum First {
    /// The user's current document, and the groups it is in.
    Held(String, Vec<GroupRef>),
    /// Already moved: this dedicated group holds the policy for the user.
    Moved { group: String, document: String },
}

/// The user's groups and inline policy, as IAM shows them now.
async fn first_read(
    iam: &dyn Iam,
    user: &str,
    policy_name: &str,
    candidates: &[String],
    path: &str,
) -> Result<Seen<First>, EffectError> {
    let groups = match iam.groups_for_user(user).await {
        Err(e) if e.is_not_found() => return Ok(Seen::Absent(user_gone(ID, user))),
        other => other?,
    };
    if let Some(document) = iam.user_policy(user, policy_name).await? {
        return Ok(Seen::Present(First::Held(document, groups)));
    }
    // Already moved, or deleted by someone else.
    for group in member_candidates(&groups, candidates, path) {
        if let Some(document) = iam.group_policy(group, policy_name).await? {
            return Ok(Seen::Present(First::Moved {
                group: group.to_owned(),
                document,
            }));
        }
    }
    Ok(Seen::Absent(Report::new(ID, Status::Unchanged).note(
        format!("{user} no longer has inline policy {policy_name}; nothing to move"),
    )))
}

pub(super) fn plan(
    user: &str,
    policy_name: &str,
    group: &str,
    path: &str,
) -> (Vec<String>, Vec<String>) {
    (
        vec![
            format!(
                "iam:GetUserPolicy UserName={user} PolicyName={policy_name} (the current document)"
            ),
            format!("iam:CreateGroup GroupName={group} Path={path} (if it does not exist)"),
            format!(
                "iam:PutGroupPolicy GroupName={group} PolicyName={policy_name} (that document)"
            ),
            format!("iam:AddUserToGroup GroupName={group} UserName={user} (if not a member)"),
            format!(
                "iam:DeleteUserPolicy UserName={user} PolicyName={policy_name} (once the group's copy and membership are read back)"
            ),
        ],
        vec![format!(
            "if {group} exists but holds anything else, {} is used instead",
            alternative_name(group, &format!("{user}/{policy_name}"))
        )],
    )
}

pub(super) async fn run(
    user: &str,
    policy_name: &str,
    group_base: &str,
    path: &str,
    ctx: &Ctx<'_>,
) -> Result<Report, RemediateError> {
    let iam = ctx.iam;
    let mut rec = Recorder::new(ID);

    let candidates = [
        group_base.to_owned(),
        alternative_name(group_base, &format!("{user}/{policy_name}")),
    ];
    let first = patiently(ctx, || {
        first_read(iam, user, policy_name, &candidates, path)
    })
    .await
    .map_err(|e| rec.fail(e))?;
    let (document, groups) = match first {
        Seen::Present(First::Held(document, groups)) => (document, groups),
        Seen::Present(First::Moved { group, document }) => {
            rec.note(format!(
                "already moved: {user} holds inline policy {policy_name} through group {group}"
            ));
            rec.document(&document);
            return Ok(rec.finish(Status::Unchanged));
        }
        Seen::Absent(report) => return Ok(report),
    };
    rec.document(&document);

    let Some((choice, _)) = choose_group(
        iam,
        &candidates,
        path,
        user,
        &groups,
        |f| dedicated(f, policy_name, user, path),
        format!("inline policy {policy_name} stays on {user}: move it by hand"),
        &mut rec,
    )
    .await?
    else {
        return Ok(rec.finish(Status::Blocked));
    };
    let group = choice.name.as_str();
    let fresh = choice.existing.is_none();
    let member = groups.iter().any(|g| same_name(&g.name, group));

    let group_copy = match &choice.existing {
        Some(_) => iam
            .group_policy(group, policy_name)
            .await
            .map_err(|e| rec.fail(e))?,
        None => None,
    };
    match &group_copy {
        // Another version, most likely from an earlier move: overwriting it
        // and deleting the user's would take its permissions from the user
        // and lose it. Which one should stay is for a human to say.
        Some(held) if !same_document(held, &document) => {
            rec.note(format!(
                "group {group} already holds inline policy {policy_name} with a different document (from an earlier move?): nothing changed, decide by hand which version {user} should keep. Group's document: {}; {user}'s document: {}",
                compact(held),
                compact(&document)
            ));
            return Ok(rec.finish(Status::Blocked));
        }
        _ => {}
    }
    if group_copy.is_none() {
        retry_not_found(ctx, fresh, || {
            iam.put_group_policy(group, policy_name, &document)
        })
        .await
        .map_err(|(e, retryable)| rec.fail_with(e, retryable))?;
        rec.call(
            format!("iam:PutGroupPolicy GroupName={group} PolicyName={policy_name}"),
            Some(format!(
                "aws iam delete-group-policy --group-name {} --policy-name {}",
                sh(group),
                sh(policy_name)
            )),
        );
    }
    let unverified = EffectError::new(
        "iam:GetGroupPolicy",
        ErrorKind::NotFound,
        format!(
            "could not read back {user} in {group} with inline policy {policy_name}; it stays on {user}"
        ),
    );
    let holds = || async {
        Ok(iam
            .group_policy(group, policy_name)
            .await?
            .is_some_and(|d| same_document(&d, &document)))
    };
    join_and_verify(ctx, &mut rec, group, user, fresh, member, holds, unverified).await?;

    // Delete only what was copied: a newer PutUserPolicy must not be lost.
    let now = iam
        .user_policy(user, policy_name)
        .await
        .map_err(|e| rec.fail(e))?;
    match now {
        None => rec.note(already_gone(
            &format!("inline policy {policy_name}"),
            user,
            group,
        )),
        Some(now) if !same_document(&now, &document) => {
            // The group's copy is the old version: not granted meanwhile.
            // Only a membership this run made is taken back.
            if !member {
                withdraw(iam, &mut rec, group, user).await?;
            }
            let e = EffectError::new(
                "iam:GetUserPolicy",
                ErrorKind::Unavailable,
                format!(
                    "inline policy {policy_name} of {user} changed while it was being moved; it stays on {user}, and a retry reports both versions for a human to decide"
                ),
            );
            return Err(rec.fail_with(e, true));
        }
        Some(_) => match iam.delete_user_policy(user, policy_name).await {
            Ok(()) => rec.call(
                format!("iam:DeleteUserPolicy UserName={user} PolicyName={policy_name}"),
                Some(format!(
                    "aws iam put-user-policy --user-name {} --policy-name {} --policy-document {}",
                    sh(user),
                    sh(policy_name),
                    sh(&compact(&document))
                )),
            ),
            Err(e) if e.is_not_found() => rec.note(already_gone(
                &format!("inline policy {policy_name}"),
                user,
                group,
            )),
            Err(e) => return Err(rec.fail(e)),
        },
    }
    rec.note(format!(
        "{user} now holds inline policy {policy_name} through group {group} instead of directly"
    ));
    Ok(rec.finish(Status::Done))
}

/// The document on one line, for the undo command.
fn compact(document: &str) -> String {
    serde_json::from_str::<serde_json::Value>(document)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| document.to_owned())
}
