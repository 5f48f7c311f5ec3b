//! Dashboard building blocks.

mod inbox;
mod launcher;
mod notify;
mod plan;
pub mod push;
mod report;
mod review;
mod sessions;
pub mod shared;
mod status_panel;
mod wall;
pub mod wire;

pub use inbox::InboxPanel;
pub use launcher::LauncherPanel;
pub use plan::PlanDialog;
pub use report::ReportPanel;
pub use review::ReviewPanel;
pub use sessions::SessionsPanel;
pub use status_panel::StatusPanel;
pub use wall::TerminalWall;
