//! Hosting processes on pseudo-terminals, inside this server (no sidecar processes).

mod osc;
mod process;
mod ring;

pub use osc::{OscScanner, TerminalSignal};
pub use process::{
    InputPart, Output, OutputProgress, PtyProcess, SignalHandler, SpawnSpec, DEFAULT_COLS,
    DEFAULT_RING_BYTES, DEFAULT_ROWS,
};
pub use ring::Ring;
