//! Department workspaces at the Git level: worktrees created from a base commit on a branch of
//! their own (`create`), prepared before the agent starts (`prepare`: copied files and setup
//! commands, run inside the session's terminal), and their diff against the base (`diff`).
//! Nothing here knows about sessions or the API; the engine decides when and for whom.

pub mod create;
pub mod diff;
pub mod prepare;
