//! AWS Security Hub: findings imported in the AWS Security Finding Format
//! (`securityhub:BatchImportFindings`), and the active ones read back
//! (`securityhub:GetFindings`) so the scan can archive what it no longer
//! finds.

use async_trait::async_trait;

use super::EffectError;

/// Every call the adapter makes: what the SAM template grants when
/// Security Hub is on (checked by the template tests).
pub const PERMISSIONS: [&str; 2] = ["securityhub:BatchImportFindings", "securityhub:GetFindings"];

/// `BatchImportFindings` takes at most this many findings a call.
pub const BATCH_MAX: usize = 100;

/// One finding, as trailguard imports it (the adapter fills in the product
/// ARN and region of the hub it imports into).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubFinding {
    /// Deterministic: the same finding imported again updates, never adds.
    pub id: String,
    /// `trailguard/event/RULE` or `trailguard/scan/RULE`.
    pub generator_id: String,
    /// The account the finding is about (and the product ARN's).
    pub account: String,
    /// `aws`, `aws-us-gov`, `aws-cn`.
    pub partition: String,
    /// ASFF finding types.
    pub types: Vec<String>,
    /// RFC 3339 times.
    pub created_at: String,
    pub updated_at: String,
    /// `LOW`, `MEDIUM`, `HIGH`, `CRITICAL`.
    pub severity: String,
    pub title: String,
    pub description: String,
    pub recommendation: String,
    /// `(type, id)`: `AwsIamUser`, `AwsIamAccessKey`, `AwsIamPolicy`,
    /// `AwsCloudTrailTrail`, `AwsAccount`, `Other`.
    pub resources: Vec<(String, String)>,
    /// Compliance `PASSED` (remediated, or no longer found) or `FAILED`.
    pub passed: bool,
    /// CIS and Security Hub control ids.
    pub requirements: Vec<String>,
    /// `RecordState` `ARCHIVED` rather than `ACTIVE`.
    pub archived: bool,
    /// `ProductFields`: rule, event id, remediation outcome.
    pub fields: Vec<(String, String)>,
    pub source_url: Option<String>,
}

/// Security Hub.
#[async_trait]
pub trait FindingsHub: Send + Sync {
    /// Imports at most [`BATCH_MAX`] findings; answers the `(id, reason)`
    /// of each finding Security Hub refused.
    async fn import(&self, findings: &[HubFinding]) -> Result<Vec<(String, String)>, EffectError>;
    /// The active findings of `account` whose generator id starts with
    /// `generator_prefix`.
    async fn active(
        &self,
        account: &str,
        generator_prefix: &str,
    ) -> Result<Vec<HubFinding>, EffectError>;
}
