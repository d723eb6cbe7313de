//! What the two group moves (move-policy-to-group and
//! move-inline-policy-to-group) share: choosing or creating the group
//! dedicated to the policy, within the quotas, and adding the user to it.

use super::dispatch::Ctx;
use super::report::{Recorder, RemediateError, sh};
use super::retry::{let_it_propagate, retry_not_found, wait_until};
use crate::effects::{EffectError, ErrorKind, GroupInfo, GroupRef, Iam, Quotas};

/// IAM user and group names are unique regardless of case, and a call may
/// name them in any case: compare them so.
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// An existing group and what it holds.
#[derive(Debug, Clone)]
pub(crate) struct GroupFacts {
    pub info: GroupInfo,
    pub attached: Vec<String>,
    pub inline: Vec<String>,
}

/// The group a remediation will use.
#[derive(Debug, Clone)]
pub(crate) struct GroupChoice {
    pub name: String,
    /// `None` when it was just created (and is empty).
    pub existing: Option<GroupFacts>,
}

/// The candidate group names the user already belongs to, at `path`.
pub(crate) fn member_candidates<'a>(
    groups: &'a [GroupRef],
    candidates: &'a [String],
    path: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    groups
        .iter()
        .filter(move |g| g.path == path && candidates.iter().any(|c| same_name(c, &g.name)))
        .map(|g| g.name.as_str())
}

/// The user a remediation adds to a group, and the groups it is in now.
#[derive(Clone, Copy)]
pub(crate) struct Joiner<'a> {
    pub user: &'a str,
    pub groups: &'a [GroupRef],
}

impl Joiner<'_> {
    /// Can the user end up in `group`: already a member, or below its
    /// GroupsPerUserQuota (IAM answers LimitExceeded otherwise).
    fn can_join(&self, group: &str, quotas: &Quotas) -> bool {
        self.groups.iter().any(|g| same_name(&g.name, group))
            || self.groups.len() < quotas.groups_per_user as usize
    }
}

/// Finds the first candidate that is dedicated, or creates the first that
/// does not exist; `Ok(None)` (nothing created) when every candidate exists
/// and is used for something else. Never reuses a group `dedicated` rejects:
/// that would grant the policy to its other members.
///
/// trailguard's role may only touch groups under its path, so IAM may answer
/// AccessDenied to a read of a group that does not exist or lives elsewhere.
/// Such a candidate is created at trailguard's path: success makes it ours,
/// EntityAlreadyExists proves it is someone else's, and the next is tried.
///
/// Quotas are checked against the group about to be chosen, before any
/// creation: a candidate the user is not in is passed over when the user is
/// at its GroupsPerUserQuota (so no group is created that the user could not
/// join), and none is created when the account is at its GroupsQuota.
pub(crate) async fn find_or_create_group(
    iam: &dyn Iam,
    candidates: &[String],
    path: &str,
    quotas: &Quotas,
    joiner: Joiner<'_>,
    dedicated: impl Fn(&GroupFacts) -> bool,
    rec: &mut Recorder,
) -> Result<Option<GroupChoice>, RemediateError> {
    // A dedicated or missing candidate passed over for the user's quota.
    let mut user_at_quota = false;
    for name in candidates {
        let unreadable = match iam.group(name).await {
            Ok(Some(info)) => {
                let facts = group_facts(iam, info).await.map_err(|e| rec.fail(e))?;
                if dedicated(&facts) {
                    if joiner.can_join(name, quotas) {
                        return Ok(Some(GroupChoice {
                            name: name.clone(),
                            existing: Some(facts),
                        }));
                    }
                    user_at_quota = true;
                    continue;
                }
                rec.note(format!(
                    "group {name} exists but is not dedicated to this policy (path {}, {} managed and {} inline policies, {} members); not reused",
                    facts.info.path,
                    facts.attached.len(),
                    facts.inline.len(),
                    facts.info.members.len()
                ));
                continue;
            }
            Ok(None) => false,
            Err(e) if e.kind == ErrorKind::AccessDenied => true,
            Err(e) => return Err(rec.fail(e)),
        };
        if !joiner.can_join(name, quotas) {
            user_at_quota = true;
            continue;
        }
        if quotas.groups >= quotas.groups_quota {
            rec.note(format!(
                "the account has {} groups, its GroupsQuota: {name} cannot be created. Nothing changed",
                quotas.groups
            ));
            return Ok(None);
        }
        match iam.create_group(name, path).await {
            Ok(()) => {
                rec.call(
                    format!("iam:CreateGroup GroupName={name} Path={path}"),
                    Some(format!("aws iam delete-group --group-name {}", sh(name))),
                );
                return Ok(Some(GroupChoice {
                    name: name.clone(),
                    existing: None,
                }));
            }
            Err(e) if e.kind == ErrorKind::AlreadyExists && unreadable => {
                rec.note(format!(
                    "group {name} exists outside trailguard's path {path}; not reused"
                ));
            }
            Err(e) if e.kind == ErrorKind::AlreadyExists => {
                // Created meanwhile, by a concurrent delivery of the same
                // event: use it only if it is dedicated.
                let facts = match iam.group(name).await.map_err(|e| rec.fail(e))? {
                    Some(info) => group_facts(iam, info).await.map_err(|e| rec.fail(e))?,
                    None => return Err(rec.fail_with(e, true)),
                };
                if dedicated(&facts) {
                    return Ok(Some(GroupChoice {
                        name: name.clone(),
                        existing: Some(facts),
                    }));
                }
                rec.note(format!(
                    "group {name} was just created by someone else; not reused"
                ));
            }
            Err(e) => return Err(rec.fail(e)),
        }
    }
    if user_at_quota {
        rec.note(format!(
            "{} is in {} groups and the account allows {} per user (GroupsPerUserQuota): adding it to another group would fail. Nothing changed",
            joiner.user,
            joiner.groups.len(),
            quotas.groups_per_user
        ));
    }
    Ok(None)
}

/// The group a move uses: the quotas read, then [`find_or_create_group`]
/// over `candidates` (the first is the group's usual name; another is
/// noted). `None` when no group can be had: `stays` is noted, and the move
/// ends Blocked. The quotas come back for the checks that follow.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn choose_group(
    iam: &dyn Iam,
    candidates: &[String],
    path: &str,
    user: &str,
    groups: &[GroupRef],
    dedicated: impl Fn(&GroupFacts) -> bool,
    stays: String,
    rec: &mut Recorder,
) -> Result<Option<(GroupChoice, Quotas)>, RemediateError> {
    let quotas = iam.quotas().await.map_err(|e| rec.fail(e))?;
    let joiner = Joiner { user, groups };
    let found =
        find_or_create_group(iam, candidates, path, &quotas, joiner, dedicated, rec).await?;
    let Some(choice) = found else {
        rec.note(stays);
        return Ok(None);
    };
    if candidates.first().is_some_and(|base| *base != choice.name) {
        rec.note(format!("using group {}", choice.name));
    }
    Ok(Some((choice, quotas)))
}

pub(crate) async fn group_facts(iam: &dyn Iam, info: GroupInfo) -> Result<GroupFacts, EffectError> {
    let attached = iam.attached_group_policies(&info.name).await?;
    let inline = iam.group_policy_names(&info.name).await?;
    Ok(GroupFacts {
        info,
        attached,
        inline,
    })
}

/// Adds the user to its dedicated group (the step both group moves share),
/// recording the call and its undo. `fresh`: this run created the group.
pub(crate) async fn add_user_to_group(
    ctx: &Ctx<'_>,
    rec: &mut Recorder,
    group: &str,
    user: &str,
    fresh: bool,
) -> Result<(), RemediateError> {
    retry_not_found(ctx, fresh, || ctx.iam.add_user_to_group(group, user))
        .await
        .map_err(|(e, retryable)| rec.fail_with(e, retryable))?;
    rec.call(
        format!("iam:AddUserToGroup GroupName={group} UserName={user}"),
        Some(format!(
            "aws iam remove-user-from-group --group-name {} --user-name {}",
            sh(group),
            sh(user)
        )),
    );
    Ok(())
}

/// Adds the user to the group unless already a member, then reads back
/// until IAM shows the user in the group and `holds` says the group
/// carries the policy, and lets the change propagate. Only then may the
/// policy be taken from the user: when the read-back never agrees,
/// `unverified` is the (retryable) error and nothing was taken.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn join_and_verify<F, Fut>(
    ctx: &Ctx<'_>,
    rec: &mut Recorder,
    group: &str,
    user: &str,
    fresh: bool,
    member: bool,
    holds: F,
    unverified: EffectError,
) -> Result<(), RemediateError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<bool, EffectError>>,
{
    if !member {
        add_user_to_group(ctx, rec, group, user, fresh).await?;
    }
    let iam = ctx.iam;
    let verified = wait_until(ctx, fresh, || async {
        let in_group = iam
            .groups_for_user(user)
            .await?
            .iter()
            .any(|g| same_name(&g.name, group));
        Ok(in_group && holds().await?)
    })
    .await
    .map_err(|e| rec.fail(e))?;
    if !verified {
        return Err(rec.fail_with(unverified, true));
    }
    let_it_propagate(ctx).await;
    Ok(())
}

/// Takes `user` out of the dedicated `group` again (a membership this run
/// made) when the user's own copy changed while it was being moved: the
/// group's copy, the old version, must not grant what the user no longer
/// holds.
pub(super) async fn withdraw(
    iam: &dyn Iam,
    rec: &mut Recorder,
    group: &str,
    user: &str,
) -> Result<(), RemediateError> {
    match iam.remove_user_from_group(group, user).await {
        Ok(()) => {
            rec.call(
                format!("iam:RemoveUserFromGroup GroupName={group} UserName={user}"),
                Some(format!(
                    "aws iam add-user-to-group --group-name {} --user-name {}",
                    sh(group),
                    sh(user)
                )),
            );
            rec.note(format!("{user} was taken out of group {group} again"));
            Ok(())
        }
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(rec.fail(e)),
    }
}

/// The note of a move whose user's own copy (`what`) was already gone
/// when the move took it away: by someone else, or by another delivery of
/// the same event running alongside. IAM cannot tell which, and taking the
/// user out of the group would leave nothing in the second case: the user
/// keeps it through the group, and the note says how to revoke it.
pub(super) fn already_gone(what: &str, user: &str, group: &str) -> String {
    format!(
        "{what} was already gone from {user} (taken away by someone else, or by another delivery of this event); {user} holds it through group {group}. If it was meant to be revoked: aws iam remove-user-from-group --group-name {} --user-name {}",
        sh(group),
        sh(user)
    )
}
