//! A fault-injecting [`Iam`]: wraps any other and fails one chosen call,
//! either before it reaches the inner IAM or after it took effect (the
//! answer lost, as on a timeout).
//!
//! Why a wrapper rather than `aws-smithy-mocks`: wrapped around the real SDK
//! adapter talking to moto, a fault leaves real IAM state behind (a write
//! that landed but whose answer was lost), which canned HTTP answers cannot
//! model; the same wrapper serves the in-memory model in unit tests; and it
//! costs no second build of the SDK crates with `test-util`.

use std::future::Future;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{
    AccessKey, EffectError, ErrorKind, GroupInfo, GroupRef, Iam, PolicyInfo, Quotas, UserInfo,
};
use crate::inventory::PasswordBaseline;

/// When the injected fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// The call never reaches IAM.
    Before,
    /// The call takes effect, then its answer is lost.
    After,
}

/// An [`Iam`] that fails its `n`-th call (counting from 0, reads included),
/// or the first calls of one operation.
#[derive(Debug)]
pub struct FaultyIam<I> {
    inner: I,
    fault: Option<(usize, When, ErrorKind)>,
    /// `(operation, how many of its first calls, kind)`.
    first: Option<(&'static str, usize, ErrorKind)>,
    calls: Mutex<Vec<&'static str>>,
}

impl<I: Iam> FaultyIam<I> {
    /// A pass-through wrapper that records operation names.
    pub fn new(inner: I) -> Self {
        FaultyIam {
            inner,
            fault: None,
            first: None,
            calls: Mutex::new(Vec::new()),
        }
    }

    /// Fails call number `call` with a retryable 503-like error.
    pub fn fail_at(self, call: usize, when: When) -> Self {
        self.fail_at_with(call, when, ErrorKind::Unavailable)
    }

    /// Fails call number `call` with an error of `kind`.
    pub fn fail_at_with(mut self, call: usize, when: When, kind: ErrorKind) -> Self {
        self.fault = Some((call, when, kind));
        self
    }

    /// Fails the first `times` calls of `operation` before they reach IAM,
    /// then lets it through: a condition IAM cannot evaluate yet for an
    /// entity just created (AccessDenied on a group a path-scoped role
    /// created a moment ago), or a passing conflict.
    pub fn fail_first(mut self, operation: &'static str, times: usize, kind: ErrorKind) -> Self {
        self.first = Some((operation, times, kind));
        self
    }

    /// Every operation called through the wrapper, in order.
    pub fn calls(&self) -> Vec<&'static str> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The wrapped IAM, to inspect its state.
    pub fn inner(&self) -> &I {
        &self.inner
    }

    async fn step<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = Result<T, EffectError>>,
    ) -> Result<T, EffectError> {
        let (index, seen) = {
            let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
            calls.push(op);
            let seen = calls.iter().filter(|c| **c == op).count();
            (calls.len() - 1, seen)
        };
        let fault = self
            .fault
            .filter(|(at, _, _)| *at == index)
            .or_else(|| {
                self.first
                    .filter(|(o, times, _)| *o == op && seen <= *times)
                    .map(|(_, _, kind)| (index, When::Before, kind))
            })
            .map(|(_, when, kind)| {
                (
                    when,
                    EffectError {
                        operation: op,
                        kind,
                        code: Some("InjectedFault".into()),
                        message: format!("injected fault {when:?} call {index}"),
                    },
                )
            });
        match fault {
            Some((When::Before, err)) => Err(err),
            Some((When::After, err)) => {
                let _ = call.await;
                Err(err)
            }
            None => call.await,
        }
    }
}

#[async_trait]
impl<I: Iam> Iam for FaultyIam<I> {
    async fn quotas(&self) -> Result<Quotas, EffectError> {
        self.step("iam:GetAccountSummary", self.inner.quotas())
            .await
    }
    async fn user(&self, user: &str) -> Result<Option<UserInfo>, EffectError> {
        self.step("iam:GetUser", self.inner.user(user)).await
    }
    async fn attached_user_policies(&self, user: &str) -> Result<Vec<String>, EffectError> {
        self.step(
            "iam:ListAttachedUserPolicies",
            self.inner.attached_user_policies(user),
        )
        .await
    }
    async fn groups_for_user(&self, user: &str) -> Result<Vec<GroupRef>, EffectError> {
        self.step("iam:ListGroupsForUser", self.inner.groups_for_user(user))
            .await
    }
    async fn group(&self, group: &str) -> Result<Option<GroupInfo>, EffectError> {
        self.step("iam:GetGroup", self.inner.group(group)).await
    }
    async fn attached_group_policies(&self, group: &str) -> Result<Vec<String>, EffectError> {
        self.step(
            "iam:ListAttachedGroupPolicies",
            self.inner.attached_group_policies(group),
        )
        .await
    }
    async fn group_policy_names(&self, group: &str) -> Result<Vec<String>, EffectError> {
        self.step(
            "iam:ListGroupPolicies",
            self.inner.group_policy_names(group),
        )
        .await
    }
    async fn policy(&self, policy_arn: &str) -> Result<PolicyInfo, EffectError> {
        self.step("iam:GetPolicy", self.inner.policy(policy_arn))
            .await
    }
    async fn create_group(&self, group: &str, path: &str) -> Result<(), EffectError> {
        self.step("iam:CreateGroup", self.inner.create_group(group, path))
            .await
    }
    async fn attach_group_policy(&self, group: &str, policy_arn: &str) -> Result<(), EffectError> {
        self.step(
            "iam:AttachGroupPolicy",
            self.inner.attach_group_policy(group, policy_arn),
        )
        .await
    }
    async fn add_user_to_group(&self, group: &str, user: &str) -> Result<(), EffectError> {
        self.step(
            "iam:AddUserToGroup",
            self.inner.add_user_to_group(group, user),
        )
        .await
    }
    async fn remove_user_from_group(&self, group: &str, user: &str) -> Result<(), EffectError> {
        self.step(
            "iam:RemoveUserFromGroup",
            self.inner.remove_user_from_group(group, user),
        )
        .await
    }
    async fn detach_user_policy(&self, user: &str, policy_arn: &str) -> Result<(), EffectError> {
        self.step(
            "iam:DetachUserPolicy",
            self.inner.detach_user_policy(user, policy_arn),
        )
        .await
    }
    async fn user_policy(&self, user: &str, name: &str) -> Result<Option<String>, EffectError> {
        self.step("iam:GetUserPolicy", self.inner.user_policy(user, name))
            .await
    }
    async fn group_policy(&self, group: &str, name: &str) -> Result<Option<String>, EffectError> {
        self.step("iam:GetGroupPolicy", self.inner.group_policy(group, name))
            .await
    }
    async fn put_group_policy(
        &self,
        group: &str,
        name: &str,
        document: &str,
    ) -> Result<(), EffectError> {
        self.step(
            "iam:PutGroupPolicy",
            self.inner.put_group_policy(group, name, document),
        )
        .await
    }
    async fn delete_user_policy(&self, user: &str, name: &str) -> Result<(), EffectError> {
        self.step(
            "iam:DeleteUserPolicy",
            self.inner.delete_user_policy(user, name),
        )
        .await
    }
    async fn access_keys(&self, user: &str) -> Result<Vec<AccessKey>, EffectError> {
        self.step("iam:ListAccessKeys", self.inner.access_keys(user))
            .await
    }
    async fn deactivate_access_key(&self, user: &str, key_id: &str) -> Result<(), EffectError> {
        self.step(
            "iam:UpdateAccessKey",
            self.inner.deactivate_access_key(user, key_id),
        )
        .await
    }
    async fn password_policy(&self) -> Result<Option<PasswordBaseline>, EffectError> {
        self.step("iam:GetAccountPasswordPolicy", self.inner.password_policy())
            .await
    }
    async fn update_password_policy(&self, policy: &PasswordBaseline) -> Result<(), EffectError> {
        self.step(
            "iam:UpdateAccountPasswordPolicy",
            self.inner.update_password_policy(policy),
        )
        .await
    }
}

/// An [`ObjectStore`](super::s3::ObjectStore) that records what it is
/// asked and fails the reads of chosen keys: the first `n` answers, or a
/// body cut short after its first bytes.
#[derive(Default)]
pub struct FaultyStore<S> {
    inner: S,
    /// `(key, how many of its first GETs fail, kind)`.
    failing: Vec<(String, usize, ErrorKind)>,
    /// Keys whose body breaks off after 10 bytes, every time.
    cut: Vec<String>,
    /// Prefixes whose listing fails, every time, with this kind.
    denied: Vec<(String, ErrorKind)>,
    listed: Mutex<Vec<String>>,
    got: Mutex<Vec<String>>,
}

impl<S: super::s3::ObjectStore> FaultyStore<S> {
    /// A pass-through wrapper that records the folders listed and the keys read.
    pub fn new(inner: S) -> Self {
        FaultyStore {
            inner,
            failing: Vec::new(),
            cut: Vec::new(),
            denied: Vec::new(),
            listed: Mutex::new(Vec::new()),
            got: Mutex::new(Vec::new()),
        }
    }

    /// Fails the first `times` GETs of `key` with an error of `kind`
    /// (a `SlowDown` answer is [`ErrorKind::Throttled`]).
    pub fn fail_get(mut self, key: &str, times: usize, kind: ErrorKind) -> Self {
        self.failing.push((key.to_owned(), times, kind));
        self
    }

    /// Every read of `key` breaks off after its first bytes.
    pub fn cut_body(mut self, key: &str) -> Self {
        self.cut.push(key.to_owned());
        self
    }

    /// Every listing of `prefix` fails with an error of `kind`
    /// (`AccessDenied` for [`ErrorKind::AccessDenied`]).
    pub fn fail_list(mut self, prefix: &str, kind: ErrorKind) -> Self {
        self.denied.push((prefix.to_owned(), kind));
        self
    }

    /// The prefixes listed, in order.
    pub fn listed(&self) -> Vec<String> {
        self.listed.lock().expect("not poisoned").clone()
    }

    /// The keys asked for, once per attempt.
    pub fn got(&self) -> Vec<String> {
        self.got.lock().expect("not poisoned").clone()
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: super::s3::ObjectStore> super::s3::ObjectStore for FaultyStore<S> {
    fn list(&self, bucket: &str, prefix: &str) -> Result<super::s3::Listing, EffectError> {
        self.listed
            .lock()
            .expect("not poisoned")
            .push(prefix.to_owned());
        if let Some((_, kind)) = self.denied.iter().find(|(p, _)| p == prefix) {
            return Err(injected("s3:ListBucket", *kind, prefix));
        }
        self.inner.list(bucket, prefix)
    }

    fn get(&self, bucket: &str, key: &str) -> Result<Box<dyn std::io::Read + Send>, EffectError> {
        let attempt = {
            let mut got = self.got.lock().expect("not poisoned");
            got.push(key.to_owned());
            got.iter().filter(|k| *k == key).count()
        };
        for (k, times, kind) in &self.failing {
            if k == key && attempt <= *times {
                return Err(injected("s3:GetObject", *kind, key));
            }
        }
        let body = self.inner.get(bucket, key)?;
        if self.cut.iter().any(|k| k == key) {
            let broken = std::io::Read::chain(std::io::Read::take(body, 10), BrokenRead);
            return Ok(Box::new(broken));
        }
        Ok(body)
    }

    fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), EffectError> {
        self.inner.put(bucket, key, body)
    }
}

/// The error S3 answers for `kind`, injected for `name`.
fn injected(operation: &'static str, kind: ErrorKind, name: &str) -> EffectError {
    let code = match kind {
        ErrorKind::Throttled => "SlowDown",
        ErrorKind::Unavailable => "InternalError",
        _ => "AccessDenied",
    };
    EffectError {
        operation,
        kind,
        code: Some(code.into()),
        message: format!("injected for `{name}`"),
    }
}

/// A reader whose connection is gone.
struct BrokenRead;

impl std::io::Read for BrokenRead {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "connection reset (injected)",
        ))
    }
}

/// A [`MemberAccess`](super::MemberAccess) whose `sts:AssumeRole` is denied
/// for some accounts, as STS denies a role that is missing or does not
/// trust the function (moto assumes any role), and passes the others on.
pub struct DeniedMembers {
    inner: std::sync::Arc<dyn super::MemberAccess>,
    denied: Vec<String>,
}

impl DeniedMembers {
    /// Denies the member role of each of `accounts`.
    pub fn new(inner: std::sync::Arc<dyn super::MemberAccess>, accounts: &[&str]) -> Self {
        DeniedMembers {
            inner,
            denied: accounts.iter().map(|a| (*a).to_owned()).collect(),
        }
    }
}

#[async_trait]
impl super::MemberAccess for DeniedMembers {
    async fn account(
        &self,
        target: &super::MemberTarget<'_>,
    ) -> Result<super::AccountEffects, EffectError> {
        if self.denied.iter().any(|a| a == target.account) {
            return Err(EffectError {
                operation: "sts:AssumeRole",
                kind: ErrorKind::AccessDenied,
                code: Some("AccessDenied".into()),
                message: format!(
                    "not authorized to perform sts:AssumeRole on the member role of {}",
                    target.account
                ),
            });
        }
        self.inner.account(target).await
    }
}
