//! The entry points: run the remediation an action names, or plan it.

use super::action::Action;
use super::report::{RemediateError, Report, Status};
use super::retry::{Retry, Sleep};
use super::{
    deactivate_access_key, move_inline_policy_to_group, move_policy_to_group,
    restore_password_policy, start_logging,
};
use crate::effects::{Iam, TrailControl};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_name_the_calls_without_making_them() {
        let p = plan(&Action::MovePolicyToGroup {
            user_name: "bob".into(),
            policy_arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
            group_name: "trailguard-read-only".into(),
            group_path: "/trailguard/".into(),
        });
        assert_eq!(p.status, Status::Planned);
        assert_eq!(p.id, "move-policy-to-group");
        assert!(
            p.calls
                .iter()
                .any(|c| c.starts_with("iam:DetachUserPolicy"))
        );
        assert!(p.undo.is_empty());
    }
}
