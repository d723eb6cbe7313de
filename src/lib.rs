//! trailguard: an IAM guardrail for AWS accounts.
//!
//! CloudTrail events come in (from EventBridge or from log files), a pure
//! rule engine turns each into findings, and the executor alerts on them and,
//! where the operator opted in, remediates.

pub mod alert;
pub mod config;
pub mod effects;
pub mod engine;
pub mod event;
pub mod executor;
pub mod inventory;
pub mod lambda;
pub mod live;
pub mod policy;
pub mod remediate;
pub mod rules;
pub mod scan;

pub use config::Config;
pub use engine::{Decision, Evaluation, evaluate};
pub use event::CloudTrailEvent;
pub mod cli;
pub mod replay;
