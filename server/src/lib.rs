//! codex-governance server: launcher engine, governance report, PTY hosting and HTTP surface.
#![recursion_limit = "512"]

pub mod config;
pub mod demo_agent;
pub mod engine;
pub mod governance;
pub mod http;
pub mod ids;
pub mod pty;
pub mod report;
pub mod store;
pub mod sync;
