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

/// The account to act in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberTarget<'a> {
    pub account: &'a str,
    /// The partition of the event (`aws`, `aws-cn`, ...): the role's ARN.
    pub partition: &'a str,
    /// The event's region: the regional STS endpoint, the trail's region.
    pub region: Option<&'a str>,
}

/// The member role's session name, the same for every session: a session
/// is cached per account for up to an hour and serves every event and scan
/// of that account meanwhile, so a name taken from one of them (its event
/// id) would be false of the others in the member account's CloudTrail.
/// The decision log and the alert carry the event id instead. Only a
/// session of this name is trailguard's own
/// (`config::Organization::is_member_session`).
pub const SESSION_NAME: &str = "trailguard";

impl MemberTarget<'_> {
    /// The session's name: [`SESSION_NAME`].
    pub fn session_name(&self) -> &'static str {
        SESSION_NAME
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
    fn every_session_has_one_name_whatever_it_serves() {
        let target = |account| MemberTarget {
            account,
            partition: "aws",
            region: None,
        };
        assert_eq!(target("222222222222").session_name(), "trailguard");
        assert_eq!(target("333333333333").session_name(), "trailguard");
    }
}
