//! In-memory effects that record every call, for tests and dry runs.
//!
//! [`MemoryIam`] models the slice of IAM the remediations touch with IAM's
//! own answers (NoSuchEntity, EntityAlreadyExists, LimitExceeded), records
//! every operation name, and keeps a snapshot of the state after each write
//! so a test can check an invariant at every intermediate step. Names of
//! users and groups are matched regardless of case, as IAM does, and
//! answered as stored. [`MemoryIam::eventually`] models IAM's eventual
//! consistency: a write made just before the run shows only after some
//! reads.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;

use super::{
    AccessKey, EffectError, ErrorKind, GroupInfo, GroupRef, Iam, PolicyInfo, Publisher, Quotas,
    Secret, Secrets, SnsMessage, TrailControl, UserInfo, Webhook, WebhookUrl, same_document,
};
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
    fn in_scope(&self, op: &'static str, group: &str) -> Result<(), EffectError> {
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

    fn user_mut(&mut self, op: &'static str, user: &str) -> Result<&mut UserState, EffectError> {
        self.users
            .get_mut(user)
            .ok_or_else(|| no_such(op, "user", user))
    }

    fn group_mut(&mut self, op: &'static str, group: &str) -> Result<&mut GroupState, EffectError> {
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

fn no_such(op: &'static str, what: &str, name: &str) -> EffectError {
    EffectError {
        operation: op,
        kind: ErrorKind::NotFound,
        code: Some("NoSuchEntity".into()),
        message: format!("the {what} with name {name} cannot be found"),
    }
}

fn limit(op: &'static str, message: String) -> EffectError {
    EffectError {
        operation: op,
        kind: ErrorKind::LimitExceeded,
        code: Some("LimitExceeded".into()),
        message,
    }
}

/// IAM in memory.
#[derive(Debug, Default)]
pub struct MemoryIam {
    state: Mutex<IamState>,
    calls: Mutex<Vec<&'static str>>,
    history: Mutex<Vec<IamState>>,
    /// `(reads left, state)`: replaces the state once that many reads have
    /// answered from the old one.
    pending: Mutex<Option<(usize, IamState)>>,
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

    fn write(
        &self,
        op: &'static str,
        f: impl FnOnce(&mut IamState) -> Result<(), EffectError>,
    ) -> Result<(), EffectError> {
        lock(&self.calls).push(op);
        let mut state = lock(&self.state);
        f(&mut state)?;
        lock(&self.history).push(state.clone());
        Ok(())
    }
}

/// Poisoning only follows a panic in a test; carry on with the data.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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
            s.in_scope(OP, &group)?;
            let g = s
                .groups
                .get(&group)
                .ok_or_else(|| no_such(OP, "group", &group))?;
            Ok(g.attached.iter().cloned().collect())
        })
    }

    async fn group_policy_names(&self, group: &str) -> Result<Vec<String>, EffectError> {
        const OP: &str = "iam:ListGroupPolicies";
        self.read(OP, |s| {
            let group = s.group_name(group);
            s.in_scope(OP, &group)?;
            let g = s
                .groups
                .get(&group)
                .ok_or_else(|| no_such(OP, "group", &group))?;
            Ok(g.inline.keys().cloned().collect())
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

/// CloudTrail in memory: trail name -> logging.
#[derive(Debug, Default)]
pub struct MemoryTrail {
    trails: Mutex<BTreeMap<String, bool>>,
    calls: Mutex<Vec<&'static str>>,
    /// `(times left, error)` StartLogging answers before it works.
    start_failures: Mutex<Option<(usize, EffectError)>>,
}

impl MemoryTrail {
    pub fn with_trail(self, name: &str, logging: bool) -> Self {
        lock(&self.trails).insert(name.to_owned(), logging);
        self
    }

    /// The next `times` StartLogging calls fail with `error` and change
    /// nothing (CloudTrail's ConflictException for a trail it has not
    /// finished loading).
    pub fn failing_start(self, times: usize, error: EffectError) -> Self {
        *lock(&self.start_failures) = Some((times, error));
        self
    }

    pub fn is_logging_now(&self, name: &str) -> Option<bool> {
        lock(&self.trails).get(name).copied()
    }

    pub fn calls(&self) -> Vec<&'static str> {
        lock(&self.calls).clone()
    }
}

#[async_trait]
impl TrailControl for MemoryTrail {
    async fn is_logging(&self, _: Option<&str>, trail: &str) -> Result<Option<bool>, EffectError> {
        lock(&self.calls).push("cloudtrail:GetTrailStatus");
        Ok(lock(&self.trails).get(trail).copied())
    }

    async fn start_logging(&self, _: Option<&str>, trail: &str) -> Result<(), EffectError> {
        const OP: &str = "cloudtrail:StartLogging";
        lock(&self.calls).push(OP);
        if let Some((left, error)) = lock(&self.start_failures).as_mut()
            && *left > 0
        {
            *left -= 1;
            return Err(error.clone());
        }
        match lock(&self.trails).get_mut(trail) {
            Some(on) => {
                *on = true;
                Ok(())
            }
            None => Err(EffectError {
                operation: OP,
                kind: ErrorKind::NotFound,
                code: Some("TrailNotFoundException".into()),
                message: format!("unknown trail `{trail}`"),
            }),
        }
    }
}

/// Records published SNS messages; fails with a set error when told to.
#[derive(Debug, Default)]
pub struct RecordingPublisher {
    messages: Mutex<Vec<SnsMessage>>,
    fail: Mutex<Option<EffectError>>,
}

impl RecordingPublisher {
    pub fn messages(&self) -> Vec<SnsMessage> {
        lock(&self.messages).clone()
    }

    /// Every later publish fails with `error` (until set to `None`).
    pub fn fail_with(&self, error: Option<EffectError>) {
        *lock(&self.fail) = error;
    }
}

#[async_trait]
impl Publisher for RecordingPublisher {
    async fn publish(&self, message: &SnsMessage) -> Result<String, EffectError> {
        if let Some(e) = lock(&self.fail).clone() {
            return Err(e);
        }
        let mut list = lock(&self.messages);
        list.push(message.clone());
        Ok(format!("memory-{}", list.len()))
    }
}

/// Records webhook bodies; fails with a set error when told to.
#[derive(Debug, Default)]
pub struct RecordingWebhook {
    bodies: Mutex<Vec<serde_json::Value>>,
    fail: Mutex<Option<EffectError>>,
}

impl RecordingWebhook {
    pub fn bodies(&self) -> Vec<serde_json::Value> {
        lock(&self.bodies).clone()
    }

    pub fn fail_with(&self, error: Option<EffectError>) {
        *lock(&self.fail) = error;
    }
}

#[async_trait]
impl Webhook for RecordingWebhook {
    async fn post_json(&self, _: &WebhookUrl, body: &serde_json::Value) -> Result<(), EffectError> {
        if let Some(e) = lock(&self.fail).clone() {
            return Err(e);
        }
        lock(&self.bodies).push(body.clone());
        Ok(())
    }
}

/// Secrets in memory: ARN -> value.
#[derive(Debug, Default)]
pub struct MemorySecrets {
    values: BTreeMap<String, String>,
}

impl MemorySecrets {
    pub fn with(mut self, arn: &str, value: &str) -> Self {
        self.values.insert(arn.to_owned(), value.to_owned());
        self
    }
}

#[async_trait]
impl Secrets for MemorySecrets {
    async fn secret_string(&self, secret_arn: &str) -> Result<Secret, EffectError> {
        self.values
            .get(secret_arn)
            .map(Secret::new)
            .ok_or_else(|| EffectError {
                operation: "secretsmanager:GetSecretValue",
                kind: ErrorKind::NotFound,
                code: Some("ResourceNotFoundException".into()),
                message: format!("secret `{secret_arn}` not found"),
            })
    }
}
