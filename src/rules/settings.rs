//! What rules read besides their subject: the settings the config builds
//! and hands them, so that rules never depend on the config itself.

use serde::{Deserialize, Serialize};

use crate::inventory::PasswordBaseline;
use crate::remediate::GroupNaming;

/// The settings every rule is evaluated with, borrowed from the config.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    pub password_policy: &'a PasswordBaseline,
    pub remediation: &'a GroupNaming,
    pub scan: &'a ScanSettings,
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
