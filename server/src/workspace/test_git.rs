//! `git` for the workspace modules' tests: the real command, without the user's or system
//! configuration (so no identity either: tests that commit pass one).

use std::path::Path;
use std::process::Command;

/// Runs `git` in `dir`; its stdout. Fails the test when git does.
pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
