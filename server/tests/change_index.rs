//! The live change index against real Git: after every kind of change a repository sees, the
//! served worktree report (from the index) equals a cold computation (`codex-governance report
//! --json`) field by field, once the file system settled; a `report` event is pushed when it
//! changes; writes in ignored directories change nothing.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::TestServer;
use serde_json::Value;

fn git(repo: &Path, args: &[&str]) {
    let output = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(repo)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn cold(repo: &Path) -> Value {
    cold_with(repo, &[])
}

fn cold_with(repo: &Path, args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_codex-governance"))
        .args(["report", "--json", "--repo"])
        .arg(repo)
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success());
    serde_json::from_slice(&output.stdout).unwrap()
}

fn served(server: &TestServer) -> Value {
    served_at(server, "/api/report")
}

fn served_at(server: &TestServer, path: &str) -> Value {
    let report = without_time(server.get_ok(path)["report"].clone());
    assert_eq!(report.1, "index");
    report.0
}

/// The report without its `computed_at`, and its `source` apart.
fn without_time(mut report: Value) -> (Value, Value) {
    let source = report["source"].clone();
    let object = report.as_object_mut().unwrap();
    object.remove("source");
    object.remove("computed_at");
    (report, source)
}

/// Waits until the served report equals a cold one; returns how long that took.
fn settles(server: &TestServer, what: &str) -> Duration {
    let started = Instant::now();
    loop {
        let expected = cold(server.repo_path());
        let got = served(server);
        if got == expected {
            let settled = started.elapsed();
            base_reports_match(server, what);
            return settled;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "after {what}: the index says\n{}\nbut a cold scan says\n{}",
            got["changed_paths"],
            expected["changed_paths"]
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Base-mode reports from the index equal cold ones, against HEAD and against the tag `start`.
fn base_reports_match(server: &TestServer, what: &str) {
    for base in ["HEAD", "start"] {
        // Base reports with a name that is not UTF-8 among the candidates come from a scan.
        let (served, _) = without_time(
            server.get_ok(&format!("/api/report?mode=base&base={base}"))["report"].clone(),
        );
        let cold = cold_with(server.repo_path(), &["--base", base]);
        assert_eq!(
            served["changed_paths"], cold["changed_paths"],
            "base {base} after {what}"
        );
        assert_eq!(served, cold, "base {base} after {what}");
    }
}

fn write(repo: &Path, path: &str, text: &str) {
    let path = repo.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn the_served_report_equals_a_cold_one_after_every_kind_of_change() {
    let repo = tempfile::tempdir().unwrap();
    let dir = repo.path();
    git(dir, &["init", "-q", "-b", "main"]);
    write(dir, ".gitignore", "target/\n*.log\n");
    write(dir, "README.md", "# r\n");
    write(dir, "src/lib.rs", "fn a() {}\n");
    write(dir, "docs/a.md", "a\n");
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "start"]);
    git(dir, &["tag", "start"]);
    let server = TestServer::start_in(repo, &[], &[("CODEX_GOVERNANCE_DEMO_STEP_MS", "50")]);
    assert_eq!(server.get_ok("/api/status")["report_watch"], "events");
    let dir = server.repo_path().to_path_buf();
    let mut slowest = settles(&server, "start");

    let mut step = |what: &str, change: &dyn Fn()| {
        change();
        slowest = slowest.max(settles(&server, what));
    };
    step("an edit", &|| write(&dir, "src/lib.rs", "fn a() { b() }\n"));
    step("a new file", &|| write(&dir, "src/new.rs", "fn n() {}\n"));
    step("a new directory with a file", &|| {
        write(&dir, "deep/er/still/file.rs", "x\n")
    });
    step("a delete", &|| {
        std::fs::remove_file(dir.join("docs/a.md")).unwrap()
    });
    step("a rename", &|| {
        std::fs::rename(dir.join("README.md"), dir.join("README2.md")).unwrap()
    });
    step("git add", &|| git(&dir, &["add", "-A"]));
    // The staged report comes from the same index.
    assert_eq!(
        served_at(&server, "/api/report?mode=staged"),
        cold_with(&dir, &["--staged"])
    );
    step("git commit", &|| git(&dir, &["commit", "-q", "-m", "two"]));
    // Staged as a rename, then rewritten: against HEAD the old path shows as deleted.
    step("a staged rename, rewritten after", &|| {
        git(&dir, &["mv", "src/new.rs", "src/moved.rs"]);
        write(
            &dir,
            "src/moved.rs",
            "nothing like the file it was before\n",
        );
    });
    step("committing it", &|| {
        git(&dir, &["commit", "-q", "-am", "moved"])
    });
    step("a branch switch", &|| {
        git(&dir, &["checkout", "-q", "-b", "other"]);
        write(&dir, "other.txt", "o\n");
        git(&dir, &["add", "other.txt"]);
        git(&dir, &["commit", "-q", "-m", "other"]);
        git(&dir, &["checkout", "-q", "main"]);
    });
    step("git stash", &|| {
        write(&dir, "src/lib.rs", "stashed\n");
        write(&dir, "untracked.txt", "u\n");
        git(&dir, &["stash", "-q", "-u"]);
    });
    step("a .gitignore edit", &|| {
        write(&dir, "notes.tmpfile", "n\n");
        write(&dir, ".gitignore", "target/\n*.log\n*.tmpfile\n");
    });
    step("a name that is not UTF-8", &|| {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"bad-\xff-name.txt");
        std::fs::write(dir.join(name), "b\n").unwrap();
    });
    step("a symlink loop", &|| {
        std::os::unix::fs::symlink(".", dir.join("loop")).unwrap()
    });
    step("a 1,000-file burst", &|| {
        for i in 0..1000 {
            write(&dir, &format!("burst/{}/f{i}.txt", i % 10), "x\n");
        }
    });
    step("a watched directory deleted", &|| {
        std::fs::remove_dir_all(dir.join("burst")).unwrap()
    });

    // Writes in ignored places change nothing.
    let before = served(&server);
    for i in 0..200 {
        write(&dir, &format!("target/debug/f{i}.o"), "o\n");
    }
    write(&dir, "build.log", "log\n");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(served(&server), before);

    // Ignored directories are not watched; once un-ignored they are.
    write(&dir, ".gitignore", "*.log\n*.tmpfile\n");
    slowest = slowest.max(settles(&server, "un-ignoring target/"));
    write(&dir, "target/debug/new/after.o", "o\n");
    slowest = slowest.max(settles(&server, "a write in the now watched target/"));
    assert!(served(&server)["changed_paths"]
        .to_string()
        .contains("target/debug/new/after.o"));
    eprintln!("slowest settle: {slowest:?}");
}

#[test]
fn a_write_pushes_a_report_event() {
    let server = TestServer::start_with(&[], &[("CODEX_GOVERNANCE_DEMO_STEP_MS", "50")]);
    let mut events = server.open_events(Duration::from_secs(10));
    events.wait_for_event("hello");
    let written = Instant::now();
    write(server.repo_path(), "pushed.txt", "p\n");
    events.wait_for_event("report");
    let latency = written.elapsed();
    assert!(latency < Duration::from_secs(2), "{latency:?}");
    assert!(served(&server)["changed_paths"]
        .to_string()
        .contains("pushed.txt"));
}

#[test]
fn without_file_events_the_index_polls_and_stays_correct() {
    let server = TestServer::start_with(&[], &[("CODEX_GOVERNANCE_TEST_NO_WATCH", "1")]);
    assert_eq!(server.get_ok("/api/status")["report_watch"], "polling");
    write(server.repo_path(), "polled.txt", "p\n");
    let started = Instant::now();
    loop {
        let report = server.get_ok("/api/report")["report"].clone();
        assert_eq!(report["source"], "scan");
        if report["changed_paths"].to_string().contains("polled.txt") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(6), "{report}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut report = server.get_ok("/api/report")["report"].clone();
    let object = report.as_object_mut().unwrap();
    object.remove("source");
    object.remove("computed_at");
    assert_eq!(report, cold(server.repo_path()));
}

#[test]
fn a_branch_switch_with_5000_changed_files_settles_to_the_cold_answer() {
    let repo = tempfile::tempdir().unwrap();
    let dir = repo.path();
    git(dir, &["init", "-q", "-b", "main"]);
    write(dir, "README.md", "# r\n");
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "start"]);
    git(dir, &["tag", "start"]);
    git(dir, &["checkout", "-q", "-b", "wide"]);
    for i in 0..5000 {
        write(dir, &format!("wide/{}/f{i}.txt", i % 50), "w\n");
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "wide"]);
    git(dir, &["checkout", "-q", "main"]);
    let server = TestServer::start_in(repo, &[], &[("CODEX_GOVERNANCE_DEMO_STEP_MS", "50")]);
    let dir = server.repo_path().to_path_buf();
    write(&dir, "local.txt", "uncommitted\n");
    settles(&server, "start");
    // 5,000 files appear at once, and the baseline (HEAD, the index) moves with them.
    git(&dir, &["checkout", "-q", "wide"]);
    settles(&server, "switching to a branch with 5,000 more files");
    write(&dir, "wide/0/f0.txt", "edited\n");
    settles(&server, "an edit after the switch");
    git(&dir, &["checkout", "-q", "-f", "main"]);
    let elapsed = settles(&server, "switching back");
    assert!(served(&server)["changed_paths"]
        .to_string()
        .contains("local.txt"));
    eprintln!("settled {elapsed:?} after switching back");
}

/// The kernel's inotify watch limit, set low in a user namespace of the server's own (the
/// limit is per user namespace), so the real `ENOSPC` path runs: the index stays in events
/// mode while the tree fits, then falls back to polling and stays correct.
#[test]
fn past_the_kernel_watch_limit_the_index_polls_and_stays_correct() {
    let limited = |limit: u32| {
        vec![
            "unshare".to_string(),
            "-Ur".into(),
            "sh".into(),
            "-c".into(),
            format!("echo {limit} > /proc/sys/user/max_inotify_watches && exec \"$@\""),
            "sh".into(),
        ]
    };
    let probe = Command::new("unshare")
        .args([
            "-Ur",
            "sh",
            "-c",
            "echo 50 > /proc/sys/user/max_inotify_watches",
        ])
        .status();
    assert!(
        probe.is_ok_and(|status| status.success()),
        "this test needs user namespaces (unshare -Ur) to set a watch limit"
    );
    let repo = tempfile::tempdir().unwrap();
    let dir = repo.path();
    git(dir, &["init", "-q", "-b", "main"]);
    for i in 0..10 {
        write(dir, &format!("d{i}/f.txt"), "f\n");
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "start"]);
    git(dir, &["tag", "start"]);
    let wrapper = limited(40);
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let server = TestServer::start_under(&wrapper, repo, &[], &[]);
    assert_eq!(server.get_ok("/api/status")["report_watch"], "events");
    let dir = server.repo_path().to_path_buf();
    settles(&server, "start");
    // 60 more directories: more than the 40 watches allowed.
    for i in 0..60 {
        write(&dir, &format!("wide/w{i}/f.txt"), "w\n");
    }
    let started = Instant::now();
    loop {
        let status = server.get_ok("/api/status");
        let report = server.get_ok("/api/report")["report"].clone();
        let mut bare = report.clone();
        let object = bare.as_object_mut().unwrap();
        object.remove("source");
        object.remove("computed_at");
        if status["report_watch"] == "polling" && bare == cold(&dir) {
            assert_eq!(report["source"], "scan");
            assert!(report["changed_paths"]
                .to_string()
                .contains("wide/w59/f.txt"));
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{status} {report}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Polling keeps up with later changes too.
    write(&dir, "after.txt", "a\n");
    let started = Instant::now();
    while !server.get_ok("/api/report")["report"]["changed_paths"]
        .to_string()
        .contains("after.txt")
    {
        assert!(started.elapsed() < Duration::from_secs(8));
        std::thread::sleep(Duration::from_millis(100));
    }
}
