//! `merge_branch` on real repositories: both strategies, a base checked out or not, conflicts,
//! the user's uncommitted changes, and every refusal leaving the repository exactly as it was.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use super::test_repo::{
    fixture, git, read, rev, state, status, user_changes, write, State, MERGED,
};
use super::{merge_branch, move_ref, recover, MergeError, MergePlan, Strategy};

fn plan<'a>(repo: &'a Path, journal: &'a Path, strategy: Strategy) -> MergePlan<'a> {
    MergePlan {
        repo,
        branch: "dept",
        base_branch: "main",
        strategy,
        message: "land dept",
        journal,
    }
}

/// The state with its refs left out (for a merge that moves a ref nobody has checked out).
fn without_refs(state: State) -> State {
    State {
        refs: String::new(),
        ..state
    }
}

/// The files of the repository after the fixture's merge, from those before it.
fn merged_files(before: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    let mut files = before.clone();
    files.insert("a.txt".into(), b"a1\nA2\na3\n".to_vec());
    files.remove("del.txt");
    files.remove("r.txt");
    files.insert("moved/".into(), Vec::new());
    files.insert("moved/r.txt".into(), b"moved later\n".to_vec());
    files.insert("new/".into(), Vec::new());
    files.insert("new/n.txt".into(), b"new\n".to_vec());
    files
}

const MERGED_TREE: &str =
    ".gitignore\na.txt\nb.txt\nkeep.txt\nmoved/r.txt\nnew/n.txt\nstaged.txt\nunstaged.txt\n";

fn parents(repo: &Path, rev: &str) -> String {
    git(repo, &["rev-list", "--parents", "-n1", rev])
        .trim()
        .to_string()
}

#[test]
fn squash_into_a_base_not_checked_out_moves_only_its_ref() {
    let (root, repo, _wt) = fixture();
    git(&repo, &["branch", "release"]);
    let old = rev(&repo, "release");
    user_changes(&repo);
    let before = state(&repo);
    let journal = root.path().join("state/merge.journal");
    let merged = merge_branch(&MergePlan {
        base_branch: "release",
        ..plan(&repo, &journal, Strategy::Squash)
    })
    .unwrap();
    assert_eq!(merged.files, MERGED);
    assert_eq!(rev(&repo, "release"), merged.merged_commit);
    assert_eq!(
        parents(&repo, "release"),
        format!("{} {old}", merged.merged_commit)
    );
    assert_eq!(
        git(&repo, &["log", "-1", "--format=%B", "release"]),
        "land dept\n\n"
    );
    assert_eq!(
        git(&repo, &["reflog", "-1", "--format=%gs", "release"]),
        "codex-governance: squash dept into release\n"
    );
    assert_eq!(
        git(&repo, &["ls-tree", "-r", "--name-only", "release"]),
        MERGED_TREE
    );
    assert_eq!(git(&repo, &["show", "release:a.txt"]), "a1\nA2\na3\n");
    assert_eq!(git(&repo, &["show", "release:b.txt"]), "b1\nb2\n");
    assert_eq!(without_refs(state(&repo)), without_refs(before));
    assert!(!journal.exists());
}

#[test]
fn merge_into_a_base_not_checked_out_records_both_parents() {
    let (root, repo, _wt) = fixture();
    git(&repo, &["branch", "release"]);
    let (old, dept) = (rev(&repo, "release"), rev(&repo, "dept"));
    let before = state(&repo);
    let journal = root.path().join("merge.journal");
    let merged = merge_branch(&MergePlan {
        base_branch: "release",
        ..plan(&repo, &journal, Strategy::Merge)
    })
    .unwrap();
    assert_eq!(merged.files, MERGED);
    assert_eq!(
        parents(&repo, "release"),
        format!("{} {old} {dept}", merged.merged_commit)
    );
    assert_eq!(
        git(&repo, &["ls-tree", "-r", "--name-only", "release"]),
        MERGED_TREE
    );
    assert_eq!(rev(&repo, "dept"), dept);
    assert_eq!(without_refs(state(&repo)), without_refs(before));
}

#[test]
fn squash_into_the_checked_out_base_updates_files_and_index_and_keeps_the_users_changes() {
    let (root, repo, _wt) = fixture();
    let old = rev(&repo, "main");
    user_changes(&repo);
    let before = state(&repo);
    assert_eq!(
        before.status,
        "M  staged.txt\n M unstaged.txt\n?? untracked/u.txt\n"
    );
    let journal = root.path().join("state/merge.journal");
    let merged = merge_branch(&plan(&repo, &journal, Strategy::Squash)).unwrap();
    assert_eq!(merged.files, MERGED);
    assert_eq!(rev(&repo, "HEAD"), merged.merged_commit);
    assert_eq!(
        parents(&repo, "main"),
        format!("{} {old}", merged.merged_commit)
    );
    assert_eq!(
        git(&repo, &["reflog", "-1", "--format=%gs", "HEAD"]),
        "codex-governance: squash dept into main\n"
    );
    let after = state(&repo);
    // Only the user's own changes are left, staged and unstaged exactly as they were.
    assert_eq!(after.status, before.status);
    assert_eq!(after.cached, before.cached);
    assert_eq!(after.diff, before.diff);
    assert_eq!(after.head, before.head);
    assert_eq!(after.files, merged_files(&before.files));
    assert_eq!(read(&repo, "debug.log").as_deref(), Some("ignored\n"));
    // The index is the new commit's tree plus the user's staged change.
    let staged = git(&repo, &["hash-object", "-w", "staged.txt"]);
    let expected_index = git(&repo, &["ls-tree", "-r", "main"])
        .lines()
        .map(|line| {
            let (meta, path) = line.split_once('\t').unwrap();
            let mut meta = meta.split(' ');
            let (mode, _, mut id) = (meta.next().unwrap(), meta.next(), meta.next().unwrap());
            if path == "staged.txt" {
                id = staged.trim();
            }
            format!("{mode} {id} 0\t{path}\n")
        })
        .collect::<String>();
    assert_eq!(after.index, expected_index);
    assert!(!journal.exists());
}

#[test]
fn merge_into_the_checked_out_base_leaves_a_clean_status() {
    let (root, repo, _wt) = fixture();
    let (old, dept) = (rev(&repo, "main"), rev(&repo, "dept"));
    let before = state(&repo);
    let journal = root.path().join("merge.journal");
    let merged = merge_branch(&plan(&repo, &journal, Strategy::Merge)).unwrap();
    assert_eq!(
        parents(&repo, "HEAD"),
        format!("{} {old} {dept}", merged.merged_commit)
    );
    assert_eq!(status(&repo), "");
    assert_eq!(git(&repo, &["diff", "--cached", "HEAD"]), "");
    assert_eq!(state(&repo).files, merged_files(&before.files));
    assert!(!journal.exists());
}

#[test]
fn a_base_checked_out_in_a_linked_worktree_is_updated_there() {
    let (root, repo, _wt) = fixture();
    let rel = root.path().join("rel");
    git(
        &repo,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "release",
            rel.to_str().unwrap(),
        ],
    );
    write(&rel, "keep.txt", "kept\nmine\n");
    let before_main = state(&repo);
    let journal = root.path().join("merge.journal");
    let merged = merge_branch(&MergePlan {
        base_branch: "release",
        ..plan(&repo, &journal, Strategy::Squash)
    })
    .unwrap();
    assert_eq!(rev(&rel, "HEAD"), merged.merged_commit);
    assert_eq!(status(&rel), " M keep.txt\n");
    assert_eq!(read(&rel, "new/n.txt").as_deref(), Some("new\n"));
    assert_eq!(read(&rel, "del.txt"), None);
    assert_eq!(without_refs(state(&repo)), without_refs(before_main));
}

#[test]
fn conflicts_name_every_path_and_change_nothing() {
    let (root, repo, _wt) = fixture();
    write(&repo, "a.txt", "a1\nX2\na3\n");
    write(&repo, "del.txt", "changed on main\n");
    write(&repo, "new/n.txt", "other\n");
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "conflicting"]);
    git(&repo, &["branch", "release"]);
    user_changes(&repo);
    let before = state(&repo);
    let journal = root.path().join("merge.journal");
    for base_branch in ["main", "release"] {
        for strategy in [Strategy::Squash, Strategy::Merge] {
            let err = merge_branch(&MergePlan {
                base_branch,
                ..plan(&repo, &journal, strategy)
            })
            .unwrap_err();
            let MergeError::Conflicts(paths) = err else {
                panic!("{err:?}")
            };
            assert_eq!(paths, ["a.txt", "del.txt", "new/n.txt"]);
            assert_eq!(state(&repo), before);
            assert!(!journal.exists());
        }
    }
}

#[test]
fn uncommitted_changes_on_merged_paths_refuse_and_change_nothing() {
    type Change = fn(&Path);
    let cases: [(&str, Change, &[&str]); 6] = [
        ("unstaged", |r| write(r, "a.txt", "mine\n"), &["a.txt"]),
        (
            "staged",
            |r| {
                write(r, "del.txt", "mine\n");
                git(r, &["add", "del.txt"]);
            },
            &["del.txt"],
        ),
        (
            "deleted",
            |r| fs::remove_file(r.join("r.txt")).unwrap(),
            &["r.txt"],
        ),
        (
            "untracked",
            |r| write(r, "new/n.txt", "mine\n"),
            &["new/n.txt"],
        ),
        ("in the way", |r| write(r, "new", "a file\n"), &["new"]),
        (
            "ignored",
            |r| {
                fs::write(r.join(".git/info/exclude"), "moved/\n").unwrap();
                write(r, "moved/r.txt", "mine\n");
            },
            &["moved/r.txt"],
        ),
    ];
    for (name, change, expected) in cases {
        let (root, repo, _wt) = fixture();
        user_changes(&repo);
        change(&repo);
        let before = state(&repo);
        let journal = root.path().join("merge.journal");
        let err = merge_branch(&plan(&repo, &journal, Strategy::Squash)).unwrap_err();
        let MergeError::UncommittedChanges(paths) = err else {
            panic!("{name}: {err:?}")
        };
        assert_eq!(paths, expected, "{name}");
        assert_eq!(state(&repo), before, "{name}");
        assert!(!journal.exists(), "{name}");
    }
}

#[test]
fn a_branch_that_adds_nothing_is_nothing_to_merge() {
    let (root, repo, _wt) = fixture();
    git(&repo, &["branch", "same", "main"]);
    git(&repo, &["branch", "behind", "main~1"]);
    // The same change main made, on a branch of its own: merging it changes nothing.
    git(&repo, &["branch", "picked", "main~1"]);
    let picked = root.path().join("picked");
    git(
        &repo,
        &["worktree", "add", "-q", picked.to_str().unwrap(), "picked"],
    );
    write(&picked, "b.txt", "b1\nb2\n");
    git(&picked, &["commit", "-q", "-am", "picked"]);
    let before = state(&repo);
    let journal = root.path().join("merge.journal");
    for branch in ["same", "behind", "picked"] {
        for strategy in [Strategy::Squash, Strategy::Merge] {
            let err = merge_branch(&MergePlan {
                branch,
                ..plan(&repo, &journal, strategy)
            })
            .unwrap_err();
            assert!(
                matches!(err, MergeError::NothingToMerge),
                "{branch}: {err:?}"
            );
        }
    }
    assert_eq!(state(&repo), before);
}

#[test]
fn unknown_branches_are_named() {
    let (root, repo, _wt) = fixture();
    let journal = root.path().join("merge.journal");
    for (branch, base_branch, unknown) in [
        ("nope", "main", "nope"),
        ("dept", "gone", "gone"),
        ("bad..name", "main", "bad..name"),
    ] {
        let err = merge_branch(&MergePlan {
            branch,
            base_branch,
            ..plan(&repo, &journal, Strategy::Squash)
        })
        .unwrap_err();
        assert!(
            matches!(&err, MergeError::UnknownBranch(name) if name == unknown),
            "{err:?}"
        );
    }
}

#[test]
fn the_ref_moves_only_from_the_commit_the_merge_started_from() {
    let (_root, repo, _wt) = fixture();
    let repository = git2::Repository::open(&repo).unwrap();
    let (main, stale, dept) = (rev(&repo, "main"), rev(&repo, "main~1"), rev(&repo, "dept"));
    let oid = |s: &str| git2::Oid::from_str(s).unwrap();
    let err = move_ref(&repository, "refs/heads/main", oid(&stale), oid(&dept), "x").unwrap_err();
    assert!(matches!(err, MergeError::BaseMoved), "{err:?}");
    assert_eq!(rev(&repo, "main"), main);
    move_ref(&repository, "refs/heads/main", oid(&main), oid(&dept), "x").unwrap();
    assert_eq!(rev(&repo, "main"), dept);
}

#[test]
fn a_journal_left_behind_stops_the_next_merge_into_a_checked_out_base() {
    let (root, repo, _wt) = fixture();
    let journal = root.path().join("merge.journal");
    fs::write(&journal, "{}").unwrap();
    let before = state(&repo);
    let err = merge_branch(&plan(&repo, &journal, Strategy::Squash)).unwrap_err();
    assert!(
        matches!(&err, MergeError::InProgress(path) if path == &journal),
        "{err:?}"
    );
    assert_eq!(state(&repo), before);
    assert_eq!(fs::read_to_string(&journal).unwrap(), "{}");
}

#[test]
fn recover_without_a_journal_does_nothing_and_removes_a_cut_short_one() {
    let root = tempfile::tempdir().unwrap();
    let journal = root.path().join("merge.journal");
    assert_eq!(recover(&journal).unwrap(), None);
    fs::write(&journal, "{\"version\":1,\"re").unwrap();
    let message = recover(&journal).unwrap().unwrap();
    assert!(message.contains("incomplete"), "{message}");
    assert!(!journal.exists());
}
