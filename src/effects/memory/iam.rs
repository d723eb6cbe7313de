//! [`MemoryIam`]: the [`Iam`] fake over an [`IamState`], with IAM's own
//! answers, a log of the calls and the state after every write.

use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use super::state::{IamState, no_such};
use crate::effects::{
    AccessKey, EffectError, ErrorKind, GroupInfo, GroupRef, Iam, PolicyInfo, Quotas, UserInfo,
};
use crate::inventory::PasswordBaseline;

fn limit(op: &'static str, message: String) -> EffectError {
    EffectError {
        operation: op,
        kind: ErrorKind::LimitExceeded,
        code: Some("LimitExceeded".into()),
        message,
    }
}

/// Someone else's change to IAM and the operation it comes just before.
type Meanwhile = (&'static str, fn(&mut IamState));

/// IAM in memory.
#[derive(Debug, Default)]
pub struct MemoryIam {
    state: Mutex<IamState>,
    calls: Mutex<Vec<&'static str>>,
    history: Mutex<Vec<IamState>>,
    /// `(reads left, state)`: replaces the state once that many reads have
    /// answered from the old one.
    pending: Mutex<Option<(usize, IamState)>>,
    /// `(operation, change)`: someone else's change, made once just before
    /// that operation is first called.
    meanwhile: Mutex<Option<Meanwhile>>,
}

impl MemoryIam {
    pub fn new(state: IamState) -> Self {
        MemoryIam {
            state: Mutex::new(state),
            ..Default::default()
        }
    }

    /// IAM that answers the first `stale_reads` reads from `before` and
    /// every later call from `after`: a write made seconds before the event
    /// (a user, key or attachment) that eventually consistent IAM does not
    /// show at once. Writes are not expected while the reads are stale.
    pub fn eventually(before: IamState, after: IamState, stale_reads: usize) -> Self {
        let iam = MemoryIam::new(if stale_reads == 0 {
            after.clone()
        } else {
            before
        });
        if stale_reads > 0 {
            *lock(&iam.pending) = Some((stale_reads, after));
        }
        iam
    }

    /// IAM where someone else makes `change` just before `operation` is
    /// first called: an administrator acting while a remediation runs.
    pub fn meanwhile(self, operation: &'static str, change: fn(&mut IamState)) -> Self {
        *lock(&self.meanwhile) = Some((operation, change));
        self
    }

    /// The current state.
    pub fn state(&self) -> IamState {
        lock(&self.state).clone()
    }

    /// Every operation called, reads included, in order.
    pub fn calls(&self) -> Vec<&'static str> {
        lock(&self.calls).clone()
    }

    /// The state after each successful write, in order.
    pub fn history(&self) -> Vec<IamState> {
        lock(&self.history).clone()
    }

    fn read<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&IamState) -> Result<T, EffectError>,
    ) -> Result<T, EffectError> {
        lock(&self.calls).push(op);
        let mut state = lock(&self.state);
        self.someone_else(op, &mut state);
        let answer = f(&state);
        let mut pending = lock(&self.pending);
        if let Some((left, _)) = pending.as_mut() {
            *left -= 1;
            if *left == 0
                && let Some((_, after)) = pending.take()
            {
                *state = after;
            }
        }
        answer
    }

    /// Makes the [`MemoryIam::meanwhile`] change when `op` is its operation.
    fn someone_else(&self, op: &'static str, state: &mut IamState) {
        let mut meanwhile = lock(&self.meanwhile);
        if meanwhile.is_some_and(|(when, _)| when == op)
            && let Some((_, change)) = meanwhile.take()
        {
            change(state);
            lock(&self.history).push(state.clone());
        }
    }

    fn write(
        &self,
        op: &'static str,
        f: impl FnOnce(&mut IamState) -> Result<(), EffectError>,
    ) -> Result<(), EffectError> {
        lock(&self.calls).push(op);
        let mut state = lock(&self.state);
        self.someone_else(op, &mut state);
        f(&mut state)?;
        lock(&self.history).push(state.clone());
        Ok(())
    }
}

#[async_trait]
impl Iam for MemoryIam {
    async fn quotas(&self) -> Result<Quotas, EffectError> {
        self.read("iam:GetAccountSummary", |s| {
            Ok(Quotas {
                groups: u32::try_from(s.groups.len()).unwrap_or(u32::MAX),
                ..s.quotas
            })
        })
    }

    async fn user(&self, user: &str) -> Result<Option<UserInfo>, EffectError> {
        self.read("iam:GetUser", |s| {
            let user = s.user_name(user);
            Ok(s.users.get(&user).map(|u| UserInfo {
                arn: u
                    .arn
                    .clone()
                    .unwrap_or_else(|| format!("arn:aws:iam::111122223333:user/{user}")),
                tags: u.tags.clone(),
            }))
        })
    }

    async fn attached_user_policies(&self, user: &str) -> Result<Vec<String>, EffectError> {
        const OP: &str = "iam:ListAttachedUserPolicies";
        self.read(OP, |s| {
            let u = s
                .users
                .get(&s.user_name(user))
                .ok_or_else(|| no_such(OP, "user", user))?;
            Ok(u.attached.iter().cloned().collect())
        })
    }

    async fn groups_for_user(&self, user: &str) -> Result<Vec<GroupRef>, EffectError> {
        const OP: &str = "iam:ListGroupsForUser";
        self.read(OP, |s| {
            let user = s.user_name(user);
            if !s.users.contains_key(&user) {
                return Err(no_such(OP, "user", &user));
            }
            Ok(s.groups
                .iter()
                .filter(|(_, g)| g.members.contains(&user))
                .map(|(name, g)| GroupRef {
                    name: name.clone(),
                    path: g.path.clone(),
                })
                .collect())
        })
    }

    async fn group(&self, group: &str) -> Result<Option<GroupInfo>, EffectError> {
        self.read("iam:GetGroup", |s| {
            let group = s.group_name(group);
            s.in_scope("iam:GetGroup", &group)?;
            Ok(s.groups.get(&group).map(|g| GroupInfo {
                name: group.clone(),
                path: g.path.clone(),
                members: g.members.iter().cloned().collect(),
            }))
        })
    }

    async fn attached_group_policies(&self, group: &str) -> Result<Vec<String>, EffectError> {
        const OP: &str = "iam:ListAttachedGroupPolicies";
        self.read(OP, |s| {
            let group = s.group_name(group);
            Ok(s.scoped_group(OP, &group)?
                .attached
                .iter()
                .cloned()
                .collect())
        })
    }

    async fn group_policy_names(&self, group: &str) -> Result<Vec<String>, EffectError> {
        const OP: &str = "iam:ListGroupPolicies";
        self.read(OP, |s| {
            let group = s.group_name(group);
            Ok(s.scoped_group(OP, &group)?.inline.keys().cloned().collect())
        })
    }

    async fn policy(&self, policy_arn: &str) -> Result<PolicyInfo, EffectError> {
        self.read("iam:GetPolicy", |s| {
            Ok(PolicyInfo {
                attachable: !s.unattachable.contains(policy_arn),
            })
        })
    }

    async fn create_group(&self, group: &str, path: &str) -> Result<(), EffectError> {
        const OP: &str = "iam:CreateGroup";
        self.write(OP, |s| {
            if s.group_scope
                .as_deref()
                .is_some_and(|scope| !path.starts_with(scope))
            {
                return Err(EffectError {
                    operation: OP,
                    kind: ErrorKind::AccessDenied,
                    code: Some("AccessDenied".into()),
                    message: format!("not authorized to create group {group} at {path}"),
                });
            }
            if s.groups.keys().any(|g| g.eq_ignore_ascii_case(group)) {
                return Err(EffectError {
                    operation: OP,
                    kind: ErrorKind::AlreadyExists,
                    code: Some("EntityAlreadyExists".into()),
                    message: format!("group with name {group} already exists"),
                });
            }
            if s.groups.len() >= s.quotas.groups_quota as usize {
                return Err(limit(OP, "cannot exceed quota for GroupsPerAccount".into()));
            }
            s.group(group, path);
            Ok(())
        })
    }

    async fn attach_group_policy(&self, group: &str, policy_arn: &str) -> Result<(), EffectError> {
        const OP: &str = "iam:AttachGroupPolicy";
        self.write(OP, |s| {
            let group = s.group_name(group);
            s.in_scope(OP, &group)?;
            if s.unattachable.contains(policy_arn) {
                return Err(EffectError {
                    operation: OP,
                    kind: ErrorKind::Invalid,
                    code: Some("PolicyNotAttachable".into()),
                    message: format!("policy {policy_arn} cannot be attached"),
                });
            }
            let quota = s.quotas.policies_per_group as usize;
            let g = s.group_mut(OP, &group)?;
            if !g.attached.contains(policy_arn) && g.attached.len() >= quota {
                return Err(limit(
                    OP,
                    format!("cannot exceed quota for PoliciesPerGroup: {quota}"),
                ));
            }
            g.attached.insert(policy_arn.to_owned());
            Ok(())
        })
    }

    async fn add_user_to_group(&self, group: &str, user: &str) -> Result<(), EffectError> {
        const OP: &str = "iam:AddUserToGroup";
        self.write(OP, |s| {
            let (group, user) = (s.group_name(group), s.user_name(user));
            s.in_scope(OP, &group)?;
            s.user_mut(OP, &user)?;
            let quota = s.quotas.groups_per_user as usize;
            let count = s
                .groups
                .values()
                .filter(|g| g.members.contains(&user))
                .count();
            let g = s.group_mut(OP, &group)?;
            if !g.members.contains(&user) && count >= quota {
                return Err(limit(
                    OP,
                    format!("cannot exceed quota for GroupsPerUser: {quota}"),
                ));
            }
            g.members.insert(user);
            Ok(())
        })
    }

    async fn remove_user_from_group(&self, group: &str, user: &str) -> Result<(), EffectError> {
        const OP: &str = "iam:RemoveUserFromGroup";
        self.write(OP, |s| {
            let (group, user) = (s.group_name(group), s.user_name(user));
            s.in_scope(OP, &group)?;
            s.user_mut(OP, &user)?;
            if !s.group_mut(OP, &group)?.members.remove(&user) {
                return Err(no_such(OP, "user in group", &user));
            }
            Ok(())
        })
    }

    async fn detach_user_policy(&self, user: &str, policy_arn: &str) -> Result<(), EffectError> {
        const OP: &str = "iam:DetachUserPolicy";
        self.write(OP, |s| {
            let user = s.user_name(user);
            let u = s.user_mut(OP, &user)?;
            if !u.attached.remove(policy_arn) {
                return Err(no_such(OP, "policy", policy_arn));
            }
            Ok(())
        })
    }

    async fn user_policy(&self, user: &str, name: &str) -> Result<Option<String>, EffectError> {
        self.read("iam:GetUserPolicy", |s| {
            Ok(s.users
                .get(&s.user_name(user))
                .and_then(|u| u.inline.get(name).cloned()))
        })
    }

    async fn group_policy(&self, group: &str, name: &str) -> Result<Option<String>, EffectError> {
        self.read("iam:GetGroupPolicy", |s| {
            let group = s.group_name(group);
            s.in_scope("iam:GetGroupPolicy", &group)?;
            Ok(s.groups
                .get(&group)
                .and_then(|g| g.inline.get(name).cloned()))
        })
    }

    async fn put_group_policy(
        &self,
        group: &str,
        name: &str,
        document: &str,
    ) -> Result<(), EffectError> {
        const OP: &str = "iam:PutGroupPolicy";
        self.write(OP, |s| {
            let group = s.group_name(group);
            s.in_scope(OP, &group)?;
            let g = s.group_mut(OP, &group)?;
            g.inline.insert(name.to_owned(), document.to_owned());
            Ok(())
        })
    }

    async fn delete_user_policy(&self, user: &str, name: &str) -> Result<(), EffectError> {
        const OP: &str = "iam:DeleteUserPolicy";
        self.write(OP, |s| {
            let user = s.user_name(user);
            let u = s.user_mut(OP, &user)?;
            u.inline
                .remove(name)
                .map(drop)
                .ok_or_else(|| no_such(OP, "policy", name))
        })
    }

    async fn access_keys(&self, user: &str) -> Result<Vec<AccessKey>, EffectError> {
        const OP: &str = "iam:ListAccessKeys";
        self.read(OP, |s| {
            let u = s
                .users
                .get(&s.user_name(user))
                .ok_or_else(|| no_such(OP, "user", user))?;
            Ok(u.keys.clone())
        })
    }

    async fn deactivate_access_key(&self, user: &str, key_id: &str) -> Result<(), EffectError> {
        const OP: &str = "iam:UpdateAccessKey";
        self.write(OP, |s| {
            let user = s.user_name(user);
            let u = s.user_mut(OP, &user)?;
            let key = u
                .keys
                .iter_mut()
                .find(|k| k.id == key_id)
                .ok_or_else(|| no_such(OP, "access key", key_id))?;
            key.active = false;
            Ok(())
        })
    }

    async fn password_policy(&self) -> Result<Option<PasswordBaseline>, EffectError> {
        self.read("iam:GetAccountPasswordPolicy", |s| {
            Ok(s.password_policy.clone())
        })
    }

    async fn update_password_policy(&self, policy: &PasswordBaseline) -> Result<(), EffectError> {
        self.write("iam:UpdateAccountPasswordPolicy", |s| {
            s.password_policy = Some(policy.clone());
            Ok(())
        })
    }
}
