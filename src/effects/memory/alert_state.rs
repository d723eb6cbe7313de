//! The alert state table in memory, with the table's conditional-write
//! semantics, and an outage switch for the "table unreachable" path.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::effects::alert_state::sort_calls;
use crate::effects::{AlertState, Claim, ClaimTimes, EffectError, ErrorKind, Fold, Member, Window};

/// One item: `(sent, lease_until, expires_at)`.
type Item = (bool, i64, i64);

/// The state table in memory; every call fails while [`Self::down`] is set.
#[derive(Debug, Default)]
pub struct MemoryAlertState {
    items: Mutex<BTreeMap<String, Item>>,
    /// Each finding offered to a group, and what became of it.
    members: Mutex<BTreeMap<String, Fold>>,
    /// Open windows by group key: the window, and its first's severity.
    windows: Mutex<BTreeMap<String, (Window, u8)>>,
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

    async fn fold(&self, m: &Member<'_>) -> Result<Fold, EffectError> {
        self.call("dynamodb:PutItem")?;
        if let Some(fold) = lock(&self.members).get(m.finding) {
            return Ok(*fold);
        }
        let mut windows = lock(&self.windows);
        let open = windows
            .get(m.group)
            .filter(|(w, _)| !(w.closes_at < m.now && w.folded == 0));
        let fold = match open {
            None => {
                let window = Window {
                    key: m.group.to_owned(),
                    rule: m.rule.to_owned(),
                    label: m.label.to_owned(),
                    opened_at: m.now,
                    closes_at: m.closes_at,
                    folded: 0,
                    calls: Vec::new(),
                    first_time: String::new(),
                    last_time: String::new(),
                };
                windows.insert(m.group.to_owned(), (window, m.severity));
                Fold::AlertNow
            }
            Some((w, first)) if w.closes_at < m.now || m.severity > *first => Fold::AlertNow,
            Some(_) => {
                let (w, _) = windows.get_mut(m.group).expect("the window just read");
                w.folded += 1;
                match w.calls.iter_mut().find(|(c, _)| c == m.call) {
                    Some((_, n)) => *n += 1,
                    None => w.calls.push((m.call.to_owned(), 1)),
                }
                sort_calls(&mut w.calls);
                if w.first_time.is_empty() {
                    w.first_time = m.time.to_owned();
                }
                w.last_time = m.time.to_owned();
                Fold::Folded
            }
        };
        lock(&self.members).insert(m.finding.to_owned(), fold);
        Ok(fold)
    }

    async fn due_windows(&self, now: i64) -> Result<Vec<Window>, EffectError> {
        self.call("dynamodb:Scan")?;
        Ok(lock(&self.windows)
            .values()
            .filter(|(w, _)| w.closes_at < now)
            .map(|(w, _)| w.clone())
            .collect())
    }

    async fn close_window(&self, key: &str, opened_at: i64) -> Result<(), EffectError> {
        self.call("dynamodb:DeleteItem")?;
        let mut windows = lock(&self.windows);
        if windows
            .get(key)
            .is_some_and(|(w, _)| w.opened_at == opened_at)
        {
            windows.remove(key);
        }
        Ok(())
    }
}
