//! Hosting processes on pseudo-terminals: in this process, or in the PTY host (`host`), which
//! keeps them across server restarts.

pub mod host;
mod osc;
mod process;
mod ring;
mod screen;

pub use osc::{TerminalSignal, WorkspaceSignal};
pub use process::{
    bytes_printed, InputPart, Output, PtyProcess, SignalHandler, SpawnSpec, DEFAULT_COLS,
    DEFAULT_ROWS,
};
