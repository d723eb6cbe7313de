//! move-policy-to-group: a managed policy attached directly to a user moves
//! to a group dedicated to that policy.
//!
//! Order, so the user never holds less than before: read the user; find the
//! dedicated group or create it, the quotas checked against that very group
//! before it is created; attach the policy to it;
//! add the user; read back membership and attachment; only then detach the
//! policy from the user. A failure anywhere before the detach leaves the
//! direct attachment in place, and a retry skips what is already done.
//!
//! Blocked before any write: an admin-equivalent AWS managed policy
//! ([`super::ADMIN_EQUIVALENT_AWS_POLICIES`]; the role is denied attaching
//! those to groups), and a policy IAM will not attach (`IsAttachable`
//! false, a deprecated AWS managed policy). The grant stays alerted.

use super::dispatch::Ctx;
use super::group_move::{
    GroupFacts, already_gone, choose_group, join_and_verify, member_candidates, same_name,
};
use super::groups::alternative_name;
use super::report::{Recorder, RemediateError, Report, Status, sh, user_gone};
use super::retry::{Seen, patiently, retry_not_found};
use super::spec::RemediationSpec;
use crate::effects::{EffectError, ErrorKind, GroupRef, Iam};

/// AWS managed policies that grant administrator or privilege-escalation
/// power (names, path `/`). trailguard never attaches them to a group: the
/// execution role's `AttachGroupPolicy` is denied them by an `iam:PolicyARN`
/// condition, so a compromised function cannot hand them out, and a move of
/// one of them ends as Blocked while the grant stays alerted.
pub const ADMIN_EQUIVALENT_AWS_POLICIES: &[&str] = &[
    "AdministratorAccess",
    "AdministratorAccess-Amplify",
    "AdministratorAccess-AWSElasticBeanstalk",
    "AWSOrganizationsFullAccess",
    "IAMFullAccess",
    "PowerUserAccess",
];

/// Is `policy_arn` one of [`ADMIN_EQUIVALENT_AWS_POLICIES`], in any
/// partition (`arn:aws:`, `arn:aws-cn:`, `arn:aws-us-gov:`...), at path `/`?
/// The name is compared regardless of case: refusing too much is safe.
pub fn is_admin_equivalent_aws_policy(policy_arn: &str) -> bool {
    let Some(rest) = policy_arn.strip_prefix("arn:") else {
        return false;
    };
    let Some((partition, rest)) = rest.split_once(':') else {
        return false;
    };
    let aws_partition = partition == "aws" || partition.starts_with("aws-");
    match rest.strip_prefix("iam::aws:policy/") {
        Some(name) if aws_partition => ADMIN_EQUIVALENT_AWS_POLICIES
            .iter()
            .any(|a| a.eq_ignore_ascii_case(name)),
        _ => false,
    }
}

/// Its contract: what it changes and the exact IAM permissions it needs.
pub static SPEC: RemediationSpec = RemediationSpec {
    id: "move-policy-to-group",
    summary: "Attach the managed policy to a group dedicated to it, add the user, verify, then detach it from the user",
    permissions: &[
        "iam:AddUserToGroup",
        "iam:AttachGroupPolicy",
        "iam:CreateGroup",
        "iam:DetachUserPolicy",
        "iam:GetAccountSummary",
        "iam:GetGroup",
        "iam:GetPolicy",
        "iam:GetUser",
        "iam:ListAttachedGroupPolicies",
        "iam:ListAttachedUserPolicies",
        "iam:ListGroupPolicies",
        "iam:ListGroupsForUser",
    ],
    scoped_to_group_path: true,
};

const ID: &str = SPEC.id;

/// A group may hold the policy for the user when it sits at trailguard's
/// path, holds no inline policy and no other managed policy, and, while it
/// does not hold the policy yet, has no member but the user (else attaching
/// would grant the policy to others).
fn dedicated(facts: &GroupFacts, policy_arn: &str, user: &str, path: &str) -> bool {
    facts.info.path == path
        && facts.inline.is_empty()
        && facts.attached.iter().all(|a| a == policy_arn)
        && (facts.attached.iter().any(|a| a == policy_arn)
            || facts.info.members.iter().all(|m| same_name(m, user)))
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
        if is_admin_equivalent_aws_policy(policy_arn) {
            vec![admin_equivalent_note(user, policy_arn)]
        } else {
            vec![format!(
                "if {group} exists but holds other policies or members, {} is used instead; nothing changes when the user is at its group quota or the policy cannot be attached (deprecated)",
                alternative_name(group, policy_arn)
            )]
        },
    )
}

fn admin_equivalent_note(user: &str, policy_arn: &str) -> String {
    format!(
        "{policy_arn} is an AWS managed policy with administrator power (or the power to grant it): trailguard never attaches it to a group (its role is denied that, so a compromised function cannot hand it out). It stays attached to {user}; the grant is alerted: remove it or grant a narrower policy by hand. Nothing changed"
    )
}

/// What the first reads found.
enum First {
    /// The policy is attached to the user; the groups it is in.
    Attached(Vec<GroupRef>),
    /// Already moved: the user holds it through this dedicated group.
    Moved(String),
}

/// The user's attachments and groups, as IAM shows them now.
async fn first_read(
    iam: &dyn Iam,
    user: &str,
    policy_arn: &str,
    candidates: &[String],
    path: &str,
) -> Result<Seen<First>, EffectError> {
    let attached = match iam.attached_user_policies(user).await {
        Err(e) if e.is_not_found() => return Ok(Seen::Absent(user_gone(ID, user))),
        other => other?,
    };
    let groups = match iam.groups_for_user(user).await {
        Err(e) if e.is_not_found() => return Ok(Seen::Absent(user_gone(ID, user))),
        other => other?,
    };
    if attached.iter().any(|a| a == policy_arn) {
        return Ok(Seen::Present(First::Attached(groups)));
    }
    for group in member_candidates(&groups, candidates, path) {
        if iam
            .attached_group_policies(group)
            .await?
            .iter()
            .any(|a| a == policy_arn)
        {
            return Ok(Seen::Present(First::Moved(group.to_owned())));
        }
    }
    Ok(Seen::Absent(Report::new(ID, Status::Unchanged).note(
        format!("{policy_arn} is no longer attached to {user}; nothing to move"),
    )))
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
    if is_admin_equivalent_aws_policy(policy_arn) {
        rec.note(admin_equivalent_note(user, policy_arn));
        return Ok(rec.finish(Status::Blocked));
    }

    // Reads: nothing changes until every check has passed.
    let candidates = [
        group_base.to_owned(),
        alternative_name(group_base, policy_arn),
    ];
    let first = patiently(ctx, || first_read(iam, user, policy_arn, &candidates, path))
        .await
        .map_err(|e| rec.fail(e))?;
    let groups = match first {
        Seen::Present(First::Attached(groups)) => groups,
        Seen::Present(First::Moved(group)) => {
            rec.note(format!(
                "already moved: {user} holds {policy_arn} through group {group}"
            ));
            return Ok(rec.finish(Status::Unchanged));
        }
        Seen::Absent(report) => return Ok(report),
    };

    // A deprecated AWS managed policy stays where it is attached, but IAM
    // refuses to attach it anywhere new (PolicyNotAttachable): moving it
    // would fail after the group was created.
    let policy = retry_not_found(ctx, false, || iam.policy(policy_arn))
        .await
        .map_err(|(e, retryable)| rec.fail_with(e, retryable))?;
    if !policy.attachable {
        rec.note(format!(
            "{policy_arn} cannot be attached to anything new (IsAttachable false: a deprecated AWS managed policy), so it cannot move to a group. It stays attached to {user}: replace it by hand with its successor. Nothing changed"
        ));
        return Ok(rec.finish(Status::Blocked));
    }

    let Some((choice, quotas)) = choose_group(
        iam,
        &candidates,
        path,
        user,
        &groups,
        |f| dedicated(f, policy_arn, user, path),
        format!("{policy_arn} stays attached to {user}: move it by hand"),
        &mut rec,
    )
    .await?
    else {
        return Ok(rec.finish(Status::Blocked));
    };
    let group = choice.name.as_str();
    let fresh = choice.existing.is_none();
    let member = groups.iter().any(|g| same_name(&g.name, group));
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
        retry_not_found(ctx, fresh, || iam.attach_group_policy(group, policy_arn))
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

    // Read back before taking anything away.
    let unverified = EffectError::new(
        "iam:ListGroupsForUser",
        ErrorKind::NotFound,
        format!(
            "could not read back {user} in {group} with {policy_arn}; {policy_arn} stays attached to {user}"
        ),
    );
    let holds = || async {
        Ok(iam
            .attached_group_policies(group)
            .await?
            .iter()
            .any(|a| a == policy_arn))
    };
    join_and_verify(ctx, &mut rec, group, user, fresh, member, holds, unverified).await?;

    match iam.detach_user_policy(user, policy_arn).await {
        Ok(()) => rec.call(
            format!("iam:DetachUserPolicy UserName={user} PolicyArn={policy_arn}"),
            Some(format!(
                "aws iam attach-user-policy --user-name {} --policy-arn {}",
                sh(user),
                sh(policy_arn)
            )),
        ),
        // Detached meanwhile (or our answer was lost and the call sent
        // again): see `already_gone`.
        Err(e) if e.is_not_found() => rec.note(already_gone(policy_arn, user, group)),
        Err(e) => return Err(rec.fail(e)),
    }
    rec.note(format!(
        "{user} now holds {policy_arn} through group {group} instead of directly"
    ));
    Ok(rec.finish(Status::Done))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_equivalent_aws_policies_are_recognised_in_every_partition_at_path_root() {
        for partition in ["aws", "aws-cn", "aws-us-gov"] {
            for name in ADMIN_EQUIVALENT_AWS_POLICIES {
                let arn = format!("arn:{partition}:iam::aws:policy/{name}");
                assert!(is_admin_equivalent_aws_policy(&arn), "{arn}");
            }
            assert!(is_admin_equivalent_aws_policy(&format!(
                "arn:{partition}:iam::aws:policy/administratoraccess"
            )));
        }
        for arn in [
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
            // Same name, but a customer managed policy, or another path.
            "arn:aws:iam::111122223333:policy/AdministratorAccess",
            "arn:aws:iam::aws:policy/job-function/AdministratorAccess",
            "arn:aws:iam::aws:policy/AdministratorAccessX",
            "arn:other:iam::aws:policy/AdministratorAccess",
            "AdministratorAccess",
        ] {
            assert!(!is_admin_equivalent_aws_policy(arn), "{arn}");
        }
    }
}
