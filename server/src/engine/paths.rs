//! The state directory layout, and the guarantee that nothing is written outside it.

use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::ids::is_valid_id;

#[derive(Debug, Clone)]
pub struct StatePaths {
    /// Canonical state directory.
    pub root: PathBuf,
    pub prompts: PathBuf,
    pub logs: PathBuf,
    pub mailbox_root: PathBuf,
    pub audit: PathBuf,
    pub db: PathBuf,
    /// Department worktrees (`<session_id>/`) and their preparation specs (`<session_id>.json`).
    pub worktrees: PathBuf,
}

/// The mailbox directories of one Zhongshu session.
#[derive(Debug, Clone)]
pub struct Mailbox {
    pub root: PathBuf,
    pub incoming: PathBuf,
    pub archive: PathBuf,
    pub rejected: PathBuf,
}

impl StatePaths {
    /// Creates the state directory and its fixed subdirectories.
    pub fn create(root: &Path) -> Result<StatePaths> {
        std::fs::create_dir_all(root)
            .with_context(|| format!("cannot create state directory {}", root.display()))?;
        let root = root.canonicalize()?;
        let paths = StatePaths {
            prompts: root.join("codex_governance_prompts"),
            logs: root.join("codex_governance_logs"),
            mailbox_root: root.join("codex_governance_mailbox"),
            audit: root.join("codex_governance_audit.jsonl"),
            db: root.join("codex_governance.db"),
            worktrees: root.join("worktrees"),
            root,
        };
        for dir in [
            &paths.prompts,
            &paths.logs,
            &paths.mailbox_root,
            &paths.worktrees,
        ] {
            paths.create_dir(dir)?;
        }
        for file in [&paths.audit, &paths.db] {
            paths.check_inside(file)?;
        }
        Ok(paths)
    }

    /// Mailbox paths of a Zhongshu session (the id is validated first).
    pub fn mailbox(&self, zhongshu_id: &str) -> Result<Mailbox> {
        if !is_valid_id(zhongshu_id) {
            bail!("invalid session id");
        }
        let root = self.mailbox_root.join(zhongshu_id);
        Ok(Mailbox {
            incoming: root.join("incoming"),
            archive: root.join("archive"),
            rejected: root.join("rejected"),
            root,
        })
    }

    /// Where a department session's worktree goes (the id is validated first; the directory
    /// is not created here: Git creates it).
    pub fn worktree(&self, session_id: &str) -> Result<PathBuf> {
        if !is_valid_id(session_id) {
            bail!("invalid session id");
        }
        let path = self.worktrees.join(session_id);
        self.check_inside(&path)?;
        Ok(path)
    }

    /// Creates the mailbox directories, refusing any that resolve outside the state dir.
    pub fn create_mailbox(&self, zhongshu_id: &str) -> Result<Mailbox> {
        let mailbox = self.mailbox(zhongshu_id)?;
        for dir in [
            &mailbox.root,
            &mailbox.incoming,
            &mailbox.archive,
            &mailbox.rejected,
        ] {
            self.create_dir(dir)?;
        }
        Ok(mailbox)
    }

    /// Creates `dir`, a path under the state directory, one level at a time and checks each
    /// level before creating the next: a symlink planted anywhere on the way (even while the
    /// server runs) is refused before anything is created through it.
    fn create_dir(&self, dir: &Path) -> Result<()> {
        let relative = dir.strip_prefix(&self.root).map_err(|_| {
            anyhow::anyhow!("refusing {}: not under the state directory", dir.display())
        })?;
        let mut level = self.root.clone();
        for part in relative.components() {
            if !matches!(part, Component::Normal(_)) {
                bail!("refusing {}: not a plain path", dir.display());
            }
            level.push(part);
            self.check_inside(&level)?;
            // An existing level must be a real directory: `is_dir` on the path would follow a
            // symlink swapped in after the check.
            let real_dir = || std::fs::symlink_metadata(&level).is_ok_and(|m| m.is_dir());
            match std::fs::create_dir(&level) {
                Err(err) if !(err.kind() == ErrorKind::AlreadyExists && real_dir()) => {
                    return Err(err).with_context(|| format!("cannot create {}", level.display()))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Writes a new file inside the state directory. `create_new` refuses any existing file
    /// name, a planted symlink included; the directories on the way are checked just before.
    pub fn write_new(&self, path: &Path, contents: &[u8]) -> Result<()> {
        use std::io::Write;
        self.check_inside(path)?;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut file| file.write_all(contents))
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// Reads the beginning of a regular file inside the state directory (at most `max` bytes,
    /// and whether there was more), never through a symlink and never waiting on a FIFO
    /// planted under its name.
    pub fn read_capped(&self, path: &Path, max: u64) -> Result<(String, bool)> {
        use std::io::Read;
        let file = self.open_regular(path)?;
        let mut bytes = Vec::new();
        file.take(max + 1).read_to_end(&mut bytes)?;
        let truncated = bytes.len() as u64 > max;
        bytes.truncate(max as usize);
        Ok((String::from_utf8_lossy(&bytes).into_owned(), truncated))
    }

    /// The last `max` bytes of a regular file inside the state directory (a transcript), with
    /// the same guarantees as [`StatePaths::read_capped`].
    /// A transcript's bytes from stream offset `since` to its end (a transcript holds every
    /// byte its terminal printed, so file offsets are stream offsets), or its last `max` bytes
    /// without `since`; never more than `max` bytes: the oldest are left out. Returns the offset
    /// of the first byte read (later than `since` when bytes were left out; the end when `since`
    /// is past it).
    pub fn read_transcript(
        &self,
        path: &Path,
        since: Option<u64>,
        max: u64,
    ) -> Result<(u64, Vec<u8>)> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = self.open_regular(path)?;
        let len = file.metadata()?.len();
        let start = since.unwrap_or(0).max(len.saturating_sub(max)).min(len);
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = Vec::new();
        file.take(len - start).read_to_end(&mut bytes)?;
        Ok((start, bytes))
    }

    pub fn read_tail(&self, path: &Path, max: u64) -> Result<Vec<u8>> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = self.open_regular(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(max)))?;
        let mut bytes = Vec::new();
        file.take(max).read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// Opens a regular file inside the state directory for reading: never through a symlink,
    /// and never waiting on a FIFO planted under its name.
    fn open_regular(&self, path: &Path) -> Result<std::fs::File> {
        use std::os::unix::fs::OpenOptionsExt;
        self.check_inside(path)?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        if !file.metadata()?.is_file() {
            bail!("{} is not a regular file", path.display());
        }
        Ok(file)
    }

    /// Moves a file to `to`, which must resolve inside the state directory (a rename replaces a
    /// symlink at `to` itself, never its target).
    pub fn move_inside(&self, from: &Path, to: &Path) -> Result<()> {
        self.check_inside(to)?;
        std::fs::rename(from, to)
            .with_context(|| format!("cannot move {} to {}", from.display(), to.display()))
    }

    /// Fails when `path` (or, if it does not exist yet, its parent) resolves outside the state
    /// directory, e.g. through a planted symlink.
    pub fn check_inside(&self, path: &Path) -> Result<()> {
        let resolved = match path.canonicalize() {
            Ok(p) => p,
            Err(_) => {
                let parent = path.parent().context("path without parent")?;
                parent
                    .canonicalize()
                    .with_context(|| format!("cannot resolve {}", parent.display()))?
                    .join(path.file_name().context("path without file name")?)
            }
        };
        if !resolved.starts_with(&self.root) {
            bail!(
                "refusing {}: it resolves outside the state directory",
                path.display()
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailboxes_stay_inside_the_state_dir() {
        let dir = tempfile::tempdir().unwrap();
        let paths = StatePaths::create(&dir.path().join("state")).unwrap();
        let mailbox = paths.create_mailbox("zhongshu-1").unwrap();
        assert!(mailbox.incoming.is_dir());
        assert!(paths.mailbox("../etc").is_err());
        assert!(paths.mailbox("a/b").is_err());
    }

    #[test]
    fn a_symlink_planted_while_running_creates_nothing_outside() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let paths = StatePaths::create(&dir.path().join("state")).unwrap();
        std::fs::remove_dir(&paths.mailbox_root).unwrap();
        std::os::unix::fs::symlink(&outside, &paths.mailbox_root).unwrap();
        let err = paths.create_mailbox("zhongshu-1").unwrap_err();
        assert!(
            err.to_string().contains("outside the state directory"),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        let report = paths.logs.join("report.json");
        std::fs::write(&report, "{}").unwrap();
        let into_link = paths.mailbox_root.join("r.json");
        assert!(paths.move_inside(&report, &into_link).is_err());
        assert!(
            report.is_file(),
            "a refused move leaves the file where it was"
        );
        assert!(paths.create_dir(&dir.path().join("elsewhere")).is_err());
    }

    #[test]
    fn capped_reads_say_when_they_cut_and_refuse_fifos() {
        let dir = tempfile::tempdir().unwrap();
        let paths = StatePaths::create(&dir.path().join("state")).unwrap();
        let file = paths.logs.join("packet.md");
        paths.write_new(&file, b"abcdefgh").unwrap();
        let cut = paths.read_capped(&file, 4).unwrap();
        assert_eq!(cut, ("abcd".to_string(), true));
        let whole = paths.read_capped(&file, 8).unwrap();
        assert_eq!(whole, ("abcdefgh".to_string(), false));
        let fifo = paths.logs.join("fifo.md");
        let name = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let err = paths.read_capped(&fifo, 8).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    #[test]
    fn transcript_tails_refuse_fifos_and_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let paths = StatePaths::create(dir.path()).unwrap();
        let log = paths.logs.join("a.log");
        std::fs::write(&log, b"0123456789").unwrap();
        assert_eq!(paths.read_tail(&log, 4).unwrap(), b"6789");
        assert_eq!(paths.read_tail(&log, 100).unwrap(), b"0123456789");
        assert_eq!(
            paths.read_transcript(&log, Some(3), 100).unwrap(),
            (3, b"3456789".to_vec())
        );
        // Bytes beyond `max` are left out from the oldest; `since` past the end reads nothing.
        assert_eq!(
            paths.read_transcript(&log, Some(1), 4).unwrap(),
            (6, b"6789".to_vec())
        );
        assert_eq!(
            paths.read_transcript(&log, None, 3).unwrap(),
            (7, b"789".to_vec())
        );
        assert_eq!(
            paths.read_transcript(&log, Some(99), 4).unwrap(),
            (10, Vec::new())
        );
        // A FIFO would block a plain open forever.
        let fifo = paths.logs.join("fifo.log");
        let name = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo only creates a file system node.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        assert!(paths.read_tail(&fifo, 100).is_err());
        // A symlink, even to a file inside, is not followed.
        let link = paths.logs.join("link.log");
        std::os::unix::fs::symlink(&log, &link).unwrap();
        assert!(paths.read_tail(&link, 100).is_err());
    }

    #[test]
    fn new_files_never_follow_a_planted_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "keep").unwrap();
        let paths = StatePaths::create(&dir.path().join("state")).unwrap();
        let planted = paths.logs.join("planted.txt");
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        assert!(paths.write_new(&planted, b"evil").is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        let fresh = paths.logs.join("fresh.txt");
        paths.write_new(&fresh, b"ok").unwrap();
        assert_eq!(std::fs::read_to_string(fresh).unwrap(), "ok");
    }

    #[test]
    fn a_planted_symlink_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let paths = StatePaths::create(&dir.path().join("state")).unwrap();
        std::os::unix::fs::symlink(outside.path(), paths.mailbox_root.join("zhongshu-2")).unwrap();
        let err = paths.create_mailbox("zhongshu-2").unwrap_err();
        assert!(
            err.to_string().contains("outside the state directory"),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }
}
