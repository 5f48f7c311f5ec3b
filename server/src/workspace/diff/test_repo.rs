//! Test repositories made with the `git` command (without the user's configuration), and the
//! diff's entries summarised for comparison.

use std::fs;
use std::path::{Path, PathBuf};

use app::api::{FileChangeStatus, FileDiff};

/// Runs `git` in `dir` without the user's or system configuration, with a committer identity;
/// its stdout.
pub(super) fn git(dir: &Path, args: &[&str]) -> String {
    let identity = ["-c", "user.name=t", "-c", "user.email=t@t"];
    crate::workspace::test_git::git(dir, &[&identity[..], args].concat())
}

/// A repository with `files` committed; its base commit id.
pub(super) fn repo_with(dir: &Path, files: &[(&str, &[u8])]) -> String {
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["config", "user.name", "t"]);
    git(dir, &["config", "user.email", "t@t"]);
    for (path, content) in files {
        write(dir, path, content);
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "base"]);
    git(dir, &["rev-parse", "HEAD"]).trim().to_string()
}

pub(super) fn write(dir: &Path, path: &str, content: &[u8]) {
    let path = dir.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

pub(super) fn numbered(n: usize) -> String {
    numbered_with(n, &[])
}

/// Lines `1` to `n`, with some lines (by number) replaced.
pub(super) fn numbered_with(n: usize, replaced: &[(usize, &str)]) -> String {
    (1..=n)
        .map(|i| match replaced.iter().find(|r| r.0 == i) {
            Some((_, text)) => format!("{text}\n"),
            None => format!("{i}\n"),
        })
        .collect()
}

/// What `git diff <base> -- <path>` prints (tracked files only).
pub(super) fn git_diff(dir: &Path, base: &str, path: &str) -> String {
    git(
        dir,
        &[
            "-c",
            "core.abbrev=7",
            "diff",
            "--no-color",
            "--no-ext-diff",
            "--no-renames",
            base,
            "--",
            path,
        ],
    )
}

/// Path, old path, status, additions, deletions, binary.
pub(super) type Row = (String, Option<String>, FileChangeStatus, u32, u32, bool);

pub(super) fn summary(files: &[FileDiff]) -> Vec<Row> {
    files
        .iter()
        .map(|f| {
            (
                f.path.clone(),
                f.old_path.clone(),
                f.status,
                f.additions,
                f.deletions,
                f.binary,
            )
        })
        .collect()
}

pub(super) fn entry(
    path: &str,
    old: Option<&str>,
    status: FileChangeStatus,
    additions: u32,
    deletions: u32,
    binary: bool,
) -> Row {
    (
        path.to_string(),
        old.map(str::to_string),
        status,
        additions,
        deletions,
        binary,
    )
}

pub(super) fn file<'f>(files: &'f [FileDiff], path: &str) -> &'f FileDiff {
    files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("{path} not in {:?}", summary(files)))
}

pub(super) const MOVED: &str = "one\ntwo\nthree\nfour\nfive\nsix\n";
const PLAIN: &str = "alpha\nbeta\ngamma\ndelta\nepsilon\n";

/// A repository at a base commit, and a linked worktree (as the launcher makes) with every
/// kind of change on top of it: committed, staged and in the working tree only.
pub(super) fn workspace() -> (tempfile::TempDir, PathBuf, String) {
    let root = tempfile::tempdir().unwrap();
    let repo = root.path().join("repo");
    fs::create_dir(&repo).unwrap();
    let base = repo_with(
        &repo,
        &[
            ("keep.txt", b"same\n"),
            ("committed.txt", numbered(10).as_bytes()),
            ("uncommitted.txt", numbered(10).as_bytes()),
            ("both.txt", numbered(20).as_bytes()),
            ("delete.txt", b"gone\n"),
            ("removed.txt", b"r1\nr2\n"),
            ("moved.txt", MOVED.as_bytes()),
            ("plain.txt", PLAIN.as_bytes()),
            ("blob.bin", b"\x00\x01\x02\x03binary\x00"),
            (".gitignore", b"*.log\n"),
        ],
    );
    let wt = root.path().join("wt");
    git(
        &repo,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "dept",
            wt.to_str().unwrap(),
            &base,
        ],
    );

    // Committed on the workspace's branch.
    write(
        &wt,
        "committed.txt",
        numbered_with(10, &[(5, "five")]).as_bytes(),
    );
    write(&wt, "both.txt", numbered_with(20, &[(2, "two")]).as_bytes());
    git(&wt, &["commit", "-q", "-am", "work"]);
    // Staged.
    write(&wt, "added.txt", b"new\nfile\n");
    write(&wt, "added.bin", b"\x00\x00\xffnew binary");
    git(&wt, &["add", "added.txt", "added.bin"]);
    fs::create_dir(wt.join("dir")).unwrap();
    git(&wt, &["mv", "moved.txt", "dir/moved.txt"]);
    git(&wt, &["rm", "-q", "removed.txt"]);
    // Working tree only.
    write(
        &wt,
        "uncommitted.txt",
        numbered_with(11, &[(3, "three")]).as_bytes(),
    );
    write(
        &wt,
        "both.txt",
        numbered_with(20, &[(2, "two"), (18, "eighteen")]).as_bytes(),
    );
    fs::remove_file(wt.join("delete.txt")).unwrap();
    fs::create_dir(wt.join("renamed")).unwrap();
    fs::rename(wt.join("plain.txt"), wt.join("renamed/plain.txt")).unwrap();
    write(&wt, "blob.bin", b"\x00\x01\x02\x03changed\x00");
    write(&wt, "new/untracked.txt", b"u1\nu2\nu3");
    write(&wt, "debug.log", b"ignored\n");
    write(&wt, "new/deep/trace.log", b"ignored too\n");
    (root, wt, base)
}
