//! codex-governance server: launcher engine, governance report, PTY hosting and HTTP surface.

pub mod config;
pub mod engine;
pub mod http;
pub mod report;
