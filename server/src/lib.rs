//! codex-governance server: launcher engine, governance report, PTY hosting and HTTP surface.
#![recursion_limit = "512"]

pub mod config;
pub mod demo_agent;
pub mod engine;
pub mod http;
pub mod pty;
pub mod report;
pub mod store;
