//! The merge gate at the Git level: a department's branch merged into its base branch, all or
//! nothing, with git2 (no `git` subprocess). Nothing here knows about sessions or the API.
//!
//! The merge is made in memory (`merge_commits`); its commit object is written without moving
//! any ref. When the base branch is not checked out anywhere, the ref alone moves (compare and
//! swap). When it is checked out (in the main working tree, or in a linked worktree), the user's
//! uncommitted changes are checked first, then a journal is written (fsync), the index and files
//! of exactly the merged paths are updated (a safe checkout limited to them), the ref moves
//! (compare and swap) and the journal goes. [`recover`] finishes or undoes, from the journal, a
//! merge a crash interrupted.

mod journal;
mod worktree;

#[cfg(test)]
mod crash_tests;
#[cfg(test)]
mod test_repo;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod worktree_tests;

use std::collections::BTreeSet;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use git2::build::CheckoutBuilder;
use git2::{
    BranchType, CheckoutNotificationType, Commit, ErrorCode, Index, Oid, Repository, Status,
    StatusOptions, Tree,
};

pub use journal::recover;
use journal::Journal;
pub use worktree::{has_unmerged_changes, remove_worktree};

/// In debug builds, how long (milliseconds) [`merge_branch`] sleeps after updating the files of
/// a checked-out base and before moving its ref: lets a test kill the process mid-merge.
pub const PAUSE_ENV: &str = "CODEX_GOVERNANCE_TEST_MERGE_PAUSE_MS";

/// How the branch's work lands on the base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// One new commit on the base (one parent) with the merged tree.
    Squash,
    /// A merge commit with two parents: the base, then the branch.
    Merge,
}

/// What to merge, where, and how.
#[derive(Debug, Clone, Copy)]
pub struct MergePlan<'a> {
    /// The repository (its main working tree).
    pub repo: &'a Path,
    /// The department's branch, e.g. `governance/zhongshu-1/docs`.
    pub branch: &'a str,
    /// The branch merged into, e.g. `main`.
    pub base_branch: &'a str,
    pub strategy: Strategy,
    /// The message of the squash commit or of the merge commit.
    pub message: &'a str,
    /// A file path (in the launcher's state directory) for crash recovery; it exists only while
    /// a checked-out base is being updated.
    pub journal: &'a Path,
}

/// A merge done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// The new commit the base branch points at.
    pub merged_commit: String,
    /// The paths the merge changed on the base (added, modified or deleted), sorted.
    pub files: Vec<String>,
}

/// Why a merge did not happen (nothing was changed, unless said otherwise).
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("the branch adds nothing to the base")]
    NothingToMerge,
    /// Every conflicting path, sorted.
    #[error("the merge conflicts in {}", .0.join(", "))]
    Conflicts(Vec<String>),
    /// The user's uncommitted changes (staged, unstaged, untracked; or an ignored file where
    /// the merge adds one) in the working tree of the base that touch merged paths, sorted.
    #[error("uncommitted changes touch merged paths: {}", .0.join(", "))]
    UncommittedChanges(Vec<String>),
    /// The base ref changed while merging (the compare-and-swap failed).
    #[error("the base branch moved while merging")]
    BaseMoved,
    #[error("no branch {0}")]
    UnknownBranch(String),
    /// The journal exists: another merge is running with it, or one was interrupted and
    /// [`recover`] has not run.
    #[error("a merge journal exists at {}: another merge is running or one was interrupted", .0.display())]
    InProgress(PathBuf),
    /// The path is not the registered linked worktree of that name (or is the main working
    /// tree).
    #[error("{} is not a linked worktree of the repository", .0.display())]
    NotALinkedWorktree(PathBuf),
    /// Reading or writing the journal, or removing a worktree's directory, failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Git(#[from] git2::Error),
}

/// Merges `plan.branch` into `plan.base_branch`, all or nothing (see the module's comment).
pub fn merge_branch(plan: &MergePlan) -> Result<Merged, MergeError> {
    let repo = open_main(plan.repo)?;
    let base_ref = branch_ref(&repo, plan.base_branch)?;
    let branch_ref = branch_ref(&repo, plan.branch)?;
    let base = repo.find_reference(&base_ref)?.peel_to_commit()?;
    let theirs = repo.find_reference(&branch_ref)?.peel_to_commit()?;
    if theirs.id() == base.id() || repo.graph_descendant_of(base.id(), theirs.id())? {
        return Err(MergeError::NothingToMerge);
    }
    match repo.merge_base(base.id(), theirs.id()) {
        Err(err) if err.code() == ErrorCode::NotFound => {
            return Err(git2::Error::from_str(&format!(
                "{} and {} share no history",
                plan.branch, plan.base_branch
            ))
            .into())
        }
        other => other?,
    };
    let mut index = repo.merge_commits(&base, &theirs, None)?;
    if index.has_conflicts() {
        return Err(MergeError::Conflicts(conflict_paths(&index)?));
    }
    let tree = repo.find_tree(index.write_tree_to(&repo)?)?;
    if tree.id() == base.tree_id() {
        // Everything the branch changes is already on the base (e.g. cherry-picked).
        return Err(MergeError::NothingToMerge);
    }
    let base_tree = base.tree()?;
    let paths = changed_paths(&repo, &base_tree, &tree)?;
    let signature = repo.signature()?;
    let parents: Vec<&Commit> = match plan.strategy {
        Strategy::Squash => vec![&base],
        Strategy::Merge => vec![&base, &theirs],
    };
    let message = git2::message_prettify(plan.message, None)?;
    let new = repo.commit(None, &signature, &signature, &message, &tree, &parents)?;
    let reflog = format!(
        "codex-governance: {} {} into {}",
        match plan.strategy {
            Strategy::Squash => "squash",
            Strategy::Merge => "merge",
        },
        plan.branch,
        plan.base_branch
    );
    let files: Vec<String> = paths.iter().map(|p| lossy(p)).collect();
    match checked_out_in(&repo, &base_ref)? {
        None => move_ref(&repo, &base_ref, base.id(), new, &reflog)?,
        Some(workdir) => {
            let journal = Journal {
                version: 1,
                repo: workdir,
                base_ref: base_ref.clone(),
                branch: plan.branch.to_string(),
                old_commit: base.id().to_string(),
                new_commit: new.to_string(),
                files: files.clone(),
            };
            update_checked_out(plan.journal, &journal, &base_tree, &tree, &paths, &reflog)?;
        }
    }
    Ok(Merged {
        merged_commit: new.to_string(),
        files,
    })
}

/// Steps of a merge into a checked-out base, from the user's changes to the journal's removal.
fn update_checked_out(
    journal_path: &Path,
    journal: &Journal,
    old_tree: &Tree,
    new_tree: &Tree,
    paths: &BTreeSet<Vec<u8>>,
    reflog: &str,
) -> Result<(), MergeError> {
    // The trees again, as objects of this repository (the working tree's).
    let repo = Repository::open(&journal.repo)?;
    let (old_tree, new_tree) = (
        &repo.find_tree(old_tree.id())?,
        &repo.find_tree(new_tree.id())?,
    );
    let (old, new) = (
        Oid::from_str(&journal.old_commit)?,
        Oid::from_str(&journal.new_commit)?,
    );
    let touched = uncommitted_touching(&repo, old_tree, paths)?;
    if !touched.is_empty() {
        return Err(MergeError::UncommittedChanges(touched));
    }
    if repo.refname_to_id(&journal.base_ref)? != old {
        return Err(MergeError::BaseMoved);
    }
    journal.write(journal_path)?;
    let outcome = match checkout_merged(&repo, new_tree, paths).and_then(|()| {
        pause();
        move_ref(&repo, &journal.base_ref, old, new, reflog)
    }) {
        Ok(()) => Ok(()),
        // A safe checkout finds every conflict before it writes anything.
        Err(MergeError::UncommittedChanges(paths)) => Err(MergeError::UncommittedChanges(paths)),
        Err(_) if repo.refname_to_id(&journal.base_ref).ok() == Some(new) => Ok(()),
        Err(err) => {
            if let Err(undo) = journal::restore(&repo, old_tree, new_tree) {
                tracing::warn!(
                    "undoing the failed merge into {} failed ({undo}); its journal {} stays for recovery",
                    journal.base_ref,
                    journal_path.display()
                );
                return Err(err);
            }
            Err(err)
        }
    };
    if let Err(err) = journal::remove(journal_path) {
        tracing::warn!("{err}");
    }
    outcome
}

/// The safe checkout of `tree` limited to `paths` (index and files; deleted paths removed): it
/// overwrites nothing the user changed, ignored files included.
fn checkout_merged(
    repo: &Repository,
    tree: &Tree,
    paths: &BTreeSet<Vec<u8>>,
) -> Result<(), MergeError> {
    let mut conflicts = BTreeSet::new();
    let result = {
        let mut checkout = CheckoutBuilder::new();
        checkout
            .safe()
            .overwrite_ignored(false)
            .disable_pathspec_match(true)
            .notify_on(CheckoutNotificationType::CONFLICT)
            .notify(|_, path, _, _, _| {
                if let Some(path) = path {
                    conflicts.insert(lossy(path.as_os_str().as_bytes()));
                }
                true
            });
        for path in paths {
            checkout.path(path.as_slice());
        }
        repo.checkout_tree(tree.as_object(), Some(&mut checkout))
    };
    match result {
        Err(err) if err.code() == ErrorCode::Conflict && !conflicts.is_empty() => Err(
            MergeError::UncommittedChanges(conflicts.into_iter().collect()),
        ),
        other => Ok(other?),
    }
}

/// Debug builds: sleeps [`PAUSE_ENV`] milliseconds when it is set.
fn pause() {
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var(PAUSE_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// Moves `name` from `old` to `new`, only if it still points at `old`.
fn move_ref(
    repo: &Repository,
    name: &str,
    old: Oid,
    new: Oid,
    reflog: &str,
) -> Result<(), MergeError> {
    match with_retries(|| repo.reference_matching(name, new, true, old, reflog)) {
        Ok(_) => Ok(()),
        Err(err) if matches!(err.code(), ErrorCode::Modified | ErrorCode::NotFound) => {
            Err(MergeError::BaseMoved)
        }
        Err(err) => Err(err.into()),
    }
}

/// The repository at `dir`; its main repository when `dir` is a linked worktree.
fn open_main(dir: &Path) -> Result<Repository, MergeError> {
    let repo = Repository::open(dir)?;
    if repo.is_worktree() {
        return Ok(Repository::open(repo.commondir())?);
    }
    Ok(repo)
}

/// `refs/heads/<name>` of an existing local branch.
fn branch_ref(repo: &Repository, name: &str) -> Result<String, MergeError> {
    let unknown = || MergeError::UnknownBranch(name.to_string());
    let branch = match repo.find_branch(name, BranchType::Local) {
        Ok(branch) => branch,
        Err(err) if matches!(err.code(), ErrorCode::NotFound | ErrorCode::InvalidSpec) => {
            return Err(unknown())
        }
        Err(err) => return Err(err.into()),
    };
    branch
        .get()
        .name()
        .map(str::to_string)
        .map_err(|_| unknown())
}

/// The working tree whose HEAD is `base_ref`: the main one, else the first linked worktree
/// (one whose directory is gone does not count: it has no files to update).
fn checked_out_in(repo: &Repository, base_ref: &str) -> Result<Option<PathBuf>, MergeError> {
    let head_is_base = |repo: &Repository| {
        repo.find_reference("HEAD")
            .ok()
            .is_some_and(|head| head.symbolic_target_bytes() == Some(base_ref.as_bytes()))
    };
    if let Some(workdir) = repo.workdir() {
        if head_is_base(repo) {
            return Ok(Some(workdir.to_path_buf()));
        }
    }
    for name in repo.worktrees()?.iter().flatten().flatten() {
        let Ok(linked) = repo
            .find_worktree(name)
            .and_then(|wt| Repository::open_from_worktree(&wt))
        else {
            continue;
        };
        if let (true, Some(workdir)) = (head_is_base(&linked), linked.workdir()) {
            return Ok(Some(workdir.to_path_buf()));
        }
    }
    Ok(None)
}

/// Every path of the index's conflicts (all sides), sorted.
fn conflict_paths(index: &Index) -> Result<Vec<String>, MergeError> {
    let mut paths = BTreeSet::new();
    for conflict in index.conflicts()? {
        let conflict = conflict?;
        for entry in [conflict.ancestor, conflict.our, conflict.their]
            .into_iter()
            .flatten()
        {
            paths.insert(lossy(&entry.path));
        }
    }
    Ok(paths.into_iter().collect())
}

/// The paths that differ between two trees (both sides of each change; no rename detection).
fn changed_paths(
    repo: &Repository,
    old: &Tree,
    new: &Tree,
) -> Result<BTreeSet<Vec<u8>>, git2::Error> {
    let diff = repo.diff_tree_to_tree(Some(old), Some(new), None)?;
    let mut paths = BTreeSet::new();
    for delta in diff.deltas() {
        for side in [delta.old_file(), delta.new_file()] {
            if let Some(path) = side.path_bytes() {
                paths.insert(path.to_vec());
            }
        }
    }
    Ok(paths)
}

/// The user's uncommitted changes (index vs HEAD, working tree vs index, untracked files) that
/// touch a merged path (the path itself, a file inside it, or a file where one of its parent
/// directories goes), and files in the way of paths the merge adds (ignored ones), sorted.
fn uncommitted_touching(
    repo: &Repository,
    old_tree: &Tree,
    merged: &BTreeSet<Vec<u8>>,
) -> Result<Vec<String>, MergeError> {
    let mut options = StatusOptions::new();
    options
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .renames_head_to_index(false)
        .renames_index_to_workdir(false);
    let mut touched = BTreeSet::new();
    for entry in repo.statuses(Some(&mut options))?.iter() {
        if entry.status() == Status::CURRENT || entry.status().contains(Status::IGNORED) {
            continue;
        }
        let path = entry.path_bytes();
        let path = path.strip_suffix(b"/").unwrap_or(path);
        if touches(merged, path) {
            touched.insert(lossy(path));
        }
    }
    if let Some(workdir) = repo.workdir() {
        for path in merged {
            let added = old_tree
                .get_path(Path::new(std::ffi::OsStr::from_bytes(path)))
                .is_err();
            let on_disk = workdir.join(std::ffi::OsStr::from_bytes(path));
            // A directory there is the old tree's (its files are merged paths themselves).
            if added && on_disk.symlink_metadata().is_ok_and(|m| !m.is_dir()) {
                touched.insert(lossy(path));
            }
        }
    }
    Ok(touched.into_iter().collect())
}

/// Whether `path` is a merged path, lies inside one, or holds one.
fn touches(merged: &BTreeSet<Vec<u8>>, path: &[u8]) -> bool {
    if merged.contains(path) {
        return true;
    }
    let inside = path
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'/' && merged.contains(&path[..i]));
    let mut dir = path.to_vec();
    dir.push(b'/');
    let holds = merged
        .range(dir.clone()..)
        .next()
        .is_some_and(|m| m.starts_with(&dir));
    inside || holds
}

/// A path as Git stores it, as UTF-8 with replacement characters where it is not.
fn lossy(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

/// Runs a Git change again when a lock held by someone else refused it: a few times, briefly.
fn with_retries<T>(mut change: impl FnMut() -> Result<T, git2::Error>) -> Result<T, git2::Error> {
    let mut attempt = 0;
    loop {
        match change() {
            Err(err) if err.code() == ErrorCode::Locked && attempt < 20 => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(50 * attempt));
            }
            outcome => return outcome,
        }
    }
}
