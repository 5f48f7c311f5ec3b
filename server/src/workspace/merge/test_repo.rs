//! Test repositories made with the `git` command (without the user's configuration), and the
//! exact state of a repository for before/after comparisons.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

pub(super) use crate::workspace::test_git::git;

pub(super) fn rev(dir: &Path, name: &str) -> String {
    git(dir, &["rev-parse", name]).trim().to_string()
}

pub(super) fn write(dir: &Path, path: &str, content: &str) {
    let path = dir.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

pub(super) fn read(dir: &Path, path: &str) -> Option<String> {
    fs::read_to_string(dir.join(path)).ok()
}

/// A repository on `main` with a few files, and the department's branch `dept` in a linked
/// worktree (as the launcher makes it) with committed work: `a.txt` changed, `del.txt` deleted,
/// `new/n.txt` added, `r.txt` moved to `moved/r.txt`. Then `main` moves on (`b.txt`), so a merge
/// is a real one. Returns the temporary root, the repository and the worktree.
pub(super) fn fixture() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let repo = root.path().join("repo");
    fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["config", "user.name", "t"]);
    git(&repo, &["config", "user.email", "t@t"]);
    for (path, content) in [
        ("a.txt", "a1\na2\na3\n"),
        ("b.txt", "b1\n"),
        ("del.txt", "deleted later\n"),
        ("r.txt", "moved later\n"),
        ("keep.txt", "kept\n"),
        ("staged.txt", "s\n"),
        ("unstaged.txt", "u\n"),
        (".gitignore", "*.log\n"),
    ] {
        write(&repo, path, content);
    }
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "base"]);
    let wt = root.path().join("wt");
    git(
        &repo,
        &["worktree", "add", "-q", "-b", "dept", wt.to_str().unwrap()],
    );
    write(&wt, "a.txt", "a1\nA2\na3\n");
    write(&wt, "new/n.txt", "new\n");
    git(&wt, &["add", "-A"]);
    git(&wt, &["commit", "-q", "-m", "first"]);
    git(&wt, &["rm", "-q", "del.txt"]);
    fs::create_dir(wt.join("moved")).unwrap();
    git(&wt, &["mv", "r.txt", "moved/r.txt"]);
    git(&wt, &["commit", "-q", "-m", "second"]);
    write(&repo, "b.txt", "b1\nb2\n");
    git(&repo, &["commit", "-q", "-am", "main moves on"]);
    (root, repo, wt)
}

/// The paths the fixture's branch changes.
pub(super) const MERGED: [&str; 5] = ["a.txt", "del.txt", "moved/r.txt", "new/n.txt", "r.txt"];

/// The user's own uncommitted work on paths the fixture's merge does not touch: staged,
/// unstaged, untracked and ignored.
pub(super) fn user_changes(repo: &Path) {
    write(repo, "staged.txt", "s\nstaged change\n");
    git(repo, &["add", "staged.txt"]);
    write(repo, "unstaged.txt", "u\nunstaged change\n");
    write(repo, "untracked/u.txt", "untracked\n");
    write(repo, "debug.log", "ignored\n");
}

/// Everything a merge could change: refs, HEAD, the index (entries and the staged diff), the
/// unstaged diff, `git status`, every file of the working tree (bytes) and whether a journal
/// exists.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct State {
    pub refs: String,
    pub head: String,
    pub index: String,
    pub cached: String,
    pub diff: String,
    pub status: String,
    pub files: BTreeMap<String, Vec<u8>>,
}

pub(super) fn state(repo: &Path) -> State {
    let mut files = BTreeMap::new();
    collect(repo, repo, &mut files);
    State {
        refs: git(repo, &["for-each-ref", "--format=%(refname) %(objectname)"]),
        head: git(repo, &["symbolic-ref", "HEAD"]),
        index: git(repo, &["ls-files", "-s"]),
        cached: git(repo, &["diff", "--cached"]),
        diff: git(repo, &["diff"]),
        status: status(repo),
        files,
    }
}

pub(super) fn status(repo: &Path) -> String {
    git(repo, &["status", "--porcelain", "-uall"])
}

fn collect(root: &Path, dir: &Path, files: &mut BTreeMap<String, Vec<u8>>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() == ".git" {
            continue;
        }
        let name = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if path.is_dir() {
            files.insert(format!("{name}/"), Vec::new());
            collect(root, &path, files);
        } else {
            files.insert(name, fs::read(&path).unwrap());
        }
    }
}
