//! An in-memory [`CredentialSource`] for tests: a fixed report and
//! inventory, scripted report states, and a log of the calls made.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::effects::{CredentialSource, EffectError, ErrorKind, ReportFetch, ReportState};
use crate::inventory::PasswordBaseline;
use crate::inventory::account::{AccountSummary, AttachedPolicy, Inventory, ListedKey};

/// Answers from memory.
#[derive(Debug, Default)]
pub struct MemorySource {
    /// The CSV GetCredentialReport answers once the report is ready.
    pub report: String,
    pub inventory: Inventory,
    /// GenerateCredentialReport answers, in order, before it answers COMPLETE.
    pub generate_states: Mutex<VecDeque<ReportState>>,
    /// GetCredentialReport answers, in order, before it answers the report.
    pub fetches: Mutex<VecDeque<ReportFetch>>,
    /// GenerateCredentialReport failures (`LimitExceeded`...), in order,
    /// before its scripted states.
    pub generate_errors: Mutex<VecDeque<EffectError>>,
    /// GetAccessKeyLastUsed answers by key id; a key not here was never used.
    pub last_used: BTreeMap<String, DateTime<Utc>>,
    /// How long GetAccessKeyLastUsed takes (a slow IAM, for deadlines).
    pub last_used_delay: Duration,
    /// Users whose per-user reads answer NoSuchEntity (deleted mid-scan).
    pub deleted: Vec<String>,
    /// A failure every call answers with, when set.
    pub failure: Option<EffectError>,
    /// The IAM actions called, in order.
    pub calls: Mutex<Vec<String>>,
}

impl MemorySource {
    pub fn new(report: impl Into<String>, inventory: Inventory) -> Self {
        MemorySource {
            report: report.into(),
            inventory,
            ..MemorySource::default()
        }
    }

    /// The calls made so far.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn call(&self, op: &'static str, user: Option<&str>) -> Result<(), EffectError> {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(match user {
                Some(u) => format!("{op} {u}"),
                None => op.to_owned(),
            });
        }
        if let Some(f) = &self.failure {
            return Err(f.clone());
        }
        if let Some(u) = user
            && self.deleted.iter().any(|d| d == u)
        {
            return Err(EffectError::new(
                op,
                ErrorKind::NotFound,
                format!("The user with name {u} cannot be found."),
            ));
        }
        Ok(())
    }

    fn user(&self, name: &str) -> Option<&crate::inventory::account::LiveUser> {
        self.inventory.users.iter().find(|u| u.name == name)
    }
}

#[async_trait]
impl CredentialSource for MemorySource {
    async fn generate_credential_report(&self) -> Result<ReportState, EffectError> {
        self.call("iam:GenerateCredentialReport", None)?;
        if let Some(e) = self
            .generate_errors
            .lock()
            .ok()
            .and_then(|mut q| q.pop_front())
        {
            return Err(e);
        }
        let next = self
            .generate_states
            .lock()
            .ok()
            .and_then(|mut q| q.pop_front());
        Ok(next.unwrap_or(ReportState::Complete))
    }

    async fn credential_report(&self) -> Result<ReportFetch, EffectError> {
        self.call("iam:GetCredentialReport", None)?;
        let next = self.fetches.lock().ok().and_then(|mut q| q.pop_front());
        Ok(next.unwrap_or_else(|| ReportFetch::Ready {
            content: self.report.as_bytes().to_vec(),
            generated: None,
        }))
    }

    async fn password_policy(&self) -> Result<Option<PasswordBaseline>, EffectError> {
        self.call("iam:GetAccountPasswordPolicy", None)?;
        Ok(self.inventory.password_policy.clone())
    }

    async fn account_summary(&self) -> Result<AccountSummary, EffectError> {
        self.call("iam:GetAccountSummary", None)?;
        Ok(self.inventory.summary.clone())
    }

    async fn users(&self) -> Result<Vec<(String, String)>, EffectError> {
        self.call("iam:ListUsers", None)?;
        Ok(self
            .inventory
            .users
            .iter()
            .map(|u| (u.name.clone(), u.arn.clone()))
            .collect())
    }

    async fn attached_user_policies(&self, user: &str) -> Result<Vec<AttachedPolicy>, EffectError> {
        self.call("iam:ListAttachedUserPolicies", Some(user))?;
        Ok(self
            .user(user)
            .map(|u| u.attached_policies.clone())
            .unwrap_or_default())
    }

    async fn user_policy_names(&self, user: &str) -> Result<Vec<String>, EffectError> {
        self.call("iam:ListUserPolicies", Some(user))?;
        Ok(self
            .user(user)
            .map(|u| u.inline_policies.clone())
            .unwrap_or_default())
    }

    async fn access_keys(&self, user: &str) -> Result<Vec<ListedKey>, EffectError> {
        self.call("iam:ListAccessKeys", Some(user))?;
        Ok(self
            .user(user)
            .map(|u| u.access_keys.clone())
            .unwrap_or_default())
    }

    async fn access_key_last_used(
        &self,
        user: &str,
        access_key_id: &str,
    ) -> Result<Option<DateTime<Utc>>, EffectError> {
        self.call("iam:GetAccessKeyLastUsed", Some(user))?;
        if !self.last_used_delay.is_zero() {
            tokio::time::sleep(self.last_used_delay).await;
        }
        Ok(self.last_used.get(access_key_id).copied())
    }
}
