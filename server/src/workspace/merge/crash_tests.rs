//! A merge killed in the middle (SIGKILL of a child process running it, paused between updating
//! the files and moving the ref), then `recover`; and a base ref moved by someone else during
//! that pause. Debug builds only: the pause exists only there.
#![cfg(debug_assertions)]

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::test_repo::{fixture, git, read, rev, state, user_changes, MERGED};
use super::{merge_branch, recover, MergePlan, Strategy, PAUSE_ENV};

/// Set for the child process: the repository, the journal and the result file, one a line.
const HELPER_ENV: &str = "CODEX_GOVERNANCE_TEST_MERGE_HELPER";

/// Not a test: the child process's merge (does nothing unless [`HELPER_ENV`] is set).
#[test]
#[ignore = "run in a child process by the crash tests"]
fn merge_in_a_child_process() {
    let Ok(spec) = std::env::var(HELPER_ENV) else {
        return;
    };
    let lines: Vec<&str> = spec.lines().collect();
    let outcome = merge_branch(&MergePlan {
        repo: Path::new(lines[0]),
        branch: "dept",
        base_branch: "main",
        strategy: Strategy::Squash,
        message: "land dept",
        journal: Path::new(lines[1]),
    });
    fs::write(lines[2], format!("{outcome:?}")).unwrap();
}

/// Runs [`merge_in_a_child_process`] in a child process pausing `pause_ms` before the ref moves.
fn spawn(repo: &Path, journal: &Path, result: &Path, pause_ms: u64) -> Child {
    let (_, module) = module_path!().split_once("::").unwrap();
    let spec = format!(
        "{}\n{}\n{}",
        repo.display(),
        journal.display(),
        result.display()
    );
    Command::new(std::env::current_exe().unwrap())
        .args([
            &format!("{module}::merge_in_a_child_process"),
            "--exact",
            "--ignored",
            "--test-threads=1",
        ])
        .env(HELPER_ENV, spec)
        .env(PAUSE_ENV, pause_ms.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits until the child is in its pause: journal written, files and index updated.
fn wait_for_the_pause(child: &mut Child, repo: &Path, journal: &Path, result: &Path) {
    let start = Instant::now();
    loop {
        let index = fs::read(repo.join(".git/index")).unwrap_or_default();
        if journal.exists() && index.windows(9).any(|w| w == b"new/n.txt") {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the child ended ({status}): {:?}",
                fs::read_to_string(result)
            );
        }
        assert!(start.elapsed() < Duration::from_secs(120), "no pause");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn kill(mut child: Child) {
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}

#[test]
fn a_merge_killed_before_the_ref_moved_is_undone_by_recover() {
    let (root, repo, _wt) = fixture();
    user_changes(&repo);
    let old = rev(&repo, "main");
    let before = state(&repo);
    let (journal, result) = (
        root.path().join("state/merge.journal"),
        root.path().join("out"),
    );
    let mut child = spawn(&repo, &journal, &result, 600_000);
    wait_for_the_pause(&mut child, &repo, &journal, &result);
    kill(child);

    // Half done: files and index new, the ref old, the journal there.
    assert_eq!(rev(&repo, "main"), old);
    assert_eq!(read(&repo, "new/n.txt").as_deref(), Some("new\n"));
    assert_eq!(read(&repo, "del.txt"), None);
    let mut staged: Vec<&str> = MERGED.to_vec();
    staged.push("staged.txt");
    staged.sort();
    assert_eq!(
        git(&repo, &["diff", "--cached", "--name-only", "--no-renames"]),
        staged.iter().map(|p| format!("{p}\n")).collect::<String>()
    );
    assert!(!result.exists());

    let message = recover(&journal).unwrap().unwrap();
    assert!(message.starts_with("undid"), "{message}");
    assert!(!journal.exists());
    assert_eq!(state(&repo), before);
    assert_eq!(recover(&journal).unwrap(), None);
}

#[test]
fn a_merge_killed_after_the_ref_moved_is_kept_by_recover() {
    let (root, repo, _wt) = fixture();
    user_changes(&repo);
    let old = rev(&repo, "main");
    let before = state(&repo);
    let (journal, result) = (root.path().join("merge.journal"), root.path().join("out"));
    let mut child = spawn(&repo, &journal, &result, 600_000);
    wait_for_the_pause(&mut child, &repo, &journal, &result);
    kill(child);
    // As if the crash came right after the ref moved, before the journal was removed.
    let entry: serde_json::Value = serde_json::from_slice(&fs::read(&journal).unwrap()).unwrap();
    assert_eq!(entry["old_commit"], old.as_str());
    let new = entry["new_commit"].as_str().unwrap().to_string();
    git(&repo, &["update-ref", "refs/heads/main", &new, &old]);

    let message = recover(&journal).unwrap().unwrap();
    assert!(message.contains("had completed"), "{message}");
    assert!(!journal.exists());
    let after = state(&repo);
    assert_eq!(rev(&repo, "HEAD"), new);
    assert_eq!(after.status, before.status);
    assert_eq!(after.cached, before.cached);
    assert_eq!(after.diff, before.diff);
    assert_eq!(read(&repo, "a.txt").as_deref(), Some("a1\nA2\na3\n"));
    assert_eq!(read(&repo, "moved/r.txt").as_deref(), Some("moved later\n"));
    assert_eq!(read(&repo, "r.txt"), None);
}

#[test]
fn a_base_moved_during_the_merge_is_base_moved_and_the_files_go_back() {
    let (root, repo, _wt) = fixture();
    user_changes(&repo);
    let old = rev(&repo, "main");
    // Someone else's commit (same tree as the base) that takes the ref during the pause.
    let other = git(
        &repo,
        &["commit-tree", "main^{tree}", "-p", "main", "-m", "other"],
    );
    let before = state(&repo);
    let (journal, result) = (root.path().join("merge.journal"), root.path().join("out"));
    let mut child = spawn(&repo, &journal, &result, 10_000);
    wait_for_the_pause(&mut child, &repo, &journal, &result);
    git(
        &repo,
        &["update-ref", "refs/heads/main", other.trim(), &old],
    );
    assert!(child.wait().unwrap().success());
    assert_eq!(fs::read_to_string(&result).unwrap(), "Err(BaseMoved)");
    assert_eq!(rev(&repo, "main"), other.trim());
    assert!(!journal.exists());
    let after = state(&repo);
    assert_eq!(after.status, before.status);
    assert_eq!(after.cached, before.cached);
    assert_eq!(after.diff, before.diff);
    assert_eq!(after.index, before.index);
    assert_eq!(after.files, before.files);
}
