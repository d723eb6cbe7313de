//! The alert state table in memory, with the table's conditional-write
//! semantics, and an outage switch for the "table unreachable" path.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::effects::{AlertState, Claim, ClaimTimes, EffectError, ErrorKind};

/// One item: `(sent, lease_until, expires_at)`.
type Item = (bool, i64, i64);

/// The state table in memory; every call fails while [`Self::down`] is set.
#[derive(Debug, Default)]
pub struct MemoryAlertState {
    items: Mutex<BTreeMap<String, Item>>,
    down: Mutex<bool>,
    calls: Mutex<Vec<&'static str>>,
}

impl MemoryAlertState {
    /// Makes every later call fail as an unreachable table does (or not).
    pub fn down(&self, down: bool) {
        *lock(&self.down) = down;
    }

    /// The keys marked sent.
    pub fn sent(&self) -> Vec<String> {
        lock(&self.items)
            .iter()
            .filter(|(_, (sent, _, _))| *sent)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Every key in the table, with its TTL.
    pub fn expiries(&self) -> Vec<(String, i64)> {
        lock(&self.items)
            .iter()
            .map(|(k, (_, _, e))| (k.clone(), *e))
            .collect()
    }

    /// The operations called, in order.
    pub fn calls(&self) -> Vec<&'static str> {
        lock(&self.calls).clone()
    }

    fn call(&self, op: &'static str) -> Result<(), EffectError> {
        lock(&self.calls).push(op);
        if *lock(&self.down) {
            return Err(EffectError::new(
                op,
                ErrorKind::Unavailable,
                "could not connect to the endpoint",
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl AlertState for MemoryAlertState {
    async fn claim(&self, key: &str, times: ClaimTimes) -> Result<Claim, EffectError> {
        self.call("dynamodb:PutItem")?;
        let mut items = lock(&self.items);
        match items.get(key) {
            Some((true, _, _)) => Ok(Claim::Sent),
            Some((false, lease_until, _)) if *lease_until >= times.now => Ok(Claim::Held {
                lease_until: *lease_until,
            }),
            _ => {
                items.insert(key.to_owned(), (false, times.lease_until, times.expires_at));
                Ok(Claim::Won)
            }
        }
    }

    async fn mark_sent(&self, key: &str, _: Option<&str>) -> Result<(), EffectError> {
        self.call("dynamodb:UpdateItem")?;
        if let Some(item) = lock(&self.items).get_mut(key) {
            item.0 = true;
        }
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), EffectError> {
        self.call("dynamodb:DeleteItem")?;
        let mut items = lock(&self.items);
        if items.get(key).is_some_and(|(sent, _, _)| !sent) {
            items.remove(key);
        }
        Ok(())
    }
}
