//! Security Hub on the AWS SDK: [`HubFinding`] to and from the ASFF types.

use super::lazy::Lazy;
use async_trait::async_trait;
use aws_sdk_securityhub::types::{
    AwsSecurityFinding, AwsSecurityFindingFilters, Compliance, ComplianceStatus, Partition,
    Recommendation, RecordState, Remediation, Resource, Severity, SeverityLabel, StringFilter,
    StringFilterComparison,
};

use super::aws::classify;
use super::{EffectError, ErrorKind, FindingsHub, HubFinding};

/// Security Hub on the AWS SDK, importing into its client's region.
#[derive(Debug, Clone)]
pub struct AwsHub {
    client: Lazy<aws_sdk_securityhub::Client>,
}

impl AwsHub {
    /// The adapter on a Security Hub client.
    pub fn new(client: aws_sdk_securityhub::Client) -> Self {
        AwsHub {
            client: Lazy::built(client),
        }
    }

    /// On an SDK config, its Security Hub client built on the first call.
    pub fn from_conf(sdk: &aws_config::SdkConfig) -> Self {
        AwsHub {
            client: Lazy::new(sdk, aws_sdk_securityhub::Client::new),
        }
    }

    fn region(&self) -> String {
        self.client
            .get()
            .config()
            .region()
            .map_or_else(|| "us-east-1".to_owned(), |r| r.to_string())
    }

    /// The default product of the account that owns the finding: the only
    /// one a finding provider may import into for that account.
    fn product_arn(&self, partition: &str, account: &str) -> String {
        format!(
            "arn:{partition}:securityhub:{}:{account}:product/{account}/default",
            self.region()
        )
    }

    fn to_asff(&self, f: &HubFinding) -> AwsSecurityFinding {
        let region = self.region();
        let resources = f.resources.iter().map(|(kind, id)| {
            Resource::builder()
                .r#type(kind)
                .id(id)
                .partition(Partition::from(f.partition.as_str()))
                .region(&region)
                .build()
        });
        AwsSecurityFinding::builder()
            .schema_version("2018-10-08")
            .id(&f.id)
            .product_arn(self.product_arn(&f.partition, &f.account))
            .generator_id(&f.generator_id)
            .aws_account_id(&f.account)
            .region(&region)
            .set_types(Some(f.types.clone()))
            .created_at(&f.created_at)
            .updated_at(&f.updated_at)
            .severity(
                Severity::builder()
                    .label(SeverityLabel::from(f.severity.as_str()))
                    .build(),
            )
            .title(&f.title)
            .description(&f.description)
            .remediation(
                Remediation::builder()
                    .recommendation(Recommendation::builder().text(&f.recommendation).build())
                    .build(),
            )
            .set_resources(Some(resources.collect()))
            .compliance(
                Compliance::builder()
                    .status(if f.passed {
                        ComplianceStatus::Passed
                    } else {
                        ComplianceStatus::Failed
                    })
                    .set_related_requirements(Some(f.requirements.clone()))
                    .build(),
            )
            .record_state(if f.archived {
                RecordState::Archived
            } else {
                RecordState::Active
            })
            .set_product_fields(Some(f.fields.iter().cloned().collect()))
            .set_source_url(f.source_url.clone())
            .build()
    }
}

/// A finding read back, as trailguard wrote it.
fn from_asff(f: &AwsSecurityFinding) -> HubFinding {
    let text = |v: Option<&str>| v.unwrap_or_default().to_owned();
    let mut fields: Vec<(String, String)> = f
        .product_fields
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    fields.sort();
    HubFinding {
        id: text(f.id()),
        generator_id: text(f.generator_id()),
        account: text(f.aws_account_id()),
        partition: f
            .product_arn()
            .and_then(|a| a.split(':').nth(1))
            .unwrap_or("aws")
            .to_owned(),
        types: f.types().to_vec(),
        created_at: text(f.created_at()),
        updated_at: text(f.updated_at()),
        severity: f
            .severity()
            .and_then(|s| s.label())
            .map_or("INFORMATIONAL", |l| l.as_str())
            .to_owned(),
        title: text(f.title()),
        description: text(f.description()),
        recommendation: text(
            f.remediation()
                .and_then(|r| r.recommendation())
                .and_then(|r| r.text()),
        ),
        resources: f
            .resources()
            .iter()
            .map(|r| (text(r.r#type()), text(r.id())))
            .collect(),
        passed: f
            .compliance()
            .and_then(|c| c.status())
            .is_some_and(|s| *s == ComplianceStatus::Passed),
        requirements: f
            .compliance()
            .map(|c| c.related_requirements().to_vec())
            .unwrap_or_default(),
        archived: f.record_state() == Some(&RecordState::Archived),
        fields,
        source_url: f.source_url().map(str::to_owned),
    }
}

fn equals(value: &str) -> StringFilter {
    StringFilter::builder()
        .comparison(StringFilterComparison::Equals)
        .value(value)
        .build()
}

#[async_trait]
impl FindingsHub for AwsHub {
    async fn import(&self, findings: &[HubFinding]) -> Result<Vec<(String, String)>, EffectError> {
        const OP: &str = "securityhub:BatchImportFindings";
        if findings.len() > super::hub::BATCH_MAX {
            return Err(EffectError::new(
                OP,
                ErrorKind::Invalid,
                format!("{} findings in one batch (at most 100)", findings.len()),
            ));
        }
        let out = self
            .client
            .get()
            .batch_import_findings()
            .set_findings(Some(findings.iter().map(|f| self.to_asff(f)).collect()))
            .send()
            .await
            .map_err(|e| classify(OP, e))?;
        Ok(out
            .failed_findings()
            .iter()
            .map(|f| {
                (
                    f.id().unwrap_or_default().to_owned(),
                    format!(
                        "{}: {}",
                        f.error_code().unwrap_or_default(),
                        f.error_message().unwrap_or_default()
                    ),
                )
            })
            .collect())
    }

    async fn active(
        &self,
        account: &str,
        generator_prefix: &str,
    ) -> Result<Vec<HubFinding>, EffectError> {
        const OP: &str = "securityhub:GetFindings";
        let filters = AwsSecurityFindingFilters::builder()
            .aws_account_id(equals(account))
            .record_state(equals("ACTIVE"))
            .generator_id(
                StringFilter::builder()
                    .comparison(StringFilterComparison::Prefix)
                    .value(generator_prefix)
                    .build(),
            )
            .build();
        // ASFF's types are huge: read on a task of its own, so decoding a
        // page runs at the bottom of a stack rather than under the scan's
        // deep one (a debug build overflowed there).
        let client = self.client.get().clone();
        let (account, prefix) = (account.to_owned(), generator_prefix.to_owned());
        let read = tokio::spawn(async move {
            let mut out = Vec::new();
            let mut token = None;
            loop {
                let page = client
                    .get_findings()
                    .filters(filters.clone())
                    .max_results(100)
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|e| classify(OP, e))?;
                // Filtered again here: what the service answered is trusted
                // no further than the filter we meant.
                out.extend(page.findings().iter().map(from_asff).filter(|f| {
                    f.account == account && f.generator_id.starts_with(&prefix) && !f.archived
                }));
                match page.next_token() {
                    Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                    _ => return Ok(out),
                }
            }
        });
        read.await
            .map_err(|e| EffectError::new(OP, ErrorKind::Other, e.to_string()))?
    }
}
