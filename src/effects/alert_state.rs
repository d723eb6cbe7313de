//! The alert state table: what was sent, per finding and channel, so a
//! retried or duplicated event alerts each channel once.
//!
//! The table's schema is a public contract (operators may create it
//! themselves): one string partition key `pk`, no sort key, TTL on the
//! number attribute `expires_at`. Every other attribute is ours.

use async_trait::async_trait;

use super::EffectError;

/// Every call the adapters make on the table: what the SAM template grants
/// on it, no more (checked by the template tests).
pub const PERMISSIONS: [&str; 4] = [
    "dynamodb:PutItem",
    "dynamodb:GetItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
];

/// What a claim on an alert found in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Nobody sent it nor is sending it: this delivery sends it.
    Won,
    /// It was sent before.
    Sent,
    /// Another delivery claimed it and has not finished; its claim lapses
    /// at `lease_until` (seconds since the epoch).
    Held { lease_until: i64 },
}

/// The times a claim carries, in seconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimTimes {
    /// Now: a claim whose lease ended before this may be taken over.
    pub now: i64,
    /// Until when this delivery's claim keeps others off.
    pub lease_until: i64,
    /// When DynamoDB's TTL may delete the item.
    pub expires_at: i64,
}

/// The state table (`dynamodb:PutItem`, `GetItem`, `UpdateItem`,
/// `DeleteItem` on one table).
#[async_trait]
pub trait AlertState: Send + Sync {
    /// Claims `key` for sending, with a conditional write: won when the key
    /// is absent or its claim lapsed, else what holds it.
    async fn claim(&self, key: &str, times: ClaimTimes) -> Result<Claim, EffectError>;
    /// Records `key` as sent (the SNS message id, when there is one).
    async fn mark_sent(&self, key: &str, message_id: Option<&str>) -> Result<(), EffectError>;
    /// Gives up this delivery's claim after a failed send, so the retry
    /// sends; a key already marked sent is left alone.
    async fn release(&self, key: &str) -> Result<(), EffectError>;
}
