//! The diff of a department workspace against its base commit, for review: committed and
//! uncommitted changes together (the base tree against the working tree, with the index), untracked
//! files included, renames detected; with git2 (no `git` subprocess).
//!
//! Rename detection: the merged base→index→workdir diff is given to `find_similar` with
//! `renames(true).for_untracked(true)` (Git's default 50 % similarity, `diff.renameLimit` or
//! libgit2's 1000). A `git mv` that was staged is a deleted + added pair, which `renames` alone
//! pairs; a plain filesystem rename is a deleted + *untracked* pair, which only `for_untracked`
//! makes a candidate. Copies and rewrite-splitting are off, so every change is one file.
//!
//! Memory: libgit2 diffs a file whole, so while one file's patch is made both sides of that file
//! are in memory (the base blob inflated, the working file mapped) with libgit2's line index; it
//! is freed before the next file (a file that became a symlink, or the reverse, has its two sides
//! read the same way). Files above libgit2's 512 MiB `max_size` count as binary. The patch text
//! kept per file stops at [`PATCH_LIMIT`]: printing is aborted there, the additions and deletions
//! still count the whole file. The whole result is not capped: it is at most the number of
//! changed files times [`PATCH_LIMIT`].

mod base;
mod exclude;
mod patch;
#[cfg(test)]
mod test_repo;
mod typechange;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use app::api::{ChangeCounts, FileChangeStatus, FileDiff};
use git2::{Delta, DiffDelta, DiffFindOptions, DiffOptions, Repository};

use base::{base_tree, git_error, open};
use exclude::{workspace_diff, Exclude};
use patch::content_change;
use typechange::typechange;

/// The most patch text kept per file (bytes of the UTF-8 text); beyond it the patch is cut at a
/// line end and marked `truncated`.
pub const PATCH_LIMIT: usize = 256 * 1024;

/// Context lines around each change, as `git diff` shows.
const CONTEXT_LINES: u32 = 3;

/// Why a workspace's diff could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// The path does not open as a Git repository with a working tree (missing, not a
    /// repository, a pruned worktree, a bare repository).
    #[error("{} is not a Git repository with a working tree", path.display())]
    NotARepository {
        path: PathBuf,
        #[source]
        source: Option<git2::Error>,
    },
    /// The base is not a commit id, names no commit of the repository, or is ambiguous.
    #[error("unknown base commit {commit} in {}: {reason}", path.display())]
    UnknownCommit {
        path: PathBuf,
        commit: String,
        reason: &'static str,
    },
    /// Reading the repository or the working tree failed.
    #[error("Git failed diffing {} against {commit}: {source}", path.display())]
    Git {
        path: PathBuf,
        commit: String,
        #[source]
        source: git2::Error,
    },
}

/// The workspace at `worktree` against `base_commit` (a full or abbreviated commit id): committed
/// and uncommitted changes together (base tree vs the working tree, with the index), untracked
/// files included (status `untracked`, their whole content as added lines), renames detected
/// (status `renamed` with `old_path`), sorted by path. Each file's `patch` is a unified diff
/// (git-style, with `diff --git`/`---`/`+++`/`@@` headers, 3 context lines) capped at
/// [`PATCH_LIMIT`]: beyond it the patch is cut at a line boundary and `truncated` is set.
/// Binary files: `binary`, empty patch, additions/deletions 0. Paths that are not UTF-8 are shown
/// with replacement characters. Ignored files are not part of the diff. A symlink is diffed as a
/// link (its target text), never followed. Paths under `exclude_prefix` (relative, e.g. `.tmp/`)
/// are left out, and never paired with a file outside it as a rename.
pub fn department_diff(
    worktree: &Path,
    base_commit: &str,
    exclude_prefix: Option<&str>,
) -> Result<Vec<FileDiff>, DiffError> {
    files(worktree, base_commit, exclude_prefix, true, None)
}

/// [`department_diff`] asked of Git for `paths` only, without walking the whole worktree. The
/// answer is the same whenever `paths` holds every path that differs from the base, on either
/// side (a rename's old path too): a change index's candidates, for instance.
pub fn department_diff_among(
    worktree: &Path,
    base_commit: &str,
    exclude_prefix: Option<&str>,
    paths: &BTreeSet<String>,
) -> Result<Vec<FileDiff>, DiffError> {
    KeptRepository::new(worktree).diff_among(base_commit, exclude_prefix, paths)
}

/// A worktree's repository kept open between diffs. libgit2 then reads the worktree's index
/// again only when its file changed (its stamp: time, size, inode); opened afresh, a 50,000-entry
/// index is parsed on every request (about 15 ms of a 200-file diff's 37 ms, measured).
pub struct KeptRepository {
    worktree: PathBuf,
    repo: std::sync::Mutex<Option<Repository>>,
}

impl KeptRepository {
    /// Nothing is opened until the first diff.
    pub fn new(worktree: &Path) -> Self {
        KeptRepository {
            worktree: worktree.to_path_buf(),
            repo: std::sync::Mutex::new(None),
        }
    }

    /// [`department_diff_among`] with the kept repository (one diff at a time per worktree).
    pub fn diff_among(
        &self,
        base_commit: &str,
        exclude_prefix: Option<&str>,
        paths: &BTreeSet<String>,
    ) -> Result<Vec<FileDiff>, DiffError> {
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let limit: BTreeSet<Vec<u8>> = paths.iter().map(|p| p.as_bytes().to_vec()).collect();
        let mut kept = self.repo.lock().unwrap_or_else(|p| p.into_inner());
        let repo = match kept.take() {
            Some(repo) => repo,
            None => open(&self.worktree)?,
        };
        let files = files_in(
            &repo,
            &self.worktree,
            base_commit,
            exclude_prefix,
            true,
            Some(&limit),
        );
        // A failed diff may have left the handle in any state: the next one opens afresh.
        if files.is_ok() {
            *kept = Some(repo);
        }
        files
    }
}

/// Just the counts (files, added lines, deleted lines) of the same change set as
/// [`department_diff`], without keeping any patch text. The counts are those of its files summed.
pub fn change_counts(
    worktree: &Path,
    base_commit: &str,
    exclude_prefix: Option<&str>,
) -> Result<ChangeCounts, DiffError> {
    let files = files(worktree, base_commit, exclude_prefix, false, None)?;
    Ok(files
        .iter()
        .fold(ChangeCounts::default(), |counts, file| ChangeCounts {
            files: counts.files.saturating_add(1),
            additions: counts.additions.saturating_add(file.additions),
            deletions: counts.deletions.saturating_add(file.deletions),
        }))
}

/// The changed paths alone, sorted and unique, for routing: every path a change touches (the new
/// path of a rename and its old path too; a deleted file's path). No contents are read beyond what
/// telling changed files from unchanged ones needs, and no rename detection is run: a rename's
/// two paths are the paths of its deleted and added halves.
pub fn changed_paths(
    worktree: &Path,
    base_commit: &str,
    exclude_prefix: Option<&str>,
) -> Result<Vec<String>, DiffError> {
    let repo = open(worktree)?;
    let tree = base_tree(&repo, worktree, base_commit)?;
    let exclude = Exclude::new(exclude_prefix);
    let diff = repo
        .diff_tree_to_workdir_with_index(Some(&tree), Some(&mut options(&BTreeSet::new())))
        .map_err(git_error(worktree, base_commit))?;
    let mut paths = BTreeSet::new();
    for delta in diff.deltas() {
        if status_of(delta.status()).is_none() {
            continue;
        }
        for side in [delta.old_file(), delta.new_file()] {
            if let Some(path) = side.path_bytes() {
                if !exclude.as_ref().is_some_and(|e| e.covers(path)) {
                    paths.insert(path_text(path));
                }
            }
        }
    }
    Ok(paths.into_iter().collect())
}

/// The files of the change set; their patch text only when `text`.
fn files(
    worktree: &Path,
    base_commit: &str,
    exclude_prefix: Option<&str>,
    text: bool,
    limit: Option<&BTreeSet<Vec<u8>>>,
) -> Result<Vec<FileDiff>, DiffError> {
    let repo = open(worktree)?;
    files_in(&repo, worktree, base_commit, exclude_prefix, text, limit)
}

/// [`files`] in an opened repository.
fn files_in(
    repo: &Repository,
    worktree: &Path,
    base_commit: &str,
    exclude_prefix: Option<&str>,
    text: bool,
    limit: Option<&BTreeSet<Vec<u8>>>,
) -> Result<Vec<FileDiff>, DiffError> {
    let tree = base_tree(repo, worktree, base_commit)?;
    let exclude = Exclude::new(exclude_prefix);
    let fault = git_error(worktree, base_commit);
    let everything = BTreeSet::new();
    let limit = limit.unwrap_or(&everything);
    let Some(mut diff) = workspace_diff(repo, &tree, exclude.as_ref(), limit).map_err(&fault)?
    else {
        return Ok(Vec::new());
    };
    diff.find_similar(Some(
        DiffFindOptions::new().renames(true).for_untracked(true),
    ))
    .map_err(&fault)?;

    let count = diff.deltas().len();
    let mut files = Vec::with_capacity(count);
    for idx in 0..count {
        let Some(delta) = diff.get_delta(idx) else {
            continue;
        };
        let Some(status) = status_of(delta.status()) else {
            continue;
        };
        let path = delta_path(&delta);
        if exclude.as_ref().is_some_and(|e| e.covers(path)) {
            continue;
        }
        let body = match delta.status() {
            Delta::Typechange => typechange(repo, &delta, text).map(Some),
            _ => content_change(&diff, idx, text),
        }
        .map_err(&fault)?;
        let Some(body) = body else {
            continue;
        };
        files.push(FileDiff {
            path: path_text(path),
            old_path: (status == FileChangeStatus::Renamed)
                .then(|| delta.old_file().path_bytes().map(path_text))
                .flatten(),
            status,
            additions: body.additions,
            deletions: body.deletions,
            binary: body.binary,
            truncated: body.patch.truncated,
            patch: body.patch.text,
        });
    }
    files.sort_by(|a, b| {
        a.path
            .cmp(&b.path)
            .then_with(|| a.old_path.cmp(&b.old_path))
    });
    Ok(files)
}

/// Diff options: untracked files (recursively, with their content), no ignored files, a file
/// that became a symlink (or the reverse) as one change, 3 context lines; limited to `pathspecs`
/// (literal paths or leading directories) when there are any.
fn options(pathspecs: &BTreeSet<Vec<u8>>) -> DiffOptions {
    let mut options = DiffOptions::new();
    options
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .show_untracked_content(true)
        .include_ignored(false)
        .include_typechange(true)
        .context_lines(CONTEXT_LINES);
    if !pathspecs.is_empty() {
        options.disable_pathspec_match(true);
        for spec in pathspecs {
            options.pathspec(spec.as_slice());
        }
    }
    options
}

/// How a delta is shown; `None` for deltas that are not changes.
fn status_of(delta: Delta) -> Option<FileChangeStatus> {
    match delta {
        Delta::Added | Delta::Copied => Some(FileChangeStatus::Added),
        Delta::Deleted => Some(FileChangeStatus::Deleted),
        Delta::Modified | Delta::Typechange | Delta::Conflicted | Delta::Unreadable => {
            Some(FileChangeStatus::Modified)
        }
        Delta::Renamed => Some(FileChangeStatus::Renamed),
        Delta::Untracked => Some(FileChangeStatus::Untracked),
        Delta::Unmodified | Delta::Ignored => None,
    }
}

/// The path a delta is listed under: the new one (a deleted file's delta carries it too).
fn delta_path<'d>(delta: &DiffDelta<'d>) -> &'d [u8] {
    delta
        .new_file()
        .path_bytes()
        .or_else(|| delta.old_file().path_bytes())
        .unwrap_or_default()
}

/// A path as Git stores it (bytes), as UTF-8 with replacement characters where it is not.
fn path_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::fs;
    use std::os::unix::ffi::OsStrExt;

    use app::api::{ChangeCounts, FileChangeStatus};
    use FileChangeStatus::{Added, Deleted, Modified, Renamed, Untracked};

    use super::test_repo::{
        entry, git, numbered, numbered_with, repo_with, summary, workspace, write, MOVED,
    };
    use super::{
        change_counts, changed_paths, department_diff, department_diff_among, KeptRepository,
    };
    use std::collections::BTreeSet;

    #[test]
    fn asking_for_the_candidates_only_gives_the_same_answer() {
        let (_root, wt, base) = workspace();
        let full = department_diff(&wt, &base, None).unwrap();
        let candidates: BTreeSet<String> = changed_paths(&wt, &base, None)
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(
            department_diff_among(&wt, &base, None, &candidates).unwrap(),
            full
        );
        // Fewer paths, fewer files; none, nothing.
        let one: BTreeSet<String> = ["both.txt".to_string()].into();
        assert_eq!(
            summary(&department_diff_among(&wt, &base, None, &one).unwrap()),
            vec![entry("both.txt", None, Modified, 2, 2, false)]
        );
        assert!(department_diff_among(&wt, &base, None, &BTreeSet::new())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_kept_repository_sees_every_later_change_to_the_index_and_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let wt = dir.path();
        let base = repo_with(wt, &[("a.txt", MOVED.as_bytes()), ("b.txt", b"b\n")]);
        let kept = KeptRepository::new(wt);
        let paths: BTreeSet<String> = ["a.txt", "b.txt", "c.txt", "moved.txt"]
            .map(String::from)
            .into();
        assert!(kept.diff_among(&base, None, &paths).unwrap().is_empty());
        write(wt, "b.txt", b"b\nmore\n");
        assert_eq!(
            summary(&kept.diff_among(&base, None, &paths).unwrap()),
            vec![entry("b.txt", None, Modified, 1, 0, false)]
        );
        // Staged changes rewrite the index file: a rename and a new file, then a commit.
        git(wt, &["mv", "a.txt", "moved.txt"]);
        write(wt, "c.txt", b"c\n");
        git(wt, &["add", "c.txt"]);
        let staged = summary(&kept.diff_among(&base, None, &paths).unwrap());
        assert_eq!(
            staged,
            vec![
                entry("b.txt", None, Modified, 1, 0, false),
                entry("c.txt", None, Added, 1, 0, false),
                entry("moved.txt", Some("a.txt"), Renamed, 0, 0, false),
            ]
        );
        git(wt, &["commit", "-q", "-am", "work"]);
        assert_eq!(
            summary(&kept.diff_among(&base, None, &paths).unwrap()),
            staged
        );
        // The same answers as a repository opened afresh, and a bad base is an error, not a
        // poisoned handle.
        assert_eq!(
            kept.diff_among(&base, None, &paths).unwrap(),
            department_diff_among(wt, &base, None, &paths).unwrap()
        );
        assert!(kept.diff_among("nothex", None, &paths).is_err());
        assert_eq!(
            summary(&kept.diff_among(&base, None, &paths).unwrap()),
            staged
        );
    }

    #[test]
    fn every_kind_of_change_has_its_status_and_counts() {
        let (_root, wt, base) = workspace();
        let files = department_diff(&wt, &base, None).unwrap();
        assert_eq!(
            summary(&files),
            vec![
                entry("added.bin", None, Added, 0, 0, true),
                entry("added.txt", None, Added, 2, 0, false),
                entry("blob.bin", None, Modified, 0, 0, true),
                entry("both.txt", None, Modified, 2, 2, false),
                entry("committed.txt", None, Modified, 1, 1, false),
                entry("delete.txt", None, Deleted, 0, 1, false),
                entry("dir/moved.txt", Some("moved.txt"), Renamed, 0, 0, false),
                entry("new/untracked.txt", None, Untracked, 3, 0, false),
                entry("removed.txt", None, Deleted, 0, 2, false),
                entry("renamed/plain.txt", Some("plain.txt"), Renamed, 0, 0, false),
                entry("uncommitted.txt", None, Modified, 2, 1, false),
            ]
        );
        assert!(files.iter().all(|f| !f.truncated));
        for binary in files.iter().filter(|f| f.binary) {
            assert_eq!(binary.patch, "", "{}", binary.path);
        }
    }

    #[test]
    fn a_renamed_file_with_changes_is_one_renamed_entry() {
        let dir = tempfile::tempdir().unwrap();
        let base = repo_with(dir.path(), &[("a.txt", numbered(20).as_bytes())]);
        fs::rename(dir.path().join("a.txt"), dir.path().join("b.txt")).unwrap();
        write(
            dir.path(),
            "b.txt",
            numbered_with(20, &[(10, "ten")]).as_bytes(),
        );
        let files = department_diff(dir.path(), &base, None).unwrap();
        assert_eq!(
            summary(&files),
            vec![entry("b.txt", Some("a.txt"), Renamed, 1, 1, false)]
        );
        assert!(
            files[0]
                .patch
                .contains("rename from a.txt\nrename to b.txt\n"),
            "{}",
            files[0].patch
        );
        assert!(files[0].patch.contains("-10\n+ten\n"), "{}", files[0].patch);
    }

    #[test]
    fn changed_paths_list_both_sides_of_renames_and_no_ignored_files() {
        let (_root, wt, base) = workspace();
        assert_eq!(
            changed_paths(&wt, &base, None).unwrap(),
            [
                "added.bin",
                "added.txt",
                "blob.bin",
                "both.txt",
                "committed.txt",
                "delete.txt",
                "dir/moved.txt",
                "moved.txt",
                "new/untracked.txt",
                "plain.txt",
                "removed.txt",
                "renamed/plain.txt",
                "uncommitted.txt",
            ]
        );
    }

    #[test]
    fn change_counts_are_the_sums_of_the_diff() {
        let (_root, wt, base) = workspace();
        write(&wt, ".tmp/state.json", b"{}\n");
        for exclude in [None, Some(".tmp/")] {
            let files = department_diff(&wt, &base, exclude).unwrap();
            let counts = change_counts(&wt, &base, exclude).unwrap();
            assert_eq!(
                counts,
                ChangeCounts {
                    files: files.len() as u32,
                    additions: files.iter().map(|f| f.additions).sum(),
                    deletions: files.iter().map(|f| f.deletions).sum(),
                }
            );
        }
        assert_eq!(
            change_counts(&wt, &base, Some(".tmp/")).unwrap(),
            ChangeCounts {
                files: 11,
                additions: 10,
                deletions: 7
            }
        );
        assert_eq!(
            change_counts(&wt, &base, None).unwrap(),
            ChangeCounts {
                files: 12,
                additions: 11,
                deletions: 7
            }
        );
    }

    #[test]
    fn a_non_utf8_file_name_is_shown_with_replacement_characters() {
        let dir = tempfile::tempdir().unwrap();
        let base = repo_with(dir.path(), &[("a.txt", b"a\n")]);
        fs::write(dir.path().join(OsStr::from_bytes(b"caf\xe9.txt")), "x\n").unwrap();
        fs::create_dir(dir.path().join(OsStr::from_bytes(b"d\xff"))).unwrap();
        fs::write(dir.path().join(OsStr::from_bytes(b"d\xff/in.txt")), "y\n").unwrap();
        let files = department_diff(dir.path(), &base, None).unwrap();
        assert_eq!(
            summary(&files),
            vec![
                entry("caf\u{fffd}.txt", None, Untracked, 1, 0, false),
                entry("d\u{fffd}/in.txt", None, Untracked, 1, 0, false),
            ]
        );
        assert!(
            files[0].patch.ends_with("@@ -0,0 +1 @@\n+x\n"),
            "{}",
            files[0].patch
        );
        assert_eq!(
            changed_paths(dir.path(), &base, None).unwrap(),
            ["caf\u{fffd}.txt", "d\u{fffd}/in.txt"]
        );
    }

    #[test]
    fn ignored_files_are_not_part_of_the_diff() {
        let dir = tempfile::tempdir().unwrap();
        let base = repo_with(dir.path(), &[(".gitignore", b"target/\n*.tmp\n")]);
        write(dir.path(), "target/debug/out.o", b"\x00obj");
        write(dir.path(), "notes.tmp", b"scratch\n");
        write(dir.path(), "src/main.rs", b"fn main() {}\n");
        fs::write(dir.path().join(".git/info/exclude"), "local-only/\n").unwrap();
        write(dir.path(), "local-only/x.txt", b"x\n");
        let files = department_diff(dir.path(), &base, None).unwrap();
        assert_eq!(
            summary(&files),
            vec![entry("src/main.rs", None, Untracked, 1, 0, false)]
        );
        assert_eq!(
            changed_paths(dir.path(), &base, None).unwrap(),
            ["src/main.rs"]
        );
    }

    #[test]
    fn an_untracked_nested_repository_is_one_entry_without_content() {
        let dir = tempfile::tempdir().unwrap();
        let base = repo_with(dir.path(), &[("a.txt", b"a\n")]);
        let nested = dir.path().join("vendor/lib");
        fs::create_dir_all(&nested).unwrap();
        repo_with(&nested, &[("inner.txt", b"inner\n")]);
        let files = department_diff(dir.path(), &base, None).unwrap();
        assert_eq!(
            summary(&files),
            vec![entry("vendor/lib/", None, Untracked, 0, 0, false)]
        );
        assert_eq!(files[0].patch, "");
        assert!(department_diff(dir.path(), &base, Some("vendor/"))
            .unwrap()
            .is_empty());
    }
}
