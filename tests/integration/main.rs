//! The integration tests, linked into one binary: each links the whole SDK,
//! so one binary links it once instead of once per file.
//!
//! Only tests that install a process-wide tracing subscriber keep a binary
//! of their own (`tests/decision_log.rs`, `tests/slack_webhook.rs`): one
//! process holds one global subscriber.

#[path = "../support/mod.rs"]
mod support;

mod alerts_moto;
mod aws_errors;
mod backtest;
mod cli;
mod cli_handle;
mod corpus;
mod docs;
mod html_report;
mod hub_moto;
mod hub_wire;
mod lambda_e2e;
mod layers;
mod live_moto;
mod org_moto;
mod policy;
mod robustness;
mod s3_replay;
mod scan_moto;
mod synth_archive;
mod template;
mod tls;
