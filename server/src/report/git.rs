//! Changed paths from Git state with libgit2 (no `git` subprocess).

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result};
use git2::{Delta, DiffFindOptions, DiffOptions, Repository, StatusOptions};

/// Which changes a report looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Everything `git status --porcelain=v1 --untracked-files=all` lists (renames → new path).
    Worktree,
    /// Index vs HEAD (an unborn HEAD counts as empty).
    Staged,
    /// The base tree vs the working tree (tracked files).
    Base(String),
}

impl Mode {
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Worktree => "worktree",
            Mode::Staged => "staged",
            Mode::Base(_) => "base",
        }
    }
}

/// A path as Git stores it (bytes), shown as UTF-8 with replacement characters when it is not.
fn path_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace('\\', "/")
}

/// Sorted, unique changed paths with `/` separators.
pub fn changed_paths(repo_dir: &Path, mode: &Mode) -> Result<Vec<String>> {
    let repo = Repository::open(repo_dir)
        .with_context(|| format!("{} is not a Git repository", repo_dir.display()))?;
    let paths = match mode {
        Mode::Worktree => worktree(&repo)?,
        Mode::Staged => staged(&repo)?,
        Mode::Base(base) => against_base(&repo, base)?,
    };
    Ok(paths.into_iter().collect())
}

fn worktree(repo: &Repository) -> Result<BTreeSet<String>> {
    let mut options = StatusOptions::new();
    options
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .exclude_submodules(false)
        .renames_head_to_index(true);
    let statuses = repo.statuses(Some(&mut options))?;
    let mut out = BTreeSet::new();
    for entry in statuses.iter() {
        // A staged rename is listed under its new path, as porcelain does.
        let renamed = entry
            .head_to_index()
            .filter(|d| d.status() == Delta::Renamed)
            .and_then(|d| d.new_file().path_bytes().map(path_text));
        out.insert(renamed.unwrap_or_else(|| path_text(entry.path_bytes())));
    }
    Ok(out)
}

fn new_paths(mut diff: git2::Diff) -> Result<BTreeSet<String>> {
    diff.find_similar(Some(DiffFindOptions::new().renames(true)))?;
    let mut out = BTreeSet::new();
    for delta in diff.deltas() {
        let file = if delta.status() == Delta::Deleted {
            delta.old_file()
        } else {
            delta.new_file()
        };
        if let Some(path) = file.path_bytes() {
            out.insert(path_text(path));
        }
    }
    Ok(out)
}

fn staged(repo: &Repository) -> Result<BTreeSet<String>> {
    let head_tree = match repo.head() {
        Ok(head) => Some(head.peel_to_tree()?),
        // Unborn HEAD: everything in the index is new.
        Err(err)
            if err.code() == git2::ErrorCode::UnbornBranch
                || err.code() == git2::ErrorCode::NotFound =>
        {
            None
        }
        Err(err) => return Err(err.into()),
    };
    let index = repo.index()?;
    new_paths(repo.diff_tree_to_index(
        head_tree.as_ref(),
        Some(&index),
        Some(&mut DiffOptions::new()),
    )?)
}

fn against_base(repo: &Repository, base: &str) -> Result<BTreeSet<String>> {
    let tree = repo
        .revparse_single(base)
        .and_then(|object| object.peel_to_tree())
        .map_err(|_| anyhow::Error::new(UnknownRef(base.to_string())))?;
    new_paths(repo.diff_tree_to_workdir_with_index(Some(&tree), Some(&mut DiffOptions::new()))?)
}

/// The base ref names nothing in the repository (a client error, not a server fault).
#[derive(Debug, thiserror::Error)]
#[error("unknown base ref: {0}")]
pub struct UnknownRef(pub String);
