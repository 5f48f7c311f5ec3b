//! Hosting processes on pseudo-terminals, inside this server (no sidecar processes).

mod process;
mod ring;

pub use process::{Output, OutputProgress, PtyProcess, SpawnSpec, DEFAULT_RING_BYTES};
pub use ring::Ring;
