//! `codex-governance prepare-workspace SPEC`: runs as the first program of a department's
//! terminal in worktree mode. It creates the worktree, copies the configured untracked files
//! into it, runs the setup commands (their output is the terminal's), announces the outcome
//! with OSC 7502 and then becomes the agent (`exec`), in the worktree. When anything fails it
//! says why and exits, and the agent never starts.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::child::{read_spec, say, wait_until, Waited};
use super::create::create_worktree;
use crate::pty::WorkspaceSignal;

/// Exit status of a preparation that failed (the agent never started).
pub const PREPARE_FAILED: u8 = 75;

/// What to prepare and what to run afterwards; written by the engine into the state directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrepareSpec {
    pub repo: PathBuf,
    pub worktree: PathBuf,
    /// The worktree's registered name (the session id).
    pub name: String,
    pub branch: String,
    pub base_commit: String,
    /// Globs of untracked or ignored files to copy from the repository.
    pub copy: Vec<String>,
    /// The launcher's state directory relative to the repository (`.tmp/`), never copied.
    pub exclude_prefix: Option<String>,
    pub setup: Vec<String>,
    pub setup_timeout_seconds: u64,
    /// The agent: program and arguments.
    pub program: String,
    pub args: Vec<String>,
}

/// Runs the preparation described in the file `spec`; returns only when it failed (on success
/// the process has become the agent).
pub fn run(spec: &Path) -> ExitCode {
    let spec: PrepareSpec = match read_spec(spec) {
        Ok(spec) => spec,
        Err(err) => return fail(&format!("cannot read the workspace spec: {err}")),
    };
    match prepare(&spec) {
        Ok(()) => {
            announce(&WorkspaceSignal::Ready);
            let err = Command::new(&spec.program)
                .args(&spec.args)
                .current_dir(&spec.worktree)
                .exec();
            fail(&format!("cannot start {}: {err}", spec.program))
        }
        Err(reason) => fail(&reason),
    }
}

fn announce(signal: &WorkspaceSignal) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(signal.sequence().as_bytes());
    let _ = out.flush();
}

fn fail(reason: &str) -> ExitCode {
    {
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "\x1b[31m✗ workspace: {reason}\x1b[0m\r\n");
        let _ = out.flush();
    }
    announce(&WorkspaceSignal::Failed(reason.to_string()));
    ExitCode::from(PREPARE_FAILED)
}

fn prepare(spec: &PrepareSpec) -> Result<(), String> {
    let short = &spec.base_commit[..spec.base_commit.len().min(10)];
    say(&format!(
        "workspace {} on branch {} from {short}",
        spec.worktree.display(),
        spec.branch
    ));
    let started = Instant::now();
    {
        // Departments of one plan start together; Git's lock files refuse concurrent changes
        // to the repository's refs and worktree list, so creations take turns.
        let _turn = CreationLock::take(spec.worktree.parent().unwrap_or(&spec.repo))?;
        create_worktree(
            &spec.repo,
            &spec.name,
            &spec.worktree,
            &spec.branch,
            &spec.base_commit,
        )
        .map_err(|err| format!("cannot create the worktree: {err}"))?;
    }
    say(&format!(
        "worktree ready in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    let copied = copy_files(spec)?;
    if !spec.copy.is_empty() {
        say(&format!("copied {copied} file(s) from the repository"));
    }
    let deadline = Instant::now() + Duration::from_secs(spec.setup_timeout_seconds);
    for command in &spec.setup {
        say(&format!("$ {command}"));
        run_setup(
            command,
            &spec.worktree,
            deadline,
            spec.setup_timeout_seconds,
        )?;
    }
    Ok(())
}

/// An exclusive `flock` on `<worktrees>/.create.lock`, held while a worktree is created (the
/// kernel releases it if the process dies).
struct CreationLock {
    _held: std::fs::File,
}

impl CreationLock {
    fn take(dir: &Path) -> Result<CreationLock, String> {
        use std::os::fd::AsRawFd;
        let path = dir.join(".create.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|err| format!("cannot open {}: {err}", path.display()))?;
        // SAFETY: flock on a descriptor this struct owns.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(format!(
                "cannot lock {}: {}",
                path.display(),
                std::io::Error::last_os_error()
            ));
        }
        Ok(CreationLock { _held: file })
    }
}

/// Copies the files the `copy` globs match in the repository (regular files only, never
/// through a symlink, never the state directory or `.git`) to the same place in the worktree,
/// unless the worktree has that path already (a tracked file).
fn copy_files(spec: &PrepareSpec) -> Result<usize, String> {
    if spec.copy.is_empty() {
        return Ok(0);
    }
    let mut builder = globset::GlobSetBuilder::new();
    for pattern in &spec.copy {
        let glob = globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|err| format!("workspace.copy {pattern:?}: {err}"))?;
        builder.add(glob);
    }
    let globs = builder
        .build()
        .map_err(|err| format!("workspace.copy: {err}"))?;
    // Only the directories the globs can reach are walked: those before their first wildcard.
    let mut roots: Vec<String> = spec.copy.iter().map(|p| literal_dir(p)).collect();
    roots.sort();
    roots.dedup();
    let mut copied = 0;
    let mut seen = std::collections::BTreeSet::new();
    for root in roots {
        let recursive = spec.copy.iter().any(|p| p.contains("**"));
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(spec.repo.join(&dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                    continue;
                };
                let relative = if dir.is_empty() {
                    name.clone()
                } else {
                    format!("{dir}/{name}")
                };
                if name == ".git"
                    || spec
                        .exclude_prefix
                        .as_deref()
                        .is_some_and(|own| format!("{relative}/").starts_with(own))
                {
                    continue;
                }
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir() {
                    if recursive {
                        stack.push(relative);
                    }
                    continue;
                }
                if !kind.is_file() || !globs.is_match(&relative) || !seen.insert(relative.clone()) {
                    continue;
                }
                if copy_into(&spec.worktree, &relative, &entry.path())? {
                    copied += 1;
                }
            }
        }
    }
    Ok(copied)
}

/// The directory part of a glob before its first wildcard (`config/*.toml` → `config`).
fn literal_dir(pattern: &str) -> String {
    let parts: Vec<&str> = pattern.split('/').collect();
    let literal: Vec<&str> = parts[..parts.len() - 1]
        .iter()
        .take_while(|part| !part.contains(['*', '?', '[', '{']))
        .copied()
        .collect();
    literal.join("/")
}

/// Copies `from` to `relative` inside `worktree`, creating directories one level at a time and
/// refusing any level that is not a real directory (a tracked symlink must not lead outside).
/// `false` when the worktree has that path already.
fn copy_into(worktree: &Path, relative: &str, from: &Path) -> Result<bool, String> {
    let target = worktree.join(relative);
    let mut level = worktree.to_path_buf();
    let components: Vec<Component> = Path::new(relative).components().collect();
    for part in &components[..components.len().saturating_sub(1)] {
        let Component::Normal(part) = part else {
            return Err(format!("refusing to copy {relative}: not a plain path"));
        };
        level.push(part);
        match std::fs::symlink_metadata(&level) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(format!(
                    "refusing to copy {relative}: {} is not a directory in the worktree",
                    level.display()
                ))
            }
            Err(_) => std::fs::create_dir(&level)
                .map_err(|err| format!("cannot create {}: {err}", level.display()))?,
        }
    }
    if target.symlink_metadata().is_ok() {
        return Ok(false);
    }
    let mut source =
        std::fs::File::open(from).map_err(|err| format!("cannot read {relative}: {err}"))?;
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&target)
        .map_err(|err| format!("cannot write {}: {err}", target.display()))?;
    std::io::copy(&mut source, &mut out).map_err(|err| format!("cannot copy {relative}: {err}"))?;
    if let Ok(meta) = from.metadata() {
        let _ = out.set_permissions(meta.permissions());
    }
    Ok(true)
}

/// Runs one setup command with `sh -c` in its own process group; kills the group when the
/// setup's time is up.
fn run_setup(command: &str, dir: &Path, deadline: Instant, timeout: u64) -> Result<(), String> {
    let mut child = Command::new("sh")
        .args(["-c", command])
        .current_dir(dir)
        .process_group(0)
        .spawn()
        .map_err(|err| format!("cannot run setup `{command}`: {err}"))?;
    match wait_until(&mut child, deadline) {
        Ok(Waited::Exited(status)) if status.success() => Ok(()),
        Ok(Waited::Exited(status)) => {
            let how = match status.code() {
                Some(code) => format!("exited with status {code}"),
                None => "was killed by a signal".to_string(),
            };
            Err(format!("setup `{command}` {how}"))
        }
        Ok(Waited::TimedOut) => Err(format!(
            "setup `{command}` did not finish within {timeout} s (setup_timeout_seconds)"
        )),
        Err(err) => Err(format!("setup `{command}`: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_are_walked_from_their_literal_directory() {
        assert_eq!(literal_dir(".env.*"), "");
        assert_eq!(literal_dir("config/local.toml"), "config");
        assert_eq!(literal_dir("config/*/x.toml"), "config");
        assert_eq!(literal_dir("**/.env"), "");
    }

    #[test]
    fn copies_never_go_through_a_symlink() {
        let outside = tempfile::tempdir().unwrap();
        let worktree = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), worktree.path().join("config")).unwrap();
        let source = worktree.path().join("source.toml");
        std::fs::write(&source, "secret").unwrap();
        let err = copy_into(worktree.path(), "config/local.toml", &source).unwrap_err();
        assert!(err.contains("not a directory"), "{err}");
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
        assert!(copy_into(worktree.path(), "a/b/c.toml", &source).unwrap());
        assert!(!copy_into(worktree.path(), "a/b/c.toml", &source).unwrap());
        assert_eq!(
            std::fs::read_to_string(worktree.path().join("a/b/c.toml")).unwrap(),
            "secret"
        );
    }

    #[test]
    fn a_setup_that_outlives_its_time_is_killed_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("late");
        let command = format!("(sleep 2; touch {}) & sleep 30", marker.display());
        let started = Instant::now();
        let err = run_setup(
            &command,
            dir.path(),
            Instant::now() + Duration::from_millis(300),
            1,
        )
        .unwrap_err();
        assert!(err.contains("did not finish"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(2500));
        assert!(
            !marker.exists(),
            "a child of the setup survived the timeout"
        );
        let err = run_setup(
            "exit 3",
            dir.path(),
            Instant::now() + Duration::from_secs(5),
            5,
        )
        .unwrap_err();
        assert!(err.contains("exited with status 3"), "{err}");
    }
}
