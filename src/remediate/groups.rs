//! How the groups that remediation creates are named: the `[remediation]`
//! settings, and the names a rule computes when it plans a move, so the plan
//! names the exact group the remediation will use.

use serde::{Deserialize, Serialize};

/// How long a move waits by default for IAM to show the new grant.
pub const DEFAULT_PROPAGATION_DELAY_SECONDS: u64 = 10;

/// The `[remediation]` table: how the groups that remediation creates are
/// named, and how long a move waits for IAM to propagate the new grant.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroupNaming {
    pub group_prefix: String,
    pub group_path: String,
    /// Seconds between reading back a user's new group grant and taking
    /// the direct one away (IAM propagates changes in seconds).
    pub propagation_delay_seconds: u64,
}

impl Default for GroupNaming {
    fn default() -> Self {
        GroupNaming {
            group_prefix: "trailguard-".into(),
            group_path: "/trailguard/".into(),
            propagation_delay_seconds: DEFAULT_PROPAGATION_DELAY_SECONDS,
        }
    }
}

/// A deterministic, valid IAM group name: `prefix` + `base`, cut to IAM's
/// 128 characters with a hash of the full name kept so cuts never collide.
pub fn group_name(prefix: &str, base: &str) -> String {
    let clean: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@_-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let full = format!("{prefix}{clean}");
    if full.len() <= 128 {
        return full;
    }
    let hash = fnv1a(full.as_bytes());
    format!("{}-{hash:08x}", &full[..128 - 9])
}

/// FNV-1a, 32 bits: stable across releases, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c9dc5u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x01000193)
    })
}

/// Job-function AWS managed policies get readable group names.
fn job_function_group(policy_name: &str) -> Option<&'static str> {
    Some(match policy_name {
        "AdministratorAccess" => "administrators",
        "ReadOnlyAccess" => "read-only",
        "ViewOnlyAccess" => "view-only",
        "PowerUserAccess" => "power-users",
        "SecurityAudit" => "security-auditors",
        "Billing" => "billing",
        "DatabaseAdministrator" => "database-administrators",
        "DataScientist" => "data-scientists",
        "NetworkAdministrator" => "network-administrators",
        "SystemAdministrator" => "system-administrators",
        "SupportUser" => "support-users",
        _ => return None,
    })
}

/// The group dedicated to a managed policy.
pub fn group_for_policy(naming: &GroupNaming, policy_arn: &str) -> String {
    let prefix = &naming.group_prefix;
    let (name, aws_managed) = match policy_arn.split_once(":policy/") {
        Some((head, path)) => (
            path.rsplit('/').next().unwrap_or(path),
            head.ends_with(":iam::aws"),
        ),
        None => (policy_arn, false),
    };
    if aws_managed && let Some(readable) = job_function_group(name) {
        return group_name(prefix, readable);
    }
    // Customer managed policies in a path other than `/` can share a name.
    let path_is_root = policy_arn
        .split_once(":policy/")
        .is_none_or(|(_, p)| !p.contains('/'));
    if aws_managed || path_is_root {
        group_name(prefix, name)
    } else {
        group_name(
            prefix,
            &format!("{name}-{:08x}", fnv1a(policy_arn.as_bytes())),
        )
    }
}

/// The group dedicated to one user's inline policy.
pub fn group_for_inline(naming: &GroupNaming, user_name: &str, policy_name: &str) -> String {
    group_name(
        &naming.group_prefix,
        &format!("inline-{user_name}-{policy_name}"),
    )
}

/// The deterministic fallback for a group name taken by something else:
/// the name, cut to fit, plus a hash of what the group is dedicated to.
pub(crate) fn alternative_name(base: &str, dedicated_to: &str) -> String {
    let suffix = format!("-{:08x}", fnv1a(dedicated_to.as_bytes()));
    let keep: String = base.chars().take(128 - suffix.len()).collect();
    format!("{keep}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_are_readable_for_job_functions_and_unique_for_paths() {
        let c = GroupNaming::default();
        assert_eq!(
            group_for_policy(&c, "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"),
            "trailguard-view-only"
        );
        assert_eq!(
            group_for_policy(&c, "arn:aws:iam::aws:policy/ReadOnlyAccess"),
            "trailguard-read-only"
        );
        assert_eq!(
            group_for_policy(&c, "arn:aws:iam::1:policy/deploy"),
            "trailguard-deploy"
        );
        let a = group_for_policy(&c, "arn:aws:iam::1:policy/a/deploy");
        let b = group_for_policy(&c, "arn:aws:iam::1:policy/b/deploy");
        assert_ne!(a, b);
        assert!(a.starts_with("trailguard-deploy-"));
    }

    #[test]
    fn long_group_names_are_cut_to_iam_limit_without_colliding() {
        let a = group_name("trailguard-", &"x".repeat(200));
        let b = group_name("trailguard-", &format!("{}y", "x".repeat(199)));
        assert_eq!(a.len(), 128);
        assert_ne!(a, b);
        assert_eq!(group_name("p-", "a b/c"), "p-a-b-c");
    }
}
