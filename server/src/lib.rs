//! codex-governance server: launcher engine, governance report, PTY hosting and HTTP surface.
//! Public is what the `codex-governance` binary wires together; the rest is crate-private.
#![recursion_limit = "512"]

pub mod config;
pub mod demo_agent;
pub mod engine;
pub mod governance;
pub mod http;
pub mod ids;
pub mod pty;
pub mod report;
pub(crate) mod store;
pub(crate) mod sync;
pub mod workspace;
