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
mod dispatch;
mod group_move;
mod groups;
mod move_inline_policy_to_group;
mod move_policy_to_group;
mod report;
mod restore_password_policy;
mod retry;
mod spec;
mod start_logging;

pub use action::Action;
pub use deactivate_access_key::SPEC as DEACTIVATE_ACCESS_KEY;
pub use dispatch::{Ctx, plan, run};
pub use groups::{
    DEFAULT_PROPAGATION_DELAY_SECONDS, GroupNaming, group_for_inline, group_for_policy, group_name,
};
pub use move_inline_policy_to_group::SPEC as MOVE_INLINE_POLICY_TO_GROUP;
pub use move_policy_to_group::SPEC as MOVE_POLICY_TO_GROUP;
pub use move_policy_to_group::{ADMIN_EQUIVALENT_AWS_POLICIES, is_admin_equivalent_aws_policy};
pub(crate) use report::user_gone;
pub use report::{RemediateError, Report, Status};
pub use restore_password_policy::SPEC as RESTORE_PASSWORD_POLICY;
pub use retry::{MAX_ABSENT_DELAY, Retry, Sleep, TokioSleep};
pub(crate) use retry::{Seen, patiently};
pub use spec::{RemediationSpec, makes_call, remediations};
pub use start_logging::SPEC as START_LOGGING;

#[cfg(test)]
mod tests;
