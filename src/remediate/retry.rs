//! Patience with IAM's eventual consistency: how long to wait, how waits
//! are made, and the loops that read again what IAM does not show yet.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;

use super::dispatch::Ctx;
use super::groups::DEFAULT_PROPAGATION_DELAY_SECONDS;
use super::report::Report;
use crate::effects::{EffectError, ErrorKind};

/// How long to wait for IAM's eventual consistency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all (1 = no retry) of a call on what this run just wrote.
    pub attempts: u32,
    /// Wait before the second attempt; doubled for each later one.
    pub first_delay: Duration,
    /// How long the first reads are repeated while what the event names
    /// (a user, key, policy or attachment made seconds before) is absent,
    /// before concluding it is gone. Backoff from `first_delay`, doubling,
    /// at most [`MAX_ABSENT_DELAY`] apart.
    pub absent_budget: Duration,
    /// Wait between reading back the new group grant and taking the user's
    /// copy away: IAM takes seconds to propagate a change to every endpoint,
    /// and a request served meanwhile could find neither grant.
    pub propagation_delay: Duration,
}

/// The longest pause between two reads of something absent.
pub const MAX_ABSENT_DELAY: Duration = Duration::from_secs(8);

impl Default for Retry {
    /// Five attempts over about four seconds; absent reads repeated for 30
    /// seconds; a 10 second propagation delay. Well inside the function's
    /// timeout (300 seconds in the template).
    fn default() -> Self {
        Retry {
            attempts: 5,
            first_delay: Duration::from_millis(250),
            absent_budget: Duration::from_secs(30),
            propagation_delay: Duration::from_secs(DEFAULT_PROPAGATION_DELAY_SECONDS),
        }
    }
}

impl Retry {
    /// For tests against an emulator that is consistent at once: short
    /// waits, no propagation delay.
    pub fn quick() -> Self {
        Retry {
            attempts: 3,
            first_delay: Duration::from_millis(5),
            absent_budget: Duration::from_millis(20),
            propagation_delay: Duration::ZERO,
        }
    }

    /// The wait after attempt `attempt` (from 1): `first_delay`, doubled
    /// for each later attempt.
    pub(super) fn delay(&self, attempt: u32) -> Duration {
        self.first_delay
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
    }
}

/// How a remediation waits: tokio's timer, or in tests a clock that
/// records the waits and returns at once.
#[async_trait]
pub trait Sleep: Send + Sync {
    /// Returns after `duration`.
    async fn sleep(&self, duration: Duration);
}

/// The real wait.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleep;

#[async_trait]
impl Sleep for TokioSleep {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// IAM not showing yet what this run wrote: NoSuchEntity, or, on a group
/// this run created (`fresh`), AccessDenied: a role scoped to trailguard's
/// group path is denied a group whose path IAM cannot resolve yet.
fn not_there_yet(e: &EffectError, fresh: bool) -> bool {
    e.is_not_found() || (fresh && e.kind == ErrorKind::AccessDenied)
}

/// Retries a call while IAM does not show yet what we just wrote (eventual
/// consistency). Exhausted retries are still worth an event retry.
pub(crate) async fn retry_not_found<T, F, Fut>(
    ctx: &Ctx<'_>,
    fresh: bool,
    mut call: F,
) -> Result<T, (EffectError, bool)>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, EffectError>>,
{
    let retry = ctx.retry;
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) if not_there_yet(&e, fresh) && attempt < retry.attempts => {
                ctx.sleep.sleep(retry.delay(attempt)).await;
                attempt += 1;
            }
            Err(e) => {
                let retryable = e.is_retryable() || not_there_yet(&e, fresh);
                return Err((e, retryable));
            }
        }
    }
}

/// Waits until `check` holds, re-reading with the retry policy. `fresh`:
/// the group read was created by this run (see [`retry_not_found`]).
pub(crate) async fn wait_until<F, Fut>(
    ctx: &Ctx<'_>,
    fresh: bool,
    mut check: F,
) -> Result<bool, EffectError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, EffectError>>,
{
    let retry = ctx.retry;
    for attempt in 1..=retry.attempts.max(1) {
        match check().await {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(e) if not_there_yet(&e, fresh) => {}
            Err(e) => return Err(e),
        }
        if attempt < retry.attempts {
            ctx.sleep.sleep(retry.delay(attempt)).await;
        }
    }
    Ok(false)
}

/// What the first reads of a remediation found.
pub(crate) enum Seen<T> {
    /// What the event names is there, or the work is already done.
    Present(T),
    /// Absent (the user, key, policy or attachment): the report to end with
    /// if it stays so.
    Absent(Report),
}

/// Runs the first reads, and again with backoff while they find the
/// event's subject absent, within [`Retry::absent_budget`]: IAM is
/// eventually consistent, and a user, key or attachment made seconds
/// before the event can be missing from the first answers. Only then is
/// "absent" final (the report says how long it was read).
pub(crate) async fn patiently<T, F, Fut>(ctx: &Ctx<'_>, mut read: F) -> Result<Seen<T>, EffectError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Seen<T>, EffectError>>,
{
    let budget = ctx.retry.absent_budget;
    let mut waited = Duration::ZERO;
    let mut delay = ctx.retry.first_delay.max(Duration::from_millis(1));
    loop {
        match read().await? {
            Seen::Absent(_) if waited < budget => {
                let pause = delay.min(budget - waited);
                ctx.sleep.sleep(pause).await;
                waited += pause;
                delay = delay.saturating_mul(2).min(MAX_ABSENT_DELAY);
            }
            Seen::Absent(mut report) => {
                if !waited.is_zero() {
                    report.notes.push(format!(
                        "read again for {:.1} s before concluding so (IAM is eventually consistent)",
                        waited.as_secs_f64()
                    ));
                }
                return Ok(Seen::Absent(report));
            }
            present => return Ok(present),
        }
    }
}

/// Waits [`Retry::propagation_delay`] after the new grant was read back and
/// before the user's copy is taken away: a read back from one endpoint does
/// not mean every endpoint authorizes with it yet, and a request served in
/// between would find neither grant.
pub(crate) async fn let_it_propagate(ctx: &Ctx<'_>) {
    let delay = ctx.retry.propagation_delay;
    if !delay.is_zero() {
        ctx.sleep.sleep(delay).await;
    }
}
