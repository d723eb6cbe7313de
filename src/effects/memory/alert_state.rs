//! The alert state table in memory, with the table's conditional-write
//! semantics, and an outage switch for the "table unreachable" path.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::Notify;

use super::lock;
use crate::effects::alert_state::sort_calls;
use crate::effects::{AlertState, Claim, ClaimTimes, EffectError, ErrorKind, Fold, Member, Window};

/// One item: `(sent, lease_until, expires_at)`.
type Item = (bool, i64, i64);

/// A finding offered to its group: claimed by a delivery that has not
/// decided yet, or decided.
#[derive(Debug, Clone, Copy)]
enum Membership {
    Claimed { lease_until: i64 },
    Decided(Fold),
}

/// The state table in memory; every call fails while [`Self::down`] is set.
#[derive(Debug, Default)]
pub struct MemoryAlertState {
    items: Mutex<BTreeMap<String, Item>>,
    /// Each finding offered to a group, and what became of it.
    members: Mutex<BTreeMap<String, Membership>>,
    /// Where set, the next fold waits here between its claim and its
    /// decision, as a delivery does between DynamoDB's two writes.
    hold: Mutex<Option<Arc<Notify>>>,
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

    /// Makes the next fold stop after claiming its finding until the
    /// returned gate is notified (or for ever, if its future is dropped
    /// there: a delivery that died mid-fold).
    pub fn hold_next_fold(&self) -> Arc<Notify> {
        let gate = Arc::new(Notify::new());
        *lock(&self.hold) = Some(gate.clone());
        gate
    }

    /// The findings claimed for grouping whose delivery has not decided.
    pub fn undecided(&self) -> Vec<String> {
        lock(&self.members)
            .iter()
            .filter(|(_, m)| matches!(m, Membership::Claimed { .. }))
            .map(|(k, _)| k.clone())
            .collect()
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

    /// Opens the finding's window or counts the finding in it.
    fn decide(&self, m: &Member<'_>) -> Fold {
        let mut windows = lock(&self.windows);
        let open = windows
            .get(m.group)
            .filter(|(w, _)| !(w.closes_at < m.now && w.folded == 0));
        match open {
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
        }
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
        {
            let mut members = lock(&self.members);
            match members.get(m.finding) {
                Some(Membership::Decided(fold)) => return Ok(*fold),
                Some(Membership::Claimed { lease_until }) if *lease_until >= m.now => {
                    return Ok(Fold::InFlight {
                        lease_until: *lease_until,
                    });
                }
                // New, or a claim whose delivery died: this one decides.
                _ => {
                    members.insert(
                        m.finding.to_owned(),
                        Membership::Claimed {
                            lease_until: m.lease_until,
                        },
                    );
                }
            }
        }
        let gate = lock(&self.hold).take();
        if let Some(gate) = gate {
            gate.notified().await;
        }
        let fold = self.decide(m);
        lock(&self.members).insert(m.finding.to_owned(), Membership::Decided(fold));
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

    async fn close_window(
        &self,
        key: &str,
        opened_at: i64,
        folded: u64,
    ) -> Result<bool, EffectError> {
        self.call("dynamodb:DeleteItem")?;
        let mut windows = lock(&self.windows);
        let same = windows
            .get(key)
            .is_some_and(|(w, _)| w.opened_at == opened_at && w.folded == folded);
        if same {
            windows.remove(key);
        }
        Ok(same)
    }
}
