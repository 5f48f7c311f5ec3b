//! The workspace's repository opened, and its base commit resolved to a tree.

use std::path::Path;

use git2::{ErrorCode, Repository, Tree};

use super::DiffError;

pub(super) fn open(worktree: &Path) -> Result<Repository, DiffError> {
    let repo = Repository::open(worktree).map_err(|source| DiffError::NotARepository {
        path: worktree.to_path_buf(),
        source: Some(source),
    })?;
    if repo.is_bare() {
        return Err(DiffError::NotARepository {
            path: worktree.to_path_buf(),
            source: None,
        });
    }
    Ok(repo)
}

/// The tree of the commit `base_commit` names: 4 to 40 hexadecimal digits, a unique prefix of a
/// commit's id. Names such as `HEAD` or branches are not accepted: a workspace's base is fixed.
pub(super) fn base_tree<'r>(
    repo: &'r Repository,
    worktree: &Path,
    base_commit: &str,
) -> Result<Tree<'r>, DiffError> {
    let unknown = |reason| DiffError::UnknownCommit {
        path: worktree.to_path_buf(),
        commit: base_commit.to_string(),
        reason,
    };
    if !(4..=40).contains(&base_commit.len()) || !base_commit.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(unknown("not a commit id (4 to 40 hexadecimal digits)"));
    }
    let commit = repo
        .find_commit_by_prefix(base_commit)
        .map_err(|err| match err.code() {
            ErrorCode::Ambiguous => unknown("the abbreviated id names more than one object"),
            ErrorCode::NotFound | ErrorCode::InvalidSpec | ErrorCode::Invalid => {
                unknown("no such commit")
            }
            _ => git_error(worktree, base_commit)(err),
        })?;
    commit.tree().map_err(git_error(worktree, base_commit))
}

pub(super) fn git_error<'a>(
    worktree: &'a Path,
    base_commit: &'a str,
) -> impl Fn(git2::Error) -> DiffError + 'a {
    move |source| DiffError::Git {
        path: worktree.to_path_buf(),
        commit: base_commit.to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_repo::{git, workspace};
    use super::super::{change_counts, changed_paths, department_diff, DiffError};

    #[test]
    fn an_abbreviated_base_works_and_an_unknown_one_is_an_error() {
        let (_root, wt, base) = workspace();
        let full = department_diff(&wt, &base, None).unwrap();
        assert_eq!(department_diff(&wt, &base[..8], None).unwrap(), full);
        for bad in [
            "0123456789abcdef0123456789abcdef01234567",
            "deadbeef",
            "HEAD",
            "main",
            "",
            "abc",
            "g123456",
        ] {
            let err = department_diff(&wt, bad, None).unwrap_err();
            assert!(
                matches!(&err, DiffError::UnknownCommit { commit, .. } if commit == bad),
                "{bad}: {err:?}"
            );
            assert!(
                err.to_string()
                    .contains(&format!("unknown base commit {bad} in ")),
                "{err}"
            );
            assert!(matches!(
                change_counts(&wt, bad, None),
                Err(DiffError::UnknownCommit { .. })
            ));
            assert!(matches!(
                changed_paths(&wt, bad, None),
                Err(DiffError::UnknownCommit { .. })
            ));
        }
        // A blob's id is not a commit.
        let blob = git(&wt, &["rev-parse", &format!("{base}:keep.txt")]);
        assert!(matches!(
            department_diff(&wt, blob.trim(), None),
            Err(DiffError::UnknownCommit { .. })
        ));
    }

    #[test]
    fn a_directory_that_is_not_a_repository_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = department_diff(dir.path(), "deadbeef", None).unwrap_err();
        assert!(
            matches!(&err, DiffError::NotARepository { path, .. } if path == dir.path()),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "{} is not a Git repository with a working tree",
                dir.path().display()
            )
        );
        let missing = dir.path().join("missing");
        assert!(matches!(
            changed_paths(&missing, "deadbeef", None),
            Err(DiffError::NotARepository { .. })
        ));
    }
}
