//! Creating a department's worktree: a new branch at the base commit, checked out into a new
//! directory, with git2 (no `git` subprocess).

use std::path::{Path, PathBuf};

use git2::{BranchType, Oid, Repository, WorktreeAddOptions};

/// Why a worktree could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("{0} is not a Git repository with a working tree")]
    NotARepository(PathBuf),
    #[error("the repository has no commit yet: worktree workspaces start from one (commit once, or run with --workspace shared)")]
    NoCommit,
    #[error("base commit {0} is not in the repository")]
    UnknownCommit(String),
    #[error("branch {0} already exists")]
    BranchTaken(String),
    #[error("{0} already exists")]
    PathTaken(PathBuf),
    #[error("{0}")]
    Git(#[from] git2::Error),
}

/// Where a plan started: the commit the repository's HEAD points at, and its branch (none when
/// HEAD is detached).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    pub commit: String,
    pub branch: Option<String>,
}

/// The repository's HEAD as a base for new worktrees.
pub fn current_base(repo_dir: &Path) -> Result<Base, CreateError> {
    let repo = Repository::open(repo_dir)
        .map_err(|_| CreateError::NotARepository(repo_dir.to_path_buf()))?;
    if repo.is_bare() {
        return Err(CreateError::NotARepository(repo_dir.to_path_buf()));
    }
    let head = match repo.head() {
        Ok(head) => head,
        Err(err)
            if err.code() == git2::ErrorCode::UnbornBranch
                || err.code() == git2::ErrorCode::NotFound =>
        {
            return Err(CreateError::NoCommit)
        }
        Err(err) => return Err(err.into()),
    };
    let commit = head.peel_to_commit()?.id().to_string();
    let branch = head
        .is_branch()
        .then(|| head.shorthand().map(str::to_string))
        .and_then(Result::ok);
    Ok(Base { commit, branch })
}

/// `governance/<zhongshu>/<department>`, or with `-2`, `-3`… when that branch exists or is in
/// `taken` (branches the launcher has promised to sessions that have not created them yet).
pub fn free_branch_name(
    repo_dir: &Path,
    zhongshu_id: &str,
    department: &str,
    taken: &[String],
) -> Result<String, CreateError> {
    let repo = Repository::open(repo_dir)
        .map_err(|_| CreateError::NotARepository(repo_dir.to_path_buf()))?;
    let stem = format!("governance/{zhongshu_id}/{department}");
    let exists = |name: &str| {
        taken.iter().any(|t| t == name) || repo.find_branch(name, BranchType::Local).is_ok()
    };
    let mut name = stem.clone();
    let mut n = 2;
    while exists(&name) {
        name = format!("{stem}-{n}");
        n += 1;
    }
    if !git2::Branch::name_is_valid(&name)? {
        return Err(CreateError::Git(git2::Error::from_str(&format!(
            "{name} is not a valid branch name"
        ))));
    }
    Ok(name)
}

/// Creates `branch` at `base_commit` and checks it out into `path` (which must not exist; its
/// parent must). The worktree is registered under `name` (a validated id).
pub fn create_worktree(
    repo_dir: &Path,
    name: &str,
    path: &Path,
    branch: &str,
    base_commit: &str,
) -> Result<(), CreateError> {
    let repo = Repository::open(repo_dir)
        .map_err(|_| CreateError::NotARepository(repo_dir.to_path_buf()))?;
    if path.symlink_metadata().is_ok() {
        return Err(CreateError::PathTaken(path.to_path_buf()));
    }
    let commit = Oid::from_str(base_commit)
        .and_then(|oid| repo.find_commit(oid))
        .map_err(|_| CreateError::UnknownCommit(base_commit.to_string()))?;
    if repo.find_branch(branch, BranchType::Local).is_ok() {
        return Err(CreateError::BranchTaken(branch.to_string()));
    }
    let created = with_retries(|| repo.branch(branch, &commit, false))?;
    let mut options = WorktreeAddOptions::new();
    options.reference(Some(created.get()));
    if let Err(err) = with_retries(|| repo.worktree(name, path, Some(&options))) {
        // Nothing half-made stays behind: the branch goes with the failed worktree.
        let _ = repo
            .find_branch(branch, BranchType::Local)
            .and_then(|mut b| b.delete());
        return Err(err.into());
    }
    Ok(())
}

/// Runs a Git change again when a lock file held by someone else (the user's own `git`, another
/// launcher) refused it: a few times, briefly.
fn with_retries<T>(mut change: impl FnMut() -> Result<T, git2::Error>) -> Result<T, git2::Error> {
    let mut attempt = 0;
    loop {
        match change() {
            Err(err) if err.code() == git2::ErrorCode::Locked && attempt < 20 => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(50 * attempt));
            }
            outcome => return outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) {
        let status = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .current_dir(dir)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    #[test]
    fn a_worktree_gets_its_own_branch_at_the_base_and_names_are_not_reused() {
        let repo = tempfile::tempdir().unwrap();
        let dir = repo.path();
        git(dir, &["init", "-q", "-b", "main"]);
        assert!(matches!(current_base(dir), Err(CreateError::NoCommit)));
        std::fs::write(dir.join("a.txt"), "a\n").unwrap();
        git(dir, &["add", "-A"]);
        git(dir, &["commit", "-q", "-m", "one"]);
        let base = current_base(dir).unwrap();
        assert_eq!(base.branch.as_deref(), Some("main"));
        std::fs::write(dir.join("a.txt"), "later\n").unwrap();
        git(dir, &["commit", "-q", "-am", "two"]);

        let first = free_branch_name(dir, "zhongshu-1", "docs", &[]).unwrap();
        assert_eq!(first, "governance/zhongshu-1/docs");
        let place = tempfile::tempdir().unwrap();
        let path = place.path().join("ws1");
        create_worktree(dir, "ws1", &path, &first, &base.commit).unwrap();
        // The worktree holds the base commit's files, not the newer ones.
        assert_eq!(std::fs::read_to_string(path.join("a.txt")).unwrap(), "a\n");
        let worktree_base = current_base(&path).unwrap();
        assert_eq!(worktree_base.commit, base.commit);
        assert_eq!(worktree_base.branch.as_deref(), Some(first.as_str()));

        let promised = vec!["governance/zhongshu-1/docs-2".to_string()];
        let third = free_branch_name(dir, "zhongshu-1", "docs", &promised).unwrap();
        assert_eq!(third, "governance/zhongshu-1/docs-3");
        assert!(matches!(
            create_worktree(dir, "ws2", &place.path().join("ws2"), &first, &base.commit),
            Err(CreateError::BranchTaken(_))
        ));
        assert!(matches!(
            create_worktree(dir, "ws3", &path, "governance/x", &base.commit),
            Err(CreateError::PathTaken(_))
        ));
        assert!(matches!(
            create_worktree(
                dir,
                "ws4",
                &place.path().join("ws4"),
                "governance/y",
                "0123456789abcdef0123456789abcdef01234567"
            ),
            Err(CreateError::UnknownCommit(_))
        ));
    }

    #[test]
    fn a_detached_head_is_a_base_without_a_branch() {
        let repo = tempfile::tempdir().unwrap();
        let dir = repo.path();
        git(dir, &["init", "-q", "-b", "main"]);
        std::fs::write(dir.join("a.txt"), "a\n").unwrap();
        git(dir, &["add", "-A"]);
        git(dir, &["commit", "-q", "-m", "one"]);
        git(dir, &["checkout", "-q", "--detach"]);
        let base = current_base(dir).unwrap();
        assert_eq!(base.branch, None);
    }

    #[test]
    fn a_shallow_clone_makes_worktrees_and_a_bare_repository_is_refused() {
        let origin = tempfile::tempdir().unwrap();
        let dir = origin.path();
        git(dir, &["init", "-q", "-b", "main"]);
        for n in 0..3 {
            std::fs::write(dir.join("a.txt"), format!("{n}\n")).unwrap();
            git(dir, &["add", "-A"]);
            git(dir, &["commit", "-q", "-m", "c"]);
        }
        let place = tempfile::tempdir().unwrap();
        let shallow = place.path().join("shallow");
        let url = format!("file://{}", dir.display());
        git(
            place.path(),
            &["clone", "-q", "--depth", "1", &url, "shallow"],
        );
        assert!(shallow.join(".git/shallow").exists());
        let base = current_base(&shallow).unwrap();
        let branch = free_branch_name(&shallow, "zhongshu-1", "docs", &[]).unwrap();
        let path = place.path().join("ws");
        create_worktree(&shallow, "ws", &path, &branch, &base.commit).unwrap();
        assert_eq!(std::fs::read_to_string(path.join("a.txt")).unwrap(), "2\n");

        git(place.path(), &["clone", "-q", "--bare", &url, "bare.git"]);
        assert!(matches!(
            current_base(&place.path().join("bare.git")),
            Err(CreateError::NotARepository(_))
        ));
    }
}
