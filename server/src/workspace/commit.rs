//! Committing what a department left in its worktree, so verification and merges work on a
//! commit: every change, untracked files included, ignored files not.

use std::path::Path;

use git2::{IndexAddOption, Repository, Signature};

/// Commits all changes of the worktree at `path` on its branch with `message`; returns the
/// worktree's HEAD commit afterwards (unchanged when there was nothing to commit).
pub fn commit_all(path: &Path, message: &str) -> Result<String, git2::Error> {
    let repo = Repository::open(path)?;
    let mut index = repo.index()?;
    index.add_all(["*"], IndexAddOption::DEFAULT, None)?;
    // Deleted files leave the index too.
    index.update_all(["*"], None)?;
    index.write()?;
    let tree_id = index.write_tree()?;
    let head = repo.head()?.peel_to_commit()?;
    if head.tree_id() == tree_id {
        return Ok(head.id().to_string());
    }
    let tree = repo.find_tree(tree_id)?;
    let signature = repo
        .signature()
        .or_else(|_| Signature::now("codex-governance", "codex-governance@localhost"))?;
    let commit = repo.commit(
        Some("HEAD"),
        &signature,
        &signature,
        message,
        &tree,
        &[&head],
    )?;
    Ok(commit.to_string())
}

/// The commit the HEAD of the working tree at `path` points at (none: not a repository, or no
/// commit yet).
pub fn head_commit(path: &Path) -> Option<String> {
    let repo = Repository::open(path).ok()?;
    let commit = repo.head().ok()?.peel_to_commit().ok()?;
    Some(commit.id().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) -> String {
        let output = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(output.status.success(), "git {args:?}");
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    #[test]
    fn every_change_but_ignored_files_is_committed_once() {
        let repo = tempfile::tempdir().unwrap();
        let dir = repo.path();
        git(dir, &["init", "-q", "-b", "main"]);
        std::fs::write(dir.join(".gitignore"), "*.log\n").unwrap();
        std::fs::write(dir.join("gone.txt"), "g\n").unwrap();
        std::fs::write(dir.join("kept.txt"), "k\n").unwrap();
        git(dir, &["add", "-A"]);
        git(dir, &["commit", "-qm", "base"]);
        let base = git(dir, &["rev-parse", "HEAD"]);
        std::fs::remove_file(dir.join("gone.txt")).unwrap();
        std::fs::write(dir.join("kept.txt"), "changed\n").unwrap();
        std::fs::write(dir.join("new.txt"), "n\n").unwrap();
        std::fs::write(dir.join("debug.log"), "l\n").unwrap();
        let head = commit_all(dir, "governance: docs work").unwrap();
        assert_ne!(head, base);
        assert_eq!(git(dir, &["rev-parse", "HEAD"]), head);
        assert_eq!(
            git(dir, &["log", "-1", "--format=%s"]),
            "governance: docs work"
        );
        assert_eq!(
            git(dir, &["show", "--name-status", "--format=", "HEAD"]),
            "D\tgone.txt\nM\tkept.txt\nA\tnew.txt"
        );
        assert_eq!(git(dir, &["status", "--porcelain"]), "");
        // Nothing left to commit: the same head.
        assert_eq!(commit_all(dir, "again").unwrap(), head);
    }
}
