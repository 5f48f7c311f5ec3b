//! `remove_worktree` and `has_unmerged_changes` on real repositories.

use std::fs;

use super::test_repo::{fixture, git, state, write, State};
use super::{has_unmerged_changes, merge_branch, remove_worktree, MergeError, MergePlan, Strategy};

fn without_refs(state: State) -> State {
    State {
        refs: String::new(),
        ..state
    }
}

#[test]
fn remove_worktree_deletes_the_directory_the_registration_and_the_branch() {
    let (root, repo, wt) = fixture();
    let second = root.path().join("second");
    git(
        &repo,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "dept2",
            second.to_str().unwrap(),
        ],
    );
    write(&second, "untracked.txt", "left over\n");
    write(&second, "deep/build.log", "ignored\n");
    user_changes_in_main(&repo);
    let before = state(&repo);

    remove_worktree(&repo, "second", &second, Some("dept2")).unwrap();
    assert!(!second.exists());
    assert!(!repo.join(".git/worktrees/second").exists());
    assert_eq!(git(&repo, &["branch", "--list", "dept2"]), "");
    let listed = git(&repo, &["worktree", "list", "--porcelain"]);
    assert!(!listed.contains("second"), "{listed}");
    assert!(listed.contains(wt.to_str().unwrap()), "{listed}");
    assert_eq!(without_refs(state(&repo)), without_refs(before));
    // Again: already gone, nothing to do.
    remove_worktree(&repo, "second", &second, Some("dept2")).unwrap();

    // Keeping the branch.
    remove_worktree(&repo, "wt", &wt, None).unwrap();
    assert!(!wt.exists());
    assert_eq!(git(&repo, &["branch", "--list", "dept"]), "  dept\n");
}

fn user_changes_in_main(repo: &std::path::Path) {
    write(repo, "unstaged.txt", "mine\n");
    write(repo, "mine.txt", "untracked\n");
}

#[test]
fn remove_worktree_never_touches_the_main_working_tree_or_a_stranger() {
    let (root, repo, wt) = fixture();
    let stranger = root.path().join("stranger");
    write(&stranger, "file.txt", "x\n");
    let before = state(&repo);
    for (name, path) in [
        ("wt", repo.as_path()),
        ("wt", root.path()),
        ("wt", stranger.as_path()),
        ("nope", stranger.as_path()),
        ("nope", repo.as_path()),
    ] {
        let err = remove_worktree(&repo, name, path, Some("dept")).unwrap_err();
        assert!(
            matches!(err, MergeError::NotALinkedWorktree(_)),
            "{name} {path:?}: {err:?}"
        );
    }
    assert_eq!(state(&repo), before);
    assert!(wt.join("a.txt").exists());
    assert!(stranger.join("file.txt").exists());
}

#[test]
fn unmerged_changes_are_uncommitted_work_or_commits_the_base_lacks() {
    let (root, repo, wt) = fixture();
    // The fixture's worktree has commits main lacks.
    assert!(has_unmerged_changes(&repo, &wt, "main").unwrap());
    let fresh = root.path().join("fresh");
    git(
        &repo,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "fresh",
            fresh.to_str().unwrap(),
        ],
    );
    assert!(!has_unmerged_changes(&repo, &fresh, "main").unwrap());
    write(&fresh, "debug.log", "ignored\n");
    assert!(!has_unmerged_changes(&repo, &fresh, "main").unwrap());
    write(&fresh, "dir/new.txt", "untracked\n");
    assert!(has_unmerged_changes(&repo, &fresh, "main").unwrap());
    fs::remove_dir_all(fresh.join("dir")).unwrap();
    write(&fresh, "keep.txt", "changed\n");
    assert!(has_unmerged_changes(&repo, &fresh, "main").unwrap());
    git(&fresh, &["add", "keep.txt"]);
    assert!(has_unmerged_changes(&repo, &fresh, "main").unwrap());
    git(&fresh, &["commit", "-q", "-m", "work"]);
    assert!(has_unmerged_changes(&repo, &fresh, "main").unwrap());
    let work = git(&fresh, &["rev-parse", "HEAD"]);
    assert!(!has_unmerged_changes(&repo, &fresh, work.trim()).unwrap());

    let journal = root.path().join("merge.journal");
    let plan = |branch, strategy| MergePlan {
        repo: &repo,
        branch,
        base_branch: "main",
        strategy,
        message: "land",
        journal: &journal,
    };
    let old_main = git(&repo, &["rev-parse", "main"]);
    // Merged with a merge commit: contained.
    merge_branch(&plan("fresh", Strategy::Merge)).unwrap();
    assert!(!has_unmerged_changes(&repo, &fresh, "main").unwrap());
    // Squash-merged: the commits are not in main, but everything they change is.
    merge_branch(&plan("dept", Strategy::Squash)).unwrap();
    assert!(!has_unmerged_changes(&repo, &wt, "main").unwrap());
    assert!(has_unmerged_changes(&repo, &wt, old_main.trim()).unwrap());

    let err = has_unmerged_changes(&repo, &wt, "nope").unwrap_err();
    assert!(
        matches!(&err, MergeError::UnknownBranch(name) if name == "nope"),
        "{err:?}"
    );
}
