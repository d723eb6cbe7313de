//! What rules read besides their subject: the settings the config builds
//! and hands them, so that rules never depend on the config itself.

use serde::{Deserialize, Serialize};

use crate::inventory::PasswordBaseline;

/// The settings every rule is evaluated with, borrowed from the config.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    pub password_policy: &'a PasswordBaseline,
    pub remediation: &'a GroupNaming,
    pub scan: &'a ScanSettings,
}

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

/// Ages used by the scheduled credential scan.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScanSettings {
    pub key_rotation_days: u32,
    pub unused_days: u32,
    pub root_recent_days: u32,
}

impl Default for ScanSettings {
    fn default() -> Self {
        ScanSettings {
            key_rotation_days: 90,
            unused_days: 90,
            root_recent_days: 90,
        }
    }
}
