//! The alert state table on DynamoDB: conditional writes, so two
//! deliveries of one finding never both send it.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;

use super::aws::classify;
use super::{AlertState, Claim, ClaimTimes, EffectError};

/// The `status` of a claimed key whose send has not finished.
const CLAIMED: &str = "claimed";
/// The `status` of a key whose alert went out.
const SENT: &str = "sent";

/// The state table on the AWS SDK.
#[derive(Debug, Clone)]
pub struct DynamoAlertState {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoAlertState {
    /// The adapter on a DynamoDB client and the table's name.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoAlertState {
            client,
            table: table.into(),
        }
    }

    /// The conditional write of a claim: `false` when the condition failed.
    async fn put_claim(&self, key: &str, times: ClaimTimes) -> Result<bool, EffectError> {
        const OP: &str = "dynamodb:PutItem";
        let item = HashMap::from([
            ("pk".to_owned(), s(key)),
            ("status".to_owned(), s(CLAIMED)),
            ("lease_until".to_owned(), n(times.lease_until)),
            ("expires_at".to_owned(), n(times.expires_at)),
        ]);
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(pk) OR (#status = :claimed AND lease_until < :now)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":claimed", s(CLAIMED))
            .expression_attribute_values(":now", n(times.now))
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(classify(OP, e)),
        }
    }

    async fn status(&self, key: &str) -> Result<Option<(String, i64)>, EffectError> {
        const OP: &str = "dynamodb:GetItem";
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(key))
            // The claim just lost was written by someone else: read it.
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify(OP, e))?;
        Ok(out.item().map(|item| {
            let status = item
                .get("status")
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            let lease = item
                .get("lease_until")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            (status, lease)
        }))
    }
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

#[async_trait]
impl AlertState for DynamoAlertState {
    async fn claim(&self, key: &str, times: ClaimTimes) -> Result<Claim, EffectError> {
        // A key deleted between the refused write and the read (a claim
        // released) is claimed again, once: a second race is left to the
        // retry, as a claim held.
        for _ in 0..2 {
            match self.put_claim(key, times).await? {
                true => return Ok(Claim::Won),
                false => match self.status(key).await? {
                    Some((status, _)) if status == SENT => return Ok(Claim::Sent),
                    Some((_, lease_until)) => return Ok(Claim::Held { lease_until }),
                    None => continue,
                },
            }
        }
        Ok(Claim::Held {
            lease_until: times.now,
        })
    }

    async fn mark_sent(&self, key: &str, message_id: Option<&str>) -> Result<(), EffectError> {
        const OP: &str = "dynamodb:UpdateItem";
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .update_expression("SET #status = :sent REMOVE lease_until")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sent", s(SENT));
        if let Some(id) = message_id {
            update = update
                .update_expression("SET #status = :sent, message_id = :id REMOVE lease_until")
                .expression_attribute_values(":id", s(id));
        }
        update.send().await.map_err(|e| classify(OP, e))?;
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), EffectError> {
        const OP: &str = "dynamodb:DeleteItem";
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .condition_expression("#status = :claimed")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":claimed", s(CLAIMED))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            // Marked sent meanwhile, or gone: nothing to give up.
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(()),
            Err(e) => Err(classify(OP, e)),
        }
    }
}
