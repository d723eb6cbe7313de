//! trailguard's benchmarks: a synthetic CloudTrail archive generator
//! ([`synth`]), a fake Lambda Runtime API ([`runtime_api`]), an S3 to
//! replay from ([`moto`]) and the process measurements ([`measure`]) that
//! `scripts/bench` runs.

pub mod measure;
pub mod moto;
pub mod runtime_api;
pub mod synth;
