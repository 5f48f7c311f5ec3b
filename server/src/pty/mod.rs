//! Hosting processes on pseudo-terminals: in this process, or in the PTY host (`host`), which
//! keeps them across server restarts.

pub mod host;
mod osc;
mod output;
mod process;
mod ring;
mod screen;

pub use osc::{TerminalSignal, WorkspaceSignal};
pub use output::{bytes_printed, Output};
pub use process::{InputPart, PtyProcess, SignalHandler, SpawnSpec, DEFAULT_COLS, DEFAULT_ROWS};
