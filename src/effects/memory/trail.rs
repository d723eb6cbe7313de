//! [`MemoryTrail`]: the [`TrailControl`] fake.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::effects::{EffectError, ErrorKind, TrailControl};

/// CloudTrail in memory: trail name -> logging.
#[derive(Debug, Default)]
pub struct MemoryTrail {
    trails: Mutex<BTreeMap<String, bool>>,
    calls: Mutex<Vec<&'static str>>,
    /// `(times left, error)` StartLogging answers before it works.
    start_failures: Mutex<Option<(usize, EffectError)>>,
    /// What GetTrailStatus answers for a trail whatever its state: a read
    /// that predates the last change.
    stale_status: Mutex<BTreeMap<String, bool>>,
}

impl MemoryTrail {
    pub fn with_trail(self, name: &str, logging: bool) -> Self {
        lock(&self.trails).insert(name.to_owned(), logging);
        self
    }

    /// The next `times` StartLogging calls fail with `error` and change
    /// nothing (CloudTrail's ConflictException for a trail it has not
    /// finished loading).
    pub fn failing_start(self, times: usize, error: EffectError) -> Self {
        *lock(&self.start_failures) = Some((times, error));
        self
    }

    /// GetTrailStatus answers `logging` for `name` from now on, whatever
    /// the trail's state.
    pub fn status_reads(self, name: &str, logging: bool) -> Self {
        lock(&self.stale_status).insert(name.to_owned(), logging);
        self
    }

    pub fn is_logging_now(&self, name: &str) -> Option<bool> {
        lock(&self.trails).get(name).copied()
    }

    pub fn calls(&self) -> Vec<&'static str> {
        lock(&self.calls).clone()
    }
}

#[async_trait]
impl TrailControl for MemoryTrail {
    async fn is_logging(&self, _: Option<&str>, trail: &str) -> Result<Option<bool>, EffectError> {
        lock(&self.calls).push("cloudtrail:GetTrailStatus");
        let stale = lock(&self.stale_status).get(trail).copied();
        Ok(lock(&self.trails)
            .get(trail)
            .copied()
            .map(|now| stale.unwrap_or(now)))
    }

    async fn start_logging(&self, _: Option<&str>, trail: &str) -> Result<(), EffectError> {
        const OP: &str = "cloudtrail:StartLogging";
        lock(&self.calls).push(OP);
        if let Some((left, error)) = lock(&self.start_failures).as_mut()
            && *left > 0
        {
            *left -= 1;
            return Err(error.clone());
        }
        match lock(&self.trails).get_mut(trail) {
            Some(on) => {
                *on = true;
                Ok(())
            }
            None => Err(EffectError {
                operation: OP,
                kind: ErrorKind::NotFound,
                code: Some("TrailNotFoundException".into()),
                message: format!("unknown trail `{trail}`"),
            }),
        }
    }
}
