//! trailguard's benchmarks: a synthetic CloudTrail archive generator
//! ([`synth`]), a fake Lambda Runtime API ([`runtime_api`]) and the
//! process measurements ([`measure`]) that `scripts/bench` runs.

pub mod measure;
pub mod runtime_api;
pub mod synth;
