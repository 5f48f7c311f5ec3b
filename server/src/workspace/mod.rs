//! Department workspaces at the Git level: worktrees created from a base commit on a branch of
//! their own (`create`), prepared before the agent starts (`prepare`: copied files and setup
//! commands, run inside the session's terminal), their diff against the base (`diff`), the
//! commit of what a department left (`commit`) and the launcher's own run of the verification
//! commands (`verify`, inside a read-only terminal).
//! Nothing here knows about sessions or the API; the engine decides when and for whom.

mod child;
pub mod commit;
pub mod create;
pub mod diff;
pub mod merge;
pub mod prepare;
#[cfg(test)]
mod test_git;
pub mod verify;
