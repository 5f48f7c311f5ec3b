//! The PTY host: a process of its own that keeps every terminal (agent sessions, shells) of a
//! state directory, so agents survive a server restart. `protocol` is the wire format,
//! `server` the host process, `client` the server's side.

pub mod client;
pub mod protocol;
pub mod server;

pub use client::{HostClient, HostError, HostInfo, HOST_LOST};
