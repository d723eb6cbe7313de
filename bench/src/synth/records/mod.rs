//! CloudTrail records shaped like the real ones (`tests/corpus/`): the
//! background noise of a working account, near misses that look like
//! violations but must not fire, and violations whose rules are known.
//!
//! Every writer returns the rules its record fires under trailguard's
//! built-in default config ([`Fired`]). These expectations are written here
//! independently of the engine; the benchmark and the tests check that
//! `trailguard replay` finds exactly them.

mod activity;
mod background;
mod call;
mod format;
mod near_miss;
mod policies;
mod principals;
mod violation;

pub use activity::{ETL_USER, SCRIPT, scripted};
pub use background::background;
pub use format::{civil, days_from_civil};
pub use near_miss::near_miss;
pub use violation::{REGIONAL_VIOLATIONS, VIOLATION_KINDS, violation};

use crate::synth::rng::Rng;

/// Ids of the rules that fire on events, in trailguard's catalogue order
/// (the scan rules read the credential report, never an event).
pub const RULES: [&str; 15] = [
    "root-console-login",
    "root-console-login-failed",
    "root-api-call",
    "root-access-key-created",
    "console-login-without-mfa",
    "user-policy-attached",
    "user-inline-policy",
    "admin-policy-granted",
    "access-key-created",
    "access-key-reactivated",
    "mfa-device-removed",
    "login-profile-created",
    "password-policy-weakened",
    "cloudtrail-tampered",
    "monitoring-disabled",
];

const ROOT_CONSOLE_LOGIN: u16 = 1 << 0;

const ROOT_CONSOLE_LOGIN_FAILED: u16 = 1 << 1;

const ROOT_API_CALL: u16 = 1 << 2;

const ROOT_ACCESS_KEY_CREATED: u16 = 1 << 3;

const CONSOLE_LOGIN_WITHOUT_MFA: u16 = 1 << 4;

const USER_POLICY_ATTACHED: u16 = 1 << 5;

const USER_INLINE_POLICY: u16 = 1 << 6;

const ADMIN_POLICY_GRANTED: u16 = 1 << 7;

const ACCESS_KEY_CREATED: u16 = 1 << 8;

const ACCESS_KEY_REACTIVATED: u16 = 1 << 9;

const MFA_DEVICE_REMOVED: u16 = 1 << 10;

const LOGIN_PROFILE_CREATED: u16 = 1 << 11;

const PASSWORD_POLICY_WEAKENED: u16 = 1 << 12;

const CLOUDTRAIL_TAMPERED: u16 = 1 << 13;

const MONITORING_DISABLED: u16 = 1 << 14;

/// The rules one record fires: bit `i` is `RULES[i]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fired(pub u16);

impl Fired {
    pub fn rules(self) -> impl Iterator<Item = usize> {
        (0..RULES.len()).filter(move |i| self.0 & (1 << i) != 0)
    }
}

/// Where CloudTrail records IAM, STS-global and sign-in events.
pub const GLOBAL_REGION: &str = "us-east-1";

/// One account of the synthetic organisation.
#[derive(Debug)]
pub struct Account {
    pub id: &'static str,
    /// Relative share of the archive's files.
    pub weight: u32,
}

pub const ACCOUNTS: [Account; 3] = [
    Account {
        id: "111122223333",
        weight: 5,
    },
    Account {
        id: "444455556666",
        weight: 3,
    },
    Account {
        id: "777788889999",
        weight: 2,
    },
];

/// Regions, their share of files and the largest file they deliver.
pub const REGIONS: [(&str, u32, u64); 4] = [
    ("us-east-1", 55, 4000),
    ("eu-west-1", 25, 2500),
    ("us-west-2", 12, 1200),
    ("ap-southeast-2", 8, 300),
];

const IAM: &str = "iam.amazonaws.com";

const SIGNIN: &str = "signin.amazonaws.com";

/// The context of the record being written.
pub struct Ctx<'a> {
    pub rng: &'a mut Rng,
    pub account: &'static str,
    pub region: &'static str,
    /// Seconds since the Unix epoch.
    pub time: u64,
}

impl Ctx<'_> {
    fn global(&self) -> bool {
        self.region == GLOBAL_REGION
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_writer_produces_a_valid_object() {
        let mut rng = Rng::new(3);
        for region in [GLOBAL_REGION, "eu-west-1"] {
            for i in 0..2000u64 {
                let mut ctx = Ctx {
                    rng: &mut rng,
                    account: ACCOUNTS[0].id,
                    region,
                    time: 1_709_251_200 + i,
                };
                let mut out = String::new();
                match i % 3 {
                    0 => background(&mut ctx, &mut out),
                    1 => near_miss(&mut ctx, &mut out),
                    _ => {
                        violation(&mut ctx, i % VIOLATION_KINDS, &mut out);
                    }
                }
                let v: serde_json::Value = serde_json::from_str(&out).unwrap();
                assert!(v["eventName"].is_string(), "{out}");
            }
        }
    }
}
