//! move-policy-to-group: a managed policy attached directly to a user moves
//! to a group dedicated to that policy.
//!
//! Order, so the user never holds less than before: read the user; find the
//! dedicated group or create it, the quotas checked against that very group
//! before it is created; attach the policy to it;
//! add the user; read back membership and attachment; only then detach the
//! policy from the user. A failure anywhere before the detach leaves the
//! direct attachment in place, and a retry skips what is already done.

use super::{
    Ctx, GroupFacts, Joiner, Recorder, RemediateError, Report, Status, add_user_to_group,
    alternative_name, find_or_create_group, member_candidates, retry_not_found, sh, user_gone,
    wait_until,
};
use crate::effects::{EffectError, ErrorKind};
use crate::rules::MOVE_POLICY_TO_GROUP;

const ID: &str = MOVE_POLICY_TO_GROUP.id;

/// A group may hold the policy for the user when it sits at trailguard's
/// path, holds no inline policy and no other managed policy, and, while it
/// does not hold the policy yet, has no member but the user (else attaching
/// would grant the policy to others).
fn dedicated(facts: &GroupFacts, policy_arn: &str, user: &str, path: &str) -> bool {
    facts.info.path == path
        && facts.inline.is_empty()
        && facts.attached.iter().all(|a| a == policy_arn)
        && (facts.attached.iter().any(|a| a == policy_arn)
            || facts.info.members.iter().all(|m| m == user))
}

pub(super) fn plan(
    user: &str,
    policy_arn: &str,
    group: &str,
    path: &str,
) -> (Vec<String>, Vec<String>) {
    (
        vec![
            format!("iam:CreateGroup GroupName={group} Path={path} (if it does not exist)"),
            format!(
                "iam:AttachGroupPolicy GroupName={group} PolicyArn={policy_arn} (if not attached)"
            ),
            format!("iam:AddUserToGroup GroupName={group} UserName={user} (if not a member)"),
            format!(
                "iam:DetachUserPolicy UserName={user} PolicyArn={policy_arn} (once membership and attachment are read back)"
            ),
        ],
        vec![format!(
            "if {group} exists but holds other policies or members, {} is used instead; nothing changes when the user is at its group quota",
            alternative_name(group, policy_arn)
        )],
    )
}

pub(super) async fn run(
    user: &str,
    policy_arn: &str,
    group_base: &str,
    path: &str,
    ctx: &Ctx<'_>,
) -> Result<Report, RemediateError> {
    let iam = ctx.iam;
    let mut rec = Recorder::new(ID);

    // Reads: nothing changes until every check has passed.
    let attached = match iam.attached_user_policies(user).await {
        Err(e) if e.is_not_found() => return Ok(user_gone(ID, user)),
        other => other.map_err(|e| rec.fail(e))?,
    };
    let groups = match iam.groups_for_user(user).await {
        Err(e) if e.is_not_found() => return Ok(user_gone(ID, user)),
        other => other.map_err(|e| rec.fail(e))?,
    };
    let candidates = [
        group_base.to_owned(),
        alternative_name(group_base, policy_arn),
    ];
    if !attached.iter().any(|a| a == policy_arn) {
        for group in member_candidates(&groups, &candidates, path) {
            let held = iam
                .attached_group_policies(group)
                .await
                .map_err(|e| rec.fail(e))?;
            if held.iter().any(|a| a == policy_arn) {
                rec.note(format!(
                    "already moved: {user} holds {policy_arn} through group {group}"
                ));
                return Ok(rec.finish(Status::Unchanged));
            }
        }
        rec.note(format!(
            "{policy_arn} is no longer attached to {user}; nothing to move"
        ));
        return Ok(rec.finish(Status::Unchanged));
    }

    let quotas = iam.quotas().await.map_err(|e| rec.fail(e))?;
    let joiner = Joiner {
        user,
        groups: &groups,
    };
    let Some(choice) = find_or_create_group(
        iam,
        &candidates,
        path,
        &quotas,
        joiner,
        |f| dedicated(f, policy_arn, user, path),
        &mut rec,
    )
    .await?
    else {
        rec.note(format!(
            "{policy_arn} stays attached to {user}: move it by hand"
        ));
        return Ok(rec.finish(Status::Blocked));
    };
    let group = choice.name.as_str();
    if group != group_base {
        rec.note(format!("using group {group}"));
    }
    let member = groups.iter().any(|g| g.name == group);
    let group_policies = choice.existing.map(|f| f.attached).unwrap_or_default();
    let group_has = group_policies.iter().any(|a| a == policy_arn);
    if !group_has && group_policies.len() >= quotas.policies_per_group as usize {
        rec.note(format!(
            "group {group} holds {} managed policies, the account's AttachedPoliciesPerGroupQuota. Nothing changed",
            group_policies.len()
        ));
        return Ok(rec.finish(Status::Blocked));
    }

    // Writes, each skipped when already done.
    if !group_has {
        retry_not_found(ctx.retry, || iam.attach_group_policy(group, policy_arn))
            .await
            .map_err(|(e, retryable)| rec.fail_with(e, retryable))?;
        rec.call(
            format!("iam:AttachGroupPolicy GroupName={group} PolicyArn={policy_arn}"),
            Some(format!(
                "aws iam detach-group-policy --group-name {} --policy-arn {}",
                sh(group),
                sh(policy_arn)
            )),
        );
    }
    if !member {
        add_user_to_group(ctx, &mut rec, group, user).await?;
    }

    // Read back before taking anything away.
    let verified = wait_until(ctx.retry, || async {
        let in_group = iam
            .groups_for_user(user)
            .await?
            .iter()
            .any(|g| g.name == group);
        Ok(in_group
            && iam
                .attached_group_policies(group)
                .await?
                .iter()
                .any(|a| a == policy_arn))
    })
    .await
    .map_err(|e| rec.fail(e))?;
    if !verified {
        let e = EffectError::new(
            "iam:ListGroupsForUser",
            ErrorKind::NotFound,
            format!(
                "could not read back {user} in {group} with {policy_arn}; {policy_arn} stays attached to {user}"
            ),
        );
        return Err(rec.fail_with(e, true));
    }

    match iam.detach_user_policy(user, policy_arn).await {
        Ok(()) => rec.call(
            format!("iam:DetachUserPolicy UserName={user} PolicyArn={policy_arn}"),
            Some(format!(
                "aws iam attach-user-policy --user-name {} --policy-arn {}",
                sh(user),
                sh(policy_arn)
            )),
        ),
        // Detached meanwhile (or our answer was lost): the goal holds.
        Err(e) if e.is_not_found() => {
            rec.note(format!("{policy_arn} was already detached from {user}"))
        }
        Err(e) => return Err(rec.fail(e)),
    }
    rec.note(format!(
        "{user} now holds {policy_arn} through group {group} instead of directly"
    ));
    Ok(rec.finish(Status::Done))
}
