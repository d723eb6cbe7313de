//! The effects trailguard acts through in another account of the
//! organisation: IAM and CloudTrail over the member role's credentials.

use std::sync::Arc;

use async_trait::async_trait;

use super::{CredentialSource, EffectError, Iam, TrailControl};

/// The effects of one member account.
#[derive(Clone)]
pub struct AccountEffects {
    pub iam: Arc<dyn Iam>,
    pub trail: Arc<dyn TrailControl>,
    /// The scan's reads of the account (a member account's; the function's
    /// own account reads through the source it was given).
    pub source: Option<Arc<dyn CredentialSource>>,
}

/// The account to act in, and what the member role's session is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberTarget<'a> {
    pub account: &'a str,
    /// The partition of the event (`aws`, `aws-cn`, ...): the role's ARN.
    pub partition: &'a str,
    /// The event's region: the regional STS endpoint, the trail's region.
    pub region: Option<&'a str>,
    /// Names the session: an event id, or `scan`.
    pub purpose: &'a str,
}

/// The longest STS session name.
const SESSION_NAME_MAX: usize = 64;

impl MemberTarget<'_> {
    /// `trailguard-<purpose>`, cut to STS's 64 characters, with every
    /// character STS refuses in a session name (`[\w+=,.@-]` only) made `-`.
    pub fn session_name(&self) -> String {
        let name: String = format!("trailguard-{}", self.purpose)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .take(SESSION_NAME_MAX)
            .collect();
        name
    }
}

/// Access to the member accounts: the member role's effects in one of them.
/// Implementations cache the credentials per account, so that the events
/// of one account make one `sts:AssumeRole` until the session nears its end.
#[async_trait]
pub trait MemberAccess: Send + Sync {
    /// The effects in `target.account`; fails with the `sts:AssumeRole`
    /// error when the role cannot be assumed.
    async fn account(&self, target: &MemberTarget<'_>) -> Result<AccountEffects, EffectError>;
}

/// The accounts of the organisation, for the scan's fan-out.
#[async_trait]
pub trait AccountLister: Send + Sync {
    /// `organizations:ListAccounts`: the ids of the ACTIVE accounts.
    async fn active_accounts(&self) -> Result<Vec<String>, EffectError>;
}

/// The queue of per-account scans.
#[async_trait]
pub trait ScanQueue: Send + Sync {
    /// `sqs:SendMessageBatch` of these bodies (at most 10): the indexes of
    /// those the queue did not take.
    async fn send_batch(&self, bodies: &[String]) -> Result<Vec<usize>, EffectError>;
}

/// The names of the organisation's accounts, for alerts.
#[async_trait]
pub trait AccountNames: Send + Sync {
    /// `organizations:DescribeAccount`'s name of `account`; `None` when
    /// unknown or not allowed (an alert goes out without it).
    async fn name(&self, account: &str) -> Option<String>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_name_trailguard_and_fit_sts() {
        let target = |purpose| MemberTarget {
            account: "222222222222",
            partition: "aws",
            region: None,
            purpose,
        };
        assert_eq!(target("scan").session_name(), "trailguard-scan");
        assert_eq!(
            target("3f2a9c1e-0b1d-4e5f-8a9b-0c1d2e3f4a5b").session_name(),
            "trailguard-3f2a9c1e-0b1d-4e5f-8a9b-0c1d2e3f4a5b"
        );
        let long = target(&"x/y".repeat(40)).session_name();
        assert_eq!(long.len(), 64);
        assert!(long.starts_with("trailguard-x-y"));
    }
}
