//! The account inventory: what the scheduled scan reads and the scan rules
//! look at (the credential report, users, their keys and policies, the
//! password policy), as plain data with no I/O.

pub mod account;
mod password;
pub mod report;
#[cfg(test)]
pub(crate) mod testing;

pub use account::{Account, Inventory, KeyUsage};
pub use password::PasswordBaseline;
pub use report::{CredentialReport, ReportError, Stamp};
