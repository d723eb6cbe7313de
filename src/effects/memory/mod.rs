//! In-memory effects that record every call, for tests and dry runs.
//!
//! [`MemoryIam`] models the slice of IAM the remediations touch with IAM's
//! own answers (NoSuchEntity, EntityAlreadyExists, LimitExceeded), records
//! every operation name, and keeps a snapshot of the state after each write
//! so a test can check an invariant at every intermediate step. Names of
//! users and groups are matched regardless of case, as IAM does, and
//! answered as stored. [`MemoryIam::eventually`] models IAM's eventual
//! consistency: a write made just before the run shows only after some
//! reads.
//!
//! One file per seam: the IAM state model ([`state`]), the [`Iam`] fake
//! ([`iam`]), the scan's [`CredentialSource`] fake ([`credentials`]), the
//! CloudTrail fake ([`trail`]), the alert channels' fakes ([`alerts`]) and
//! the alert state table ([`alert_state`]) and Security Hub ([`hub`]).
//!
//! [`Iam`]: super::Iam
//! [`CredentialSource`]: super::CredentialSource

mod alert_state;
mod alerts;
mod credentials;
mod hub;
mod iam;
mod members;
mod state;
mod trail;

use std::sync::Mutex;

pub use alert_state::MemoryAlertState;
pub use alerts::{MemorySecrets, RecordingPublisher, RecordingWebhook};
pub use credentials::MemorySource;
pub use hub::MemoryHub;
pub use iam::MemoryIam;
pub use members::{MemoryAccountNames, MemoryMembers};
pub use state::{GroupState, IamState, UserState};
pub use trail::MemoryTrail;

/// Poisoning only follows a panic in a test; carry on with the data.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
