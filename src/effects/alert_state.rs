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
pub const PERMISSIONS: [&str; 5] = [
    "dynamodb:PutItem",
    "dynamodb:GetItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Scan",
];

/// A finding offered to its group's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member<'a> {
    /// The group's key (`group#ACCOUNT#RULE#PARTS`).
    pub group: &'a str,
    /// The finding's own key (`alert#EVENT#RULE`), so a duplicate delivery
    /// is not counted twice.
    pub finding: &'a str,
    pub rule: &'a str,
    /// The group, in words, for the follow-up.
    pub label: &'a str,
    /// The finding's severity, as a rank (low 0 .. critical 3).
    pub severity: u8,
    /// The call that fired it (`s3:CreateBucket`).
    pub call: &'a str,
    /// When it happened (the event's time).
    pub time: &'a str,
    /// Now, in seconds since the epoch.
    pub now: i64,
    /// Until when this delivery's claim on the finding keeps its
    /// duplicates waiting for its decision; a claim whose delivery died is
    /// taken over after it.
    pub lease_until: i64,
    /// When a window this finding opens closes.
    pub closes_at: i64,
    /// When DynamoDB's TTL may delete the items.
    pub expires_at: i64,
}

/// What became of a finding offered to its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fold {
    /// It alerts at once: the first of its window, one of a higher
    /// severity than the first, or one after the window closed.
    AlertNow,
    /// Counted in an open window: the follow-up tells of it.
    Folded,
    /// Another delivery of the same finding claimed it and has not decided
    /// yet: this one must not alert (the other may fold it), and is worth
    /// a retry, which finds the decision or, after `lease_until`, a claim
    /// it may take over.
    InFlight { lease_until: i64 },
}

/// A window whose time is up, with what it folded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub key: String,
    pub rule: String,
    pub label: String,
    pub opened_at: i64,
    pub closes_at: i64,
    /// How many findings were folded.
    pub folded: u64,
    /// Per call, how many, most first then by name.
    pub calls: Vec<(String, u64)>,
    /// The times of the first and last folded findings, as received.
    pub first_time: String,
    pub last_time: String,
}

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
    /// Offers a finding to its group: opens the window, or counts the
    /// finding in it (once, however often it is delivered). A duplicate
    /// answers the first delivery's decision, or [`Fold::InFlight`] while
    /// that one has not decided and its lease runs.
    async fn fold(&self, member: &Member<'_>) -> Result<Fold, EffectError>;
    /// The windows closed by `now` (`dynamodb:Scan`).
    async fn due_windows(&self, now: i64) -> Result<Vec<Window>, EffectError>;
    /// Removes a window once its follow-up, of `folded` findings, went out:
    /// only the window opened at `opened_at` (a new one may have opened
    /// since) and only while it still counts `folded` (a finding counted
    /// after the sweep read it is in no follow-up yet). `false` when it
    /// was not removed here: gone already, or left for the next sweep to
    /// send what it holds.
    async fn close_window(
        &self,
        key: &str,
        opened_at: i64,
        folded: u64,
    ) -> Result<bool, EffectError>;
}

/// The attribute prefix of a window's per-call counters.
pub const CALL_PREFIX: &str = "call:";

/// Sorts per-call counts: most first, then by name.
pub fn sort_calls(calls: &mut [(String, u64)]) {
    calls.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
}
