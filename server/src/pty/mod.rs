//! Hosting processes on pseudo-terminals, inside this server (no sidecar processes).

mod process;
mod ring;

pub use process::{Output, OutputProgress, PtyProcess, SpawnSpec};
pub use ring::Ring;
