//! Shared by the integration tests: a moto server per test, SDK clients on
//! it, a loopback HTTP listener, and the live fixtures.
#![allow(dead_code)]

pub mod child;
pub mod fixtures;
pub mod http;
pub mod moto;
pub mod runtime_api;
