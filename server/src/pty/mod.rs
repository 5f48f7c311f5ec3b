//! Hosting processes on pseudo-terminals, inside this server (no sidecar processes).

mod osc;
mod process;
mod ring;
mod screen;

pub use osc::{TerminalSignal, WorkspaceSignal};
pub use process::{
    bytes_printed, InputPart, Output, PtyProcess, SpawnSpec, DEFAULT_COLS, DEFAULT_ROWS,
};
