//! Changed paths from Git state with libgit2 (no `git` subprocess).

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result};
use git2::{Delta, DiffFindOptions, DiffOptions, Repository, StatusOptions, StatusShow};

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
pub fn changed_paths(repo_dir: &Path, mode: &Mode) -> Result<Vec<String>, ReportError> {
    let repo = Repository::open(repo_dir)
        .with_context(|| format!("{} is not a Git repository", repo_dir.display()))?;
    let paths = match mode {
        Mode::Worktree => worktree(repo_dir, &repo)?,
        Mode::Staged => staged(&repo)?,
        Mode::Base(base) => against_base(&repo, &base_tree(&repo, base)?)?,
    };
    Ok(paths.into_iter().collect())
}

/// Below this many index entries one status pass is fast enough.
const PARALLEL_THRESHOLD: usize = 4_000;

/// `git status` = staged changes (HEAD vs index, renames under their new path) plus workdir
/// changes (index vs files, untracked included). The workdir part stats every tracked file,
/// so on large repositories it runs in parallel over disjoint top-level entries, as git's own
/// preloaded index does.
fn worktree(repo_dir: &Path, repo: &Repository) -> Result<BTreeSet<String>> {
    let mut out = staged(repo)?;
    out.extend(all_workdir_changes(repo_dir, repo)?);
    Ok(out)
}

/// Every index-vs-workdir change and untracked file, in parallel on large repositories.
pub(super) fn all_workdir_changes(repo_dir: &Path, repo: &Repository) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    let groups = partition_top_level(repo_dir, repo)?;
    let results: Vec<Result<BTreeSet<String>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = groups
            .iter()
            .map(|specs| scope.spawn(move || workdir_changes(repo_dir, specs)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("status worker panicked")))
            })
            .collect()
    });
    for result in results {
        out.extend(result?);
    }
    Ok(out)
}

/// Index-vs-workdir changes and untracked files, limited to `pathspecs` (all when empty).
pub(super) fn workdir_changes(repo_dir: &Path, pathspecs: &[String]) -> Result<BTreeSet<String>> {
    let repo = Repository::open(repo_dir)?;
    let mut options = StatusOptions::new();
    options
        .show(StatusShow::Workdir)
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        // The index on disk is what `git status` compares against too.
        .no_refresh(true)
        .disable_pathspec_match(true);
    for spec in pathspecs {
        options.pathspec(spec);
    }
    let statuses = repo.statuses(Some(&mut options))?;
    Ok(statuses
        .iter()
        .map(|entry| path_text(entry.path_bytes()))
        .collect())
}

/// Top-level entries of the working tree split into balanced groups (by tracked file count),
/// one per core; a single unrestricted group for small repositories.
fn partition_top_level(repo_dir: &Path, repo: &Repository) -> Result<Vec<Vec<String>>> {
    let index = repo.index()?;
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    if index.len() < PARALLEL_THRESHOLD || workers < 2 {
        return Ok(vec![Vec::new()]);
    }
    let mut weights: std::collections::BTreeMap<Vec<u8>, usize> = std::collections::BTreeMap::new();
    for entry in index.iter() {
        let top = entry
            .path
            .split(|b| *b == b'/')
            .next()
            .unwrap_or_default()
            .to_vec();
        *weights.entry(top).or_default() += 1;
    }
    for entry in std::fs::read_dir(repo_dir)?.flatten() {
        let name = entry.file_name();
        if name != ".git" {
            weights.entry(name.as_encoded_bytes().to_vec()).or_insert(1);
        }
    }
    let mut entries: Vec<(Vec<u8>, usize)> = weights.into_iter().collect();
    entries.sort_by_key(|e| std::cmp::Reverse(e.1));
    let mut groups: Vec<(usize, Vec<String>)> = vec![(0, Vec::new()); workers];
    for (name, weight) in entries {
        let Ok(name) = String::from_utf8(name) else {
            // A pathspec must be UTF-8 here; such entries fall back to one full pass.
            return Ok(vec![Vec::new()]);
        };
        let Some(lightest) = groups.iter_mut().min_by_key(|g| g.0) else {
            return Ok(vec![Vec::new()]);
        };
        lightest.0 += weight;
        lightest.1.push(name);
    }
    Ok(groups
        .into_iter()
        .map(|g| g.1)
        .filter(|g| !g.is_empty())
        .collect())
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

pub(super) fn staged(repo: &Repository) -> Result<BTreeSet<String>> {
    Ok(staged_with_sides(repo)?.0)
}

/// Every path a delta of `diff` touches, on either side (before rename detection pairs them).
fn both_sides(diff: &git2::Diff) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for delta in diff.deltas() {
        for file in [delta.old_file(), delta.new_file()] {
            if let Some(path) = file.path_bytes() {
                out.insert(path_text(path));
            }
        }
    }
    out
}

/// Staged paths as reports show them, and every path a staged change touches on either side
/// (a staged rename's old path too), from one diff.
pub(super) fn staged_with_sides(repo: &Repository) -> Result<(BTreeSet<String>, BTreeSet<String>)> {
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
    let diff = repo.diff_tree_to_index(
        head_tree.as_ref(),
        Some(&index),
        Some(&mut DiffOptions::new()),
    )?;
    let sides = both_sides(&diff);
    Ok((new_paths(diff)?, sides))
}

/// The tree `base` names (a commit, a tag, a tree).
pub(super) fn base_tree<'r>(
    repo: &'r Repository,
    base: &str,
) -> Result<git2::Tree<'r>, ReportError> {
    repo.revparse_single(base)
        .and_then(|object| object.peel_to_tree())
        .map_err(|_| ReportError::UnknownRef(base.to_string()))
}

/// Every path that differs between two trees, on either side of each change.
pub(super) fn tree_sides(
    repo: &Repository,
    old: &git2::Tree,
    new: Option<&git2::Tree>,
) -> Result<BTreeSet<String>> {
    Ok(both_sides(&repo.diff_tree_to_tree(
        Some(old),
        new,
        Some(&mut DiffOptions::new()),
    )?))
}

fn against_base(repo: &Repository, tree: &git2::Tree) -> Result<BTreeSet<String>> {
    new_paths(repo.diff_tree_to_workdir_with_index(Some(tree), Some(&mut DiffOptions::new()))?)
}

/// [`against_base`] limited to `paths` (literal; none: nothing differs). The answer is the
/// same as the full diff's whenever `paths` holds every path that differs on either side.
///
/// `untracked`: untracked files among `paths` count as changes too (a workspace's new files).
pub(super) fn against_base_among(
    repo: &Repository,
    tree: &git2::Tree,
    paths: &BTreeSet<String>,
    untracked: bool,
) -> Result<BTreeSet<String>> {
    if paths.is_empty() {
        return Ok(BTreeSet::new());
    }
    let mut options = DiffOptions::new();
    options
        .disable_pathspec_match(true)
        .include_untracked(untracked)
        .recurse_untracked_dirs(untracked);
    for path in paths {
        options.pathspec(path);
    }
    new_paths(repo.diff_tree_to_workdir_with_index(Some(tree), Some(&mut options))?)
}

/// Why a report could not be built: the caller's mistake, or a fault reading the repository.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The base ref names nothing in the repository (a client error, not a server fault).
    #[error("unknown base ref: {0}")]
    UnknownRef(String),
    #[error(transparent)]
    Repository(#[from] anyhow::Error),
}
