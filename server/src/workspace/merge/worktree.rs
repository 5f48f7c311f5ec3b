//! After a merge (or instead of one): removing a department's linked worktree, and telling
//! whether it still holds work the base lacks.

use std::fs;
use std::path::{Path, PathBuf};

use git2::{BranchType, ErrorCode, Repository, Status, StatusOptions, WorktreePruneOptions};

use super::{open_main, MergeError};

/// Removes the linked worktree `worktree_name` at `worktree_path`: its directory (with whatever
/// it holds) and its registration in the repository (`git2` prune, valid + working tree), then
/// the branch `delete_branch` when given (a missing branch is fine; one checked out elsewhere is
/// refused by Git). Never touches the main working tree: a path that is it, or holds it, or is
/// not the registered path of that worktree is [`MergeError::NotALinkedWorktree`]. A locked
/// worktree is refused by Git. Removing an already removed worktree succeeds.
pub fn remove_worktree(
    repo: &Path,
    worktree_name: &str,
    worktree_path: &Path,
    delete_branch: Option<&str>,
) -> Result<(), MergeError> {
    let repo = open_main(repo)?;
    let not_linked = || MergeError::NotALinkedWorktree(worktree_path.to_path_buf());
    let target = canonical(worktree_path);
    if let Some(main) = repo.workdir().map(canonical) {
        if main.starts_with(&target) {
            return Err(not_linked());
        }
    }
    let registered = repo
        .worktrees()?
        .iter()
        .flatten()
        .any(|name| name == Some(worktree_name));
    let exists = worktree_path.symlink_metadata().is_ok();
    if registered {
        let worktree = repo.find_worktree(worktree_name)?;
        if canonical(worktree.path()) != target {
            return Err(not_linked());
        }
        let mut options = WorktreePruneOptions::new();
        options.valid(true).working_tree(true);
        worktree.prune(Some(&mut options))?;
    } else if exists && !links_to(&repo, worktree_name, worktree_path) {
        return Err(not_linked());
    }
    // Git skips a working tree whose `.git` file is gone; an unregistered one is ours to remove
    // only when its `.git` file names this repository's worktree of that name (checked above).
    if worktree_path.symlink_metadata().is_ok() {
        fs::remove_dir_all(worktree_path).map_err(|source| MergeError::Io {
            path: worktree_path.to_path_buf(),
            source,
        })?;
    }
    if let Some(branch) = delete_branch {
        match repo.find_branch(branch, BranchType::Local) {
            Ok(mut found) => found.delete()?,
            Err(err) if err.code() == ErrorCode::NotFound => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}

/// Whether the worktree at `worktree_path` holds work `base_branch_or_commit` (a branch name or
/// a commit) lacks: uncommitted changes (staged, unstaged, untracked files that are not ignored),
/// or commits on its HEAD not contained in the base whose changes are not all on the base
/// already. The latter makes a squash-merged (or cherry-picked) branch count as merged: its
/// commits are not ancestors of the base, but merging it again would change nothing (a merge
/// that would conflict counts as unmerged).
pub fn has_unmerged_changes(
    repo: &Path,
    worktree_path: &Path,
    base_branch_or_commit: &str,
) -> Result<bool, MergeError> {
    let repo = open_main(repo)?;
    let worktree = Repository::open(worktree_path)?;
    let mut options = StatusOptions::new();
    options
        .include_untracked(true)
        .include_ignored(false)
        .renames_head_to_index(false)
        .renames_index_to_workdir(false);
    let dirty = worktree.statuses(Some(&mut options))?.iter().any(|entry| {
        entry.status() != Status::CURRENT && !entry.status().contains(Status::IGNORED)
    });
    if dirty {
        return Ok(true);
    }
    let head = match worktree.head() {
        Ok(head) => head.peel_to_commit()?,
        Err(err) if matches!(err.code(), ErrorCode::UnbornBranch | ErrorCode::NotFound) => {
            return Ok(false)
        }
        Err(err) => return Err(err.into()),
    };
    let base = repo
        .revparse_single(base_branch_or_commit)
        .and_then(|object| object.peel_to_commit())
        .map_err(|_| MergeError::UnknownBranch(base_branch_or_commit.to_string()))?;
    if head.id() == base.id() || repo.graph_descendant_of(base.id(), head.id())? {
        return Ok(false);
    }
    let head = repo.find_commit(head.id())?;
    let merged = repo.merge_commits(&base, &head, None)?;
    if merged.has_conflicts() {
        return Ok(true);
    }
    let diff = repo.diff_tree_to_index(Some(&base.tree()?), Some(&merged), None)?;
    Ok(diff.deltas().len() > 0)
}

/// Whether the directory's `.git` file names `<common dir>/worktrees/<name>`.
fn links_to(repo: &Repository, name: &str, dir: &Path) -> bool {
    let Ok(text) = fs::read_to_string(dir.join(".git")) else {
        return false;
    };
    let Some(gitdir) = text.trim_end().strip_prefix("gitdir: ") else {
        return false;
    };
    canonical(Path::new(gitdir)) == canonical(&repo.commondir().join("worktrees").join(name))
}

/// The path with symlinks resolved, or as given when it does not exist.
fn canonical(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}
