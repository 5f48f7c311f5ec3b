//! The watcher behind the change index: one non-recursive watch per directory that is not
//! ignored, plus `.git` and its refs; file events become [`Work`] for the index thread.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::Arc;

use git2::Repository;
use notify::{EventKind, RecursiveMode, Watcher};

use super::{Shared, Work};

/// Debug builds only: `CODEX_GOVERNANCE_TEST_NO_WATCH` makes the watcher unavailable, as on a
/// file system without events, so tests reach the polling fallback.
pub(super) fn watch_unless_disabled(
    shared: &Arc<Shared>,
    events: Sender<Vec<Work>>,
) -> notify::Result<notify::RecommendedWatcher> {
    #[cfg(debug_assertions)]
    if std::env::var_os("CODEX_GOVERNANCE_TEST_NO_WATCH").is_some() {
        return Err(notify::Error::generic("file events disabled for this test"));
    }
    watch(shared, events)
}

/// The watcher: a non-recursive watch on every directory of the working tree that is not
/// ignored (ignored trees such as `target/` cost neither watches nor events), plus `.git` and
/// its refs. Its events become work for the index thread.
fn watch(
    shared: &Arc<Shared>,
    events: Sender<Vec<Work>>,
) -> notify::Result<notify::RecommendedWatcher> {
    let repo_dir = shared.repo_dir.clone();
    let own_prefix = shared.own_prefix.clone();
    let git = GitDirs::of(&repo_dir);
    let dirs = git.clone();
    let handler = move |event: notify::Result<notify::Event>| {
        let work = match event {
            Ok(event) if event.need_rescan() => vec![Work::Rescan],
            Ok(event) if matches!(event.kind, EventKind::Access(_)) => return,
            Ok(event) => {
                let mut work: Vec<Work> = event
                    .paths
                    .iter()
                    .filter_map(|path| match dirs.classify(path) {
                        Some(work) => work,
                        None => classify(&repo_dir, own_prefix.as_deref(), path),
                    })
                    .collect();
                // A directory created or moved in needs watches of its own.
                if matches!(event.kind, EventKind::Create(_) | EventKind::Modify(_)) {
                    for path in &event.paths {
                        let is_dir = path.symlink_metadata().is_ok_and(|m| m.is_dir());
                        if let (true, Some(Work::Path(dir))) =
                            (is_dir, classify(&repo_dir, own_prefix.as_deref(), path))
                        {
                            work.insert(0, Work::NewDir(dir));
                        }
                    }
                }
                work
            }
            Err(err) if matches!(err.kind, notify::ErrorKind::MaxFilesWatch) => vec![Work::Poll],
            // A lost watch or an overflow: only a rescan can be trusted.
            Err(_) => vec![Work::Rescan],
        };
        if !work.is_empty() {
            let _ = events.send(work);
        }
    };
    // Git does not follow symlinks, and a symlink loop must not make the watcher recurse.
    let config = notify::Config::default().with_follow_symlinks(false);
    let mut watcher = notify::RecommendedWatcher::new(handler, config)?;
    // HEAD and the index live in the Git dir (for a linked worktree, under the main
    // repository's `.git/worktrees/<name>`); refs, packed-refs and info/exclude in the common
    // dir the worktrees share.
    watcher.watch(&git.git_dir, RecursiveMode::NonRecursive)?;
    if git.common_dir != git.git_dir {
        watcher.watch(&git.common_dir, RecursiveMode::NonRecursive)?;
    }
    for sub in ["refs", "info"] {
        if git.common_dir.join(sub).is_dir() {
            watcher.watch(&git.common_dir.join(sub), RecursiveMode::Recursive)?;
        }
    }
    watch_tree(&mut watcher, shared, "")?;
    Ok(watcher)
}

/// Where a working tree's Git state lives.
#[derive(Debug, Clone)]
struct GitDirs {
    /// HEAD and the index of this working tree.
    git_dir: PathBuf,
    /// Refs, packed-refs and info/exclude (the same as `git_dir` for a main working tree).
    common_dir: PathBuf,
}

impl GitDirs {
    fn of(repo_dir: &Path) -> GitDirs {
        let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        match Repository::open(repo_dir) {
            Ok(repo) => GitDirs {
                git_dir: canonical(repo.path()),
                common_dir: canonical(repo.commondir()),
            },
            Err(_) => {
                let dir = repo_dir.join(".git");
                GitDirs {
                    git_dir: dir.clone(),
                    common_dir: dir,
                }
            }
        }
    }

    /// `Some(work)` for a path in one of the Git dirs (what it moves, if anything); `None` for
    /// any other path.
    fn classify(&self, path: &Path) -> Option<Option<Work>> {
        let in_git_dir = path.strip_prefix(&self.git_dir).ok();
        let in_common_dir = path.strip_prefix(&self.common_dir).ok();
        let relative = in_git_dir.or(in_common_dir)?;
        let text = relative.to_string_lossy().replace('\\', "/");
        if in_common_dir.is_some() && text == "info/exclude" {
            return Some(Some(Work::Rewatch));
        }
        let head_or_index = in_git_dir.is_some() && (text == "HEAD" || text == "index");
        let refs = in_common_dir.is_some() && (text == "packed-refs" || text.starts_with("refs/"));
        Some((head_or_index || refs).then_some(Work::Rescan))
    }
}

/// Watches `relative` (the repository root when empty) and every directory below it that is
/// neither ignored, nor the state directory, nor `.git`, nor a symlink.
pub(super) fn watch_tree(
    watcher: &mut notify::RecommendedWatcher,
    shared: &Shared,
    relative: &str,
) -> notify::Result<()> {
    let repo = Repository::open(&shared.repo_dir).ok();
    let mut stack = vec![relative.to_string()];
    while let Some(dir) = stack.pop() {
        let path = if dir.is_empty() {
            shared.repo_dir.clone()
        } else {
            shared.repo_dir.join(&dir)
        };
        if !dir.is_empty() && !watchable_dir(shared, repo.as_ref(), &dir) {
            continue;
        }
        match watcher.watch(&path, RecursiveMode::NonRecursive) {
            Ok(()) => {}
            Err(err) if matches!(err.kind, notify::ErrorKind::MaxFilesWatch) => return Err(err),
            // Gone again (deleted meanwhile) or unreadable: nothing to watch.
            Err(_) => continue,
        }
        let Ok(entries) = std::fs::read_dir(&path) else {
            continue;
        };
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            stack.push(if dir.is_empty() {
                name
            } else {
                format!("{dir}/{name}")
            });
        }
    }
    Ok(())
}

/// Whether a directory of the working tree gets a watch.
fn watchable_dir(shared: &Shared, repo: Option<&Repository>, dir: &str) -> bool {
    if dir == ".git" || dir.starts_with(".git/") {
        return false;
    }
    let with_slash = format!("{dir}/");
    if shared
        .own_prefix
        .as_deref()
        .is_some_and(|own| with_slash.starts_with(own))
    {
        return false;
    }
    !repo.is_some_and(|repo| {
        repo.is_path_ignored(Path::new(&with_slash))
            .unwrap_or(false)
    })
}

/// What an event on `path` means for the index (`None`: nothing).
pub(super) fn classify(repo_dir: &Path, own_prefix: Option<&str>, path: &Path) -> Option<Work> {
    let relative = path.strip_prefix(repo_dir).ok()?;
    // Git's names are bytes; a name that is not UTF-8 cannot be a literal pathspec here.
    let Some(text) = relative.to_str().map(|t| t.replace('\\', "/")) else {
        return Some(Work::Rescan);
    };
    if text.is_empty() {
        return Some(Work::Rescan);
    }
    if let Some(git) = text
        .strip_prefix(".git/")
        .or((text == ".git").then_some(""))
    {
        if git == "info/exclude" {
            return Some(Work::Rewatch);
        }
        let moves_baseline =
            git == "HEAD" || git == "index" || git == "packed-refs" || git.starts_with("refs/");
        return moves_baseline.then_some(Work::Rescan);
    }
    if own_prefix.is_some_and(|own| text.starts_with(own) || format!("{text}/") == own) {
        return None;
    }
    if relative
        .file_name()
        .is_some_and(|name| name == ".gitignore")
    {
        return Some(Work::Rewatch);
    }
    Some(Work::Path(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_classified_by_what_they_move() {
        let repo = Path::new("/r");
        let own = Some(".tmp/");
        let c = |p: &str| classify(repo, own, Path::new(p));
        assert_eq!(c("/r/src/a.rs"), Some(Work::Path("src/a.rs".into())));
        assert_eq!(c("/r/.git/index"), Some(Work::Rescan));
        assert_eq!(c("/r/.git/HEAD"), Some(Work::Rescan));
        assert_eq!(c("/r/.git/refs/heads/main"), Some(Work::Rescan));
        assert_eq!(c("/r/.git/objects/ab/cdef"), None);
        assert_eq!(c("/r/.git/index.lock"), None);
        assert_eq!(c("/r/.tmp/codex_governance_logs/x.log"), None);
        assert_eq!(c("/r/.tmp"), None);
        assert_eq!(c("/r/docs/.gitignore"), Some(Work::Rewatch));
        assert_eq!(c("/r/.git/info/exclude"), Some(Work::Rewatch));
        assert_eq!(c("/elsewhere/x"), None);
    }
}
