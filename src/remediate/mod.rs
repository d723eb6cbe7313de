//! Remediations: one file each, every one idempotent and safe under faults.
//!
//! Each file declares its contract (`SPEC`: id, what it changes, the exact
//! IAM permissions) beside its code; [`Action`] is the plan a rule makes
//! for one of them, and the groups the moves use are named in `groups.rs`.
//! Rules sit above this module: they name the remediation they plan.
//!
//! The invariants, kept in every file here:
//! - Read first, write last: every check (the user still exists, the policy
//!   is still attached, quotas, a dedicated group) runs before the first
//!   write, so a blocked remediation changes nothing.
//! - Never less permission: a permission is granted in its new place and the
//!   grant read back before it is taken from the old one.
//! - Idempotent: each write is skipped when its effect is already there, and
//!   "already exists"/"no such entity" answers of a repeated write count as
//!   done, so a retry after any failure completes the work without doing
//!   anything twice.
//! - Act only on what the event names; deactivate, never delete.
//! - Report the write calls made, and the commands that undo them.
//! - Patient with IAM's eventual consistency: what the event names (a user,
//!   key, policy or attachment made seconds before) may be missing from the
//!   first reads, so "absent" is read again within [`Retry::absent_budget`]
//!   before it ends as Unchanged; a group just created may answer
//!   NoSuchEntity, or AccessDenied to a path-scoped role, for a moment; and
//!   the user's copy is taken away only [`Retry::propagation_delay`] after
//!   the new grant was read back.
//! - IAM names are case-insensitive: user and group names are compared so.

mod action;
mod deactivate_access_key;
mod groups;
mod move_inline_policy_to_group;
mod move_policy_to_group;
mod restore_password_policy;
mod spec;
mod start_logging;

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use crate::effects::{EffectError, ErrorKind, GroupInfo, GroupRef, Iam, Quotas, TrailControl};

pub use action::Action;
pub use deactivate_access_key::SPEC as DEACTIVATE_ACCESS_KEY;
pub(crate) use groups::fnv1a;
pub use groups::{
    DEFAULT_PROPAGATION_DELAY_SECONDS, GroupNaming, group_for_inline, group_for_policy, group_name,
};
pub use move_inline_policy_to_group::SPEC as MOVE_INLINE_POLICY_TO_GROUP;
pub use move_policy_to_group::SPEC as MOVE_POLICY_TO_GROUP;
pub use restore_password_policy::SPEC as RESTORE_PASSWORD_POLICY;
pub use spec::{RemediationSpec, remediations};
pub use start_logging::SPEC as START_LOGGING;

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

/// What the remediation ended as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Alert mode: the calls it would make, nothing changed.
    Planned,
    /// The target is exempt: alerted, never changed.
    Exempt,
    /// Changes were made.
    Done,
    /// Nothing to do: already in the wanted state, or the target is gone.
    Unchanged,
    /// Refused for a reason a retry will not fix (a quota, a foreign
    /// group); nothing changed.
    Blocked,
    /// An error stopped it; `calls` lists what was done before it.
    Failed,
}

impl Status {
    /// The kebab-case name used in JSON and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Planned => "planned",
            Status::Exempt => "exempt",
            Status::Done => "done",
            Status::Unchanged => "unchanged",
            Status::Blocked => "blocked",
            Status::Failed => "failed",
        }
    }
}

/// What a remediation did (or would do), and how to undo it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The remediation id of the registry.
    pub id: &'static str,
    pub status: Status,
    /// Sentences for a human: why it did or did not act.
    pub notes: Vec<String>,
    /// The write calls made (or, when planned, to be made), in order.
    pub calls: Vec<String>,
    /// AWS CLI commands that undo `calls`, in the order to run them.
    pub undo: Vec<String>,
    /// The inline policy document moved, so nothing is lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
}

impl Report {
    /// An empty report of remediation `id`.
    pub fn new(id: &'static str, status: Status) -> Self {
        Report {
            id,
            status,
            notes: Vec::new(),
            calls: Vec::new(),
            undo: Vec::new(),
            document: None,
        }
    }

    pub(crate) fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}

/// A remediation stopped by an error; `report` says what it did first.
#[derive(Debug, Clone, thiserror::Error)]
#[error("remediation `{}` failed: {source}", report.id)]
pub struct RemediateError {
    pub source: EffectError,
    pub report: Box<Report>,
    retryable: bool,
}

impl RemediateError {
    /// Worth running the event again: throttling, 5xx, timeouts, and IAM
    /// not yet showing our own writes. Safe, since every step is idempotent.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

/// How long to wait for IAM's eventual consistency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all (1 = no retry) of a call on what this run just wrote.
    pub attempts: u32,
    /// Wait before the second attempt; doubled for each later one.
    pub first_delay: Duration,
    /// How long the first reads are repeated while what the event names
    /// (a user, key, policy or attachment made seconds before) is absent,
    /// before concluding it is gone. Backoff from `first_delay`, doubling,
    /// at most [`MAX_ABSENT_DELAY`] apart.
    pub absent_budget: Duration,
    /// Wait between reading back the new group grant and taking the user's
    /// copy away: IAM takes seconds to propagate a change to every endpoint,
    /// and a request served meanwhile could find neither grant.
    pub propagation_delay: Duration,
}

/// The longest pause between two reads of something absent.
pub const MAX_ABSENT_DELAY: Duration = Duration::from_secs(8);

impl Default for Retry {
    /// Five attempts over about four seconds; absent reads repeated for 30
    /// seconds; a 10 second propagation delay. Well inside the function's
    /// timeout (300 seconds in the template).
    fn default() -> Self {
        Retry {
            attempts: 5,
            first_delay: Duration::from_millis(250),
            absent_budget: Duration::from_secs(30),
            propagation_delay: Duration::from_secs(DEFAULT_PROPAGATION_DELAY_SECONDS),
        }
    }
}

impl Retry {
    /// For tests against an emulator that is consistent at once: short
    /// waits, no propagation delay.
    pub fn quick() -> Self {
        Retry {
            attempts: 3,
            first_delay: Duration::from_millis(5),
            absent_budget: Duration::from_millis(20),
            propagation_delay: Duration::ZERO,
        }
    }

    fn delay(&self, attempt: u32) -> Duration {
        self.first_delay
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
    }
}

/// How a remediation waits: tokio's timer, or in tests a clock that
/// records the waits and returns at once.
#[async_trait]
pub trait Sleep: Send + Sync {
    /// Returns after `duration`.
    async fn sleep(&self, duration: Duration);
}

/// The real wait.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleep;

#[async_trait]
impl Sleep for TokioSleep {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// What a remediation may touch.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub iam: &'a dyn Iam,
    pub trail: &'a dyn TrailControl,
    /// The event's region: the trail's home region for StartLogging.
    pub region: Option<&'a str>,
    pub retry: Retry,
    /// Every wait goes through it.
    pub sleep: &'a dyn Sleep,
}

/// Runs the remediation an action names.
pub async fn run(action: &Action, ctx: &Ctx<'_>) -> Result<Report, RemediateError> {
    match action {
        Action::MovePolicyToGroup {
            user_name,
            policy_arn,
            group_name,
            group_path,
        } => move_policy_to_group::run(user_name, policy_arn, group_name, group_path, ctx).await,
        Action::MoveInlinePolicyToGroup {
            user_name,
            policy_name,
            group_name,
            group_path,
        } => {
            move_inline_policy_to_group::run(user_name, policy_name, group_name, group_path, ctx)
                .await
        }
        Action::DeactivateAccessKey {
            user_name,
            access_key_id,
        } => deactivate_access_key::run(user_name, access_key_id, ctx).await,
        Action::RestorePasswordPolicy { baseline } => {
            restore_password_policy::run(baseline, ctx).await
        }
        Action::StartLogging { trail } => start_logging::run(trail, ctx).await,
    }
}

/// The calls a remediation would make, without making any (alert mode).
pub fn plan(action: &Action) -> Report {
    let (calls, notes) = match action {
        Action::MovePolicyToGroup {
            user_name,
            policy_arn,
            group_name,
            group_path,
        } => move_policy_to_group::plan(user_name, policy_arn, group_name, group_path),
        Action::MoveInlinePolicyToGroup {
            user_name,
            policy_name,
            group_name,
            group_path,
        } => move_inline_policy_to_group::plan(user_name, policy_name, group_name, group_path),
        Action::DeactivateAccessKey {
            user_name,
            access_key_id,
        } => deactivate_access_key::plan(user_name, access_key_id),
        Action::RestorePasswordPolicy { baseline } => restore_password_policy::plan(baseline),
        Action::StartLogging { trail } => start_logging::plan(trail),
    };
    Report {
        calls,
        notes,
        ..Report::new(action.id(), Status::Planned)
    }
}

// Shared by the remediations ----------------------------------------------

/// Builds a report as calls are made.
pub(crate) struct Recorder {
    report: Report,
}

impl Recorder {
    pub(crate) fn new(id: &'static str) -> Self {
        Recorder {
            report: Report::new(id, Status::Done),
        }
    }

    /// Records a write call made and the command that undoes it.
    pub(crate) fn call(&mut self, call: String, undo: Option<String>) {
        self.report.calls.push(call);
        if let Some(u) = undo {
            // Undo in reverse order of doing.
            self.report.undo.insert(0, u);
        }
    }

    pub(crate) fn note(&mut self, note: impl Into<String>) {
        self.report.notes.push(note.into());
    }

    pub(crate) fn document(&mut self, document: &str) {
        self.report.document = Some(document.to_owned());
    }

    /// Ends with `status`; `Done` only if a call was made.
    pub(crate) fn finish(mut self, status: Status) -> Report {
        self.report.status = if status == Status::Done && self.report.calls.is_empty() {
            Status::Unchanged
        } else {
            status
        };
        self.report
    }

    /// Ends as failed because of `source`.
    pub(crate) fn fail(&mut self, source: EffectError) -> RemediateError {
        let retryable = source.is_retryable();
        self.fail_with(source, retryable)
    }

    pub(crate) fn fail_with(&mut self, source: EffectError, retryable: bool) -> RemediateError {
        let mut report = self.report.clone();
        report.status = Status::Failed;
        report.notes.push(if retryable {
            format!("stopped by {source}; safe to retry")
        } else {
            format!("stopped by {source}")
        });
        RemediateError {
            source,
            report: Box::new(report),
            retryable,
        }
    }
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

/// The report for a user deleted before the event was handled.
pub(crate) fn user_gone(id: &'static str, user: &str) -> Report {
    Report::new(id, Status::Unchanged)
        .note(format!("user {user} no longer exists; nothing to change"))
}

/// IAM not showing yet what this run wrote: NoSuchEntity, or, on a group
/// this run created (`fresh`), AccessDenied: a role scoped to trailguard's
/// group path is denied a group whose path IAM cannot resolve yet.
fn not_there_yet(e: &EffectError, fresh: bool) -> bool {
    e.is_not_found() || (fresh && e.kind == ErrorKind::AccessDenied)
}

/// Retries a call while IAM does not show yet what we just wrote (eventual
/// consistency). Exhausted retries are still worth an event retry.
pub(crate) async fn retry_not_found<T, F, Fut>(
    ctx: &Ctx<'_>,
    fresh: bool,
    mut call: F,
) -> Result<T, (EffectError, bool)>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, EffectError>>,
{
    let retry = ctx.retry;
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) if not_there_yet(&e, fresh) && attempt < retry.attempts => {
                ctx.sleep.sleep(retry.delay(attempt)).await;
                attempt += 1;
            }
            Err(e) => {
                let retryable = e.is_retryable() || not_there_yet(&e, fresh);
                return Err((e, retryable));
            }
        }
    }
}

/// Waits until `check` holds, re-reading with the retry policy. `fresh`:
/// the group read was created by this run (see [`retry_not_found`]).
pub(crate) async fn wait_until<F, Fut>(
    ctx: &Ctx<'_>,
    fresh: bool,
    mut check: F,
) -> Result<bool, EffectError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, EffectError>>,
{
    let retry = ctx.retry;
    for attempt in 1..=retry.attempts.max(1) {
        match check().await {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(e) if not_there_yet(&e, fresh) => {}
            Err(e) => return Err(e),
        }
        if attempt < retry.attempts {
            ctx.sleep.sleep(retry.delay(attempt)).await;
        }
    }
    Ok(false)
}

/// What the first reads of a remediation found.
pub(crate) enum Seen<T> {
    /// What the event names is there, or the work is already done.
    Present(T),
    /// Absent (the user, key, policy or attachment): the report to end with
    /// if it stays so.
    Absent(Report),
}

/// Runs the first reads, and again with backoff while they find the
/// event's subject absent, within [`Retry::absent_budget`]: IAM is
/// eventually consistent, and a user, key or attachment made seconds
/// before the event can be missing from the first answers. Only then is
/// "absent" final (the report says how long it was read).
pub(crate) async fn patiently<T, F, Fut>(ctx: &Ctx<'_>, mut read: F) -> Result<Seen<T>, EffectError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Seen<T>, EffectError>>,
{
    let budget = ctx.retry.absent_budget;
    let mut waited = Duration::ZERO;
    let mut delay = ctx.retry.first_delay.max(Duration::from_millis(1));
    loop {
        match read().await? {
            Seen::Absent(_) if waited < budget => {
                let pause = delay.min(budget - waited);
                ctx.sleep.sleep(pause).await;
                waited += pause;
                delay = delay.saturating_mul(2).min(MAX_ABSENT_DELAY);
            }
            Seen::Absent(mut report) => {
                if !waited.is_zero() {
                    report.notes.push(format!(
                        "read again for {:.1} s before concluding so (IAM is eventually consistent)",
                        waited.as_secs_f64()
                    ));
                }
                return Ok(Seen::Absent(report));
            }
            present => return Ok(present),
        }
    }
}

/// Waits [`Retry::propagation_delay`] after the new grant was read back and
/// before the user's copy is taken away: a read back from one endpoint does
/// not mean every endpoint authorizes with it yet, and a request served in
/// between would find neither grant.
pub(crate) async fn let_it_propagate(ctx: &Ctx<'_>) {
    let delay = ctx.retry.propagation_delay;
    if !delay.is_zero() {
        ctx.sleep.sleep(delay).await;
    }
}

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

/// The deterministic fallback for a group name taken by something else:
/// the name, cut to fit, plus a hash of what the group is dedicated to.
pub(crate) fn alternative_name(base: &str, dedicated_to: &str) -> String {
    let suffix = format!("-{:08x}", fnv1a(dedicated_to.as_bytes()));
    let keep: String = base.chars().take(128 - suffix.len()).collect();
    format!("{keep}{suffix}")
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

pub(crate) async fn group_facts(iam: &dyn Iam, info: GroupInfo) -> Result<GroupFacts, EffectError> {
    let attached = iam.attached_group_policies(&info.name).await?;
    let inline = iam.group_policy_names(&info.name).await?;
    Ok(GroupFacts {
        info,
        attached,
        inline,
    })
}

/// Quotes a word for a POSIX shell, for the undo commands.
pub(crate) fn sh(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@+,".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests;
