//! The slice of an IAM account the remediations touch, as plain data: what
//! [`super::MemoryIam`] answers from and what tests seed and inspect.

use std::collections::{BTreeMap, BTreeSet};

use crate::effects::{AccessKey, EffectError, ErrorKind, Quotas, same_document};
use crate::inventory::PasswordBaseline;

/// An IAM user in the model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserState {
    /// The ARN GetUser answers; when unset, that of a user without a path
    /// in account 111122223333 (`arn:aws:iam::111122223333:user/<name>`).
    pub arn: Option<String>,
    pub tags: Vec<(String, String)>,
    pub attached: BTreeSet<String>,
    pub inline: BTreeMap<String, String>,
    pub keys: Vec<AccessKey>,
}

/// An IAM group in the model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupState {
    pub path: String,
    pub members: BTreeSet<String>,
    pub attached: BTreeSet<String>,
    pub inline: BTreeMap<String, String>,
}

/// The modelled IAM account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IamState {
    pub users: BTreeMap<String, UserState>,
    pub groups: BTreeMap<String, GroupState>,
    pub password_policy: Option<PasswordBaseline>,
    /// Quotas answered by `GetAccountSummary` (and enforced, as IAM does).
    pub quotas: Quotas,
    /// When set, the caller's role may only touch groups under this path,
    /// as trailguard's deployed role: any other group, and any group that
    /// does not exist, answers AccessDenied (IAM cannot match a missing
    /// group's path against the policy).
    pub group_scope: Option<String>,
    /// Managed policies that exist but cannot be attached (deprecated AWS
    /// managed policies: `IsAttachable` false, `PolicyNotAttachable`).
    /// Every other policy ARN exists and is attachable.
    pub unattachable: BTreeSet<String>,
}

impl IamState {
    /// Adds a user (no tags, no policies).
    pub fn user(&mut self, name: &str) -> &mut UserState {
        self.users.entry(name.to_owned()).or_default()
    }

    /// Adds a group at `path`.
    pub fn group(&mut self, name: &str, path: &str) -> &mut GroupState {
        let g = self.groups.entry(name.to_owned()).or_default();
        g.path = path.to_owned();
        g
    }

    /// Does `user` hold the managed policy, directly or through a group?
    pub fn user_has_policy(&self, user: &str, policy_arn: &str) -> bool {
        self.users
            .get(user)
            .is_some_and(|u| u.attached.contains(policy_arn))
            || self
                .groups
                .values()
                .any(|g| g.members.contains(user) && g.attached.contains(policy_arn))
    }

    /// Does `user` hold this inline document, directly or through a group?
    pub fn user_has_document(&self, user: &str, document: &str) -> bool {
        let same = |d: &String| same_document(d, document);
        self.users
            .get(user)
            .is_some_and(|u| u.inline.values().any(same))
            || self
                .groups
                .values()
                .any(|g| g.members.contains(user) && g.inline.values().any(same))
    }

    /// The stored name of a user, matched regardless of case as IAM does;
    /// the name itself when there is no such user.
    pub fn user_name(&self, name: &str) -> String {
        stored(self.users.keys(), name)
    }

    /// The stored name of a group, matched regardless of case.
    pub fn group_name(&self, name: &str) -> String {
        stored(self.groups.keys(), name)
    }

    /// AccessDenied unless the scoped role may touch `group`.
    pub(super) fn in_scope(&self, op: &'static str, group: &str) -> Result<(), EffectError> {
        let Some(scope) = &self.group_scope else {
            return Ok(());
        };
        match self.groups.get(group) {
            Some(g) if g.path.starts_with(scope.as_str()) => Ok(()),
            _ => Err(EffectError {
                operation: op,
                kind: ErrorKind::AccessDenied,
                code: Some("AccessDenied".into()),
                message: format!("not authorized to perform {op} on group {group}"),
            }),
        }
    }

    /// The group, if the scoped role may see it: AccessDenied out of
    /// scope, NoSuchEntity when it does not exist.
    pub(super) fn scoped_group(
        &self,
        op: &'static str,
        group: &str,
    ) -> Result<&GroupState, EffectError> {
        self.in_scope(op, group)?;
        self.groups
            .get(group)
            .ok_or_else(|| no_such(op, "group", group))
    }

    pub(super) fn user_mut(
        &mut self,
        op: &'static str,
        user: &str,
    ) -> Result<&mut UserState, EffectError> {
        self.users
            .get_mut(user)
            .ok_or_else(|| no_such(op, "user", user))
    }

    pub(super) fn group_mut(
        &mut self,
        op: &'static str,
        group: &str,
    ) -> Result<&mut GroupState, EffectError> {
        self.groups
            .get_mut(group)
            .ok_or_else(|| no_such(op, "group", group))
    }
}

fn stored<'a>(mut names: impl Iterator<Item = &'a String>, name: &str) -> String {
    names
        .find(|n| n.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_owned())
}

pub(super) fn no_such(op: &'static str, what: &str, name: &str) -> EffectError {
    EffectError {
        operation: op,
        kind: ErrorKind::NotFound,
        code: Some("NoSuchEntity".into()),
        message: format!("the {what} with name {name} cannot be found"),
    }
}
