//! Governance report from Git state (SPEC §Report).

pub mod config;
