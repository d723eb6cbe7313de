//! The account password policy, as trailguard holds the account to it.

use serde::{Deserialize, Serialize};

/// The account password policy trailguard holds the account to, and
/// restores in full (UpdateAccountPasswordPolicy resets omitted fields).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordBaseline {
    pub minimum_length: u32,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub require_numbers: bool,
    pub require_symbols: bool,
    pub reuse_prevention: u32,
    pub max_age_days: u32,
    pub allow_users_to_change: bool,
    pub hard_expiry: bool,
}

impl Default for PasswordBaseline {
    /// CIS AWS Foundations 1.8/1.9 and Security Hub IAM.7/IAM.15/IAM.16.
    fn default() -> Self {
        PasswordBaseline {
            minimum_length: 14,
            require_uppercase: true,
            require_lowercase: true,
            require_numbers: true,
            require_symbols: true,
            reuse_prevention: 24,
            max_age_days: 90,
            allow_users_to_change: true,
            hard_expiry: false,
        }
    }
}
