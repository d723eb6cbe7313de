//! The alert state table on DynamoDB: conditional writes, so two
//! deliveries of one finding never both send it.

use super::lazy::Lazy;
use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;

use super::alert_state::{CALL_PREFIX, sort_calls};
use super::aws::classify;
use super::{AlertState, Claim, ClaimTimes, EffectError, Fold, Member, Window};

/// The `status` of a claimed key whose send has not finished.
const CLAIMED: &str = "claimed";
/// The `status` of a key whose alert went out.
const SENT: &str = "sent";

/// The state table on the AWS SDK.
#[derive(Debug, Clone)]
pub struct DynamoAlertState {
    client: Lazy<aws_sdk_dynamodb::Client>,
    table: String,
}

impl DynamoAlertState {
    /// The adapter on a DynamoDB client and the table's name.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoAlertState {
            client: Lazy::built(client),
            table: table.into(),
        }
    }

    /// On an SDK config, its DynamoDB client built on the first call.
    pub fn from_conf(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        DynamoAlertState {
            client: Lazy::new(sdk, aws_sdk_dynamodb::Client::new),
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
            .get()
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
            .get()
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
            .get()
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
            .get()
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

    async fn fold(&self, m: &Member<'_>) -> Result<Fold, EffectError> {
        let finding = format!("{}#group", m.finding);
        // Once per finding: a duplicate answers what the first delivery
        // decided, and is never counted again. While the first has claimed
        // the finding but not decided, the duplicate must not alert (the
        // first may fold it): it answers in flight, and its retry finds the
        // decision. A claim whose lease ran out (its delivery died between
        // the two writes; items of before the lease have none) is taken
        // over, so a crash does not keep the finding waiting for ever.
        let first = HashMap::from([
            ("pk".to_owned(), s(&finding)),
            ("status".to_owned(), s(CLAIMED)),
            ("lease_until".to_owned(), n(m.lease_until)),
            ("expires_at".to_owned(), n(m.expires_at)),
        ]);
        let claimed = self
            .put_if_absent(
                first,
                "attribute_not_exists(pk) OR (#status = :claimed AND (attribute_not_exists(lease_until) OR lease_until < :now))",
                &[(":claimed", s(CLAIMED)), (":now", n(m.now))],
                &[("#status", "status")],
            )
            .await?;
        if !claimed {
            return Ok(match self.status(&finding).await? {
                Some((role, _)) if role == FOLDED => Fold::Folded,
                Some((role, _)) if role == SENT => Fold::AlertNow,
                Some((_, lease_until)) => Fold::InFlight { lease_until },
                // Gone between the two calls (its TTL): the retry claims it.
                None => Fold::InFlight { lease_until: m.now },
            });
        }
        let window = HashMap::from([
            ("pk".to_owned(), s(m.group)),
            ("rule".to_owned(), s(m.rule)),
            ("label".to_owned(), s(m.label)),
            ("severity".to_owned(), n(i64::from(m.severity))),
            ("opened_at".to_owned(), n(m.now)),
            ("closes_at".to_owned(), n(m.closes_at)),
            ("folded".to_owned(), n(0)),
            ("expires_at".to_owned(), n(m.expires_at)),
        ]);
        // A closed window is replaced only once its follow-up went out
        // (nothing folded is left in it); until the sweep sends it, findings
        // alert at once.
        let opened = self
            .put_if_absent(
                window,
                "attribute_not_exists(pk) OR (closes_at < :now AND folded = :zero)",
                &[(":now", n(m.now)), (":zero", n(0))],
                &[],
            )
            .await?;
        let fold = if opened {
            Fold::AlertNow
        } else {
            self.count(m).await?
        };
        let role = if fold == Fold::Folded { FOLDED } else { SENT };
        // The decision replaces the claim (and its lease).
        self.client
            .get()
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&finding))
            .update_expression("SET #status = :role REMOVE lease_until")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":role", s(role))
            .send()
            .await
            .map_err(|e| classify("dynamodb:UpdateItem", e))?;
        Ok(fold)
    }

    async fn due_windows(&self, now: i64) -> Result<Vec<Window>, EffectError> {
        const OP: &str = "dynamodb:Scan";
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .get()
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(pk, :group) AND closes_at < :now")
                .expression_attribute_values(":group", s("group#"))
                .expression_attribute_values(":now", n(now))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| classify(OP, e))?;
            out.extend(page.items().iter().map(window_of));
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(out),
            }
        }
    }

    async fn close_window(
        &self,
        key: &str,
        opened_at: i64,
        folded: u64,
    ) -> Result<bool, EffectError> {
        const OP: &str = "dynamodb:DeleteItem";
        let out = self
            .client
            .get()
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .condition_expression("opened_at = :opened AND folded = :folded")
            .expression_attribute_values(":opened", n(opened_at))
            .expression_attribute_values(":folded", n(i64::try_from(folded).unwrap_or(i64::MAX)))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            // Already closed, a new window opened, or a finding counted
            // since the sweep read it: left for the next sweep.
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(classify(OP, e)),
        }
    }
}

/// The `status` of a finding's group item when it was folded.
const FOLDED: &str = "folded";

impl DynamoAlertState {
    /// A conditional PutItem: `false` when the condition failed.
    async fn put_if_absent(
        &self,
        item: HashMap<String, AttributeValue>,
        condition: &str,
        values: &[(&str, AttributeValue)],
        names: &[(&str, &str)],
    ) -> Result<bool, EffectError> {
        const OP: &str = "dynamodb:PutItem";
        let mut put = self
            .client
            .get()
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition);
        for (name, value) in values {
            put = put.expression_attribute_values(*name, value.clone());
        }
        for (placeholder, name) in names {
            put = put.expression_attribute_names(*placeholder, *name);
        }
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(classify(OP, e)),
        }
    }

    /// Counts a finding in its open window, unless the window closed or the
    /// finding is more severe than the window's first (then it alerts).
    async fn count(&self, m: &Member<'_>) -> Result<Fold, EffectError> {
        const OP: &str = "dynamodb:UpdateItem";
        let out = self
            .client.get()
            .update_item()
            .table_name(&self.table)
            .key("pk", s(m.group))
            .update_expression(
                "SET last_time = :t, first_time = if_not_exists(first_time, :t) ADD folded :one, #call :one",
            )
            .condition_expression("closes_at >= :now AND severity >= :sev")
            .expression_attribute_names("#call", format!("{CALL_PREFIX}{}", m.call))
            .expression_attribute_values(":t", s(m.time))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(m.now))
            .expression_attribute_values(":sev", n(i64::from(m.severity)))
            .send()
            .await;
        match out {
            Ok(_) => Ok(Fold::Folded),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(Fold::AlertNow),
            Err(e) => Err(classify(OP, e)),
        }
    }
}

/// A window item as read by the sweep.
fn window_of(item: &HashMap<String, AttributeValue>) -> Window {
    let text = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    let num = |v: &AttributeValue| v.as_n().ok().and_then(|n| n.parse::<i64>().ok());
    let int = |k: &str| item.get(k).and_then(num).unwrap_or(0);
    let mut calls: Vec<(String, u64)> = item
        .iter()
        .filter_map(|(k, v)| {
            let call = k.strip_prefix(CALL_PREFIX)?;
            Some((call.to_owned(), u64::try_from(num(v)?).ok()?))
        })
        .collect();
    sort_calls(&mut calls);
    Window {
        key: text("pk"),
        rule: text("rule"),
        label: text("label"),
        opened_at: int("opened_at"),
        closes_at: int("closes_at"),
        folded: u64::try_from(int("folded")).unwrap_or(0),
        calls,
        first_time: text("first_time"),
        last_time: text("last_time"),
    }
}
