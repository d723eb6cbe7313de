//! [`MemoryMembers`]: the [`MemberAccess`] fake, one in-memory IAM and
//! CloudTrail per account, recording every role assumption.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{MemoryIam, MemorySource, MemoryTrail, lock};
use crate::effects::{
    AccountEffects, AccountNames, EffectError, ErrorKind, MemberAccess, MemberTarget,
};

/// One member account's IAM and CloudTrail.
type Account = (Arc<MemoryIam>, Arc<MemoryTrail>, Arc<MemorySource>);

/// Member accounts in memory. An account not added has no member role:
/// assuming it is denied, as STS denies a role that does not exist.
#[derive(Default)]
pub struct MemoryMembers {
    accounts: Mutex<BTreeMap<String, Account>>,
    /// Every `(account, session name)` assumed, in order.
    assumed: Mutex<Vec<(String, String)>>,
}

impl MemoryMembers {
    /// Adds an account whose member role exists.
    pub fn with_account(self, account: &str, iam: Arc<MemoryIam>, trail: Arc<MemoryTrail>) -> Self {
        let source = Arc::new(MemorySource::default());
        lock(&self.accounts).insert(account.to_owned(), (iam, trail, source));
        self
    }

    /// Adds an account whose member role exists, its scan reading `source`.
    pub fn with_scanned_account(
        self,
        account: &str,
        iam: Arc<MemoryIam>,
        trail: Arc<MemoryTrail>,
        source: Arc<MemorySource>,
    ) -> Self {
        lock(&self.accounts).insert(account.to_owned(), (iam, trail, source));
        self
    }

    /// The accounts assumed and their session names, in order.
    pub fn assumed(&self) -> Vec<(String, String)> {
        lock(&self.assumed).clone()
    }
}

#[async_trait]
impl MemberAccess for MemoryMembers {
    async fn account(&self, target: &MemberTarget<'_>) -> Result<AccountEffects, EffectError> {
        lock(&self.assumed).push((target.account.to_owned(), target.session_name().to_owned()));
        let accounts = lock(&self.accounts);
        let Some((iam, trail, source)) = accounts.get(target.account) else {
            return Err(EffectError {
                operation: "AssumeRole",
                kind: ErrorKind::AccessDenied,
                code: Some("AccessDenied".into()),
                message: format!("no member role in account {}", target.account),
            });
        };
        Ok(AccountEffects {
            iam: iam.clone(),
            trail: trail.clone(),
            source: Some(source.clone()),
        })
    }
}

/// Account names as Organizations would give them; an account not named
/// here has none (or the call was denied).
#[derive(Default)]
pub struct MemoryAccountNames(pub BTreeMap<String, String>);

#[async_trait]
impl AccountNames for MemoryAccountNames {
    async fn name(&self, account: &str) -> Option<String> {
        self.0.get(account).cloned()
    }
}
