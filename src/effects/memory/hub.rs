//! Security Hub in memory: findings by `Id` (an import of a known id
//! updates it, as Security Hub does), every batch recorded, and throttling
//! on demand.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::effects::hub::BATCH_MAX;
use crate::effects::{EffectError, ErrorKind, FindingsHub, HubFinding};

/// Security Hub in memory.
#[derive(Debug, Default)]
pub struct MemoryHub {
    findings: Mutex<BTreeMap<String, HubFinding>>,
    batches: Mutex<Vec<usize>>,
    throttles: Mutex<usize>,
}

impl MemoryHub {
    /// Every finding held, by id.
    pub fn findings(&self) -> BTreeMap<String, HubFinding> {
        lock(&self.findings).clone()
    }

    /// The size of each import call that got through, in order.
    pub fn batches(&self) -> Vec<usize> {
        lock(&self.batches).clone()
    }

    /// The next `n` import calls are throttled.
    pub fn throttle(&self, n: usize) {
        *lock(&self.throttles) = n;
    }
}

#[async_trait]
impl FindingsHub for MemoryHub {
    async fn import(&self, findings: &[HubFinding]) -> Result<Vec<(String, String)>, EffectError> {
        const OP: &str = "securityhub:BatchImportFindings";
        {
            let mut t = lock(&self.throttles);
            if *t > 0 {
                *t -= 1;
                let mut e = EffectError::new(OP, ErrorKind::Throttled, "rate exceeded");
                e.code = Some("TooManyRequestsException".into());
                return Err(e);
            }
        }
        if findings.len() > BATCH_MAX {
            return Err(EffectError::new(
                OP,
                ErrorKind::Invalid,
                "more than 100 findings",
            ));
        }
        lock(&self.batches).push(findings.len());
        let mut held = lock(&self.findings);
        for f in findings {
            held.insert(f.id.clone(), f.clone());
        }
        Ok(Vec::new())
    }

    async fn active(
        &self,
        account: &str,
        generator_prefix: &str,
    ) -> Result<Vec<HubFinding>, EffectError> {
        Ok(lock(&self.findings)
            .values()
            .filter(|f| {
                f.account == account && f.generator_id.starts_with(generator_prefix) && !f.archived
            })
            .cloned()
            .collect())
    }
}
